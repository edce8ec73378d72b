//! `tinychat train pretrain` and `tinychat train sft`: the flags of the language-model stages.

use super::{FineTuneArgs, OverrideArgs, RunArgs, StageDefaults};
use crate::ranges::{below, count, number, CONTEXT, MANY};
use std::path::PathBuf;
use tinychat::train::pretrain::{self, PretrainOptions};
use tinychat::train::sft::SftOptions;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PretrainPreset {
    /// ~3.1M parameters with a 4096 vocabulary; about ten minutes on 2 cores.
    Tiny,
    /// ~13M parameters; about an hour on 2 cores.
    Small,
}

impl From<PretrainPreset> for pretrain::Preset {
    fn from(p: PretrainPreset) -> Self {
        match p {
            PretrainPreset::Tiny => pretrain::Preset::Tiny,
            PretrainPreset::Small => pretrain::Preset::Small,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    run_defaults("runs/pretrain", "100"),
    mut_arg("quiet", |a| a.help("No progress bar and no sample")),
    mut_arg("seq_len", |a| a.help("Sequence length T (also the model's context)")),
    mut_arg("batch_size", |a| a.help("Sequences per micro-batch B"))
)]
#[command(
    after_help = "Example:\n  tinychat train pretrain --preset tiny --data data/corpus --tokenizer data/tokenizer --out runs/tiny\n  tinychat train pretrain --out runs/tiny --resume\n  tinychat chat --model runs/tiny/checkpoint"
)]
pub struct PretrainArgs {
    /// Model shape and schedule; the flags below override single values.
    #[arg(long, value_enum, default_value = "tiny")]
    pub preset: PretrainPreset,
    /// Prepared corpus (train.jsonl and val.jsonl, from `tinychat data prepare`).
    #[arg(long, default_value = "data/corpus")]
    pub data: PathBuf,
    /// Directory with tokenizer.json (from `tinychat train tokenizer`).
    #[arg(long, default_value = "data/tokenizer")]
    pub tokenizer: PathBuf,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Tie the output head to the token embedding.
    #[arg(long)]
    pub tie_embeddings: Option<bool>,
    /// Micro-batches per optimiser step.
    #[arg(long, value_parser = count(1, 65_536))]
    pub grad_accum: Option<usize>,
    #[arg(long, value_parser = below(0.0, 1.0))]
    pub beta1: Option<f32>,
    #[arg(long, value_parser = below(0.0, 1.0))]
    pub beta2: Option<f32>,
    #[arg(long, value_parser = number(0.0, 1.0, false))]
    pub eps: Option<f32>,
    /// Evaluate the validation loss every this many steps (and at the end).
    #[arg(long, default_value_t = 50, value_parser = count(1, MANY))]
    pub eval_every: usize,
    /// Validation batches per evaluation.
    #[arg(long, default_value_t = 8, value_parser = count(1, 1 << 20))]
    pub eval_batches: usize,
    /// Where the run writes, and how (--out, --resume, --save-every, --stop-after, --quiet).
    #[command(flatten)]
    pub run: RunArgs,
}

impl From<PretrainArgs> for PretrainOptions {
    fn from(a: PretrainArgs) -> Self {
        PretrainOptions {
            preset: a.preset.into(),
            data: a.data,
            tokenizer: a.tokenizer,
            overrides: a.overrides.into(),
            tie_embeddings: a.tie_embeddings,
            grad_accum: a.grad_accum,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            eval_every: a.eval_every,
            eval_batches: a.eval_batches,
            run: a.run.into(),
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(run_defaults("runs/sft", "100"), fine_tune_defaults("0.001", "0.0001"))]
#[command(
    after_help = "Example:\n  tinychat train sft --init runs/pretrain --data data/sft --out runs/sft\n  tinychat train sft --out runs/sft --resume\n  tinychat chat --model runs/sft/checkpoint"
)]
pub struct SftArgs {
    /// Pretrained model: a run directory (its checkpoint/) or a model directory.
    #[arg(long, default_value = "runs/pretrain")]
    pub init: PathBuf,
    /// Fine-tuning data (sft_train.jsonl and sft_eval.jsonl, from `tinychat data prepare`).
    #[arg(long, default_value = "data/sft")]
    pub data: PathBuf,
    /// Sequence length T (at most the model's context; default: the model's context).
    #[arg(long, value_parser = count(1, CONTEXT))]
    pub seq_len: Option<usize>,
    /// Packed rows per micro-batch B.
    #[arg(long, default_value_t = 16, value_parser = count(1, 65_536))]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1, value_parser = count(1, 65_536))]
    pub grad_accum: usize,
    #[command(flatten)]
    pub schedule: FineTuneArgs,
    /// Evaluate the held-out loss every this many steps (and at the end).
    #[arg(long, default_value_t = 50, value_parser = count(1, MANY))]
    pub eval_every: usize,
    /// Held-out batches per evaluation.
    #[arg(long, default_value_t = 4, value_parser = count(1, 1 << 20))]
    pub eval_batches: usize,
    /// Where the run writes, and how (--out, --resume, --save-every, --stop-after, --quiet).
    #[command(flatten)]
    pub run: RunArgs,
}

impl From<SftArgs> for SftOptions {
    fn from(a: SftArgs) -> Self {
        SftOptions {
            init: a.init,
            data: a.data,
            seq_len: a.seq_len,
            batch_size: a.batch_size,
            grad_accum: a.grad_accum,
            schedule: a.schedule.schedule(),
            seed: a.schedule.seed,
            eval_every: a.eval_every,
            eval_batches: a.eval_batches,
            run: a.run.into(),
        }
    }
}

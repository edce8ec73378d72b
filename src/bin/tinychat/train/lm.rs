//! `tinychat train pretrain` and `tinychat train sft`: the flags of the language-model stages.

use std::path::PathBuf;
use tinychat::train::pretrain::{self, PretrainOptions};
use tinychat::train::sft::SftOptions;
use tinychat::train::trainer::RunOptions;

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
    /// Run directory: checkpoint/, metrics.jsonl, loss.png.
    #[arg(long, default_value = "runs/pretrain")]
    pub out: PathBuf,
    /// Continue from the run directory's checkpoint, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    #[arg(long)]
    pub dim: Option<usize>,
    #[arg(long)]
    pub layers: Option<usize>,
    #[arg(long)]
    pub heads: Option<usize>,
    #[arg(long)]
    pub kv_heads: Option<usize>,
    #[arg(long)]
    pub ffn: Option<usize>,
    /// Sequence length T (also the model's context).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Tie the output head to the token embedding.
    #[arg(long)]
    pub tie_embeddings: Option<bool>,
    /// Sequences per micro-batch B.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Micro-batches per optimiser step.
    #[arg(long)]
    pub grad_accum: Option<usize>,
    /// Optimiser steps in the whole run.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Learning rate at the end of the cosine decay.
    #[arg(long)]
    pub min_lr: Option<f32>,
    /// Linear warmup steps.
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Clip the global gradient norm to this (0 disables).
    #[arg(long)]
    pub grad_clip: Option<f32>,
    #[arg(long)]
    pub weight_decay: Option<f32>,
    #[arg(long)]
    pub beta1: Option<f32>,
    #[arg(long)]
    pub beta2: Option<f32>,
    #[arg(long)]
    pub eps: Option<f32>,
    /// Seed of the initialisation and the data order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate the validation loss every this many steps (and at the end).
    #[arg(long, default_value_t = 50)]
    pub eval_every: usize,
    /// Validation batches per evaluation.
    #[arg(long, default_value_t = 8)]
    pub eval_batches: usize,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub save_every: usize,
    /// Stop (with a checkpoint) after this step, as if interrupted; `--resume` continues.
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// No progress bar and no sample.
    #[arg(long)]
    pub quiet: bool,
}

impl From<PretrainArgs> for PretrainOptions {
    fn from(a: PretrainArgs) -> Self {
        PretrainOptions {
            preset: a.preset.into(),
            data: a.data,
            tokenizer: a.tokenizer,
            dim: a.dim,
            layers: a.layers,
            heads: a.heads,
            kv_heads: a.kv_heads,
            ffn: a.ffn,
            seq_len: a.seq_len,
            tie_embeddings: a.tie_embeddings,
            batch_size: a.batch_size,
            grad_accum: a.grad_accum,
            steps: a.steps,
            lr: a.lr,
            min_lr: a.min_lr,
            warmup: a.warmup,
            grad_clip: a.grad_clip,
            weight_decay: a.weight_decay,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            seed: a.seed,
            eval_every: a.eval_every,
            eval_batches: a.eval_batches,
            run: RunOptions {
                out: a.out,
                resume: a.resume,
                save_every: a.save_every,
                stop_after: a.stop_after,
                quiet: a.quiet,
            },
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
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
    /// Run directory: checkpoint/, metrics.jsonl, loss.png.
    #[arg(long, default_value = "runs/sft")]
    pub out: PathBuf,
    /// Continue from the run directory's checkpoint, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Sequence length T (at most the model's context; default: the model's context).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Packed rows per micro-batch B.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Optimiser steps in the whole run.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    #[arg(long, default_value_t = 1e-4)]
    pub min_lr: f32,
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    #[arg(long, default_value_t = 1.0)]
    pub grad_clip: f32,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Evaluate the held-out loss every this many steps (and at the end).
    #[arg(long, default_value_t = 50)]
    pub eval_every: usize,
    /// Held-out batches per evaluation.
    #[arg(long, default_value_t = 4)]
    pub eval_batches: usize,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub save_every: usize,
    /// Stop (with a checkpoint) after this step, as if interrupted; `--resume` continues.
    #[arg(long)]
    pub stop_after: Option<usize>,
    #[arg(long)]
    pub quiet: bool,
}

impl From<SftArgs> for SftOptions {
    fn from(a: SftArgs) -> Self {
        SftOptions {
            init: a.init,
            data: a.data,
            seq_len: a.seq_len,
            batch_size: a.batch_size,
            grad_accum: a.grad_accum,
            steps: a.steps,
            lr: a.lr,
            min_lr: a.min_lr,
            warmup: a.warmup,
            grad_clip: a.grad_clip,
            weight_decay: a.weight_decay,
            seed: a.seed,
            eval_every: a.eval_every,
            eval_batches: a.eval_batches,
            run: RunOptions {
                out: a.out,
                resume: a.resume,
                save_every: a.save_every,
                stop_after: a.stop_after,
                quiet: a.quiet,
            },
        }
    }
}

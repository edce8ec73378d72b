//! `tinychat train ...`: the flags of every training stage, turned into the library's options
//! (`tinychat::train::*::*Options`, one field per flag) and run.
//!
//! The flags several stages share are groups here ([`RunArgs`], [`OverrideArgs`],
//! [`FineTuneArgs`]), flattened into each stage's flags; a stage sets the groups' defaults with
//! [`StageDefaults`]. The modules keep to `super::` paths, so the tests can include this folder
//! and parse the same flags.

mod lm;
mod moderation;
mod rlhf;

pub use lm::{PretrainArgs, PretrainPreset, SftArgs};
pub use moderation::ModerationArgs;
pub use rlhf::{PpoArgs, RewardArgs};

use crate::ranges::{count, count_u64, number, CONTEXT, MANY};
use clap::Subcommand;
use std::path::PathBuf;
use tinychat::train::all::{self, AllOptions, AllPreset};
use tinychat::train::settings::{Overrides, Schedule};
use tinychat::train::tokenizer_train::{self, TokenizerOptions};
use tinychat::train::trainer::RunOptions;
use tinychat::train::{moderation as moderation_stage, ppo, pretrain, reward, sft};

/// Where a training stage writes and how its loop runs.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Run directory: checkpoint/, metrics.jsonl, loss.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the run directory's checkpoint, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, value_parser = count(1, MANY))]
    pub save_every: usize,
    /// Stop (with a checkpoint) after this step, as if interrupted; `--resume` continues.
    #[arg(long, value_parser = count(1, MANY))]
    pub stop_after: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl From<RunArgs> for RunOptions {
    fn from(a: RunArgs) -> Self {
        RunOptions {
            out: a.out,
            resume: a.resume,
            save_every: a.save_every,
            stop_after: a.stop_after,
            quiet: a.quiet,
        }
    }
}

/// The values that replace a preset's (pretrain, moderation).
#[derive(clap::Args, Debug, Clone)]
pub struct OverrideArgs {
    #[arg(long, value_parser = count(1, tinychat::config::LIMITS.hidden_size as u64))]
    pub dim: Option<usize>,
    #[arg(long, value_parser = count(1, tinychat::config::LIMITS.layers as u64))]
    pub layers: Option<usize>,
    #[arg(long, value_parser = count(1, tinychat::config::LIMITS.heads as u64))]
    pub heads: Option<usize>,
    #[arg(long, value_parser = count(1, tinychat::config::LIMITS.heads as u64))]
    pub kv_heads: Option<usize>,
    #[arg(long, value_parser = count(1, tinychat::config::LIMITS.intermediate_size as u64))]
    pub ffn: Option<usize>,
    /// Sequence length T (each stage says more).
    #[arg(long, value_parser = count(1, CONTEXT))]
    pub seq_len: Option<usize>,
    /// Rows per batch B (each stage says more).
    #[arg(long, value_parser = count(1, 65_536))]
    pub batch_size: Option<usize>,
    /// Optimiser steps in the whole run.
    #[arg(long, value_parser = count(1, MANY))]
    pub steps: Option<usize>,
    /// Peak learning rate.
    #[arg(long, value_parser = number(0.0, 10.0, true))]
    pub lr: Option<f32>,
    /// Learning rate at the end of the cosine decay.
    #[arg(long, value_parser = number(0.0, 10.0, true))]
    pub min_lr: Option<f32>,
    /// Linear warmup steps.
    #[arg(long, value_parser = count(0, MANY))]
    pub warmup: Option<usize>,
    /// Clip the global gradient norm to this (0 disables).
    #[arg(long, value_parser = number(0.0, 1e6, true))]
    pub grad_clip: Option<f32>,
    #[arg(long, value_parser = number(0.0, 10.0, true))]
    pub weight_decay: Option<f32>,
    /// Seed of the initialisation and the data order.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl From<OverrideArgs> for Overrides {
    fn from(a: OverrideArgs) -> Self {
        Overrides {
            dim: a.dim,
            layers: a.layers,
            heads: a.heads,
            kv_heads: a.kv_heads,
            ffn: a.ffn,
            seq_len: a.seq_len,
            batch_size: a.batch_size,
            steps: a.steps,
            lr: a.lr,
            min_lr: a.min_lr,
            warmup: a.warmup,
            grad_clip: a.grad_clip,
            weight_decay: a.weight_decay,
            seed: a.seed,
        }
    }
}

/// The schedule of the stages that fine-tune a trained model (sft, reward); each sets the
/// defaults of --lr and --min-lr.
#[derive(clap::Args, Debug, Clone)]
pub struct FineTuneArgs {
    /// Optimiser steps in the whole run.
    #[arg(long, default_value_t = 300, value_parser = count(1, MANY))]
    pub steps: usize,
    #[arg(long, value_parser = number(0.0, 10.0, true))]
    pub lr: f32,
    #[arg(long, value_parser = number(0.0, 10.0, true))]
    pub min_lr: f32,
    #[arg(long, default_value_t = 20, value_parser = count(0, MANY))]
    pub warmup: usize,
    #[arg(long, default_value_t = 1.0, value_parser = number(0.0, 1e6, true))]
    pub grad_clip: f32,
    #[arg(long, default_value_t = 0.0, value_parser = number(0.0, 10.0, true))]
    pub weight_decay: f32,
    /// Seed of the data order.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
}

impl FineTuneArgs {
    pub fn schedule(&self) -> Schedule {
        let s = Schedule::new(
            self.steps,
            self.lr,
            self.min_lr,
            self.warmup,
            self.weight_decay,
        );
        Schedule {
            grad_clip: self.grad_clip,
            ..s
        }
    }
}

/// A stage's defaults for the shared groups, as `#[command(...)]` attributes.
pub trait StageDefaults {
    /// The run directory and checkpoint interval.
    fn run_defaults(self, out: &'static str, save_every: &'static str) -> Self;
    /// The peak and final learning rates.
    fn fine_tune_defaults(self, lr: &'static str, min_lr: &'static str) -> Self;
}

impl StageDefaults for clap::Command {
    fn run_defaults(self, out: &'static str, save_every: &'static str) -> Self {
        self.mut_arg("out", |a| a.default_value(out).required(false))
            .mut_arg("save_every", |a| {
                a.default_value(save_every).required(false)
            })
    }

    fn fine_tune_defaults(self, lr: &'static str, min_lr: &'static str) -> Self {
        self.mut_arg("lr", |a| a.default_value(lr).required(false))
            .mut_arg("min_lr", |a| a.default_value(min_lr).required(false))
    }
}

/// `tinychat train ...` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum TrainCommand {
    /// Train a byte-level BPE tokenizer on a prepared corpus.
    Tokenizer(TokenizerArgs),
    /// Pretrain a llama-family model on a prepared corpus (next-token prediction).
    Pretrain(PretrainArgs),
    /// Train the moderation classifier (trunk + multi-label head) and calibrate its thresholds.
    Moderation(ModerationArgs),
    /// Supervised fine-tuning of a pretrained checkpoint on conversations (assistant tokens only).
    Sft(SftArgs),
    /// Train a reward model (SFT trunk + scalar head) on ranked answers, Bradley–Terry over all pairs.
    Reward(RewardArgs),
    /// PPO of the SFT policy against the reward model with a KL penalty to the SFT reference.
    Ppo(PpoArgs),
    /// The whole recipe, resumable stage by stage: data → tokenizer → pretrain → SFT → reward → PPO → moderation → pipeline bundle → eval.
    All(AllArgs),
}

pub fn run(cmd: TrainCommand) -> tinychat::Result<()> {
    match cmd {
        TrainCommand::Tokenizer(a) => tokenizer_train::run(&a.into()),
        TrainCommand::Pretrain(a) => pretrain::run(&a.into()).map(drop),
        TrainCommand::Moderation(a) => match head_route(&a) {
            Some(o) => moderation_stage::head::run(&o).map(drop),
            None if a.calibration == "f1" => Err(tinychat::Error::InvalidArgument(
                "--calibration f1: implemented for a moderation head (--init a .gguf, or --head-layers); the classifier calibrates for --target-precision".into(),
            )),
            None => moderation_stage::run(&a.into()).map(drop),
        },
        TrainCommand::Sft(a) => sft::run(&a.into()).map(drop),
        TrainCommand::Reward(a) => reward::run(&a.into()).map(drop),
        TrainCommand::Ppo(a) => ppo::run(&a.into()).map(drop),
        TrainCommand::All(a) => all::run(&a.into()).map(drop),
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat train tokenizer --data data/corpus --vocab-size 4096 --out data/tokenizer"
)]
pub struct TokenizerArgs {
    /// Prepared corpus directory (its train.jsonl is read), or a text / JSONL file.
    #[arg(long, default_value = "data/corpus")]
    pub data: PathBuf,
    /// Vocabulary size, special tokens and the 256 byte symbols included.
    #[arg(long, default_value_t = 4096, value_parser = count(256, tinychat::config::LIMITS.vocab_size as u64))]
    pub vocab_size: usize,
    /// Minimum count of a pair before it is merged.
    #[arg(long, default_value_t = 2, value_parser = count_u64(1, MANY))]
    pub min_frequency: u64,
    /// Output directory (tokenizer.json and tokenizer_config.json).
    #[arg(long, default_value = "data/tokenizer")]
    pub out: PathBuf,
}

impl From<TokenizerArgs> for TokenizerOptions {
    fn from(a: TokenizerArgs) -> Self {
        TokenizerOptions {
            data: a.data,
            vocab_size: a.vocab_size,
            min_frequency: a.min_frequency,
            out: a.out,
        }
    }
}

/// `train all --preset`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllPresetArg {
    Tiny,
    Small,
    Smoke,
}

impl From<AllPresetArg> for AllPreset {
    fn from(p: AllPresetArg) -> Self {
        match p {
            AllPresetArg::Tiny => AllPreset::Tiny,
            AllPresetArg::Small => AllPreset::Small,
            AllPresetArg::Smoke => AllPreset::Smoke,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  tinychat train all --preset tiny                 # everything; writes web/models/default\n  tinychat train all --preset tiny                 # again: skips finished stages, resumes the interrupted one\n  tinychat train all --preset tiny --from sft      # keep data, tokenizer and pretraining; redo the rest\n  tinychat train all --preset tiny --until reward --out runs/try --bundle runs/try/bundle"
)]
pub struct AllArgs {
    /// Sizes of every stage: tiny (the default bundle; about an hour on 2 cores), small (the
    /// small pretraining and moderation presets, the other stages' defaults; unmeasured), smoke (a 32-wide model and a few steps per
    /// stage: checks the whole chain in seconds, makes a useless model).
    #[arg(long, value_enum, default_value = "tiny")]
    pub preset: AllPresetArg,
    /// Where `tinychat data prepare` writes (and this command reads) corpus/, sft/ and moderation/.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Directory of the runs, one per stage, and of stages.json.
    #[arg(long, default_value = "runs/all")]
    pub out: PathBuf,
    /// The pipeline bundle to write (pipeline.json, chat/, moderator/).
    #[arg(long, default_value = "web/models/default")]
    pub bundle: PathBuf,
    /// Redo this stage and every later one (their runs are deleted first).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(all::STAGES))]
    pub from: Option<String>,
    /// Stop after this stage.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(all::STAGES))]
    pub until: Option<String>,
    /// Weight type of the bundle's models (f16 halves the download; the engines compute in f32).
    #[arg(long, default_value = "f16", value_parser = ["f16", "f32"])]
    pub bundle_dtype: String,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl From<AllArgs> for AllOptions {
    fn from(a: AllArgs) -> Self {
        AllOptions {
            preset: a.preset.into(),
            data: a.data,
            out: a.out,
            bundle: a.bundle,
            from: a.from,
            until: a.until,
            bundle_dtype: a.bundle_dtype,
            quiet: a.quiet,
        }
    }
}

/// `train moderation` takes the head route with a `.gguf` --init or with --head-layers.
fn head_route(a: &ModerationArgs) -> Option<moderation_stage::head::HeadOptions> {
    let init = a.init.as_ref()?;
    let gguf = init
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    if !gguf && a.head.head_layers.is_none() {
        return None;
    }
    let h = &a.head;
    let mut o = moderation_stage::head::HeadOptions::new(init.clone());
    o.data = a.data.clone();
    o.sets = h.sets.clone();
    o.out = a.run.out.clone();
    o.trunk_name = h.trunk_name.clone();
    if let Some(l) = h.head_layers {
        o.layers = l as usize;
    }
    o.pooling = match h.head_pooling.as_str() {
        "last" => tinychat::moderation::head::HeadPooling::Last,
        "mean_max" => tinychat::moderation::head::HeadPooling::MeanMax,
        _ => tinychat::moderation::head::HeadPooling::Mean,
    };
    o.hidden = h.head_hidden as usize;
    o.window = h.head_window as usize;
    o.tune_blocks = h.tune_blocks as usize;
    o.block_lr = h.block_lr;
    o.block_rank = h.block_rank as usize;
    o.block_type =
        tinychat::quant::QType::from_name(&h.block_type).expect("clap allows f16 and q8_0 only");
    if o.tune_blocks > 0 {
        // The prototype's setting (docs/moderation.md): batches of 32, and at 6e-5 the best
        // validation loss came within two epochs.
        o.epochs = 2;
        o.batch_size = 32;
    }
    if let Some(e) = h.head_epochs {
        o.epochs = e as usize;
    }
    o.dropout = h.head_dropout;
    o.weight_decay = h.head_weight_decay;
    o.train_limit = h.train_limit;
    o.val_limit = h.val_limit;
    o.test_limit = h.test_limit;
    o.target_precision = (a.calibration != "f1").then_some(a.target_precision);
    o.max_benign_fpr = a.max_benign_fpr;
    if let Some(s) = a.overrides.seed {
        o.seed = s;
    }
    if let Some(b) = a.overrides.batch_size {
        o.batch_size = b;
    }
    if let Some(lr) = a.overrides.lr {
        o.lr = lr;
    }
    Some(o)
}

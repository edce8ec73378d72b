//! `tinychat train ...`: the flags of every training stage, turned into the library's options
//! (`tinychat::train::*::*Options`, one field per flag) and run.
//!
//! Each module keeps to `super::` paths, so the tests can include this folder and parse the
//! same flags.

mod lm;
mod moderation;
mod rlhf;

pub use lm::{PretrainArgs, PretrainPreset, SftArgs};
pub use moderation::ModerationArgs;
pub use rlhf::{PpoArgs, RewardArgs};

use clap::Subcommand;
use std::path::PathBuf;
use tinychat::train::all::{self, AllOptions, AllPreset};
use tinychat::train::tokenizer_train::{self, TokenizerOptions};
use tinychat::train::{moderation as moderation_stage, ppo, pretrain, reward, sft};

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
        TrainCommand::Moderation(a) => moderation_stage::run(&a.into()).map(drop),
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
    #[arg(long, default_value_t = 4096)]
    pub vocab_size: usize,
    /// Minimum count of a pair before it is merged.
    #[arg(long, default_value_t = 2)]
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

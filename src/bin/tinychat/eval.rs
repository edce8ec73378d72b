//! `tinychat eval ...`: the flags of the evaluations; the library runs them
//! (`tinychat::train::eval`).

use crate::ranges::{count, number, MANY};
use clap::Subcommand;
use std::path::PathBuf;
use tinychat::train::eval::chat::{self, EvalChatOptions};
use tinychat::train::eval::moderation::{self, EvalModerationOptions};
use tinychat::train::eval::reward::{self, EvalRewardOptions};

/// `tinychat eval ...` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum EvalCommand {
    /// Per-category precision, recall, F1 and the benign false-positive rate of a classifier.
    Moderation(EvalModerationArgs),
    /// Exact-match accuracy of a chat model on held-out items, KL to a reference, win rate over another.
    Chat(EvalChatArgs),
    /// Pairwise accuracy of a reward model on ranked answers, by source and by the ranks compared.
    Reward(EvalRewardArgs),
}

pub fn run(cmd: EvalCommand) -> tinychat::Result<()> {
    match cmd {
        EvalCommand::Moderation(a) => moderation::run(&a.into()).map(drop),
        EvalCommand::Chat(a) => chat::run(&a.into()).map(drop),
        EvalCommand::Reward(a) => reward::run(&a.into()).map(drop),
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat eval chat --model runs/sft --limit 200\n  tinychat eval chat --model runs/ppo --against runs/sft --reference runs/sft\n  tinychat eval chat --model runs/ppo --against runs/sft --temperature 0.8 --top-k 50 --samples 8 --seed 1"
)]
pub struct EvalChatArgs {
    /// The chat model: a run directory (its checkpoint/) or a model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Held-out items (sft_eval.jsonl, from `tinychat data prepare`).
    #[arg(long, default_value = "data/sft/sft_eval.jsonl")]
    pub data: PathBuf,
    /// Evaluate N checkable items, spread evenly over the file.
    #[arg(long, value_parser = count(1, MANY))]
    pub limit: Option<usize>,
    /// Only items whose source starts with this ("computed", "quiz", "computed/add").
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long, default_value_t = 32, value_parser = count(1, tinychat::generate::MAX_NEW_TOKENS as u64))]
    pub max_new_tokens: usize,
    /// Sample the answers at this temperature instead of answering greedily (0). --top-k,
    /// --top-p, --samples and --seed apply only then; the demo chat model samples at 0.8 with
    /// top-k 50 (its generation_config.json).
    #[arg(long, default_value_t = 0.0, value_parser = number(0.0, 100.0, true))]
    pub temperature: f32,
    /// With --temperature: keep the k most likely tokens (0: all).
    #[arg(long, default_value_t = 0, value_parser = count(0, u32::MAX as u64))]
    pub top_k: usize,
    /// With --temperature: nucleus sampling (1: off).
    #[arg(long, default_value_t = 1.0, value_parser = number(0.0, 1.0, false))]
    pub top_p: f32,
    /// With --temperature: answers sampled per item (each counts as one answer).
    #[arg(long, default_value_t = 1, value_parser = count(1, 1024))]
    pub samples: usize,
    /// With --temperature: the first sample's seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Reference model for the KL (usually the SFT model).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// A second checkpoint: win rate of --model over it.
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// A reward model (from `tinychat train reward`): mean score of the answers, and with
    /// --against the win rate judged by it.
    #[arg(long)]
    pub reward: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print every question, answer and verdict.
    #[arg(long)]
    pub verbose: bool,
}

impl From<EvalChatArgs> for EvalChatOptions {
    fn from(a: EvalChatArgs) -> Self {
        EvalChatOptions {
            model: a.model,
            data: a.data,
            limit: a.limit,
            source: a.source,
            max_new_tokens: a.max_new_tokens,
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            samples: a.samples,
            seed: a.seed,
            reference: a.reference,
            against: a.against,
            reward: a.reward,
            json: a.json,
            verbose: a.verbose,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat eval reward --model runs/reward --data data/sft/ranked_eval.jsonl --show-errors 10\n  tinychat eval reward --model runs/reward --json"
)]
pub struct EvalRewardArgs {
    /// The reward model: a run directory (its checkpoint/) or a model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Ranked answers, best first ({"prompt", "responses"} or TRL's {"prompt", "chosen", "rejected"}).
    #[arg(long, default_value = "data/sft/ranked_eval.jsonl")]
    pub data: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also print the N pairs ordered worst (most negative margin), with the table.
    #[arg(long, default_value_t = 0, value_parser = count(0, MANY))]
    pub show_errors: usize,
}

impl From<EvalRewardArgs> for EvalRewardOptions {
    fn from(a: EvalRewardArgs) -> Self {
        EvalRewardOptions {
            model: a.model,
            data: a.data,
            json: a.json,
            show_errors: a.show_errors,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat eval moderation --model runs/moderation/classifier --data data/moderation/test.jsonl\n  tinychat eval moderation --model runs/moderation/classifier --data data/moderation/test_obfuscated.jsonl --json"
)]
pub struct EvalModerationArgs {
    /// Classifier directory (config.json with id2label, model.safetensors, tokenizer.json,
    /// thresholds.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Labeled JSONL: {"text": ..., "labels": {"hate": 1, ...}} per line.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// Print JSON (one report per --data file, in an array) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also print the N worst misses and false alarms of every category (with the table).
    #[arg(long, default_value_t = 0, value_parser = count(0, MANY))]
    pub show_errors: usize,
}

impl From<EvalModerationArgs> for EvalModerationOptions {
    fn from(a: EvalModerationArgs) -> Self {
        EvalModerationOptions {
            model: a.model,
            data: a.data,
            json: a.json,
            show_errors: a.show_errors,
        }
    }
}

//! `tinychat bench ...`: speed measurements. The measuring code lives in the library, next to
//! what it measures (`tinychat::gpu::bench`, `tinychat::train::bench`); here are the flags and the
//! dispatch.

#[cfg(feature = "train")]
use super::train;
use crate::ranges::{count, CONTEXT};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::gpu::bench::{InferBenchArgs, ModerateBenchArgs};
use tinychat::Result;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Inference: prefill and decode tokens/s of the CPU and GPU engines (batch 1), by default on
    /// a random SmolLM2-135M-shaped model
    Infer(InferArgs),

    /// Moderation: checks/s of a classifier on the CPU and GPU engines over the same texts, and
    /// the largest score difference between them
    Moderate(ModerateArgs),

    /// Training throughput (tokens/s) of the presets, beside PyTorch when it is installed
    #[cfg(feature = "train")]
    Train(BenchTrainArgs),
}

/// `--peak-gbs`: a memory bandwidth in GB/s, above 0.
fn gbs(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 1e6 => Ok(x),
        _ => Err(format!(
            "{s} is not a bandwidth in GB/s (a number in (0, 1000000])"
        )),
    }
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Infer(a) => tinychat::gpu::bench::run(&a.into())?,
        BenchCommand::Moderate(a) => tinychat::gpu::bench::run_moderate(&a.into())?,
        #[cfg(feature = "train")]
        BenchCommand::Train(a) => tinychat::train::bench::run(&a.into())?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  tinychat bench infer --smollm\n  tinychat bench infer --smollm --quick          # software GPU (lavapipe): a few tokens\n  tinychat bench infer --model models/smollm2 --engines gpu --peak-gbs 3350\n  WGPU_BACKEND=vulkan tinychat bench infer --smollm --weights f16\n  tinychat bench infer --smollm --engines gpu --weights f16,q8_0,q4_1,stored --peak-gbs 4800\n  tinychat bench infer --smollm --engines gpu --weights q4_1 --context 2048"
)]
pub struct InferArgs {
    /// A model directory (config.json + model.safetensors) instead of the random SmolLM2-shaped one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Use the random SmolLM2-135M-shaped model (the default when --model is not given).
    #[arg(long)]
    pub smollm: bool,
    /// Prompt tokens of the prefill measurement, 1 to 2097152.
    #[arg(long, default_value_t = 128, value_parser = count(1, CONTEXT))]
    pub prompt: usize,
    /// Decode steps measured (one token each), 1 to 2097152.
    #[arg(long, default_value_t = 128, value_parser = count(1, CONTEXT))]
    pub tokens: usize,
    /// A few tokens only (prompt 16, decode 4): for slow software adapters such as lavapipe.
    #[arg(long)]
    pub quick: bool,
    /// Which engines: cpu, gpu or both.
    #[arg(long, default_value = "both")]
    pub engines: String,
    /// GPU weight storage, comma-separated: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k,
    /// stored (as the model stores it), or both (f32,f16).
    #[arg(long, default_value = "both")]
    pub weights: String,
    /// GPU: decode after a context of this many positions (0: right after the prompt).
    #[arg(long, default_value_t = 0, value_parser = count(0, CONTEXT))]
    pub context: usize,
    /// The GPU's memory bandwidth in GB/s (e.g. 3350 for an H100 SXM), to print the fraction
    /// of it that decoding achieves.
    #[arg(long, value_parser = gbs)]
    pub peak_gbs: Option<f64>,
    /// CPU weight storage types, comma-separated: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k
    /// (every matrix cast to it; see `tinychat::bench::bench_type` for the exceptions).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Measured runs per engine and type, interleaved with the peer's; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// Also run a peer on the same model and types, interleaved: `llamacpp`
    /// (scripts/bench_llamacpp.py; its first run builds llama.cpp, about 4 minutes).
    #[arg(long)]
    pub peer: Option<String>,
}

impl From<InferArgs> for InferBenchArgs {
    fn from(a: InferArgs) -> Self {
        InferBenchArgs {
            model: a.model,
            smollm: a.smollm,
            prompt: a.prompt,
            tokens: a.tokens,
            quick: a.quick,
            engines: a.engines,
            weights: a.weights,
            context: a.context,
            peak_gbs: a.peak_gbs,
            dtype: a.dtype,
            rounds: a.rounds as usize,
            peer: a.peer,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  tinychat bench moderate --model web/models/default\n  tinychat bench moderate --model web/models/default --texts data/moderation/test.jsonl --limit 2000\n  WGPU_BACKEND=vulkan tinychat bench moderate --model web/models/default --repeat 1"
)]
pub struct ModerateArgs {
    /// A classifier directory or a pipeline bundle.
    #[arg(long)]
    pub model: PathBuf,
    /// Texts to check: JSONL with a "text" field (the moderation data's format) or one text per
    /// line. Default: data/moderation_challenge.jsonl (420 hand-written chat messages).
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// At most this many texts.
    #[arg(long, value_parser = count(1, u32::MAX as u64))]
    pub limit: Option<usize>,
    /// Passes over the texts per engine (the best pass counts), 1 to 1000.
    #[arg(long, default_value_t = 3, value_parser = count(1, 1000))]
    pub repeat: usize,
}

impl From<ModerateArgs> for ModerateBenchArgs {
    fn from(a: ModerateArgs) -> Self {
        ModerateBenchArgs {
            model: a.model,
            texts: a.texts,
            limit: a.limit,
            repeat: a.repeat,
        }
    }
}

#[cfg(feature = "train")]
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat bench train --steps 5\n  tinychat bench train --preset tiny --no-torch\n  tinychat bench train --python venv/bin/python --rounds 5"
)]
pub struct BenchTrainArgs {
    /// Presets to measure (default: tiny and small).
    #[arg(long, value_enum)]
    pub preset: Vec<train::PretrainPreset>,
    /// Vocabulary size of the benchmark model.
    #[arg(long, default_value_t = 4096, value_parser = count(256, tinychat::config::LIMITS.vocab_size as u64))]
    pub vocab: usize,
    /// Timed steps per round (after three warm-up steps); a round's figure is their median.
    #[arg(long, default_value_t = 5, value_parser = count(1, 1_000_000))]
    pub steps: usize,
    /// Skip the PyTorch comparison.
    #[arg(long)]
    pub no_torch: bool,
    /// Threads PyTorch may use (tinychat uses rayon's pool: RAYON_NUM_THREADS).
    #[arg(long, default_value_t = 2, value_parser = count(1, 1024))]
    pub torch_threads: usize,
    /// The PyTorch script.
    #[arg(long, default_value = "scripts/bench_torch.py")]
    pub torch_script: PathBuf,
    /// The Python interpreter that runs the PyTorch script (e.g. a venv's bin/python).
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Rounds per preset, tinychat and PyTorch alternated in each; medians are compared.
    #[arg(long, default_value_t = 3, value_parser = count(1, 1000))]
    pub rounds: usize,
}

#[cfg(feature = "train")]
impl From<BenchTrainArgs> for tinychat::train::bench::BenchOptions {
    fn from(a: BenchTrainArgs) -> Self {
        tinychat::train::bench::BenchOptions {
            preset: a.preset.into_iter().map(Into::into).collect(),
            vocab: a.vocab,
            steps: a.steps,
            no_torch: a.no_torch,
            torch_threads: a.torch_threads,
            torch_script: a.torch_script,
            python: a.python,
            rounds: a.rounds,
        }
    }
}

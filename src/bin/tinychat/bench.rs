//! `tinychat bench ...`: speed measurements. The measuring code lives in the library, next to
//! what it measures (`tinychat::gpu::bench`, `tinychat::train::bench`); this is the dispatch.

#[cfg(feature = "train")]
use super::train;
use clap::Subcommand;
#[cfg(feature = "train")]
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::Result;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Inference: prefill and decode tokens/s of the CPU and GPU engines (batch 1), by default on
    /// a random SmolLM2-135M-shaped model
    Infer(tinychat::gpu::bench::InferBenchArgs),

    /// Moderation: checks/s of a classifier on the CPU and GPU engines over the same texts, and
    /// the largest score difference between them
    Moderate(tinychat::gpu::bench::ModerateBenchArgs),

    /// Training throughput (tokens/s) of the presets, beside PyTorch when it is installed
    #[cfg(feature = "train")]
    Train(BenchTrainArgs),
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Infer(a) => tinychat::gpu::bench::run(&a)?,
        BenchCommand::Moderate(a) => tinychat::gpu::bench::run_moderate(&a)?,
        #[cfg(feature = "train")]
        BenchCommand::Train(a) => tinychat::train::bench::run(&a.into())?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "train")]
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat bench train --steps 5\n  tinychat bench train --preset tiny --no-torch"
)]
pub struct BenchTrainArgs {
    /// Presets to measure (default: tiny and small).
    #[arg(long, value_enum)]
    pub preset: Vec<train::PretrainPreset>,
    /// Vocabulary size of the benchmark model.
    #[arg(long, default_value_t = 4096)]
    pub vocab: usize,
    /// Timed steps per preset (after one warm-up step).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Skip the PyTorch comparison.
    #[arg(long)]
    pub no_torch: bool,
    /// Threads PyTorch may use (tinychat uses rayon's pool: RAYON_NUM_THREADS).
    #[arg(long, default_value_t = 2)]
    pub torch_threads: usize,
    /// The PyTorch script.
    #[arg(long, default_value = "scripts/bench_torch.py")]
    pub torch_script: PathBuf,
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
        }
    }
}

//! `tinychat bench ...`: speed measurements. The measuring code lives in the library, next to
//! what it measures (`tinychat::gpu::bench`, `tinychat::train::bench`); this is the dispatch.

use clap::Subcommand;
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
    Train(tinychat::train::BenchArgs),
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Infer(a) => tinychat::gpu::bench::run(&a)?,
        BenchCommand::Moderate(a) => tinychat::gpu::bench::run_moderate(&a)?,
        #[cfg(feature = "train")]
        BenchCommand::Train(a) => tinychat::train::run_bench(&a)?,
    }
    Ok(ExitCode::SUCCESS)
}

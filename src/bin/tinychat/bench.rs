//! `tinychat bench ...`: speed measurements. The measuring code lives in the library, next to
//! what it measures (`tinychat::gpu::bench`, `tinychat::train::bench`); this is the dispatch.

use crate::sampling::count;
use clap::Subcommand;
use std::process::ExitCode;
use tinychat::Result;

// The argument types live in the library beside the code they measure; the ranges of their
// numeric flags are set here (clap's `mut_arg`), so a bad value is a usage error naming the flag.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Inference: prefill and decode tokens/s of the CPU and GPU engines (batch 1), by default on
    /// a random SmolLM2-135M-shaped model
    #[command(
        mut_arg("prompt", |a| a.value_parser(count(1, CONTEXT)).help("Prompt tokens of the prefill measurement, 1 to 2097152")),
        mut_arg("tokens", |a| a.value_parser(count(1, CONTEXT)).help("Decode steps measured (one token each), 1 to 2097152")),
        mut_arg("peak_gbs", |a| a.value_parser(gbs)),
    )]
    Infer(tinychat::gpu::bench::InferBenchArgs),

    /// Moderation: checks/s of a classifier on the CPU and GPU engines over the same texts, and
    /// the largest score difference between them
    #[command(
        mut_arg("limit", |a| a.value_parser(count(1, u32::MAX as u64))),
        mut_arg("repeat", |a| a.value_parser(count(1, 1000)).help("Passes over the texts per engine (the best pass counts), 1 to 1000")),
    )]
    Moderate(tinychat::gpu::bench::ModerateBenchArgs),

    /// Training throughput (tokens/s) of the presets, beside PyTorch when it is installed
    #[cfg(feature = "train")]
    #[command(
        mut_arg("vocab", |a| a.value_parser(count(256, tinychat::config::LIMITS.vocab_size as u64))),
        mut_arg("steps", |a| a.value_parser(count(1, 1_000_000))),
        mut_arg("torch_threads", |a| a.value_parser(count(1, 1024))),
    )]
    Train(tinychat::train::BenchArgs),
}

/// The longest context tinychat accepts.
const CONTEXT: u64 = tinychat::config::LIMITS.max_position_embeddings as u64;

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
        BenchCommand::Infer(a) => tinychat::gpu::bench::run(&a)?,
        BenchCommand::Moderate(a) => tinychat::gpu::bench::run_moderate(&a)?,
        #[cfg(feature = "train")]
        BenchCommand::Train(a) => tinychat::train::run_bench(&a)?,
    }
    Ok(ExitCode::SUCCESS)
}

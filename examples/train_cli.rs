//! The training commands on their own, for use before (or without) the main `tinychat` CLI:
//! `cargo run --release --features train --example train_cli -- data prepare` etc.
//! The same subcommands are what `tinychat train ...` / `tinychat data ...` run: their flags are
//! the CLI's own modules, included here.

#[cfg(feature = "train")]
#[allow(dead_code, unused_imports)]
#[path = "../src/bin/tinychat/train/mod.rs"]
mod train;

#[cfg(feature = "train")]
#[allow(dead_code)]
#[path = "../src/bin/tinychat/data.rs"]
mod data;

#[cfg(feature = "train")]
#[allow(dead_code)]
#[path = "../src/bin/tinychat/bench.rs"]
mod bench;

#[cfg(feature = "train")]
#[allow(dead_code)]
#[path = "../src/bin/tinychat/ranges.rs"]
mod ranges;

#[cfg(feature = "train")]
fn main() {
    use clap::Parser;
    #[derive(clap::Parser)]
    #[allow(clippy::large_enum_variant)] // parsed once
    enum Cli {
        #[command(subcommand)]
        Train(train::TrainCommand),
        #[command(subcommand)]
        Data(data::DataCommand),
        /// Training throughput (tokens/s) of the presets.
        Bench(bench::BenchTrainArgs),
    }
    let r = match Cli::parse() {
        Cli::Train(c) => train::run(c),
        Cli::Data(c) => data::run(c),
        Cli::Bench(a) => tinychat::train::bench::run(&a.into()),
    };
    if let Err(e) = r {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(feature = "train"))]
fn main() {
    eprintln!("build with --features train");
}

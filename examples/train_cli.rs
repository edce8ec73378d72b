//! The training commands on their own, for use before (or without) the main `tinychat` CLI:
//! `cargo run --release --features train --example train_cli -- data prepare` etc.
//! The same subcommands are what `tinychat train ...` / `tinychat data ...` run.

#[cfg(feature = "train")]
fn main() {
    use clap::Parser;
    use tinychat::train::{run_bench, run_data, run_train, BenchArgs, DataCommand, TrainCommand};
    #[derive(clap::Parser)]
    enum Cli {
        #[command(subcommand)]
        Train(TrainCommand),
        #[command(subcommand)]
        Data(DataCommand),
        /// Training throughput (tokens/s) of the presets.
        Bench(BenchArgs),
    }
    let r = match Cli::parse() {
        Cli::Train(c) => run_train(c),
        Cli::Data(c) => run_data(c),
        Cli::Bench(a) => run_bench(&a),
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

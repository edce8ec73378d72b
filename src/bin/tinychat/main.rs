//! The `tinychat` command: one thin subcommand per job, each a module in this folder.
//!
//! Adding a subcommand: write its clap `Args`/`Subcommand` type and a `run` function in a module
//! here (the library takes plain option structs; clap lives only in this folder), add a variant
//! to [`Command`] with an `after_help` example, and one arm to [`run`]. Errors are `tinychat::Error`s; `main` prints
//! them as `error: ...` and exits with status 1 (clap's own usage errors exit with 2).

// The tool is native only. `cargo test --target wasm32-unknown-unknown` (the browser tests) builds
// every binary of the package too, so on wasm32 it is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod chat;
#[cfg(not(target_arch = "wasm32"))]
mod convert;
#[cfg(all(not(target_arch = "wasm32"), feature = "train"))]
mod data;
#[cfg(all(not(target_arch = "wasm32"), feature = "train"))]
mod eval;
#[cfg(not(target_arch = "wasm32"))]
mod generate;
#[cfg(not(target_arch = "wasm32"))]
mod moderate;
#[cfg(not(target_arch = "wasm32"))]
#[allow(dead_code)] // count_u32 and below are used by the training commands only
mod ranges;
#[cfg(not(target_arch = "wasm32"))]
mod sampling;
#[cfg(not(target_arch = "wasm32"))]
mod tokenizer;
#[cfg(all(not(target_arch = "wasm32"), feature = "train"))]
mod train;

#[cfg(not(target_arch = "wasm32"))]
use clap::{Parser, Subcommand};
#[cfg(not(target_arch = "wasm32"))]
use std::process::ExitCode;

#[cfg(not(target_arch = "wasm32"))]
#[derive(Parser)]
#[command(
    name = "tinychat",
    version,
    about = "A small, private ChatGPT: chat with Hugging Face-style models on the CPU, train your own",
    after_help = "Examples:\n  \
        tinychat generate --model models/smollm2 --prompt \"The capital of France is\"\n  \
        tinychat chat --model models/smollm2 --temperature 0.7\n  \
        tinychat tokenizer from-gpt2 --encoder encoder.json --vocab vocab.bpe --out tokenizer.json\n  \
        tinychat convert --gguf model.gguf --out model-hf\n  \
        tinychat bench infer --smollm\n\n\
        A model is a directory with config.json, model.safetensors, tokenizer.json and optionally\n\
        tokenizer_config.json (chat template) and generation_config.json (sampling defaults);\n\
        or a GGUF file (a .gguf, or a directory holding exactly one and no config.json)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Subcommand)]
enum Command {
    /// Continue a prompt and stream the text to stdout
    #[command(after_help = generate::EXAMPLES)]
    Generate(generate::GenerateArgs),

    /// Talk with a chat model: reads one message per line from stdin, keeps the conversation
    #[command(after_help = chat::EXAMPLES)]
    Chat(chat::ChatArgs),

    /// Moderation scores and verdict of a text (or one text per line from stdin with `-`)
    #[command(after_help = moderate::EXAMPLES)]
    Moderate(moderate::ModerateArgs),

    /// Convert a GGUF model into a Hugging Face directory (safetensors, config, tokenizer)
    #[command(after_help = convert::EXAMPLES)]
    Convert(convert::ConvertArgs),

    /// Tokenizer tools: convert GPT-2's vocabulary files, encode text
    #[command(subcommand)]
    Tokenizer(tokenizer::TokenizerCommand),
    // ---- training (cargo feature `train`) -------------------------------------------------
    /// Training data: fetch, clean and split the corpora
    #[cfg(feature = "train")]
    #[command(subcommand)]
    Data(data::DataCommand),

    /// Training stages: tokenizer, pretrain, sft, reward, ppo, moderation, and all of them in order
    #[cfg(feature = "train")]
    #[command(subcommand)]
    Train(Box<train::TrainCommand>),

    /// Evaluation: chat models on held-out items (exact match, KL, win rate), moderation
    #[cfg(feature = "train")]
    #[command(subcommand)]
    Eval(eval::EvalCommand),

    /// Speed: inference on the CPU and GPU engines, training throughput
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[cfg(not(target_arch = "wasm32"))]
fn run(cli: Cli) -> tinychat::Result<ExitCode> {
    match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Moderate(args) => moderate::run(args),
        Command::Tokenizer(cmd) => tokenizer::run(cmd),
        Command::Convert(args) => convert::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        #[cfg(feature = "train")]
        Command::Data(cmd) => data::run(cmd).map(|()| ExitCode::SUCCESS),
        #[cfg(feature = "train")]
        Command::Train(cmd) => train::run(*cmd).map(|()| ExitCode::SUCCESS),
        #[cfg(feature = "train")]
        Command::Eval(cmd) => eval::run(cmd).map(|()| ExitCode::SUCCESS),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`tinychat moderate - | head`) would
    // panic in println!; with the default action the process ends quietly, as Unix tools do.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

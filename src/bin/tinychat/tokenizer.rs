//! `tinychat tokenizer ...`: converting GPT-2's vocabulary files and looking at tokenizations.

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tinychat::tokenizer::{gpt2_tokenizer_json, Tokenizer};
use tinychat::{Error, Result};

#[derive(Subcommand, Debug)]
pub enum TokenizerCommand {
    /// Turn OpenAI's GPT-2 vocabulary (encoder.json + vocab.bpe) into a Hugging Face tokenizer.json
    #[command(
        name = "from-gpt2",
        after_help = "Example (the files tiktoken-rs ships):\n  \
            A=$(ls -d ~/.cargo/registry/src/*/tiktoken-rs-*/assets | tail -1)\n  \
            tinychat tokenizer from-gpt2 --encoder $A/encoder.json --vocab $A/vocab.bpe --out tokenizer.json\n\n\
            The result is byte-level BPE (no prefix space, GPT-2's split regex) with <|endoftext|>\n\
            as special token 50256; it gives the same ids as tiktoken's r50k_base."
    )]
    FromGpt2(FromGpt2Args),

    /// Print the token ids of a text (and each token), as the model's tokenizer splits it
    #[command(after_help = "Examples:\n  \
        tinychat tokenizer encode --model models/smollm2 --text \"Hello world\"\n  \
        tinychat tokenizer encode --tokenizer tokenizer.json --text \"Hello world\" --ids-only")]
    Encode(EncodeArgs),
}

#[derive(Args, Debug)]
pub struct FromGpt2Args {
    /// GPT-2's encoder.json (token -> id)
    #[arg(long, value_name = "FILE")]
    pub encoder: PathBuf,
    /// GPT-2's vocab.bpe (the merges)
    #[arg(long, value_name = "FILE")]
    pub vocab: PathBuf,
    /// Where to write tokenizer.json
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// Model directory whose tokenizer.json to use, or a .gguf (its tokenizer metadata)
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "tokenizer",
        required_unless_present = "tokenizer"
    )]
    pub model: Option<PathBuf>,
    /// A tokenizer.json file
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// The text to encode
    #[arg(long, value_name = "TEXT")]
    pub text: String,
    /// Print only the ids, as a JSON list
    #[arg(long)]
    pub ids_only: bool,
}

pub fn run(cmd: TokenizerCommand) -> Result<ExitCode> {
    match cmd {
        TokenizerCommand::FromGpt2(a) => from_gpt2(&a),
        TokenizerCommand::Encode(a) => encode(&a),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn from_gpt2(a: &FromGpt2Args) -> Result<ExitCode> {
    let json = gpt2_tokenizer_json(&read(&a.encoder)?, &read(&a.vocab)?)?;
    let tok = Tokenizer::from_bytes(json.as_bytes())?;
    tinychat::io::write_atomic(&a.out, json.as_bytes())?;
    println!("wrote {} ({} tokens)", a.out.display(), tok.vocab_size());
    Ok(ExitCode::SUCCESS)
}

fn encode(a: &EncodeArgs) -> Result<ExitCode> {
    let tok = match (&a.model, &a.tokenizer) {
        (Some(m), _) if tinychat::gguf::find(m)?.is_some() => tinychat::gguf::load_tokenizer(m)?,
        (Some(dir), _) => Tokenizer::from_file(dir.join("tokenizer.json"))?,
        (None, Some(file)) => Tokenizer::from_file(file)?,
        (None, None) => unreachable!("clap requires --model or --tokenizer"),
    };
    let ids = tok.encode(&a.text, false)?;
    println!("{}", serde_json::to_string(&ids).expect("ids serialise"));
    if !a.ids_only {
        for &id in &ids {
            let piece = tok.decode(&[id], false)?;
            println!("{id:>8}  {piece:?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

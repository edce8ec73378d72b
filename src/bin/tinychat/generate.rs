//! `tinychat generate`: continue one prompt, streaming the text to stdout.

use crate::sampling::{DtypeArg, SamplingArgs};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::{ChatModel, Error, Generation, Message, Result};

pub const EXAMPLES: &str = "Examples:\n  \
    tinychat generate --model models/smollm2 --prompt \"The capital of France is\"\n  \
    tinychat generate --model models/smollm2 --chat --prompt \"What is the capital of France?\" \\\n      \
        --temperature 0.7 --top-p 0.9 --seed 1 --max-new-tokens 64";

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Model directory (config.json, model.safetensors, tokenizer.json, ...) or a .gguf file
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The text to continue (with --chat: the user's message)
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// Wrap the prompt in the model's chat template as a user message
    #[arg(long)]
    pub chat: bool,
    /// A system message before the prompt (with --chat)
    #[arg(long, value_name = "TEXT", requires = "chat")]
    pub system: Option<String>,
    /// Print token counts and speed to stderr at the end
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub dtype: DtypeArg,
}

pub fn run(args: GenerateArgs) -> Result<ExitCode> {
    // Checked before the model loads, and for --chat too, where the template would otherwise
    // turn an empty message into a non-empty prompt.
    if args.prompt.is_empty() {
        return Err(Error::EmptyPrompt);
    }
    let params = args.sampling.resolve(&args.model)?;
    let model = args.dtype.apply(ChatModel::load(&args.model)?);
    let mut out = StreamOut::new();
    let generation = if args.chat {
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(Message::system(system));
        }
        messages.push(Message::user(&args.prompt));
        model.chat(&messages, &params, |piece| out.write(piece))?
    } else {
        model.complete(&args.prompt, &params, |piece| out.write(piece))?
    };
    out.finish(&generation.text);
    if args.stats {
        eprintln!("{}", stats_line(&generation));
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams text pieces to stdout as they come. A closed pipe (`tinychat generate ... | head`)
/// stops generation quietly instead of failing.
pub struct StreamOut {
    stdout: std::io::Stdout,
    /// What this reply has written so far.
    streamed: String,
    closed: bool,
}

impl StreamOut {
    pub fn new() -> Self {
        StreamOut {
            stdout: std::io::stdout(),
            streamed: String::new(),
            closed: false,
        }
    }
    /// Writes one piece; returns false (stop generating) once stdout is closed.
    pub fn write(&mut self, piece: &str) -> bool {
        let mut lock = self.stdout.lock();
        if lock
            .write_all(piece.as_bytes())
            .and_then(|_| lock.flush())
            .is_err()
        {
            self.closed = true;
            return false;
        }
        self.streamed.push_str(piece);
        true
    }
    /// Ends a reply whose whole text is `text`: writes what streaming held back (a character cut
    /// in the middle of its bytes when generation stopped comes out as U+FFFD, as transformers'
    /// TextStreamer flushes it), then a newline.
    pub fn finish(&mut self, text: &str) {
        if let Some(tail) = text.strip_prefix(self.streamed.as_str()) {
            if !tail.is_empty() {
                self.write(tail);
            }
        }
        if !self.closed {
            let mut lock = self.stdout.lock();
            let _ = lock.write_all(b"\n").and_then(|_| lock.flush());
        }
        self.streamed.clear();
    }
    /// Ends a reply that failed part way: closes its line, if it had begun one.
    pub fn abort(&mut self) {
        if !self.streamed.is_empty() {
            self.finish("");
        }
    }
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// "24 prompt tokens in 3.1 ms (7742 tok/s), 20 new tokens in 15.0 ms (1333 tok/s), finish: length"
pub fn stats_line(g: &Generation) -> String {
    let rate = |n: usize, ms: f64| {
        if ms > 0.0 {
            format!("{:.0} tok/s", n as f64 / (ms / 1e3))
        } else {
            "- tok/s".into()
        }
    };
    // The first new token comes out of the prefill; decode time covers the rest.
    let decoded = g.tokens.len().saturating_sub(1);
    format!(
        "{} prompt tokens in {:.1} ms ({}), {} new tokens, {} decoded in {:.1} ms ({}), finish: {}",
        g.prompt_tokens,
        g.prefill_ms,
        rate(g.prompt_tokens, g.prefill_ms),
        g.tokens.len(),
        decoded,
        g.decode_ms,
        rate(decoded, g.decode_ms),
        serde_json::to_value(g.finish_reason)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    )
}

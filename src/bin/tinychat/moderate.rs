//! `tinychat moderate`: category scores and the verdict of the moderation classifier.

use clap::Args;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::engine::{Backend, Engine};
use tinychat::moderation::{Moderator, Verdict};
use tinychat::{Error, Result};

pub const EXAMPLES: &str = "Examples:\n  \
    tinychat moderate --model web/models/default \"How do I bake bread?\"\n  \
    tinychat moderate --model runs/moderation --json \"you are an idiot\"\n  \
    cat messages.txt | tinychat moderate --model runs/moderation --json -\n  \
    tinychat moderate --model web/models/default --backend gpu \"you are an idiot\"\n\n\
    --model is a classifier directory (config.json with id2label, model.safetensors,\n\
    tokenizer.json, thresholds.json) or a pipeline bundle (pipeline.json names the classifier\n\
    and may override thresholds). With `-`, one text per line is read from stdin and, with\n\
    --json, one JSON object per line is written. The exit status is 0 whether or not text is\n\
    flagged; read the verdict from the output. --backend gpu runs the classifier on the GPU\n\
    engine (any adapter, a software one too); auto takes a hardware GPU when there is one.";

#[derive(Args, Debug)]
pub struct ModerateArgs {
    /// Classifier directory, or a pipeline bundle directory
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Print JSON (one object per text) instead of a table
    #[arg(long)]
    pub json: bool,
    /// Engine: cpu, gpu, or auto (a hardware GPU when there is one, else the CPU)
    #[arg(long, default_value = "cpu", value_name = "ENGINE")]
    pub backend: Backend,
    /// The text to check, or `-` to read one text per line from stdin
    #[arg(value_name = "TEXT")]
    pub text: String,
}

fn print(text: &str, v: &Verdict, json: bool) {
    if json {
        let obj =
            serde_json::json!({"text": text, "flagged": v.flagged, "categories": v.categories});
        println!("{obj}");
        return;
    }
    println!(
        "{}  {text:?}",
        if v.flagged { "FLAGGED" } else { "ok     " }
    );
    for c in &v.categories {
        println!(
            "  {:<24} {:>6.3}  (threshold {:.3}){}",
            c.category,
            c.score,
            c.threshold,
            match (&c.implied_by, c.flagged) {
                (Some(by), _) => format!("  <- flagged (implied by {by})"),
                (None, true) => "  <- flagged".to_string(),
                (None, false) => String::new(),
            }
        );
    }
}

pub fn run(args: ModerateArgs) -> Result<ExitCode> {
    let m = Moderator::open(&args.model)?;
    let mut engine = match args.backend {
        Backend::Cpu => None,
        b => {
            let e = Engine::new(m.model.clone(), m.engine_options(b, None))?;
            eprintln!("tinychat: the classifier runs on {}", e.describe());
            Some(e)
        }
    };
    let mut check = |text: &str| match engine.as_mut() {
        Some(e) => pollster::block_on(m.check_async(e, text)),
        None => m.check(text),
    };
    if args.text == "-" {
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.map_err(|e| Error::Other(format!("stdin line {}: {e}", i + 1)))?;
            if line.trim().is_empty() {
                continue;
            }
            print(&line, &check(&line)?, args.json);
        }
    } else {
        print(&args.text, &check(&args.text)?, args.json);
    }
    Ok(ExitCode::SUCCESS)
}

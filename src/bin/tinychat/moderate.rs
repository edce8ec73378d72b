//! `tinychat moderate`: category scores and the verdict of the moderation classifier.

use clap::Args;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use tinychat::moderation::{Moderator, Verdict};
use tinychat::pipeline::Pipeline;
use tinychat::{Error, Result};

pub const EXAMPLES: &str = "Examples:\n  \
    tinychat moderate --model web/models/default \"How do I bake bread?\"\n  \
    tinychat moderate --model runs/moderation --json \"you are an idiot\"\n  \
    cat messages.txt | tinychat moderate --model runs/moderation --json -\n\n\
    --model is a classifier directory (config.json with id2label, model.safetensors,\n\
    tokenizer.json, thresholds.json) or a pipeline bundle (pipeline.json names the classifier\n\
    and may override thresholds). With `-`, one text per line is read from stdin and, with\n\
    --json, one JSON object per line is written. The exit status is 0 whether or not text is\n\
    flagged; read the verdict from the output.";

#[derive(Args, Debug)]
pub struct ModerateArgs {
    /// Classifier directory, or a pipeline bundle directory
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Print JSON (one object per text) instead of a table
    #[arg(long)]
    pub json: bool,
    /// The text to check, or `-` to read one text per line from stdin
    #[arg(value_name = "TEXT")]
    pub text: String,
}

fn load(dir: &std::path::Path) -> Result<Moderator> {
    if dir.join("pipeline.json").exists() {
        let text = std::fs::read_to_string(dir.join("pipeline.json"))
            .map_err(|e| Error::io(dir.join("pipeline.json"), e))?;
        let cfg = Pipeline::parse_config(&text, &dir.join("pipeline.json").display().to_string())?;
        let mut m = Moderator::load(dir.join(&cfg.moderator))?;
        m.set_thresholds(&cfg.thresholds)?;
        Ok(m)
    } else {
        Moderator::load(dir)
    }
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
    let m = load(&args.model)?;
    if args.text == "-" {
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.map_err(|e| Error::Other(format!("stdin line {}: {e}", i + 1)))?;
            if line.trim().is_empty() {
                continue;
            }
            print(&line, &m.check(&line)?, args.json);
        }
    } else {
        print(&args.text, &m.check(&args.text)?, args.json);
    }
    Ok(ExitCode::SUCCESS)
}

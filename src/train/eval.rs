//! `tinychat eval chat`: a chat checkpoint on the held-out fine-tuning items.
//!
//! - exact-match accuracy: each checkable item's conversation without its last assistant turn is
//!   answered greedily (at most `--max-new-tokens`) and the answer is judged by the exact
//!   checkers (`checkers.rs`);
//! - with `--reference`: the KL divergence from the reference to the model on the model's own
//!   answers, KL(π‖π_ref) = Σ_v π(v) (log π(v) − log π_ref(v)) summed over the answer's positions
//!   (the exact per-position KL, not a sampled estimate), averaged over items;
//! - with `--against B`: B answers the same items and the win rate of the model over B by the
//!   checkers counts items where exactly one of the two is correct (ties are reported apart).

use super::checkers::check;
use super::sft::model_dir;
use super::sft_data::{read_sft_jsonl, SftExample};
use crate::chat::ChatModel;
use crate::error::{Error, Result};
use crate::generate::SamplingParams;
use crate::model::{KvCache, Logits, Model};
use crate::tokenizer::Message;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat eval chat --model runs/sft --limit 200\n  tinychat eval chat --model runs/ppo --against runs/sft --reference runs/sft"
)]
pub struct EvalChatArgs {
    /// The chat model: a run directory (its checkpoint/) or a model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Held-out items (sft_eval.jsonl, from `tinychat data prepare`).
    #[arg(long, default_value = "data/sft/sft_eval.jsonl")]
    pub data: PathBuf,
    /// Evaluate the first N checkable items only.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 32)]
    pub max_new_tokens: usize,
    /// Reference model for the KL (usually the SFT model).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// A second checkpoint: win rate of --model over it.
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print every question, answer and verdict.
    #[arg(long)]
    pub verbose: bool,
}

/// One model's answers to the checkable items.
#[derive(Debug, Clone, Serialize)]
pub struct Answers {
    pub texts: Vec<String>,
    pub correct: Vec<bool>,
    /// Prompt and answer token ids (for the KL).
    #[serde(skip)]
    pub tokens: Vec<(Vec<u32>, Vec<u32>)>,
}

impl Answers {
    pub fn accuracy(&self) -> f64 {
        self.correct.iter().filter(|&&c| c).count() as f64 / self.correct.len().max(1) as f64
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: PathBuf,
    pub items: usize,
    pub exact_match: f64,
    pub kl_to_reference: Option<f64>,
    pub against: Option<PathBuf>,
    pub against_exact_match: Option<f64>,
    /// (wins, losses, ties) of --model over --against by the checkers.
    pub checker_wins_losses_ties: Option<(usize, usize, usize)>,
    pub checker_win_rate: Option<f64>,
}

/// The checkable items of an eval file: (conversation up to the last user turn, check).
pub fn checkable(
    items: &[SftExample],
    limit: Option<usize>,
) -> Vec<(Vec<Message>, super::checkers::Check)> {
    items
        .iter()
        .filter_map(|ex| {
            let c = ex.check.clone()?;
            let last = ex.messages.iter().rposition(|m| m.role == "assistant")?;
            Some((ex.messages[..last].to_vec(), c))
        })
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

/// Greedy answers of `chat` to `items`, judged by the checkers.
pub fn answer_all(
    chat: &ChatModel,
    items: &[(Vec<Message>, super::checkers::Check)],
    max_new_tokens: usize,
) -> Result<Answers> {
    let sp = SamplingParams {
        temperature: 0.0,
        max_new_tokens,
        ..Default::default()
    };
    let mut a = Answers {
        texts: vec![],
        correct: vec![],
        tokens: vec![],
    };
    for (msgs, c) in items {
        let prompt = chat.encode_chat(msgs)?;
        let g = chat.generate_tokens(&prompt, &sp, |_| true)?;
        a.correct.push(check(&g.text, c));
        a.texts.push(g.text);
        a.tokens.push((prompt, g.tokens));
    }
    Ok(a)
}

fn log_softmax(x: &[f32]) -> Vec<f64> {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln() + m;
    x.iter().map(|&v| v as f64 - z).collect()
}

/// Σ over the answer's positions of KL(π‖π_ref) at that position (see the module comment).
pub fn sequence_kl(
    model: &Model,
    reference: &Model,
    prompt: &[u32],
    answer: &[u32],
) -> Result<f64> {
    if answer.is_empty() {
        return Ok(0.0);
    }
    let seq: Vec<u32> = prompt.iter().chain(answer).copied().collect();
    let v = model.config.vocab_size;
    if reference.config.vocab_size != v {
        return Err(Error::InvalidArgument(
            "the reference model has another vocabulary".into(),
        ));
    }
    let lp = model.forward(&seq, &mut KvCache::new(&model.config), Logits::All)?;
    let lq = reference.forward(&seq, &mut KvCache::new(&reference.config), Logits::All)?;
    let mut kl = 0.0;
    // The logits at position i predict token i+1: the answer's tokens are predicted from
    // positions prompt.len()-1 .. seq.len()-2.
    for i in prompt.len() - 1..seq.len() - 1 {
        let p = log_softmax(&lp[i * v..(i + 1) * v]);
        let q = log_softmax(&lq[i * v..(i + 1) * v]);
        kl += p
            .iter()
            .zip(&q)
            .map(|(a, b)| a.exp() * (a - b))
            .sum::<f64>();
    }
    Ok(kl)
}

pub fn run(args: &EvalChatArgs) -> Result<EvalReport> {
    let items = checkable(&read_sft_jsonl(&args.data)?, args.limit);
    if items.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} has no checkable items (with \"check\")",
            args.data.display()
        )));
    }
    let chat = ChatModel::load(model_dir(&args.model))?;
    let mine = answer_all(&chat, &items, args.max_new_tokens)?;
    if args.verbose {
        for ((m, _), (t, c)) in items.iter().zip(mine.texts.iter().zip(&mine.correct)) {
            let q = m.last().map_or("", |x| x.content.as_str());
            eprintln!("{} {q:?} -> {t:?}", if *c { "ok " } else { "BAD" });
        }
    }
    let mut report = EvalReport {
        model: args.model.clone(),
        items: items.len(),
        exact_match: mine.accuracy(),
        kl_to_reference: None,
        against: args.against.clone(),
        against_exact_match: None,
        checker_wins_losses_ties: None,
        checker_win_rate: None,
    };
    if let Some(r) = &args.reference {
        let reference = Model::load(model_dir(r))?;
        let mut sum = 0.0;
        for (p, a) in &mine.tokens {
            sum += sequence_kl(&chat.model, &reference, p, a)?;
        }
        report.kl_to_reference = Some(sum / mine.tokens.len() as f64);
    }
    if let Some(b) = &args.against {
        let other = ChatModel::load(model_dir(b))?;
        let theirs = answer_all(&other, &items, args.max_new_tokens)?;
        let (mut w, mut l, mut t) = (0, 0, 0);
        for (x, y) in mine.correct.iter().zip(&theirs.correct) {
            match (x, y) {
                (true, false) => w += 1,
                (false, true) => l += 1,
                _ => t += 1,
            }
        }
        report.against_exact_match = Some(theirs.accuracy());
        report.checker_wins_losses_ties = Some((w, l, t));
        report.checker_win_rate = Some(if w + l == 0 {
            0.5
        } else {
            w as f64 / (w + l) as f64
        });
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "{}: exact match {:.3} on {} checkable held-out items",
            args.model.display(),
            report.exact_match,
            report.items
        );
        if let Some(k) = report.kl_to_reference {
            println!("KL to the reference: {k:.4} nats per answer");
        }
        if let (Some(b), Some(acc), Some((w, l, t)), Some(r)) = (
            &report.against,
            report.against_exact_match,
            report.checker_wins_losses_ties,
            report.checker_win_rate,
        ) {
            println!(
                "{}: exact match {acc:.3}; by the checkers {} wins {w}, loses {l}, ties {t}: win rate {r:.3}",
                b.display(),
                args.model.display()
            );
        }
    }
    Ok(report)
}

//! `tinychat eval chat`: a chat checkpoint on the held-out fine-tuning items.
//!
//! - exact-match accuracy: each checkable item's conversation without its last assistant turn is
//!   answered greedily (at most `--max-new-tokens`) and the answer is judged by the exact
//!   checkers (`checkers.rs`); with `--temperature T` (and `--top-k`, `--top-p`) each item is
//!   answered `--samples N` times by sampling instead, as a chat user gets it, and every sample
//!   counts as one answer. Sample j of item i uses seed `--seed` + i·N + j for both models, so
//!   the two are compared on the same draws;
//! - with `--reference`: the KL divergence from the reference to the model on the model's own
//!   answers, KL(π‖π_ref) = Σ_v π(v) (log π(v) − log π_ref(v)) summed over the answer's positions
//!   (the exact per-position KL, not a sampled estimate), averaged over answers;
//! - with `--against B`: B answers the same items (with the same seeds) and the win rate of the
//!   model over B by the checkers counts answers where exactly one of the two is correct (ties
//!   are reported apart);
//! - with `--reward RM`: the mean reward-model score of the answers (of both models with
//!   `--against`), and the win rate by the reward model: answers where the model's scores
//!   higher than B's, over answers where the scores differ.
//!
//! Exact match is also broken down by the item's source ("computed", "quiz": `meta.source` up to
//! the slash): a small model can learn computed questions, not held-out facts. `--limit N` takes
//! N items spread evenly over the file (not its first N, which would all come from one source).

use crate::chat::ChatModel;
use crate::error::{Error, Result};
use crate::generate::SamplingParams;
use crate::model::{KvCache, Logits, Model};
use crate::tokenizer::Message;
use crate::train::checkers::check;
use crate::train::reward::RewardModel;
use crate::train::sft::model_dir;
use crate::train::sft_data::{read_sft_jsonl, SftExample};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `tinychat eval chat`, option for option.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalChatOptions {
    /// The chat model: a run directory (its checkpoint/) or a model directory.
    pub model: PathBuf,
    /// Held-out items (sft_eval.jsonl, from `tinychat data prepare`). Default
    /// data/sft/sft_eval.jsonl.
    pub data: PathBuf,
    /// Evaluate N checkable items, spread evenly over the file.
    pub limit: Option<usize>,
    /// Only items whose source starts with this ("computed", "quiz", "computed/add").
    pub source: Option<String>,
    /// Default 32.
    pub max_new_tokens: usize,
    /// Sample the answers at this temperature instead of answering greedily (0, the default);
    /// `top_k` (0: all), `top_p` (1: off), `samples` per item (1) and the first sample's `seed`
    /// (0) apply only then.
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub samples: usize,
    pub seed: u64,
    /// Reference model for the KL (usually the SFT model).
    pub reference: Option<PathBuf>,
    /// A second checkpoint: win rate of `model` over it.
    pub against: Option<PathBuf>,
    /// A reward model (from `tinychat train reward`): mean score of the answers, and with
    /// `against` the win rate judged by it.
    pub reward: Option<PathBuf>,
    /// Print the report as JSON.
    pub json: bool,
    /// Print every question, answer and verdict.
    pub verbose: bool,
}

impl EvalChatOptions {
    /// The defaults, for the chat model in `model`.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        EvalChatOptions {
            model: model.into(),
            data: "data/sft/sft_eval.jsonl".into(),
            limit: None,
            source: None,
            max_new_tokens: 32,
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            samples: 1,
            seed: 0,
            reference: None,
            against: None,
            reward: None,
            json: false,
            verbose: false,
        }
    }
}

/// One model's answers to the checkable items.
#[derive(Debug, Clone, Serialize)]
pub struct Answers {
    pub texts: Vec<String>,
    pub correct: Vec<bool>,
    /// Reward-model scores (with `--reward`).
    pub scores: Vec<f32>,
    /// Prompt and answer token ids (for the KL).
    #[serde(skip)]
    pub tokens: Vec<(Vec<u32>, Vec<u32>)>,
}

impl Answers {
    pub fn accuracy(&self) -> f64 {
        self.correct.iter().filter(|&&c| c).count() as f64 / self.correct.len().max(1) as f64
    }

    /// Mean reward-model score (NaN without scores).
    pub fn mean_score(&self) -> f64 {
        if self.scores.is_empty() {
            return f64::NAN;
        }
        self.scores.iter().map(|&x| x as f64).sum::<f64>() / self.scores.len() as f64
    }

    /// Scores every answer with the reward model.
    pub fn score(&mut self, rm: &RewardModel, items: &[EvalItem]) -> Result<()> {
        self.scores = items
            .iter()
            .zip(&self.texts)
            .map(|(it, t)| rm.score(it.question(), t))
            .collect::<Result<_>>()?;
        Ok(())
    }
}

/// (wins, losses, ties) of `a` over `b`, item by item.
pub fn wins_losses_ties<T>(
    a: &[T],
    b: &[T],
    better: impl Fn(&T, &T) -> bool,
) -> (usize, usize, usize) {
    let (mut w, mut l, mut t) = (0, 0, 0);
    for (x, y) in a.iter().zip(b) {
        if better(x, y) {
            w += 1;
        } else if better(y, x) {
            l += 1;
        } else {
            t += 1;
        }
    }
    (w, l, t)
}

/// Wins over decided items (0.5 when none is decided).
pub fn win_rate((w, l, _): (usize, usize, usize)) -> f64 {
    if w + l == 0 {
        0.5
    } else {
        w as f64 / (w + l) as f64
    }
}

/// Exact match per source group: group → (correct, answers).
pub fn by_source(items: &[EvalItem], a: &Answers) -> BTreeMap<String, (usize, usize)> {
    let mut m: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (it, &c) in items.iter().zip(&a.correct) {
        let g = it.source.split('/').next().unwrap_or("").to_string();
        let e = m.entry(g).or_default();
        e.0 += c as usize;
        e.1 += 1;
    }
    m
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: PathBuf,
    pub items: usize,
    /// "greedy", or the sampling settings and the samples per item.
    pub decoding: String,
    /// Answers judged: items × samples.
    pub answers: usize,
    pub exact_match: f64,
    /// Exact match per source group: (correct, answers).
    pub exact_match_by_source: BTreeMap<String, (usize, usize)>,
    pub kl_to_reference: Option<f64>,
    pub reward: Option<PathBuf>,
    pub mean_reward: Option<f64>,
    pub against_mean_reward: Option<f64>,
    pub against_exact_match_by_source: Option<BTreeMap<String, (usize, usize)>>,
    /// (wins, losses, ties) of --model over --against by the reward model's scores.
    pub reward_wins_losses_ties: Option<(usize, usize, usize)>,
    pub reward_win_rate: Option<f64>,
    pub against: Option<PathBuf>,
    pub against_exact_match: Option<f64>,
    /// (wins, losses, ties) of --model over --against by the checkers.
    pub checker_wins_losses_ties: Option<(usize, usize, usize)>,
    pub checker_win_rate: Option<f64>,
}

/// A checkable held-out item: the conversation up to its last user turn and the check.
#[derive(Clone, Debug)]
pub struct EvalItem {
    pub messages: Vec<Message>,
    pub check: crate::train::checkers::Check,
    /// `meta.source` ("computed/add"), empty when absent.
    pub source: String,
}

impl EvalItem {
    /// The last user turn.
    pub fn question(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map_or("", |m| m.content.as_str())
    }
}

/// The checkable items of an eval file whose source starts with `source` (all when None);
/// with `limit`, that many spread evenly over them (item ⌊i·n/limit⌋ for i < limit).
pub fn checkable(
    items: &[SftExample],
    limit: Option<usize>,
    source: Option<&str>,
) -> Vec<EvalItem> {
    let all: Vec<EvalItem> = items
        .iter()
        .filter_map(|ex| {
            let c = ex.check.clone()?;
            let last = ex.messages.iter().rposition(|m| m.role == "assistant")?;
            let src = ex
                .meta
                .as_ref()
                .and_then(|m| m["source"].as_str())
                .unwrap_or("")
                .to_string();
            Some(EvalItem {
                messages: ex.messages[..last].to_vec(),
                check: c,
                source: src,
            })
        })
        .filter(|it| source.is_none_or(|s| it.source.starts_with(s)))
        .collect();
    match limit {
        Some(k) if k < all.len() => {
            let n = all.len();
            (0..k).map(|i| all[i * n / k].clone()).collect()
        }
        _ => all,
    }
}

/// Answers of `chat` to `items` (answer k with seed `sp.seed + k`), judged by the checkers.
pub fn answer_all(chat: &ChatModel, items: &[EvalItem], sp: &SamplingParams) -> Result<Answers> {
    let mut sp = sp.clone();
    let seed = sp.seed;
    let mut a = Answers {
        texts: vec![],
        correct: vec![],
        scores: vec![],
        tokens: vec![],
    };
    for (k, it) in items.iter().enumerate() {
        sp.seed = seed.wrapping_add(k as u64);
        let (msgs, c) = (&it.messages, &it.check);
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

/// Runs `tinychat eval chat`: prints the report (text, or JSON) and returns it.
pub fn run(args: &EvalChatOptions) -> Result<EvalReport> {
    let sampled = args.temperature > 0.0;
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "--temperature must be 0 (greedy) or positive (got {})",
            args.temperature
        )));
    }
    if args.samples == 0 || (args.samples > 1 && !sampled) {
        return Err(Error::InvalidArgument(format!(
            "--samples {} needs --temperature above 0 (greedy answers are all the same), and must be positive",
            args.samples
        )));
    }
    let sp = SamplingParams {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        seed: args.seed,
        max_new_tokens: args.max_new_tokens,
        ..Default::default()
    };
    let decoding = if sampled {
        format!(
            "sampled: temperature {}, top-k {}, top-p {}, {} per item, seeds from {}",
            args.temperature, args.top_k, args.top_p, args.samples, args.seed
        )
    } else {
        "greedy".to_string()
    };
    let items = checkable(
        &read_sft_jsonl(&args.data)?,
        args.limit,
        args.source.as_deref(),
    );
    if items.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} has no checkable items (with \"check\"){}",
            args.data.display(),
            args.source
                .as_ref()
                .map_or(String::new(), |s| format!(" from source {s:?}"))
        )));
    }
    let rm = args
        .reward
        .as_ref()
        .map(|r| RewardModel::load(r))
        .transpose()?;
    // Sample j of item i is answer i·N + j.
    let items: Vec<EvalItem> = items
        .iter()
        .flat_map(|it| std::iter::repeat_n(it.clone(), args.samples))
        .collect();
    let chat = ChatModel::load(model_dir(&args.model))?;
    let mut mine = answer_all(&chat, &items, &sp)?;
    if let Some(rm) = &rm {
        mine.score(rm, &items)?;
    }
    if args.verbose {
        for (i, it) in items.iter().enumerate() {
            let sc = mine
                .scores
                .get(i)
                .map_or(String::new(), |s| format!(" [{s:.2}]"));
            eprintln!(
                "{}{sc} {:?} -> {:?}",
                if mine.correct[i] { "ok " } else { "BAD" },
                it.question(),
                mine.texts[i]
            );
        }
    }
    let mut report = EvalReport {
        model: args.model.clone(),
        items: items.len() / args.samples,
        decoding,
        answers: items.len(),
        exact_match: mine.accuracy(),
        exact_match_by_source: by_source(&items, &mine),
        kl_to_reference: None,
        reward: args.reward.clone(),
        mean_reward: rm.as_ref().map(|_| mine.mean_score()),
        against: args.against.clone(),
        against_exact_match: None,
        against_exact_match_by_source: None,
        against_mean_reward: None,
        checker_wins_losses_ties: None,
        checker_win_rate: None,
        reward_wins_losses_ties: None,
        reward_win_rate: None,
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
        let mut theirs = answer_all(&other, &items, &sp)?;
        let wlt = wins_losses_ties(&mine.correct, &theirs.correct, |x, y| *x && !*y);
        report.against_exact_match = Some(theirs.accuracy());
        report.against_exact_match_by_source = Some(by_source(&items, &theirs));
        report.checker_wins_losses_ties = Some(wlt);
        report.checker_win_rate = Some(win_rate(wlt));
        if let Some(rm) = &rm {
            theirs.score(rm, &items)?;
            let wlt = wins_losses_ties(&mine.scores, &theirs.scores, |x, y| x > y);
            report.against_mean_reward = Some(theirs.mean_score());
            report.reward_wins_losses_ties = Some(wlt);
            report.reward_win_rate = Some(win_rate(wlt));
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", format_report(&report));
    }
    Ok(report)
}

fn fmt_groups(g: &BTreeMap<String, (usize, usize)>) -> String {
    g.iter()
        .map(|(k, (c, n))| {
            format!(
                "{} {c}/{n} = {:.3}",
                if k.is_empty() { "other" } else { k },
                *c as f64 / (*n).max(1) as f64
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The human-readable report.
pub fn format_report(r: &EvalReport) -> String {
    let mut out = format!(
        "{}: exact match {:.3} on {} checkable held-out items, {} ({})\n",
        r.model.display(),
        r.exact_match,
        r.items,
        r.decoding,
        fmt_groups(&r.exact_match_by_source)
    );
    if let Some(s) = r.mean_reward {
        out += &format!("mean reward-model score: {s:.4}\n");
    }
    if let Some(k) = r.kl_to_reference {
        out += &format!("KL to the reference: {k:.4} nats per answer\n");
    }
    if let (Some(b), Some(acc), Some(g)) = (
        &r.against,
        r.against_exact_match,
        &r.against_exact_match_by_source,
    ) {
        out += &format!("{}: exact match {acc:.3} ({})", b.display(), fmt_groups(g));
        if let Some(s) = r.against_mean_reward {
            out += &format!(", mean reward-model score {s:.4}");
        }
        out += "\n";
    }
    if let (Some(b), Some((w, l, t)), Some(rate)) =
        (&r.against, r.checker_wins_losses_ties, r.checker_win_rate)
    {
        out += &format!(
            "by the checkers {} over {}: wins {w}, loses {l}, ties {t}: win rate {rate:.3}\n",
            r.model.display(),
            b.display()
        );
    }
    if let (Some(b), Some((w, l, t)), Some(rate)) =
        (&r.against, r.reward_wins_losses_ties, r.reward_win_rate)
    {
        out += &format!(
            "by the reward model {} over {}: wins {w}, loses {l}, ties {t}: win rate {rate:.3}\n",
            r.model.display(),
            b.display()
        );
    }
    out
}

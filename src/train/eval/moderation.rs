//! `tinychat eval moderation`: per-category precision, recall and F1 of a classifier at its
//! thresholds, the benign false-positive rate, and the worst mistakes, scored through the
//! [`Moderator`] (normalisation and windows included) as users run it.

use super::prf;
use crate::error::{Error, Result};
use crate::moderation::Moderator;
use crate::train::moderation_data::{read_jsonl, Example, CATEGORIES};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// One category's numbers on an evaluation file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CategoryMetrics {
    pub category: String,
    pub positives: usize,
    pub flagged: usize,
    pub true_positives: usize,
    pub precision: f32,
    pub recall: f32,
    pub f1: f32,
    pub threshold: f32,
}

/// `tinychat eval moderation`'s report.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EvalReport {
    pub data: String,
    pub examples: usize,
    pub categories: Vec<CategoryMetrics>,
    /// Mean F1 over the categories with at least one positive example in the file.
    pub macro_f1: f32,
    pub macro_categories: usize,
    /// Examples with no label set, and how many of them any category flagged.
    pub benign: usize,
    pub benign_flagged: usize,
    pub false_positive_rate: f32,
    /// Examples with some label set, and how many of them any category flagged.
    pub harmful: usize,
    pub harmful_flagged: usize,
    pub wall_s: f64,
}

/// Scores every text with the moderator (normalisation and windows included), in parallel.
/// Returns (n, L) probabilities.
pub fn score_all(m: &Moderator, texts: &[&str]) -> Result<Vec<f32>> {
    let rows: Vec<Vec<f32>> = texts
        .par_iter()
        .map(|t| m.scores(t))
        .collect::<Result<_>>()?;
    Ok(rows.concat())
}

/// Evaluates a moderator on labeled examples. The moderator's labels must be categories of the
/// data set.
pub fn evaluate(m: &Moderator, examples: &[Example], data_name: &str) -> Result<EvalReport> {
    Ok(evaluate_scored(m, examples, data_name)?.0)
}

/// [`evaluate`], also returning the (n, L) scores it computed.
pub fn evaluate_scored(
    m: &Moderator,
    examples: &[Example],
    data_name: &str,
) -> Result<(EvalReport, Vec<f32>)> {
    let t0 = Instant::now();
    let labels = m.labels().to_vec();
    for l in &labels {
        if !CATEGORIES.contains(&l.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "the classifier's label {l:?} is not a moderation category ({})",
                CATEGORIES.join(", ")
            )));
        }
    }
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let scores = score_all(m, &texts)?;
    let report = report_scored(m, examples, &scores, data_name, t0);
    Ok((report, scores))
}

/// The report on `examples` from their (n, L) `scores` (see [`evaluate`]); `t0` starts the
/// wall time.
pub(crate) fn report_scored(
    m: &Moderator,
    examples: &[Example],
    scores: &[f32],
    data_name: &str,
    t0: Instant,
) -> EvalReport {
    let labels = m.labels().to_vec();
    let nl = labels.len();
    // Flags as the pipeline sees them (implied parents included).
    let flags = m.flags(scores);
    let mut categories = Vec::with_capacity(nl);
    for (j, name) in labels.iter().enumerate() {
        let (mut tp, mut fp, mut fneg) = (0, 0, 0);
        for (i, e) in examples.iter().enumerate() {
            match (flags[i * nl + j], e.has(name)) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fneg += 1,
                _ => {}
            }
        }
        let (p, r, f) = prf(tp, fp, fneg);
        categories.push(CategoryMetrics {
            category: name.clone(),
            positives: tp + fneg,
            flagged: tp + fp,
            true_positives: tp,
            precision: p,
            recall: r,
            f1: f,
            threshold: m.thresholds[j],
        });
    }
    let scored: Vec<&CategoryMetrics> = categories.iter().filter(|c| c.positives > 0).collect();
    let macro_f1 = if scored.is_empty() {
        0.0
    } else {
        scored.iter().map(|c| c.f1).sum::<f32>() / scored.len() as f32
    };
    let any = |i: usize| flags[i * nl..(i + 1) * nl].iter().any(|&f| f);
    let benign: Vec<usize> = (0..examples.len())
        .filter(|&i| examples[i].is_benign())
        .collect();
    let benign_flagged = benign.iter().filter(|&&i| any(i)).count();
    let harmful = examples.len() - benign.len();
    let harmful_flagged = (0..examples.len())
        .filter(|&i| !examples[i].is_benign() && any(i))
        .count();
    EvalReport {
        data: data_name.into(),
        examples: examples.len(),
        macro_categories: scored.len(),
        categories,
        macro_f1,
        benign: benign.len(),
        benign_flagged,
        false_positive_rate: benign_flagged as f32 / benign.len().max(1) as f32,
        harmful,
        harmful_flagged,
        wall_s: t0.elapsed().as_secs_f64(),
    }
}

/// The worst mistakes per category, for reading: the `k` positives with the lowest scores
/// that were missed and the `k` negatives with the highest scores that flagged.
/// Flags are counted as in the report (a flagged sub-category flags its parents).
pub fn worst_errors(m: &Moderator, examples: &[Example], scores: &[f32], k: usize) -> String {
    let nl = m.labels().len();
    let flags = m.flags(scores);
    let mut s = String::new();
    for (j, name) in m.labels().iter().enumerate() {
        let th = m.thresholds[j];
        let sc = |i: usize| scores[i * nl + j];
        let flagged = |i: usize| flags[i * nl + j];
        let mut missed: Vec<usize> = (0..examples.len())
            .filter(|&i| examples[i].has(name) && !flagged(i))
            .collect();
        missed.sort_by(|&a, &b| sc(a).total_cmp(&sc(b)));
        let mut wrong: Vec<usize> = (0..examples.len())
            .filter(|&i| !examples[i].has(name) && flagged(i))
            .collect();
        wrong.sort_by(|&a, &b| sc(b).total_cmp(&sc(a)));
        if missed.is_empty() && wrong.is_empty() {
            continue;
        }
        s += &format!(
            "{name} (threshold {th:.3}): {} missed, {} false alarms\n",
            missed.len(),
            wrong.len()
        );
        let show = |i: usize| {
            let e = &examples[i];
            let t: String = e.text.chars().take(100).collect();
            let tag = if e.template.is_empty() {
                e.source.clone()
            } else {
                e.template.clone()
            };
            format!("{:.3}  {t:?}  [{tag}]", sc(i))
        };
        for &i in missed.iter().take(k) {
            s += &format!("  missed       {}\n", show(i));
        }
        for &i in wrong.iter().take(k) {
            s += &format!("  false alarm  {}\n", show(i));
        }
    }
    s
}

impl EvalReport {
    /// The report as a text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{}: {} examples ({} benign, {} harmful)\n{:<24} {:>6} {:>7} {:>9} {:>7} {:>7} {:>9}\n",
            self.data,
            self.examples,
            self.benign,
            self.harmful,
            "category",
            "pos",
            "flagged",
            "precision",
            "recall",
            "F1",
            "threshold"
        );
        for c in &self.categories {
            let f = |x: f32| {
                if c.positives == 0 {
                    "-".to_string()
                } else {
                    format!("{x:.3}")
                }
            };
            s += &format!(
                "{:<24} {:>6} {:>7} {:>9} {:>7} {:>7} {:>9.3}\n",
                c.category,
                c.positives,
                c.flagged,
                if c.flagged == 0 && c.positives == 0 {
                    "-".into()
                } else {
                    format!("{:.3}", c.precision)
                },
                f(c.recall),
                f(c.f1),
                c.threshold
            );
        }
        s += &format!(
            "macro F1 {:.3} (over the {} categories with positives)\nfalse-positive rate on benign {:.2}% ({}/{})\nharmful flagged by some category {:.2}% ({}/{})\n",
            self.macro_f1,
            self.macro_categories,
            100.0 * self.false_positive_rate,
            self.benign_flagged,
            self.benign,
            100.0 * self.harmful_flagged as f32 / self.harmful.max(1) as f32,
            self.harmful_flagged,
            self.harmful
        );
        s
    }
}

/// `tinychat eval moderation`, option for option.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EvalModerationOptions {
    /// Classifier directory (config.json with id2label, model.safetensors, tokenizer.json,
    /// thresholds.json).
    pub model: PathBuf,
    /// Labeled JSONL files: {"text": ..., "labels": {"hate": 1, ...}} per line.
    pub data: Vec<PathBuf>,
    /// Print JSON (one report per data file, in an array) instead of tables.
    pub json: bool,
    /// Also print the N worst misses and false alarms of every category (with the table).
    pub show_errors: usize,
}

/// Runs `tinychat eval moderation`; returns the reports it printed.
pub fn run(args: &EvalModerationOptions) -> Result<Vec<EvalReport>> {
    if args.data.is_empty() {
        return Err(Error::InvalidArgument(
            "pass --data FILE.jsonl, e.g. --data data/moderation/test.jsonl".into(),
        ));
    }
    let m = Moderator::load(&args.model)?;
    let mut reports = vec![];
    for path in &args.data {
        let ex = read_jsonl(path)?;
        if ex.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{}: no examples",
                path.display()
            )));
        }
        let (r, scores) = evaluate_scored(&m, &ex, &path.display().to_string())?;
        if !args.json {
            println!("{}", r.table());
            if args.show_errors > 0 {
                println!("{}", worst_errors(&m, &ex, &scores, args.show_errors));
            }
        }
        reports.push(r);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("reports serialise")
        );
    }
    Ok(reports)
}

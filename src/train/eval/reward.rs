//! `tinychat eval reward`: pairwise accuracy of a saved reward model on ranked answers, broken
//! down by source, by family and by the ranks compared, with the worst-ordered pairs.

use crate::error::{Error, Result};
use crate::train::reward::{encode_pair, RewardModel};
use crate::train::sft_data::{read_ranked_jsonl, RankedExample};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `tinychat eval reward`, option for option.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalRewardOptions {
    /// The reward model: a run directory (its checkpoint/) or a model directory.
    pub model: PathBuf,
    /// Ranked answers, best first ({"prompt", "responses"} or TRL's {"prompt", "chosen",
    /// "rejected"}). Default data/sft/ranked_eval.jsonl.
    pub data: PathBuf,
    /// Print the report as JSON.
    pub json: bool,
    /// Also print the N pairs ordered worst (most negative margin), with the table. Default 0.
    pub show_errors: usize,
}

impl EvalRewardOptions {
    /// The defaults, for the reward model in `model`.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        EvalRewardOptions {
            model: model.into(),
            data: "data/sft/ranked_eval.jsonl".into(),
            json: false,
            show_errors: 0,
        }
    }
}

/// One pair the model ordered wrong: the better answer scored `margin` above the worse (≤ 0;
/// a tie counts as wrong).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairError {
    pub prompt: String,
    pub better: String,
    pub worse: String,
    /// "1>3": the ranks compared
    pub ranks: String,
    pub source: String,
    pub margin: f32,
}

/// Pairs ordered right out of all pairs, and the mean margin r_better − r_worse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairCount {
    pub right: usize,
    pub pairs: usize,
    pub mean_margin: f64,
}

impl PairCount {
    fn add(&mut self, margin: f32) {
        self.right += (margin > 0.0) as usize;
        self.mean_margin += (margin as f64 - self.mean_margin) / (self.pairs + 1) as f64;
        self.pairs += 1;
    }
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.pairs.max(1) as f64
    }
}

/// What `tinychat eval reward` reports: every pair (i < j) of each ranking counts once, ties as
/// wrong, as in training's held-out accuracy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardEvalReport {
    pub data: PathBuf,
    pub rankings: usize,
    /// Rankings left out because an answer does not fit the model's context (counted, not scored).
    /// Training skips at its `--seq-len` (the context by default), so a run trained with a
    /// shorter one scored fewer rankings than this.
    pub skipped_too_long: usize,
    pub all: PairCount,
    /// By `meta.source` ("quiz/capital"), and by its family before the first '/' ("quiz").
    pub by_source: std::collections::BTreeMap<String, PairCount>,
    pub by_family: std::collections::BTreeMap<String, PairCount>,
    /// By the ranks compared, "1>2" (best against second) … "4>5"; K-wise rankings of different K
    /// share the labels of their positions.
    pub by_ranks: std::collections::BTreeMap<String, PairCount>,
    /// The `show_errors` worst-ordered pairs, worst first.
    pub worst: Vec<PairError>,
}

impl RewardEvalReport {
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} rankings ({} skipped: an answer longer than the context), {} pairs",
            self.data.display(),
            self.rankings,
            self.skipped_too_long,
            self.all.pairs
        );
        let _ = writeln!(
            s,
            "pairwise accuracy {:.4} ({}/{}), mean margin {:.3}",
            self.all.accuracy(),
            self.all.right,
            self.all.pairs,
            self.all.mean_margin
        );
        for (title, map) in [
            ("family", &self.by_family),
            ("source", &self.by_source),
            ("ranks", &self.by_ranks),
        ] {
            let _ = writeln!(
                s,
                "\n{title:<28} {:>6} {:>9} {:>7}",
                "pairs", "accuracy", "margin"
            );
            for (k, c) in map {
                let _ = writeln!(
                    s,
                    "{k:<28} {:>6} {:>9.3} {:>7.3}",
                    c.pairs,
                    c.accuracy(),
                    c.mean_margin
                );
            }
        }
        if !self.worst.is_empty() {
            let _ = writeln!(s, "\nworst-ordered pairs:");
            let cut = |t: &str| t.chars().take(70).collect::<String>().replace('\n', " ");
            for e in &self.worst {
                let _ = writeln!(
                    s,
                    "  {:>7.3} {} [{}] {:?}\n          better {:?}\n          worse  {:?}",
                    e.margin,
                    e.ranks,
                    e.source,
                    cut(&e.prompt),
                    cut(&e.better),
                    cut(&e.worse)
                );
            }
        }
        s
    }
}

/// Scores every answer of `examples` with `rm` and counts the pairs; keeps the `show_errors`
/// worst-ordered pairs.
pub fn evaluate_rankings(
    rm: &RewardModel,
    examples: &[RankedExample],
    data: &Path,
    show_errors: usize,
) -> Result<RewardEvalReport> {
    use rayon::prelude::*;
    let ctx = rm.model.config.max_seq_len;
    let scored: Vec<Option<Vec<f32>>> = examples
        .par_iter()
        .map(|ex| -> Result<Option<Vec<f32>>> {
            let ids: Vec<Vec<u32>> = ex
                .responses
                .iter()
                .map(|y| encode_pair(&rm.lm, &ex.prompt, y))
                .collect::<Result<_>>()?;
            if ids.iter().any(|s| s.len() > ctx) {
                return Ok(None);
            }
            ids.iter()
                .map(|s| rm.score_tokens(s))
                .collect::<Result<Vec<f32>>>()
                .map(Some)
        })
        .collect::<Result<_>>()?;
    let mut rep = RewardEvalReport {
        data: data.to_path_buf(),
        ..Default::default()
    };
    let mut wrong: Vec<(f32, &RankedExample, usize, usize, String)> = vec![];
    for (ex, r) in examples.iter().zip(&scored) {
        let Some(r) = r else {
            rep.skipped_too_long += 1;
            continue;
        };
        rep.rankings += 1;
        let source = ex
            .meta
            .as_ref()
            .and_then(|m| m.get("source"))
            .and_then(|s| s.as_str())
            .unwrap_or("(none)")
            .to_string();
        let family = source.split('/').next().unwrap_or("").to_string();
        for i in 0..r.len() {
            for j in i + 1..r.len() {
                let m = r[i] - r[j];
                if show_errors > 0 && m <= 0.0 {
                    wrong.push((m, ex, i, j, source.clone()));
                }
                rep.all.add(m);
                rep.by_source.entry(source.clone()).or_default().add(m);
                rep.by_family.entry(family.clone()).or_default().add(m);
                rep.by_ranks
                    .entry(format!("{}>{}", i + 1, j + 1))
                    .or_default()
                    .add(m);
            }
        }
    }
    wrong.sort_by(|a, b| a.0.total_cmp(&b.0));
    rep.worst = wrong
        .into_iter()
        .take(show_errors)
        .map(|(margin, ex, i, j, source)| PairError {
            prompt: ex.prompt.clone(),
            better: ex.responses[i].clone(),
            worse: ex.responses[j].clone(),
            ranks: format!("{}>{}", i + 1, j + 1),
            source,
            margin,
        })
        .collect();
    Ok(rep)
}

/// Runs `tinychat eval reward`: prints the report (a table, or JSON) and returns it.
pub fn run(args: &EvalRewardOptions) -> Result<RewardEvalReport> {
    let rm = RewardModel::load(&args.model)?;
    let examples = read_ranked_jsonl(&args.data)?;
    let rep = evaluate_rankings(&rm, &examples, &args.data, args.show_errors)?;
    if rep.all.pairs == 0 {
        return Err(Error::InvalidArgument(format!(
            "{}: no ranking to score ({} read, {} with an answer longer than the model's context of {} tokens)",
            args.data.display(),
            examples.len(),
            rep.skipped_too_long,
            rm.model.config.max_seq_len
        )));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rep).map_err(|e| Error::Other(e.to_string()))?
        );
    } else {
        print!("{}", rep.table());
    }
    Ok(rep)
}

//! The moderation classifier's thresholds, calibrated on labeled validation scores, by one of
//! two rules, both within a benign budget (the fraction of the benign validation texts, those
//! with no category positive, that some category flags):
//!
//! - for a precision ([`calibrate_all`], `--target-precision`, 0.9 by default on both routes):
//!   every category gets the lowest score threshold whose precision reaches the target (most
//!   recall at that precision), or the best-F1 threshold when no threshold reaches it; while
//!   more than the budget is flagged, the category that flags the most benign texts has its
//!   target precision raised by 0.005 and is calibrated again (the others keep theirs);
//! - for F1 ([`calibrate_f1_all`], a moderation head's `--calibration f1`): every category
//!   starts at its best-F1 threshold; while more than the budget is flagged, the category whose
//!   next move costs the least F1 per benign text it stops flagging rises past its lowest
//!   flagged one.
//!
//! A text is flagged for a category when its score is at least the threshold; a NaN score
//! flags nothing. [`calibrate_val`] takes its scores from [`Moderator`], the inference path, so
//! the thresholds fit what users run.

use super::moderation::{report_scored, score_all};
use super::prf;
use crate::config::ModelConfig;
use crate::error::Result;
use crate::model::Model;
use crate::moderation::{Moderator, Thresholds};
use crate::params::Params;
use crate::tokenizer::Tokenizer;
use crate::train::moderation_data::{Example, CATEGORIES};
use crate::weights::DType;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The fraction of benign texts (no category positive) flagged by some category: `scores` is
/// (N, L) row-major, `positive` (N, L).
pub fn benign_fpr(scores: &[f32], positive: &[bool], thresholds: &[f32]) -> f32 {
    let nl = thresholds.len();
    let (mut benign, mut flagged) = (0usize, 0usize);
    for (s, p) in scores.chunks(nl).zip(positive.chunks(nl)) {
        if p.iter().any(|&x| x) {
            continue;
        }
        benign += 1;
        flagged += s.iter().zip(thresholds).any(|(x, t)| x >= t) as usize;
    }
    flagged as f32 / benign.max(1) as f32
}

/// Each of the `nl` categories' column of (N, L) row-major `scores` and `positive`, and the
/// benign rows (no category positive).
#[allow(clippy::type_complexity)]
fn columns(
    scores: &[f32],
    positive: &[bool],
    nl: usize,
) -> (Vec<(Vec<f32>, Vec<bool>)>, Vec<usize>) {
    let n = scores.len() / nl;
    let cols = (0..nl)
        .map(|j| {
            (
                (0..n).map(|i| scores[i * nl + j]).collect(),
                (0..n).map(|i| positive[i * nl + j]).collect(),
            )
        })
        .collect();
    let benign = (0..n)
        .filter(|&i| !positive[i * nl..(i + 1) * nl].iter().any(|&p| p))
        .collect();
    (cols, benign)
}

/// Every category's threshold (see [`calibrate`]) at `target` precision; then, while the benign
/// false-positive rate on these texts exceeds `max_fpr`, the category that flags the most benign
/// texts (the first on a tie) has its own target raised to the next multiple of 0.005 (up to
/// 0.995) and is calibrated again; the others keep theirs. A raise past the precision the
/// category can reach is refused (its best-F1 fallback could flag more) and the category stops
/// rising. Raising every category together costs the categories that flag no benign text their
/// recall for nothing. Returns the
/// calibrations (each with the target it was calibrated for), the highest target used and the
/// benign FPR they give: the first state within the budget, or, when none is (a category that
/// cannot reach a target falls back to its best-F1 threshold, so a higher target can flag more),
/// the state with the lowest FPR, the earliest on a tie. `scores` and `positive` are (N, L)
/// row-major in `categories` order.
pub fn calibrate_all(
    categories: &[&str],
    scores: &[f32],
    positive: &[bool],
    target: f32,
    max_fpr: f32,
) -> (Vec<Calibration>, f32, f32) {
    let nl = categories.len();
    let (cols, benign) = columns(scores, positive, nl);
    let at = |j: usize, t: f32| calibrate(categories[j], &cols[j].0, &cols[j].1, t);
    let mut cal: Vec<Calibration> = (0..nl).map(|j| at(j, target)).collect();
    // After `target` itself, a category's targets are the multiples of 0.005 above it (k / 200),
    // counted in integers; the 1e-3 keeps 0.9f32 · 200 = 179.99999… from trying 0.9 twice.
    let mut next = vec![(target as f64 * 200.0 + 1e-3).floor() as u32 + 1; nl];
    let top = |cal: &[Calibration]| cal.iter().map(|c| c.target).fold(target, f32::max);
    let mut best: Option<(Vec<Calibration>, f32)> = None;
    loop {
        let th: Vec<f32> = cal.iter().map(|c| c.threshold).collect();
        let fpr = benign_fpr(scores, positive, &th);
        if fpr <= max_fpr {
            let t = top(&cal);
            return (cal, t, fpr);
        }
        if best.as_ref().is_none_or(|b| fpr < b.1) {
            best = Some((cal.clone(), fpr));
        }
        // The benign texts each category flags; the one flagging most (that can still rise).
        let raise = (0..nl)
            .filter(|&j| next[j] <= 199)
            .map(|j| {
                let flags = benign
                    .iter()
                    .filter(|&&i| scores[i * nl + j] >= th[j])
                    .count();
                (j, flags)
            })
            .filter(|&(_, flags)| flags > 0)
            .fold(None, |acc: Option<(usize, usize)>, (j, f)| match acc {
                Some((_, bf)) if bf >= f => acc,
                _ => Some((j, f)),
            });
        let Some((j, _)) = raise else {
            let (cal, fpr) = best.expect("one state was tried");
            let t = top(&cal);
            return (cal, t, fpr);
        };
        // A target past what the category can reach falls back to its best-F1 threshold, which
        // can sit lower and flag more: such a step is refused, and a category whose target is
        // out of reach (or that has no positives) is not raised again.
        let raised = at(j, next[j] as f32 / 200.0);
        let reachable = raised.method == "target_precision";
        if raised.threshold >= cal[j].threshold {
            cal[j] = raised;
        }
        next[j] = if reachable { next[j] + 1 } else { 200 };
    }
}

/// Thresholds for macro F1 within a benign budget: every category starts at its best-F1
/// threshold; then, while more than `max_fpr` of the benign texts (no category positive) are
/// flagged, one category rises to its best-F1 threshold among the scores above the lowest
/// benign score it flags: the category whose move costs the least F1 per benign text it stops
/// flagging (texts only it flagged; a move that frees none counts half a text), the first on a
/// tie. A category with no score above that benign one cannot move (thresholds stay in [0, 1]);
/// when none can, the state is returned over budget. Each move unflags at least one benign text
/// of that category, so the loop ends. A precision target ([`calibrate_all`]) instead gives up
/// recall wherever a few texts of a neighbouring category score high (measured on SmolLM2's
/// head: a harassment threshold of 0.99999 for recall 0.07, where precision 0.88 came with
/// recall 0.68). Returns the calibrations (method `best_f1`, target 0; `no_positives` for a
/// category without positives that never moved) and the benign FPR they give. `scores` and
/// `positive` are (N, L) row-major.
pub fn calibrate_f1_all(
    categories: &[&str],
    scores: &[f32],
    positive: &[bool],
    max_fpr: f32,
) -> (Vec<Calibration>, f32) {
    let nl = categories.len();
    let (cols, benign) = columns(scores, positive, nl);
    // Each category's thresholds, from the highest down, swept once: the thresholds above a
    // score are a prefix of them.
    let sweeps: Vec<_> = cols.iter().map(|(s, p)| sweep(s, p)).collect();
    let npos: Vec<usize> = cols
        .iter()
        .map(|(_, p)| p.iter().filter(|&&x| x).count())
        .collect();
    let at = |j: usize, above: Option<f32>| {
        let above = sweeps[j].partition_point(|t| above.is_none_or(|a| t.0 > a));
        best_f1(categories[j], &sweeps[j][..above], npos[j])
    };
    let mut cal: Vec<Calibration> = (0..nl)
        .map(|j| match (npos[j], at(j, None)) {
            (1.., Some(c)) => c,
            _ => calibrate(categories[j], &cols[j].0, &cols[j].1, 0.0),
        })
        .collect();
    loop {
        let th: Vec<f32> = cal.iter().map(|c| c.threshold).collect();
        let fpr = benign_fpr(scores, positive, &th);
        if fpr <= max_fpr {
            return (cal, fpr);
        }
        // How many categories flag each benign text.
        let flags: Vec<usize> = benign
            .iter()
            .map(|&i| (0..nl).filter(|&j| scores[i * nl + j] >= th[j]).count())
            .collect();
        let mut best: Option<(f32, usize, Calibration)> = None;
        for j in 0..nl {
            let lowest = benign
                .iter()
                .map(|&i| scores[i * nl + j])
                .filter(|&s| s >= th[j])
                .min_by(f32::total_cmp);
            let Some(lowest) = lowest else { continue };
            let Some(moved) = at(j, Some(lowest)) else {
                continue;
            };
            let freed = benign
                .iter()
                .zip(&flags)
                .filter(|&(&i, &f)| {
                    let s = scores[i * nl + j];
                    f == 1 && s >= th[j] && s < moved.threshold
                })
                .count();
            let cost = (cal[j].f1 - moved.f1) / (freed as f32).max(0.5);
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, j, moved));
            }
        }
        let Some((_, j, moved)) = best else {
            return (cal, fpr);
        };
        cal[j] = moved;
    }
}

/// The threshold with the best F1 among the thresholds of `sweep` (a prefix of [`sweep`]'s,
/// for a category with `npos` positives), the highest on a tie; `None` when it is empty.
fn best_f1(
    category: &str,
    sweep: &[(f32, usize, (f32, f32, f32))],
    npos: usize,
) -> Option<Calibration> {
    let mut best: Option<&(f32, usize, (f32, f32, f32))> = None;
    for t in sweep {
        if best.is_none_or(|b| t.2 .2 > b.2 .2) {
            best = Some(t);
        }
    }
    best.map(|&(threshold, _, m)| Calibration::new(category, threshold, m, npos, "best_f1", 0.0))
}

/// Every distinct score, from the highest down, as a threshold (every text with that score
/// flags together), with the true positives and the (precision, recall, F1) of flagging at it.
/// A NaN score flags nothing, so it is never a threshold.
fn sweep(scores: &[f32], positive: &[bool]) -> Vec<(f32, usize, (f32, f32, f32))> {
    let npos = positive.iter().filter(|&&p| p).count();
    let mut idx: Vec<usize> = (0..scores.len()).filter(|&i| !scores[i].is_nan()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut out = vec![];
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        while i < idx.len() && scores[idx[i]] == s {
            if positive[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push((s, tp, prf(tp, fp, npos - tp)));
    }
    out
}

/// One category's calibrated threshold and its validation numbers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    pub category: String,
    pub threshold: f32,
    pub precision: f32,
    pub recall: f32,
    pub f1: f32,
    pub positives: usize,
    /// `target_precision`, `best_f1` (the F1 rule, or a target out of reach) or `no_positives`
    /// (0.5 kept).
    pub method: String,
    /// The precision this category was calibrated for (see [`calibrate_all`]).
    #[serde(default)]
    pub target: f32,
}

impl Calibration {
    /// A category's threshold with the (precision, recall, F1) `m` it gives.
    fn new(
        category: &str,
        threshold: f32,
        m: (f32, f32, f32),
        positives: usize,
        method: &str,
        target: f32,
    ) -> Self {
        Calibration {
            category: category.into(),
            threshold,
            precision: m.0,
            recall: m.1,
            f1: m.2,
            positives,
            method: method.into(),
            target,
        }
    }
}

/// Picks the threshold of one category from validation scores (flag when score ≥ threshold):
/// among thresholds whose precision is at least `target`, the one with the most recall; when
/// none reaches the target, the one with the best F1.
pub fn calibrate(category: &str, scores: &[f32], positive: &[bool], target: f32) -> Calibration {
    let npos = positive.iter().filter(|&&p| p).count();
    if npos == 0 {
        return Calibration {
            category: category.into(),
            threshold: 0.5,
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            positives: 0,
            method: "no_positives".into(),
            target,
        };
    }
    let mut best_target: Option<(usize, f32, (f32, f32, f32))> = None; // (tp, thr, prf)
    let mut best_f1: Option<(f32, (f32, f32, f32))> = None;
    for (s, tp, m) in sweep(scores, positive) {
        if m.0 >= target && best_target.is_none_or(|(t0, _, _)| tp > t0) {
            best_target = Some((tp, s, m));
        }
        if best_f1.is_none_or(|(_, b)| m.2 > b.2) {
            best_f1 = Some((s, m));
        }
    }
    let (threshold, m, method) = match (best_target, best_f1) {
        (Some((_, s, m)), _) => (s, m, "target_precision"),
        (None, Some((s, m))) => (s, m, "best_f1"),
        // Every score NaN: nothing can be flagged.
        (None, None) => (1.0, (0.0, 0.0, 0.0), "best_f1"),
    };
    Calibration::new(category, threshold, m, npos, method, target)
}

/// The thresholds calibrated on the whole validation split and what they give there.
pub struct ValCalibration {
    pub calibration: Vec<Calibration>,
    /// The calibrated thresholds by category, as thresholds.json holds them.
    pub thresholds: Thresholds,
    /// The highest target precision used (see [`calibrate_all`]).
    pub target: f32,
    pub benign_fpr: f32,
    /// Macro F1 of the calibrated flags, counted as the pipeline counts them (a flagged
    /// sub-category flags its parents), over the categories with positives.
    pub macro_f1: f32,
}

/// The thresholds over the (N, L) `scores` of labelled `examples` (every category of
/// [`CATEGORIES`]): [`calibrate_all`] at `target_precision` when one is given, else
/// [`calibrate_f1_all`]; both within `max_benign_fpr`. Returns the calibrations, the
/// thresholds as thresholds.json holds them, the highest target used (0 for the F1 rule) and
/// the benign FPR they give.
pub fn calibrate_examples(
    examples: &[Example],
    scores: &[f32],
    target_precision: Option<f32>,
    max_benign_fpr: f32,
) -> (Vec<Calibration>, Thresholds, f32, f32) {
    let positive: Vec<bool> = examples
        .iter()
        .flat_map(|e| CATEGORIES.iter().map(|c| e.has(c)))
        .collect();
    let (calibration, target, benign_fpr) = match target_precision {
        Some(t) => calibrate_all(&CATEGORIES, scores, &positive, t, max_benign_fpr),
        None => {
            let (c, fpr) = calibrate_f1_all(&CATEGORIES, scores, &positive, max_benign_fpr);
            (c, 0.0, fpr)
        }
    };
    let thresholds = calibration
        .iter()
        .map(|c| (c.category.clone(), c.threshold))
        .collect();
    (calibration, thresholds, target, benign_fpr)
}

/// Scores every validation text through the inference path (normalisation, windows) with the
/// trunk and head in `params`, calibrates the thresholds on those scores ([`calibrate_all`] at
/// `target_precision` within `max_benign_fpr`) and measures the result.
pub fn calibrate_val(
    cfg: &ModelConfig,
    params: &Params,
    tok_bytes: &[u8],
    val_ex: &[Example],
    target_precision: f32,
    max_benign_fpr: f32,
) -> Result<ValCalibration> {
    let mut m = Moderator::new(
        Model::new(cfg.clone(), params.clone(), DType::F32),
        Tokenizer::from_bytes(tok_bytes)?,
        None,
    )?;
    let texts: Vec<&str> = val_ex.iter().map(|e| e.text.as_str()).collect();
    let scores = score_all(&m, &texts)?;
    let (calibration, thresholds, target, benign_fpr) =
        calibrate_examples(val_ex, &scores, Some(target_precision), max_benign_fpr);
    m.set_thresholds(&thresholds)?;
    let macro_f1 = report_scored(&m, val_ex, &scores, "val", Instant::now()).macro_f1;
    Ok(ValCalibration {
        calibration,
        thresholds,
        target,
        benign_fpr,
        macro_f1,
    })
}

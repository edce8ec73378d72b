//! Ranked answers whose order is known by construction.
//!
//! For a checkable question (quiz, computed) the ranking is
//!
//! 1. correct and complete — "The capital of France is Paris."
//! 2. correct but terse — "Paris."
//! 3. plausible but wrong — "The capital of France is Madrid." (another row's answer, or a near
//!    miss for computed questions)
//! 4. off-topic — a complete answer to a question from another source
//! 5. rude — a fixed set of dismissive replies
//!
//! and for a chit-chat turn (no terse or wrong form exists) it is corpus reply > off-topic > rude.
//! A reward model trained on these rankings learns exactly these rules: prefer answering to not
//! answering, right to wrong, complete to terse, on-topic to off-topic, polite to rude. It learns
//! nothing about which of two good free-form answers is better.

use super::{pick, rng_for, QaItem, RankedExample, SftDataConfig};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Dismissive replies: the bottom of every ranking.
pub const RUDE: &[&str] = &[
    "That's a stupid question. Look it up yourself.",
    "Figure it out on your own.",
    "Why would I waste my time on that?",
    "Ugh, go away.",
    "Nobody cares. Ask someone else.",
    "Seriously? Even a child knows that. I'm not telling you.",
    "Stop bothering me with this nonsense.",
    "Not my problem.",
];

/// The source family: off-topic answers come from another family.
fn family(source: &str) -> &str {
    source.split('/').next().unwrap_or(source)
}

/// The ranking for `item`, best first, or `None` when two of the responses would coincide.
pub fn rank_responses(item: &QaItem, off_topic: &str, rude: &str) -> Option<Vec<String>> {
    let mut responses = vec![item.answer().to_string()];
    if let (Some(terse), Some(wrong)) = (&item.terse, &item.wrong) {
        responses.push(terse.clone());
        responses.push(wrong.clone());
    }
    responses.push(off_topic.to_string());
    responses.push(rude.to_string());
    let distinct: BTreeSet<String> = responses
        .iter()
        .map(|r| crate::train::checkers::normalize(r))
        .collect();
    (distinct.len() == responses.len() && responses.iter().all(|r| !r.trim().is_empty()))
        .then_some(responses)
}

/// Rankings for a selection of `items`: one per quiz entity and relation, up to
/// `ranked_computed_per_task` per computed task, up to `ranked_chatterbot_max` single-turn chit-chat
/// items. Off-topic answers come from `pool` (so the training rankings only use training items).
pub fn build_rankings(
    items: &[&QaItem],
    pool: &[&QaItem],
    seed: u64,
    split: &str,
    config: &SftDataConfig,
) -> Vec<RankedExample> {
    let mut rng = rng_for(seed, &format!("ranked/{split}"));
    // choose the items to rank
    let mut quiz_groups: BTreeMap<(&str, &[String]), Vec<&QaItem>> = BTreeMap::new();
    let mut per_task: BTreeMap<&str, usize> = BTreeMap::new();
    let mut chosen: Vec<&QaItem> = Vec::new();
    let mut chat = 0;
    for &item in items {
        match family(&item.source) {
            "quiz" => quiz_groups
                .entry((item.source.as_str(), item.entities.as_slice()))
                .or_default()
                .push(item),
            "computed" => {
                let n = per_task.entry(item.source.as_str()).or_default();
                if *n < config.ranked_computed_per_task {
                    *n += 1;
                    chosen.push(item);
                }
            }
            _ => {
                if item.messages.len() == 2 && chat < config.ranked_chatterbot_max {
                    chat += 1;
                    chosen.push(item);
                }
            }
        }
    }
    for group in quiz_groups.values() {
        chosen.push(group[pick(&mut rng, group.len())]);
    }

    let mut by_family: BTreeMap<&str, Vec<&QaItem>> = BTreeMap::new();
    for &p in pool {
        by_family.entry(family(&p.source)).or_default().push(p);
    }
    let mut out = Vec::with_capacity(chosen.len());
    for item in chosen {
        let fam = family(&item.source);
        // another family's answer; in a single-source build, another question's answer
        let families: Vec<&Vec<&QaItem>> = by_family
            .iter()
            .filter(|(f, _)| **f != fam)
            .map(|(_, v)| v)
            .collect();
        let off_topic = if families.is_empty() {
            let same = &by_family[fam];
            let other = same[pick(&mut rng, same.len())];
            if other.prompt() == item.prompt() {
                continue;
            }
            other.answer().to_string()
        } else {
            let f = families[pick(&mut rng, families.len())];
            f[pick(&mut rng, f.len())].answer().to_string()
        };
        let rude = RUDE[pick(&mut rng, RUDE.len())];
        if let Some(responses) = rank_responses(item, &off_topic, rude) {
            out.push(RankedExample {
                prompt: item.prompt().to_string(),
                responses,
                meta: Some(json!({"source": item.source, "template": item.template})),
            });
        }
    }
    out
}

/// Preference pairs from a model's own samples for a checkable prompt, ranked by the exact
/// checker: each pair is (a sample that passes `check`, a sample that fails it). Samples within
/// one side are not ordered against each other — the checker cannot tell them apart — so the
/// result is pairs (rankings of two), not one long ranking. Duplicate samples (after
/// normalisation) are dropped; at most `max_pairs` distinct pairs.
pub fn pairs_by_check(
    prompt: &str,
    samples: &[String],
    check: &crate::train::checkers::Check,
    max_pairs: usize,
) -> Vec<RankedExample> {
    let mut seen = BTreeSet::new();
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for s in samples {
        if s.trim().is_empty() || !seen.insert(crate::train::checkers::normalize(s)) {
            continue;
        }
        if crate::train::checkers::check(s, check) {
            good.push(s.clone());
        } else {
            bad.push(s.clone());
        }
    }
    let n = max_pairs.min(good.len() * bad.len());
    (0..n)
        .map(|k| RankedExample {
            prompt: prompt.to_string(),
            responses: vec![good[k % good.len()].clone(), bad[k / good.len()].clone()],
            meta: Some(json!({"source": "samples/checker"})),
        })
        .collect()
}

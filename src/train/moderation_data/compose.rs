//! Composing sentences and dealing them into splits: the generator's randomness, the held-out
//! deals of templates, frames, core phrases and words, and the filling of slots.
//!
//! Held-out: the frames of every family and the phrases of every pool are dealt into train, val
//! and test (about 70/15/15, at least one each in val and test), and a split composes only its
//! own frames with its own phrases. A test sentence is thus an unseen frame around an unseen
//! core phrase; what it shares with training is vocabulary (verbs, body parts, shared slot
//! fillers).

use super::lexicon::Kind;
use super::tables::{compo_pools, phrase_pool, slot_fillers, tables};
use crate::moderation::normalize::{normalize, skeleton};
use std::collections::{BTreeSet, HashMap, HashSet};

/// SplitMix64: the generator's own deterministic randomness.
pub(super) struct Rng(u64);
impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub(super) fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

pub(super) fn fnv(text: &str, seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Split of a name by hash: 70% train, 15% val, 15% test.
pub(super) fn split_of(key: &str, seed: u64) -> usize {
    match fnv(key, seed) % 100 {
        0..=69 => 0,
        70..=84 => 1,
        _ => 2,
    }
}

/// Deals `n` items into the splits: shuffled, then about 15% to test and 15% to val (at least
/// one each when there are three or more), the rest to train. Returns the split of each item.
pub(super) fn deal(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    let held = if n >= 3 {
        ((n * 15 + 50) / 100).max(1)
    } else {
        0
    };
    let mut out = vec![0; n];
    for (rank, &i) in idx.iter().enumerate() {
        out[i] = if rank < held {
            2
        } else if rank < 2 * held {
            1
        } else {
            0
        };
    }
    out
}

/// The content words of a phrase (slots left out): the cues a held-out phrase must share with
/// training.
pub(super) fn cue_words(phrase: &str) -> Vec<String> {
    let mut plain = phrase.to_string();
    for s in slots(phrase) {
        plain = plain.replace(&format!("{{{s}}}"), " ");
    }
    plain
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| w.len() >= 3 && !tables().cue_stop.iter().any(|s| s == w))
        .map(String::from)
        .collect()
}

/// [`deal`] for a pool of core phrases, with one more rule: a phrase held out (val or test) must
/// share a content word with the pool's training phrases. A held-out phrase is then a new
/// phrasing of vocabulary the classifier has seen ("strangle her" in training, "strangle
/// someone quietly" held out), not a word it has never met; whole phrases stay disjoint between
/// the splits. The held-out phrases are drawn among those that share a content word with another
/// phrase of the pool, about 15% of the pool each for val and test.
pub(super) fn deal_pool(pool: &[String], rng: &mut Rng) -> Vec<usize> {
    let cues: Vec<Vec<String>> = pool.iter().map(|p| cue_words(p)).collect();
    let mut eligible: Vec<usize> = (0..pool.len())
        .filter(|&i| (0..pool.len()).any(|j| j != i && cues[i].iter().any(|w| cues[j].contains(w))))
        .collect();
    rng.shuffle(&mut eligible);
    let held = if pool.len() >= 3 {
        ((pool.len() * 15 + 50) / 100).max(1)
    } else {
        0
    };
    let mut out = vec![0; pool.len()];
    let mut taken = [0usize; 3];
    for &i in &eligible {
        let s = if taken[2] < held {
            2
        } else if taken[1] < held {
            1
        } else {
            break;
        };
        // Held out only if some phrase left in train still shares one of its cues.
        out[i] = s;
        let shared = cues[i]
            .iter()
            .any(|w| (0..pool.len()).any(|j| out[j] == 0 && j != i && cues[j].contains(w)));
        if shared {
            taken[s] += 1;
        } else {
            out[i] = 0;
        }
    }
    // Taking a later phrase out of train can strand an earlier one: put those back.
    loop {
        let stranded = (0..pool.len()).find(|&i| {
            out[i] != 0
                && !cues[i]
                    .iter()
                    .any(|w| (0..pool.len()).any(|j| out[j] == 0 && cues[j].contains(w)))
        });
        match stranded {
            Some(i) => out[i] = 0,
            None => break,
        }
    }
    out
}

pub(super) fn frame(text: &str, rng: &mut Rng) -> String {
    let t = tables();
    let body = format!("{}{}{}", rng.pick(&t.prefixes), text, rng.pick(&t.suffixes));
    if rng.chance(0.3) {
        let mut c = body.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => body,
        }
    } else {
        body
    }
}

/// Slots filled from the split's lexicon words.
pub(super) fn lexicon_slot(slot: &str) -> Option<LexSlot> {
    match slot {
        "insult" => Some(LexSlot::Kind(Kind::Insult)),
        "slur" => Some(LexSlot::Kind(Kind::Slur)),
        "sexword" => Some(LexSlot::Kind(Kind::Sexual)),
        "fp" => Some(LexSlot::FalsePositive),
        "benignword" => Some(LexSlot::SensitiveBenign),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum LexSlot {
    Kind(Kind),
    FalsePositive,
    SensitiveBenign,
}

pub(super) fn slots(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(a) = rest.find('{') {
        let Some(b) = rest[a..].find('}') else { break };
        out.push(&rest[a + 1..a + b]);
        rest = &rest[a + b + 1..];
    }
    out
}

/// Fills a template's slots. Returns the text and the lexicon (and trigger) words used, or
/// `None` when a lexicon slot has no words in this split.
pub(super) fn fill(
    template: &str,
    words: &HashMap<LexSlot, Vec<String>>,
    rng: &mut Rng,
) -> Option<(String, Vec<String>)> {
    let mut text = template.to_string();
    let mut used = Vec::new();
    for slot in slots(template) {
        let value = if let Some(ls) = lexicon_slot(slot) {
            let pool = words.get(&ls).filter(|p| !p.is_empty())?;
            let w = rng.pick(pool).clone();
            used.push(w.clone());
            w
        } else {
            let pool = slot_fillers(slot);
            assert!(!pool.is_empty(), "template slot {{{slot}}} has no fillers");
            rng.pick(pool).to_string()
        };
        text = text.replacen(&format!("{{{slot}}}"), &value, 1);
    }
    Some((text, used))
}

/// Groups lexicon words that contain one another as whole words ("porn" and "hardcore porn"), so
/// a group lands in one split: otherwise a held-out word would be read in a training phrase.
/// Maps each word's skeleton to its group's representative (the smallest skeleton) and whether
/// any member is spelled by the templates' fixed text.
pub(super) fn word_components(words: &[&String]) -> HashMap<String, (String, bool)> {
    let fixed = fixed_text_skeletons();
    let keys: BTreeSet<String> = words.iter().map(|w| skeleton(w)).collect();
    let keys: Vec<String> = keys.into_iter().collect();
    let index: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut parent: Vec<usize> = (0..keys.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, k) in keys.iter().enumerate() {
        let toks: Vec<&str> = k.split(' ').collect();
        if toks.len() < 2 {
            continue;
        }
        for n in 1..toks.len() {
            for w in toks.windows(n) {
                if let Some(&j) = index.get(skeleton(&w.join(" ")).as_str()) {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    // The smaller index (the smaller skeleton) represents the group.
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut any_fixed = vec![false; keys.len()];
    for (i, k) in keys.iter().enumerate() {
        if fixed.contains(k) {
            let r = find(&mut parent, i);
            any_fixed[r] = true;
        }
    }
    (0..keys.len())
        .map(|i| {
            let r = find(&mut parent, i);
            (keys[i].clone(), (keys[r].clone(), any_fixed[r]))
        })
        .collect()
}

/// Skeletons of the one- to three-word phrases in the templates' fixed text, the shared slot
/// fillers and the frames.
pub(super) fn fixed_text_skeletons() -> HashSet<String> {
    let mut texts: Vec<String> = Vec::new();
    // A template's text between its slots, and the fillers of its shared slots.
    let mut add = |t: &str| {
        let mut plain = t.to_string();
        for s in slots(t) {
            plain = plain.replace(&format!("{{{s}}}"), " | ");
        }
        texts.extend(plain.split('|').map(String::from));
        for s in slots(t) {
            texts.extend(slot_fillers(s).iter().map(|f| f.to_string()));
        }
    };
    let tables = tables();
    for g in &tables.groups {
        for t in &g.templates {
            add(t);
        }
    }
    let composed = tables
        .families
        .iter()
        .flat_map(|f| f.frames.iter())
        .chain(compo_pools().into_iter().flat_map(phrase_pool));
    for t in composed {
        add(t);
    }
    texts.extend(tables.prefixes.iter().chain(&tables.suffixes).cloned());
    let mut out = HashSet::new();
    for t in texts {
        let norm = normalize(&t);
        let toks: Vec<&str> = norm
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        for n in 1..=3 {
            for w in toks.windows(n) {
                out.insert(skeleton(&w.join(" ")));
            }
        }
    }
    out
}

/// The lexicon skeletons that occur in an example's text, for checking that splits share none.
pub fn lexicon_skeletons_in(text: &str, lexicon: &HashSet<String>) -> BTreeSet<String> {
    let norm = normalize(text);
    let toks: Vec<&str> = norm
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let mut found = BTreeSet::new();
    // Single words and two- and three-word phrases.
    for n in 1..=3 {
        for w in toks.windows(n) {
            let sk = skeleton(&w.join(" "));
            if lexicon.contains(&sk) {
                found.insert(sk);
            }
        }
    }
    found
}

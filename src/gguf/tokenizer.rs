//! The tokenizer and chat template stored in a GGUF's metadata, rebuilt as a Hugging Face
//! `tokenizer.json` (so the `tokenizers` crate runs it, natively and in wasm, and `convert` can
//! write it out).
//!
//! - `tokenizer.ggml.model` "gpt2": byte-level BPE from `tokenizer.ggml.tokens` (already in
//!   GPT-2's byte-to-unicode spelling) and `tokenizer.ggml.merges` ("left right", best first).
//!   `tokenizer.ggml.pre` names how llama.cpp splits text before BPE (its `llama-vocab.cpp`);
//!   each supported name maps to the same split here:
//!
//!   | pre                                     | split before byte-level BPE                       |
//!   | --------------------------------------- | ------------------------------------------------- |
//!   | gpt-2, mpt, olmo                        | GPT-2's regex                                     |
//!   | smollm, starcoder, refact, codeshell    | every digit alone (`\p{N}`), then GPT-2's regex   |
//!   | llama-bpe, llama3, llama-v3, dbrx, smaug-bpe | Llama 3's regex (digits in runs of ≤ 3); a word that is one token skips the merges (`ignore_merges`, as llama.cpp does for these) |
//!   | qwen2, deepseek-r1-qwen, megrez         | Qwen2's regex (Llama 3's with single digits)      |
//!
//! - `tokenizer.ggml.model` "llama": SentencePiece BPE (`tokenizer.ggml.scores`), with byte
//!   fallback to the `<0xNN>` tokens and "▁" for spaces. Its merges are the pairs of tokens whose
//!   concatenation is a token, best score first (what llama.cpp's SPM tokenizer does, and how
//!   transformers rebuilds them).
//! - Tokens of type 3 (control: `<|im_start|>`) become special added tokens, matched whole in
//!   text and dropped by `decode(skip_special)`; type 4 (user-defined) become plain added tokens,
//!   matched whole and kept in decoded text (llama.cpp prints them, transformers adds them so).
//! - `tokenizer.ggml.add_bos_token` (default: false for gpt2, true for llama) adds BOS through a
//!   post-processor when `encode(text, add_special = true)`.
//! - `tokenizer.chat_template` with the bos/eos token strings is the [`ChatTemplate`].

use super::reader::Gguf;
use crate::error::{Error, Result};
use crate::tokenizer::{ChatTemplate, Tokenizer};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

// GPT-2's regex is the one the `ByteLevel` pre-tokenizer applies with `use_regex`:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How text is split before byte-level BPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PreSplit {
    Gpt2,
    /// Digits alone, then GPT-2's regex.
    Digits,
    Llama3,
    Qwen2,
}

impl PreSplit {
    fn from_name(pre: &str) -> Option<PreSplit> {
        Some(match pre {
            "gpt-2" | "mpt" | "olmo" => PreSplit::Gpt2,
            "smollm" | "starcoder" | "refact" | "codeshell" => PreSplit::Digits,
            "llama-bpe" | "llama3" | "llama-v3" | "dbrx" | "smaug-bpe" => PreSplit::Llama3,
            "qwen2" | "deepseek-r1-qwen" | "megrez" => PreSplit::Qwen2,
            _ => return None,
        })
    }

    fn pre_tokenizer(self) -> Value {
        let byte_level = |use_regex: bool| {
            json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                   "use_regex": use_regex})
        };
        let split = |re: &str| {
            json!({"type": "Split", "pattern": {"Regex": re}, "behavior": "Isolated",
                   "invert": false})
        };
        match self {
            PreSplit::Gpt2 => byte_level(true),
            PreSplit::Digits => json!({"type": "Sequence", "pretokenizers": [
                split(r"\p{N}"), byte_level(true)]}),
            PreSplit::Llama3 => json!({"type": "Sequence", "pretokenizers": [
                split(LLAMA3_SPLIT), byte_level(false)]}),
            PreSplit::Qwen2 => json!({"type": "Sequence", "pretokenizers": [
                split(QWEN2_SPLIT), byte_level(false)]}),
        }
    }
}

/// The pre-tokenizer names [`tokenizer_json`] accepts, for error messages.
const KNOWN_PRE: &str = "gpt-2, mpt, olmo, smollm, starcoder, refact, codeshell, llama-bpe, llama3, llama-v3, dbrx, smaug-bpe, qwen2, deepseek-r1-qwen, megrez";

/// The vocabulary of a GGUF: token strings, types and (SentencePiece) scores.
struct Vocab {
    tokens: Vec<String>,
    types: Vec<i64>,
    scores: Vec<f64>,
}

fn vocab(g: &Gguf) -> Result<Vocab> {
    let tokens = g
        .array("tokenizer.ggml.tokens", "strings", |v| {
            v.as_str().map(str::to_string)
        })?
        .ok_or_else(|| {
            g.err("metadata \"tokenizer.ggml.tokens\" is missing: the file has no tokenizer")
        })?;
    let types = g
        .array("tokenizer.ggml.token_type", "integers", |v| v.as_i64())?
        .unwrap_or_else(|| vec![1; tokens.len()]);
    let scores = g
        .array("tokenizer.ggml.scores", "numbers", |v| v.as_f64())?
        .unwrap_or_default();
    if types.len() != tokens.len() {
        return Err(g.err(format!(
            "tokenizer.ggml.token_type has {} entries for {} tokens",
            types.len(),
            tokens.len()
        )));
    }
    Ok(Vocab {
        tokens,
        types,
        scores,
    })
}

/// The string of token `key` (an id in `tokenizer.ggml.*_token_id`), if set and in range.
fn token_str<'v>(g: &Gguf, tokens: &'v [String], key: &str) -> Result<Option<&'v str>> {
    match g.usize(key)? {
        None => Ok(None),
        Some(i) => tokens.get(i).map(|s| Some(s.as_str())).ok_or_else(|| {
            g.err(format!(
                "{key} is {i}, outside the vocabulary of {} tokens",
                tokens.len()
            ))
        }),
    }
}

/// The Hugging Face `tokenizer.json` for the tokenizer in `g`'s metadata.
pub fn tokenizer_json(g: &Gguf) -> Result<Value> {
    let model = g.req_str("tokenizer.ggml.model").map_err(|_| {
        g.err("metadata \"tokenizer.ggml.model\" is missing: the file has no tokenizer")
    })?;
    let v = vocab(g)?;
    let mut vocab_map = Map::with_capacity(v.tokens.len());
    for (i, t) in v.tokens.iter().enumerate() {
        // A repeated token keeps its first id (the BPE model needs unique strings).
        vocab_map.entry(t.clone()).or_insert(i.into());
    }
    let added: Vec<Value> = v
        .tokens
        .iter()
        .zip(&v.types)
        .enumerate()
        .filter(|(_, (_, &ty))| ty == 3 || ty == 4)
        .map(|(i, (t, &ty))| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": ty == 3})
        })
        .collect();
    let (model_json, normalizer, pre_tokenizer, decoder, add_bos_default) = match model {
        "gpt2" => {
            let pre_name = g.str("tokenizer.ggml.pre")?.ok_or_else(|| {
                g.err(format!(
                    "metadata \"tokenizer.ggml.pre\" is missing, so how llama.cpp splits text for this vocabulary is unknown; tinychat knows {KNOWN_PRE}"
                ))
            })?;
            let pre = PreSplit::from_name(pre_name).ok_or_else(|| {
                g.err(format!(
                    "tokenizer.ggml.pre {pre_name:?} is not supported; tinychat knows {KNOWN_PRE}"
                ))
            })?;
            let merges = g
                .array("tokenizer.ggml.merges", "strings", |v| {
                    v.as_str().map(str::to_string)
                })?
                .ok_or_else(|| g.err("metadata \"tokenizer.ggml.merges\" is missing (a gpt2 tokenizer needs its merges)"))?;
            let merges: Vec<Value> = merges
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    // llama.cpp splits at the first space after the first character.
                    let cut = m
                        .char_indices()
                        .skip(1)
                        .find(|&(_, c)| c == ' ')
                        .map(|(k, _)| k)
                        .ok_or_else(|| {
                            g.err(format!(
                                "tokenizer.ggml.merges[{i}] {m:?} is not two tokens separated by a space"
                            ))
                        })?;
                    Ok(json!([&m[..cut], &m[cut + 1..]]))
                })
                .collect::<Result<_>>()?;
            let bpe = json!({"type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
                "byte_fallback": false, "ignore_merges": pre == PreSplit::Llama3,
                "vocab": vocab_map, "merges": merges});
            let decoder = json!({"type": "ByteLevel", "add_prefix_space": true,
                "trim_offsets": true, "use_regex": true});
            (bpe, Value::Null, pre.pre_tokenizer(), decoder, false)
        }
        "llama" => {
            if v.scores.len() != v.tokens.len() {
                return Err(g.err(format!(
                    "tokenizer.ggml.scores has {} entries for {} tokens (a SentencePiece vocabulary needs one score per token)",
                    v.scores.len(),
                    v.tokens.len()
                )));
            }
            let unk = token_str(g, &v.tokens, "tokenizer.ggml.unknown_token_id")?;
            let bpe = json!({"type": "BPE", "dropout": null, "unk_token": unk,
                "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true,
                "byte_fallback": true, "ignore_merges": false,
                "vocab": vocab_map, "merges": spm_merges(&v.tokens, &v.scores)});
            let prefix = g.bool("tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
            let mut norm = vec![];
            let mut dec = vec![
                json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}),
                json!({"type": "ByteFallback"}),
                json!({"type": "Fuse"}),
            ];
            if prefix {
                norm.push(json!({"type": "Prepend", "prepend": "▁"}));
                dec.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
            }
            norm.push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"}));
            (
                bpe,
                json!({"type": "Sequence", "normalizers": norm}),
                Value::Null,
                json!({"type": "Sequence", "decoders": dec}),
                true,
            )
        }
        other => {
            return Err(g.err(format!(
                "tokenizer.ggml.model {other:?} is not supported; tinychat reads \"gpt2\" (byte-level BPE) and \"llama\" (SentencePiece BPE)"
            )))
        }
    };
    let add_bos = g
        .bool("tokenizer.ggml.add_bos_token")?
        .unwrap_or(add_bos_default);
    let add_eos = g.bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false);
    let bos = token_str(g, &v.tokens, "tokenizer.ggml.bos_token_id")?;
    let eos = token_str(g, &v.tokens, "tokenizer.ggml.eos_token_id")?;
    let post = match (
        add_bos.then_some(bos).flatten(),
        add_eos.then_some(eos).flatten(),
    ) {
        (None, None) if model == "gpt2" => {
            json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false,
                   "use_regex": true})
        }
        (None, None) => Value::Null,
        (b, e) => template_processing(&v.tokens, b, e),
    };
    Ok(json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post,
        "decoder": decoder, "model": model_json
    }))
}

/// A post-processor that puts BOS before and/or EOS after the text.
fn template_processing(tokens: &[String], bos: Option<&str>, eos: Option<&str>) -> Value {
    let id_of = |t: &str| tokens.iter().position(|x| x == t).unwrap_or(0);
    let mut single = vec![];
    let mut pair = vec![];
    let mut specials = Map::new();
    let mut special = |t: &str, type_id: u32| {
        specials.insert(
            t.to_string(),
            json!({"id": t, "ids": [id_of(t)], "tokens": [t]}),
        );
        json!({"SpecialToken": {"id": t, "type_id": type_id}})
    };
    if let Some(b) = bos {
        single.push(special(b, 0));
        pair.push(special(b, 0));
    }
    single.push(json!({"Sequence": {"id": "A", "type_id": 0}}));
    pair.push(json!({"Sequence": {"id": "A", "type_id": 0}}));
    if let Some(e) = eos {
        single.push(special(e, 0));
        pair.push(special(e, 0));
    }
    if let Some(b) = bos {
        pair.push(special(b, 1));
    }
    pair.push(json!({"Sequence": {"id": "B", "type_id": 1}}));
    if let Some(e) = eos {
        pair.push(special(e, 1));
    }
    json!({"type": "TemplateProcessing", "single": single, "pair": pair,
           "special_tokens": specials})
}

/// SentencePiece BPE merges: every split of a token into two tokens, ordered by the merged
/// token's score (best first), then by the lengths of the parts (longest first), then by the
/// parts' ids — the order transformers' `generate_merges` gives them.
fn spm_merges(tokens: &[String], scores: &[f64]) -> Vec<Value> {
    let ids: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    // (score, chars of left, chars of right, id left, id right, order of the merged token)
    let mut merges: Vec<(f64, usize, usize, usize, usize, usize)> = vec![];
    for (k, t) in tokens.iter().enumerate() {
        for (cut, _) in t.char_indices().skip(1) {
            let (l, r) = (&t[..cut], &t[cut..]);
            if let (Some(&il), Some(&ir)) = (ids.get(l), ids.get(r)) {
                merges.push((scores[k], l.chars().count(), r.chars().count(), il, ir, k));
            }
        }
    }
    merges.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(b.2.cmp(&a.2))
            .then(a.5.cmp(&b.5))
            .then((a.3, a.4).cmp(&(b.3, b.4)))
    });
    merges
        .into_iter()
        .map(|m| json!([tokens[m.3], tokens[m.4]]))
        .collect()
}

/// The tokenizer of `g`'s metadata.
pub fn tokenizer(g: &Gguf) -> Result<Tokenizer> {
    let json = tokenizer_json(g)?;
    let inner: tokenizers::Tokenizer = serde_json::from_value(json)
        .map_err(|e| Error::Tokenizer(format!("{}: cannot build the tokenizer: {e}", g.origin)))?;
    Ok(Tokenizer::from_inner(inner))
}

/// The chat template of `tokenizer.chat_template`, with the bos and eos token strings; None when
/// the file has no template (a base model).
pub fn chat_template(g: &Gguf) -> Result<Option<ChatTemplate>> {
    let Some(t) = g.str("tokenizer.chat_template")? else {
        return Ok(None);
    };
    let tokens = vocab(g)?.tokens;
    let bos = token_str(g, &tokens, "tokenizer.ggml.bos_token_id")?;
    let eos = token_str(g, &tokens, "tokenizer.ggml.eos_token_id")?;
    Ok(Some(ChatTemplate::new(t, bos, eos)))
}

/// A `tokenizer_config.json` for `convert`: the chat template, special token strings and the
/// add-BOS flag, as transformers writes them.
pub fn tokenizer_config_json(g: &Gguf) -> Result<Value> {
    let tokens = vocab(g)?.tokens;
    let mut m = Map::new();
    for (name, key) in [
        ("bos_token", "tokenizer.ggml.bos_token_id"),
        ("eos_token", "tokenizer.ggml.eos_token_id"),
        ("unk_token", "tokenizer.ggml.unknown_token_id"),
        ("pad_token", "tokenizer.ggml.padding_token_id"),
    ] {
        if let Some(t) = token_str(g, &tokens, key)? {
            m.insert(name.into(), t.into());
        }
    }
    let sentencepiece = g.str("tokenizer.ggml.model")? == Some("llama");
    m.insert(
        "add_bos_token".into(),
        g.bool("tokenizer.ggml.add_bos_token")?
            .unwrap_or(sentencepiece)
            .into(),
    );
    m.insert("tokenizer_class".into(), "PreTrainedTokenizerFast".into());
    m.insert("clean_up_tokenization_spaces".into(), false.into());
    if let Some(t) = g.str("tokenizer.chat_template")? {
        m.insert("chat_template".into(), t.into());
    }
    m.insert("model_max_length".into(), {
        let arch = g.str("general.architecture")?.unwrap_or("llama");
        g.usize(&format!("{arch}.context_length"))?
            .unwrap_or(2048)
            .into()
    });
    Ok(Value::Object(m))
}

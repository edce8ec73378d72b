//! The tokenizer.json harness: files as they are, or assembled from normalizers, pre-tokenizers, models and decoders.

use super::*;

/// tokenizer.json and a text: loaded, the text encoded (with and without special tokens), the
/// ids decoded whole and one at a time, and some ids outside the vocabulary decoded.
pub fn tokenizer(data: &[u8]) {
    let (json, text_in) = match shape(data, 2) {
        Ok(files) => (files[0].to_vec(), text(files[1])),
        Err(mut inp) => {
            let t = structured_tokenizer(&mut inp);
            (t.to_string().into_bytes(), text(inp.rest()))
        }
    };
    let Ok(tok) = Tokenizer::from_bytes(&json) else {
        return;
    };
    // (A run loads a tokenizer per input: the crate's BPE cache would keep each one's words.)
    let tok = tok.without_word_cache();
    for special in [false, true] {
        let Ok(ids) = tok.encode(&text_in, special) else {
            continue;
        };
        let _ = tok.decode(&ids, special);
        let mut stream = StreamDecoder::new();
        for &id in ids.iter().take(64) {
            let _ = stream.push(&tok, id);
        }
        let _ = tok.decode(&[u32::MAX, 0, tok.vocab_size() as u32], special);
    }
}

/// Normalizer, pre-tokenizer and decoder patterns, from harmless to empty-matching.
const PATTERNS: &[&str] = &[
    "",
    " ",
    "a",
    "\\s+",
    "\\s*",
    "a*",
    "\\b",
    "(?=a)",
    "(?!\\S)",
    "\\w+|[^\\w\\s]",
    "(",
    "\\p{L}+",
    "x|",
    ".",
    "(?<=a)b",
    "\\1",
    "[",
];

pub(super) fn pattern(inp: &mut Input) -> Value {
    let p = if inp.below(4) == 0 {
        inp.text(8)
    } else {
        inp.pick(PATTERNS).to_string()
    };
    if inp.bool() {
        json!({ "Regex": p })
    } else {
        json!({ "String": p })
    }
}

pub(super) fn normalizer(inp: &mut Input, depth: usize) -> Value {
    match inp.below(if depth > 2 { 9 } else { 10 }) {
        0 => json!({"type": "Lowercase"}),
        1 => json!({"type": *inp.pick(&["NFC", "NFD", "NFKC", "NFKD"])}),
        2 => json!({"type": "Replace", "pattern": pattern(inp), "content": inp.text(4)}),
        3 => json!({"type": "Prepend", "prepend": inp.text(4)}),
        4 => json!({"type": "Strip", "strip_left": inp.bool(), "strip_right": inp.bool()}),
        5 => {
            json!({"type": "Precompiled", "precompiled_charsmap": *inp.pick(&["/////w==", "AAAAAAAA", ""])})
        }
        6 => json!({"type": "ByteLevel"}),
        7 => {
            json!({"type": "BertNormalizer", "clean_text": inp.bool(), "handle_chinese_chars": inp.bool(), "strip_accents": null, "lowercase": inp.bool()})
        }
        8 => json!({"type": "StripAccents"}),
        _ => {
            let n = inp.below(3);
            json!({"type": "Sequence", "normalizers": (0..n).map(|_| normalizer(inp, depth + 1)).collect::<Vec<_>>()})
        }
    }
}

pub(super) fn pre_tokenizer(inp: &mut Input, depth: usize) -> Value {
    match inp.below(if depth > 2 { 8 } else { 9 }) {
        0 => {
            json!({"type": "ByteLevel", "add_prefix_space": inp.bool(), "trim_offsets": inp.bool(), "use_regex": inp.bool()})
        }
        1 => json!({"type": "Whitespace"}),
        2 => json!({"type": "WhitespaceSplit"}),
        3 => {
            json!({"type": "Split", "pattern": pattern(inp), "behavior": *inp.pick(&["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]), "invert": inp.bool()})
        }
        4 => {
            json!({"type": "Metaspace", "replacement": *inp.pick(&["▁", "a", ""]), "prepend_scheme": *inp.pick(&["always", "never", "first"]), "split": inp.bool()})
        }
        5 => json!({"type": "Digits", "individual_digits": inp.bool()}),
        6 => json!({"type": "Punctuation", "behavior": "Isolated"}),
        7 => json!({"type": "CharDelimiterSplit", "delimiter": *inp.pick(&[" ", "a"])}),
        _ => {
            let n = inp.below(3);
            json!({"type": "Sequence", "pretokenizers": (0..n).map(|_| pre_tokenizer(inp, depth + 1)).collect::<Vec<_>>()})
        }
    }
}

pub(super) fn decoder(inp: &mut Input, depth: usize) -> Value {
    match inp.below(if depth > 2 { 6 } else { 7 }) {
        0 => {
            json!({"type": "ByteLevel", "add_prefix_space": inp.bool(), "trim_offsets": inp.bool(), "use_regex": inp.bool()})
        }
        1 => json!({"type": "Replace", "pattern": pattern(inp), "content": inp.text(4)}),
        2 => json!({"type": "ByteFallback"}),
        3 => json!({"type": "Fuse"}),
        4 => {
            json!({"type": "Strip", "content": *inp.pick(&[" ", "a"]), "start": inp.below(3), "stop": inp.below(3)})
        }
        5 => {
            json!({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})
        }
        _ => {
            let n = inp.below(3);
            json!({"type": "Sequence", "decoders": (0..n).map(|_| decoder(inp, depth + 1)).collect::<Vec<_>>()})
        }
    }
}

/// A tokenizer.json from parts: a small BPE or WordLevel vocabulary, drawn components, added
/// tokens, sometimes truncation or padding.
pub(super) fn structured_tokenizer(inp: &mut Input) -> Value {
    let pieces = [
        "a", "b", "c", "ab", "bc", "abc", "Ġ", "Ġa", " ", "<unk>", "é", "<0x41>", "▁",
    ];
    let n = 1 + inp.below(pieces.len());
    let vocab: Map<String, Value> = pieces[..n]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                p.to_string(),
                json!(if inp.below(8) == 0 {
                    edge_value(inp)
                } else {
                    json!(i)
                }),
            )
        })
        .collect();
    let model = if inp.bool() {
        let merges: Vec<Value> = (0..inp.below(4))
            .map(|_| {
                json!(format!(
                    "{} {}",
                    inp.pick(&pieces[..n]),
                    inp.pick(&pieces[..n])
                ))
            })
            .collect();
        json!({"type": "BPE", "dropout": if inp.below(4) == 0 { edge_value(inp) } else { Value::Null },
            "unk_token": if inp.bool() { json!("<unk>") } else { Value::Null },
            "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": inp.bool(),
            "byte_fallback": inp.bool(), "ignore_merges": inp.bool(), "vocab": vocab, "merges": merges})
    } else {
        json!({"type": *inp.pick(&["WordLevel", "WordLevel", "Unigram", "WordPiece"]), "vocab": vocab, "unk_token": "<unk>"})
    };
    let added: Vec<Value> = (0..inp.below(3))
        .map(|i| {
            json!({"id": if inp.bool() { json!(n + i) } else { edge_value(inp) }, "content": inp.text(6),
                "single_word": inp.bool(), "lstrip": inp.bool(), "rstrip": inp.bool(),
                "normalized": inp.bool(), "special": inp.bool()})
        })
        .collect();
    let opt = |inp: &mut Input, f: &dyn Fn(&mut Input) -> Value| {
        if inp.bool() {
            f(inp)
        } else {
            Value::Null
        }
    };
    json!({
        "version": "1.0",
        "truncation": if inp.below(8) == 0 { json!({"direction": "Right", "max_length": edge_value(inp), "strategy": "LongestFirst", "stride": edge_value(inp)}) } else { Value::Null },
        "padding": if inp.below(8) == 0 { json!({"strategy": {"Fixed": edge_value(inp)}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "a"}) } else { Value::Null },
        "added_tokens": added,
        "normalizer": opt(inp, &|i| normalizer(i, 0)),
        "pre_tokenizer": opt(inp, &|i| pre_tokenizer(i, 0)),
        "post_processor": opt(inp, &|i| json!({"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": i.below(3)}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [if i.bool() { json!(0) } else { edge_value(i) }], "tokens": ["<s>"]}}})),
        "decoder": opt(inp, &|i| decoder(i, 0)),
        "model": model,
    })
}

// ---- chat templates -----------------------------------------------------------------------------

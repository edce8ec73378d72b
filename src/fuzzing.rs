//! The fuzz harnesses: one function per kind of untrusted input, each taking the fuzzer's raw
//! bytes. The cargo-fuzz targets in `fuzz/` (nightly, libFuzzer) call them, and
//! `tests/engine/fuzz_regressions.rs` (stable) replays every saved crash in
//! `fuzz/regressions/<target>/` through the same function, so a fixed crash stays fixed.
//!
//! A harness must never panic, abort, hang or overflow the stack: errors are the expected
//! outcome for most inputs and are ignored. Where a property must hold whatever the input (a
//! path the policy accepts stays inside the bundle, a template's output stays under its
//! limit), the harness asserts it, so a violation is a crash the fuzzer reports.
//!
//! Inputs come in two shapes, chosen by the first byte:
//! - even: files as they are ([`frame`]: each but the last prefixed by its u32 length), which
//!   is how the fixtures and the committed bundle seed the corpus (`cargo run --example
//!   fuzz_seeds`);
//! - odd: a structure-aware description read with [`Input`]: a JSON config whose fields get
//!   boundary values, a valid safetensors file whose header is then damaged, a tokenizer
//!   assembled from components, a template assembled from Jinja fragments. Mutating these bytes
//!   explores the space of nearly-valid files, where the interesting bugs live.

use crate::bundle::{self, BundleSource};
use crate::config::{Family, ModelConfig, Pooling};
use crate::generate::{Generator, SamplingParams};
use crate::model::{Logits, Model};
use crate::moderation::head::HeadConfig;
use crate::moderation::Verdict;
use crate::params::Params;
use crate::templates::{Stage, Templates};
use crate::tokenizer::{ChatTemplate, Message, StreamDecoder, Tokenizer};
use crate::weights::{self, DType};
use serde_json::{json, Map, Value};
use std::path::Path;

/// The fuzz targets, by name: the directory names under `fuzz/regressions/` and
/// `fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &[
    "model",
    "gguf",
    "tokenizer",
    "chat_template",
    "template_overrides",
    "bundle",
    "generation_config",
];

/// Runs the harness of target `name` on `data`; false for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "model" => model(data),
        "gguf" => gguf(data),
        "tokenizer" => tokenizer(data),
        "chat_template" => chat_template(data),
        "template_overrides" => template_overrides(data),
        "bundle" => bundle(data),
        "generation_config" => generation_config(data),
        _ => return false,
    }
    true
}

// ---- input decoding -----------------------------------------------------------------------------

/// Reads structured choices from fuzzer bytes; past the end every read is zero, so any input
/// decodes to something.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }
    /// A number in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let mut x: usize = 0;
        let mut span: usize = 1;
        while span < n {
            x = (x << 8) | self.byte() as usize;
            span = span.saturating_mul(256);
        }
        x % n
    }
    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len())]
    }
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    /// A byte string of up to `max` bytes (length first).
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max + 1);
        self.take(n)
    }
    /// Text of up to `max` bytes (invalid UTF-8 replaced).
    pub fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// Files as one input of the "as they are" shape (first byte 0).
pub fn frame(files: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0u8];
    for (i, f) in files.iter().enumerate() {
        if i + 1 < files.len() {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

/// The inverse of [`frame`] after the first byte: `n` files (missing ones empty).
fn unframe(mut data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        if i + 1 == n {
            files.push(data);
            break;
        }
        let len = match data.get(..4) {
            Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
            None => 0,
        };
        let rest = data.get(4..).unwrap_or(&[]);
        let len = len.min(rest.len());
        files.push(&rest[..len]);
        data = &rest[len..];
    }
    files
}

/// Splits the input: `Some(files)` for the "as they are" shape, else the structured reader.
fn shape(data: &[u8], n: usize) -> Result<Vec<&[u8]>, Input<'_>> {
    match data.split_first() {
        Some((&b, rest)) if b % 2 == 0 => Ok(unframe(rest, n)),
        Some((_, rest)) => Err(Input::new(rest)),
        None => Ok(vec![&[][..]; n]),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Numbers at and around the edges: where sizes overflow, wrap or allocate too much.
const EDGE_INTS: &[i128] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    16,
    255,
    256,
    4096,
    65_535,
    65_536,
    1 << 20,
    (1 << 21) + 1,
    (1 << 31) - 1,
    1 << 31,
    1 << 32,
    (1 << 32) + 1,
    1 << 40,
    1 << 53,
    1 << 62,
    1 << 63,
    u64::MAX as i128,
    -1,
    -(1 << 63),
];

/// A JSON value for a field: usually an edge number, sometimes another kind altogether.
fn edge_value(inp: &mut Input) -> Value {
    match inp.below(12) {
        0 => Value::Null,
        1 => json!(inp.bool()),
        2 => json!(1e30),
        3 => json!(0.5),
        4 => json!(-0.0),
        5 => json!("x"),
        6 => json!([1, 2]),
        7 => json!({}),
        8 => json!(inp.below(64)),
        _ => {
            let v = *inp.pick(EDGE_INTS);
            if v < 0 {
                json!(v as i64)
            } else {
                json!(v as u64)
            }
        }
    }
}

// ---- model: config.json + model.safetensors ---------------------------------------------------

/// config.json and model.safetensors: parsed, checked, loaded (both the inference and the
/// training layouts), and, when they load, run on a few tokens.
pub fn model(data: &[u8]) {
    let (config, weights) = match shape(data, 2) {
        Ok(files) => (text(files[0]), files[1].to_vec()),
        Err(mut inp) => structured_model(&mut inp),
    };
    let path = Path::new("fuzz/model.safetensors");
    if let Ok(cfg) = ModelConfig::from_json_str(&config, "fuzz/config.json") {
        let _ = weights::from_bytes(&weights, &cfg, path);
    }
    let Ok(m) = Model::from_bytes(&config, &weights, "fuzz") else {
        return;
    };
    let v = m.config.vocab_size as u32;
    let tokens: Vec<u32> = weights
        .iter()
        .take(3)
        .map(|&b| b as u32 % (v + 2))
        .collect();
    if m.config.is_classifier() {
        let _ = m.classify(&tokens);
    } else {
        let mut cache = m.new_cache();
        let _ = m.forward(&tokens, &mut cache, Logits::Last);
        let _ = m.forward(&tokens[..tokens.len().min(1)], &mut cache, Logits::All);
    }
}

/// Config fields the loader reads, to be given edge values.
const CONFIG_KEYS: &[&str] = &[
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "n_embd",
    "n_head",
    "n_layer",
    "n_inner",
    "n_positions",
    "layer_norm_epsilon",
    "is_causal",
    "classifier_pooling",
    "problem_type",
    "model_type",
    "hidden_act",
    "rope_scaling",
    "id2label",
];

/// A small valid model of a drawn shape, its safetensors written by tinychat, then damaged:
/// config fields set to edge values, header entries (shape, dtype, offsets, names) changed.
fn structured_model(inp: &mut Input) -> (String, Vec<u8>) {
    let family = if inp.bool() {
        Family::Llama
    } else {
        Family::Gpt2
    };
    let n_heads = 1 + inp.below(4);
    let head_dim = 2 * (1 + inp.below(4));
    let n_kv_heads = if family == Family::Llama && inp.bool() {
        1
    } else {
        n_heads
    };
    let labels: Vec<String> = (0..inp.below(3) * 2).map(|i| format!("label{i}")).collect();
    let cfg = ModelConfig {
        family,
        vocab_size: 1 + inp.below(40),
        dim: n_heads * head_dim,
        n_layers: 1 + inp.below(2),
        n_heads,
        n_kv_heads,
        head_dim,
        hidden_dim: 1 + inp.below(24),
        max_seq_len: 1 + inp.below(16),
        norm_eps: 1e-5,
        rope_theta: if family == Family::Llama {
            10000.0
        } else {
            0.0
        },
        tie_embeddings: inp.bool(),
        attn_bias: family == Family::Gpt2 || inp.bool(),
        mlp_bias: family == Family::Gpt2 || inp.bool(),
        bos_token_id: Some(0),
        eos_token_ids: vec![1],
        pad_token_id: None,
        pooling: if labels.is_empty() {
            Pooling::Last
        } else {
            *inp.pick(&[Pooling::Last, Pooling::Max, Pooling::EchoMax])
        },
        causal: true,
        labels,
    };
    let mut config = cfg.to_hf_json();
    for _ in 0..inp.below(4) {
        let key = *inp.pick(CONFIG_KEYS);
        config[key] = edge_value(inp);
    }
    let mut params = Params::zeros(&cfg);
    for (i, x) in params.data.iter_mut().enumerate() {
        *x = ((i * 7919) % 13) as f32 * 0.05 - 0.3;
    }
    let dtype = *inp.pick(&[DType::F32, DType::F16, DType::BF16]);
    let Ok(file) = weights::to_bytes(&params, &cfg, dtype) else {
        return (config.to_string(), vec![]);
    };
    (config.to_string(), damage_safetensors(inp, file))
}

/// Changes entries of a safetensors header (the JSON after the 8-byte length) and writes the
/// file back with a consistent length prefix, or flips bytes anywhere.
fn damage_safetensors(inp: &mut Input, mut file: Vec<u8>) -> Vec<u8> {
    for _ in 0..inp.below(4) {
        if file.len() < 8 {
            break;
        }
        let n = u64::from_le_bytes(file[..8].try_into().unwrap_or([0; 8])) as usize;
        let Some(header) = file.get(8..8 + n) else {
            break;
        };
        let Ok(Value::Object(mut h)) = serde_json::from_slice::<Value>(header) else {
            break;
        };
        let data = file[8 + n..].to_vec();
        let names: Vec<String> = h.keys().filter(|k| *k != "__metadata__").cloned().collect();
        if names.is_empty() {
            break;
        }
        let name = inp.pick(&names).clone();
        match inp.below(7) {
            0 => {
                h.remove(&name);
            }
            1 => {
                let t = h.remove(&name).unwrap_or(Value::Null);
                h.insert(format!("{name}{}", inp.text(4)), t);
            }
            2 => h[&name]["shape"] = json!([edge_value(inp), edge_value(inp)]),
            3 => {
                let d = *inp.pick(&[
                    "F32", "F16", "BF16", "F64", "I8", "U8", "BOOL", "F8_E4M3", "x",
                ]);
                h[&name]["dtype"] = json!(d);
            }
            4 => h[&name]["data_offsets"] = json!([edge_value(inp), edge_value(inp)]),
            5 => h[&name]["shape"] = json!([]),
            _ => {
                let i = inp.below(file.len());
                file[i] ^= inp.byte() | 1;
                continue;
            }
        }
        let header = Value::Object(h).to_string().into_bytes();
        file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(&header);
        file.extend_from_slice(&data);
    }
    if inp.bool() {
        let keep = inp.below(file.len() + 1);
        file.truncate(keep);
    }
    file
}

// ---- tokenizer.json -----------------------------------------------------------------------------

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

fn pattern(inp: &mut Input) -> Value {
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

fn normalizer(inp: &mut Input, depth: usize) -> Value {
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

fn pre_tokenizer(inp: &mut Input, depth: usize) -> Value {
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

fn decoder(inp: &mut Input, depth: usize) -> Value {
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
fn structured_tokenizer(inp: &mut Input) -> Value {
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

/// A chat template and a conversation: the template is parsed and rendered.
pub fn chat_template(data: &[u8]) {
    let (source, messages, bos) = match shape(data, 2) {
        Ok(files) => {
            let messages = serde_json::from_slice::<Vec<Message>>(files[1]).unwrap_or_else(|_| {
                vec![
                    Message::system("Be brief."),
                    Message::user("Hi!"),
                    Message::assistant("Hello."),
                ]
            });
            (text(files[0]), messages, true)
        }
        Err(mut inp) => {
            let source = jinja_template(&mut inp, 0);
            let messages = (0..inp.below(4))
                .map(|_| {
                    let role = *inp.pick(&["user", "assistant", "system", "tool", ""]);
                    Message::new(role, &inp.text(16))
                })
                .collect();
            (source, messages, inp.bool())
        }
    };
    let t = ChatTemplate::new(&source, bos.then_some("<s>"), Some("</s>"));
    let _ = t.render(&messages, true);
    let _ = t.render(&messages, false);
}

/// Names a template may use: the variables chat templates get, the loop's, literals.
const ATOMS: &[&str] = &[
    "messages",
    "message",
    "m",
    "x",
    "ns",
    "ns.a",
    "loop.index",
    "loop",
    "bos_token",
    "eos_token",
    "add_generation_prompt",
    "messages[0]",
    "message['content']",
    "m.role",
    "none",
    "true",
    "1",
    "0",
    "-1",
    "2.5",
    "10**12",
    "10**6",
    "100000",
    "'abc'",
    "''",
    "'%999999999999d'",
    "'%.999999999f'",
    "'{}'",
    "[1]",
    "[1, 2, 3]",
    "{'a': 1}",
    "range(100000)",
    "namespace()",
    "namespace(a=[1])",
    "dict(a=1)",
    "x ~ x",
    "9223372036854775807",
    "1e308",
];
const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "//", "%", "**", "~", "and", "or", "==", "!=", "<", ">=", "in", "not in",
];
const FILTERS: &[&str] = &[
    "length",
    "list",
    "join",
    "join(', ')",
    "string",
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "first",
    "last",
    "reverse",
    "sort",
    "unique",
    "tojson",
    "tojson(indent=2)",
    "indent(10**12)",
    "indent(4)",
    "center(10**12)",
    "format(1)",
    "format(1.0)",
    "replace('', 'xx')",
    "replace('a', 'bb')",
    "wordcount",
    "wordwrap(5)",
    "truncate(3)",
    "batch(10**9)",
    "slice(3)",
    "map('upper')",
    "map(attribute='role')",
    "select",
    "reject('none')",
    "selectattr('role')",
    "items",
    "dictsort",
    "default('d')",
    "int",
    "float",
    "abs",
    "round",
    "sum",
    "min",
    "max",
    "safe",
    "escape",
    "urlencode",
    "pprint",
    "attr('a')",
    "groupby('role')",
    "count",
    "lines",
    "split",
    "split(',')",
    "striptags",
    "chain([1])",
    "zip([1])",
];
const METHODS: &[&str] = &[
    "strip()",
    "upper()",
    "split()",
    "split(',')",
    "count('')",
    "count('a')",
    "replace('', 'x')",
    "startswith('a')",
    "endswith('a')",
    "format(1)",
    "center(10**12)",
    "ljust(10**12)",
    "zfill(10**12)",
    "join(['a', 'b'])",
    "items()",
    "keys()",
    "values()",
    "get('a')",
    "title()",
    "lstrip('a')",
    "find('a')",
    "rfind('')",
    "isdigit()",
    "expandtabs(10**9)",
    "splitlines()",
    "partition('a')",
];
const TESTS: &[&str] = &[
    "defined",
    "none",
    "string",
    "number",
    "mapping",
    "sequence",
    "iterable",
    "divisibleby 0",
    "divisibleby(3)",
    "even",
    "odd",
    "sameas x",
    "in [1]",
    "true",
    "startingwith('a')",
];

fn jinja_expr(inp: &mut Input, depth: usize) -> String {
    if depth > 6 {
        return inp.pick(ATOMS).to_string();
    }
    let d = depth + 1;
    match inp.below(14) {
        0..=3 => inp.pick(ATOMS).to_string(),
        4 => format!(
            "{} {} {}",
            jinja_expr(inp, d),
            inp.pick(BINOPS),
            jinja_expr(inp, d)
        ),
        5 => format!("({})|{}", jinja_expr(inp, d), inp.pick(FILTERS)),
        6 => format!("({}).{}", jinja_expr(inp, d), inp.pick(METHODS)),
        7 => format!("{} is {}", jinja_expr(inp, d), inp.pick(TESTS)),
        8 => format!("[{}, {}]", jinja_expr(inp, d), jinja_expr(inp, d)),
        9 => format!(
            "{}[{}:{}:{}]",
            jinja_expr(inp, d),
            inp.below(3),
            inp.below(3),
            *inp.pick(&["", "-1", "1", "0"])
        ),
        10 => format!(
            "{} if {} else {}",
            jinja_expr(inp, d),
            jinja_expr(inp, d),
            jinja_expr(inp, d)
        ),
        11 => format!("{}[{}]", jinja_expr(inp, d), jinja_expr(inp, d)),
        12 => {
            // long chains: parser and compiler depth
            let n = *inp.pick(&[2usize, 50, 300, 20_000]);
            let op = *inp.pick(&["not ", "-", "1+", "(", "x.", "[", "x|", "1~"]);
            let close = match op {
                "(" => ")".repeat(n),
                "[" => "]".repeat(n),
                _ => String::new(),
            };
            format!("{}{}{close}", op.repeat(n), *inp.pick(&["1", "x", "upper"]))
        }
        _ => format!(
            "{}({})",
            *inp.pick(&[
                "range",
                "namespace",
                "dict",
                "raise_exception",
                "strftime_now",
                "m",
                "loop"
            ]),
            jinja_expr(inp, d)
        ),
    }
}

/// A template of Jinja fragments: text, expressions and statements nested up to a few levels.
fn jinja_template(inp: &mut Input, depth: usize) -> String {
    let mut out = String::new();
    for _ in 0..1 + inp.below(4) {
        let d = depth + 1;
        let deep = depth > 3;
        match inp.below(16) {
            0 => out.push_str(*inp.pick(&["<|im_start|>", "\n", " ", "text", "{#c#}"])),
            1..=3 => out.push_str(&format!("{{{{ {} }}}}", jinja_expr(inp, 0))),
            4 if !deep => out.push_str(&format!(
                "{{% for x in {} %}}{}{{% endfor %}}",
                jinja_expr(inp, 0),
                jinja_template(inp, d)
            )),
            5 if !deep => out.push_str(&format!(
                "{{% for message in messages %}}{}{{% endfor %}}",
                jinja_template(inp, d)
            )),
            6 if !deep => out.push_str(&format!(
                "{{% if {} %}}{}{{% else %}}{}{{% endif %}}",
                jinja_expr(inp, 0),
                jinja_template(inp, d),
                jinja_template(inp, d)
            )),
            7 => out.push_str(&format!("{{% set x = {} %}}", jinja_expr(inp, 0))),
            8 => out.push_str("{% set ns = namespace(a=1) %}"),
            9 => out.push_str(&format!("{{% set ns.a = {} %}}", jinja_expr(inp, 0))),
            10 if !deep => out.push_str(&format!(
                "{{% macro m(a) %}}{}{{% endmacro %}}",
                jinja_template(inp, d)
            )),
            11 if !deep => out.push_str(&format!(
                "{{% set x %}}{}{{% endset %}}",
                jinja_template(inp, d)
            )),
            12 if !deep => out.push_str(&format!(
                "{{% filter upper %}}{}{{% endfilter %}}",
                jinja_template(inp, d)
            )),
            13 => out.push_str(*inp.pick(&["{% break %}", "{% continue %}", "{%- ", " -%}", "{{", "}}", "{%", "%}"])),
            14 => out.push_str(&inp.text(12)),
            _ => out.push_str("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
        }
    }
    out
}

// ---- template overrides -------------------------------------------------------------------------

/// pipeline.json's `templates`: overrides parsed, then each answering a flagged verdict.
pub fn template_overrides(data: &[u8]) {
    let (json, mut inp) = match shape(data, 1) {
        Ok(files) => (text(files[0]), Input::new(&[])),
        Err(mut inp) => {
            let mut m = Map::new();
            for _ in 0..1 + inp.below(3) {
                let key = *inp.pick(&[
                    "violence",
                    "self-harm",
                    "output",
                    "default",
                    "hate",
                    "harassment/new",
                ]);
                m.insert(key.into(), json!(jinja_template(&mut inp, 0)));
            }
            (Value::Object(m).to_string(), inp)
        }
    };
    let Ok(t) = Templates::with_overrides_json(&json) else {
        return;
    };
    let cats = [
        "violence",
        "self-harm",
        "hate",
        "harassment/new",
        "sexual",
        "illicit",
    ];
    let verdict = Verdict::from_scores(
        cats.iter()
            .map(|c| (c.to_string(), inp.below(100) as f32 / 100.0, 0.5)),
    );
    for stage in [Stage::Input, Stage::Output] {
        let _ = t.respond(&verdict, stage);
    }
    let all = Verdict::from_scores(cats.iter().map(|c| (c.to_string(), 0.9, 0.5)));
    let _ = t.respond(&all, Stage::Input);
}

// ---- bundles --------------------------------------------------------------------------------------

/// What the secret file outside the fuzzed bundle holds: no read through the bundle may return it.
const SECRET: &[u8] = b"tinychat-fuzz: outside the bundle";

/// pipeline.json, paths a bundle names and a moderation head's config.json (which names its
/// trunk relative to itself): the path policy (whatever it accepts stays relative, has no `..`,
/// no backslash, no URL syntax; a trunk stays inside the bundle), the bundle's file list, the
/// head on a tiny trunk, and a native [`bundle::Dir`] over a temporary bundle with symlinks
/// leading out of it (no read through the bundle returns the file outside).
pub fn bundle(data: &[u8]) {
    let (pipeline, paths, head): (String, Vec<String>, String) = match shape(data, 3) {
        Ok(files) => (
            text(files[0]),
            text(files[1]).lines().map(str::to_string).collect(),
            text(files[2]),
        ),
        Err(mut inp) => {
            let frag = [
                "..",
                ".",
                "chat",
                "moderator",
                "/",
                "\\",
                "%2e",
                ":",
                "?",
                "#",
                " ",
                "\t",
                "\n",
                "link",
                "out",
                "model.safetensors",
                "config.json",
                "//",
                "%",
                "~",
                "\u{202e}",
                "\0",
            ];
            let mut paths = vec![];
            for _ in 0..1 + inp.below(4) {
                let n = inp.below(6);
                paths.push((0..n).map(|_| *inp.pick(&frag)).collect::<String>());
            }
            let pipeline = json!({"chat_model": paths[0], "moderator": paths.last().cloned().unwrap_or_default(),
                "templates": {"violence": inp.text(8)}, "sampling": {"max_new_tokens": edge_value(&mut inp)}});
            let trunk: String = (0..inp.below(6)).map(|_| *inp.pick(&frag)).collect();
            let head = structured_head(&mut inp, &trunk);
            (pipeline.to_string(), paths, head.to_string())
        }
    };
    for p in &paths {
        if let Ok(ok) = bundle::check_relative("fuzz", p) {
            assert_safe_relative(p, &ok);
        }
    }
    if let Ok(cfg) = bundle::parse_pipeline(&pipeline, "fuzz/pipeline.json") {
        assert_safe_relative(
            &cfg.chat_model,
            &bundle::check_relative("f", &cfg.chat_model).expect("parse_pipeline checked it"),
        );
        // The list before and after the moderator's config.json is known (the browser asks
        // again with what it fetched): a head's trunk joins it, inside the bundle.
        let m = bundle::check_relative("f", &cfg.moderator).expect("parse_pipeline checked it");
        let known = bundle::Files {
            files: [(bundle::join(&m, "config.json"), head.as_bytes().to_vec())].into(),
            origin: String::new(),
        };
        for k in [None, Some(&known as &dyn bundle::BundleSource)] {
            if let Ok(files) = bundle::pipeline_files(&cfg, k) {
                for f in files {
                    assert_safe_relative(&f.path, &f.path);
                }
            }
        }
    }
    if let Ok(h) = serde_json::from_str::<HeadConfig>(&head) {
        for dir in ["moderator", "a/b", ""] {
            if let Ok(t) = bundle::resolve_from("fuzz", dir, &h.trunk) {
                assert_safe_relative(&h.trunk, &t);
            }
        }
    }
    let _ = head_on_a_tiny_trunk(&head);
    dir_reads(&pipeline, &paths, &head);
}

/// A moderation head's config.json: a trunk path, and sizes at the edges.
fn structured_head(inp: &mut Input, trunk: &str) -> Value {
    let size = |inp: &mut Input| {
        if inp.bool() {
            json!(inp.below(12))
        } else {
            edge_value(inp)
        }
    };
    let mut h = json!({
        "model_type": "tinychat_moderation_head",
        "trunk": trunk,
        "layers": size(inp),
        "pooling": *inp.pick(&["mean", "last", "max"]),
        "prefix": inp.text(12),
        "suffix": inp.text(12),
        "window": size(inp),
        "max_windows": size(inp),
        "hidden": size(inp),
        "hidden_size": if inp.bool() { json!(TRUNK_DIM) } else { size(inp) },
        "id2label": {"0": "violence", "1": "hate"},
    });
    if inp.bool() {
        h["id2label"] = json!({"0": "a", "2": "b"});
    }
    if inp.bool() {
        let keys: Vec<String> = h.as_object().unwrap().keys().cloned().collect();
        h.as_object_mut().unwrap().remove(inp.pick(&keys).as_str());
    }
    h
}

/// Width of the trunk [`head_on_a_tiny_trunk`] builds.
const TRUNK_DIM: usize = 8;

/// A head from `config` (its model.safetensors made to fit it when its sizes are small) on a
/// tiny random trunk, scoring a few texts: the sizes a head's config.json names must be
/// refused or honoured, never wrap or panic. True when the head loaded and scored every text.
fn head_on_a_tiny_trunk(config: &str) -> bool {
    use crate::moderation::head::ModerationHead;
    use crate::moderation::Moderator;
    use std::sync::{Arc, OnceLock};
    static TRUNK: OnceLock<(Arc<Model>, Tokenizer)> = OnceLock::new();
    let Ok(hc) = serde_json::from_str::<HeadConfig>(config) else {
        return false;
    };
    let (c, h, l) = (hc.hidden_size, hc.hidden, hc.id2label.len());
    if c > 64 || h > 64 || l > 64 {
        let _ = ModerationHead::from_bytes(config, b"", "fuzz/head");
        return false;
    }
    // The tensors the config asks for, shaped as it says.
    let k = if h > 0 { h } else { c };
    let mut tensors: Vec<(&str, Vec<usize>)> = vec![
        ("mean", vec![c]),
        ("std", vec![c]),
        ("w2", vec![l, k]),
        ("b2", vec![l]),
    ];
    if h > 0 {
        tensors.push(("w1", vec![h, c]));
        tensors.push(("b1", vec![h]));
    }
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, shape)| {
            let len: usize = shape.iter().product();
            let bytes = (0..len)
                .flat_map(|i| (0.1 * i as f32).to_le_bytes())
                .collect();
            (n.to_string(), shape, bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .filter_map(|(n, shape, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b)
                .ok()
                .map(|v| (n.clone(), v))
        })
        .collect();
    let Ok(st) = safetensors::serialize(views, None) else {
        return false;
    };
    let Ok(head) = ModerationHead::from_bytes(config, &st, "fuzz/head") else {
        return false;
    };
    let (trunk, tok) = TRUNK.get_or_init(|| {
        let cfg = ModelConfig {
            vocab_size: 4,
            dim: TRUNK_DIM,
            n_layers: 2,
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: TRUNK_DIM / 2,
            hidden_dim: 16,
            max_seq_len: 32,
            ..ModelConfig::llama_base()
        };
        let tok = br#"{"model": {"type": "WordLevel", "vocab": {"aa": 0, "bb": 1, "[UNK]": 2, "cc": 3}, "unk_token": "[UNK]"}, "pre_tokenizer": {"type": "Whitespace"}}"#;
        (
            Arc::new(crate::gpu::bench::random_model(&cfg, 1)),
            Tokenizer::from_bytes(tok).expect("the tiny tokenizer loads"),
        )
    });
    let Ok(m) = Moderator::with_head(trunk.clone(), head, tok.clone(), None) else {
        return false;
    };
    // (Words, not letters: the moderator's normalisation joins spaced-out letters.)
    let long = "aa bb ".repeat(40);
    ["", "aa", &long]
        .iter()
        .map(|t| m.scores(t).is_ok())
        .fold(true, |all, ok| all && ok)
}

/// Asserts that a path the policy accepted (`p` → `normalised`) cannot leave the bundle.
fn assert_safe_relative(p: &str, normalised: &str) {
    assert!(
        !normalised.starts_with('/')
            && !normalised
                .split('/')
                .any(|c| c == ".." || c == "." || c.is_empty() && !normalised.is_empty())
            && !normalised.contains(['\\', ':', '%', '?', '#'])
            && !normalised.chars().any(char::is_control)
            && normalised.trim() == normalised
            && normalised.split('/').all(|c| {
                c.trim() == c && (normalised.is_empty() || !c.chars().all(|x| x == '.' || x == ' '))
            }),
        "the path policy accepted {p:?} as {normalised:?}"
    );
}

/// A temporary bundle: pipeline.json, chat/config.json, moderator/config.json (`head`), and
/// symlinks leading out of it to a file holding [`SECRET`]; every `paths` entry is read through
/// a [`bundle::Dir`], and the bundle is loaded (a head's trunk path too may lead anywhere).
fn dir_reads(pipeline: &str, paths: &[String], head: &str) {
    let root = std::env::temp_dir().join(format!("tinychat-fuzz-bundle-{}", std::process::id()));
    let b = root.join("bundle");
    if !root.join("outside").exists() {
        let _ = std::fs::create_dir_all(root.join("outside"));
        let _ = std::fs::create_dir_all(b.join("chat"));
        let _ = std::fs::write(root.join("outside/secret"), SECRET);
        let _ = std::fs::write(b.join("chat/config.json"), b"{}");
        let _ = std::fs::create_dir_all(b.join("moderator"));
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink(root.join("outside/secret"), b.join("link"));
            let _ = std::os::unix::fs::symlink(root.join("outside"), b.join("out"));
            let _ = std::os::unix::fs::symlink("../outside/secret", b.join("chat/rel"));
        }
    }
    let _ = std::fs::write(b.join("pipeline.json"), pipeline);
    let _ = std::fs::write(b.join("moderator/config.json"), head);
    let dir = bundle::Dir::new(&b);
    for p in paths {
        let Ok(p) = bundle::check_relative("fuzz", p) else {
            continue;
        };
        if let Ok(Some(bytes)) = dir.read(&p) {
            assert!(bytes != SECRET, "{p:?} read the file outside the bundle");
        }
    }
    let _ = bundle::read_pipeline_config(&dir);
    let _ = bundle::load_pipeline(&dir);
}

// ---- GGUF -----------------------------------------------------------------------------------------

/// Small valid GGUF files that structured inputs start from: a llama model with Q4_0 weights,
/// a GPT-2 BPE tokenizer and a chat template, and a SentencePiece tokenizer (no model).
const GGUF_BASES: [&[u8]; 2] = [
    include_bytes!("../tests/fixtures/gguf/tiny_q4_0.gguf"),
    include_bytes!("../tests/fixtures/gguf/spm_tiny.gguf"),
];

/// Metadata keys the loader reads, to be given edge values.
const GGUF_KEYS: &[&str] = &[
    "general.architecture",
    "general.alignment",
    "llama.context_length",
    "llama.embedding_length",
    "llama.block_count",
    "llama.feed_forward_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.attention.key_length",
    "llama.attention.value_length",
    "llama.rope.dimension_count",
    "llama.rope.freq_base",
    "llama.attention.layer_norm_rms_epsilon",
    "llama.vocab_size",
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.scores",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.chat_template",
];

/// A `.gguf` file: parsed (header, metadata, tensor infos, data), its config, tokenizer and
/// template read from the metadata, and, when it loads as a chat model, a short chat and a
/// completion (a few greedy tokens).
pub fn gguf(data: &[u8]) {
    let bytes = match shape(data, 1) {
        Ok(files) => files[0].to_vec(),
        Err(mut inp) => structured_gguf(&mut inp),
    };
    use crate::gguf::{self as g, reader::Gguf};
    let Ok(file) = Gguf::parse(&bytes, "fuzz.gguf") else {
        return;
    };
    for t in &file.tensors {
        let _ = file.tensor_data(t);
    }
    let _ = g::model::config_from_metadata(&file);
    let _ = g::tokenizer::tokenizer_json(&file);
    let _ = g::tokenizer::tokenizer_config_json(&file);
    let Ok(chat) = g::chat_model_from_bytes(&bytes, "fuzz.gguf") else {
        return;
    };
    let params = SamplingParams {
        max_new_tokens: 3,
        ..SamplingParams::default()
    };
    let messages = [
        Message::system("Be brief."),
        Message::user("Hi! ÄÖÜ 你好 <|im_end|>"),
    ];
    let _ = chat.chat(&messages, &params, |_| true);
    let _ = chat.complete("Hello world", &params, |_| true);
}

/// A metadata value at the edges: numbers of every width, NaN, odd strings, arrays empty,
/// long or nested deeper than the reader accepts.
fn gguf_value(inp: &mut Input) -> crate::gguf::reader::Value {
    use crate::gguf::reader::Value as G;
    let edge = *inp.pick(EDGE_INTS);
    match inp.below(12) {
        0 => G::U32(edge as u32),
        1 => G::U64(edge as u64),
        2 => G::I32(edge as i32),
        3 => G::I64(edge as i64),
        4 => G::F32(*inp.pick(&[f32::NAN, f32::INFINITY, -1.0, 0.0, 1e30, 1e-30])),
        5 => G::F64(*inp.pick(&[f64::NAN, f64::NEG_INFINITY, 1e300, 0.5])),
        6 => G::Bool(inp.bool()),
        7 => G::U8(inp.byte()),
        8 => G::Str(inp.text(24)),
        9 => G::Str(
            (*inp.pick(&[
                "llama",
                "gpt2",
                "llama-bpe",
                "qwen2",
                "smollm",
                "",
                "{{ x }}",
            ]))
            .into(),
        ),
        10 => {
            let mut v = G::Str(inp.text(4));
            for _ in 0..inp.below(12) {
                v = G::Array(vec![v]);
            }
            v
        }
        _ => G::Array(
            (0..inp.below(48))
                .map(|i| match inp.below(3) {
                    0 => G::Str(format!("t{i}")),
                    1 => G::I32(edge as i32),
                    _ => G::F32(i as f32),
                })
                .collect(),
        ),
    }
}

/// One of [`GGUF_BASES`] with its metadata and tensor infos damaged, written back; sometimes
/// a count in the header is damaged too.
fn structured_gguf(inp: &mut Input) -> Vec<u8> {
    use crate::gguf::reader::{Gguf, Value as G};
    use crate::gguf::writer::Writer;
    let base = GGUF_BASES[inp.below(GGUF_BASES.len())];
    let mut w = Writer::from_gguf(&Gguf::parse(base, "base").expect("the base GGUF parses"));
    for _ in 0..1 + inp.below(4) {
        match inp.below(9) {
            0 | 1 => {
                let key = *inp.pick(GGUF_KEYS);
                let v = gguf_value(inp);
                w.set(key, v);
            }
            2 if !w.metadata.is_empty() => {
                let i = inp.below(w.metadata.len());
                w.metadata[i].1 = gguf_value(inp);
            }
            3 => {
                // An array cut short, grown, or with one element changed.
                let arrays: Vec<usize> = (0..w.metadata.len())
                    .filter(|&i| matches!(w.metadata[i].1, G::Array(_)))
                    .collect();
                if arrays.is_empty() {
                    continue;
                }
                let i = *inp.pick(&arrays);
                let (how, n, v) = (inp.below(3), inp.below(64), gguf_value(inp));
                if let G::Array(a) = &mut w.metadata[i].1 {
                    match how {
                        0 => a.truncate(n.min(a.len())),
                        1 => {
                            let x = a.first().cloned().unwrap_or(G::U8(0));
                            a.extend(std::iter::repeat_n(x, n));
                        }
                        _ if !a.is_empty() => {
                            let j = n % a.len();
                            a[j] = v;
                        }
                        _ => {}
                    }
                }
            }
            4 if !w.metadata.is_empty() => {
                let i = inp.below(w.metadata.len());
                w.metadata.remove(i);
            }
            5 | 6 if !w.tensors.is_empty() => {
                // A tensor's shape, type or data changed.
                let i = inp.below(w.tensors.len());
                let edge = *inp.pick(EDGE_INTS) as u64 as usize;
                let (how, n) = (inp.below(5), inp.below(64));
                let t = &mut w.tensors[i];
                match how {
                    0 if !t.1.is_empty() => {
                        let d = n % t.1.len();
                        t.1[d] = edge;
                    }
                    1 => t.1.push(edge.min(1 << 20)),
                    2 => t.2 = n as u32,
                    3 => {
                        let keep = t.3.len().saturating_sub(n);
                        t.3.truncate(keep);
                    }
                    _ => t.0 = inp.text(16),
                }
            }
            7 if !w.tensors.is_empty() => {
                // A tensor dropped or named twice.
                let i = inp.below(w.tensors.len());
                if inp.bool() {
                    w.tensors.remove(i);
                } else {
                    let t = w.tensors[i].clone();
                    w.tensors.push(t);
                }
            }
            _ => w.version = *inp.pick(&[1, 2, 3, 4, u32::MAX]),
        }
    }
    // The writer pads to general.alignment itself: keep it from allocating gigabytes here (the
    // reader sees large alignments through byte-level mutations of the seeds).
    if let Some((_, G::U32(a))) = w
        .metadata
        .iter_mut()
        .find(|(k, _)| k == "general.alignment")
    {
        if *a > 1 << 16 {
            *a = (*a % (1 << 16)) + 1;
        }
    }
    let mut bytes = w.to_bytes();
    if inp.bool() && bytes.len() >= 24 {
        let at = *inp.pick(&[8usize, 16]);
        let v = *inp.pick(EDGE_INTS) as u64;
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    bytes
}

// ---- generation_config.json -----------------------------------------------------------------------

/// generation_config.json: parsed, then driving a generator over logits from the input (NaN
/// and infinities included) until it stops.
pub fn generation_config(data: &[u8]) {
    let (json, mut inp) = match shape(data, 2) {
        Ok(files) => (text(files[0]), Input::new(files[1])),
        Err(mut inp) => {
            let mut m = Map::new();
            for _ in 0..inp.below(6) {
                let key = *inp.pick(&[
                    "max_new_tokens",
                    "temperature",
                    "top_k",
                    "top_p",
                    "repetition_penalty",
                    "do_sample",
                    "eos_token_id",
                ]);
                m.insert(key.into(), edge_value(&mut inp));
            }
            if inp.bool() {
                m.insert("do_sample".into(), json!(true));
            }
            (Value::Object(m).to_string(), inp)
        }
    };
    let Ok(mut params) =
        SamplingParams::from_generation_config_json(&json, "fuzz/generation_config.json")
    else {
        return;
    };
    params.seed = inp.byte() as u64;
    let context = 1 + inp.below(64);
    let prompt: Vec<u32> = (0..1 + inp.below(8))
        .map(|_| inp.below(16) as u32)
        .collect();
    let Ok(mut g) = Generator::new(&prompt, params, context) else {
        return;
    };
    let vocab = 1 + inp.below(16);
    for _ in 0..context + 1 {
        if g.take_input().is_empty() && g.finished().is_some() {
            break;
        }
        let mut logits: Vec<f32> = (0..vocab)
            .map(|_| {
                *inp.pick(&[
                    0.0,
                    1.0,
                    -1.0,
                    f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    1e30,
                    -1e30,
                    0.5,
                ])
            })
            .collect();
        if g.push_logits(&mut logits).is_none() {
            break;
        }
    }
    assert!(g.generated().len() <= context, "generated past the context");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = frame(&[b"abc", b"", b"tail"]);
        assert_eq!(unframe(&f[1..], 3), vec![&b"abc"[..], b"", b"tail"]);
        assert_eq!(unframe(&[9, 9], 2), vec![&b""[..], b""]);
    }

    #[test]
    fn the_bundle_harness_reaches_a_head_on_its_tiny_trunk() {
        let head = |window: u64, max_windows: u64| {
            json!({
                "model_type": "tinychat_moderation_head", "trunk": "../chat", "layers": 2,
                "prefix": "a", "window": window, "max_windows": max_windows, "hidden": 3,
                "hidden_size": TRUNK_DIM, "id2label": {"0": "violence", "1": "hate"}
            })
            .to_string()
        };
        assert!(head_on_a_tiny_trunk(&head(8, 64)));
        // A text longer than max_windows windows is refused, not cut; bad sizes never load.
        assert!(!head_on_a_tiny_trunk(&head(8, 1)));
        assert!(!head_on_a_tiny_trunk(&head(u64::MAX, 64)));
        assert!(!head_on_a_tiny_trunk(&head(8, 0)));
    }

    #[test]
    fn the_gguf_harness_builds_structured_files_that_load() {
        // The structured inputs start from valid files: with no damage chosen (the writer
        // round-trip alone), the base loads as a chat model.
        use crate::gguf::{reader::Gguf, writer::Writer};
        // (The SentencePiece base has a tokenizer and no model.)
        let [model, spm] =
            GGUF_BASES.map(|b| Writer::from_gguf(&Gguf::parse(b, "base").unwrap()).to_bytes());
        crate::gguf::chat_model_from_bytes(&model, "base").unwrap();
        crate::gguf::tokenizer::tokenizer(&Gguf::parse(&spm, "base").unwrap()).unwrap();
        for i in 0..64u8 {
            gguf(&[1, i, i.wrapping_mul(7), 3, i ^ 0x55, 0, 9]);
        }
    }
}

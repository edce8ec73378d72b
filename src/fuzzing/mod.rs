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

mod bundles;
mod gguf_files;
mod model_files;
mod templates;
mod tokenizers;

pub use bundles::bundle;
use bundles::{GGUF_BASES, GGUF_KEYS};
pub use gguf_files::gguf;
pub use model_files::model;
use templates::SECRET;
pub use templates::{chat_template, template_overrides};
pub use tokenizers::tokenizer;

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
    #[allow(unused_imports)]
    use super::{bundles::*, gguf_files::*, model_files::*, templates::*, tokenizers::*};

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
        // Tuned blocks: the top one loads and scores; all of them, or more, never load.
        let tuned = |k: u64| {
            let mut h: serde_json::Value = serde_json::from_str(&head(8, 64)).unwrap();
            h["tuned_blocks"] = json!(k);
            h.to_string()
        };
        assert!(head_on_a_tiny_trunk(&tuned(1)));
        assert!(!head_on_a_tiny_trunk(&tuned(2)));
        assert!(!head_on_a_tiny_trunk(&tuned(u64::MAX)));
        // As low-rank corrections: a rank past a matrix's size is its size; past 4096, refused.
        let ranked = |rank: u64| {
            let mut h: serde_json::Value = serde_json::from_str(&tuned(1)).unwrap();
            h["block_rank"] = json!(rank);
            h.to_string()
        };
        assert!(head_on_a_tiny_trunk(&ranked(1)));
        assert!(head_on_a_tiny_trunk(&ranked(4096)));
        assert!(!head_on_a_tiny_trunk(&ranked(4097)));
        assert!(!head_on_a_tiny_trunk(&ranked(u64::MAX)));
        // In blocks.gguf: whole blocks load; with a rank, or a format of no name, never.
        let gguf = |h: &str, format: &str| {
            let mut h: serde_json::Value = serde_json::from_str(h).unwrap();
            h["blocks_format"] = json!(format);
            h.to_string()
        };
        assert!(head_on_a_tiny_trunk(&gguf(&tuned(1), "gguf")));
        assert!(!head_on_a_tiny_trunk(&gguf(&ranked(1), "gguf")));
        assert!(!head_on_a_tiny_trunk(&gguf(&tuned(1), "q8")));
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

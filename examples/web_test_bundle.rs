//! Writes a small pipeline bundle for the browser tests whose outcome must not depend on what a
//! training run learned (streaming in pieces, exact flags, errors). The demo's own bundle is the
//! trained one, `web/models/default/` (made by `tinychat train all --preset tiny`):
//!
//! ```text
//! cargo run --example web_test_bundle -- web/models/test
//! ```
//!
//! - `chat/`: a random llama (the byte-level tokenizer and ChatML template of `tests/common`),
//!   nudged toward lower-case letters, spaces and full stops so its babble streams in sentences.
//! - `moderator/`: a *keyword* classifier built by hand, not trained, loaded through the same
//!   loaders as a trained one. Its tokenizer adds one token per trigger word (`kill`, `suicide`...,
//!   see [`TRIGGERS`]); attention with zero queries and keys averages the values over the window,
//!   so the last position holds, per category, the fraction of tokens that are its triggers; the
//!   head turns "fraction > 0" into a score near 1 and "no trigger" into about 0.15. So "How do I
//!   kill someone?" flags `violence` and "What is the capital of France?" passes, every time.
//! - `pipeline.json`: thresholds 0.5, moderation chunks of at most 48 characters.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{byte_tokenizer_json, random_params, tiny_llama_config, write_model_dir};
use std::path::{Path, PathBuf};
use tinychat::params::{LayerSlot, Params, Slot};

const CATS: [&str; 6] = [
    "harassment",
    "hate",
    "self-harm",
    "sexual",
    "violence",
    "illicit",
];

/// (category index, word): the keyword classifier's lexicon.
const TRIGGERS: [(usize, &str); 8] = [
    (0, "idiot"),
    (0, "loser"),
    (1, "vermin"),
    (2, "suicide"),
    (3, "nsfw"),
    (4, "kill"),
    (4, "murder"),
    (5, "meth"),
];

fn main() {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            eprintln!("usage: cargo run --example web_test_bundle -- OUT_DIR");
            std::process::exit(2)
        });
    std::fs::create_dir_all(&out).expect("create the output directory");
    write_chat(&out.join("chat"));
    write_moderator(&out.join("moderator"));
    let pipeline = serde_json::json!({
        "chat_model": "chat",
        "moderator": "moderator",
        "thresholds": CATS.iter().map(|c| (c.to_string(), serde_json::json!(0.5))).collect::<serde_json::Map<_, _>>(),
        "system_prompt": "You are tinychat.",
        "moderation": {"max_chunk_chars": 48, "context_chars": 48},
        "sampling": {"temperature": 0.8, "top_p": 0.95, "seed": 1, "max_new_tokens": 48}
    });
    tinychat::io::write_json_atomic(&out.join("pipeline.json"), &pipeline)
        .expect("write pipeline.json");
    println!("wrote a test bundle to {}", out.display());
}

/// A random llama whose output prefers `a`–`z`, space and `.`: dimension 0 of the residual
/// stream is a constant (every embedding has 1 there and no layer writes to it), so column 0 of
/// the untied lm_head acts as a per-token bias.
fn write_chat(dir: &Path) {
    let mut cfg = tiny_llama_config(&[], 512);
    cfg.tie_embeddings = false;
    let mut p = random_params(&cfg, 7, 0.3);
    let c = cfg.dim;
    let emb = p.get_mut(Slot::TokEmb).unwrap();
    for row in emb.chunks_mut(c) {
        row[0] = 3.0;
    }
    for l in 0..cfg.n_layers {
        for s in [LayerSlot::Wo, LayerSlot::WDown] {
            // row 0 of (C, ·): the output that would write dimension 0
            let w = p.get_mut(Slot::Layer(l, s)).unwrap();
            let cols = w.len() / c;
            w[..cols].fill(0.0);
        }
    }
    let head = p.get_mut(Slot::LmHead).unwrap();
    for (v, row) in head.chunks_mut(c).enumerate() {
        // a small random part, so the context still matters a little
        row.iter_mut().for_each(|x| *x *= 0.2);
        row[0] = match v as u8 {
            _ if v >= 256 => 0.0,
            b' ' => 4.0,
            b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'h' | b'r' => 3.0,
            b'a'..=b'z' => 2.2,
            b'.' => 1.8,
            _ => -4.0,
        };
    }
    write_model_dir(dir, &cfg, &p);
}

/// The keyword classifier; see the module docs. Residual layout (C = 32): dimension 0 is a
/// constant 1 (the head's bias), 1..=6 mark a trigger of category 0..5, 8..=13 receive the
/// attention average of those marks. Everything else is zero.
fn write_moderator(dir: &Path) {
    let mut cfg = tiny_llama_config(&CATS, 64);
    cfg.vocab_size = 259 + TRIGGERS.len();
    let c = cfg.dim;
    let mut p = Params::zeros(&cfg);
    // norms are 1, everything else starts at zero
    for spec in p.layout.specs.clone() {
        if spec.shape.len() == 1 && spec.name.contains("norm") {
            p.data[spec.offset..spec.offset + spec.len].fill(1.0);
        }
    }
    let emb = p.get_mut(Slot::TokEmb).unwrap();
    for (v, row) in emb.chunks_mut(c).enumerate() {
        row[0] = 1.0;
        if v >= 259 {
            row[1 + TRIGGERS[v - 259].0] = 4.0;
        }
    }
    // Layer 0: V copies marks 1..=6 into kv dims 0..=5 (kv head 0, so query heads 0 and 1 read
    // it); Wo writes query head 0's output dims 0..=5 to residual dims 8..=13.
    let kvd = cfg.kv_dim();
    let qd = cfg.q_dim();
    let wv = p.get_mut(Slot::Layer(0, LayerSlot::Wv)).unwrap();
    for j in 0..CATS.len() {
        wv[j * c + 1 + j] = 1.0; // (NKV*HS, C)
    }
    assert!(CATS.len() <= kvd);
    let wo = p.get_mut(Slot::Layer(0, LayerSlot::Wo)).unwrap();
    for j in 0..CATS.len() {
        wo[(8 + j) * qd + j] = 1.0; // (C, NH*HS)
    }
    // Head: score_j = 40·h[8+j] − 0.3·h[0]. Without a trigger h[8+j] = 0 and the logit is about
    // −0.3·√C ≈ −1.7 (score ≈ 0.15); one trigger in a 64-token window makes h[8+j]/h[0] ≥ 0.08
    // and the logit ≥ +10.
    let head = p.get_mut(Slot::ClsHead).unwrap();
    for j in 0..CATS.len() {
        head[j * c + 8 + j] = 40.0;
        head[j * c] = -0.3;
    }
    write_model_dir(dir, &cfg, &p);
    // The trigger words as added tokens (whole words only), after the byte and ChatML tokens.
    let mut tok: serde_json::Value = serde_json::from_str(&byte_tokenizer_json()).unwrap();
    let added = tok["added_tokens"].as_array_mut().unwrap();
    for (i, (_, word)) in TRIGGERS.iter().enumerate() {
        added.push(
            serde_json::json!({"id": 259 + i, "content": word, "single_word": true,
            "lstrip": false, "rstrip": false, "normalized": false, "special": false}),
        );
    }
    std::fs::write(dir.join("tokenizer.json"), tok.to_string()).unwrap();
    // A classifier needs no chat template or generation settings.
    for f in ["tokenizer_config.json", "generation_config.json"] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
}

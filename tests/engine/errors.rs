//! Bad inputs get clear errors: each test damages a copy of tests/fixtures/llama_tiny (or feeds
//! a bad prompt) and checks the message names the file, the tensor or the field at fault.

use safetensors::tensor::TensorView;
use safetensors::SafeTensors;
use std::path::{Path, PathBuf};
use tinychat::engine::Engine;
use tinychat::generate::Generator;
use tinychat::{Error, FinishReason, Model, SamplingParams};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/llama_tiny");

/// A fresh copy of the llama fixture's config.json and model.safetensors.
fn fixture_copy(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinychat-errors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(Path::new(FIXTURE).join(f), d.join(f)).unwrap();
    }
    d
}

fn load_err(dir: &Path) -> String {
    let err = Model::load(dir).err().expect("loading must fail");
    let msg = err.to_string();
    let _ = std::fs::remove_dir_all(dir);
    msg
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected {p:?} in the message: {msg}");
    }
}

/// Rewrites model.safetensors, passing each (name, shape, bytes) through `edit` (None drops it).
fn rewrite_tensors(
    dir: &Path,
    edit: impl Fn(&str, Vec<usize>, Vec<u8>) -> Option<(Vec<usize>, Vec<u8>)>,
) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut kept: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in st.tensors() {
        if let Some((shape, data)) = edit(&name, view.shape().to_vec(), view.data().to_vec()) {
            kept.push((name, view.dtype(), shape, data));
        }
    }
    let views: Vec<(String, TensorView)> = kept
        .iter()
        .map(|(n, dt, s, d)| (n.clone(), TensorView::new(*dt, s.clone(), d).unwrap()))
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn edit_config(dir: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, v.to_string()).unwrap();
}

#[test]
fn the_undamaged_copy_loads() {
    let dir = fixture_copy("ok");
    Model::load(&dir).expect("the fixture loads");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_safetensors() {
    let dir = fixture_copy("truncated");
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_has(
        &load_err(&dir),
        &[
            "model.safetensors",
            "not a valid safetensors file",
            "truncated",
        ],
    );

    // Shorter than the 8-byte header length.
    let dir = fixture_copy("truncated-header");
    std::fs::write(dir.join("model.safetensors"), [1u8, 2, 3]).unwrap();
    assert_has(&load_err(&dir), &["not a valid safetensors file"]);
}

#[test]
fn corrupt_safetensors_header() {
    // Garbage in the JSON header.
    let dir = fixture_copy("corrupt-json");
    let path = dir.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..24].copy_from_slice(b"\xff\xfe not json!!!!!");
    std::fs::write(&path, &bytes).unwrap();
    assert_has(
        &load_err(&dir),
        &["model.safetensors", "not a valid safetensors file"],
    );

    // A header length far beyond the file.
    let dir = fixture_copy("corrupt-length");
    let path = dir.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert_has(
        &load_err(&dir),
        &["model.safetensors", "not a valid safetensors file"],
    );
}

#[test]
fn tensor_of_the_wrong_shape() {
    let dir = fixture_copy("shape");
    // Same number of elements, other shape: only the shape check can catch it.
    rewrite_tensors(&dir, |name, shape, data| {
        if name == "model.layers.1.self_attn.q_proj.weight" {
            Some((vec![32, 128], data))
        } else {
            Some((shape, data))
        }
    });
    assert_has(
        &load_err(&dir),
        &[
            "model.layers.1.self_attn.q_proj.weight",
            "[32, 128]",
            "the config needs [64, 64]",
        ],
    );
}

#[test]
fn missing_tensor() {
    let dir = fixture_copy("missing");
    rewrite_tensors(&dir, |name, shape, data| {
        (name != "model.layers.0.mlp.up_proj.weight").then_some((shape, data))
    });
    assert_has(
        &load_err(&dir),
        &[
            "model.layers.0.mlp.up_proj.weight",
            "is missing",
            "[144, 64]",
        ],
    );

    // An untied head must be stored.
    let dir = fixture_copy("missing-head");
    rewrite_tensors(&dir, |name, shape, data| {
        (name != "lm_head.weight").then_some((shape, data))
    });
    assert_has(&load_err(&dir), &["lm_head.weight", "is missing"]);
}

#[test]
fn missing_weights_file() {
    let dir = fixture_copy("no-file");
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    assert_has(&load_err(&dir), &["model.safetensors", "No such file"]);
}

#[test]
fn unknown_model_type() {
    let dir = fixture_copy("model-type");
    edit_config(&dir, |v| v["model_type"] = "mamba".into());
    assert_has(
        &load_err(&dir),
        &[
            "unknown model_type \"mamba\"",
            "config.json",
            "\"llama\"",
            "\"gpt2\"",
        ],
    );
    let dir = fixture_copy("no-model-type");
    edit_config(&dir, |v| {
        v.as_object_mut().unwrap().remove("model_type");
    });
    assert_has(&load_err(&dir), &["config.json", "model_type is missing"]);
}

#[test]
fn inconsistent_head_counts() {
    let dir = fixture_copy("heads");
    edit_config(&dir, |v| v["num_key_value_heads"] = 3.into());
    assert_has(
        &load_err(&dir),
        &[
            "config.json",
            "num_attention_heads (4) must be a multiple of num_key_value_heads (3)",
        ],
    );
    // Without head_dim, hidden_size must split evenly over the heads.
    let dir = fixture_copy("heads-dim");
    edit_config(&dir, |v| {
        v.as_object_mut().unwrap().remove("head_dim");
        v["num_attention_heads"] = 5.into();
        v["num_key_value_heads"] = 5.into();
    });
    assert_has(
        &load_err(&dir),
        &["hidden_size 64 is not divisible by num_attention_heads 5"],
    );
}

#[test]
fn invalid_config_json() {
    let dir = fixture_copy("json");
    std::fs::write(dir.join("config.json"), "{\"model_type\": \"llama\",").unwrap();
    assert_has(&load_err(&dir), &["config.json", "invalid JSON"]);
    let dir = fixture_copy("field");
    edit_config(&dir, |v| {
        v.as_object_mut().unwrap().remove("hidden_size");
    });
    assert_has(&load_err(&dir), &["config.json", "hidden_size"]);
}

fn fixture_model() -> std::sync::Arc<Model> {
    std::sync::Arc::new(Model::load(FIXTURE).unwrap())
}

#[test]
fn prompt_longer_than_the_context() {
    let model = fixture_model();
    let context = model.config.max_seq_len; // 128
    let p = SamplingParams::default();
    for len in [context, context + 1, 3 * context] {
        let prompt: Vec<u32> = (0..len as u32).map(|i| i % 200).collect();
        let err = Engine::cpu(model.clone())
            .generate(&prompt, &p, |_| true)
            .unwrap_err();
        assert!(
            matches!(err, Error::PromptTooLong { tokens, context: 128 } if tokens == len),
            "{err:?}"
        );
        assert_has(
            &err.to_string(),
            &[
                &format!("the prompt has {len} tokens"),
                "the model's context holds 128",
            ],
        );
    }
    // The forward pass itself refuses to overrun its cache.
    let mut cache = model.new_cache();
    let err = model
        .forward(&[1; 129], &mut cache, tinychat::Logits::Last)
        .unwrap_err();
    assert!(matches!(err, Error::PromptTooLong { .. }), "{err:?}");

    // A prompt that fits stops when the context is full: no error, finish reason "length".
    let prompt: Vec<u32> = (0..120).collect();
    let g = Engine::cpu(model.clone())
        .generate(
            &prompt,
            &SamplingParams {
                max_new_tokens: 50,
                ..Default::default()
            },
            |_| true,
        )
        .unwrap();
    assert_eq!((g.tokens.len(), g.finish_reason), (8, FinishReason::Length));
}

#[test]
fn empty_prompt() {
    let model = fixture_model();
    let mut cache = model.new_cache();
    let err = Engine::cpu(model.clone())
        .generate(&[], &SamplingParams::default(), |_| true)
        .unwrap_err();
    assert!(matches!(err, Error::EmptyPrompt), "{err:?}");
    assert_has(&err.to_string(), &["the prompt is empty"]);
    let err = model
        .forward(&[], &mut cache, tinychat::Logits::Last)
        .unwrap_err();
    assert!(matches!(err, Error::EmptyPrompt), "{err:?}");
    assert!(Generator::new(&[], SamplingParams::default(), 128).is_err());
}

#[test]
fn token_ids_outside_the_vocabulary() {
    let model = fixture_model();
    let mut cache = model.new_cache();
    let err = model
        .forward(&[3, 211], &mut cache, tinychat::Logits::Last)
        .unwrap_err();
    assert_has(
        &err.to_string(),
        &["token id 211 is outside the vocabulary (size 211)"],
    );
}

#[test]
fn bad_sampling_parameters() {
    let model = fixture_model();
    for (p, want) in [
        (
            SamplingParams {
                temperature: -1.0,
                ..Default::default()
            },
            "temperature",
        ),
        (
            SamplingParams {
                top_p: 0.0,
                ..Default::default()
            },
            "top_p",
        ),
        (
            SamplingParams {
                repetition_penalty: f32::NAN,
                ..Default::default()
            },
            "repetition_penalty",
        ),
    ] {
        let err = Engine::cpu(model.clone())
            .generate(&[1, 2], &p, |_| true)
            .unwrap_err();
        assert_has(&err.to_string(), &["invalid argument", want]);
    }
}

//! Builders for small real models used by integration tests: a byte-level BPE tokenizer without
//! merges (every byte is a token) and randomly initialised llama models saved as Hugging Face
//! directories, loaded back through the real loaders.
#![allow(dead_code)]

use std::path::Path;
use tinychat::config::{Family, ModelConfig};
use tinychat::generate::Rng;
use tinychat::params::Params;

pub const SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

pub const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// GPT-2's byte → printable character map.
fn byte_chars() -> Vec<char> {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    let mut out = vec![' '; 256];
    for (b, c) in bs.iter().zip(cs) {
        out[*b as usize] = char::from_u32(c).unwrap();
    }
    out
}

/// tokenizer.json of a byte-level BPE with 256 byte tokens and the ChatML specials (256..259).
pub fn byte_tokenizer_json() -> String {
    let chars = byte_chars();
    let vocab: serde_json::Map<String, serde_json::Value> = chars
        .iter()
        .enumerate()
        .map(|(i, c)| (c.to_string(), i.into()))
        .collect();
    let added: Vec<serde_json::Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            serde_json::json!({"id": 256 + i, "content": s, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": []}
    })
    .to_string()
}

pub fn tiny_llama_config(labels: &[&str], max_seq_len: usize) -> ModelConfig {
    ModelConfig {
        family: Family::Llama,
        vocab_size: 259,
        dim: 32,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 8,
        hidden_dim: 64,
        max_seq_len,
        norm_eps: 1e-5,
        rope_theta: 10000.0,
        tie_embeddings: true,
        attn_bias: false,
        mlp_bias: false,
        bos_token_id: None,
        eos_token_ids: vec![258],
        pad_token_id: None,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        pooling: Default::default(),
        causal: true,
    }
}

/// Random weights: norms 1, everything else N(0, std).
pub fn random_params(cfg: &ModelConfig, seed: u64, std: f32) -> Params {
    let mut p = Params::zeros(cfg);
    let mut rng = Rng::new(seed);
    for spec in p.layout.specs.clone() {
        let dst = &mut p.data[spec.offset..spec.offset + spec.len];
        if spec.shape.len() == 1 && spec.name.contains("norm") {
            dst.fill(1.0);
        } else {
            dst.iter_mut().for_each(|x| *x = rng.normal() * std);
        }
    }
    p
}

/// Writes a loadable model directory: config.json, model.safetensors, tokenizer.json,
/// tokenizer_config.json (ChatML), generation_config.json.
pub fn write_model_dir(dir: &Path, cfg: &ModelConfig, params: &Params) {
    std::fs::create_dir_all(dir).unwrap();
    tinychat::io::write_json_atomic(&dir.join("config.json"), &cfg.to_hf_json()).unwrap();
    tinychat::weights::save(
        params,
        cfg,
        dir.join("model.safetensors"),
        tinychat::weights::DType::F32,
    )
    .unwrap();
    std::fs::write(dir.join("tokenizer.json"), byte_tokenizer_json()).unwrap();
    let tc =
        serde_json::json!({"chat_template": CHATML, "eos_token": "<|im_end|>", "bos_token": null});
    std::fs::write(dir.join("tokenizer_config.json"), tc.to_string()).unwrap();
    std::fs::write(
        dir.join("generation_config.json"),
        r#"{"eos_token_id": 258}"#,
    )
    .unwrap();
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    // Suites share one test binary and run in parallel: a counter keeps two calls apart.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("tinychat-test-{}-{}-{n}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Checks `grads` (the analytic gradient of `loss` at `p`) against central differences with step
/// 1e-2 at each index of `idx`: relative error below 5e-2, relative to max(|g|, |fd|, 1e-2).
/// Returns (parameters checked, worst relative error).
pub fn check_grad_fd(
    p: &Params,
    grads: &[f32],
    idx: impl IntoIterator<Item = usize>,
    mut loss: impl FnMut(&Params) -> f64,
) -> (usize, f64) {
    let (mut worst, mut checked) = (0.0f64, 0);
    for i in idx {
        let h = 1e-2f32;
        let mut q = p.clone();
        q.data[i] += h;
        let up = loss(&q);
        q.data[i] -= 2.0 * h;
        let down = loss(&q);
        let fd = (up - down) / (2.0 * h as f64);
        let g = grads[i] as f64;
        let err = (g - fd).abs() / g.abs().max(fd.abs()).max(1e-2);
        worst = worst.max(err);
        checked += 1;
        assert!(
            err < 5e-2,
            "param {i}: analytic {g:.6} vs finite difference {fd:.6}"
        );
    }
    (checked, worst)
}

/// Training fixtures shared by the `train_*` suites (feature `train`).
#[cfg(feature = "train")]
pub mod train {
    use std::path::Path;
    use tinychat::train::data::{prepare, CorpusOptions};
    use tinychat::train::pretrain::{self, PretrainOptions};
    use tinychat::train::settings::Overrides;
    use tinychat::train::tokenizer_train::{self, TokenizerOptions};
    use tinychat::train::trainer::RunOptions;

    /// `docs` documents of `len` words drawn from `words` (seeded), each `Doc {d}. … {end}`,
    /// written to root/docs.jsonl and prepared into `corpus` with 10% for validation.
    pub fn random_corpus(
        root: &Path,
        corpus: &Path,
        words: &[&str],
        seed: u64,
        (docs, len): (usize, usize),
        end: &str,
    ) {
        let mut rng = tinychat::generate::Rng::new(seed);
        let mut lines = String::new();
        for d in 0..docs {
            let text: Vec<&str> = (0..len)
                .map(|_| words[(rng.next_u64() % words.len() as u64) as usize])
                .collect();
            let doc = format!("Doc {d}. {}{end}", text.join(" "));
            lines.push_str(&serde_json::json!({ "text": doc }).to_string());
            lines.push('\n');
        }
        std::fs::write(root.join("docs.jsonl"), lines).unwrap();
        prepare(&CorpusOptions {
            out: corpus.to_path_buf(),
            cache: root.join("cache"),
            input: vec![root.join("docs.jsonl")],
            no_default: true,
            val_percent: 10,
        })
        .unwrap();
    }

    /// A 300-token byte-level BPE (with the ChatML specials) trained on root/corpus, in root/tok.
    pub fn small_tokenizer(root: &Path) {
        tokenizer_train::run(&TokenizerOptions {
            data: root.join("corpus"),
            vocab_size: 300,
            min_frequency: 2,
            out: root.join("tok"),
        })
        .unwrap();
    }

    /// Pretrains a 32-wide llama (2 layers, 4/2 heads, FFN 64, batch 2) on root/corpus with
    /// root/tok for `steps` steps of `seq_len` tokens, into root/pre.
    pub fn tiny_pretrain(root: &Path, seq_len: usize, steps: usize) {
        pretrain::run(&PretrainOptions {
            overrides: Overrides {
                dim: Some(32),
                layers: Some(2),
                heads: Some(4),
                kv_heads: Some(2),
                ffn: Some(64),
                seq_len: Some(seq_len),
                batch_size: Some(2),
                steps: Some(steps),
                warmup: Some(1),
                ..Default::default()
            },
            data: root.join("corpus"),
            tokenizer: root.join("tok"),
            run: RunOptions {
                quiet: true,
                ..RunOptions::new(root.join("pre"), 100)
            },
            ..Default::default()
        })
        .unwrap();
    }
}

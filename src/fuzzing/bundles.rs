//! The bundle harness: pipeline.json, file paths through the path policy over a temporary bundle with symlinks out, and moderation heads' trunks.

use super::*;

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
pub(super) fn structured_head(inp: &mut Input, trunk: &str) -> Value {
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
        h["tuned_blocks"] = size(inp);
    }
    if inp.bool() {
        h["block_rank"] = size(inp);
    }
    if inp.bool() {
        h["blocks_format"] = json!(["gguf", "safetensors", "q8"][inp.byte() as usize % 3]);
    }
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
pub(super) const TRUNK_DIM: usize = 8;

/// A head from `config` (its model.safetensors made to fit it when its sizes are small) on a
/// tiny random trunk, scoring a few texts: the sizes a head's config.json names must be
/// refused or honoured, never wrap or panic. True when the head loaded and scored every text.
pub(super) fn head_on_a_tiny_trunk(config: &str) -> bool {
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
    let Ok(mut head) = ModerationHead::from_bytes(config, &st, "fuzz/head") else {
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
    // Tuned blocks, when the config names them: the trunk's own, written and read back as a
    // bundle's blocks.safetensors (whole, or as zero corrections at the config's rank) or
    // blocks.gguf.
    let (k, layers) = (head.config.tuned_blocks, head.config.layers);
    if k > 0 {
        let blocks = match trunk.blocks_model(layers.saturating_sub(k)..layers) {
            Ok(b) => b,
            Err(_) => return false,
        };
        let p = blocks.to_params();
        let first = layers.saturating_sub(k);
        let bytes = match (head.config.blocks_format, head.config.block_rank) {
            (crate::moderation::head::BlocksFormat::Gguf, _) => {
                crate::moderation::blocks_gguf::to_bytes(&blocks, crate::quant::QType::F16, first)
            }
            (_, 0) => crate::weights::to_bytes(&p, &blocks.config, crate::weights::DType::F16),
            (_, r) => crate::moderation::low_rank::to_bytes(&p, &p, &blocks.config, r),
        }
        .expect("the trunk's blocks serialize");
        if head.load_blocks(trunk, &bytes, "fuzz/head").is_err() {
            return false;
        }
    }
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
pub(super) fn assert_safe_relative(p: &str, normalised: &str) {
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
pub(super) fn dir_reads(pipeline: &str, paths: &[String], head: &str) {
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
pub(super) const GGUF_BASES: [&[u8]; 2] = [
    include_bytes!("../../tests/fixtures/gguf/tiny_q4_0.gguf"),
    include_bytes!("../../tests/fixtures/gguf/spm_tiny.gguf"),
];

/// Metadata keys the loader reads, to be given edge values.
pub(super) const GGUF_KEYS: &[&str] = &[
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

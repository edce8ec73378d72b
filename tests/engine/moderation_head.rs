//! Moderation heads on a pretrained trunk (`moderation/head.rs`): a head directory that names
//! a GGUF trunk beside it, scored against the head's maths written out here; a bundle whose
//! chat model is that trunk loads it once and shares it; bad heads and texts give clear
//! results or errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tinychat::moderation::head::{pool, HeadPooling};
use tinychat::moderation::Moderator;
use tinychat::pipeline::Pipeline;

const TRUNK: &str = "tiny_q8_0.gguf";
const LABELS: [&str; 3] = ["harassment", "violence", "self-harm"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rand(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = tinychat::generate::Rng::new(seed);
    (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
}

struct HeadWeights {
    mean: Vec<f32>,
    std: Vec<f32>,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

const C: usize = 32;
const H: usize = 8;

fn weights() -> HeadWeights {
    weights_for(C)
}

/// A head's weights for a trunk of width `c`.
fn weights_for(c: usize) -> HeadWeights {
    HeadWeights {
        mean: rand(c, 1),
        std: rand(c, 2).iter().map(|v| 0.5 + v.abs()).collect(),
        w1: rand(H * c, 3),
        b1: rand(H, 4),
        w2: rand(LABELS.len() * H, 5),
        b2: rand(LABELS.len(), 6),
    }
}

fn config(trunk: &str, layers: usize, hidden_size: usize) -> serde_json::Value {
    serde_json::json!({
        "model_type": "tinychat_moderation_head",
        "trunk": trunk,
        "layers": layers,
        "pooling": "mean",
        "prefix": "<",
        "suffix": ">",
        "window": 8,
        "max_windows": 4,
        "hidden": H,
        "hidden_size": hidden_size,
        "id2label": LABELS.iter().enumerate().map(|(i, l)| (i.to_string(), *l)).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

fn write_head(dir: &Path, cfg: &serde_json::Value, w: &HeadWeights) {
    use safetensors::tensor::{Dtype, TensorView};
    std::fs::create_dir_all(dir).unwrap();
    let c = w.mean.len();
    let named: Vec<(&str, Vec<usize>, &[f32])> = vec![
        ("mean", vec![c], &w.mean),
        ("std", vec![c], &w.std),
        ("w1", vec![H, c], &w.w1),
        ("b1", vec![H], &w.b1),
        ("w2", vec![LABELS.len(), H], &w.w2),
        ("b2", vec![LABELS.len()], &w.b2),
    ];
    let bytes: Vec<Vec<u8>> = named
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView)> = named
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            (
                n.to_string(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(
        dir.join("model.safetensors"),
        safetensors::serialize(views, None::<std::collections::HashMap<String, String>>).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
}

/// A bundle: the tiny GGUF as the chat model, and a head beside it that names it as trunk.
fn bundle(name: &str, cfg: serde_json::Value) -> PathBuf {
    let dir = crate::common::temp_dir(name);
    std::fs::copy(
        root().join("tests/fixtures/gguf").join(TRUNK),
        dir.join(TRUNK),
    )
    .unwrap();
    let width = cfg["hidden_size"].as_u64().unwrap() as usize;
    write_head(&dir.join("moderator"), &cfg, &weights_for(width));
    std::fs::write(
        dir.join("pipeline.json"),
        serde_json::json!({"chat_model": TRUNK, "moderator": "moderator"}).to_string(),
    )
    .unwrap();
    dir
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044715 * x * x * x)).tanh())
}

/// The head's maths, written out: standardize, W1, GELU, W2, sigmoid.
fn expected_scores(p: &[f32], w: &HeadWeights) -> Vec<f32> {
    let z: Vec<f32> = (0..C).map(|i| (p[i] - w.mean[i]) / w.std[i]).collect();
    let g: Vec<f32> = (0..H)
        .map(|j| gelu(w.b1[j] + (0..C).map(|i| w.w1[j * C + i] * z[i]).sum::<f32>()))
        .collect();
    (0..LABELS.len())
        .map(|l| {
            let x = w.b2[l] + (0..H).map(|j| w.w2[l * H + j] * g[j]).sum::<f32>();
            1.0 / (1.0 + (-x).exp())
        })
        .collect()
}

#[test]
fn a_head_scores_what_its_maths_says_and_shares_the_chat_models_trunk() {
    let dir = bundle("head_bundle", config(&format!("../{TRUNK}"), 2, C));
    let p = Pipeline::load(&dir).unwrap();
    assert!(
        Arc::ptr_eq(&p.chat.model, &p.moderator.model),
        "the head's trunk is the chat model's weights, loaded once"
    );
    assert_eq!(p.moderator.labels(), LABELS);

    // The text's positions of "<" + text + ">" through both blocks, mean-pooled, by hand.
    let text = "hello there";
    let tok = &p.moderator.tokenizer;
    let prefix = tok.encode("<", false).unwrap();
    let body = tok.encode(text, false).unwrap();
    assert!(body.len() <= 8, "one window");
    let mut ids = prefix.clone();
    ids.extend(&body);
    ids.extend(tok.encode(">", false).unwrap());
    let x = p.moderator.model.trunk_states(&ids, 2).unwrap();
    let pooled = pool(
        &x,
        C,
        prefix.len()..prefix.len() + body.len(),
        HeadPooling::Mean,
    );
    let want = expected_scores(&pooled, &weights());
    let got = p.moderator.scores(text).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "scores {got:?}, by hand {want:?}");
    }

    // The standalone head directory loads too (its trunk named relative to it).
    let m = Moderator::load(dir.join("moderator")).unwrap();
    assert_eq!(m.scores(text).unwrap(), got);

    // The browser's file list names the trunk once: it is the chat model.
    let cfg = p.config.clone();
    let files =
        tinychat::bundle::pipeline_files(&cfg, Some(&tinychat::bundle::Dir::new(&dir))).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == TRUNK).count(),
        1,
        "{names:?}"
    );
    assert!(names.contains(&"moderator/config.json"), "{names:?}");
    assert!(names.contains(&"moderator/model.safetensors"), "{names:?}");
    assert!(
        !names.contains(&"moderator/blocks.safetensors"),
        "a head without tuned blocks fetches none: {names:?}"
    );
}

#[test]
fn empty_and_long_texts_are_a_result_or_a_clear_error() {
    let dir = bundle("head_texts", config(&format!("../{TRUNK}"), 1, C));
    let m = Moderator::load(dir.join("moderator")).unwrap();
    // Empty text: read as one space, scored like any text.
    let s = m.scores("").unwrap();
    assert_eq!(s.len(), LABELS.len());
    assert!(s.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
    // Up to max_windows windows: every window is read (the worst one counts).
    let medium = "ab ".repeat(4);
    assert_eq!(m.scores(&medium).unwrap().len(), LABELS.len());
    // 1 MB: refused with the numbers, never cut short silently.
    let huge = "abc def ".repeat(1 << 17);
    let e = m.scores(&huge).unwrap_err().to_string();
    assert!(e.contains("too long to moderate at once"), "{e}");
    assert!(e.contains("split it"), "{e}");
}

#[test]
fn a_head_with_a_missing_or_mismatched_trunk_is_refused_by_name() {
    // The trunk it names is not there.
    let dir = bundle("head_missing", config("../missing.gguf", 1, C));
    let e = Moderator::load(dir.join("moderator"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("missing.gguf"), "{e}");
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(e.contains("missing.gguf"), "{e}");

    // Trained on a trunk of another width.
    let dir = bundle("head_width", config(&format!("../{TRUNK}"), 1, 576));
    let e = Moderator::load(dir.join("moderator"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("another model"), "{e}");

    // More blocks than the trunk has.
    let dir = bundle("head_depth", config(&format!("../{TRUNK}"), 30, C));
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(
        e.contains("30 blocks") && e.contains("another model"),
        "{e}"
    );

    // A trunk outside the bundle is refused before anything is read.
    let dir = bundle("head_escape", config("../../elsewhere.gguf", 1, C));
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(e.contains("elsewhere.gguf"), "{e}");
}

/// The bytes of tuned blocks for `tuned` blocks below `layers` of the fixture trunk: its own
/// blocks, every value moved a little (so they differ from the trunk's), in f16 as training
/// writes them; with the model they load as.
fn tuned_blocks(layers: usize, tuned: usize) -> (Vec<u8>, tinychat::Model) {
    let trunk = tinychat::ChatModel::load(root().join("tests/fixtures/gguf").join(TRUNK))
        .unwrap()
        .model;
    let blocks = trunk.blocks_model(layers - tuned..layers).unwrap();
    let mut p = blocks.to_params();
    let noise = rand(p.data.len(), 9);
    for (v, r) in p.data.iter_mut().zip(noise) {
        *v += 0.05 * r;
    }
    let bytes =
        tinychat::weights::to_bytes(&p, &blocks.config, tinychat::weights::DType::F16).unwrap();
    let w =
        tinychat::weights::weights_from_bytes(&bytes, &blocks.config, Path::new("blocks")).unwrap();
    (bytes, tinychat::Model::from_weights(blocks.config, w))
}

/// A bundle whose head tunes its top block of two (blocks.safetensors beside it).
fn tuned_bundle(name: &str) -> (PathBuf, tinychat::Model) {
    let mut cfg = config(&format!("../{TRUNK}"), 2, C);
    cfg["tuned_blocks"] = 1.into();
    let dir = bundle(name, cfg);
    let (bytes, blocks) = tuned_blocks(2, 1);
    std::fs::write(dir.join("moderator/blocks.safetensors"), bytes).unwrap();
    (dir, blocks)
}

/// Asserts that the browser fetches `file` of the bundle at `dir` (loaded as `p`), as required.
fn assert_fetches(p: &Pipeline, dir: &Path, file: &str) {
    let files = tinychat::bundle::pipeline_files(&p.config, Some(&tinychat::bundle::Dir::new(dir)))
        .unwrap();
    assert!(
        files.iter().any(|f| f.path == file && f.required),
        "{files:?}"
    );
}

/// A head with tuned top blocks: the trunk's block 0, then the head's own block (not the
/// trunk's block 1), pooled and scored by the head's maths written out; the trunk is still the
/// chat model's, loaded once, and the browser fetches the blocks.
#[test]
fn a_head_with_tuned_blocks_runs_them_on_the_trunks_states() {
    let (dir, blocks) = tuned_bundle("head_tuned");
    let p = Pipeline::load(&dir).unwrap();
    assert!(Arc::ptr_eq(&p.chat.model, &p.moderator.model));
    let text = "hello there";
    let tok = &p.moderator.tokenizer;
    let prefix = tok.encode("<", false).unwrap();
    let body = tok.encode(text, false).unwrap();
    let mut ids = prefix.clone();
    ids.extend(&body);
    ids.extend(tok.encode(">", false).unwrap());
    let x = p.moderator.model.trunk_states(&ids, 1).unwrap();
    let x = blocks.blocks_on_states(x).unwrap();
    let text_rows = prefix.len()..prefix.len() + body.len();
    let want = expected_scores(
        &pool(&x, C, text_rows.clone(), HeadPooling::Mean),
        &weights(),
    );
    let got = p.moderator.scores(text).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "scores {got:?}, by hand {want:?}");
    }
    // Not what the trunk's own block 1 gives.
    let plain = p.moderator.model.trunk_states(&ids, 2).unwrap();
    let untuned = expected_scores(&pool(&plain, C, text_rows, HeadPooling::Mean), &weights());
    assert!(
        got.iter().zip(&untuned).any(|(a, b)| (a - b).abs() > 1e-3),
        "the tuned block changed nothing: {got:?}"
    );
    // The head's directory on its own, as `tinychat moderate --model <dir>` opens it.
    let m = Moderator::open(dir.join("moderator")).unwrap();
    assert_eq!(m.scores(text).unwrap(), got);
    assert_fetches(&p, &dir, "moderator/blocks.safetensors");
}

/// Tuned blocks that are missing, of another shape, or as many as the blocks the head reads:
/// each an error that names the file or the field.
#[test]
fn a_head_with_missing_or_mismatched_tuned_blocks_is_refused_by_name() {
    let (dir, _) = tuned_bundle("head_tuned_missing");
    std::fs::remove_file(dir.join("moderator/blocks.safetensors")).unwrap();
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(e.contains("moderator/blocks.safetensors"), "{e}");

    // Blocks of another width of the MLP (the file is refused by its size before any tensor).
    let (dir, blocks) = tuned_bundle("head_tuned_shape");
    let other = tinychat::ModelConfig {
        hidden_dim: blocks.config.hidden_dim / 2,
        ..blocks.config.clone()
    };
    let bytes = tinychat::weights::to_bytes(
        &tinychat::Params::zeros(&other),
        &other,
        tinychat::weights::DType::F16,
    )
    .unwrap();
    std::fs::write(dir.join("moderator/blocks.safetensors"), bytes).unwrap();
    let e = Moderator::load(dir.join("moderator"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("moderator/blocks.safetensors") && e.contains("does not belong"),
        "{e}"
    );

    // More blocks than the trunk has, the top one tuned.
    let (dir, _) = tuned_bundle("head_tuned_deep");
    let mut cfg = config(&format!("../{TRUNK}"), 30, C);
    cfg["tuned_blocks"] = 1.into();
    std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(e.contains("config.json") && e.contains("layers 30"), "{e}");

    // Every block tuned: the trunk would run none.
    let (dir, _) = tuned_bundle("head_tuned_all");
    let mut cfg = config(&format!("../{TRUNK}"), 2, C);
    cfg["tuned_blocks"] = 2.into();
    std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
    let e = Pipeline::load(&dir).err().unwrap().to_string();
    assert!(
        e.contains("tuned_blocks 2") && e.contains("config.json"),
        "{e}"
    );
}

/// A head whose tuned block ships as low-rank corrections (`"block_rank"`): at full rank it
/// scores as the whole block does; at rank 4 the loaded block is the trunk's plus a rank-4
/// part of the change, nearer the tuned block than the trunk's; a missing or mis-shaped factor
/// is refused by name.
#[test]
fn a_head_with_low_rank_blocks_adds_them_to_the_trunks_weights() {
    use tinychat::moderation::low_rank;
    let trunk = tinychat::ChatModel::load(root().join("tests/fixtures/gguf").join(TRUNK))
        .unwrap()
        .model;
    let base = trunk.blocks_model(1..2).unwrap();
    let p0 = base.to_params();
    // The change `tuned_blocks` makes, on the blocks' own tensors (the blocks model's unused
    // embedding row and final norm are the trunk's in a low-rank file).
    let mut tuned = p0.clone();
    let noise = rand(p0.data.len(), 9);
    for spec in p0.layout.specs.iter() {
        if matches!(spec.slot, tinychat::params::Slot::Layer(..)) {
            for i in spec.offset..spec.offset + spec.len {
                tuned.data[i] += 0.05 * noise[i];
            }
        }
    }
    let dist = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>();
    let text = "hello there";
    let (whole_dir, _) = tuned_bundle("head_tuned_whole");
    let whole = Moderator::load(whole_dir.join("moderator")).unwrap();
    for (rank, name) in [(32, "head_low_rank_full"), (4, "head_low_rank_4")] {
        let (dir, _) = tuned_bundle(name);
        let mut cfg = config(&format!("../{TRUNK}"), 2, C);
        cfg["tuned_blocks"] = 1.into();
        cfg["block_rank"] = rank.into();
        std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
        let bytes = low_rank::to_bytes(&p0, &tuned, &base.config, rank).unwrap();
        std::fs::write(dir.join("moderator/blocks.safetensors"), &bytes).unwrap();
        let m = Moderator::load(dir.join("moderator")).unwrap();
        let loaded = m
            .head
            .as_ref()
            .unwrap()
            .blocks
            .as_ref()
            .unwrap()
            .to_params();
        let (to_tuned, moved) = (dist(&loaded.data, &tuned.data), dist(&p0.data, &tuned.data));
        if rank == 32 {
            // Every matrix of the C = 32 fixture has rank ≤ 32: the tuned block, to f16.
            assert!(to_tuned < 1e-4 * moved, "{to_tuned} of {moved}");
            let (a, b) = (m.scores(text).unwrap(), whole.scores(text).unwrap());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-3, "low-rank {a:?}, whole {b:?}");
            }
        } else {
            assert!(
                to_tuned < moved && to_tuned > 0.1 * moved,
                "{to_tuned} of {moved}"
            );
        }
    }
    let (dir, _) = tuned_bundle("head_low_rank_bad");
    let mut cfg = config(&format!("../{TRUNK}"), 2, C);
    cfg["tuned_blocks"] = 1.into();
    cfg["block_rank"] = 4.into();
    std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
    // Factors written at rank 2 where the config says 4; then the whole blocks of `tuned_bundle`.
    let load_err = || {
        Moderator::load(dir.join("moderator"))
            .err()
            .unwrap()
            .to_string()
    };
    let rank_2 = low_rank::to_bytes(&p0, &tuned, &base.config, 2).unwrap();
    for bytes in [rank_2, tuned_blocks(2, 1).0] {
        std::fs::write(dir.join("moderator/blocks.safetensors"), &bytes).unwrap();
        let e = load_err();
        assert!(
            e.contains("moderator/blocks.safetensors") && e.contains("lora_A"),
            "{e}"
        );
    }
    // Corrections that push a weight past f16's range (a crafted or diverged file).
    let mut huge = tuned.clone();
    let wq = p0
        .layout
        .spec(tinychat::params::Slot::Layer(
            0,
            tinychat::params::LayerSlot::Wq,
        ))
        .unwrap();
    huge.data[wq.offset] = 1e6;
    let bytes = low_rank::to_bytes(&p0, &huge, &base.config, 4).unwrap();
    std::fs::write(dir.join("moderator/blocks.safetensors"), &bytes).unwrap();
    let e = load_err();
    assert!(
        e.contains("blocks.safetensors") && e.contains("f16's range"),
        "{e}"
    );
    // A low-rank file under a config that names no rank, and a rank past the limit.
    cfg.as_object_mut().unwrap().remove("block_rank");
    std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
    let e = load_err();
    assert!(
        e.contains("config.json") && e.contains("no block_rank"),
        "{e}"
    );
    cfg["block_rank"] = 5000.into();
    std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
    let e = load_err();
    assert!(
        e.contains("config.json") && e.contains("block_rank 5000"),
        "{e}"
    );
}

/// Tuned blocks shipped as Q8_0 in blocks.gguf (`"blocks_format": "gguf"`): they load as the
/// file's packed matrices, score within Q8_0's error of the f16 blocks, and the browser fetches
/// blocks.gguf. A file of other blocks, a missing tensor, a missing file, or a rank with gguf:
/// each refused by name.
#[test]
fn a_head_with_q8_0_blocks_in_gguf_runs_them() {
    use tinychat::moderation::blocks_gguf;
    use tinychat::quant::QType;
    let text = "hello there";
    let (f16_dir, blocks) = tuned_bundle("head_gguf_f16");
    let f16 = Moderator::load(f16_dir.join("moderator")).unwrap();
    let (dir, _) = tuned_bundle("head_gguf");
    let mut cfg = config(&format!("../{TRUNK}"), 2, C);
    cfg["tuned_blocks"] = 1.into();
    cfg["blocks_format"] = "gguf".into();
    std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
    std::fs::remove_file(dir.join("moderator/blocks.safetensors")).unwrap();
    let bytes = blocks_gguf::to_bytes(&blocks, QType::Q8_0, 1).unwrap();
    std::fs::write(dir.join("moderator/blocks.gguf"), &bytes).unwrap();

    let p = Pipeline::load(&dir).unwrap();
    assert!(Arc::ptr_eq(&p.chat.model, &p.moderator.model));
    let loaded = p.moderator.head.as_ref().unwrap().blocks.as_ref().unwrap();
    assert_eq!(loaded.storage(), QType::Q8_0);
    // Each matrix is the f16 block's, quantized: rows back in Hugging Face's order.
    let (a, b) = (loaded.to_params(), blocks.to_params());
    let err = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    let big = b.data.iter().map(|x| x.abs()).fold(0.0, f32::max);
    assert!(err > 0.0 && err < big / 100.0, "Q8_0 error {err} of {big}");
    let (got, want) = (p.moderator.scores(text).unwrap(), f16.scores(text).unwrap());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-2, "Q8_0 {got:?}, f16 {want:?}");
    }
    assert_fetches(&p, &dir, "moderator/blocks.gguf");

    let load_err = || Pipeline::load(&dir).err().unwrap().to_string();
    // Blocks written for another place in the trunk.
    std::fs::write(
        dir.join("moderator/blocks.gguf"),
        blocks_gguf::to_bytes(&blocks, QType::Q8_0, 0).unwrap(),
    )
    .unwrap();
    let e = load_err();
    assert!(
        e.contains("moderator/blocks.gguf") && e.contains("tinychat.blocks.first"),
        "{e}"
    );
    // A GGUF model (the trunk itself) in its place.
    std::fs::copy(
        root().join("tests/fixtures/gguf").join(TRUNK),
        dir.join("moderator/blocks.gguf"),
    )
    .unwrap();
    let e = load_err();
    assert!(
        e.contains("moderator/blocks.gguf")
            && e.contains("not a file of a moderator's tuned blocks"),
        "{e}"
    );
    // A tensor missing.
    let g = tinychat::gguf::Gguf::parse(&bytes, "blocks").unwrap();
    let mut w = tinychat::gguf::Writer::from_gguf(&g);
    w.tensors.retain(|t| t.0 != "blk.0.ffn_up.weight");
    std::fs::write(dir.join("moderator/blocks.gguf"), w.to_bytes()).unwrap();
    let e = load_err();
    assert!(e.contains("blk.0.ffn_up.weight"), "{e}");
    // The file missing, and a rank with gguf.
    std::fs::remove_file(dir.join("moderator/blocks.gguf")).unwrap();
    let e = load_err();
    assert!(e.contains("moderator/blocks.gguf"), "{e}");
    std::fs::write(dir.join("moderator/blocks.gguf"), &bytes).unwrap();
    cfg["block_rank"] = 4.into();
    std::fs::write(dir.join("moderator/config.json"), cfg.to_string()).unwrap();
    let e = load_err();
    assert!(
        e.contains("config.json") && e.contains("blocks_format gguf"),
        "{e}"
    );
}

#[test]
fn a_head_scores_the_same_on_a_gpu_engine() {
    use tinychat::engine::{Backend, Engine, EngineOptions};
    use tinychat::quant::QType;
    let Some(g) = crate::gpu_ops::gpu() else {
        return;
    };
    // A head on the trunk's two blocks, and one that tunes the top block (the trunk's block 0
    // on the GPU, its own block on the CPU).
    let plain = bundle("head_gpu", config(&format!("../{TRUNK}"), 2, C));
    let (tuned, _) = tuned_bundle("head_gpu_tuned");
    for dir in [plain, tuned] {
        let m = Moderator::load(dir.join("moderator")).unwrap();
        // The CPU twin on the trunk's Q8_0 weights dequantized to f32: the CPU's decode
        // kernels round x to 8 bits for a quantized matrix (short windows take them), the GPU
        // keeps x in f32.
        let mut cpu = Moderator::load(dir.join("moderator")).unwrap();
        let mut w = m.model.weights.clone();
        w.cast_matrices(QType::F32, true);
        cpu.model = Arc::new(tinychat::Model::from_weights(m.model.config.clone(), w));
        let opts = EngineOptions {
            backend: Backend::Gpu,
            gpu: Some(g.clone()),
            ..Default::default()
        };
        let mut e = Engine::new(m.model.clone(), opts).unwrap();
        assert!(e.is_gpu());
        for text in ["", "hello there", "ab ".repeat(5).as_str()] {
            let want = cpu.scores(text).unwrap();
            let got = pollster::block_on(m.scores_async(&mut e, text)).unwrap();
            let d = super::gpu_ops::max_diff(&got, &want);
            println!(
                "head scores of {text:?} ({}) on {}: max abs diff {d:.2e}",
                dir.display(),
                e.describe()
            );
            assert!(d < 1e-4, "{text:?}: GPU {got:?}, CPU {want:?}");
            assert!(e.is_gpu() && e.is_empty());
        }
    }
}

/// The pipeline the browser opens: the chat engine on the GPU, and the moderator's engine on the
/// same device with the options the moderator asks for. A head whose trunk is the chat model
/// reads the chat engine's weights (one upload, `Arc::ptr_eq`, the device's byte count
/// unchanged) with a KV cache of one check's positions, and both engines answer as before:
/// the chat model's greedy tokens with checks run between them, the pooled states and scores
/// against the CPU.
#[test]
fn a_head_shares_the_chat_engines_weights_on_the_gpu() {
    use tinychat::engine::{Backend, Engine, EngineOptions};
    use tinychat::generate::SamplingParams;
    use tinychat::gpu::GpuContext;
    use tinychat::quant::QType;
    // A device of its own: other tests upload to the shared one in parallel.
    let g = match pollster::block_on(GpuContext::new()) {
        Ok(g) => Arc::new(g),
        Err(e) => {
            println!("SKIP: no GPU adapter ({e})");
            return;
        }
    };
    let dir = bundle("head_share", config(&format!("../{TRUNK}"), 2, C));
    let p = Pipeline::load(&dir).unwrap();
    let m = &p.moderator;
    assert!(Arc::ptr_eq(&p.chat.model, &m.model));
    let trunk = &m.model;
    let dequantized = {
        let mut w = trunk.weights.clone();
        w.cast_matrices(QType::F32, true);
        tinychat::Model::from_weights(trunk.config.clone(), w)
    };
    let params = SamplingParams {
        max_new_tokens: 24,
        ..Default::default()
    };
    let prompt: Vec<u32> = vec![1, 5, 9, 14, 20, 27];

    // Before: the chat model alone on this device (a copy of the model: its own upload).
    let alone = tinychat::Model::from_weights(trunk.config.clone(), trunk.weights.clone());
    let mut solo = Engine::new(
        alone,
        EngineOptions {
            gpu: Some(g.clone()),
            ..p.engine_options(Backend::Gpu)
        },
    )
    .unwrap();
    let want = solo.generate(&prompt, &params, |_| true).unwrap().tokens;
    let want_len = solo.len();
    let one_upload = g.weight_bytes_uploaded();
    let gm_bytes = solo.gpu_model().unwrap().bytes();
    assert_eq!(one_upload, gm_bytes);
    drop(solo);

    // The chat engine uploads the trunk once; the moderator's engine adds nothing.
    let mut chat = Engine::new(
        p.chat.model.clone(),
        EngineOptions {
            gpu: Some(g.clone()),
            ..p.engine_options(Backend::Gpu)
        },
    )
    .unwrap();
    assert_eq!(g.weight_bytes_uploaded(), 2 * one_upload);
    let mut me = Engine::new(
        m.model.clone(),
        m.engine_options(Backend::Gpu, Some(g.clone())),
    )
    .unwrap();
    assert!(chat.is_gpu() && me.is_gpu());
    assert_eq!(
        g.weight_bytes_uploaded(),
        2 * one_upload,
        "no second upload"
    );
    assert!(Arc::ptr_eq(
        chat.gpu_model().unwrap(),
        me.gpu_model().unwrap()
    ));
    // The moderator's cache holds one check: "<" + 8 tokens + ">", not the trunk's context.
    let ctx = m.context();
    let prompt_len = |s: &str| m.tokenizer.encode(s, false).unwrap().len();
    assert_eq!(ctx, prompt_len("<") + 8 + prompt_len(">"));
    assert_eq!(me.capacity(), ctx);
    let per_position = chat.gpu_kv_bytes() / chat.capacity() as u64;
    assert_eq!(me.gpu_kv_bytes(), per_position * ctx as u64);
    println!(
        "shared weights: {gm_bytes} bytes uploaded once; KV cache: chat {} positions {} bytes, \
         moderator {ctx} positions {} bytes (the trunk's whole context: {} bytes)",
        chat.capacity(),
        chat.gpu_kv_bytes(),
        me.gpu_kv_bytes(),
        per_position * trunk.config.max_seq_len as u64,
    );

    // Checks between the chat model's tokens: same tokens, and each check as on the CPU.
    let texts = ["hello there", "", &"ab ".repeat(5)];
    let mut cpu = Moderator::load(dir.join("moderator")).unwrap();
    cpu.model = Arc::new(dequantized);
    let mut checked = 0;
    let got = pollster::block_on(chat.generate_async(&prompt, &params, async |_| {
        if checked < texts.len() {
            let text = texts[checked];
            checked += 1;
            let scores = m.scores_async(&mut me, text).await?;
            let want = cpu.scores(text)?;
            let d = super::gpu_ops::max_diff(&scores, &want);
            assert!(d < 1e-4, "{text:?}: GPU {scores:?}, CPU {want:?}");
        }
        Ok(true)
    }))
    .unwrap();
    assert_eq!(checked, texts.len());
    assert_eq!(
        got.tokens, want,
        "the chat model's tokens with checks between them"
    );
    assert!(chat.is_gpu() && me.is_gpu() && me.is_empty());

    // Pooled states of the shared trunk against Model::trunk_states + pool on the CPU.
    let vocab = trunk.config.vocab_size as u32;
    let ids: Vec<u32> = (0..ctx as u32).map(|i| (3 + 7 * i) % vocab).collect();
    for (pooling, text) in [(HeadPooling::Mean, 1..ctx - 1), (HeadPooling::Last, 0..0)] {
        for layers in [1, 2] {
            let want = pool(
                &cpu.model.trunk_states(&ids, layers).unwrap(),
                C,
                text.clone(),
                pooling,
            );
            let got =
                pollster::block_on(me.pooled_async(&ids, layers, text.clone(), pooling)).unwrap();
            let d = super::gpu_ops::max_diff(&got, &want);
            println!("pooled {pooling:?} {text:?} after {layers} blocks: max abs diff {d:.2e}");
            assert!(d < 1e-4, "GPU {got:?}, CPU {want:?}");
            assert!(me.is_gpu());
        }
    }
    // The chat engine's cache holds what the solo engine's held.
    assert_eq!(chat.len(), want_len);

    // Another model (a copy), or the same one in another format, is its own upload; once no
    // engine holds an upload it leaves, and the next engine uploads again.
    let other = Engine::new(
        tinychat::Model::from_weights(trunk.config.clone(), trunk.weights.clone()),
        m.engine_options(Backend::Gpu, Some(g.clone())),
    )
    .unwrap();
    assert!(!Arc::ptr_eq(
        other.gpu_model().unwrap(),
        chat.gpu_model().unwrap()
    ));
    assert_eq!(g.weight_bytes_uploaded(), 3 * one_upload);
    let mut f32_opts = m.engine_options(Backend::Gpu, Some(g.clone()));
    f32_opts.weights = Some(tinychat::gpu::WeightFormat::F32);
    let f32_engine = Engine::new(m.model.clone(), f32_opts).unwrap();
    assert!(!Arc::ptr_eq(
        f32_engine.gpu_model().unwrap(),
        chat.gpu_model().unwrap()
    ));
    let after_f32 = g.weight_bytes_uploaded();
    assert!(after_f32 > 3 * one_upload);
    drop((chat, me));
    let again = Engine::new(
        m.model.clone(),
        m.engine_options(Backend::Gpu, Some(g.clone())),
    )
    .unwrap();
    assert!(again.is_gpu());
    assert_eq!(g.weight_bytes_uploaded(), after_f32 + one_upload);
}

/// A trunk's top blocks split off as their own model (`Model::blocks_model`, what a moderator
/// with tuned top blocks starts from) continue the lower blocks' states exactly: blocks 1..2 on
/// the states after block 0 are the states after both blocks, for a prompt and for one position;
/// a bad range or bad states are errors.
#[test]
fn top_blocks_split_off_continue_the_trunk_exactly() {
    let trunk = tinychat::gguf::load_model(root().join("tests/fixtures/gguf").join(TRUNK)).unwrap();
    let ids: Vec<u32> = (1..12).collect();
    let top = trunk.blocks_model(1..2).unwrap();
    assert_eq!(top.config.n_layers, 1);
    assert_eq!(
        top.storage(),
        trunk.storage(),
        "the blocks stay in their storage type"
    );
    let got = top
        .blocks_on_states(trunk.trunk_states(&ids, 1).unwrap())
        .unwrap();
    assert_eq!(got, trunk.trunk_states(&ids, 2).unwrap());
    // One position takes the decode kernels.
    let one = top.blocks_on_states(trunk.trunk_states(&ids[..1], 1).unwrap());
    assert_eq!(one.unwrap(), trunk.trunk_states(&ids[..1], 2).unwrap());
    assert!(trunk.blocks_model(1..3).is_err());
    assert!(trunk.blocks_model(1..1).is_err());
    let err = top.blocks_on_states(vec![0.0; C + 1]).unwrap_err();
    assert!(err.to_string().contains("not T rows of 32"), "{err}");
}

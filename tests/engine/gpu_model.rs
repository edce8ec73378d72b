//! The whole model on the GPU against the CPU engine, on the tiny llama and gpt2 fixtures
//! (tests/fixtures): prefill logits at every position and token-by-token decode through the KV
//! cache within 1e-3, the same 20 greedy tokens (which are also transformers' greedy tokens), and
//! the engine's fallback to the CPU when the device is lost. Classifiers (the moderator) too: every
//! pooling, causal and bidirectional, f32 and f16, and the bundle's own moderator.
//!
//! With no GPU adapter each test prints a SKIP line and passes; CI installs Mesa lavapipe.

use crate::common;

use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tinychat::config::Pooling;
use tinychat::engine::{Backend, Engine, EngineOptions};
use tinychat::generate::{argmax, SamplingParams};
use tinychat::gpu::model::round_matrices_to_f16;
use tinychat::gpu::{GpuContext, GpuModel, GpuSession, WeightFormat};
use tinychat::moderation::Moderator;
use tinychat::{Logits, Model};

const TOL: f32 = 1e-3;
const FIXTURES: [&str; 2] = ["llama_tiny", "gpt2_tiny"];

fn gpu() -> Option<Arc<GpuContext>> {
    static CTX: OnceLock<Option<Arc<GpuContext>>> = OnceLock::new();
    CTX.get_or_init(|| match pollster::block_on(GpuContext::new()) {
        Ok(g) => {
            println!("GPU adapter: {}", g.describe());
            Some(Arc::new(g))
        }
        Err(e) => {
            println!("SKIP: no GPU adapter ({e}); install Mesa lavapipe (mesa-vulkan-drivers) to run these tests");
            None
        }
    })
    .clone()
}

struct Fixture {
    model: Model,
    prompt: Vec<u32>,
    greedy: Vec<u32>,
}

fn fixture(name: &str) -> Fixture {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let model = Model::load(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let ids = |k: &str| -> Vec<u32> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    Fixture {
        model,
        prompt: ids("input_ids"),
        greedy: ids("greedy_tokens"),
    }
}

fn copy(m: &Model) -> Model {
    Model::from_weights(m.config.clone(), m.weights.clone())
}

fn max_diff(label: &str, got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "{label}: length");
    let d = got
        .iter()
        .zip(want)
        .map(|(a, b)| {
            if a.is_finite() {
                (a - b).abs()
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max);
    println!(
        "{label}: max abs diff {d:.3e}   GPU {:?}  CPU {:?}",
        &got[..3],
        &want[..3]
    );
    d
}

fn assert_close(label: &str, got: &[f32], want: &[f32], tol: f32) {
    let d = max_diff(label, got, want);
    assert!(
        d <= tol,
        "{label}: GPU and CPU logits differ by {d} > {tol}\n---> HINT: GpuSession::debug_hidden_async reads back the residual stream after any layer; compare it with the CPU's to find the first op that differs (tests/engine/gpu_ops.rs checks each op alone)"
    );
}

fn session(
    g: &Arc<GpuContext>,
    model: &Model,
    format: WeightFormat,
    chunk: Option<usize>,
) -> GpuSession {
    let gm = Arc::new(GpuModel::new(g.clone(), model, format).unwrap());
    GpuSession::new(gm, None, chunk).unwrap()
}

#[test]
fn prefill_logits_match_cpu() {
    let Some(g) = gpu() else { return };
    for name in FIXTURES {
        let f = fixture(name);
        let want = f
            .model
            .forward(&f.prompt, &mut f.model.new_cache(), Logits::All)
            .unwrap();
        let mut s = session(&g, &f.model, WeightFormat::F32, None);
        let got = s.forward(&f.prompt, Logits::All).unwrap();
        assert_close(
            &format!("{name} prefill, all {} positions", f.prompt.len()),
            &got,
            &want,
            TOL,
        );
        // Prefill in chunks of 5 tokens (several submissions) gives the same logits.
        let mut s = session(&g, &f.model, WeightFormat::F32, Some(5));
        let got = s.forward(&f.prompt, Logits::All).unwrap();
        assert_close(&format!("{name} prefill in chunks of 5"), &got, &want, TOL);
        // Only the last row.
        let mut s = session(&g, &f.model, WeightFormat::F32, None);
        let got = s.forward(&f.prompt, Logits::Last).unwrap();
        let v = f.model.config.vocab_size;
        assert_close(
            &format!("{name} prefill, last position"),
            &got,
            &want[want.len() - v..],
            TOL,
        );
    }
}

#[test]
fn token_by_token_decode_matches_cpu() {
    let Some(g) = gpu() else { return };
    for name in FIXTURES {
        let f = fixture(name);
        let v = f.model.config.vocab_size;
        let want = f
            .model
            .forward(&f.prompt, &mut f.model.new_cache(), Logits::All)
            .unwrap();
        let mut s = session(&g, &f.model, WeightFormat::F32, None);
        let mut worst = 0.0f32;
        for (i, &tok) in f.prompt.iter().enumerate() {
            let got = s.forward(&[tok], Logits::Last).unwrap();
            worst = worst.max(max_diff(
                &format!("{name} decode position {i}"),
                &got,
                &want[i * v..(i + 1) * v],
            ));
        }
        println!("{name} token-by-token decode: worst max abs diff {worst:.3e}");
        assert!(worst <= TOL, "{name}: decode logits differ by {worst}");
        assert_eq!(s.len(), f.prompt.len());
    }
}

#[test]
fn greedy_tokens_match_cpu_and_transformers() {
    let Some(g) = gpu() else { return };
    for name in FIXTURES {
        let f = fixture(name);
        let params = SamplingParams {
            max_new_tokens: 20,
            ..Default::default()
        };
        let cpu = Engine::cpu(copy(&f.model))
            .generate(&f.prompt, &params, |_| true)
            .unwrap()
            .tokens;
        let opts = EngineOptions {
            backend: Backend::Gpu,
            gpu: Some(g.clone()),
            ..Default::default()
        };
        let mut e = Engine::new(copy(&f.model), opts).unwrap();
        assert!(e.is_gpu(), "{}", e.describe());
        let gpu_tokens = e.generate(&f.prompt, &params, |_| true).unwrap().tokens;
        println!("{name}: GPU greedy {gpu_tokens:?}");
        assert_eq!(gpu_tokens, cpu, "{name}: GPU and CPU greedy tokens differ");
        assert_eq!(
            gpu_tokens, f.greedy,
            "{name}: GPU greedy tokens differ from transformers'"
        );

        // The argmax kernel path (4 bytes read back per step) picks the same tokens.
        let mut s = session(&g, &f.model, WeightFormat::F32, None);
        let mut tok = s.forward_argmax(&f.prompt).unwrap();
        let mut out = vec![tok];
        while out.len() < 20 {
            tok = s.forward_argmax(&[tok]).unwrap();
            out.push(tok);
        }
        assert_eq!(out, f.greedy, "{name}: forward_argmax tokens");
    }
}

#[test]
fn f16_weights_match_cpu_on_rounded_weights() {
    let Some(g) = gpu() else { return };
    for name in FIXTURES {
        let f = fixture(name);
        let rounded = Model::new(
            f.model.config.clone(),
            round_matrices_to_f16(&f.model.to_params()),
            tinychat::weights::DType::F32,
        );
        let want = rounded
            .forward(&f.prompt, &mut rounded.new_cache(), Logits::All)
            .unwrap();
        let mut s = session(&g, &f.model, WeightFormat::F16, None);
        let got = s.forward(&f.prompt, Logits::All).unwrap();
        assert_close(&format!("{name} f16 weights, prefill"), &got, &want, 2e-3);
        let v = f.model.config.vocab_size;
        // Greedy decode on f16 weights, against argmax of the rounded CPU model.
        let mut s = session(&g, &f.model, WeightFormat::F16, None);
        let mut cache = rounded.new_cache();
        let mut tok_g = argmax(&s.forward(&f.prompt, Logits::Last).unwrap());
        let mut tok_c = argmax(
            &rounded
                .forward(&f.prompt, &mut cache, Logits::Last)
                .unwrap(),
        );
        for _ in 0..10 {
            assert_eq!(tok_g, tok_c, "{name}: f16 greedy");
            let lg = s.forward(&[tok_g], Logits::Last).unwrap();
            let lc = rounded.forward(&[tok_c], &mut cache, Logits::Last).unwrap();
            assert!(max_diff(&format!("{name} f16 decode"), &lg, &lc) <= 2e-3);
            assert_eq!(lg.len(), v);
            tok_g = argmax(&lg);
            tok_c = argmax(&lc);
        }
    }
}

#[test]
fn debug_hook_reads_one_layer() {
    let Some(g) = gpu() else { return };
    let f = fixture("llama_tiny");
    let mut s = session(&g, &f.model, WeightFormat::F32, None);
    let emb = pollster::block_on(s.debug_hidden_async(&f.prompt, None)).unwrap();
    let c = f.model.config.dim;
    let mut want = vec![0.0; f.prompt.len() * c];
    tinychat::ops::embedding_forward(
        &mut want,
        &f.prompt,
        f.model.weights.t(tinychat::Slot::TokEmb).as_f32(),
        None,
        0,
        c,
    );
    assert_close("llama embedding output", &emb, &want, 0.0);
    let l0 = pollster::block_on(s.debug_hidden_async(&f.prompt, Some(0))).unwrap();
    assert_eq!(l0.len(), want.len());
    assert!(max_diff("layer 0 changes the residual stream", &l0, &want) > 0.0);
    assert_eq!(s.len(), 0, "debug hook leaves the session empty");
}

#[test]
fn engine_cpu_and_gpu_agree_and_device_loss_falls_back_to_cpu() {
    // A context of its own: this test destroys its device.
    let Some(_) = gpu() else { return };
    let g = Arc::new(pollster::block_on(GpuContext::new()).unwrap());
    let f = fixture("gpt2_tiny");
    let want = f
        .model
        .forward(&f.prompt, &mut f.model.new_cache(), Logits::All)
        .unwrap();
    let v = f.model.config.vocab_size;

    let mut cpu = Engine::new(copy(&f.model), EngineOptions::backend(Backend::Cpu)).unwrap();
    assert!(!cpu.is_gpu());
    assert_eq!(cpu.describe(), "CPU");
    let opts = EngineOptions {
        backend: Backend::Auto,
        gpu: Some(g.clone()),
        ..Default::default()
    };
    let mut e = Engine::new(copy(&f.model), opts).unwrap();
    assert!(e.is_gpu(), "Auto picks the GPU when there is one");
    let half = 12;
    let a = e.forward(&f.prompt[..half], Logits::All).unwrap();
    let b = cpu.forward(&f.prompt[..half], Logits::All).unwrap();
    assert_close("engine GPU vs CPU", &a, &b, TOL);

    g.simulate_device_loss();
    // The next step cannot run on the GPU: the engine rebuilds the cache on the CPU and goes on.
    let got = e.forward(&f.prompt[half..], Logits::All).unwrap();
    assert!(
        !e.is_gpu(),
        "after a device loss the engine runs on the CPU"
    );
    let why = e.fallback_reason().expect("a fallback reason").to_string();
    println!("fallback: {why}");
    assert!(why.contains("lost"), "{why}");
    assert_close("after device loss", &got, &want[half * v..], 1e-4);
    assert_eq!(e.len(), f.prompt.len());
}

#[test]
fn auto_declines_a_software_adapter_natively() {
    let Some(g) = gpu() else { return };
    let f = fixture("llama_tiny");
    let e = Engine::new(copy(&f.model), EngineOptions::backend(Backend::Auto)).unwrap();
    println!(
        "Auto on {}: {} ({:?})",
        g.describe(),
        e.describe(),
        e.fallback_reason()
    );
    // GpuContext::new picks the same adapter for the engine as for this test.
    assert_eq!(e.is_gpu(), !g.is_software());
    let forced = Engine::new(copy(&f.model), EngineOptions::backend(Backend::Gpu)).unwrap();
    assert!(
        forced.is_gpu(),
        "Backend::Gpu runs even on a software adapter"
    );
}

/// A random classifier with `pooling` and attention both ways or causal, through the real loader
/// (config.json round trip).
fn random_classifier(pooling: Pooling, causal: bool, seed: u64) -> Model {
    let mut cfg = common::tiny_llama_config(&["a", "b/c", "d"], 64);
    cfg.pooling = pooling;
    cfg.causal = causal;
    cfg.pad_token_id = Some(0);
    let params = common::random_params(&cfg, seed, 0.3);
    let dir = common::temp_dir(&format!("gpu-cls-{}-{causal}-{seed}", pooling.name()));
    common::write_model_dir(&dir, &cfg, &params);
    let m = Model::load(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((m.config.pooling, m.config.causal), (pooling, causal));
    m
}

#[test]
fn classifier_logits_match_cpu_for_every_pooling() {
    let Some(g) = gpu() else { return };
    let cases = [
        (Pooling::Last, true),
        (Pooling::Max, true),
        (Pooling::EchoMax, true),
        (Pooling::Last, false),
        (Pooling::Max, false),
        (Pooling::EchoMax, false),
    ];
    for (i, &(pooling, causal)) in cases.iter().enumerate() {
        let model = random_classifier(pooling, causal, 40 + i as u64);
        let rounded = Model::new(
            model.config.clone(),
            round_matrices_to_f16(&model.to_params()),
            tinychat::weights::DType::F32,
        );
        let window = pooling.window(model.config.max_seq_len);
        for format in [WeightFormat::F32, WeightFormat::F16] {
            let (cpu, tol) = match format {
                WeightFormat::F32 => (&model, 1e-4),
                _ => (&rounded, 2e-3),
            };
            let mut s = session(&g, &model, format, None);
            // One token, an odd length, and a full window (the whole context for max and last).
            for t in [1, 19, window] {
                let tokens: Vec<u32> = (0..t as u32).map(|j| (j * 37 + 5) % 259).collect();
                let want = cpu.classify(&tokens).unwrap();
                let got = s.classify(&tokens).unwrap();
                assert_eq!(got.len(), 3);
                assert_close(
                    &format!("classifier {pooling} causal={causal} {format:?} T={t}"),
                    &got,
                    &want,
                    tol,
                );
                assert_eq!(s.len(), 0, "classify leaves the session empty");
            }
            // Past the context: the same error as the CPU engine, not a wrong answer.
            let long = vec![1u32; window + 1];
            assert!(cpu.classify(&long).is_err());
            let e = s.classify(&long).unwrap_err().to_string();
            assert!(e.contains("context") || e.contains("positions"), "{e}");
        }
        // A session whose steps are shorter than the input refuses it (a bidirectional trunk
        // must see the whole text at once), rather than scoring part of it.
        let mut short = session(&g, &model, WeightFormat::F32, Some(8));
        let e = short.classify(&[3; 19]).unwrap_err().to_string();
        assert!(e.contains("in one step"), "{e}");
        // A classifier has no language-model head on the GPU.
        let mut s = session(&g, &model, WeightFormat::F32, None);
        let e = s.forward(&[1, 2], Logits::Last).unwrap_err().to_string();
        assert!(e.contains("classifier"), "{e}");
    }
}

#[test]
fn the_bundles_moderator_scores_the_same_on_the_gpu() {
    let Some(g) = gpu() else { return };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/models/default/moderator");
    let m = Moderator::load(&dir).unwrap();
    let opts = EngineOptions {
        backend: Backend::Gpu,
        gpu: Some(g.clone()),
        ..Default::default()
    };
    let mut e = Engine::new(m.model.clone(), opts).unwrap();
    assert!(e.is_gpu());
    println!("moderator on {}", e.describe());
    // Short and long texts: the last is many windows of the classifier's 64-token context.
    let long = "I love this recipe, thanks for sharing it. ".repeat(40) + "i'm going to hurt you";
    let texts = [
        "",
        "hello there, how are you?",
        "how do i kill a python process",
        "i'm going to hurt you",
        "h0w d0 1 m@ke a b0mb",
        long.as_str(),
    ];
    for text in texts {
        let want = m.check(text).unwrap();
        let got = pollster::block_on(m.check_async(&mut e, text)).unwrap();
        let (ws, gs): (Vec<f32>, Vec<f32>) = want
            .categories
            .iter()
            .zip(&got.categories)
            .map(|(a, b)| (a.score, b.score))
            .unzip();
        let label: String = text.chars().take(40).collect();
        assert_close(&format!("moderator scores of {label:?}"), &gs, &ws, 1e-4);
        assert_eq!(got.flagged, want.flagged, "{label:?}");
        assert_eq!(got.flagged_categories(), want.flagged_categories());
    }
    // Another model's engine is refused rather than scoring with the wrong weights.
    let other = Moderator::load(&dir).unwrap();
    let err = pollster::block_on(other.check_async(&mut e, "hi")).unwrap_err();
    assert!(err.to_string().contains("another model"), "{err}");
}

#[test]
fn a_moderator_engine_falls_back_to_the_cpu_when_the_device_is_lost() {
    let Some(_) = gpu() else { return };
    // A context of its own: this test destroys its device.
    let g = Arc::new(pollster::block_on(GpuContext::new()).unwrap());
    let model = random_classifier(Pooling::Max, true, 7);
    let tok = tinychat::Tokenizer::from_bytes(common::byte_tokenizer_json().as_bytes()).unwrap();
    let m = Moderator::new(model, tok, None).unwrap();
    let opts = EngineOptions {
        backend: Backend::Auto,
        gpu: Some(g.clone()),
        ..Default::default()
    };
    let mut e = Engine::new(m.model.clone(), opts).unwrap();
    assert!(e.is_gpu());
    // 150 bytes: three overlapping windows of the 64-token context.
    let text = "a text that runs past the context of this classifier, ".repeat(3);
    let want = m.scores(&text).unwrap();
    let got = pollster::block_on(m.scores_async(&mut e, &text)).unwrap();
    assert_close("moderator windows on the GPU", &got, &want, 1e-5);
    g.simulate_device_loss();
    let after = pollster::block_on(m.scores_async(&mut e, &text)).unwrap();
    assert!(
        !e.is_gpu(),
        "after a device loss the moderator runs on the CPU"
    );
    assert_eq!(after, want, "on the CPU the engine is the CPU engine");
}

#[test]
fn moderation_head_trunk_runs_on_the_gpu_and_pools_like_the_cpu() {
    use tinychat::moderation::head::{pool, HeadPooling};
    let Some(g) = gpu() else { return };
    for name in FIXTURES {
        let f = fixture(name);
        let (c, n_layers) = (f.model.config.dim, f.model.config.n_layers);
        let tokens = &f.prompt;
        let t = tokens.len();
        // The session itself: the trunk's rows after each depth, in one step and in steps of 5.
        for chunk in [None, Some(5)] {
            let mut s = session(&g, &f.model, WeightFormat::F32, chunk);
            for layers in 1..=n_layers {
                let want = f.model.trunk_states(tokens, layers).unwrap();
                for rows in [0..t, 3..t - 2, t - 1..t] {
                    let got = pollster::block_on(s.trunk_rows_async(tokens, layers, rows.clone()))
                        .unwrap();
                    let label = format!("{name} trunk of {layers} rows {rows:?} chunk {chunk:?}");
                    assert_close(&label, &got, &want[rows.start * c..rows.end * c], 1e-4);
                    assert!(s.is_empty(), "the session keeps nothing");
                }
            }
            let err = pollster::block_on(s.trunk_rows_async(tokens, n_layers + 1, 0..1));
            assert!(err.unwrap_err().to_string().contains("blocks"));
        }
        // The engine: mean over the text, over everything, the last position; with a
        // conversation held the CPU twin answers and the conversation stays.
        let opts = EngineOptions {
            backend: Backend::Gpu,
            gpu: Some(g.clone()),
            chunk: Some(7),
            ..Default::default()
        };
        let mut e = Engine::new(copy(&f.model), opts).unwrap();
        let cases = [
            (HeadPooling::Mean, 2..t - 1),
            (HeadPooling::Mean, 0..0),
            (HeadPooling::Last, 0..0),
        ];
        for held in [0, 4] {
            if held > 0 {
                e.forward(&tokens[..held], Logits::Last).unwrap();
            }
            for layers in [1, n_layers] {
                for (pooling, text) in cases.clone() {
                    let x = f.model.trunk_states(tokens, layers).unwrap();
                    let want = pool(&x, c, text.clone(), pooling);
                    let got =
                        pollster::block_on(e.pooled_async(tokens, layers, text.clone(), pooling))
                            .unwrap();
                    let label =
                        format!("{name} pooled {pooling:?} {text:?}, {layers} blocks, {held} held");
                    assert_close(&label, &got, &want, 1e-4);
                    assert!(e.is_gpu());
                    assert_eq!(e.len(), held);
                }
            }
        }
        // The conversation held through those calls goes on as the CPU's would.
        let got = e.forward(&tokens[4..], Logits::Last).unwrap();
        let want = f
            .model
            .forward(tokens, &mut f.model.new_cache(), Logits::Last)
            .unwrap();
        assert_close(&format!("{name} after pooling"), &got, &want, TOL);
    }
}

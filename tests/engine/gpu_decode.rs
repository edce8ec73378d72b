//! The GPU engine with packed weights and the GPU-resident decode loop, against the CPU engine:
//! whole models stored in every GGUF format (and in mixed formats, which take the split paths)
//! give the CPU's logits on prefill and decode, long contexts included (split-K attention);
//! `Engine::generate_async` on the GPU — sampling on the GPU, tokens read back in batches —
//! gives the CPU engine's tokens, finish reason and KV-cache length, greedy and sampled, when
//! a stop token or the callback ends it mid-batch, and when the device is lost mid-reply (the
//! CPU finishes it); and a decode step is at most 8 dispatches per layer.

use super::gpu_ops::gpu;
use crate::common;
use std::sync::Arc;
use tinychat::config::ModelConfig;
use tinychat::engine::{Backend, Engine, EngineOptions, Generated};
use tinychat::generate::{FinishReason, SamplingParams};
use tinychat::gpu::{GpuContext, GpuModel, GpuSession};
use tinychat::params::{LayerSlot as LS, Slot};
use tinychat::quant::QType;
use tinychat::weights::DType;
use tinychat::{Logits, Model};

/// A random llama whose widths are whole blocks of 256 (so every format applies): C = 256,
/// NH·HS = 256, FF = 512, GQA 4/2 heads of 64, V = 300.
fn block_config(max_seq_len: usize) -> ModelConfig {
    let mut cfg = common::tiny_llama_config(&[], max_seq_len);
    (cfg.vocab_size, cfg.dim, cfg.n_heads, cfg.n_kv_heads) = (300, 256, 4, 2);
    (cfg.head_dim, cfg.hidden_dim, cfg.n_layers) = (64, 512, 2);
    cfg
}

fn random_model(cfg: &ModelConfig, seed: u64) -> Model {
    Model::new(
        cfg.clone(),
        common::random_params(cfg, seed, 0.05),
        DType::F32,
    )
}

/// `m` with its matrices in `q`, and `mixed` (slot, format) overrides.
fn packed(m: &Model, q: QType, mixed: &[(LS, QType)]) -> Model {
    let mut w = m.weights.clone();
    w.cast_matrices(q, true);
    for l in 0..m.config.n_layers {
        for &(slot, mq) in mixed {
            let i = w.layout.index_of(Slot::Layer(l, slot)).unwrap();
            w.tensors[i] = w.tensors[i].cast(mq);
        }
    }
    Model::from_weights(m.config.clone(), w)
}

fn session(g: &Arc<GpuContext>, m: &Model) -> GpuSession {
    let gm = Arc::new(GpuModel::new(g.clone(), m, None).unwrap());
    GpuSession::new(gm, None, Some(40)).unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn packed_models_match_the_cpu_engine() {
    let Some(g) = gpu() else { return };
    let base = random_model(&block_config(160), 5);
    let prompt: Vec<u32> = (0..45).map(|i| (i * 37 + 11) % 300).collect();
    let cases: Vec<(String, Model)> = vec![
        ("q8_0".into(), packed(&base, QType::Q8_0, &[])),
        ("q4_0".into(), packed(&base, QType::Q4_0, &[])),
        ("q4_1".into(), packed(&base, QType::Q4_1, &[])),
        ("q4_k".into(), packed(&base, QType::Q4K, &[])),
        ("q6_k".into(), packed(&base, QType::Q6K, &[])),
        ("bf16".into(), packed(&base, QType::BF16, &[])),
        (
            // llama.cpp's Q4_K_M mixes: V and W_down in Q6_K; here W_up too, so Q/K/V and
            // gate/up each run apart.
            "q4_k + q6_k (mixed)".into(),
            packed(
                &base,
                QType::Q4K,
                &[
                    (LS::Wv, QType::Q6K),
                    (LS::WUp, QType::Q6K),
                    (LS::WDown, QType::Q6K),
                ],
            ),
        ),
    ];
    for (name, m) in &cases {
        let v = m.config.vocab_size;
        let want = m.forward(&prompt, &mut m.new_cache(), Logits::All).unwrap();
        // Prefill in chunks of 40 (the tiled matmul), all positions' logits.
        let mut s = session(&g, m);
        let got = s.forward(&prompt, Logits::All).unwrap();
        let d = max_diff(&got, &want);
        println!(
            "{name}: prefill max abs diff {d:.3e} ({})",
            s.model.describe_formats()
        );
        assert!(d < 1e-3, "{name}: prefill differs by {d}");
        // Token by token (the fused matvec path).
        let mut s = session(&g, m);
        let mut worst = 0.0f32;
        for (i, &t) in prompt.iter().enumerate().take(12) {
            let got = s.forward(&[t], Logits::Last).unwrap();
            worst = worst.max(max_diff(&got, &want[i * v..(i + 1) * v]));
        }
        println!("{name}: decode max abs diff {worst:.3e}");
        assert!(worst < 1e-3, "{name}: decode differs by {worst}");
    }
}

#[test]
fn long_context_decode_matches_the_cpu() {
    // Past 64 positions a decode step's attention splits (flash-decoding); at 300 positions
    // into five ranges of 64.
    let Some(g) = gpu() else { return };
    let mut cfg = common::tiny_llama_config(&[], 320);
    cfg.vocab_size = 259;
    let m = random_model(&cfg, 9);
    let prompt: Vec<u32> = (0..290).map(|i| (i * 13 + 1) % 259).collect();
    let mut cache = m.new_cache();
    m.forward(&prompt, &mut cache, Logits::Last).unwrap();
    let mut s = session(&g, &m);
    s.forward(&prompt, Logits::Last).unwrap();
    let mut worst = 0.0f32;
    for t in 0..10u32 {
        let want = m.forward(&[t + 3], &mut cache, Logits::Last).unwrap();
        let got = s.forward(&[t + 3], Logits::Last).unwrap();
        worst = worst.max(max_diff(&got, &want));
    }
    println!("decode at positions 290..300: max abs diff {worst:.3e}");
    assert!(worst < 1e-3);
}

fn gpu_engine(g: &Arc<GpuContext>, m: Model) -> Engine {
    let opts = EngineOptions {
        backend: Backend::Gpu,
        gpu: Some(g.clone()),
        ..Default::default()
    };
    let e = Engine::new(m, opts).unwrap();
    assert!(e.is_gpu());
    e
}

/// Generates on both engines; checks tokens, finish reason and cache length agree.
fn same_generation(
    g: &Arc<GpuContext>,
    m: &Model,
    prompt: &[u32],
    p: &SamplingParams,
    stop_after: Option<usize>,
) -> (Generated, Engine, Engine) {
    let copy = |m: &Model| Model::from_weights(m.config.clone(), m.weights.clone());
    let mut cpu = Engine::cpu(copy(m));
    let mut gpu = gpu_engine(g, copy(m));
    let run = |e: &mut Engine| {
        let mut n = 0;
        let out = e
            .generate(prompt, p, |_| {
                n += 1;
                stop_after != Some(n)
            })
            .unwrap();
        (out, e.len())
    };
    let (want, want_len) = run(&mut cpu);
    let (got, got_len) = run(&mut gpu);
    println!(
        "{} tokens ({:?}), cache {got_len}: {:?}",
        got.tokens.len(),
        got.finish_reason,
        &got.tokens[..got.tokens.len().min(16)]
    );
    assert_eq!(got.tokens, want.tokens, "GPU and CPU tokens");
    assert_eq!(got.finish_reason, want.finish_reason);
    assert_eq!(got_len, want_len, "KV cache length after generation");
    assert!(gpu.is_gpu(), "{:?}", gpu.fallback_reason());
    (got, cpu, gpu)
}

#[test]
fn gpu_decode_loop_gives_the_cpu_engines_tokens() {
    let Some(g) = gpu() else { return };
    let cfg = common::tiny_llama_config(&[], 256);
    let m = random_model(&cfg, 21);
    let prompt: Vec<u32> = vec![1, 72, 101, 108, 108, 111];
    let sampled = SamplingParams {
        temperature: 0.9,
        top_k: 30,
        top_p: 0.95,
        repetition_penalty: 1.1,
        seed: 4,
        max_new_tokens: 100,
        ..Default::default()
    };
    let greedy = SamplingParams {
        max_new_tokens: 70,
        ..Default::default()
    };
    same_generation(&g, &m, &prompt, &greedy, None);
    let (out, mut cpu, mut gpu) = same_generation(&g, &m, &prompt, &sampled, None);
    assert_eq!(out.finish_reason, FinishReason::Length);
    // The conversation goes on from the same cache on both engines.
    let a = cpu.forward(&[5, 6], Logits::Last).unwrap();
    let b = gpu.forward(&[5, 6], Logits::Last).unwrap();
    assert!(max_diff(&a, &b) < 1e-3);
    // top_k 0 over all 259 tokens: more than the GPU sampler sorts, so the CPU samples from
    // logits read back — same tokens either way.
    let all = SamplingParams {
        top_k: 0,
        ..sampled.clone()
    };
    same_generation(&g, &m, &prompt, &all, None);
}

#[test]
fn a_stop_token_or_the_callback_ends_the_gpu_loop_mid_batch() {
    let Some(g) = gpu() else { return };
    let cfg = common::tiny_llama_config(&[], 256);
    let m = random_model(&cfg, 22);
    let prompt: Vec<u32> = vec![1, 40, 41, 42];
    let p = SamplingParams {
        temperature: 1.0,
        top_k: 50,
        seed: 9,
        max_new_tokens: 60,
        ..Default::default()
    };
    let (full, _, _) = same_generation(&g, &m, &prompt, &p, None);
    // A stop token first sampled at step 20 (inside a batch of 16): nothing after it counts.
    let stop = full.tokens[20];
    let first = full.tokens.iter().position(|&t| t == stop).unwrap();
    let with_stop = SamplingParams {
        stop_tokens: vec![stop],
        ..p.clone()
    };
    let (out, _, _) = same_generation(&g, &m, &prompt, &with_stop, None);
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert_eq!(out.tokens, full.tokens[..first]);
    // The callback says stop after 13 tokens.
    let (out, _, _) = same_generation(&g, &m, &prompt, &p, Some(13));
    assert_eq!(out.tokens.len(), 13);
    assert_eq!(out.finish_reason, FinishReason::Stop);
}

#[test]
fn a_device_lost_mid_reply_finishes_on_the_cpu_with_the_same_tokens() {
    let Some(_) = gpu() else { return };
    let cfg = common::tiny_llama_config(&[], 256);
    let m = random_model(&cfg, 23);
    let copy = |m: &Model| Model::from_weights(m.config.clone(), m.weights.clone());
    let prompt: Vec<u32> = vec![1, 50, 60, 70];
    for p in [
        SamplingParams {
            max_new_tokens: 40,
            ..Default::default()
        },
        SamplingParams {
            temperature: 0.8,
            top_k: 40,
            repetition_penalty: 1.2,
            seed: 5,
            max_new_tokens: 40,
            ..Default::default()
        },
    ] {
        let want = Engine::cpu(copy(&m))
            .generate(&prompt, &p, |_| true)
            .unwrap();
        // A context of its own: this test destroys its device.
        let g = Arc::new(pollster::block_on(GpuContext::new()).unwrap());
        let mut e = gpu_engine(&g, copy(&m));
        let mut n = 0;
        let got = e
            .generate(&prompt, &p, |_| {
                n += 1;
                if n == 6 {
                    g.simulate_device_loss();
                }
                true
            })
            .unwrap();
        assert!(!e.is_gpu(), "the engine moved to the CPU");
        let why = e.fallback_reason().unwrap_or_default().to_string();
        println!("after the loss: {why}");
        assert!(why.contains("lost"), "{why}");
        assert_eq!(got.tokens, want.tokens, "the reply finished on the CPU");
        assert_eq!(got.finish_reason, want.finish_reason);
        assert_eq!(e.len(), prompt.len() + want.tokens.len() - 1);
    }
}

#[test]
fn a_decode_step_is_at_most_eight_dispatches_per_layer() {
    let Some(g) = gpu() else { return };
    let cfg = common::tiny_llama_config(&[], 256);
    let m = random_model(&cfg, 24);
    let layers = cfg.n_layers;
    let mut s = session(&g, &m);
    let p = SamplingParams::default();
    let settings = s.sample_settings(&p).unwrap();
    let mut gen = tinychat::generate::Generator::new(&[1, 2, 3], p, 256).unwrap();
    s.start_sampling(&gen);
    let first = s.submit_sampled(&[1, 2, 3], settings).unwrap();
    pollster::block_on(first.wait(&s)).unwrap();
    let batch = s.submit_decode(4, settings).unwrap();
    let toks = pollster::block_on(batch.wait(&s)).unwrap();
    assert_eq!(toks.len(), 4);
    let _ = gen.take_input();
    // Embedding, 5 per layer, head (final norm folded in), sampler.
    let per_token = s.last_dispatches();
    println!(
        "decode step: {per_token} dispatches for {layers} layers ({:.1} per layer)",
        per_token as f64 / layers as f64
    );
    assert_eq!(per_token, 1 + 5 * layers + 2);
    assert!(per_token <= 8 * layers);
}

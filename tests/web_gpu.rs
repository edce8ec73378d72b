//! Whole-model parity in the browser: the tiny llama and gpt2 fixtures (embedded with
//! include_bytes!) run on the page's WebGPU adapter (headless Chromium: SwiftShader, which has no
//! shader-f16) and on the CPU engine compiled to wasm; logits must agree within 1e-3 and the
//! greedy tokens must be transformers'; and the CPU engine's simd128 kernels against the scalar
//! reference. Run with scripts/test-browser.sh.

#![cfg(target_arch = "wasm32")]

use std::sync::Arc;
use tinychat::engine::{Backend, Engine, EngineOptions, Fallback};
use tinychat::generate::SamplingParams;
use tinychat::gpu::model::round_matrices_to_f16;
use tinychat::gpu::{webgpu_available, GpuContext, GpuModel, GpuSession, WeightFormat};
use tinychat::{Logits, Model};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

struct Fixture {
    name: &'static str,
    config: &'static str,
    weights: &'static [u8],
    expected: &'static str,
}

const FIXTURES: [Fixture; 2] = [
    Fixture {
        name: "llama_tiny",
        config: include_str!("fixtures/llama_tiny/config.json"),
        weights: include_bytes!("fixtures/llama_tiny/model.safetensors"),
        expected: include_str!("fixtures/llama_tiny/expected.json"),
    },
    Fixture {
        name: "gpt2_tiny",
        config: include_str!("fixtures/gpt2_tiny/config.json"),
        weights: include_bytes!("fixtures/gpt2_tiny/model.safetensors"),
        expected: include_str!("fixtures/gpt2_tiny/expected.json"),
    },
];

fn load(f: &Fixture) -> (Model, Vec<u32>, Vec<u32>) {
    let model = Model::from_bytes(f.config, f.weights, f.name).expect("fixture loads");
    let v: serde_json::Value = serde_json::from_str(f.expected).unwrap();
    let ids = |k: &str| -> Vec<u32> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    (model, ids("input_ids"), ids("greedy_tokens"))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_finite() {
                (x - y).abs()
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max)
}

async fn context() -> Arc<GpuContext> {
    assert!(
        webgpu_available(),
        "navigator.gpu is missing: start Chromium with --enable-unsafe-webgpu (scripts/test-browser.sh does)"
    );
    let g = GpuContext::new().await.expect("a WebGPU adapter");
    console_log!(
        "WebGPU adapter: {} (shader-f16 {})",
        g.describe(),
        if g.features.contains(wgpu::Features::SHADER_F16) {
            "available, unused"
        } else {
            "absent"
        }
    );
    Arc::new(g)
}

#[wasm_bindgen_test]
async fn gpu_matches_cpu_in_the_browser() {
    let g = context().await;
    for f in &FIXTURES {
        let (model, prompt, greedy) = load(f);
        let v = model.config.vocab_size;
        let want = model
            .forward(&prompt, &mut model.new_cache(), Logits::All)
            .unwrap();

        // Prefill, every position.
        let gm = Arc::new(GpuModel::new(g.clone(), &model, WeightFormat::F32).unwrap());
        let mut s = GpuSession::new(gm.clone(), None, None).unwrap();
        let got = s.forward_async(&prompt, Logits::All).await.unwrap();
        let d = max_diff(&got, &want);
        console_log!("{}: prefill logits, max abs diff {d:.3e}", f.name);
        assert!(d <= 1e-3, "{}: prefill differs by {d}", f.name);

        // Token by token through the KV cache.
        let mut s = GpuSession::new(gm, None, None).unwrap();
        let mut worst = 0.0f32;
        for (i, &t) in prompt.iter().enumerate() {
            let got = s.forward_async(&[t], Logits::Last).await.unwrap();
            worst = worst.max(max_diff(&got, &want[i * v..(i + 1) * v]));
        }
        console_log!(
            "{}: token-by-token decode, max abs diff {worst:.3e}",
            f.name
        );
        assert!(worst <= 1e-3, "{}: decode differs by {worst}", f.name);

        // 20 greedy tokens through the engine, as the app generates.
        let opts = EngineOptions {
            backend: Backend::Gpu,
            gpu: Some(g.clone()),
            ..Default::default()
        };
        let mut e = Engine::new_async(
            Model::from_bytes(f.config, f.weights, f.name).unwrap(),
            opts,
        )
        .await
        .unwrap();
        assert!(e.is_gpu());
        let params = SamplingParams {
            max_new_tokens: 20,
            ..Default::default()
        };
        let tokens = e
            .generate_async(&prompt, &params, async |_| Ok(true))
            .await
            .unwrap()
            .tokens;
        console_log!("{}: greedy {:?}", f.name, tokens);
        assert_eq!(tokens, greedy, "{}: greedy tokens", f.name);
    }
}

#[wasm_bindgen_test]
async fn f16_weights_work_without_shader_f16() {
    let g = context().await;
    for f in &FIXTURES {
        let (model, prompt, _) = load(f);
        let rounded = Model::new(
            model.config.clone(),
            round_matrices_to_f16(&model.to_params()),
            tinychat::weights::DType::F32,
        );
        let want = rounded
            .forward(&prompt, &mut rounded.new_cache(), Logits::All)
            .unwrap();
        let gm = Arc::new(GpuModel::new(g.clone(), &model, WeightFormat::F16).unwrap());
        let mut s = GpuSession::new(gm, None, None).unwrap();
        let got = s.forward_async(&prompt, Logits::All).await.unwrap();
        let d = max_diff(&got, &want);
        console_log!("{}: f16 weights, prefill max abs diff {d:.3e}", f.name);
        assert!(d <= 2e-3, "{}: f16 prefill differs by {d}", f.name);
    }
}

/// `auto` passes over a software adapter (SwiftShader, which headless Chromium offers as its
/// `isFallbackAdapter`): the CPU engine decodes faster. `Gpu` uses any adapter.
#[wasm_bindgen_test]
async fn auto_passes_over_a_software_adapter_and_gpu_takes_any() {
    let g = context().await;
    let (model, prompt, _) = load(&FIXTURES[1]);
    let want = model
        .forward(&prompt, &mut model.new_cache(), Logits::Last)
        .unwrap();
    let e = Engine::new_async(model, EngineOptions::backend(Backend::Auto))
        .await
        .unwrap();
    console_log!(
        "Auto engine: {} ({})",
        e.describe(),
        e.fallback_reason().unwrap_or("no fallback")
    );
    if g.is_software() {
        assert!(!e.is_gpu(), "Auto must pass over the software adapter");
        assert_eq!(e.fallback(), Some(Fallback::SoftwareAdapter));
        assert!(e.fallback_reason().unwrap().contains("software renderer"));
    } else {
        assert!(
            e.is_gpu(),
            "Auto should take the hardware adapter: {:?}",
            e.fallback_reason()
        );
    }
    let (model, _, _) = load(&FIXTURES[1]);
    let mut e = Engine::new_async(model, EngineOptions::backend(Backend::Gpu))
        .await
        .unwrap();
    assert!(e.is_gpu());
    let got = e.forward_async(&prompt, Logits::Last).await.unwrap();
    assert!(max_diff(&got, &want) <= 1e-3);
}

#[wasm_bindgen_test]
async fn the_bundles_moderator_scores_the_same_on_webgpu() {
    use tinychat::bundle;
    let file = |name: &str, bytes: &[u8]| (format!("moderator/{name}"), bytes.to_vec());
    let files = bundle::Files {
        files: [
            file(
                "config.json",
                include_bytes!("../web/models/default/moderator/config.json"),
            ),
            file(
                "model.safetensors",
                include_bytes!("../web/models/default/moderator/model.safetensors"),
            ),
            file(
                "tokenizer.json",
                include_bytes!("../web/models/default/moderator/tokenizer.json"),
            ),
            file(
                "thresholds.json",
                include_bytes!("../web/models/default/moderator/thresholds.json"),
            ),
        ]
        .into_iter()
        .collect(),
        origin: "web/models/default".into(),
    };
    let m = bundle::load_moderator(&files, "moderator").expect("the bundle's moderator loads");
    let g = context().await;
    let opts = EngineOptions {
        backend: Backend::Gpu,
        gpu: Some(g),
        ..Default::default()
    };
    let mut e = Engine::new_async(m.model.clone(), opts).await.unwrap();
    assert!(e.is_gpu());
    let long = "Thanks for the recipe, it was lovely. ".repeat(30) + "i'm going to hurt you";
    for text in [
        "hello there, how are you?",
        "i'm going to hurt you",
        "h0w d0 1 m@ke a b0mb",
        long.as_str(),
    ] {
        let want = m.check(text).unwrap();
        let got = m.check_async(&mut e, text).await.unwrap();
        let (ws, gs): (Vec<f32>, Vec<f32>) = want
            .categories
            .iter()
            .zip(&got.categories)
            .map(|(a, b)| (a.score, b.score))
            .unzip();
        let d = max_diff(&gs, &ws);
        let label: String = text.chars().take(30).collect();
        console_log!("moderator {label:?}: max abs score diff {d:.3e}");
        assert!(d <= 1e-4, "{label:?}: scores differ by {d}");
        assert_eq!(got.flagged_categories(), want.flagged_categories());
    }
}

/// A random llama whose widths are whole blocks of 256, so every storage format applies.
fn block_model(seed: u64) -> Model {
    let mut cfg = load(&FIXTURES[0]).0.config;
    (cfg.vocab_size, cfg.dim, cfg.n_heads, cfg.n_kv_heads) = (300, 256, 4, 2);
    (cfg.head_dim, cfg.hidden_dim, cfg.n_layers, cfg.max_seq_len) = (64, 512, 2, 160);
    cfg.tie_embeddings = false;
    let mut p = tinychat::params::Params::zeros(&cfg);
    let mut rng = tinychat::generate::Rng::new(seed);
    for spec in p.layout.specs.clone() {
        let dst = &mut p.data[spec.offset..spec.offset + spec.len];
        match spec.shape.len() == 1 && spec.name.contains("norm") {
            true => dst.fill(1.0),
            false => dst.iter_mut().for_each(|x| *x = rng.normal() * 0.05),
        }
    }
    Model::new(cfg, p, tinychat::weights::DType::F32)
}

#[wasm_bindgen_test]
async fn packed_weights_and_split_attention_match_cpu_in_the_browser() {
    use tinychat::quant::QType;
    let g = context().await;
    let base = block_model(5);
    let prompt: Vec<u32> = (0..90).map(|i| (i * 37 + 11) % 300).collect();
    for q in [
        QType::Q8_0,
        QType::Q4_0,
        QType::Q4_1,
        QType::Q4K,
        QType::Q6K,
        QType::BF16,
    ] {
        let mut w = base.weights.clone();
        w.cast_matrices(q, true);
        let m = Model::from_weights(base.config.clone(), w.clone());
        // The CPU twin holds the same values in f32: its decode kernels round x to 8 bits for
        // a packed format (ops::matvec), the GPU's do not.
        w.cast_matrices(QType::F32, true);
        let cpu = Model::from_weights(base.config.clone(), w);
        let v = m.config.vocab_size;
        let mut cache = cpu.new_cache();
        let want = cpu.forward(&prompt, &mut cache, Logits::All).unwrap();
        let gm = Arc::new(GpuModel::new(g.clone(), &m, None).unwrap());
        let mut s = GpuSession::new(gm, None, Some(64)).unwrap();
        let got = s.forward_async(&prompt, Logits::All).await.unwrap();
        let d = max_diff(&got, &want[..]);
        // Then decode steps past 64 positions: split-K attention and the fused matvec path.
        let mut worst = 0.0f32;
        for t in 0..3u32 {
            let want = cpu.forward(&[t + 1], &mut cache, Logits::Last).unwrap();
            let got = s.forward_async(&[t + 1], Logits::Last).await.unwrap();
            worst = worst.max(max_diff(&got, &want));
        }
        console_log!("{q}: prefill max abs diff {d:.3e}, decode at 90.. {worst:.3e} (V={v})");
        assert!(d <= 1e-3 && worst <= 1e-3, "{q}: {d} / {worst}");
    }
}

#[wasm_bindgen_test]
async fn gpu_sampler_matches_cpu_in_the_browser() {
    use tinychat::generate::{sample, Rng};
    use tinychat::gpu::buffers;
    use tinychat::gpu::kernels::{self, Arena, Recorder};
    let g = context().await;
    let (v, steps) = (1757, 1000);
    let p = SamplingParams {
        temperature: 0.8,
        top_k: 50,
        top_p: 0.9,
        repetition_penalty: 1.3,
        seed: 7,
        ..Default::default()
    };
    let mut rng = Rng::new(99);
    let logits: Vec<f32> = (0..steps * v).map(|_| rng.uniform() * 8.0 - 4.0).collect();
    let prompt = [3u32, 17, 1756];
    let mut rng = Rng::new(p.seed);
    let mut history = prompt.to_vec();
    let mut cpu = vec![];
    for s in 0..steps {
        let tok = sample(
            &mut logits[s * v..(s + 1) * v].to_vec(),
            &p,
            &history,
            &mut rng,
        );
        history.push(tok);
        cpu.push(tok);
    }
    let settings = kernels::sample_settings(&p, v).unwrap();
    let state = kernels::sampler_state(&Rng::new(p.seed), &prompt, v);
    let gl = buffers::upload_f32(&g, "logits", &logits).unwrap();
    let gs = buffers::upload_bytes(&g, "state", bytemuck::cast_slice(&state)).unwrap();
    let tokens = buffers::zeros(&g, "tokens", 1).unwrap();
    let ring = buffers::zeros(&g, "ring", steps).unwrap();
    let mut arena = Arena::new();
    let mut rec = Recorder::new(&g, &mut arena);
    for s in 0..steps {
        kernels::sample(&mut rec, &gl, s * v, v, settings, &gs, &tokens, &ring, s);
    }
    rec.submit(&[]);
    let got: Vec<u32> = buffers::read_f32(&g, &ring, 0, steps)
        .await
        .unwrap()
        .iter()
        .map(|f| f.to_bits())
        .collect();
    let first_diff = cpu.iter().zip(&got).position(|(a, b)| a != b);
    console_log!("GPU sampler: {steps} steps, first difference from the CPU {first_diff:?}");
    assert_eq!(first_diff, None);
}

#[wasm_bindgen_test]
async fn gpu_decode_loop_matches_cpu_in_the_browser() {
    let g = context().await;
    let (model, prompt, _) = load(&FIXTURES[0]);
    let copy = |m: &Model| Model::from_weights(m.config.clone(), m.weights.clone());
    let p = SamplingParams {
        temperature: 0.9,
        top_k: 30,
        repetition_penalty: 1.1,
        seed: 4,
        max_new_tokens: 40,
        ..Default::default()
    };
    for stop_after in [None, Some(13)] {
        let stop = |n: usize| stop_after != Some(n);
        let mut cpu = Engine::cpu(copy(&model));
        let mut n = 0;
        let want = cpu
            .generate_async(&prompt, &p, async |_| {
                n += 1;
                Ok(stop(n))
            })
            .await
            .unwrap();
        let opts = EngineOptions {
            backend: Backend::Gpu,
            gpu: Some(g.clone()),
            ..Default::default()
        };
        let mut e = Engine::new_async(copy(&model), opts).await.unwrap();
        let mut n = 0;
        let got = e
            .generate_async(&prompt, &p, async |_| {
                n += 1;
                Ok(stop(n))
            })
            .await
            .unwrap();
        console_log!(
            "GPU loop, sampled: {:?} ({:?})",
            got.tokens,
            got.finish_reason
        );
        assert!(e.is_gpu());
        assert_eq!(got.tokens, want.tokens);
        assert_eq!(got.finish_reason, want.finish_reason);
        assert_eq!(e.len(), cpu.len());
    }
}

/// The CPU engine's simd128 kernels (`ops/matvec/simd128.rs`, which only a wasm build has)
/// against the f64 reference on the dequantized weights (and, for the block formats, the same
/// 8-bit x the kernels read), for every storage format on odd sizes, with the portable kernels
/// beside them: within 2e-6 of Σ|w·x|, as the native kernel tests ask.
#[wasm_bindgen_test]
fn simd128_kernels_match_the_reference() {
    use tinychat::ops::matvec::{matvec_with, Isa, Q8Act, Store};
    use tinychat::quant::QType;
    use tinychat::tensor::Tensor;
    let isas = Isa::available();
    assert_eq!(
        isas,
        [Isa::Portable, Isa::Simd128],
        "the wasm build has simd128"
    );
    let mut rng = tinychat::generate::Rng::new(5);
    let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect() };
    for q in QType::ALL {
        let widths: &[usize] = match q.block_len() {
            // 2,100: past the F16 kernel's 2,048 staged columns
            1 => &[1, 7, 75, 131, 576, 2100],
            32 => &[32, 96, 576, 1536],
            _ => &[256, 768],
        };
        for &n_in in widths {
            for n_out in [1, 5, 37] {
                let w = Tensor::from_f32(vec![n_out, n_in], &rand(n_out * n_in), q);
                let x = rand(n_in);
                let xs = match q.is_quantized() {
                    true => {
                        let mut a = Q8Act::default();
                        a.quantize(&x);
                        a.dequantized()
                    }
                    false => x.clone(),
                };
                let wd = w.to_f32();
                for &isa in &isas {
                    let mut got = vec![0.0; n_out];
                    matvec_with(isa, &mut got, &x, &w, None, Store::Set);
                    for (r, g) in got.iter().enumerate() {
                        let row = &wd[r * n_in..(r + 1) * n_in];
                        let p = row.iter().zip(&xs).map(|(a, b)| *a as f64 * *b as f64);
                        let (want, mag) = p.fold((0.0, 0.0), |(s, m), v| (s + v, m + v.abs()));
                        let err = (*g as f64 - want).abs();
                        assert!(
                            err <= 2e-6 * mag + 1e-30,
                            "{} {q} OUT={n_out} IN={n_in} row {r}: got {g}, want {want}",
                            isa.name()
                        );
                    }
                }
            }
        }
    }
}

/// The simd128 kernels read f16 values (F16 weights, the blocks' scales and Q4_1's minimums)
/// as 2^-112 of their value, which is exact but for inf and NaN: a row (F16: a row's segment of
/// 2,048 columns) holding one is computed again by an exact path, so it comes out as the
/// portable kernel's (the same inf, or NaN), and every other row is bit for bit what the same
/// tensor without the pokes gives. Pokes in a group of four blocks and in the blocks after the
/// last group, in F16's 8-wide loop and its tail, before and past the 2,048th column.
#[wasm_bindgen_test]
fn simd128_kernels_keep_an_inf_or_nan_weight() {
    use tinychat::ops::matvec::{matvec_with, Isa, Store};
    use tinychat::quant::QType;
    use tinychat::tensor::{Tensor, TensorData};
    let mut rng = tinychat::generate::Rng::new(9);
    let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform() - 0.5).collect() };
    let (inf, neg_inf, nan) = (0x7c00u16, 0xfc00u16, 0x7e00u16);
    // A poke: row; block (block formats) or column (F16); byte offset in the block (0: d,
    // 2: Q4_1's m); bits.
    type Poke = (usize, usize, usize, u16);
    let cases: Vec<(QType, usize, Vec<Poke>)> = [QType::Q8_0, QType::Q4_0, QType::Q4_1]
        .into_iter()
        .map(|q| {
            let m = if q == QType::Q4_1 { 2 } else { 0 };
            // 5 blocks a row: blocks 0–3 go four together, block 4 alone
            let pokes = vec![
                (1, 2, 0, inf),
                (2, 1, 0, nan),
                (3, 4, 0, inf),
                (4, 0, m, neg_inf),
                (6, 4, m, neg_inf),
            ];
            (q, 160, pokes)
        })
        .chain([
            (
                QType::F16,
                13,
                vec![(1, 4, 0, inf), (2, 11, 0, neg_inf), (4, 12, 0, nan)],
            ),
            (
                QType::F16,
                2100,
                vec![
                    (1, 5, 0, inf),
                    (2, 2050, 0, nan),
                    (3, 2099, 0, neg_inf),
                    (5, 2047, 0, inf),
                ],
            ),
        ])
        .collect();
    let n_out = 8;
    for (q, n_in, pokes) in cases {
        let (w, x) = (rand(n_out * n_in), rand(n_in));
        let clean = Tensor::from_f32(vec![n_out, n_in], &w, q);
        let mut t = clean.clone();
        for &(r, e, at, bits) in &pokes {
            match &mut t.data {
                TensorData::Quant(_, bytes) => {
                    let o = (r * n_in / 32 + e) * q.block_bytes() + at;
                    bytes[o..o + 2].copy_from_slice(&bits.to_le_bytes());
                }
                TensorData::F16(v) => v[r * n_in + e] = half::f16::from_bits(bits),
                _ => unreachable!(),
            }
        }
        let run = |isa, t: &Tensor| {
            let mut out = vec![0.0; n_out];
            matvec_with(isa, &mut out, &x, t, None, Store::Set);
            out
        };
        let (simd, portable, before) = (
            run(Isa::Simd128, &t),
            run(Isa::Portable, &t),
            run(Isa::Simd128, &clean),
        );
        for r in 0..n_out {
            let (s, p) = (simd[r], portable[r]);
            if pokes.iter().any(|poke| poke.0 == r) {
                assert!(
                    !p.is_finite(),
                    "{q} IN={n_in} row {r}: the portable kernel gave {p}"
                );
                assert!(
                    s.to_bits() == p.to_bits() || (s.is_nan() && p.is_nan()),
                    "{q} IN={n_in} row {r}: simd128 {s}, portable {p}"
                );
            } else {
                assert_eq!(
                    s.to_bits(),
                    before[r].to_bits(),
                    "{q} IN={n_in} row {r}: {s}, unpoked {}",
                    before[r]
                );
            }
        }
    }
}

/// The simd128 F16 kernel widens every one of the 65,536 f16 bit patterns as `half` does
/// (subnormals, ±0, ±inf and NaN included): rows of eight equal values times a vector of equal
/// powers of two give exactly 8 · value · x. x = 1 takes the staged path (the inf and NaN rows
/// its exact fallback), x = 2^15 the exact widening of every value (|x| ≥ 2^14).
#[wasm_bindgen_test]
fn simd128_widens_every_f16_pattern() {
    use tinychat::ops::matvec::{matvec_with, Isa, Store};
    use tinychat::quant::QType;
    use tinychat::tensor::Tensor;
    let values: Vec<f32> = (0..=u16::MAX)
        .map(|h| half::f16::from_bits(h).to_f32())
        .collect();
    let w: Vec<f32> = values.iter().flat_map(|&v| [v; 8]).collect();
    let w = Tensor::from_f32(vec![values.len(), 8], &w, QType::F16);
    for x in [1.0f32, 32768.0] {
        let mut got = vec![0.0; values.len()];
        matvec_with(Isa::Simd128, &mut got, &[x; 8], &w, None, Store::Set);
        for (h, (g, v)) in got.iter().zip(&values).enumerate() {
            let want = 8.0 * v * x;
            // (== rather than bits: −0 sums to +0 from the accumulators' +0 start.)
            assert!(
                *g == want || (g.is_nan() && want.is_nan()),
                "f16 {h:#06x}, x = {x}: got {g}, want {want}"
            );
        }
    }
}

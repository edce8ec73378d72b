//! Whole-model parity in the browser: the tiny llama and gpt2 fixtures (embedded with
//! include_bytes!) run on the page's WebGPU adapter (headless Chromium: SwiftShader, which has no
//! shader-f16) and on the CPU engine compiled to wasm; logits must agree within 1e-3 and the
//! greedy tokens must be transformers'. Run with scripts/test-browser.sh.

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

//! The training forward/backward and AdamW against PyTorch, in the manner of llm.c's
//! test_gpt2.c: tests/fixtures/train_generate.py dumps a tiny llama's initial weights, one batch,
//! the loss, every parameter's gradient and the losses of ten AdamW steps.
#![cfg(feature = "train")]

use std::path::PathBuf;
use tinychat::train::model::TrainModel;
use tinychat::train::optim::{AdamW, AdamWConfig};
use tinychat::ModelConfig;

const HINT: &str = "---> HINT: the fixture may be stale; re-run HF_HUB_OFFLINE=1 python3 tests/fixtures/train_generate.py";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train_llama")
}

#[test]
fn loss_gradients_and_adamw_steps_match_pytorch() {
    let d = dir();
    let cfg = ModelConfig::from_file(d.join("config.json")).unwrap();
    let (mut params, _) = tinychat::weights::load(d.join("model.safetensors"), &cfg).unwrap();
    let (want_grads, _) = tinychat::weights::load(d.join("grads.safetensors"), &cfg).unwrap();
    let exp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("expected.json")).unwrap()).unwrap();
    let ids = |k: &str| -> Vec<u32> {
        exp[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let (inputs, targets) = (ids("inputs"), ids("targets"));
    let (b, t) = (
        exp["B"].as_u64().unwrap() as usize,
        exp["T"].as_u64().unwrap() as usize,
    );
    let mut model = TrainModel::new(&cfg, b, t).unwrap();

    // loss
    let loss = model.forward(&params, &inputs, &targets).unwrap();
    let want = exp["loss"].as_f64().unwrap() as f32;
    let rel = (loss - want).abs() / want.abs();
    println!("loss: tinychat {loss:.7} pytorch {want:.7} rel diff {rel:.2e}");
    assert!(rel < 1e-5, "loss differs by {rel:.2e} relative\n{HINT}");

    // every gradient
    let mut grads = vec![0.0f32; params.data.len()];
    model.backward(&params, &mut grads, 1.0);
    let mut worst = 0.0f32;
    for spec in &params.layout.specs {
        let got = &grads[spec.offset..spec.offset + spec.len];
        let want = &want_grads.data[spec.offset..spec.offset + spec.len];
        let diff = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        println!(
            "{:<28} first {:>11.6e} {:>11.6e} (pytorch {:>11.6e} {:>11.6e}) max diff {diff:.2e}",
            spec.name, got[0], got[1], want[0], want[1]
        );
        worst = worst.max(diff);
        assert!(
            diff <= 1e-4,
            "gradient of {} differs by {diff:.2e}\n{HINT}",
            spec.name
        );
    }
    println!("max gradient diff over all tensors: {worst:.2e}");

    // ten AdamW steps on the same batch
    let a = &exp["adamw"];
    let f = |k: &str| a[k].as_f64().unwrap() as f32;
    let mut opt = AdamW::new(
        &params.layout,
        AdamWConfig {
            beta1: f("beta1"),
            beta2: f("beta2"),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            decay_all: false,
        },
    );
    let want_losses: Vec<f32> = exp["step_losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    for (step, &want) in want_losses.iter().enumerate() {
        let loss = model.forward(&params, &inputs, &targets).unwrap();
        grads.fill(0.0);
        model.backward(&params, &mut grads, 1.0);
        opt.update(&mut params.data, &grads, f("lr"));
        let diff = (loss - want).abs();
        println!("step {step}: loss {loss:.6} pytorch {want:.6} diff {diff:.2e}");
        assert!(
            diff < 1e-4,
            "step {step} loss differs by {diff:.2e}\n{HINT}"
        );
    }
}

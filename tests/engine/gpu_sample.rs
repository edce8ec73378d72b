//! The GPU sampler (`sample.wgsl`) against the CPU's `generate::sample` and `Rng`, its oracle:
//! the same tokens for the same seed and logits, step after step, with the RNG state and the
//! repetition penalty's history living on the GPU between steps (1,000 steps per case, in one
//! submission, as the decode loop runs them).

use super::gpu_ops::{gpu, rand_vec};
use tinychat::generate::{sample, Rng, SamplingParams};
use tinychat::gpu::buffers;
use tinychat::gpu::kernels::{self, Arena, Recorder};

/// `steps` tokens sampled by the CPU and by the GPU from the same logits (a fresh row per step).
fn both(v: usize, steps: usize, p: &SamplingParams, logits: &[f32]) -> (Vec<u32>, Vec<u32>) {
    let g = gpu().unwrap();
    let prompt = [3u32, 17, (v - 1) as u32, 3];
    // CPU: generate::sample, the history growing with each token.
    let mut rng = Rng::new(p.seed);
    let mut history = prompt.to_vec();
    let mut cpu = vec![];
    for s in 0..steps {
        let mut row = logits[s * v..(s + 1) * v].to_vec();
        let tok = sample(&mut row, p, &history, &mut rng);
        history.push(tok);
        cpu.push(tok);
    }
    // GPU: every step's sampler in one submission, state carried on the GPU.
    let settings = kernels::sample_settings(p, v).expect("a case the GPU sampler takes");
    let state = kernels::sampler_state(&Rng::new(p.seed), &prompt, v);
    let gl = buffers::upload_f32(&g, "logits", logits).unwrap();
    let gs = buffers::upload_bytes(&g, "state", bytemuck::cast_slice(&state)).unwrap();
    let tokens = buffers::zeros(&g, "tokens", 1).unwrap();
    let ring = buffers::zeros(&g, "ring", steps).unwrap();
    let mut arena = Arena::new();
    let mut rec = Recorder::new(&g, &mut arena);
    for s in 0..steps {
        kernels::sample(&mut rec, &gl, s * v, v, settings, &gs, &tokens, &ring, s);
    }
    rec.submit(&[]);
    let got = buffers::read_f32_blocking(&g, &ring, 0, steps).unwrap();
    g.check().unwrap();
    let gpu: Vec<u32> = got.iter().map(|f| f.to_bits()).collect();
    let last = buffers::read_f32_blocking(&g, &tokens, 0, 1).unwrap()[0].to_bits();
    assert_eq!(
        last,
        gpu[steps - 1],
        "the last token is the next step's input"
    );
    (cpu, gpu)
}

fn agree(label: &str, v: usize, steps: usize, p: SamplingParams, logits: Vec<f32>) {
    if gpu().is_none() {
        return;
    }
    let (cpu, gpu) = both(v, steps, &p, &logits);
    let first_diff = cpu.iter().zip(&gpu).position(|(a, b)| a != b);
    let distinct = {
        let mut d = cpu.clone();
        d.sort_unstable();
        d.dedup();
        d.len()
    };
    println!("{label}: {steps} steps, {distinct} distinct tokens, first difference {first_diff:?}");
    assert_eq!(
        first_diff,
        None,
        "{label}: GPU and CPU sampled different tokens (CPU {:?}, GPU {:?})",
        &cpu[..steps.min(12)],
        &gpu[..steps.min(12)]
    );
}

#[test]
fn gpu_sampler_matches_cpu_over_1000_steps() {
    let v = 1757;
    let p = SamplingParams {
        temperature: 0.8,
        top_k: 50,
        top_p: 0.9,
        repetition_penalty: 1.3,
        seed: 7,
        ..Default::default()
    };
    agree(
        "T=0.8 top_k=50 top_p=0.9 penalty=1.3",
        v,
        1000,
        p,
        rand_vec(1000 * v, 1, 4.0),
    );
    // The most candidates the GPU sorts, no nucleus, no penalty.
    let p = SamplingParams {
        temperature: 1.0,
        top_k: 256,
        seed: 1,
        ..Default::default()
    };
    agree("T=1 top_k=256", v, 1000, p, rand_vec(1000 * v, 2, 3.0));
}

#[test]
fn gpu_sampler_matches_cpu_on_a_small_vocabulary_and_with_ties() {
    // V ≤ 256: top_k 0 keeps every token, as on the CPU.
    let p = SamplingParams {
        temperature: 0.7,
        top_p: 0.95,
        seed: 3,
        ..Default::default()
    };
    agree(
        "V=200 top_k=0 top_p=0.95",
        200,
        1000,
        p,
        rand_vec(1000 * 200, 3, 3.0),
    );
    // Logits on a coarse grid: many exact ties, at the top-k threshold too (the lower ids win),
    // and ±0 (equal for the CPU's comparison).
    let v = 1757;
    let tied: Vec<f32> = rand_vec(1000 * v, 4, 3.0)
        .iter()
        .map(|x| (x * 2.0).round() / 2.0)
        .collect();
    let p = SamplingParams {
        temperature: 1.5,
        top_k: 40,
        repetition_penalty: 1.2,
        seed: 11,
        ..Default::default()
    };
    agree("ties, top_k=40 penalty=1.2", v, 1000, p, tied.clone());
    // Greedy with the penalty: the first of the largest penalised logits.
    let p = SamplingParams {
        repetition_penalty: 1.5,
        ..Default::default()
    };
    agree("greedy, ties, penalty=1.5", v, 1000, p, tied);
}

#[test]
fn settings_the_gpu_sampler_cannot_follow_go_to_the_cpu() {
    let all = SamplingParams {
        temperature: 1.0,
        ..Default::default()
    };
    assert!(
        kernels::sample_settings(&all, 49_152).is_none(),
        "top_k 0 over 49,152 tokens"
    );
    assert!(kernels::sample_settings(&all, 256).is_some());
    let k300 = SamplingParams {
        top_k: 300,
        ..all.clone()
    };
    assert!(kernels::sample_settings(&k300, 1757).is_none());
    assert!(
        kernels::sample_settings(&SamplingParams::default(), 49_152).is_some(),
        "greedy"
    );
}

//! The GPU side of `tinychat bench infer`: the GPU engine's prefill and decode tokens/s with the
//! figures a card is judged by — dispatches per decoded token, bytes of weights (and of KV
//! cache) read per token, and the GB/s they make — for each weight storage format, optionally
//! decoding after a long context (`--context 2048`). Decode runs the GPU-resident loop
//! (`gpu::decode`): greedy sampling on the GPU, tokens read back in batches, no logits.

use super::{GpuContext, GpuModel, GpuSession, WeightFormat};
use crate::error::{Error, Result};
use crate::generate::{Generator, Rng, SamplingParams};
use crate::model::{Logits, Model};
use std::sync::Arc;
use std::time::Instant;

/// The storage formats `--weights` names: a comma-separated list of f32, f16, bf16, q8_0, q4_0,
/// q4_1, q4_k, q6_k and `stored` (each matrix as the model stores it); `both` is f32,f16.
pub fn parse_formats(s: &str) -> Result<Vec<Option<WeightFormat>>> {
    let s = if s == "both" { "f32,f16" } else { s };
    s.split(',')
        .map(|w| match w.trim() {
            "stored" => Ok(None),
            w => WeightFormat::parse(w).map(Some).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "--weights {w:?}: use f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k, stored or both \
                     (example: --weights f16,q8_0,q4_1)"
                ))
            }),
        })
        .collect()
}

/// One measured format.
struct GpuRow {
    weights: String,
    prefill_tps: f64,
    decode_tps: f64,
    dispatches: usize,
    weight_bytes: u64,
    kv_bytes: u64,
}

fn random_tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (rng.next_u64() % vocab as u64) as u32)
        .collect()
}

/// Decodes `steps` tokens after `context` (prefilled first, untimed) with the GPU loop; returns
/// decode tokens/s (from the first token to the last).
fn decode(s: &mut GpuSession, context: &[u32], steps: usize) -> Result<f64> {
    s.reset();
    let params = SamplingParams {
        max_new_tokens: steps + 1,
        ..Default::default()
    };
    let mut g = Generator::new(context, params, s.model.config.max_seq_len)?;
    let mut fed = vec![];
    let mut first = None;
    let mut on_token = async |_| {
        first.get_or_insert_with(Instant::now);
        Ok(true)
    };
    let mut t_first = None;
    pollster::block_on(super::decode::generate(
        s,
        &mut g,
        &mut fed,
        &mut on_token,
        &mut t_first,
    ))?;
    let t = first.expect("a token").elapsed().as_secs_f64();
    Ok(steps as f64 / t)
}

fn measure(
    g: &Arc<GpuContext>,
    model: &Model,
    format: Option<WeightFormat>,
    prompt: &[u32],
    context: usize,
    steps: usize,
) -> Result<GpuRow> {
    let cfg = &model.config;
    let gm = Arc::new(GpuModel::new(g.clone(), model, format)?);
    let ctx_tokens = match context {
        0 => prompt.to_vec(),
        n => random_tokens(n, cfg.vocab_size, 11),
    };
    let cap = prompt.len().max(ctx_tokens.len()) + steps + 2;
    let mut s = GpuSession::new(gm.clone(), Some(cap), Some(prompt.len().clamp(1, 256)))?;
    // Warm-up: builds every pipeline and bind group, and runs each shader once.
    s.forward(prompt, Logits::Last)?;
    decode(&mut s, &prompt[..prompt.len().min(4)], 3)?;
    s.reset();
    let t = Instant::now();
    s.forward(prompt, Logits::Last)?;
    let prefill_tps = prompt.len() as f64 / t.elapsed().as_secs_f64();
    let decode_tps = decode(&mut s, &ctx_tokens, steps)?;
    // K and V rows read per token, at the mean position of the decoded tokens.
    let mean_pos = ctx_tokens.len() + steps / 2;
    let kv_bytes = (2 * cfg.n_layers * mean_pos * cfg.kv_dim() * 4) as u64;
    Ok(GpuRow {
        weights: gm.describe_formats(),
        prefill_tps,
        decode_tps,
        dispatches: s.last_dispatches(),
        weight_bytes: gm.weight_bytes_per_token(),
        kv_bytes,
    })
}

/// Measures the GPU engine on `model` for each format and prints its table; returns the
/// adapter's description, or None when there is no GPU.
pub fn run(
    model: &Model,
    prompt: &[u32],
    steps: usize,
    formats: &[Option<WeightFormat>],
    context: usize,
    peak_gbs: Option<f64>,
) -> Result<Option<String>> {
    let g = match pollster::block_on(GpuContext::new()) {
        Err(e) => {
            println!("GPU: not measured ({e})");
            return Ok(None);
        }
        Ok(g) => Arc::new(g),
    };
    let ctx = match context {
        0 => prompt.len(),
        n => n,
    };
    if ctx + steps + 2 > model.config.max_seq_len {
        return Err(Error::InvalidArgument(format!(
            "--context {ctx} + --tokens {steps} exceed the model's context ({})",
            model.config.max_seq_len
        )));
    }
    let mut rows = vec![];
    for &f in formats {
        eprintln!("GPU, {} weights...", f.map_or("stored", WeightFormat::name));
        rows.push(measure(&g, model, f, prompt, context, steps)?);
    }
    println!(
        "GPU engine, decode after {ctx} positions (GPU-resident loop: sampling on the GPU, tokens read back in batches)"
    );
    println!(
        "| weights | prefill tok/s | decode tok/s | dispatches/token | weights MB/token | KV MB/token | GB/s |{}",
        if peak_gbs.is_some() { " of peak |" } else { "" }
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |{}",
        if peak_gbs.is_some() { " ---: |" } else { "" }
    );
    for r in &rows {
        let gbs = (r.weight_bytes + r.kv_bytes) as f64 * r.decode_tps / 1e9;
        let peak = peak_gbs.map_or(String::new(), |p| format!(" {:.1}% |", 100.0 * gbs / p));
        println!(
            "| {} | {:.1} | {:.2} | {} | {:.1} | {:.1} | {:.2} |{peak}",
            r.weights,
            r.prefill_tps,
            r.decode_tps,
            r.dispatches,
            r.weight_bytes as f64 / 1e6,
            r.kv_bytes as f64 / 1e6,
            gbs
        );
    }
    println!(
        "dispatches per layer in decode: {:.1} ({} layers)",
        rows.first().map_or(0.0, |r| r.dispatches as f64) / model.config.n_layers as f64,
        model.config.n_layers
    );
    Ok(Some(g.describe()))
}

//! `tinychat bench train`: training throughput (tokens/s: forward + backward + AdamW) of the
//! presets on random tokens, and the same measured for a plain PyTorch model of the same shape
//! (scripts/bench_torch.py, when python3 with torch is installed), with the ratio.

use super::model::{init_params, TrainModel};
use super::optim::{AdamW, AdamWConfig};
use super::pretrain::{Preset, TrainSettings};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::generate::Rng;
use std::path::PathBuf;
use std::time::Instant;

/// `tinychat bench train`, option for option.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    /// Presets to measure (empty, the default: tiny and small).
    pub preset: Vec<Preset>,
    /// Vocabulary size of the benchmark model. Default 4096.
    pub vocab: usize,
    /// Timed steps per preset (after one warm-up step). Default 5.
    pub steps: usize,
    /// Skip the PyTorch comparison.
    pub no_torch: bool,
    /// Threads PyTorch may use (tinychat uses rayon's pool: RAYON_NUM_THREADS). Default 2.
    pub torch_threads: usize,
    /// The PyTorch script. Default scripts/bench_torch.py.
    pub torch_script: PathBuf,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            preset: vec![],
            vocab: 4096,
            steps: 5,
            no_torch: false,
            torch_threads: 2,
            torch_script: "scripts/bench_torch.py".into(),
        }
    }
}

fn bench_config(s: &TrainSettings, vocab: usize) -> ModelConfig {
    ModelConfig {
        tie_embeddings: s.tie_embeddings,
        ..s.shape.llama(vocab)
    }
}

/// Tokens per second of tinychat's training step for settings `s`.
pub fn tinychat_tokens_per_s(s: &TrainSettings, vocab: usize, steps: usize) -> Result<f64> {
    let cfg = bench_config(s, vocab);
    let mut params = init_params(&cfg, 1);
    let mut opt = AdamW::new(&params.layout, AdamWConfig::default());
    let mut model = TrainModel::new(&cfg, s.batch_size, s.shape.seq_len)?;
    let mut grads = vec![0.0f32; params.data.len()];
    let n = s.batch_size * s.shape.seq_len;
    let mut rng = Rng::new(7);
    let ids: Vec<u32> = (0..n + 1)
        .map(|_| (rng.next_u64() % vocab as u64) as u32)
        .collect();
    let mut timed = 0.0;
    for i in 0..=steps {
        let t0 = Instant::now();
        grads.fill(0.0);
        model.forward(&params, &ids[..n], &ids[1..])?;
        model.backward(&params, &mut grads, 1.0);
        opt.update(&mut params.data, &grads, 1e-4);
        if i > 0 {
            timed += t0.elapsed().as_secs_f64();
        }
    }
    Ok((steps * n) as f64 / timed)
}

fn torch_tokens_per_s(a: &BenchOptions, s: &TrainSettings) -> Result<f64> {
    let out = std::process::Command::new("python3")
        .arg(&a.torch_script)
        .args([
            "--vocab",
            &a.vocab.to_string(),
            "--dim",
            &s.shape.dim.to_string(),
        ])
        .args([
            "--layers",
            &s.shape.layers.to_string(),
            "--heads",
            &s.shape.heads.to_string(),
        ])
        .args([
            "--kv-heads",
            &s.shape.kv_heads.to_string(),
            "--ffn",
            &s.shape.ffn.to_string(),
        ])
        .args([
            "--seq-len",
            &s.shape.seq_len.to_string(),
            "--batch-size",
            &s.batch_size.to_string(),
        ])
        .args([
            "--steps",
            &a.steps.to_string(),
            "--threads",
            &a.torch_threads.to_string(),
        ])
        .output()
        .map_err(|e| Error::Other(format!("python3: {e}")))?;
    if !out.status.success() {
        return Err(Error::Other(
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .lines()
                .last()
                .unwrap_or("failed")
                .to_string(),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| Error::Other(format!("unexpected output: {text}")))?;
    v["tokens_per_s"]
        .as_f64()
        .ok_or_else(|| Error::Other(format!("unexpected output: {text}")))
}

/// `tinychat bench train`.
pub fn run(a: &BenchOptions) -> Result<()> {
    let presets = if a.preset.is_empty() {
        vec![Preset::Tiny, Preset::Small]
    } else {
        a.preset.clone()
    };
    println!(
        "training throughput, {} rayon threads, forward + backward + AdamW, {} timed steps",
        crate::ops::num_threads(),
        a.steps
    );
    for p in presets {
        let s = super::pretrain::preset(p);
        let cfg = bench_config(&s, a.vocab);
        let n_params = crate::params::ParamLayout::new(&cfg).total;
        let ours = tinychat_tokens_per_s(&s, a.vocab, a.steps)?;
        let shape = format!(
            "{:?}: {:.1}M params (dim {}, {} layers, {}/{} heads, ffn {}, vocab {}), B={} T={}",
            p,
            n_params as f64 / 1e6,
            s.shape.dim,
            s.shape.layers,
            s.shape.heads,
            s.shape.kv_heads,
            s.shape.ffn,
            a.vocab,
            s.batch_size,
            s.shape.seq_len
        );
        println!("{shape}\n  tinychat: {ours:>8.0} tokens/s");
        if a.no_torch || !a.torch_script.exists() {
            continue;
        }
        match torch_tokens_per_s(a, &s) {
            Ok(t) => println!("  pytorch:  {t:>8.0} tokens/s ({} threads, eager)\n  ratio tinychat / pytorch: {:.2}x", a.torch_threads, ours / t),
            Err(e) => println!("  pytorch: not measured ({e})"),
        }
    }
    Ok(())
}

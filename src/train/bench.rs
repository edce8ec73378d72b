//! `tinychat bench train`: training throughput (tokens/s: forward + backward + AdamW) of the
//! presets on random tokens, and the same measured for a plain PyTorch model of the same shape
//! (scripts/bench_torch.py, when the `--python` interpreter imports torch), alternated round by
//! round, with the medians' ratio and the GFLOP/s of each ([`flops_per_token`]: 6·N + 12·L·d·T
//! per token, N the parameters but the input embedding).

use super::model::{init_params, TrainModel};
use super::optim::{AdamW, AdamWConfig};
use super::pretrain::{Preset, TrainSettings};
use crate::bench::{median, min_max};
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
    /// Timed steps per round (after three warm-up steps); a round's figure is their median.
    /// Default 5.
    pub steps: usize,
    /// Skip the PyTorch comparison.
    pub no_torch: bool,
    /// Threads PyTorch may use (tinychat uses rayon's pool: RAYON_NUM_THREADS). Default 2.
    pub torch_threads: usize,
    /// The PyTorch script. Default scripts/bench_torch.py.
    pub torch_script: PathBuf,
    /// The Python interpreter that runs it (a venv's, where torch is installed). Default python3.
    pub python: PathBuf,
    /// Rounds per preset, tinychat and PyTorch alternated in each (the VM's speed drifts between
    /// minutes, so one round of each is not a comparison). Default 3.
    pub rounds: usize,
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
            python: "python3".into(),
            rounds: 3,
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
    // As scripts/bench_torch.py: WARMUP untimed steps, then the median of the timed ones.
    let mut times = Vec::with_capacity(steps);
    for i in 0..WARMUP + steps {
        let t0 = Instant::now();
        grads.fill(0.0);
        model.forward(&params, &ids[..n], &ids[1..])?;
        model.backward(&params, &mut grads, 1.0);
        opt.update(&mut params.data, &grads, 1e-4);
        if i >= WARMUP {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    Ok(n as f64 / median(&times))
}

/// Untimed steps before the timed ones, on both sides.
const WARMUP: usize = 3;

fn torch_tokens_per_s(a: &BenchOptions, s: &TrainSettings) -> Result<f64> {
    let out = std::process::Command::new(&a.python)
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
        .map_err(|e| Error::Other(format!("{}: {e}", a.python.display())))?;
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

/// Training FLOPs per token: 6·N for the matmuls' forward and backward, N the parameters but the
/// input embedding (a lookup; a tied one is counted once, as the head), plus 12·L·d·T for
/// attention's QKᵀ and PV over the whole T × T. (`shared/peers/torch_train_bench.py` counts the
/// input embedding as well, so its GFLOP/s read 13–31% higher on the presets.)
pub fn flops_per_token(cfg: &ModelConfig, n_params: usize) -> f64 {
    let emb = if cfg.tie_embeddings {
        0
    } else {
        cfg.vocab_size * cfg.dim
    };
    let attn = 12 * cfg.n_layers * cfg.dim * cfg.max_seq_len;
    6.0 * (n_params - emb) as f64 + attn as f64
}

/// `tinychat bench train`.
pub fn run(a: &BenchOptions) -> Result<()> {
    let presets = if a.preset.is_empty() {
        vec![Preset::Tiny, Preset::Small]
    } else {
        a.preset.clone()
    };
    let torch = !a.no_torch && a.torch_script.exists();
    println!(
        "training throughput, {} rayon threads, forward + backward + AdamW; a round: {WARMUP} \
         warm-up steps, then the median of {} timed ones; {} round(s){}; median [min-max] of the \
         rounds",
        crate::ops::num_threads(),
        a.steps,
        a.rounds.max(1),
        if torch {
            ", each alternated with PyTorch"
        } else {
            ""
        }
    );
    for p in presets {
        let s = super::pretrain::preset(p);
        let cfg = bench_config(&s, a.vocab);
        let n_params = crate::params::ParamLayout::new(&cfg).total;
        println!(
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
        let gflop = flops_per_token(&cfg, n_params) / 1e9;
        let (mut ours, mut theirs) = (vec![], vec![]);
        let mut torch_error = None;
        for _ in 0..a.rounds.max(1) {
            ours.push(tinychat_tokens_per_s(&s, a.vocab, a.steps)?);
            if torch && torch_error.is_none() {
                match torch_tokens_per_s(a, &s) {
                    Ok(t) => theirs.push(t),
                    Err(e) => torch_error = Some(e),
                }
            }
        }
        let line = |name: &str, xs: &[f64]| {
            let m = median(xs);
            let (lo, hi) = min_max(xs);
            println!(
                "  {name:<9}{m:>8.0} tokens/s [{lo:.0}-{hi:.0}], {:.1} GFLOP/s",
                m * gflop
            );
            m
        };
        let m_ours = line("tinychat:", &ours);
        if let Some(e) = torch_error {
            println!("  pytorch: not measured ({e})");
        } else if !theirs.is_empty() {
            let m_theirs = line("pytorch:", &theirs);
            println!(
                "  ratio tinychat / pytorch: {:.2}x (medians; pytorch eager, {} threads)",
                m_ours / m_theirs,
                a.torch_threads
            );
        }
    }
    Ok(())
}

//! What `tinychat bench infer` needs beside the engines: the machine's memory-read roof, the
//! storage-type casts of `--dtype` (also the wasm benchmark's, `benchDecode`), and the llama.cpp
//! peer (`scripts/bench_llamacpp.py`). The roof and the peer are native only.

#[cfg(not(target_arch = "wasm32"))]
use crate::error::{Error, Result};
use crate::params::Slot;
use crate::quant::QType;
use crate::tensor::Weights;
#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

/// Read bandwidth of main memory in GB/s: every thread sums its share of a 1 GiB buffer
/// (far larger than any cache), best of three passes. The roof a memory-bound decode can reach.
#[cfg(not(target_arch = "wasm32"))]
pub fn dram_read_gbs() -> f64 {
    use rayon::prelude::*;
    use std::time::Instant;
    let n = (1usize << 30) / 4;
    let mut buf = vec![0f32; n];
    buf.par_chunks_mut(1 << 20).for_each(|c| c.fill(1.0)); // touch every page
    let chunk = n.div_ceil(rayon::current_num_threads());
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let s: f32 = buf
            .par_chunks(chunk)
            .map(|c| {
                let mut acc = [0f32; 16];
                for x in c.chunks_exact(16) {
                    for k in 0..16 {
                        acc[k] += x[k];
                    }
                }
                acc.iter().sum::<f32>()
            })
            .sum();
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(s);
    }
    (n * 4) as f64 / best / 1e9
}

/// The type matrix `slot` of `cols` columns gets for a bench in `q`:
/// - `q` itself, where a row is a whole number of q's blocks;
/// - the token embedding (the tied output head) of the 4-bit types in Q8_0, as SmolLM2's Q4_1
///   GGUF stores it;
/// - rows too short for a k-quant block (SmolLM2's C = 576 is not a multiple of 256) fall
///   back as llama.cpp's quantizer does: Q6_K → Q8_0, Q4_K → Q4_1 (llama.cpp takes Q5_0,
///   which tinychat does not read).
pub fn bench_type(q: QType, slot: Slot, cols: usize) -> QType {
    if slot == Slot::TokEmb && matches!(q, QType::Q4_0 | QType::Q4_1) {
        return QType::Q8_0;
    }
    if cols % q.block_len() == 0 {
        return q;
    }
    match q {
        QType::Q6K => QType::Q8_0,
        QType::Q4K => QType::Q4_1,
        _ => QType::F32,
    }
}

/// Converts every matrix of `w` (token embedding included) as [`bench_type`] says.
pub fn cast_for_bench(w: &mut Weights, q: QType) {
    for (s, t) in w.layout.specs.iter().zip(w.tensors.iter_mut()) {
        if s.shape.len() == 2 && s.slot != Slot::PosEmb {
            *t = t.cast(bench_type(q, s.slot, s.shape[1]));
        }
    }
}

/// One set of runs of the peer.
#[derive(Clone, Debug)]
pub struct PeerRuns {
    /// e.g. "llama.cpp 0.3.36"
    pub engine: String,
    /// Bytes of the model file it ran.
    pub file_bytes: u64,
    pub prefill_tps: Vec<f64>,
    pub decode_tps: Vec<f64>,
}

/// Runs `scripts/bench_llamacpp.py` once (llama.cpp on SmolLM2-135M-Instruct in `q`): `runs`
/// timed runs after a warm-up, each a `prompt`-token prefill then `steps` decode steps.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_llamacpp(q: QType, prompt: usize, steps: usize, runs: usize) -> Result<PeerRuns> {
    let script = Path::new("scripts/bench_llamacpp.py");
    if !script.exists() {
        return Err(Error::InvalidArgument(
            "scripts/bench_llamacpp.py not found: run tinychat bench from the repository root"
                .into(),
        ));
    }
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(["--dtype", q.name()])
        .args([
            "--prompt",
            &prompt.to_string(),
            "--steps",
            &steps.to_string(),
        ])
        .args(["--runs", &runs.to_string()])
        .args(["--threads", &crate::ops::num_threads().to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| Error::io(script, e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{'));
    let (true, Some(line)) = (out.status.success(), line) else {
        return Err(Error::InvalidArgument(format!(
            "scripts/bench_llamacpp.py --dtype {q} failed ({}): {text}",
            out.status
        )));
    };
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| Error::InvalidArgument(format!("bench_llamacpp.py printed {line:?}: {e}")))?;
    let list = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
            .unwrap_or_default()
    };
    Ok(PeerRuns {
        engine: v["engine"].as_str().unwrap_or("llama.cpp").to_string(),
        file_bytes: v["file_bytes"].as_u64().unwrap_or(0),
        prefill_tps: list("prefill_tok_s"),
        decode_tps: list("decode_tok_s"),
    })
}

/// The median of `xs` (the mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// The smallest and largest of `xs` (the `[min-max]` the benches print beside a median).
pub fn min_max(xs: &[f64]) -> (f64, f64) {
    xs.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// /proc/loadavg's first three fields ("1.02 0.87 0.55"), or "?" where there is none.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

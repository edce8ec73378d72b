//! Each GPU kernel against its CPU twin in `tinychat::ops`, on odd, unaligned sizes (T = 37,
//! C = 200 and 203, V = 1757, grouped-query heads). Max abs difference ≤ 1e-4 with f32 weights,
//! ≤ 2e-3 with f16 weights (against the CPU twin run on the same f16-rounded weights). The
//! packed formats are in `gpu_quant.rs`, the fused epilogues in `gpu_fused.rs`, the sampler in
//! `gpu_sample.rs`; the helpers here serve them all.
//!
//! Runs on any wgpu adapter; on Linux CI that is Mesa's lavapipe (`WGPU_BACKEND=vulkan`). With
//! no adapter at all, each test prints a SKIP line and passes.

use std::sync::{Arc, OnceLock};
use tinychat::generate::Rng;
use tinychat::gpu::buffers::{self, round_f16, Weight, WeightFormat};
use tinychat::gpu::kernels::{self, Arena, KvCacheRef, MatmulKernel, Recorder};
use tinychat::gpu::GpuContext;
use tinychat::ops;

pub fn gpu() -> Option<Arc<GpuContext>> {
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

pub fn rand_vec(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (rng.uniform() * 2.0 - 1.0) * scale)
        .collect()
}

pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_finite() && y.is_finite() {
                (x - y).abs()
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max)
}

pub fn check(what: &str, got: &[f32], want: &[f32], tol: f32) {
    let d = max_diff(got, want);
    println!("{what}: max abs diff {d:.3e} (tolerance {tol:.0e})");
    assert!(
        d <= tol,
        "{what}: GPU and CPU differ by {d} > {tol}; first values GPU {:?} CPU {:?}\n---> HINT: run `cargo test --test gpu_ops -- --nocapture` to see every op's diff",
        &got[..got.len().min(4)],
        &want[..want.len().min(4)]
    );
}

fn tol(f: WeightFormat) -> f32 {
    match f {
        WeightFormat::F32 => 1e-4,
        _ => 2e-3,
    }
}

/// Runs what `record` records as one submission, then reads `n` floats of `out`.
pub fn run(
    g: &GpuContext,
    out: &wgpu::Buffer,
    n: usize,
    record: impl FnOnce(&mut Recorder),
) -> Vec<f32> {
    let mut arena = Arena::new();
    let mut rec = Recorder::new(g, &mut arena);
    record(&mut rec);
    rec.submit(&[]);
    let v = buffers::read_f32_blocking(g, out, 0, n).unwrap();
    g.check().unwrap();
    v
}

#[test]
fn matmul_tiled_and_vector_match_cpu() {
    let Some(g) = gpu() else { return };
    for &(t, k, n) in &[
        (37, 200, 1757),
        (37, 203, 101),
        (1, 203, 1757),
        (5, 200, 67),
        (64, 64, 64),
    ] {
        let x = rand_vec(t * k, 1, 1.0);
        let w = rand_vec(n * k, 2, 0.2);
        let b = rand_vec(n, 3, 0.5);
        for format in [WeightFormat::F32, WeightFormat::F16] {
            let wc = match format {
                WeightFormat::F16 => round_f16(&w),
                _ => w.clone(),
            };
            let mut want = vec![0.0; t * n];
            ops::matmul_forward(&mut want, &x, &wc, Some(&b), t, k, n);
            let gw = Weight::upload(&g, "w", &w, n, k, format).unwrap();
            let gx = buffers::upload_f32(&g, "x", &x).unwrap();
            let gb = buffers::upload_f32(&g, "b", &b).unwrap();
            for kernel in [
                MatmulKernel::Tiled,
                MatmulKernel::TiledSmall,
                MatmulKernel::Vector,
            ] {
                let out = buffers::zeros(&g, "out", t * n).unwrap();
                let got = run(&g, &out, t * n, |r| {
                    kernels::matmul_with(r, kernel, &out, 0, &gx, 0, &gw, Some(&gb), t)
                });
                check(
                    &format!("matmul {kernel:?} {} T={t} K={k} N={n}", format.name()),
                    &got,
                    &want,
                    tol(format),
                );
            }
        }
    }
}

#[test]
fn matmul_offsets_and_no_bias() {
    // Reads x from row 3 and writes out after 5 rows, as the KV-cache append and the
    // last-position head do.
    let Some(g) = gpu() else { return };
    let (t, k, n) = (4, 203, 37);
    let x = rand_vec((t + 3) * k, 4, 1.0);
    let w = rand_vec(n * k, 5, 0.2);
    let mut want = vec![0.0; t * n];
    ops::matmul_forward(&mut want, &x[3 * k..], &w, None, t, k, n);
    let gw = Weight::upload(&g, "w", &w, n, k, WeightFormat::F32).unwrap();
    let gx = buffers::upload_f32(&g, "x", &x).unwrap();
    for kernel in [
        MatmulKernel::Tiled,
        MatmulKernel::TiledSmall,
        MatmulKernel::Vector,
    ] {
        let out = buffers::zeros(&g, "out", (t + 5) * n).unwrap();
        let got = run(&g, &out, (t + 5) * n, |r| {
            kernels::matmul_with(r, kernel, &out, 5 * n, &gx, 3 * k, &gw, None, t)
        });
        assert!(
            got[..5 * n].iter().all(|&v| v == 0.0),
            "wrote before out_off"
        );
        check(
            &format!("matmul {kernel:?} with offsets"),
            &got[5 * n..],
            &want,
            1e-4,
        );
    }
}

#[test]
fn rmsnorm_and_layernorm_match_cpu() {
    let Some(g) = gpu() else { return };
    for &(t, c) in &[(37, 200), (3, 203), (1, 1757)] {
        // An offset mean, which a one-pass variance formula would get wrong.
        let x: Vec<f32> = rand_vec(t * c, 6, 2.0).iter().map(|v| v + 3.0).collect();
        let w = rand_vec(c, 7, 1.0);
        let b = rand_vec(c, 8, 1.0);
        let wb: Vec<f32> = w.iter().chain(&b).copied().collect();
        let (gx, gw, gwb) = (
            buffers::upload_f32(&g, "x", &x).unwrap(),
            buffers::upload_f32(&g, "w", &w).unwrap(),
            buffers::upload_f32(&g, "w+b", &wb).unwrap(),
        );
        let (mut want, mut s1, mut s2) = (vec![0.0; t * c], vec![0.0; t], vec![0.0; t]);
        ops::rmsnorm_forward(&mut want, &mut s1, &x, &w, t, c, 1e-5);
        let out = buffers::zeros(&g, "out", t * c).unwrap();
        let got = run(&g, &out, t * c, |r| {
            kernels::rmsnorm(r, &out, &gx, &gw, t, c, 1e-5)
        });
        check(&format!("rmsnorm T={t} C={c}"), &got, &want, 1e-4);
        ops::layernorm_forward(&mut want, &mut s1, &mut s2, &x, &w, &b, t, c, 1e-5);
        let got = run(&g, &out, t * c, |r| {
            kernels::layernorm(r, &out, &gx, &gwb, t, c, 1e-5)
        });
        check(&format!("layernorm T={t} C={c}"), &got, &want, 1e-4);
    }
}

/// Attention of `t` rows at `pos0` with (NH, NKV, HS) on the GPU against `ops::attention_forward`.
fn attention_case(
    g: &GpuContext,
    t: usize,
    pos0: usize,
    heads: (usize, usize, usize),
    causal: bool,
) {
    let (nh, nkv, hs) = heads;
    let (qd, kvd) = (nh * hs, nkv * hs);
    let n = pos0 + t;
    let q = rand_vec(t * qd, 10 + pos0 as u64, 1.0);
    let kc = rand_vec(n * kvd, 11, 1.5);
    let vc = rand_vec(n * kvd, 12, 1.0);
    let mut want = vec![0.0; t * qd];
    ops::attention_forward(&mut want, &q, &kc, &vc, pos0, t, nh, nkv, hs, causal);
    // One buffer: K for a capacity of n + 5 rows, then V. The rows past n hold huge values the
    // kernel must not look at.
    let cap = n + 5;
    let mut kv = kc.clone();
    kv.extend(vec![1e3; 5 * kvd]);
    kv.extend(&vc);
    kv.extend(vec![1e3; 5 * kvd]);
    let (gq, gkv) = (
        buffers::upload_f32(g, "q", &q).unwrap(),
        buffers::upload_f32(g, "kv", &kv).unwrap(),
    );
    let part = buffers::zeros(g, "part", nh * kernels::MAX_SPLITS * (hs + 2)).unwrap();
    let out = buffers::zeros(g, "out", t * qd).unwrap();
    let cache = KvCacheRef {
        buf: &gkv,
        v_off: cap * kvd,
    };
    let got = run(g, &out, t * qd, |r| {
        kernels::attention(
            r,
            &out,
            &gq,
            cache,
            Some(&part),
            t,
            nh,
            nkv,
            hs,
            pos0,
            causal,
        )
    });
    let splits = if t == 1 {
        kernels::decode_splits(n).0
    } else {
        1
    };
    check(
        &format!(
            "attention T={t} pos0={pos0} NH={nh} NKV={nkv} HS={hs} causal={causal} splits={splits}"
        ),
        &got,
        &want,
        1e-4,
    );
}

#[test]
fn attention_matches_cpu() {
    let Some(g) = gpu() else { return };
    // (T, pos0): a prefill from empty; a prefill after cached rows; decode steps whose context
    // spans one, two and three blocks of 64 positions. Causal, and bidirectional (a classifier:
    // every row sees all pos0 + T positions). GQA 6/2 heads of 20, and 9/3 of 64 (SmolLM2).
    for causal in [true, false] {
        for &(t, pos0) in &[(37, 0), (37, 11), (1, 0), (1, 70), (3, 150), (70, 0)] {
            attention_case(&g, t, pos0, (6, 2, 20), causal);
        }
    }
    attention_case(&g, 37, 5, (9, 3, 64), true);
    attention_case(&g, 1, 127, (9, 3, 64), true);
    // More heads per KV head than one workgroup takes (12 > 8), and plain multi-head (1 per KV).
    attention_case(&g, 5, 3, (12, 1, 16), true);
    attention_case(&g, 1, 99, (12, 1, 16), true);
    attention_case(&g, 9, 2, (4, 4, 8), true);
}

#[test]
fn split_k_decode_attention_matches_cpu_over_long_contexts() {
    let Some(g) = gpu() else { return };
    // Flash-decoding: one row over 65 .. 2048 positions is cut into up to 32 ranges, each
    // reduced alone, then merged; the result is the CPU's single softmax.
    for pos0 in [64, 200, 1000, 2047] {
        let (splits, len) = kernels::decode_splits(pos0 + 1);
        assert!(splits > 1 && splits <= kernels::MAX_SPLITS && len % 64 == 0);
        attention_case(&g, 1, pos0, (9, 3, 64), true);
    }
    attention_case(&g, 1, 1500, (6, 2, 20), false);
}

#[test]
fn pool_matches_cpu() {
    let Some(g) = gpu() else { return };
    use tinychat::config::Pooling;
    // C = 203 spans four workgroups of 64 channels, the last one partly; T = 37 (max, last) and
    // 2·18 + 1 = 37 rows of `x sep x` for echo_max, which pools rows 19.. only.
    let (t, c) = (37, 203);
    let x = rand_vec(t * c, 21, 3.0);
    let gx = buffers::upload_f32(&g, "x", &x).unwrap();
    for pooling in [Pooling::Last, Pooling::Max, Pooling::EchoMax] {
        for rows in [1, 2, t] {
            let mut want = vec![0.0; c];
            ops::pool_forward(&mut want, &x[..rows * c], c, pooling);
            let out = buffers::zeros(&g, "out", c).unwrap();
            let got = run(&g, &out, c, |r| {
                kernels::pool(r, &out, &gx, rows, c, pooling)
            });
            // A maximum is a copy, not a sum: the results must be bitwise equal.
            check(&format!("pool {pooling} T={rows} C={c}"), &got, &want, 0.0);
        }
    }
}

#[test]
fn embedding_matches_cpu() {
    let Some(g) = gpu() else { return };
    let (v, c, t, pos0, max_t) = (1757, 203, 37, 9, 64);
    let wte = rand_vec(v * c, 15, 1.0);
    let wpe = rand_vec(max_t * c, 16, 1.0);
    let tokens: Vec<u32> = (0..t as u32)
        .map(|i| (i * 977 + 5) % v as u32)
        .chain([v as u32 - 1])
        .collect();
    let t = tokens.len();
    for format in [WeightFormat::F32, WeightFormat::F16] {
        let wc = match format {
            WeightFormat::F16 => round_f16(&wte),
            _ => wte.clone(),
        };
        let gw = Weight::upload(&g, "wte", &wte, v, c, format).unwrap();
        let gp = buffers::upload_f32(&g, "wpe", &wpe).unwrap();
        let gt = buffers::upload_bytes(&g, "tokens", bytemuck::cast_slice(&tokens)).unwrap();
        let out = buffers::zeros(&g, "out", t * c).unwrap();
        for pos in [None, Some(&wpe)] {
            let mut want = vec![0.0; t * c];
            ops::embedding_forward(&mut want, &tokens, &wc, pos.map(|p| &p[..]), pos0, c);
            let got = run(&g, &out, t * c, |r| {
                kernels::embedding(r, &out, &gt, &gw, pos.map(|_| &gp), t, pos0)
            });
            check(
                &format!(
                    "embedding {} V={v} C={c} T={t} positions={}",
                    format.name(),
                    pos.is_some()
                ),
                &got,
                &want,
                1e-6,
            );
        }
    }
}

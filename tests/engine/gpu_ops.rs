//! Each GPU kernel against its CPU twin in `tinychat::ops`, on odd, unaligned sizes (T = 37,
//! C = 200 and 203, V = 1757, grouped-query heads). Max abs difference ≤ 1e-4 with f32 weights,
//! ≤ 2e-3 with f16 weights (against the CPU twin run on the same f16-rounded weights).
//!
//! Runs on any wgpu adapter; on Linux CI that is Mesa's lavapipe (`WGPU_BACKEND=vulkan`). With
//! no adapter at all, each test prints a SKIP line and passes.

use std::sync::{Arc, OnceLock};
use tinychat::generate::{argmax as cpu_argmax, Rng};
use tinychat::gpu::buffers::{self, round_f16, Weight, WeightFormat};
use tinychat::gpu::kernels::{self, Arena, MatmulKernel, Recorder};
use tinychat::gpu::GpuContext;
use tinychat::ops;

fn gpu() -> Option<Arc<GpuContext>> {
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

fn rand_vec(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (rng.uniform() * 2.0 - 1.0) * scale)
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
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

fn check(what: &str, got: &[f32], want: &[f32], tol: f32) {
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
        WeightFormat::F16 => 2e-3,
    }
}

/// Runs what `record` records as one submission, then reads `n` floats of `out`.
fn run(
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
                WeightFormat::F32 => w.clone(),
                WeightFormat::F16 => round_f16(&w),
            };
            let mut want = vec![0.0; t * n];
            ops::matmul_forward(&mut want, &x, &wc, Some(&b), t, k, n);
            let gw = Weight::upload(&g, "w", &w, n, k, format).unwrap();
            let gx = buffers::upload_f32(&g, "x", &x).unwrap();
            let gb = buffers::upload_f32(&g, "b", &b).unwrap();
            for kernel in [MatmulKernel::Tiled, MatmulKernel::Vector] {
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
    for kernel in [MatmulKernel::Tiled, MatmulKernel::Vector] {
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
        let (gx, gw, gb) = (
            buffers::upload_f32(&g, "x", &x).unwrap(),
            buffers::upload_f32(&g, "w", &w).unwrap(),
            buffers::upload_f32(&g, "b", &b).unwrap(),
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
            kernels::layernorm(r, &out, &gx, &gw, &gb, t, c, 1e-5)
        });
        check(&format!("layernorm T={t} C={c}"), &got, &want, 1e-4);
    }
}

#[test]
fn rope_matches_cpu() {
    let Some(g) = gpu() else { return };
    let (t, nh, hs, pos0, max_t) = (37, 6, 18, 11, 96);
    let table = ops::RopeTable::new(max_t, hs, 10000.0);
    let x = rand_vec(t * nh * hs, 9, 1.0);
    let mut want = x.clone();
    ops::rope_forward(&mut want, &table, pos0, t, nh, hs);
    // On the GPU the rows start 7 heads' worth into the buffer, as new rows of a KV cache do.
    let off = 7 * hs;
    let mut padded = vec![0.5; off];
    padded.extend_from_slice(&x);
    let gx = buffers::upload_f32(&g, "x", &padded).unwrap();
    let gc = buffers::upload_f32(&g, "cos", &table.cos).unwrap();
    let gs = buffers::upload_f32(&g, "sin", &table.sin).unwrap();
    let got = run(&g, &gx, off + t * nh * hs, |r| {
        kernels::rope(r, &gx, off, &gc, &gs, t, nh, hs, pos0)
    });
    assert!(
        got[..off].iter().all(|&v| v == 0.5),
        "rope wrote before x_off"
    );
    check("rope T=37 NH=6 HS=18 pos0=11", &got[off..], &want, 1e-5);
}

#[test]
fn attention_matches_cpu() {
    let Some(g) = gpu() else { return };
    // (T, pos0): a prefill from empty; a prefill after cached rows; decode steps whose context
    // spans one, two and three blocks of 64 positions. Causal, and bidirectional (a classifier:
    // every row sees all pos0 + T positions).
    for causal in [true, false] {
        for &(t, pos0) in &[(37, 0), (37, 11), (1, 0), (1, 70), (3, 150), (70, 0)] {
            let (nh, nkv, hs) = (6, 2, 20);
            let (qd, kvd) = (nh * hs, nkv * hs);
            let n = pos0 + t;
            let q = rand_vec(t * qd, 10 + pos0 as u64, 1.0);
            let kc = rand_vec(n * kvd, 11, 1.5);
            let vc = rand_vec(n * kvd, 12, 1.0);
            let mut want = vec![0.0; t * qd];
            ops::attention_forward(&mut want, &q, &kc, &vc, pos0, t, nh, nkv, hs, causal);
            // The cache has room for more rows than are filled; the kernel must not look past n.
            let mut kbig = kc.clone();
            kbig.extend(vec![1e3; 5 * kvd]);
            let mut vbig = vc.clone();
            vbig.extend(vec![1e3; 5 * kvd]);
            let (gq, gk, gv) = (
                buffers::upload_f32(&g, "q", &q).unwrap(),
                buffers::upload_f32(&g, "k", &kbig).unwrap(),
                buffers::upload_f32(&g, "v", &vbig).unwrap(),
            );
            let out = buffers::zeros(&g, "out", t * qd).unwrap();
            let got = run(&g, &out, t * qd, |r| {
                kernels::attention(r, &out, &gq, &gk, &gv, t, nh, nkv, hs, pos0, causal)
            });
            check(
                &format!("attention T={t} pos0={pos0} NH={nh} NKV={nkv} HS={hs} causal={causal}"),
                &got,
                &want,
                1e-4,
            );
        }
    }
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
fn elementwise_ops_match_cpu() {
    let Some(g) = gpu() else { return };
    let n = 37 * 200 + 3;
    let a = rand_vec(n, 13, 6.0);
    let mut b = rand_vec(n, 14, 2.0);
    // Large inputs: GELU's tanh must saturate, not overflow to NaN.
    b[0] = 40.0;
    b[1] = -40.0;
    b[2] = 1e4;
    let (ga, gb) = (
        buffers::upload_f32(&g, "a", &a).unwrap(),
        buffers::upload_f32(&g, "b", &b).unwrap(),
    );
    let out = buffers::zeros(&g, "out", n).unwrap();

    let mut want = vec![0.0; n];
    ops::swiglu_forward(&mut want, &a, &b);
    let got = run(&g, &out, n, |r| kernels::swiglu(r, &out, &ga, &gb, n));
    check("swiglu N=7403", &got, &want, 1e-4);

    ops::gelu_forward(&mut want, &b);
    let got = run(&g, &out, n, |r| kernels::gelu(r, &out, &gb, n));
    check("gelu N=7403", &got, &want, 1e-4);

    let acc = buffers::upload_f32(&g, "acc", &a).unwrap();
    let mut want = a.clone();
    ops::residual_forward(&mut want, &b);
    let got = run(&g, &acc, n, |r| kernels::residual(r, &acc, &gb, n));
    check("residual N=7403", &got, &want, 1e-5);
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
            WeightFormat::F32 => wte.clone(),
            WeightFormat::F16 => round_f16(&wte),
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

#[test]
fn argmax_matches_cpu_and_takes_the_first_tie() {
    let Some(g) = gpu() else { return };
    let n = 1757;
    let mut x = rand_vec(n + 10, 17, 3.0);
    x[10 + 1200] = 9.0;
    x[10 + 1500] = 9.0; // a tie: the first index wins
    x[10 + 700] = 9.0;
    let gx = buffers::upload_f32(&g, "x", &x).unwrap();
    let out = buffers::zeros(&g, "out", 1).unwrap();
    let got = run(&g, &out, 1, |r| kernels::argmax(r, &out, &gx, 10, n));
    let got = got[0].to_bits();
    assert_eq!(got, cpu_argmax(&x[10..]));
    assert_eq!(got, 700);
    println!("argmax N={n}: {got} (CPU agrees)");
}

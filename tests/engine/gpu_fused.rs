//! The fused kernels against their CPU twins (the sequence of CPU ops each one replaces), on odd
//! sizes — T = 1, 3 (matvec) and 37 (tiled matmul), C = 96, GQA with 6/2 heads of 18, FF = 37:
//! the norm folded into the matvec, Q/K/V in one pass with RoPE and the KV-cache write, W_gate
//! and W_up in one pass with SwiGLU (and apart, with silu(gate)·up), GELU, and the residual add.

use super::gpu_ops::{check, gpu, rand_vec, run};
use tinychat::gpu::buffers::{self, Weight, WeightFormat};
use tinychat::gpu::kernels::{self, Epilogue, Linear, MatmulKernel, Norm, QkvOut};
use tinychat::gpu::GpuContext;
use tinychat::ops;
use tinychat::tensor::Tensor;

const KERNELS: [(usize, MatmulKernel); 4] = [
    (1, MatmulKernel::Vector),
    (3, MatmulKernel::Vector),
    (37, MatmulKernel::Tiled),
    (37, MatmulKernel::TiledSmall),
];

fn cpu_linear(x: &[f32], w: &[f32], b: Option<&[f32]>, t: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; t * n];
    let wt = Tensor::f32(vec![n, k], w.to_vec());
    ops::linear_forward(&mut out, x, &wt, b, t);
    out
}

/// vecs = [norm weight (C), norm bias (C), bias...]: the layout of `GpuModel::vecs`, at offsets.
fn vecs(g: &GpuContext, c: usize, bias: &[f32]) -> (wgpu::Buffer, Vec<f32>, Vec<f32>) {
    let nw = rand_vec(c, 30, 1.0);
    let nb = rand_vec(c, 31, 0.5);
    let all: Vec<f32> = nw.iter().chain(&nb).chain(bias).copied().collect();
    (buffers::upload_f32(g, "vecs", &all).unwrap(), nw, nb)
}

#[test]
fn norm_folds_into_the_matvec() {
    let Some(g) = gpu() else { return };
    let (c, n) = (203, 45);
    let w = rand_vec(n * c, 1, 0.2);
    let b = rand_vec(n, 2, 0.5);
    let (gvecs, nw, nb) = vecs(&g, c, &b);
    for f in [WeightFormat::F32, WeightFormat::F16] {
        let gw = Weight::upload(&g, "w", &w, n, c, f).unwrap();
        let wc = match f {
            WeightFormat::F16 => buffers::round_f16(&w),
            _ => w.clone(),
        };
        for t in [1, 3] {
            // An offset mean, which a one-pass variance formula would get wrong.
            let x: Vec<f32> = rand_vec(t * c, 3, 2.0).iter().map(|v| v + 3.0).collect();
            let gx = buffers::upload_f32(&g, "x", &x).unwrap();
            let (mut xn, mut s1, mut s2) = (vec![0.0; t * c], vec![0.0; t], vec![0.0; t]);
            for layer in [false, true] {
                let norm = match layer {
                    false => {
                        ops::rmsnorm_forward(&mut xn, &mut s1, &x, &nw, t, c, 1e-5);
                        Norm::Rms { w: 0, eps: 1e-5 }
                    }
                    true => {
                        ops::layernorm_forward(&mut xn, &mut s1, &mut s2, &x, &nw, &nb, t, c, 1e-5);
                        Norm::Layer {
                            w: 0,
                            b: c,
                            eps: 1e-5,
                        }
                    }
                };
                let want = cpu_linear(&xn, &wc, Some(&b), t, c, n);
                let out = buffers::zeros(&g, "out", t * n).unwrap();
                let lin = Linear {
                    vecs: Some(&gvecs),
                    bias: Some(2 * c),
                    norm,
                    ..Linear::new(&gw, &gx, &out, t)
                };
                let got = run(&g, &out, t * n, |r| {
                    kernels::linear(r, MatmulKernel::Vector, &lin)
                });
                let what = if layer { "layernorm" } else { "rmsnorm" };
                check(
                    &format!("{what} + matvec {} T={t}", f.name()),
                    &got,
                    &want,
                    2e-3,
                );
            }
        }
    }
}

#[test]
fn a_wide_input_is_normed_as_it_is_read() {
    // K = 2085 is past what the matvec stages in workgroup memory (2048): x is read, and normed,
    // from global memory block by block.
    let Some(g) = gpu() else { return };
    let (c, n, t) = (2085, 21, 2);
    let w = rand_vec(n * c, 40, 0.1);
    let (gvecs, nw, _) = vecs(&g, c, &[]);
    let x = rand_vec(t * c, 41, 2.0);
    let (mut xn, mut s1) = (vec![0.0; t * c], vec![0.0; t]);
    ops::rmsnorm_forward(&mut xn, &mut s1, &x, &nw, t, c, 1e-5);
    let want = cpu_linear(&xn, &w, None, t, c, n);
    let gx = buffers::upload_f32(&g, "x", &x).unwrap();
    for f in [WeightFormat::F32, WeightFormat::BF16] {
        let gw = Weight::upload(&g, "w", &w, n, c, f).unwrap();
        let wc: Vec<f32> = match f {
            WeightFormat::BF16 => w
                .iter()
                .map(|&v| half::bf16::from_f32(v).to_f32())
                .collect(),
            _ => w.clone(),
        };
        let want = match f {
            WeightFormat::BF16 => cpu_linear(&xn, &wc, None, t, c, n),
            _ => want.clone(),
        };
        let out = buffers::zeros(&g, "out", t * n).unwrap();
        let lin = Linear {
            vecs: Some(&gvecs),
            norm: Norm::Rms { w: 0, eps: 1e-5 },
            ..Linear::new(&gw, &gx, &out, t)
        };
        let got = run(&g, &out, t * n, |r| {
            kernels::linear(r, MatmulKernel::Vector, &lin)
        });
        check(
            &format!("rmsnorm + matvec {} K={c}", f.name()),
            &got,
            &want,
            1e-3,
        );
    }
}

#[test]
fn residual_add_and_gelu_epilogues() {
    let Some(g) = gpu() else { return };
    let (k, n) = (96, 37);
    let w = rand_vec(n * k, 4, 0.3);
    let b = rand_vec(n, 5, 0.5);
    let gw = Weight::upload(&g, "w", &w, n, k, WeightFormat::F32).unwrap();
    let gb = buffers::upload_f32(&g, "b", &b).unwrap();
    for (t, kernel) in KERNELS {
        let x = rand_vec(t * k, 6, 2.0);
        let acc = rand_vec(t * n, 7, 1.0);
        let y = cpu_linear(&x, &w, Some(&b), t, k, n);
        let gx = buffers::upload_f32(&g, "x", &x).unwrap();
        // x += W·a + b: the residual add after Wo and W_down.
        let mut want = acc.clone();
        ops::residual_forward(&mut want, &y);
        let out = buffers::upload_f32(&g, "acc", &acc).unwrap();
        let lin = Linear {
            vecs: Some(&gb),
            bias: Some(0),
            epi: Epilogue::Add,
            ..Linear::new(&gw, &gx, &out, t)
        };
        let got = run(&g, &out, t * n, |r| kernels::linear(r, kernel, &lin));
        check(
            &format!("matmul + residual {kernel:?} T={t}"),
            &got,
            &want,
            1e-4,
        );
        // gelu(W·x + b): gpt2's c_fc. Large inputs too (tanh must saturate, not overflow).
        let xb: Vec<f32> = x.iter().map(|v| v * 40.0).collect();
        let gxb = buffers::upload_f32(&g, "xb", &xb).unwrap();
        let mut want = vec![0.0; t * n];
        ops::gelu_forward(&mut want, &cpu_linear(&xb, &w, Some(&b), t, k, n));
        let out = buffers::zeros(&g, "out", t * n).unwrap();
        let lin = Linear {
            epi: Epilogue::Gelu,
            ..Linear {
                x: &gxb,
                out: &out,
                ..lin
            }
        };
        let got = run(&g, &out, t * n, |r| kernels::linear(r, kernel, &lin));
        check(
            &format!("matmul + gelu {kernel:?} T={t}"),
            &got,
            &want,
            2e-3,
        );
    }
}

#[test]
fn gate_and_up_in_one_pass_with_swiglu() {
    let Some(g) = gpu() else { return };
    let (c, ff) = (96, 37);
    let wg = rand_vec(ff * c, 8, 0.3);
    let wu = rand_vec(ff * c, 9, 0.3);
    let bias = rand_vec(2 * ff, 10, 0.5); // gate's then up's
    let stacked: Vec<f32> = wg.iter().chain(&wu).copied().collect();
    let (gvecs, _, _) = vecs(&g, c, &bias);
    let gw = Weight::upload(&g, "gate_up", &stacked, 2 * ff, c, WeightFormat::F32).unwrap();
    let (gg, gu) = (
        Weight::upload(&g, "gate", &wg, ff, c, WeightFormat::F32).unwrap(),
        Weight::upload(&g, "up", &wu, ff, c, WeightFormat::F32).unwrap(),
    );
    for (t, kernel) in KERNELS {
        let x = rand_vec(t * c, 11, 1.0);
        let gx = buffers::upload_f32(&g, "x", &x).unwrap();
        let hg = cpu_linear(&x, &wg, Some(&bias[..ff]), t, c, ff);
        let hu = cpu_linear(&x, &wu, Some(&bias[ff..]), t, c, ff);
        let mut want = vec![0.0; t * ff];
        ops::swiglu_forward(&mut want, &hg, &hu);
        let out = buffers::zeros(&g, "act", t * ff).unwrap();
        let lin = Linear {
            vecs: Some(&gvecs),
            bias: Some(2 * c),
            epi: Epilogue::Swiglu,
            ..Linear::new(&gw, &gx, &out, t)
        };
        let got = run(&g, &out, t * ff, |r| kernels::linear(r, kernel, &lin));
        check(
            &format!("gate/up + swiglu {kernel:?} T={t} FF={ff}"),
            &got,
            &want,
            1e-4,
        );
        // Apart (gate and up stored in different formats): the gate, then silu(gate)·up.
        let gate = buffers::zeros(&g, "gate", t * ff).unwrap();
        let out = buffers::zeros(&g, "act", t * ff).unwrap();
        let got = run(&g, &out, t * ff, |r| {
            let lg = Linear {
                vecs: Some(&gvecs),
                bias: Some(2 * c),
                ..Linear::new(&gg, &gx, &gate, t)
            };
            kernels::linear(r, kernel, &lg);
            let lu = Linear {
                vecs: Some(&gvecs),
                bias: Some(2 * c + ff),
                epi: Epilogue::SiluMul {
                    gate: &gate,
                    gate_off: 0,
                },
                ..Linear::new(&gu, &gx, &out, t)
            };
            kernels::linear(r, kernel, &lu);
        });
        check(
            &format!("gate, up·silu(gate) {kernel:?} T={t}"),
            &got,
            &want,
            1e-4,
        );
    }
}

/// Q, K, V of `t` rows at `pos0` against the CPU: three linears, RoPE on q and k (when `rope`),
/// k and v appended to the cache rows pos0.. — with the matrices stacked, and apart.
fn qkv_case(g: &GpuContext, t: usize, kernel: MatmulKernel, rope: bool, pos0: usize) {
    let (c, nh, nkv, hs, max_t) = (96, 6, 2, 18, 64);
    let (qd, kvd) = (nh * hs, nkv * hs);
    let (wq, wk, wv) = (
        rand_vec(qd * c, 12, 0.3),
        rand_vec(kvd * c, 13, 0.3),
        rand_vec(kvd * c, 14, 0.3),
    );
    let bias = rand_vec(qd + 2 * kvd, 15, 0.5);
    let x = rand_vec(t * c, 16, 1.0);
    let table = ops::RopeTable::new(max_t, hs, 10000.0);
    let mut q = cpu_linear(&x, &wq, Some(&bias[..qd]), t, c, qd);
    let mut k = cpu_linear(&x, &wk, Some(&bias[qd..qd + kvd]), t, c, kvd);
    let v = cpu_linear(&x, &wv, Some(&bias[qd + kvd..]), t, c, kvd);
    if rope {
        ops::rope_forward(&mut q, &table, pos0, t, nh, hs);
        ops::rope_forward(&mut k, &table, pos0, t, nkv, hs);
    }
    let cap = pos0 + t + 3;
    // The cache as it must be after: rows pos0.. of K and V filled, the rest untouched (0.5).
    let mut want_kv = vec![0.5; 2 * cap * kvd];
    want_kv[pos0 * kvd..(pos0 + t) * kvd].copy_from_slice(&k);
    want_kv[(cap + pos0) * kvd..(cap + pos0 + t) * kvd].copy_from_slice(&v);

    let (gvecs, _, _) = vecs(g, c, &bias);
    let mut rope_table = table.cos.clone();
    rope_table.extend(&table.sin);
    let grope = buffers::upload_f32(g, "rope", &rope_table).unwrap();
    let gx = buffers::upload_f32(g, "x", &x).unwrap();
    let stacked: Vec<f32> = wq.iter().chain(&wk).chain(&wv).copied().collect();
    let f = WeightFormat::F32;
    let all = Weight::upload(g, "qkv", &stacked, qd + 2 * kvd, c, f).unwrap();
    let parts = [
        (Weight::upload(g, "q", &wq, qd, c, f).unwrap(), 0),
        (Weight::upload(g, "k", &wk, kvd, c, f).unwrap(), qd),
        (Weight::upload(g, "v", &wv, kvd, c, f).unwrap(), qd + kvd),
    ];
    for stacked in [true, false] {
        let gkv = buffers::upload_f32(g, "kv", &vec![0.5; 2 * cap * kvd]).unwrap();
        let gq = buffers::zeros(g, "q", t * qd).unwrap();
        let out = QkvOut {
            kv: &gkv,
            v_off: cap * kvd,
            hs,
            q_dim: qd,
            kv_dim: kvd,
            pos0,
            rope: rope.then_some((&grope, table.cos.len())),
        };
        let weights: Vec<(&Weight, usize)> = match stacked {
            true => vec![(&all, 0)],
            false => parts.iter().map(|(w, c0)| (w, *c0)).collect(),
        };
        let got_q = run(g, &gq, t * qd, |r| {
            for (w, c_base) in &weights {
                let lin = Linear {
                    vecs: Some(&gvecs),
                    bias: Some(2 * c),
                    epi: Epilogue::Qkv(out),
                    c_base: *c_base,
                    ..Linear::new(w, &gx, &gq, t)
                };
                kernels::linear(r, kernel, &lin);
            }
        });
        let got_kv = buffers::read_f32_blocking(g, &gkv, 0, 2 * cap * kvd).unwrap();
        let what = format!("QKV stacked={stacked} rope={rope} {kernel:?} T={t} pos0={pos0}");
        check(&format!("{what}: q"), &got_q, &q, 1e-4);
        check(&format!("{what}: KV cache"), &got_kv, &want_kv, 1e-4);
    }
}

#[test]
fn qkv_in_one_pass_with_rope_and_the_cache_write() {
    let Some(g) = gpu() else { return };
    for (t, kernel) in KERNELS {
        qkv_case(&g, t, kernel, true, 11);
        qkv_case(&g, t, kernel, false, 0);
    }
}

//! Every kernel against the scalar reference (`quant::dequantize` + a loop in f64), on every
//! instruction set this machine has, forced explicitly, on one thread and on several.
//!
//! Tolerances: the kernels sum in f32 in their own order, so they are checked to 2e-6 of
//! Σ|w·x| (the scale of the rounding error of any f32 summation order over these lengths).
//! Quantized formats read the 8-bit x (`Q8Act`), so their reference uses that x too; against
//! the exact x they are also checked, loosely (1% of Σ|w·x|), to catch a wrong scale.

use super::*;
use crate::quant::QType;

fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = crate::generate::Rng::new(seed);
    (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// (W · x as the kernels should compute it, Σ|w·x|) per row, in f64.
fn reference(w: &Tensor, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (rows, cols) = w.rows_cols();
    let wd = w.to_f32();
    let xs: Vec<f32> = if w.qtype().is_quantized() {
        let mut q = Q8Act::default();
        q.quantize(x);
        q.dequantized()
    } else {
        x.to_vec()
    };
    let mut want = vec![0.0; rows];
    let mut mag = vec![0.0; rows];
    for r in 0..rows {
        for i in 0..cols {
            let p = wd[r * cols + i] as f64 * xs[i] as f64;
            want[r] += p;
            mag[r] += p.abs();
        }
    }
    (want, mag)
}

fn assert_close(got: &[f32], want: &[f64], mag: &[f64], rel: f64, what: &str) {
    for (r, ((g, w), m)) in got.iter().zip(want).zip(mag).enumerate() {
        let err = (*g as f64 - w).abs();
        assert!(
            err <= rel * m + 1e-30,
            "{what}: row {r}: got {g}, want {w} (error {err:.3e} > {rel:e} · Σ|w·x| = {:.3e})",
            rel * m
        );
    }
}

/// Column counts per format: odd ones for the float types (tails of 8 and 16), 1 and 3 blocks
/// (odd counts: one accumulator gets one more block) and the SmolLM2 widths for the blocks.
fn widths(q: QType) -> Vec<usize> {
    match q.block_len() {
        1 => vec![1, 7, 75, 131, 576],
        32 => vec![32, 96, 576, 1536],
        _ => vec![256, 768, 1536],
    }
}

#[test]
fn f16_bits_convert_like_half_for_every_value() {
    for h in 0..=u16::MAX {
        let want = half::f16::from_bits(h).to_f32();
        let got = portable::f16_bits_to_f32(h);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{h:#06x}: {got} vs {want}"
        );
    }
}

#[test]
fn every_kernel_matches_the_reference() {
    let isas = Isa::available();
    eprintln!("instruction sets tested: {isas:?}");
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512vnni") {
        assert_eq!(isas, [Isa::Portable, Isa::Avx2, Isa::Avx512]);
    }
    for isa in isas {
        for q in QType::ALL {
            for n_in in widths(q) {
                for n_out in [1, 5, 37, 70] {
                    let w = Tensor::from_f32(vec![n_out, n_in], &rand_vec(n_out * n_in, 2), q);
                    let x = rand_vec(n_in, 1);
                    let (want, mag) = reference(&w, &x);
                    let mut got = vec![0.0; n_out];
                    matvec_with(isa, &mut got, &x, &w, None, Store::Set);
                    let what = format!("{} {q} OUT={n_out} IN={n_in}", isa.name());
                    assert_close(&got, &want, &mag, 2e-6, &what);
                    if q.is_quantized() {
                        // Against the exact x: only the 8-bit rounding of x separates them.
                        let exact = Tensor::f32(vec![n_out, n_in], w.to_f32().into_owned());
                        let (want, mag) = reference(&exact, &x);
                        assert_close(&got, &want, &mag, 1e-2, &format!("{what} (exact x)"));
                    }
                }
            }
        }
    }
}

#[test]
fn bias_residual_stacking_and_threads() {
    // Three stacked matrices (the QKV shape, odd sizes) split into tasks that straddle them,
    // with biases, written and then added, on 1 and 3 threads; results must not depend on the
    // thread count (every row is computed by one task, in one order).
    let n_in = 96;
    let sizes = [37, 19, 19];
    for q in [QType::F32, QType::F16, QType::Q8_0, QType::Q4_1] {
        let ws: Vec<Tensor> = sizes
            .iter()
            .enumerate()
            .map(|(i, &r)| Tensor::from_f32(vec![r, n_in], &rand_vec(r * n_in, 10 + i as u64), q))
            .collect();
        let bs: Vec<Vec<f32>> = sizes.iter().map(|&r| rand_vec(r, 20 + r as u64)).collect();
        let parts: Vec<(&Tensor, Option<&[f32]>)> =
            ws.iter().zip(&bs).map(|(w, b)| (w, Some(&b[..]))).collect();
        let x = rand_vec(n_in, 3);
        let base = rand_vec(75, 4);
        for isa in Isa::available() {
            let mut results = vec![];
            for threads in [1, 3] {
                let mut o = base.clone();
                pool(threads).install(|| matvec_cat_with(isa, &mut o, &x, &parts, Store::Add));
                results.push(o);
            }
            assert_eq!(results[0], results[1], "{q} {}: 1 vs 3 threads", isa.name());
            let mut row0 = 0;
            for (w, b) in ws.iter().zip(&bs) {
                let (want, mag) = reference(w, &x);
                let want: Vec<f64> = (0..want.len())
                    .map(|r| want[r] + b[r] as f64 + base[row0 + r] as f64)
                    .collect();
                let got = &results[0][row0..row0 + want.len()];
                assert_close(
                    got,
                    &want,
                    &mag,
                    1e-5,
                    &format!("{q} {} stacked", isa.name()),
                );
                row0 += want.len();
            }
        }
    }
}

#[test]
fn swiglu_matches_gate_and_up_separately() {
    let (n_in, ff) = (64, 77);
    for q in [QType::F32, QType::BF16, QType::Q4_0, QType::Q8_0] {
        let wg = Tensor::from_f32(vec![ff, n_in], &rand_vec(ff * n_in, 5), q);
        let wu = Tensor::from_f32(vec![ff, n_in], &rand_vec(ff * n_in, 6), q);
        let bu = rand_vec(ff, 7);
        let x = rand_vec(n_in, 8);
        for isa in Isa::available() {
            for threads in [1, 2] {
                let (mut g, mut u, mut want, mut got) =
                    (vec![0.0; ff], vec![0.0; ff], vec![0.0; ff], vec![0.0; ff]);
                pool(threads).install(|| {
                    matvec_with(isa, &mut g, &x, &wg, None, Store::Set);
                    matvec_with(isa, &mut u, &x, &wu, Some(&bu), Store::Set);
                    matvec_swiglu_with(isa, &mut got, &x, (&wg, None), (&wu, Some(&bu)));
                });
                crate::ops::swiglu_forward(&mut want, &g, &u);
                assert_eq!(got, want, "{q} {} threads={threads}", isa.name());
            }
        }
    }
}

#[test]
fn float_rows_are_exactly_their_f32_widening() {
    // The same summation for f32, f16 and bf16 rows on each ISA: packed weights compute exactly
    // what their widened f32 copy would (the engine's behaviour before weights stayed packed).
    for isa in Isa::available() {
        for q in [QType::F16, QType::BF16] {
            for n_in in widths(q) {
                let w = Tensor::from_f32(vec![9, n_in], &rand_vec(9 * n_in, 2), q);
                let wide = Tensor::f32(vec![9, n_in], w.to_f32().into_owned());
                let x = rand_vec(n_in, 1);
                let (mut a, mut b) = (vec![0.0; 9], vec![0.0; 9]);
                matvec_with(isa, &mut a, &x, &w, None, Store::Set);
                matvec_with(isa, &mut b, &x, &wide, None, Store::Set);
                assert_eq!(a, b, "{} {q} IN={n_in}", isa.name());
            }
        }
    }
}

/// Matvecs started from inside rayon tasks: a worker waiting for its rows may run another
/// task's matvec on its own thread (work stealing), so the 8-bit x buffer must not be held
/// across the wait (it was, and a concurrent decode panicked with "already borrowed").
#[test]
fn nested_matvecs_on_workers_do_not_share_the_x_buffer() {
    use rayon::prelude::*;
    let (rows, n_in) = (2048, 512);
    let w = Tensor::from_f32(vec![rows, n_in], &rand_vec(rows * n_in, 7), QType::Q8_0);
    let xs: Vec<Vec<f32>> = (0..256).map(|i| rand_vec(n_in, 100 + i)).collect();
    let alone: Vec<Vec<f32>> = xs
        .iter()
        .map(|x| {
            let mut o = vec![0.0; rows];
            matvec(&mut o, x, &w, None, Store::Set);
            o
        })
        .collect();
    let together: Vec<Vec<f32>> = pool(8).install(|| {
        xs.par_iter()
            .map(|x| {
                let mut o = vec![0.0; rows];
                matvec(&mut o, x, &w, None, Store::Set);
                o
            })
            .collect()
    });
    assert_eq!(alone, together);
}

//! Prefill GEMM: out (T, N) = inp (T, K) · Wᵀ + bias for W (N, K) in any storage type, on
//! AVX-512 (other CPUs use `matrixmultiply` on dequantized tiles, see `linear.rs`).
//!
//! ```text
//! inp (T, K) ──pack once──► panels of 32 tokens: ap[p] (K, 32)          (shared by all threads)
//! W (N, K)   ──per task: 8..64 rows, widened/dequantized once to f32──► wt (rows, K) (thread-local)
//! micro-kernel: 8 rows of wt × one panel → C (8, 32) in 16 zmm accumulators:
//!     for k in 0..K: b = ap[p][k][0..32] (2 loads); for i in 0..8: C[i] += wt[i][k] · b
//! ```
//!
//! Rows of W are read straight from the (f32) tile and broadcast, so W needs no transposed
//! packing; only the small input is packed. Every weight is dequantized once per prefill and
//! then reused by all T tokens from L1/L2, so the packed formats cost the same as f32 here.

use super::matvec::Isa;
use super::SendPtr;
use crate::quant::QType;
use crate::tensor::{Tensor, TensorData};
use std::cell::RefCell;

/// Tokens per micro-kernel (two 16-lane registers).
const NR: usize = 32;
/// Rows of W per micro-kernel.
pub(crate) const MR: usize = 8;
/// Most rows of W per task (dequantized to f32 at once: TILE · K values).
const TILE: usize = 64;

thread_local! {
    static PANELS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static TILE_F32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Whether [`gemm`] runs on this CPU (with the kernels `Isa::current` picked).
pub fn available() -> bool {
    Isa::current() == Isa::Avx512
}

/// out: (T, N), inp: (T, K), w: (N, K), bias: (N). Panics unless [`available`].
pub fn gemm(out: &mut [f32], inp: &[f32], w: &Tensor, bias: Option<&[f32]>, t: usize) {
    gemm_cat(&mut [out], inp, &[(w, bias)], t)
}

/// [`gemm`] for several matrices that read the same input (Q, K and V; gate and up): the input
/// is packed once, and the tiles of all of them are one parallel region.
/// outs[i]: (T, Nᵢ) for parts[i] = (Wᵢ (Nᵢ, K), biasᵢ (Nᵢ)).
pub fn gemm_cat(
    outs: &mut [&mut [f32]],
    inp: &[f32],
    parts: &[(&Tensor, Option<&[f32]>)],
    t: usize,
) {
    assert!(available(), "prefill::gemm needs AVX-512");
    assert_eq!(outs.len(), parts.len(), "gemm_cat parts");
    let k = parts.first().map_or(0, |(w, _)| w.rows_cols().1);
    assert_eq!(inp.len(), t * k, "gemm inp");
    // (part, first row, rows) of every task.
    let mut tiles = Vec::new();
    for (pi, ((w, bias), out)) in parts.iter().zip(outs.iter()).enumerate() {
        let (n, wk) = w.rows_cols();
        assert_eq!(wk, k, "gemm: W has {wk} columns, the input {k}");
        assert_eq!(out.len(), t * n, "gemm out");
        assert!(bias.is_none_or(|b| b.len() == n), "gemm bias");
        // Rows per task: about 8 tasks per thread (the threads balance them), a multiple of MR.
        let tile = (n / (super::num_threads() * 8) / MR * MR).clamp(MR, TILE);
        tiles.extend((0..n.div_ceil(tile)).map(|ti| (pi, ti * tile, tile.min(n - ti * tile))));
    }
    let outs: Vec<SendPtr> = outs.iter_mut().map(|o| SendPtr(o.as_mut_ptr())).collect();
    let panels = t.div_ceil(NR);
    // Taken out of the thread-local for the call, not borrowed across it: while this thread
    // waits for the tasks below, rayon may run another gemm's task on it (work stealing).
    let mut ap_buf = PANELS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    {
        let ap = &mut ap_buf;
        // ap[p][kk][j] = inp[32p + j][kk], zero past T; written in order, one panel per task.
        ap.clear();
        ap.resize(panels * k * NR, 0.0);
        super::par_chunks(ap, k * NR, |p, panel| {
            let rows = NR.min(t - p * NR);
            for (kk, col) in panel.chunks_exact_mut(NR).enumerate() {
                for (j, v) in col.iter_mut().enumerate().take(rows) {
                    *v = inp[(p * NR + j) * k + kk];
                }
            }
        });
        let ap = &ap[..];
        super::par_for(tiles.len(), |ti| {
            let (pi, r0, rows) = tiles[ti];
            let (w, bias) = parts[pi];
            let (o, n) = (outs[pi], w.rows_cols().0);
            let tile = |wt: &[f32]| {
                for g in (0..rows).step_by(MR) {
                    let mr = MR.min(rows - g);
                    // Rows past the tile's end repeat its last row (computed, never stored).
                    let wp: [*const f32; MR] =
                        std::array::from_fn(|i| wt[(g + i.min(mr - 1)) * k..].as_ptr());
                    for p in 0..panels {
                        let mut c = [[0f32; NR]; MR];
                        // SAFETY: `available()` checked AVX-512; the MR row pointers address
                        // K values each inside wt, and ap[p] holds K · NR values.
                        #[cfg(target_arch = "x86_64")]
                        unsafe {
                            kernel_8x32(&wp, ap[p * k * NR..].as_ptr(), k, &mut c)
                        };
                        let nt = NR.min(t - p * NR);
                        for (i, ci) in c.iter().enumerate().take(mr) {
                            let col = r0 + g + i;
                            let b = bias.map_or(0.0, |b| b[col]);
                            for (j, v) in ci.iter().enumerate().take(nt) {
                                // SAFETY: row p·NR + j < T, column col < N: inside this part's
                                // out, and column col belongs to this task's tile only.
                                unsafe { *o.get().add((p * NR + j) * n + col) = v + b };
                            }
                        }
                    }
                }
            };
            match &w.data {
                TensorData::F32(v) => tile(&v[r0 * k..(r0 + rows) * k]),
                _ => TILE_F32.with(|buf| {
                    let mut buf = buf.borrow_mut();
                    buf.resize(rows * k, 0.0);
                    widen_rows(w, r0, &mut buf[..rows * k]);
                    tile(&buf[..rows * k])
                }),
            }
        });
    }
    PANELS.with(|c| *c.borrow_mut() = ap_buf);
}

/// out (rows, K) = rows r0.. of W as f32: exactly `Tensor::row_into`'s values, with AVX-512 for
/// F16 (`vcvtph2ps`) and Q8_0 (d · q, one f32 multiply a value, as the reference does).
fn widen_rows(w: &Tensor, r0: usize, out: &mut [f32]) {
    let k = w.rows_cols().1;
    let rows = out.len() / k;
    match &w.data {
        // SAFETY: `available()` (AVX-512) was checked by `gemm_cat`; the slices are in bounds.
        #[cfg(target_arch = "x86_64")]
        TensorData::F16(v) => unsafe { widen_f16(&v[r0 * k..(r0 + rows) * k], out) },
        #[cfg(target_arch = "x86_64")]
        TensorData::Quant(QType::Q8_0, b) if k.is_multiple_of(32) => {
            let rb = k / 32 * 34;
            unsafe { widen_q8_0(&b[r0 * rb..(r0 + rows) * rb], out) }
        }
        _ => {
            for (r, row) in out.chunks_exact_mut(k).enumerate() {
                w.row_into(r0 + r, row);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn widen_f16(h: &[half::f16], out: &mut [f32]) {
    use core::arch::x86_64::*;
    assert_eq!(h.len(), out.len());
    let n16 = h.len() / 16 * 16;
    for i in (0..n16).step_by(16) {
        let x = _mm256_loadu_si256(h.as_ptr().add(i) as *const __m256i);
        _mm512_storeu_ps(out.as_mut_ptr().add(i), _mm512_cvtph_ps(x));
    }
    for i in n16..h.len() {
        out[i] = h[i].to_f32();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn widen_q8_0(b: &[u8], out: &mut [f32]) {
    use core::arch::x86_64::*;
    assert_eq!(b.len() / 34 * 32, out.len());
    for (blk, o) in b.chunks_exact(34).zip(out.chunks_exact_mut(32)) {
        let d = _mm512_set1_ps(half::f16::from_le_bytes([blk[0], blk[1]]).to_f32());
        for h in 0..2 {
            let q = _mm_loadu_si128(blk.as_ptr().add(2 + 16 * h) as *const __m128i);
            let v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
            _mm512_storeu_ps(o.as_mut_ptr().add(16 * h), _mm512_mul_ps(d, v));
        }
    }
}

/// C (8, 32) = Σ_k w[i][k] · ap[k][0..32], for the 8 rows `w` of K values and one panel `ap`
/// (K, 32) of packed inputs: 16 zmm accumulators, 2 loads and 8 broadcasts per k.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn kernel_8x32(
    w: &[*const f32; MR],
    ap: *const f32,
    k: usize,
    c: &mut [[f32; NR]; MR],
) {
    use core::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for kk in 0..k {
        let b0 = _mm512_loadu_ps(ap.add(kk * NR));
        let b1 = _mm512_loadu_ps(ap.add(kk * NR + 16));
        for i in 0..MR {
            let a = _mm512_set1_ps(*w[i].add(kk));
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    for i in 0..MR {
        _mm512_storeu_ps(c[i].as_mut_ptr(), acc[i][0]);
        _mm512_storeu_ps(c[i].as_mut_ptr().add(16), acc[i][1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul_reference;
    use crate::quant::QType;

    fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::generate::Rng::new(seed);
        (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
    }

    /// Odd T (panel tails), N not a multiple of 8 or 64 (row tails), every storage type, one
    /// thread and three; against the triple loop on the dequantized weights, to 1e-4 (f32
    /// sums over K ≤ 768 values of magnitude ≤ 1).
    #[test]
    fn gemm_matches_the_reference() {
        if !available() {
            eprintln!("no AVX-512 here: prefill::gemm is not used");
            return;
        }
        for q in QType::ALL {
            let k = if q.block_len() == 256 { 768 } else { 96 };
            for &(t, n) in &[(8, 1), (37, 70), (3, 130), (33, 9)] {
                let w = Tensor::from_f32(vec![n, k], &rand_vec(n * k, 2), q);
                let x = rand_vec(t * k, 1);
                let b = rand_vec(n, 3);
                let mut want = vec![0.0; t * n];
                matmul_reference(&mut want, &x, &w.to_f32(), Some(&b), t, k, n);
                for threads in [1, 3] {
                    let mut got = vec![0.0; t * n];
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap()
                        .install(|| gemm(&mut got, &x, &w, Some(&b), t));
                    let diff = crate::ops::max_abs_diff(&got, &want);
                    assert!(diff < 1e-4, "{q} T={t} N={n} threads={threads}: {diff}");
                }
            }
        }
    }

    /// Q, K and V (or gate and up) through one packing give exactly what separate GEMMs give.
    #[test]
    fn gemm_cat_is_the_separate_gemms_exactly() {
        if !available() {
            return;
        }
        let (t, k) = (37, 96);
        let x = rand_vec(t * k, 1);
        for q in [QType::F32, QType::F16, QType::Q8_0] {
            let ws: Vec<Tensor> = [70, 9, 130]
                .iter()
                .map(|&n| Tensor::from_f32(vec![n, k], &rand_vec(n * k, n as u64), q))
                .collect();
            let b = rand_vec(9, 4);
            let parts = [(&ws[0], None), (&ws[1], Some(&b[..])), (&ws[2], None)];
            let mut got: Vec<Vec<f32>> =
                ws.iter().map(|w| vec![0.0; t * w.rows_cols().0]).collect();
            let [g0, g1, g2] = &mut got[..] else {
                unreachable!()
            };
            gemm_cat(&mut [g0, g1, g2], &x, &parts, t);
            gemm(&mut [], &[], &ws[0], None, 0); // no tokens: nothing to do, no panic
            for ((w, bias), got) in parts.iter().zip(&got) {
                let mut want = vec![0.0; got.len()];
                gemm(&mut want, &x, w, *bias, t);
                assert_eq!(got, &want, "{q}");
            }
        }
    }

    /// The AVX-512 widening of F16 (every bit pattern) and Q8_0 tiles is `row_into`'s, bit for bit.
    #[test]
    fn widened_tiles_are_row_into_exactly() {
        if !available() {
            return;
        }
        // All 65,536 halves as 1,024 rows of 64 (NaNs compared as NaN), and a row of 75 (a tail).
        let all: Vec<half::f16> = (0..=u16::MAX).map(half::f16::from_bits).collect();
        let odd: Vec<half::f16> = all[1000..1075].to_vec();
        for (vals, k) in [(all, 64), (odd, 75)] {
            let w = Tensor {
                shape: vec![vals.len() / k, k],
                data: TensorData::F16(vals),
            };
            check_widening(&w);
        }
        for k in [32, 96] {
            check_widening(&Tensor::from_f32(
                vec![7, k],
                &rand_vec(7 * k, 9),
                QType::Q8_0,
            ));
        }
    }

    fn check_widening(w: &Tensor) {
        let (n, k) = w.rows_cols();
        for r0 in [0, n / 3] {
            let rows = n - r0;
            let mut got = vec![0.0; rows * k];
            widen_rows(w, r0, &mut got);
            let mut want = vec![0.0; k];
            for (r, g) in got.chunks_exact(k).enumerate() {
                w.row_into(r0 + r, &mut want);
                for (a, b) in g.iter().zip(&want) {
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{a} {b}"
                    );
                }
            }
        }
    }
}

//! out = inp · Wᵀ + bias for a weight matrix W (OUT, IN) in any storage type ([`Tensor`]).
//!
//! f32 weights go to [`matmul_forward`]. Packed weights (f16, bf16, GGUF blocks) are never
//! widened in memory as a whole:
//! - few rows (decode): a matrix-vector product per row (`matvec/`, SIMD kernels per format),
//!   the outputs split across threads, so every weight byte is read once per token;
//! - many rows (prefill): tiles of W's rows are dequantized into a small f32 buffer and
//!   multiplied with a GEMM, so the dequantization is paid once per tile for all T rows.

use super::matmul_forward;
use super::matvec::{matvec, Store};
use crate::tensor::{Tensor, TensorData};
use std::cell::RefCell;

/// Rows of W per prefill tile (dequantized to f32: TILE · IN values per thread).
const TILE: usize = 32;

/// out: (T, OUT), inp: (T, IN), w: (OUT, IN), bias: (OUT).
pub fn linear_forward(out: &mut [f32], inp: &[f32], w: &Tensor, bias: Option<&[f32]>, t: usize) {
    let (n_out, n_in) = w.rows_cols();
    assert_eq!(out.len(), t * n_out, "linear out");
    assert_eq!(inp.len(), t * n_in, "linear inp");
    #[cfg(not(target_arch = "wasm32"))]
    if t >= 8 && super::prefill::available() {
        return super::prefill::gemm(out, inp, w, bias, t);
    }
    match &w.data {
        TensorData::F32(v) if t >= 8 => matmul_forward(out, inp, v, bias, t, n_in, n_out),
        _ if t >= 8 => linear_tiled(out, inp, w, bias, t, n_in, n_out),
        _ => {
            for r in 0..t {
                let x = &inp[r * n_in..(r + 1) * n_in];
                let o = &mut out[r * n_out..(r + 1) * n_out];
                matvec(o, x, w, bias, Store::Set);
            }
        }
    }
}

/// [`linear_forward`] for several matrices that read the same input: outs[i] (T, OUTᵢ) =
/// inp · Wᵢᵀ + biasᵢ. The prefill GEMM packs the input once for all of them (Q, K and V; gate
/// and up); elsewhere each part is its own `linear_forward`, with the same values.
pub fn linear_cat_forward(
    outs: &mut [&mut [f32]],
    inp: &[f32],
    parts: &[(&Tensor, Option<&[f32]>)],
    t: usize,
) {
    assert_eq!(outs.len(), parts.len(), "linear_cat parts");
    #[cfg(not(target_arch = "wasm32"))]
    if t >= 8 && super::prefill::available() {
        return super::prefill::gemm_cat(outs, inp, parts, t);
    }
    for (out, (w, bias)) in outs.iter_mut().zip(parts) {
        linear_forward(out, inp, w, *bias, t);
    }
}

thread_local! {
    /// A tile of dequantized weights, reused across calls on this thread.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn with_scratch<R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < n {
            s.resize(n, 0.0);
        }
        f(&mut s[..n])
    })
}

/// Prefill: tiles of TILE rows of W, dequantized and multiplied by all T inputs at once.
#[allow(clippy::too_many_arguments)]
fn linear_tiled(
    out: &mut [f32],
    inp: &[f32],
    w: &Tensor,
    bias: Option<&[f32]>,
    t: usize,
    n_in: usize,
    n_out: usize,
) {
    assert!(
        out.len() >= t * n_out && inp.len() >= t * n_in,
        "linear_tiled shapes"
    );
    let tiles = n_out.div_ceil(TILE);
    let base = super::SendPtr(out.as_mut_ptr());
    // Tile i: its rows of W dequantized, ct (T, rows) = inp · tileᵀ, then written into out's
    // columns r0..r0 + rows of every row. On the forward-pass team (or rayon) where there are
    // threads; both buffers are this thread's scratch.
    super::par_for(tiles, |i| {
        let r0 = i * TILE;
        let rows = TILE.min(n_out - r0);
        with_scratch(rows * n_in + t * rows, |s| {
            let (wt, ct) = s.split_at_mut(rows * n_in);
            for r in 0..rows {
                w.row_into(r0 + r, &mut wt[r * n_in..(r + 1) * n_in]);
            }
            // beta 0: ct is written, never read.
            super::sgemm_nt(ct, inp, wt, t, n_in, rows, 0.0);
            for r in 0..t {
                // SAFETY: out holds t · n_out values (asserted by the callers), and tile i
                // writes only columns r0..r0 + rows of each row: no other tile touches them,
                // and `out` stays borrowed until par_for returns.
                let o =
                    unsafe { std::slice::from_raw_parts_mut(base.get().add(r * n_out + r0), rows) };
                o.copy_from_slice(&ct[r * rows..(r + 1) * rows]);
                if let Some(b) = bias {
                    for (y, bb) in o.iter_mut().zip(&b[r0..r0 + rows]) {
                        *y += *bb;
                    }
                }
            }
        })
    });
}

/// out (T, C) = the embedding rows of `tokens` from `wte` (V, C) in any storage type.
pub fn embed_rows(out: &mut [f32], tokens: &[u32], wte: &Tensor) {
    let (_, c) = wte.rows_cols();
    for (r, &tok) in tokens.iter().enumerate() {
        wte.row_into(tok as usize, &mut out[r * c..(r + 1) * c]);
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

    /// Every storage type, decode and prefill, one row and many, against the triple loop on
    /// the dequantized weights.
    #[test]
    fn linear_matches_the_dequantized_reference() {
        for q in QType::ALL {
            let n_in = if q.block_len() == 256 { 512 } else { 96 };
            for &(t, n_out) in &[(1, 37), (3, 70), (9, 33), (40, 65)] {
                let w = Tensor::from_f32(vec![n_out, n_in], &rand_vec(n_out * n_in, 2), q);
                let wd = w.to_f32();
                let x = rand_vec(t * n_in, 1);
                // Decode (T < 8) multiplies quantized rows with an 8-bit copy of each input row
                // (matvec/): the reference reads the same values.
                let xr: Vec<f32> = if q.is_quantized() && t < 8 {
                    x.chunks(n_in)
                        .flat_map(|r| {
                            let mut a = crate::ops::matvec::Q8Act::default();
                            a.quantize(r);
                            a.dequantized()
                        })
                        .collect()
                } else {
                    x.clone()
                };
                let b = rand_vec(n_out, 3);
                let mut got = vec![0.0; t * n_out];
                let mut want = vec![0.0; t * n_out];
                linear_forward(&mut got, &x, &w, Some(&b), t);
                matmul_reference(&mut want, &xr, &wd, Some(&b), t, n_in, n_out);
                let diff = crate::ops::max_abs_diff(&got, &want);
                assert!(diff < 1e-4, "{q} T={t} OUT={n_out}: max diff {diff}");
            }
        }
    }

    /// The tiled prefill (wasm's, and AVX2's: this machine's AVX-512 prefill takes the other
    /// path in `linear_forward`), partial tiles, on the forward-pass team and off it, with the
    /// output filled with NaN first (every value must be written), against the triple loop.
    #[test]
    fn linear_tiled_matches_the_dequantized_reference() {
        for q in QType::ALL.into_iter().filter(|&q| q != QType::F32) {
            let n_in = if q.block_len() == 256 { 512 } else { 96 };
            for &(t, n_out) in &[(8, 33), (9, 65), (40, 97)] {
                let w = Tensor::from_f32(vec![n_out, n_in], &rand_vec(n_out * n_in, 7), q);
                let wd = w.to_f32();
                let (x, b) = (rand_vec(t * n_in, 8), rand_vec(n_out, 9));
                let mut want = vec![0.0; t * n_out];
                matmul_reference(&mut want, &x, &wd, Some(&b), t, n_in, n_out);
                for team in [false, true] {
                    let mut got = vec![f32::NAN; t * n_out];
                    let mut run = || linear_tiled(&mut got, &x, &w, Some(&b), t, n_in, n_out);
                    if team {
                        crate::ops::forward_team(run)
                    } else {
                        run()
                    }
                    let diff = crate::ops::max_abs_diff(&got, &want);
                    assert!(diff < 1e-4, "{q} T={t} OUT={n_out} team={team}: {diff}");
                }
            }
        }
    }

    /// f16 rows give bit-for-bit the results of their f32 widening (the behaviour of the
    /// engine before weights stayed packed).
    #[test]
    fn f16_weights_compute_exactly_as_their_widening() {
        let (n_in, n_out) = (75, 41);
        for t in [1, 3, 12] {
            let w = Tensor::from_f32(vec![n_out, n_in], &rand_vec(n_out * n_in, 5), QType::F16);
            let wide = Tensor::f32(vec![n_out, n_in], w.to_f32().into_owned());
            let x = rand_vec(t * n_in, 6);
            let (mut a, mut b) = (vec![0.0; t * n_out], vec![0.0; t * n_out]);
            linear_forward(&mut a, &x, &w, None, t);
            linear_forward(&mut b, &x, &wide, None, t);
            assert_eq!(a, b, "T={t}");
        }
    }
}

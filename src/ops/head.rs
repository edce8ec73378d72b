//! Linear heads on the trunk's hidden states h (B·T, C), llm.c style forward/backward pairs:
//! a sequence classifier on the pooled rows of each sequence (the moderation classifier, the
//! reward model) and a per-position scalar head (PPO's critic).
//!
//! ```text
//! cls:    logits[b, j] = W[j] · pool(h[b, 0..len_b])      W: (L, C)   logits: (B, L)
//! value:  v_i          = w · h[rows_i]                     w: (C)      v: (M)
//! ```

use super::pool_forward;
use crate::config::Pooling;

/// logits (B, L) = W (L, C) · pool(h[b, 0..len_b]) for each sequence b (B = lengths.len()), where
/// pool is the last row (h[b, len_b − 1]) or each channel's maximum over the len_b rows.
/// hidden: (B·T, C), the trunk's output; lengths in 1..=T.
#[allow(clippy::too_many_arguments)]
pub fn cls_head_forward(
    logits: &mut [f32],
    hidden: &[f32],
    w: &[f32],
    lengths: &[usize],
    t: usize,
    c: usize,
    nl: usize,
    pooling: Pooling,
) {
    let mut h = vec![0.0; c];
    for (b, &len) in lengths.iter().enumerate() {
        debug_assert!(len >= 1 && len <= t);
        pool_forward(&mut h, &hidden[b * t * c..(b * t + len) * c], c, pooling);
        for j in 0..nl {
            let wj = &w[j * c..(j + 1) * c];
            logits[b * nl + j] = wj.iter().zip(&h).map(|(a, x)| a * x).sum();
        }
    }
}

/// Backward of [`cls_head_forward`]: dW += Σ_b dz_b ⊗ pool_b and Wᵀ·dz_b flows back through the
/// pooling into dhidden[b, 0..len_b] (the last row, or the rows holding each channel's maximum);
/// rows past len_b are untouched (the caller zeroes them).
#[cfg(feature = "train")]
#[allow(clippy::too_many_arguments)]
pub fn cls_head_backward(
    dhidden: &mut [f32],
    dw: &mut [f32],
    dlogits: &[f32],
    hidden: &[f32],
    w: &[f32],
    lengths: &[usize],
    t: usize,
    c: usize,
    nl: usize,
    pooling: Pooling,
) {
    let (mut h, mut dh) = (vec![0.0; c], vec![0.0; c]);
    for (b, &len) in lengths.iter().enumerate() {
        let rows = b * t * c..(b * t + len) * c;
        pool_forward(&mut h, &hidden[rows.clone()], c, pooling);
        dh.fill(0.0);
        for j in 0..nl {
            let g = dlogits[b * nl + j];
            let wj = &w[j * c..(j + 1) * c];
            for i in 0..c {
                dh[i] += g * wj[i];
            }
            let dwj = &mut dw[j * c..(j + 1) * c];
            for i in 0..c {
                dwj[i] += g * h[i];
            }
        }
        super::pool_backward(&mut dhidden[rows.clone()], &dh, &hidden[rows], c, pooling);
    }
}

/// values (M) = w (C) · h[rows_i] for each selected position (flat row index b·T + t).
/// hidden: (B·T, C).
pub fn value_head_forward(values: &mut [f32], hidden: &[f32], w: &[f32], rows: &[usize], c: usize) {
    for (v, &r) in values.iter_mut().zip(rows) {
        *v = w
            .iter()
            .zip(&hidden[r * c..(r + 1) * c])
            .map(|(a, x)| a * x)
            .sum();
    }
}

/// Backward of [`value_head_forward`]: dw += Σ_i dv_i h[rows_i], dhidden[rows_i] += dv_i w.
#[cfg(feature = "train")]
pub fn value_head_backward(
    dhidden: &mut [f32],
    dw: &mut [f32],
    dvalues: &[f32],
    hidden: &[f32],
    w: &[f32],
    rows: &[usize],
    c: usize,
) {
    for (&dv, &r) in dvalues.iter().zip(rows) {
        for k in 0..c {
            dw[k] += dv * hidden[r * c + k];
            dhidden[r * c + k] += dv * w[k];
        }
    }
}

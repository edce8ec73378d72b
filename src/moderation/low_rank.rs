//! A head's tuned blocks as low-rank corrections to the trunk's own weights (`"block_rank": r`
//! in config.json): every weight matrix W (out, in) of a tuned block ships as two factors,
//! `….lora_B.weight` (out, r) and `….lora_A.weight` (r, in) in f16 (named after PEFT's
//! tensors, though without an adapter config PEFT does not load the file), and loads as
//!
//! ```text
//! W = W_trunk + B · A      (W_trunk: the trunk's block, dequantized; the sum kept in f16)
//! ```
//!
//! while the blocks' norm weights ship whole (f32, under their own names). Training tunes whole
//! blocks; [`to_bytes`] keeps the top-r part of each correction (B spans its top r left singular
//! directions, found by subspace iteration; A = Bᵀ · ΔW). At r = 32 four tuned SmolLM2 blocks
//! are 2.6 MB where whole f16 blocks are 28.3 MB (docs/moderation.md measures what it costs).
//! The corrections are to the trunk's weights as the bundle ships them (the Q4_1 GGUF it was
//! trained on, dequantized): a head is trained for one trunk file.

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::model::Model;
use crate::params::{Params, Slot};
use crate::quant::QType;
use crate::tensor::{Tensor, Weights};
use crate::weights::{llama_tensor, tensor_f32, tensors_to_bytes, DType};
use std::collections::BTreeMap;
use std::path::Path;

/// Subspace iterations after the first product: enough for the top singular directions of a
/// fine-tuning correction (its spectrum falls steeply); the tests check the error against the
/// optimal one.
const ITERS: usize = 4;

/// The factors' names for a weight named `….weight`.
fn factor_names(name: &str) -> (String, String) {
    let stem = name.strip_suffix(".weight").unwrap_or(name);
    (
        format!("{stem}.lora_A.weight"),
        format!("{stem}.lora_B.weight"),
    )
}

/// The rank a matrix (m, n) gets at `rank`.
fn rank_of(rank: usize, m: usize, n: usize) -> usize {
    rank.min(m).min(n)
}

/// Gram–Schmidt, twice, on the columns `cols` (each of one length): orthonormal afterwards; a
/// column in the span of the earlier ones becomes zero.
fn orthonormalize(cols: &mut [Vec<f64>]) {
    for k in 0..cols.len() {
        for _ in 0..2 {
            for j in 0..k {
                let dot: f64 = cols[k].iter().zip(&cols[j]).map(|(a, b)| a * b).sum();
                let (done, rest) = cols.split_at_mut(k);
                for (x, y) in rest[0].iter_mut().zip(&done[j]) {
                    *x -= dot * y;
                }
            }
        }
        let norm = cols[k].iter().map(|x| x * x).sum::<f64>().sqrt();
        let scale = if norm > 1e-12 { 1.0 / norm } else { 0.0 };
        cols[k].iter_mut().for_each(|x| *x *= scale);
    }
}

/// Rank-`r` factors of the (m, n) row-major matrix `d`: B (m, r) with orthonormal columns
/// spanning (approximately) its top r left singular directions, and A = Bᵀ · d (r, n), so that
/// B · A is d's projection onto them. `r` ≤ min(m, n).
pub fn factor(d: &[f32], m: usize, n: usize, r: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(d.len(), m * n, "d is not (m, n)");
    assert!(r <= m.min(n), "rank {r} above min({m}, {n})");
    let mut rng = Rng::new(seed);
    // d · z for a column z (n) → (m), and dᵀ · y for y (m) → (n).
    let mul = |z: &[f64]| -> Vec<f64> {
        d.chunks_exact(n)
            .map(|row| row.iter().zip(z).map(|(&a, b)| a as f64 * b).sum())
            .collect()
    };
    let mul_t = |y: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; n];
        for (row, &yi) in d.chunks_exact(n).zip(y) {
            for (o, &a) in out.iter_mut().zip(row) {
                *o += a as f64 * yi;
            }
        }
        out
    };
    let omega: Vec<Vec<f64>> = (0..r)
        .map(|_| (0..n).map(|_| rng.normal() as f64).collect())
        .collect();
    let mut y: Vec<Vec<f64>> = omega.iter().map(|z| mul(z)).collect();
    orthonormalize(&mut y);
    for _ in 0..ITERS {
        let mut z: Vec<Vec<f64>> = y.iter().map(|c| mul_t(c)).collect();
        orthonormalize(&mut z);
        y = z.iter().map(|c| mul(c)).collect();
        orthonormalize(&mut y);
    }
    let mut b = vec![0.0f32; m * r];
    for (k, col) in y.iter().enumerate() {
        for (i, &v) in col.iter().enumerate() {
            b[i * r + k] = v as f32;
        }
    }
    let a: Vec<f32> = y.iter().flat_map(|c| mul_t(c)).map(|v| v as f32).collect();
    (b, a)
}

/// The tuned blocks `tuned` as corrections to `base` (the trunk's same blocks, f32; both in
/// the layout of `cfg`, a llama blocks model): rank-`rank` factors of every layer matrix's
/// difference in f16, and the layers' vectors (norms) whole in f32, as safetensors.
pub fn to_bytes(base: &Params, tuned: &Params, cfg: &ModelConfig, rank: usize) -> Result<Vec<u8>> {
    if base.layout.specs.len() != tuned.layout.specs.len() || base.data.len() != tuned.data.len() {
        return Err(Error::InvalidArgument(
            "low-rank blocks: the tuned blocks and the trunk's differ in layout".into(),
        ));
    }
    let mut tensors = BTreeMap::new();
    for (i, spec) in base.layout.specs.iter().enumerate() {
        if !matches!(spec.slot, Slot::Layer(..)) {
            continue;
        }
        let (name, shape) = llama_tensor(cfg, spec.slot);
        let range = spec.offset..spec.offset + spec.len;
        if spec.is_matrix() {
            let (m, n) = (shape[0], shape[1]);
            let d: Vec<f32> = tuned.data[range.clone()]
                .iter()
                .zip(&base.data[range])
                .map(|(t, b)| t - b)
                .collect();
            let r = rank_of(rank, m, n);
            let (b, a) = factor(&d, m, n, r, i as u64 + 1);
            let (an, bn) = factor_names(&name);
            tensors.insert(an, (vec![r, n], a, DType::F16));
            tensors.insert(bn, (vec![m, r], b, DType::F16));
        } else {
            tensors.insert(name, (shape, tuned.data[range].to_vec(), DType::F32));
        }
    }
    tensors_to_bytes(tensors)
}

/// The trunk's blocks `base` (a blocks model, its tensors in their storage types) with the
/// corrections of `bytes` (a file [`to_bytes`] wrote at `rank`; `path` names it in errors):
/// each layer matrix dequantized, B · A added, kept in f16 (one matrix in f32 at a time), the
/// norms taken from the file in f32 — as a file of whole f16 blocks loads. A missing factor,
/// one of another shape or dtype, or a corrected weight that is not finite or past f16's range
/// is an error naming the file and the tensor.
pub fn apply(base: &Model, bytes: &[u8], rank: usize, path: &Path) -> Result<Model> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| Error::Safetensors {
        path: path.into(),
        msg: e.to_string(),
    })?;
    let cfg = &base.config;
    let layout = base.weights.layout.clone();
    let mut tensors = Vec::with_capacity(layout.specs.len());
    for spec in &layout.specs {
        let t = base.weights.t(spec.slot);
        if !matches!(spec.slot, Slot::Layer(..)) {
            tensors.push(t.clone());
            continue;
        }
        let (name, shape) = llama_tensor(cfg, spec.slot);
        let values = if spec.is_matrix() {
            let (m, n) = (shape[0], shape[1]);
            let r = rank_of(rank, m, n);
            let (an, bn) = factor_names(&name);
            let a = tensor_f32(&st, &an, &[r, n], path)?;
            let b = tensor_f32(&st, &bn, &[m, r], path)?;
            let mut w = t.to_f32().into_owned();
            for (wrow, brow) in w.chunks_exact_mut(n).zip(b.chunks_exact(r)) {
                for (&bik, arow) in brow.iter().zip(a.chunks_exact(n)) {
                    for (x, &akj) in wrow.iter_mut().zip(arow) {
                        *x += bik * akj;
                    }
                }
            }
            w
        } else {
            tensor_f32(&st, &name, &shape, path)?
        };
        if let Some(bad) = values.iter().find(|v| v.is_nan() || v.abs() > F16_MAX) {
            return Err(Error::Safetensors {
                path: path.into(),
                msg: format!("{name}: a corrected weight is {bad}, outside f16's range"),
            });
        }
        tensors.push(if spec.is_matrix() {
            Tensor::from_f32(spec.shape.clone(), &values, QType::F16)
        } else {
            Tensor::f32(spec.shape.clone(), values)
        });
    }
    Ok(Model::from_weights(
        cfg.clone(),
        Weights { layout, tensors },
    ))
}

/// The largest finite f16.
const F16_MAX: f32 = 65504.0;

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns of `k` orthonormal vectors of length `len`.
    fn orthonormal(len: usize, k: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
        let mut c: Vec<Vec<f64>> = (0..k)
            .map(|_| (0..len).map(|_| rng.normal() as f64).collect())
            .collect();
        orthonormalize(&mut c);
        c
    }

    #[test]
    fn factors_come_within_a_percent_of_the_best_rank_r_error() {
        // d = U diag(s) Vᵀ with known singular values: the best rank-r error is the norm of
        // the singular values past r (Eckart–Young).
        let (m, n, k, r) = (96, 64, 40, 8);
        let mut rng = Rng::new(7);
        let (u, v) = (orthonormal(m, k, &mut rng), orthonormal(n, k, &mut rng));
        let s: Vec<f64> = (0..k).map(|i| 0.8f64.powi(i as i32)).collect();
        let mut d = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                d[i * n + j] = (0..k).map(|t| u[t][i] * s[t] * v[t][j]).sum::<f64>() as f32;
            }
        }
        let (b, a) = factor(&d, m, n, r, 1);
        let mut err = 0.0f64;
        for i in 0..m {
            for j in 0..n {
                let approx: f32 = (0..r).map(|t| b[i * r + t] * a[t * n + j]).sum();
                err += ((d[i * n + j] - approx) as f64).powi(2);
            }
        }
        let best: f64 = s[r..].iter().map(|x| x * x).sum::<f64>();
        assert!(
            err.sqrt() <= 1.01 * best.sqrt(),
            "error {} against the best {}",
            err.sqrt(),
            best.sqrt()
        );
        // A matrix of rank ≤ r comes back exactly (to f32 rounding).
        let (b, a) = factor(&d, m, n, k, 2);
        let worst = (0..m * n)
            .map(|x| {
                let (i, j) = (x / n, x % n);
                let approx: f32 = (0..k).map(|t| b[i * k + t] * a[t * n + j]).sum();
                (d[x] - approx).abs()
            })
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
    }

    #[test]
    fn a_zero_correction_factors_to_zeros() {
        let (b, a) = factor(&[0.0; 12], 3, 4, 2, 1);
        assert!(b.iter().chain(&a).all(|&x| x == 0.0));
    }
}

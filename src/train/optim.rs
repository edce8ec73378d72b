//! AdamW with decoupled weight decay, the learning-rate schedule and gradient clipping. All
//! optimiser state lives in flat buffers with the parameters' layout.

use crate::params::ParamLayout;

/// AdamW hyperparameters. Defaults follow nanoGPT / llm.c for small language models.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Also decay 1-D tensors (norm weights, biases) and embeddings. Off by default.
    pub decay_all: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
            decay_all: false,
        }
    }
}

/// Optimiser state: first and second moments (same layout as the parameters) and the step count.
#[derive(Clone, Debug)]
pub struct AdamW {
    pub cfg: AdamWConfig,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    /// Updates applied so far.
    pub step: u64,
    /// Per-parameter weight-decay factor: 1 for decayed tensors, 0 otherwise (layout order).
    decay: Vec<(usize, usize, bool)>,
}

impl AdamW {
    pub fn new(layout: &ParamLayout, cfg: AdamWConfig) -> Self {
        let decay = layout
            .specs
            .iter()
            .map(|s| (s.offset, s.len, cfg.decay_all || s.is_matrix()))
            .collect();
        AdamW {
            cfg,
            m: vec![0.0; layout.total],
            v: vec![0.0; layout.total],
            step: 0,
            decay,
        }
    }

    /// One AdamW update with learning rate `lr`, in PyTorch's arithmetic order
    /// (torch.optim.AdamW, single-tensor path):
    ///   p ← p·(1 − lr·wd)                          decoupled decay (matrices only)
    ///   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
    ///   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
    pub fn update(&mut self, params: &mut [f32], grads: &[f32], lr: f32) {
        use rayon::prelude::*;
        assert_eq!(params.len(), self.m.len());
        assert_eq!(grads.len(), self.m.len());
        self.step += 1;
        let c = &self.cfg;
        let t = self.step as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        let step_size = lr / bc1;
        for &(off, len, decayed) in &self.decay {
            let wd = if decayed { lr * c.weight_decay } else { 0.0 };
            let r = off..off + len;
            params[r.clone()]
                .par_chunks_mut(4096)
                .zip(grads[r.clone()].par_chunks(4096))
                .zip(self.m[r.clone()].par_chunks_mut(4096))
                .zip(self.v[r].par_chunks_mut(4096))
                .for_each(|(((p, g), m), v)| {
                    for i in 0..p.len() {
                        if wd != 0.0 {
                            p[i] *= 1.0 - wd;
                        }
                        m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g[i];
                        v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g[i] * g[i];
                        let denom = v[i].sqrt() / bc2_sqrt + c.eps;
                        p[i] -= step_size * m[i] / denom;
                    }
                });
        }
    }
}

/// The learning rate at `step` (0-based): linear warmup from 0 over `warmup` steps, then a
/// cosine decay from `max_lr` to `min_lr` at `total` steps.
pub fn lr_at(step: usize, max_lr: f32, min_lr: f32, warmup: usize, total: usize) -> f32 {
    if step < warmup {
        return max_lr * (step + 1) as f32 / warmup as f32;
    }
    if step >= total {
        return min_lr;
    }
    let decay = (step - warmup) as f32 / (total - warmup).max(1) as f32;
    let coeff = 0.5 * (1.0 + (std::f32::consts::PI * decay).cos());
    min_lr + coeff * (max_lr - min_lr)
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (when `max_norm` > 0); returns the
/// norm before clipping. The sum runs in f64 in a fixed order, so it is reproducible.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let norm = grads
        .iter()
        .map(|&g| g as f64 * g as f64)
        .sum::<f64>()
        .sqrt() as f32;
    if max_norm > 0.0 && norm > max_norm {
        let s = max_norm / (norm + 1e-6);
        for g in grads.iter_mut() {
            *g *= s;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_min() {
        let (max, min) = (1e-3, 1e-4);
        assert!((lr_at(0, max, min, 10, 100) - 1e-4).abs() < 1e-9);
        assert!((lr_at(9, max, min, 10, 100) - max).abs() < 1e-9);
        assert!((lr_at(10, max, min, 10, 100) - max).abs() < 1e-9);
        assert!((lr_at(55, max, min, 10, 100) - (min + 0.5 * (max - min))).abs() < 1e-7);
        assert!((lr_at(100, max, min, 10, 100) - min).abs() < 1e-9);
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let mut g = vec![3.0, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        let n = (g[0] * g[0] + g[1] * g[1]).sqrt();
        assert!((n - 1.0).abs() < 1e-5);
        let mut g = vec![0.3, 0.4];
        clip_grad_norm(&mut g, 1.0);
        assert_eq!(g, vec![0.3, 0.4]);
    }
}

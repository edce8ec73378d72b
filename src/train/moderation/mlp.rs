//! The moderation head's training maths: the MLP (C → H, GELU, → L) with its BCE gradient,
//! the standardization of the pooled states, AdamW, and the safetensors the inference side
//! (`moderation/head.rs`) reads. Small enough for plain loops: the trunk is frozen, so an epoch
//! over 17,000 windows takes seconds on two cores.

use crate::error::{Error, Result};
use crate::generate::Rng;

/// The head's trainable tensors, row-major: w1 (H, C), b1 (H), w2 (L, H), b2 (L) — or w2
/// (L, C), b2 (L) for a linear head.
#[derive(Clone)]
pub(super) struct Mlp {
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) l: usize,
    pub(super) w1: Vec<f32>,
    pub(super) b1: Vec<f32>,
    pub(super) w2: Vec<f32>,
    pub(super) b2: Vec<f32>,
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044715 * x * x * x)).tanh())
}

fn gelu_grad(x: f32) -> f32 {
    let u = 0.797_884_6 * (x + 0.044715 * x * x * x);
    let t = u.tanh();
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.797_884_6 * (1.0 + 3.0 * 0.044715 * x * x)
}

pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub(super) fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl Mlp {
    pub(super) fn new(c: usize, h: usize, l: usize, rng: &mut Rng) -> Self {
        let k = if h > 0 { h } else { c };
        let mut init = |n: usize, fan_in: usize| -> Vec<f32> {
            let s = (1.0 / fan_in as f32).sqrt();
            (0..n).map(|_| (rng.uniform() * 2.0 - 1.0) * s).collect()
        };
        Mlp {
            c,
            h,
            l,
            w1: init(h * c, c),
            b1: vec![0.0; h],
            w2: init(l * k, k),
            b2: vec![0.0; l],
        }
    }

    /// Logits (L) of a standardized input z (C); `a` receives the hidden pre-activations (H).
    pub(super) fn forward(&self, z: &[f32], a: &mut Vec<f32>) -> Vec<f32> {
        let (c, h) = (self.c, self.h);
        let g: Vec<f32> = if h > 0 {
            a.clear();
            a.extend((0..h).map(|j| {
                self.b1[j]
                    + self.w1[j * c..(j + 1) * c]
                        .iter()
                        .zip(z)
                        .map(|(w, x)| w * x)
                        .sum::<f32>()
            }));
            a.iter().map(|&x| gelu(x)).collect()
        } else {
            z.to_vec()
        };
        let k = g.len();
        (0..self.l)
            .map(|i| {
                self.b2[i]
                    + self.w2[i * k..(i + 1) * k]
                        .iter()
                        .zip(&g)
                        .map(|(w, x)| w * x)
                        .sum::<f32>()
            })
            .collect()
    }

    /// Adds the gradient of the mean BCE over one example (scaled by `scale`) to `g`, and the
    /// gradient with respect to the input z to `dz` when given (a head on tuned blocks passes it
    /// on to them); returns the example's loss (summed over labels).
    pub(super) fn backward(
        &self,
        z: &[f32],
        y: &[f32],
        scale: f32,
        g: &mut Mlp,
        mut dz: Option<&mut [f32]>,
    ) -> f32 {
        let (c, h) = (self.c, self.h);
        if let Some(dz) = &dz {
            assert_eq!(dz.len(), c, "dz has the input's width");
        }
        let mut a = vec![];
        let logits = self.forward(z, &mut a);
        let act: Vec<f32> = if h > 0 {
            a.iter().map(|&x| gelu(x)).collect()
        } else {
            z.to_vec()
        };
        let k = act.len();
        let mut dact = vec![0.0f32; k];
        let mut loss = 0.0;
        for i in 0..self.l {
            let zl = logits[i];
            loss += softplus(zl) - y[i] * zl;
            let d = (sigmoid(zl) - y[i]) * scale;
            g.b2[i] += d;
            for j in 0..k {
                g.w2[i * k + j] += d * act[j];
                dact[j] += d * self.w2[i * k + j];
            }
        }
        if h > 0 {
            for j in 0..h {
                let d = dact[j] * gelu_grad(a[j]);
                g.b1[j] += d;
                for (gw, x) in g.w1[j * c..(j + 1) * c].iter_mut().zip(z) {
                    *gw += d * x;
                }
                if let Some(dz) = dz.as_deref_mut() {
                    for (o, w) in dz.iter_mut().zip(&self.w1[j * c..(j + 1) * c]) {
                        *o += d * w;
                    }
                }
            }
        } else if let Some(dz) = dz {
            // A linear head: z is the activation.
            for (o, d) in dz.iter_mut().zip(&dact) {
                *o += d;
            }
        }
        loss
    }

    pub(super) fn zeros_like(&self) -> Mlp {
        Mlp {
            c: self.c,
            h: self.h,
            l: self.l,
            w1: vec![0.0; self.w1.len()],
            b1: vec![0.0; self.b1.len()],
            w2: vec![0.0; self.w2.len()],
            b2: vec![0.0; self.b2.len()],
        }
    }

    pub(super) fn add(&mut self, o: &Mlp) {
        for (a, b) in self.parts_mut().into_iter().zip(o.parts()) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }

    fn parts(&self) -> [&Vec<f32>; 4] {
        [&self.w1, &self.b1, &self.w2, &self.b2]
    }

    fn parts_mut(&mut self) -> [&mut Vec<f32>; 4] {
        [&mut self.w1, &mut self.b1, &mut self.w2, &mut self.b2]
    }
}

/// Train-set standardization of the pooled states.
pub(super) struct Standardizer {
    pub(super) mean: Vec<f32>,
    pub(super) std: Vec<f32>,
}

impl Standardizer {
    pub(super) fn fit(xs: &[&[f32]], c: usize) -> Self {
        let n = xs.len().max(1) as f64;
        let mut mean = vec![0f64; c];
        let mut var = vec![0f64; c];
        for x in xs {
            for (m, v) in mean.iter_mut().zip(*x) {
                *m += *v as f64 / n;
            }
        }
        for x in xs {
            for ((s, v), m) in var.iter_mut().zip(*x).zip(&mean) {
                *s += (*v as f64 - m).powi(2) / n;
            }
        }
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var.iter().map(|&v| (v.sqrt() as f32).max(1e-6)).collect(),
        }
    }

    pub(super) fn apply(&self, x: &[f32]) -> Vec<f32> {
        x.iter()
            .zip(&self.mean)
            .zip(&self.std)
            .map(|((v, m), s)| (v - m) / s)
            .collect()
    }
}

pub(super) fn adamw(p: &mut Mlp, g: &Mlp, m: &mut Mlp, v: &mut Mlp, lr: f32, wd: f32, step: i32) {
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let c1 = 1.0 - b1.powi(step);
    let c2 = 1.0 - b2.powi(step);
    let decays = [true, false, true, false];
    for (k, (((pp, gg), mm), vv)) in p
        .parts_mut()
        .into_iter()
        .zip(g.parts())
        .zip(m.parts_mut())
        .zip(v.parts_mut())
        .enumerate()
    {
        for i in 0..pp.len() {
            mm[i] = b1 * mm[i] + (1.0 - b1) * gg[i];
            vv[i] = b2 * vv[i] + (1.0 - b2) * gg[i] * gg[i];
            if decays[k] {
                pp[i] -= lr * wd * pp[i];
            }
            pp[i] -= lr * (mm[i] / c1) / ((vv[i] / c2).sqrt() + eps);
        }
    }
}

pub(super) fn head_safetensors(mlp: &Mlp, st: &Standardizer) -> Result<Vec<u8>> {
    use safetensors::tensor::{Dtype, TensorView};
    let k = if mlp.h > 0 { mlp.h } else { mlp.c };
    let mut named: Vec<(&str, Vec<usize>, &[f32])> = vec![
        ("mean", vec![mlp.c], &st.mean),
        ("std", vec![mlp.c], &st.std),
        ("w2", vec![mlp.l, k], &mlp.w2),
        ("b2", vec![mlp.l], &mlp.b2),
    ];
    if mlp.h > 0 {
        named.push(("w1", vec![mlp.h, mlp.c], &mlp.w1));
        named.push(("b1", vec![mlp.h], &mlp.b1));
    }
    let bytes: Vec<Vec<u8>> = named
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = named
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.to_string(), v))
                .map_err(|e| Error::Other(format!("safetensors: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None::<std::collections::HashMap<String, String>>)
        .map_err(|e| Error::Other(format!("safetensors: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic gradient of the summed BCE against central differences, for every
    /// parameter and input of a small head (hidden and linear).
    #[test]
    fn backward_matches_finite_differences() {
        for h in [5, 0] {
            let (c, l) = (7, 3);
            let mut rng = Rng::new(3);
            let mlp = Mlp::new(c, h, l, &mut rng);
            let z: Vec<f32> = (0..c).map(|_| rng.uniform() * 2.0 - 1.0).collect();
            let y = [1.0, 0.0, 1.0];
            let mut g = mlp.zeros_like();
            let mut dz = vec![0.0; c];
            mlp.backward(&z, &y, 1.0, &mut g, Some(&mut dz));
            let loss_at = |m: &Mlp, z: &[f32]| -> f64 {
                let mut a = vec![];
                m.forward(z, &mut a)
                    .iter()
                    .zip(&y)
                    .map(|(x, t)| (softplus(*x) - t * x) as f64)
                    .sum()
            };
            let loss = |m: &Mlp| loss_at(m, &z);
            for i in 0..c {
                let eps = 1e-2f32;
                let (mut up, mut down) = (z.clone(), z.clone());
                up[i] += eps;
                down[i] -= eps;
                let fd = (loss_at(&mlp, &up) - loss_at(&mlp, &down)) / (2.0 * eps as f64);
                let an = dz[i] as f64;
                assert!(
                    (fd - an).abs() < 2e-3 * (1.0 + fd.abs()),
                    "h {h}, dz[{i}]: analytic {an}, finite differences {fd}"
                );
            }
            for k in 0..4 {
                for i in 0..mlp.parts()[k].len() {
                    let eps = 1e-2f32;
                    let (mut up, mut down) = (mlp.clone(), mlp.clone());
                    up.parts_mut()[k][i] += eps;
                    down.parts_mut()[k][i] -= eps;
                    let fd = (loss(&up) - loss(&down)) / (2.0 * eps as f64);
                    let an = g.parts()[k][i] as f64;
                    assert!(
                        (fd - an).abs() < 2e-3 * (1.0 + fd.abs()),
                        "h {h}, tensor {k}, index {i}: analytic {an}, finite differences {fd}"
                    );
                }
            }
        }
    }
}

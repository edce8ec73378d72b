//! The head route with tuned top blocks (`train moderation --tune-blocks K`): the head trained
//! together with the top K of the blocks it reads, the trunk below them frozen.
//!
//! ```text
//! window states after the frozen blocks 0..layers−K (cached, the inference path's own)
//!   ─► blocks layers−K..layers (TrainModel::forward_states, f32, from the trunk's weights)
//!   ─► mean over the text's rows ─► z = (p − mean) / std ─► dropout ─► MLP ─► BCE
//! backward: MLP ─► ∂z ─► ÷ std ─► ÷ text length into each text row ─► backward_states
//! AdamW: blocks at --block-lr (no decay), the head at --lr; the best epoch by validation loss
//! ```
//!
//! Measured first in a PyTorch prototype (docs/moderation.md, "Tuning the top blocks"): on the
//! same texts, tuning four blocks raised test macro F1 by about 0.1 over the frozen trunk.
//! The blocks ship beside the head (`blocks.safetensors` in f16 or as low-rank corrections, or
//! `blocks.gguf` in Q8_0); the trunk still ships once.

use super::head::{labels_of, HeadOptions, Split};
use super::mlp::{adamw, softplus, Mlp, Standardizer};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::io::write_atomic;
use crate::model::Model;
use crate::params::Params;
use crate::train::model::TrainModel;
use crate::train::moderation_data::CATEGORIES;
use crate::train::optim::{AdamW, AdamWConfig};
use serde_json::json;
use std::collections::HashMap;
use std::ops::Range;

/// One training or validation window: its text's index and its states (T, C).
struct Window<'a> {
    text: usize,
    x: &'a [f32],
}

fn windows(split: &Split) -> Vec<Window<'_>> {
    split
        .features
        .iter()
        .enumerate()
        .flat_map(|(text, ws)| ws.iter().map(move |x| Window { text, x }))
        .collect()
}

/// Where the text sits among a window's `t` rows, for a prompt of (prefix, suffix) tokens;
/// every row when it would be empty (as `pool` reads an empty text).
pub(super) fn text_rows(t: usize, (pre, suf): (usize, usize)) -> Range<usize> {
    let r = pre.min(t)..t.saturating_sub(suf).max(pre.min(t));
    if r.is_empty() {
        0..t
    } else {
        r
    }
}

/// The blocks' training state for each batch shape (B, T rounded up to 8), made as needed.
struct Shapes {
    config: ModelConfig,
    models: HashMap<(usize, usize), TrainModel>,
}

impl Shapes {
    fn get(&mut self, b: usize, t: usize) -> Result<&mut TrainModel> {
        let t = t
            .div_ceil(8)
            .saturating_mul(8)
            .min(self.config.max_seq_len)
            .max(t);
        if !self.models.contains_key(&(b, t)) {
            // Each holds a batch's activations (up to about 400 MB for SmolLM2's blocks at
            // 32 × 72; a run meets about ten shapes, 2–2.5 GB in all): a bound, not a cache.
            if self.models.len() >= 16 {
                self.models.clear();
            }
            let m = TrainModel::new(&self.config, b, t)?;
            self.models.insert((b, t), m);
        }
        Ok(self.models.get_mut(&(b, t)).expect("inserted above"))
    }
}

/// Runs the blocks on a batch of windows; returns the TrainModel that holds the activations,
/// the padded length T and each window's pooled state (C).
fn forward_batch<'s>(
    shapes: &'s mut Shapes,
    p: &Params,
    batch: &[&Window],
    prompt: (usize, usize),
) -> Result<(&'s mut TrainModel, usize, Vec<Vec<f32>>)> {
    let c = shapes.config.dim;
    let tmax = batch.iter().map(|w| w.x.len() / c).max().unwrap_or(1);
    let tm = shapes.get(batch.len(), tmax)?;
    let t = tm.seq;
    let mut x0 = vec![0.0f32; batch.len() * t * c];
    for (b, w) in batch.iter().enumerate() {
        x0[b * t * c..b * t * c + w.x.len()].copy_from_slice(w.x);
    }
    let x = tm.forward_states(p, &x0)?;
    let pooled = batch
        .iter()
        .enumerate()
        .map(|(b, w)| {
            let rows = text_rows(w.x.len() / c, prompt);
            let n = rows.len() as f32;
            let mut out = vec![0.0f32; c];
            for r in rows {
                let row = &x[(b * t + r) * c..(b * t + r + 1) * c];
                out.iter_mut().zip(row).for_each(|(o, v)| *o += v / n);
            }
            out
        })
        .collect();
    Ok((tm, t, pooled))
}

/// The pooled states of `ws` under the blocks `p` (no dropout), in batches of `bs`.
fn pooled_all(
    shapes: &mut Shapes,
    p: &Params,
    ws: &[&Window],
    bs: usize,
    prompt: (usize, usize),
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(ws.len());
    for batch in ws.chunks(bs) {
        out.extend(forward_batch(shapes, p, batch, prompt)?.2);
    }
    Ok(out)
}

/// Windows in an order that batches similar lengths: shuffled, then sorted by length within
/// runs of 16 batches, then the batches shuffled.
fn bucketed<'a>(ws: &'a [Window<'a>], bs: usize, rng: &mut Rng) -> Vec<Vec<&'a Window<'a>>> {
    let mut order: Vec<usize> = (0..ws.len()).collect();
    rng.shuffle(&mut order);
    let mut batches = vec![];
    for run in order.chunks_mut(16 * bs) {
        run.sort_by_key(|&i| ws[i].x.len());
        batches.extend(run.chunks(bs).map(|b| b.iter().map(|&i| &ws[i]).collect()));
    }
    rng.shuffle(&mut batches);
    batches
}

/// What one training step reads: the blocks, the head, its standardization and the prompt.
struct Step<'a> {
    params: &'a Params,
    mlp: &'a Mlp,
    st: &'a Standardizer,
    prompt: (usize, usize),
}

impl Step<'_> {
    /// The summed BCE of `batch` (every window against its text's labels `ys`, each window's
    /// standardized pooled state times its dropout `masks`: 0 dropped, 1/(1−p) kept); adds the
    /// gradient of its mean over windows and labels to the head's `g` and the blocks' `grads`.
    fn grads(
        &self,
        shapes: &mut Shapes,
        batch: &[&Window],
        ys: &[Vec<f32>],
        masks: &[Vec<f32>],
        g: &mut Mlp,
        grads: &mut [f32],
    ) -> Result<f64> {
        let c = shapes.config.dim;
        let scale = 1.0 / (batch.len() * self.mlp.l) as f32;
        let (tm, t, pooled) = forward_batch(shapes, self.params, batch, self.prompt)?;
        let mut dx = vec![0.0f32; batch.len() * t * c];
        let mut loss = 0f64;
        for (b, ((w, p), mask)) in batch.iter().zip(&pooled).zip(masks).enumerate() {
            let mut z = self.st.apply(p);
            z.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
            let mut dz = vec![0.0f32; c];
            loss += self.mlp.backward(&z, &ys[w.text], scale, g, Some(&mut dz)) as f64;
            // z = mask·(p − mean)/std and p is the mean of the text's rows.
            let rows = text_rows(w.x.len() / c, self.prompt);
            let n = rows.len() as f32;
            let dp: Vec<f32> = dz
                .iter()
                .zip(mask)
                .zip(&self.st.std)
                .map(|((d, m), s)| d * m / s / n)
                .collect();
            for r in rows {
                dx[(b * t + r) * c..(b * t + r + 1) * c].copy_from_slice(&dp);
            }
        }
        tm.backward_states(self.params, grads, &dx);
        Ok(loss)
    }
}

/// What tuning returns: the best epoch's blocks and head, with that epoch and its loss.
pub(super) struct Tuned {
    pub(super) blocks: Params,
    pub(super) config: ModelConfig,
    pub(super) mlp: Mlp,
    pub(super) st: Standardizer,
    pub(super) epoch: usize,
    pub(super) val_loss: f32,
}

/// Trains the head with the blocks `init` (the trunk's top blocks, [`Model::blocks_model`]) on
/// the cached window states of `splits` (train, val, …).
pub(super) fn train(
    o: &HeadOptions,
    init: &Model,
    splits: &[Split],
    prompt: (usize, usize),
) -> Result<Tuned> {
    let (train, val) = (&splits[0], &splits[1]);
    let c = init.config.dim;
    let l = CATEGORIES.len();
    let bs = o.batch_size.max(1);
    let mut shapes = Shapes {
        config: init.config.clone(),
        models: HashMap::new(),
    };
    let mut params = init.to_params();
    let tw = windows(train);
    let vw = windows(val);
    if tw.is_empty() || vw.is_empty() {
        return Err(Error::InvalidArgument(
            "tuning the top blocks needs training and validation texts".into(),
        ));
    }
    let max_len = init.config.max_seq_len * c;
    if let Some(bad) = tw
        .iter()
        .chain(&vw)
        .find(|w| w.x.is_empty() || w.x.len() % c != 0 || w.x.len() > max_len)
    {
        return Err(Error::InvalidArgument(format!(
            "a cached window of {} values is not T rows of {c} (T ≤ {}): a stale features cache? remove {}",
            bad.x.len(),
            init.config.max_seq_len,
            o.out.join("features").display()
        )));
    }
    let ty: Vec<Vec<f32>> = train.examples.iter().map(labels_of).collect();
    let vy: Vec<Vec<f32>> = val.examples.iter().map(labels_of).collect();
    let mut rng = Rng::new(o.seed);

    // The standardization: pooled states of up to 4,096 training windows under the initial
    // blocks (the prototype's choice: every window; a sample is as good and much cheaper).
    let mut sample: Vec<&Window> = tw.iter().collect();
    rng.shuffle(&mut sample);
    sample.truncate(4096);
    let p0 = pooled_all(&mut shapes, &params, &sample, bs, prompt)?;
    let st = Standardizer::fit(&p0.iter().map(|p| p.as_slice()).collect::<Vec<_>>(), c);

    let mut mlp = Mlp::new(c, o.hidden, l, &mut rng);
    let (mut m1, mut v1) = (mlp.zeros_like(), mlp.zeros_like());
    let mut opt = AdamW::new(
        &params.layout,
        AdamWConfig {
            beta2: 0.999,
            weight_decay: 0.0,
            ..Default::default()
        },
    );
    let mut grads = vec![0.0f32; params.data.len()];
    let mut best: Option<Tuned> = None;
    let mut metrics = String::new();
    let mut step = 0i32;
    let keep = 1.0 / (1.0 - o.dropout);
    for epoch in 1..=o.epochs {
        let t0 = std::time::Instant::now();
        let batches = bucketed(&tw, bs, &mut rng);
        let mut train_loss = 0f64;
        for (k, batch) in batches.iter().enumerate() {
            let masks: Vec<Vec<f32>> = batch
                .iter()
                .map(|_| {
                    (0..c)
                        .map(|_| if rng.uniform() < o.dropout { 0.0 } else { keep })
                        .collect()
                })
                .collect();
            let mut g = mlp.zeros_like();
            grads.fill(0.0);
            let step_in = Step {
                params: &params,
                mlp: &mlp,
                st: &st,
                prompt,
            };
            train_loss += step_in.grads(&mut shapes, batch, &ty, &masks, &mut g, &mut grads)?;
            opt.update(&mut params.data, &grads, o.block_lr);
            step += 1;
            adamw(&mut mlp, &g, &mut m1, &mut v1, o.lr, o.weight_decay, step);
            if (k + 1) % 100 == 0 {
                eprintln!(
                    "  epoch {epoch}: {}/{} batches, {:.1} windows/s",
                    k + 1,
                    batches.len(),
                    ((k + 1) * bs) as f64 / t0.elapsed().as_secs_f64()
                );
            }
        }
        let train_loss = (train_loss / (tw.len() * l) as f64) as f32;
        let vrefs: Vec<&Window> = vw.iter().collect();
        let vp = pooled_all(&mut shapes, &params, &vrefs, bs, prompt)?;
        let mut vl = 0f64;
        let mut a = vec![];
        for (w, p) in vw.iter().zip(&vp) {
            for (z, y) in mlp.forward(&st.apply(p), &mut a).iter().zip(&vy[w.text]) {
                vl += (softplus(*z) - y * z) as f64;
            }
        }
        let val_loss = (vl / (vw.len() * l) as f64) as f32;
        eprintln!(
            "epoch {epoch}/{}: train loss {train_loss:.4}, val loss {val_loss:.4} ({:.0} s)",
            o.epochs,
            t0.elapsed().as_secs_f64()
        );
        metrics += &format!(
            "{}\n",
            json!({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                   "seconds": t0.elapsed().as_secs_f64()})
        );
        if best.as_ref().is_none_or(|b| val_loss < b.val_loss) {
            best = Some(Tuned {
                blocks: params.clone(),
                config: init.config.clone(),
                mlp: mlp.clone(),
                st: Standardizer {
                    mean: st.mean.clone(),
                    std: st.std.clone(),
                },
                epoch,
                val_loss,
            });
        }
    }
    write_atomic(&o.out.join("metrics.jsonl"), metrics.as_bytes())?;
    best.ok_or_else(|| Error::InvalidArgument("--head-epochs must be at least 1".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::moderation::mlp::sigmoid;

    /// One step's gradient with respect to the blocks, through the head, the dropout mask, the
    /// standardization and the mean over the text's rows, against central differences of the
    /// loss computed forward only; windows of different lengths share a padded batch.
    #[test]
    fn step_gradient_matches_finite_differences() {
        let config = ModelConfig {
            vocab_size: 1,
            dim: 16,
            n_layers: 2,
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: 8,
            hidden_dim: 24,
            max_seq_len: 16,
            tie_embeddings: true,
            ..ModelConfig::llama_base()
        };
        let c = config.dim;
        let mut rng = Rng::new(7);
        let mut normal = |n: usize, s: f32| -> Vec<f32> {
            (0..n).map(|_| (rng.uniform() * 2.0 - 1.0) * s).collect()
        };
        let mut params = Params::zeros(&config);
        for spec in params.layout.specs.clone() {
            let v = &mut params.data[spec.offset..spec.offset + spec.len];
            if spec.is_matrix() {
                v.copy_from_slice(&normal(spec.len, 0.3));
            } else {
                v.fill(1.0);
            }
        }
        let states: Vec<Vec<f32>> = [5, 3, 6].iter().map(|t| normal(t * c, 1.0)).collect();
        let windows: Vec<Window> = states
            .iter()
            .enumerate()
            .map(|(text, x)| Window { text, x })
            .collect();
        let batch: Vec<&Window> = windows.iter().collect();
        let ys = vec![
            vec![1.0, 0.0, 1.0],
            vec![0.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
        ];
        let masks: Vec<Vec<f32>> = (0..3)
            .map(|b| {
                (0..c)
                    .map(|i| if (i + b) % 4 == 0 { 0.0 } else { 1.25 })
                    .collect()
            })
            .collect();
        let mut r2 = Rng::new(3);
        let mlp = Mlp::new(c, 5, 3, &mut r2);
        let st = Standardizer {
            mean: normal(c, 0.5),
            std: normal(c, 0.5).iter().map(|v| 1.0 + v.abs()).collect(),
        };
        let prompt = (1, 1);
        let mut shapes = Shapes {
            config: config.clone(),
            models: HashMap::new(),
        };
        let mut g = mlp.zeros_like();
        let mut grads = vec![0.0f32; params.data.len()];
        let step = Step {
            params: &params,
            mlp: &mlp,
            st: &st,
            prompt,
        };
        step.grads(&mut shapes, &batch, &ys, &masks, &mut g, &mut grads)
            .unwrap();
        let scale = 1.0 / (3.0 * 3.0);
        let mut loss = |p: &Params| -> f64 {
            let (_, _, pooled) = forward_batch(&mut shapes, p, &batch, prompt).unwrap();
            let mut a = vec![];
            let mut s = 0f64;
            for (b, pv) in pooled.iter().enumerate() {
                let mut z = st.apply(pv);
                z.iter_mut().zip(&masks[b]).for_each(|(v, m)| *v *= m);
                for (x, y) in mlp.forward(&z, &mut a).iter().zip(&ys[b]) {
                    // −log σ(x) or −log(1 − σ(x)), as the head's BCE.
                    let q = sigmoid(*x) as f64;
                    s -= if *y > 0.5 { q.ln() } else { (1.0 - q).ln() };
                }
            }
            s * scale
        };
        // The loss is f32 arithmetic: differences carry about 5e-6 of rounding noise.
        let (mut worst, mut checked) = (0f64, 0);
        for i in (0..params.data.len()).step_by(7) {
            let eps = 1e-2f32;
            let (mut up, mut down) = (params.clone(), params.clone());
            up.data[i] += eps;
            down.data[i] -= eps;
            let fd = (loss(&up) - loss(&down)) / (2.0 * eps as f64);
            let an = grads[i] as f64;
            if fd.abs().max(an.abs()) < 1e-5 {
                continue;
            }
            checked += 1;
            worst = worst.max((fd - an).abs() / fd.abs().max(an.abs()));
            assert!(
                (fd - an).abs() < 2e-2 * fd.abs() + 5e-6,
                "parameter {i}: analytic {an}, finite differences {fd}"
            );
        }
        assert!(checked > 100, "only {checked} parameters had a gradient");
        eprintln!("{checked} parameters, worst relative error {worst:.2e}");
    }
}

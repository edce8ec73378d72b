//! The llama-family transformer for training: forward over a (B, T) batch that keeps every
//! activation the backward pass needs, and a hand-written backward that accumulates into a
//! gradient buffer with the same [`ParamLayout`](crate::params::ParamLayout) as the parameters
//! (llm.c's `gpt2_forward` / `gpt2_backward`).
//!
//! ```text
//! x0 = tok_emb[inputs]                                            (B·T, C)
//! per layer l:  xn1 = rmsnorm(x_l)   q,k,v = Wq·xn1, Wk·xn1, Wv·xn1 (+rope on q,k)
//!               y = attention(q,k,v)   mid_l = x_l + Wo·y
//!               xn2 = rmsnorm(mid_l)   a = silu(Wg·xn2) ⊙ (Wu·xn2)   x_{l+1} = mid_l + Wd·a
//! h = rmsnorm(x_L)                                               (B·T, C)  the trunk's output
//! logits = lm_head · h     loss = mean cross-entropy              (B·T, V)  the LM head
//! ```
//!
//! The trunk (embedding → layers → final norm) is shared by every head: [`TrainModel::forward`]
//! / [`TrainModel::backward`] put the language-model head on it, and other heads (the
//! moderation classifier, a reward or value head) call [`TrainModel::forward_trunk`], compute
//! their loss on the hidden states h (N, C), and hand ∂loss/∂h back to
//! [`TrainModel::backward_trunk`].

use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::ops::*;
use crate::params::{LayerSlot as LS, Params, Slot};

/// Everything one layer's forward keeps for its backward. Shapes with N = B·T.
struct LayerActs {
    xn1: Vec<f32>,   // (N, C)     normed input of attention
    rstd1: Vec<f32>, // (N)
    q: Vec<f32>,     // (N, NH*HS) after rope
    k: Vec<f32>,     // (N, NKV*HS) after rope
    v: Vec<f32>,     // (N, NKV*HS)
    att: Vec<f32>,   // (B, NH, T, T) softmax probabilities
    atty: Vec<f32>,  // (N, NH*HS) attention output before Wo
    mid: Vec<f32>,   // (N, C)     residual stream after attention
    xn2: Vec<f32>,   // (N, C)     normed input of the MLP
    rstd2: Vec<f32>, // (N)
    gate: Vec<f32>,  // (N, FF)
    up: Vec<f32>,    // (N, FF)
    act: Vec<f32>,   // (N, FF)    silu(gate) ⊙ up
}

/// Training-time model state for a fixed batch shape: activations and backward scratch.
pub struct TrainModel {
    pub config: ModelConfig,
    /// B, T
    pub batch: usize,
    pub seq: usize,
    rope: RopeTable,
    resid: Vec<Vec<f32>>, // L+1 × (N, C): input of each layer, then the final residual stream
    layers: Vec<LayerActs>,
    xnf: Vec<f32>,    // (N, C) final normed: the trunk's output h
    rstdf: Vec<f32>,  // (N)
    probs: Vec<f32>,  // (N, V) logits → probabilities → logit gradients; empty for a classifier
    losses: Vec<f32>, // (N)
    inputs: Vec<u32>, // (N)
    targets: Vec<u32>,
    counted: usize, // positions with a target (not IGNORE)
    /// (B) text lengths for a bidirectional trunk's key mask (padding is not attended to);
    /// T each until [`set_key_lengths`](Self::set_key_lengths). Unused when causal.
    key_lengths: Vec<usize>,
    // backward scratch
    dres: Vec<f32>, // (N, C)
    dxn: Vec<f32>,  // (N, C)     also ∂loss/∂h on entry to the trunk's backward
    dq: Vec<f32>,   // (N, NH*HS)
    dk: Vec<f32>,   // (N, NKV*HS)
    dv: Vec<f32>,
    datty: Vec<f32>, // (N, NH*HS)
    dgate: Vec<f32>, // (N, FF)
    dup: Vec<f32>,
    dact: Vec<f32>,
}

/// Mutable views of two different tensors of one flat gradient buffer.
fn two_mut<'a>(
    buf: &'a mut [f32],
    p: &Params,
    a: Slot,
    b: Slot,
) -> (&'a mut [f32], Option<&'a mut [f32]>) {
    let sa = p.layout.spec(a).expect("gradient slot").clone();
    let Some(sb) = p.layout.spec(b).cloned() else {
        return (&mut buf[sa.offset..sa.offset + sa.len], None);
    };
    if sa.offset < sb.offset {
        let (lo, hi) = buf.split_at_mut(sb.offset);
        (
            &mut lo[sa.offset..sa.offset + sa.len],
            Some(&mut hi[..sb.len]),
        )
    } else {
        let (lo, hi) = buf.split_at_mut(sa.offset);
        (
            &mut hi[..sa.len],
            Some(&mut lo[sb.offset..sb.offset + sb.len]),
        )
    }
}

/// The gradient of tensor `s` in a flat gradient buffer with `p`'s layout.
pub(crate) fn grad_mut<'a>(buf: &'a mut [f32], p: &Params, s: Slot) -> &'a mut [f32] {
    let sp = p.layout.spec(s).expect("gradient slot");
    &mut buf[sp.offset..sp.offset + sp.len]
}

impl TrainModel {
    /// A classifier config (with id2label) gets the trunk only: [`forward_trunk`](Self::forward_trunk)
    /// and [`backward_trunk`](Self::backward_trunk), no language-model head.
    pub fn new(config: &ModelConfig, batch: usize, seq: usize) -> Result<Self> {
        if config.family != Family::Llama {
            return Err(Error::InvalidArgument(
                "training is implemented for the llama family only".into(),
            ));
        }
        if seq > config.max_seq_len {
            return Err(Error::InvalidArgument(format!(
                "sequence length {seq} exceeds max_position_embeddings {}",
                config.max_seq_len
            )));
        }
        let n = batch * seq;
        let (c, ff, v) = (config.dim, config.hidden_dim, config.vocab_size);
        let (qd, kvd) = (config.q_dim(), config.kv_dim());
        let z = |len: usize| vec![0.0f32; len];
        let layers = (0..config.n_layers)
            .map(|_| LayerActs {
                xn1: z(n * c),
                rstd1: z(n),
                q: z(n * qd),
                k: z(n * kvd),
                v: z(n * kvd),
                att: z(n * config.n_heads * seq),
                atty: z(n * qd),
                mid: z(n * c),
                xn2: z(n * c),
                rstd2: z(n),
                gate: z(n * ff),
                up: z(n * ff),
                act: z(n * ff),
            })
            .collect();
        Ok(TrainModel {
            config: config.clone(),
            batch,
            seq,
            rope: RopeTable::new(seq, config.head_dim, config.rope_theta),
            resid: (0..=config.n_layers).map(|_| z(n * c)).collect(),
            layers,
            xnf: z(n * c),
            rstdf: z(n),
            probs: z(if config.is_classifier() { 0 } else { n * v }),
            losses: z(n),
            inputs: vec![0; n],
            targets: vec![0; n],
            counted: 0,
            key_lengths: vec![seq; batch],
            dres: z(n * c),
            dxn: z(n * c),
            dq: z(n * qd),
            dk: z(n * kvd),
            dv: z(n * kvd),
            datty: z(n * qd),
            dgate: z(n * ff),
            dup: z(n * ff),
            dact: z(n * ff),
        })
    }

    /// Runs the batch and returns the mean cross-entropy over positions whose target is not
    /// [`IGNORE`]. inputs, targets: (B, T) token ids.
    pub fn forward(&mut self, p: &Params, inputs: &[u32], targets: &[u32]) -> Result<f32> {
        if self.config.is_classifier() {
            return Err(Error::InvalidArgument(
                "this model has a classification head, not a language-model head: use forward_trunk"
                    .into(),
            ));
        }
        let n = self.batch * self.seq;
        if inputs.len() != n || targets.len() != n {
            return Err(Error::InvalidArgument(format!(
                "batch must hold B·T = {n} inputs and targets, got {} and {}",
                inputs.len(),
                targets.len()
            )));
        }
        let vsz = self.config.vocab_size;
        if let Some(&bad) = targets
            .iter()
            .filter(|&&x| x != IGNORE)
            .find(|&&x| x as usize >= vsz)
        {
            return Err(Error::TokenOutOfRange {
                id: bad,
                vocab: vsz,
            });
        }
        self.forward_trunk(p, inputs)?;
        let c = self.config.dim;
        self.targets.copy_from_slice(targets);
        matmul_forward(&mut self.probs, &self.xnf, p.lm_head(), None, n, c, vsz);
        crossentropy_softmax_forward(&mut self.losses, &mut self.probs, targets, vsz);
        self.counted = targets.iter().filter(|&&x| x != IGNORE).count();
        // Sum in f64 so the mean does not depend on the batch size's rounding.
        let sum: f64 = self.losses.iter().map(|&x| x as f64).sum();
        Ok((sum / self.counted.max(1) as f64) as f32)
    }

    /// The text length of each of the B rows of the next batches, for a bidirectional trunk
    /// (`config.causal` false), whose positions attend to keys 0..length only. A causal trunk
    /// needs no lengths: right padding comes after every position that matters.
    pub fn set_key_lengths(&mut self, lengths: &[usize]) -> Result<()> {
        if lengths.len() != self.batch || lengths.iter().any(|&l| l == 0 || l > self.seq) {
            return Err(Error::InvalidArgument(format!(
                "need {} lengths in 1..={}, got {lengths:?}",
                self.batch, self.seq
            )));
        }
        self.key_lengths.copy_from_slice(lengths);
        Ok(())
    }

    /// Runs the trunk on a (B, T) batch of token ids and returns its output, the final-normed
    /// hidden states h (B·T, C), kept for [`backward_trunk`](Self::backward_trunk).
    pub fn forward_trunk(&mut self, p: &Params, inputs: &[u32]) -> Result<&[f32]> {
        let cfg = &self.config;
        let (b, t) = (self.batch, self.seq);
        let n = b * t;
        if inputs.len() != n {
            return Err(Error::InvalidArgument(format!(
                "batch must hold B·T = {n} inputs, got {}",
                inputs.len()
            )));
        }
        let vsz = cfg.vocab_size;
        if let Some(&bad) = inputs.iter().find(|&&x| x as usize >= vsz) {
            return Err(Error::TokenOutOfRange {
                id: bad,
                vocab: vsz,
            });
        }
        let (c, ff) = (cfg.dim, cfg.hidden_dim);
        let (nh, nkv, hs) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim);
        let (qd, kvd) = (cfg.q_dim(), cfg.kv_dim());
        let eps = cfg.norm_eps;
        self.inputs.copy_from_slice(inputs);

        embedding_forward(&mut self.resid[0], inputs, p.t(Slot::TokEmb), None, 0, c);
        for l in 0..cfg.n_layers {
            let (before, after) = self.resid.split_at_mut(l + 1);
            let x = &before[l];
            let xout = &mut after[0];
            let a = &mut self.layers[l];
            rmsnorm_forward(
                &mut a.xn1,
                &mut a.rstd1,
                x,
                p.layer(l, LS::AttnNormW),
                n,
                c,
                eps,
            );
            matmul_forward(
                &mut a.q,
                &a.xn1,
                p.layer(l, LS::Wq),
                p.layer_opt(l, LS::Bq),
                n,
                c,
                qd,
            );
            matmul_forward(
                &mut a.k,
                &a.xn1,
                p.layer(l, LS::Wk),
                p.layer_opt(l, LS::Bk),
                n,
                c,
                kvd,
            );
            matmul_forward(
                &mut a.v,
                &a.xn1,
                p.layer(l, LS::Wv),
                p.layer_opt(l, LS::Bv),
                n,
                c,
                kvd,
            );
            for bb in 0..b {
                rope_forward(&mut a.q[bb * t * qd..][..t * qd], &self.rope, 0, t, nh, hs);
                rope_forward(
                    &mut a.k[bb * t * kvd..][..t * kvd],
                    &self.rope,
                    0,
                    t,
                    nkv,
                    hs,
                );
            }
            let keys = (!cfg.causal).then_some(self.key_lengths.as_slice());
            attention_train_forward(
                &mut a.atty,
                &mut a.att,
                &a.q,
                &a.k,
                &a.v,
                b,
                t,
                nh,
                nkv,
                hs,
                keys,
            );
            matmul_forward(
                &mut a.mid,
                &a.atty,
                p.layer(l, LS::Wo),
                p.layer_opt(l, LS::Bo),
                n,
                qd,
                c,
            );
            residual_forward(&mut a.mid, x);
            rmsnorm_forward(
                &mut a.xn2,
                &mut a.rstd2,
                &a.mid,
                p.layer(l, LS::MlpNormW),
                n,
                c,
                eps,
            );
            matmul_forward(
                &mut a.gate,
                &a.xn2,
                p.layer(l, LS::WGate),
                p.layer_opt(l, LS::BGate),
                n,
                c,
                ff,
            );
            matmul_forward(
                &mut a.up,
                &a.xn2,
                p.layer(l, LS::WUp),
                p.layer_opt(l, LS::BUp),
                n,
                c,
                ff,
            );
            swiglu_forward(&mut a.act, &a.gate, &a.up);
            matmul_forward(
                xout,
                &a.act,
                p.layer(l, LS::WDown),
                p.layer_opt(l, LS::BDown),
                n,
                ff,
                c,
            );
            residual_forward(xout, &a.mid);
        }
        let last = &self.resid[cfg.n_layers];
        rmsnorm_forward(
            &mut self.xnf,
            &mut self.rstdf,
            last,
            p.t(Slot::FinalNormW),
            n,
            c,
            eps,
        );
        Ok(&self.xnf)
    }

    /// The trunk's output h (B·T, C) from the last forward.
    pub fn hidden(&self) -> &[f32] {
        &self.xnf
    }

    /// Accumulates the gradient of `scale · loss` (the mean from the last `forward`) into
    /// `grads` (same layout as `p`). With gradient accumulation over k micro-batches, pass
    /// scale = 1/k. Consumes the probabilities: call `forward` again before another backward.
    pub fn backward(&mut self, p: &Params, grads: &mut [f32], scale: f32) {
        assert_eq!(
            grads.len(),
            p.data.len(),
            "gradient buffer has the parameters' layout"
        );
        assert!(
            !self.config.is_classifier(),
            "a classifier has no language-model head: use backward_trunk"
        );
        let n = self.batch * self.seq;
        let (c, vsz) = (self.config.dim, self.config.vocab_size);
        let dloss = scale / self.counted.max(1) as f32;

        crossentropy_softmax_backward(&mut self.probs, &self.targets, dloss, vsz);
        let head = if p.layout.has(Slot::LmHead) {
            Slot::LmHead
        } else {
            Slot::TokEmb
        };
        self.dxn.fill(0.0);
        matmul_backward(
            &mut self.dxn,
            grad_mut(grads, p, head),
            None,
            &self.probs,
            &self.xnf,
            p.lm_head(),
            n,
            c,
            vsz,
        );
        self.backward_from_dxn(p, grads);
    }

    /// Accumulates into `grads` the gradient that flows back from `dhidden` = ∂loss/∂h (B·T, C),
    /// the gradient of a head's loss with respect to the last
    /// [`forward_trunk`](Self::forward_trunk)'s output. Rows a head did not read are zero.
    pub fn backward_trunk(&mut self, p: &Params, grads: &mut [f32], dhidden: &[f32]) {
        assert_eq!(
            grads.len(),
            p.data.len(),
            "gradient buffer has the parameters' layout"
        );
        assert_eq!(dhidden.len(), self.dxn.len(), "dhidden is (B·T, C)");
        self.dxn.copy_from_slice(dhidden);
        self.backward_from_dxn(p, grads);
    }

    /// The trunk's backward, from ∂loss/∂h in `self.dxn` down to the token embedding.
    fn backward_from_dxn(&mut self, p: &Params, grads: &mut [f32]) {
        let cfg = self.config.clone();
        let (b, t) = (self.batch, self.seq);
        let n = b * t;
        let (c, ff) = (cfg.dim, cfg.hidden_dim);
        let (nh, nkv, hs) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim);
        let (qd, kvd) = (cfg.q_dim(), cfg.kv_dim());
        self.dres.fill(0.0);
        rmsnorm_backward(
            &mut self.dres,
            grad_mut(grads, p, Slot::FinalNormW),
            &self.dxn,
            &self.resid[cfg.n_layers],
            p.t(Slot::FinalNormW),
            &self.rstdf,
            n,
            c,
        );
        for l in (0..cfg.n_layers).rev() {
            let a = &self.layers[l];
            let lay = |s| Slot::Layer(l, s);
            // MLP: x_{l+1} = mid + Wd·act; dres is ∂loss/∂x_{l+1} and passes straight to mid.
            self.dact.fill(0.0);
            let (dw, db) = two_mut(grads, p, lay(LS::WDown), lay(LS::BDown));
            matmul_backward(
                &mut self.dact,
                dw,
                db,
                &self.dres,
                &a.act,
                p.layer(l, LS::WDown),
                n,
                ff,
                c,
            );
            self.dgate.fill(0.0);
            self.dup.fill(0.0);
            swiglu_backward(&mut self.dgate, &mut self.dup, &self.dact, &a.gate, &a.up);
            self.dxn.fill(0.0);
            let (dw, db) = two_mut(grads, p, lay(LS::WGate), lay(LS::BGate));
            matmul_backward(
                &mut self.dxn,
                dw,
                db,
                &self.dgate,
                &a.xn2,
                p.layer(l, LS::WGate),
                n,
                c,
                ff,
            );
            let (dw, db) = two_mut(grads, p, lay(LS::WUp), lay(LS::BUp));
            matmul_backward(
                &mut self.dxn,
                dw,
                db,
                &self.dup,
                &a.xn2,
                p.layer(l, LS::WUp),
                n,
                c,
                ff,
            );
            rmsnorm_backward(
                &mut self.dres,
                grad_mut(grads, p, lay(LS::MlpNormW)),
                &self.dxn,
                &a.mid,
                p.layer(l, LS::MlpNormW),
                &a.rstd2,
                n,
                c,
            );
            // Attention: mid = x_l + Wo·y.
            self.datty.fill(0.0);
            let (dw, db) = two_mut(grads, p, lay(LS::Wo), lay(LS::Bo));
            matmul_backward(
                &mut self.datty,
                dw,
                db,
                &self.dres,
                &a.atty,
                p.layer(l, LS::Wo),
                n,
                qd,
                c,
            );
            self.dq.fill(0.0);
            self.dk.fill(0.0);
            self.dv.fill(0.0);
            attention_train_backward(
                &mut self.dq,
                &mut self.dk,
                &mut self.dv,
                &self.datty,
                &a.att,
                &a.q,
                &a.k,
                &a.v,
                b,
                t,
                nh,
                nkv,
                hs,
                (!cfg.causal).then_some(self.key_lengths.as_slice()),
            );
            for bb in 0..b {
                rope_backward(
                    &mut self.dq[bb * t * qd..][..t * qd],
                    &self.rope,
                    0,
                    t,
                    nh,
                    hs,
                );
                rope_backward(
                    &mut self.dk[bb * t * kvd..][..t * kvd],
                    &self.rope,
                    0,
                    t,
                    nkv,
                    hs,
                );
            }
            self.dxn.fill(0.0);
            let (dw, db) = two_mut(grads, p, lay(LS::Wq), lay(LS::Bq));
            matmul_backward(
                &mut self.dxn,
                dw,
                db,
                &self.dq,
                &a.xn1,
                p.layer(l, LS::Wq),
                n,
                c,
                qd,
            );
            let (dw, db) = two_mut(grads, p, lay(LS::Wk), lay(LS::Bk));
            matmul_backward(
                &mut self.dxn,
                dw,
                db,
                &self.dk,
                &a.xn1,
                p.layer(l, LS::Wk),
                n,
                c,
                kvd,
            );
            let (dw, db) = two_mut(grads, p, lay(LS::Wv), lay(LS::Bv));
            matmul_backward(
                &mut self.dxn,
                dw,
                db,
                &self.dv,
                &a.xn1,
                p.layer(l, LS::Wv),
                n,
                c,
                kvd,
            );
            rmsnorm_backward(
                &mut self.dres,
                grad_mut(grads, p, lay(LS::AttnNormW)),
                &self.dxn,
                &self.resid[l],
                p.layer(l, LS::AttnNormW),
                &a.rstd1,
                n,
                c,
            );
        }
        embedding_backward(
            grad_mut(grads, p, Slot::TokEmb),
            &self.dres,
            &self.inputs,
            c,
        );
    }

    /// Per-position losses of the last forward (N), 0 where the target was ignored.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }
}

/// Fresh parameters for training: embeddings and matrices ~ N(0, 0.02²) (transformers'
/// `initializer_range`), the residual output projections (Wo, W_down) scaled by 1/√(2L) as in
/// GPT-2, norms at 1, biases at 0. Deterministic in `seed`.
pub fn init_params(cfg: &ModelConfig, seed: u64) -> Params {
    let mut p = Params::zeros(cfg);
    let mut rng = crate::generate::Rng::new(seed);
    let std = 0.02f32;
    let proj_std = std / (2.0 * cfg.n_layers as f32).sqrt();
    for spec in p.layout.specs.clone() {
        let dst = &mut p.data[spec.offset..spec.offset + spec.len];
        let s = match spec.slot {
            Slot::Layer(_, LS::AttnNormW | LS::MlpNormW) | Slot::FinalNormW => {
                dst.fill(1.0);
                continue;
            }
            Slot::Layer(_, LS::Wo | LS::WDown) => proj_std,
            _ if spec.shape.len() == 2 => std,
            _ => continue, // biases stay 0
        };
        for x in dst.iter_mut() {
            *x = rng.normal() * s;
        }
    }
    p
}

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

/// The backward pass's buffers, shared by the layers. Shapes with N = B·T.
struct Scratch {
    dres: Vec<f32>,  // (N, C)     ∂loss/∂(residual stream) at the current layer boundary
    dxn: Vec<f32>, // (N, C)     ∂loss/∂(a normed input); ∂loss/∂h on entry to the trunk's backward
    dq: Vec<f32>,  // (N, NH*HS)
    dk: Vec<f32>,  // (N, NKV*HS)
    dv: Vec<f32>,  // (N, NKV*HS)
    datty: Vec<f32>, // (N, NH*HS)
    dgate: Vec<f32>, // (N, FF)
    dup: Vec<f32>, // (N, FF)
    dact: Vec<f32>, // (N, FF)
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
    g: Scratch,
}

/// What every layer's forward and backward read besides its weights and activations: the
/// shapes (N = B·T), RMSNorm's ε, the RoPE table and a bidirectional trunk's key lengths (None:
/// causal).
#[derive(Clone, Copy)]
struct Dims<'a> {
    b: usize,
    t: usize,
    n: usize,
    c: usize,
    ff: usize,
    nh: usize,
    nkv: usize,
    hs: usize,
    qd: usize,
    kvd: usize,
    eps: f32,
    rope: &'a RopeTable,
    keys: Option<&'a [usize]>,
}

impl<'a> Dims<'a> {
    fn new(
        cfg: &ModelConfig,
        b: usize,
        t: usize,
        rope: &'a RopeTable,
        key_lengths: &'a [usize],
    ) -> Self {
        Dims {
            b,
            t,
            n: b * t,
            c: cfg.dim,
            ff: cfg.hidden_dim,
            nh: cfg.n_heads,
            nkv: cfg.n_kv_heads,
            hs: cfg.head_dim,
            qd: cfg.q_dim(),
            kvd: cfg.kv_dim(),
            eps: cfg.norm_eps,
            rope,
            keys: (!cfg.causal).then_some(key_lengths),
        }
    }
}

/// One layer's forward and backward, in two halves each (llm.c's per-layer block of
/// `gpt2_forward` / `gpt2_backward`). Shapes with N = B·T; b: B; keys: a bidirectional trunk's
/// key lengths (None: causal).
impl LayerActs {
    /// mid = x + Wo · attention(rope(Wq·xn1), rope(Wk·xn1), Wv·xn1), xn1 = rmsnorm(x).
    fn attention_forward(&mut self, x: &[f32], p: &Params, l: usize, d: &Dims) {
        let (b, t, n, c) = (d.b, d.t, d.n, d.c);
        let (nh, nkv, hs, qd, kvd) = (d.nh, d.nkv, d.hs, d.qd, d.kvd);
        let w = |s| p.layer(l, s);
        let bias = |s| p.layer_opt(l, s);
        rmsnorm_forward(
            &mut self.xn1,
            &mut self.rstd1,
            x,
            w(LS::AttnNormW),
            n,
            c,
            d.eps,
        );
        matmul_forward(&mut self.q, &self.xn1, w(LS::Wq), bias(LS::Bq), n, c, qd);
        matmul_forward(&mut self.k, &self.xn1, w(LS::Wk), bias(LS::Bk), n, c, kvd);
        matmul_forward(&mut self.v, &self.xn1, w(LS::Wv), bias(LS::Bv), n, c, kvd);
        for bb in 0..b {
            rope_forward(&mut self.q[bb * t * qd..][..t * qd], d.rope, 0, t, nh, hs);
            rope_forward(
                &mut self.k[bb * t * kvd..][..t * kvd],
                d.rope,
                0,
                t,
                nkv,
                hs,
            );
        }
        attention_train_forward(
            &mut self.atty,
            &mut self.att,
            &self.q,
            &self.k,
            &self.v,
            b,
            t,
            nh,
            nkv,
            hs,
            d.keys,
        );
        matmul_forward(&mut self.mid, &self.atty, w(LS::Wo), bias(LS::Bo), n, qd, c);
        residual_forward(&mut self.mid, x);
    }

    /// xout = mid + Wd · (silu(Wg·xn2) ⊙ Wu·xn2), xn2 = rmsnorm(mid).
    fn mlp_forward(&mut self, xout: &mut [f32], p: &Params, l: usize, d: &Dims) {
        let Dims { n, c, ff, .. } = *d;
        let w = |s| p.layer(l, s);
        let bias = |s| p.layer_opt(l, s);
        rmsnorm_forward(
            &mut self.xn2,
            &mut self.rstd2,
            &self.mid,
            w(LS::MlpNormW),
            n,
            c,
            d.eps,
        );
        matmul_forward(
            &mut self.gate,
            &self.xn2,
            w(LS::WGate),
            bias(LS::BGate),
            n,
            c,
            ff,
        );
        matmul_forward(&mut self.up, &self.xn2, w(LS::WUp), bias(LS::BUp), n, c, ff);
        swiglu_forward(&mut self.act, &self.gate, &self.up);
        matmul_forward(xout, &self.act, w(LS::WDown), bias(LS::BDown), n, ff, c);
        residual_forward(xout, &self.mid);
    }

    /// Backward of [`mlp_forward`](Self::mlp_forward): g.dres holds ∂loss/∂x_{l+1} on entry,
    /// which passes straight to mid, and ∂loss/∂mid on exit.
    fn mlp_backward(&self, g: &mut Scratch, grads: &mut [f32], p: &Params, l: usize, d: &Dims) {
        let Dims { n, c, ff, .. } = *d;
        let lay = |s| Slot::Layer(l, s);
        g.dact.fill(0.0);
        let (dw, db) = two_mut(grads, p, lay(LS::WDown), lay(LS::BDown));
        let w_down = p.layer(l, LS::WDown);
        matmul_backward(&mut g.dact, dw, db, &g.dres, &self.act, w_down, n, ff, c);
        g.dgate.fill(0.0);
        g.dup.fill(0.0);
        swiglu_backward(&mut g.dgate, &mut g.dup, &g.dact, &self.gate, &self.up);
        g.dxn.fill(0.0);
        let (dw, db) = two_mut(grads, p, lay(LS::WGate), lay(LS::BGate));
        let w_gate = p.layer(l, LS::WGate);
        matmul_backward(&mut g.dxn, dw, db, &g.dgate, &self.xn2, w_gate, n, c, ff);
        let (dw, db) = two_mut(grads, p, lay(LS::WUp), lay(LS::BUp));
        let w_up = p.layer(l, LS::WUp);
        matmul_backward(&mut g.dxn, dw, db, &g.dup, &self.xn2, w_up, n, c, ff);
        rmsnorm_backward(
            &mut g.dres,
            grad_mut(grads, p, lay(LS::MlpNormW)),
            &g.dxn,
            &self.mid,
            p.layer(l, LS::MlpNormW),
            &self.rstd2,
            n,
            c,
        );
    }

    /// Backward of [`attention_forward`](Self::attention_forward) (x: the layer's input):
    /// g.dres holds ∂loss/∂mid on entry and ∂loss/∂x on exit.
    fn attention_backward(
        &self,
        g: &mut Scratch,
        grads: &mut [f32],
        x: &[f32],
        p: &Params,
        l: usize,
        d: &Dims,
    ) {
        let (b, t, n, c) = (d.b, d.t, d.n, d.c);
        let (nh, nkv, hs, qd, kvd) = (d.nh, d.nkv, d.hs, d.qd, d.kvd);
        let lay = |s| Slot::Layer(l, s);
        g.datty.fill(0.0);
        let (dw, db) = two_mut(grads, p, lay(LS::Wo), lay(LS::Bo));
        let w_o = p.layer(l, LS::Wo);
        matmul_backward(&mut g.datty, dw, db, &g.dres, &self.atty, w_o, n, qd, c);
        g.dq.fill(0.0);
        g.dk.fill(0.0);
        g.dv.fill(0.0);
        attention_train_backward(
            &mut g.dq, &mut g.dk, &mut g.dv, &g.datty, &self.att, &self.q, &self.k, &self.v, b, t,
            nh, nkv, hs, d.keys,
        );
        for bb in 0..b {
            rope_backward(&mut g.dq[bb * t * qd..][..t * qd], d.rope, 0, t, nh, hs);
            rope_backward(&mut g.dk[bb * t * kvd..][..t * kvd], d.rope, 0, t, nkv, hs);
        }
        g.dxn.fill(0.0);
        for (dproj, wslot, bslot, out) in [
            (&g.dq, LS::Wq, LS::Bq, qd),
            (&g.dk, LS::Wk, LS::Bk, kvd),
            (&g.dv, LS::Wv, LS::Bv, kvd),
        ] {
            let (dw, db) = two_mut(grads, p, lay(wslot), lay(bslot));
            let w = p.layer(l, wslot);
            matmul_backward(&mut g.dxn, dw, db, dproj, &self.xn1, w, n, c, out);
        }
        rmsnorm_backward(
            &mut g.dres,
            grad_mut(grads, p, lay(LS::AttnNormW)),
            &g.dxn,
            x,
            p.layer(l, LS::AttnNormW),
            &self.rstd1,
            n,
            c,
        );
    }
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

/// Every backward's check of its gradient buffer: one f32 per parameter, in `p`'s layout.
fn assert_grad_layout(p: &Params, grads: &[f32]) {
    assert_eq!(
        grads.len(),
        p.data.len(),
        "gradient buffer has the parameters' layout"
    );
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
            g: Scratch {
                dres: z(n * c),
                dxn: z(n * c),
                dq: z(n * qd),
                dk: z(n * kvd),
                dv: z(n * kvd),
                datty: z(n * qd),
                dgate: z(n * ff),
                dup: z(n * ff),
                dact: z(n * ff),
            },
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
        let c = cfg.dim;
        self.inputs.copy_from_slice(inputs);

        embedding_forward(&mut self.resid[0], inputs, p.t(Slot::TokEmb), None, 0, c);
        self.layers_forward(p);
        let cfg = &self.config;
        rmsnorm_forward(
            &mut self.xnf,
            &mut self.rstdf,
            &self.resid[cfg.n_layers],
            p.t(Slot::FinalNormW),
            n,
            c,
            cfg.norm_eps,
        );
        Ok(&self.xnf)
    }

    /// Runs the layers on given input states `x0` (B·T, C) instead of token embeddings — the
    /// residual stream after blocks that are not trained, as when a moderation head tunes the
    /// top blocks of a frozen trunk — and returns the residual stream after the last layer
    /// (B·T, C), before the final norm. [`backward_states`](Self::backward_states) follows it;
    /// [`backward`](Self::backward) and [`backward_trunk`](Self::backward_trunk) follow only
    /// their own forwards (this one leaves the final norm's statistics as they were).
    pub fn forward_states(&mut self, p: &Params, x0: &[f32]) -> Result<&[f32]> {
        if x0.len() != self.resid[0].len() {
            return Err(Error::InvalidArgument(format!(
                "input states must be (B·T, C) = {} values, got {}",
                self.resid[0].len(),
                x0.len()
            )));
        }
        self.resid[0].copy_from_slice(x0);
        self.layers_forward(p);
        Ok(&self.resid[self.config.n_layers])
    }

    fn layers_forward(&mut self, p: &Params) {
        let cfg = &self.config;
        let d = Dims::new(cfg, self.batch, self.seq, &self.rope, &self.key_lengths);
        for l in 0..cfg.n_layers {
            let (before, after) = self.resid.split_at_mut(l + 1);
            let a = &mut self.layers[l];
            a.attention_forward(&before[l], p, l, &d);
            a.mlp_forward(&mut after[0], p, l, &d);
        }
    }

    /// The trunk's output h (B·T, C) from the last forward.
    pub fn hidden(&self) -> &[f32] {
        &self.xnf
    }

    /// Accumulates the gradient of `scale · loss` (the mean from the last `forward`) into
    /// `grads` (same layout as `p`). With gradient accumulation over k micro-batches, pass
    /// scale = 1/k. Consumes the probabilities: call `forward` again before another backward.
    pub fn backward(&mut self, p: &Params, grads: &mut [f32], scale: f32) {
        assert_grad_layout(p, grads);
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
        self.g.dxn.fill(0.0);
        matmul_backward(
            &mut self.g.dxn,
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
        assert_grad_layout(p, grads);
        assert_eq!(dhidden.len(), self.g.dxn.len(), "dhidden is (B·T, C)");
        self.g.dxn.copy_from_slice(dhidden);
        self.backward_from_dxn(p, grads);
    }

    /// The trunk's backward, from ∂loss/∂h in `self.g.dxn` down to the token embedding.
    fn backward_from_dxn(&mut self, p: &Params, grads: &mut [f32]) {
        let cfg = &self.config;
        let (n, c) = (self.batch * self.seq, cfg.dim);
        let g = &mut self.g;
        g.dres.fill(0.0);
        rmsnorm_backward(
            &mut g.dres,
            grad_mut(grads, p, Slot::FinalNormW),
            &g.dxn,
            &self.resid[cfg.n_layers],
            p.t(Slot::FinalNormW),
            &self.rstdf,
            n,
            c,
        );
        self.layers_backward(p, grads);
        embedding_backward(
            grad_mut(grads, p, Slot::TokEmb),
            &self.g.dres,
            &self.inputs,
            c,
        );
    }

    /// Accumulates into `grads` the gradient that flows back from `dx` = ∂loss/∂x (B·T, C), the
    /// gradient with respect to the last [`forward_states`](Self::forward_states)'s output, and
    /// returns ∂loss/∂x0 (B·T, C), the gradient with respect to its input states.
    pub fn backward_states(&mut self, p: &Params, grads: &mut [f32], dx: &[f32]) -> &[f32] {
        assert_grad_layout(p, grads);
        assert_eq!(dx.len(), self.g.dres.len(), "dx is (B·T, C)");
        self.g.dres.copy_from_slice(dx);
        self.layers_backward(p, grads);
        &self.g.dres
    }

    /// The layers' backward, from ∂loss/∂(last residual stream) in `self.g.dres` down to
    /// ∂loss/∂(first layer's input), left in `self.g.dres`.
    fn layers_backward(&mut self, p: &Params, grads: &mut [f32]) {
        let cfg = &self.config;
        let d = Dims::new(cfg, self.batch, self.seq, &self.rope, &self.key_lengths);
        for l in (0..cfg.n_layers).rev() {
            let a = &self.layers[l];
            a.mlp_backward(&mut self.g, grads, p, l, &d);
            a.attention_backward(&mut self.g, grads, &self.resid[l], p, l, &d);
        }
    }

    /// Per-position losses of the last forward (N), 0 where the target was ignored.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }
}

/// Parameters for the classifier config `cfg` whose trunk is the language model `lm`'s: every
/// tensor but the classification head copied, the head drawn fresh with `seed`. `what` names
/// `lm` in the error when it lacks a tensor.
pub fn trunk_with_new_head(
    cfg: &ModelConfig,
    lm: &Params,
    seed: u64,
    what: &str,
) -> Result<Params> {
    let mut p = init_params(cfg, seed);
    for spec in p.layout.specs.clone() {
        if spec.slot == Slot::ClsHead {
            continue;
        }
        let src = lm
            .get(spec.slot)
            .ok_or_else(|| Error::Other(format!("--init: the {what} has no {}", spec.name)))?;
        p.data[spec.offset..spec.offset + spec.len].copy_from_slice(src);
    }
    Ok(p)
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

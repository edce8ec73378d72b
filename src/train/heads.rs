//! The training trunk with a head on it, for a fixed batch shape (B, T): the maths is in
//! `ops::head` and `ops::loss`; here the buffers, the trunk's forward and backward around them,
//! and the head's slice of the gradient buffer.
//!
//! ```text
//! LmBatches        LM head at every position       cross-entropy         pretraining, SFT
//! SequenceHead     pooled sequence → L logits      BCE with logits       moderation classifier
//!                  pooled sequence → 1 score       Bradley–Terry         reward model
//! TokenLogprobs    LM head at chosen positions     log π(token), entropy PPO policy
//! TokenValues      scalar head at chosen positions V(position)           PPO critic
//! ```

use super::model::{grad_mut, TrainModel};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::ops::*;
use crate::params::{Params, Slot};

/// The language model (the trunk with its LM head, [`TrainModel::forward`]) on (B, T) batches,
/// with the batch's buffers: pretraining and SFT.
pub struct LmBatches {
    pub model: TrainModel,
    inp: Vec<u32>, // (B, T)
    tgt: Vec<u32>, // (B, T)
}

impl LmBatches {
    pub fn new(cfg: &ModelConfig, batch: usize, seq: usize) -> Result<Self> {
        Ok(LmBatches {
            model: TrainModel::new(cfg, batch, seq)?,
            inp: vec![0; batch * seq],
            tgt: vec![0; batch * seq],
        })
    }

    /// Adds to `grads` the gradient of the mean loss over `accum` micro-batches, each filled by
    /// `fill(inputs, targets)`, and returns that loss.
    pub fn accumulate(
        &mut self,
        p: &Params,
        grads: &mut [f32],
        accum: usize,
        mut fill: impl FnMut(&mut [u32], &mut [u32]),
    ) -> Result<f32> {
        let mut loss = 0.0f32;
        for _ in 0..accum {
            fill(&mut self.inp, &mut self.tgt);
            loss += self.model.forward(p, &self.inp, &self.tgt)? / accum as f32;
            self.model.backward(p, grads, 1.0 / accum as f32);
        }
        Ok(loss)
    }
}

/// The trunk with a linear head on each sequence's pooled rows (`Slot::ClsHead`, (L, C)): the
/// moderation classifier (L labels, BCE against 0/1 targets) and the reward model (one label,
/// the score; Bradley–Terry over the rankings in the batch).
pub struct SequenceHead {
    pub model: TrainModel,
    /// (B, L) of the last forward
    pub logits: Vec<f32>,
    /// (B, L) ∂loss/∂logits, filled by the loss's backward
    dlogits: Vec<f32>,
    dhidden: Vec<f32>, // (B·T, C)
    lengths: Vec<usize>,
}

/// The moderation classifier on the training trunk.
pub type Classifier = SequenceHead;
/// The reward model on the training trunk: a classifier with one label.
pub type RewardTrainer = SequenceHead;

impl SequenceHead {
    pub fn new(cfg: &ModelConfig, batch: usize, seq: usize) -> Result<Self> {
        if !cfg.is_classifier() {
            return Err(Error::InvalidArgument(
                "the classifier config needs labels (id2label)".into(),
            ));
        }
        let nl = cfg.labels.len();
        Ok(SequenceHead {
            model: TrainModel::new(cfg, batch, seq)?,
            logits: vec![0.0; batch * nl],
            dlogits: vec![0.0; batch * nl],
            dhidden: vec![0.0; batch * seq * cfg.dim],
            lengths: vec![1; batch],
        })
    }

    /// Logits (B, L) of a (B, T) batch whose sequence b ends at position lengths[b] − 1.
    pub fn forward(&mut self, p: &Params, inputs: &[u32], lengths: &[usize]) -> Result<&[f32]> {
        let t = self.model.seq;
        let (c, nl) = (self.model.config.dim, self.model.config.labels.len());
        let pooling = self.model.config.pooling;
        // Checks the lengths; a bidirectional trunk masks the keys past them.
        self.model.set_key_lengths(lengths)?;
        let h = self.model.forward_trunk(p, inputs)?;
        cls_head_forward(
            &mut self.logits,
            h,
            p.t(Slot::ClsHead),
            lengths,
            t,
            c,
            nl,
            pooling,
        );
        self.lengths.copy_from_slice(lengths);
        Ok(&self.logits)
    }

    /// Forward, mean BCE loss against `targets` (B, L) with `pos_weight` (L), and backward of
    /// `scale · loss` into `grads`. Returns the loss.
    #[allow(clippy::too_many_arguments)]
    pub fn bce_forward_backward(
        &mut self,
        p: &Params,
        grads: &mut [f32],
        inputs: &[u32],
        lengths: &[usize],
        targets: &[f32],
        pos_weight: &[f32],
        scale: f32,
    ) -> Result<f32> {
        self.forward(p, inputs, lengths)?;
        let loss = bce_with_logits_forward(&self.logits, targets, pos_weight);
        bce_with_logits_backward(&mut self.dlogits, &self.logits, targets, pos_weight, scale);
        self.backward(p, grads);
        Ok(loss)
    }

    /// Forward, Bradley–Terry loss of the scores (one label) over `rankings`, and backward of
    /// `scale · loss` into `grads`. Returns (loss, pairs ordered correctly, pairs).
    pub fn bt_forward_backward(
        &mut self,
        p: &Params,
        grads: &mut [f32],
        inputs: &[u32],
        lengths: &[usize],
        rankings: &[Ranking],
        scale: f32,
    ) -> Result<(f32, usize, usize)> {
        self.forward(p, inputs, lengths)?;
        let out = bradley_terry_forward(&self.logits, rankings);
        bradley_terry_backward(&mut self.dlogits, &self.logits, rankings, scale);
        self.backward(p, grads);
        Ok(out)
    }

    /// Accumulates into `grads` the gradient that flows back from `self.dlogits`.
    fn backward(&mut self, p: &Params, grads: &mut [f32]) {
        let (t, c, nl) = (
            self.model.seq,
            self.model.config.dim,
            self.model.config.labels.len(),
        );
        self.dhidden.fill(0.0);
        cls_head_backward(
            &mut self.dhidden,
            grad_mut(grads, p, Slot::ClsHead),
            &self.dlogits,
            self.model.hidden(),
            p.t(Slot::ClsHead),
            &self.lengths,
            t,
            c,
            nl,
            self.model.config.pooling,
        );
        self.model.backward_trunk(p, grads, &self.dhidden);
    }
}

/// log π(tok_i | position rows_i) and the entropy there, from the LM head on the trunk, with the
/// logits divided by a sampling temperature τ (1 by default) as in the rollouts, so the ratios,
/// the KL and the entropy are those of the distribution the answers were drawn from.
pub struct TokenLogprobs {
    pub tm: TrainModel,
    /// 1/τ.
    pub inv_temp: f32,
    rows: Vec<usize>,
    toks: Vec<u32>,
    h: Vec<f32>,     // (M, C) the trunk's output at the rows
    probs: Vec<f32>, // (M, V)
    /// (M) of the last forward
    pub logp: Vec<f32>,
    pub entropy: Vec<f32>,
}

impl TokenLogprobs {
    pub fn new(cfg: &ModelConfig, batch: usize, seq: usize) -> Result<Self> {
        Ok(TokenLogprobs {
            tm: TrainModel::new(cfg, batch, seq)?,
            inv_temp: 1.0,
            rows: vec![],
            toks: vec![],
            h: vec![],
            probs: vec![],
            logp: vec![],
            entropy: vec![],
        })
    }

    /// inputs (B, T); rows: flat positions b·T + t; toks: the token scored at each row.
    pub fn forward(
        &mut self,
        p: &Params,
        inputs: &[u32],
        rows: &[usize],
        toks: &[u32],
    ) -> Result<()> {
        let (c, v) = (self.tm.config.dim, self.tm.config.vocab_size);
        let m = rows.len();
        let hidden = self.tm.forward_trunk(p, inputs)?;
        self.h.resize(m * c, 0.0);
        for (i, &r) in rows.iter().enumerate() {
            self.h[i * c..(i + 1) * c].copy_from_slice(&hidden[r * c..(r + 1) * c]);
        }
        self.probs.resize(m * v, 0.0);
        matmul_forward(&mut self.probs, &self.h, p.lm_head(), None, m, c, v);
        self.logp.resize(m, 0.0);
        self.entropy.resize(m, 0.0);
        logprob_forward(
            &mut self.logp,
            &mut self.entropy,
            &mut self.probs,
            toks,
            self.inv_temp,
            v,
        );
        self.rows = rows.to_vec();
        self.toks = toks.to_vec();
        Ok(())
    }

    /// Accumulates into `grads` the gradient of a loss whose derivative with respect to each
    /// row's log-probability is `dlogp`. Consumes the probabilities of the last forward.
    pub fn backward(&mut self, p: &Params, grads: &mut [f32], dlogp: &[f32]) {
        let (b, t) = (self.tm.batch, self.tm.seq);
        let (c, v) = (self.tm.config.dim, self.tm.config.vocab_size);
        let m = self.rows.len();
        logprob_backward(&mut self.probs, dlogp, &self.toks, self.inv_temp, v);
        let head = if p.layout.has(Slot::LmHead) {
            Slot::LmHead
        } else {
            Slot::TokEmb
        };
        let mut dh = vec![0.0f32; m * c];
        matmul_backward(
            &mut dh,
            grad_mut(grads, p, head),
            None,
            &self.probs,
            &self.h,
            p.lm_head(),
            m,
            c,
            v,
        );
        let mut dhidden = vec![0.0f32; b * t * c];
        for (i, &r) in self.rows.iter().enumerate() {
            for k in 0..c {
                dhidden[r * c + k] += dh[i * c + k];
            }
        }
        self.tm.backward_trunk(p, grads, &dhidden);
    }
}

/// Per-token values V = w · h at the rows, from a one-label head (`Slot::ClsHead`) on the trunk.
pub struct TokenValues {
    pub tm: TrainModel,
    rows: Vec<usize>,
    /// (M) of the last forward
    pub v: Vec<f32>,
}

impl TokenValues {
    pub fn new(cfg: &ModelConfig, batch: usize, seq: usize) -> Result<Self> {
        if cfg.labels.len() != 1 {
            return Err(Error::InvalidArgument(
                "a value model has one output".into(),
            ));
        }
        Ok(TokenValues {
            tm: TrainModel::new(cfg, batch, seq)?,
            rows: vec![],
            v: vec![],
        })
    }

    /// inputs (B, T); rows: flat positions b·T + t.
    pub fn forward(&mut self, p: &Params, inputs: &[u32], rows: &[usize]) -> Result<&[f32]> {
        let c = self.tm.config.dim;
        let h = self.tm.forward_trunk(p, inputs)?;
        self.v.resize(rows.len(), 0.0);
        value_head_forward(&mut self.v, h, p.t(Slot::ClsHead), rows, c);
        self.rows = rows.to_vec();
        Ok(&self.v)
    }

    /// Accumulates into `grads` the gradient of a loss whose derivative with respect to each
    /// row's value is `dv`.
    pub fn backward(&mut self, p: &Params, grads: &mut [f32], dv: &[f32]) {
        let (b, t, c) = (self.tm.batch, self.tm.seq, self.tm.config.dim);
        let mut dhidden = vec![0.0f32; b * t * c];
        value_head_backward(
            &mut dhidden,
            grad_mut(grads, p, Slot::ClsHead),
            dv,
            self.tm.hidden(),
            p.t(Slot::ClsHead),
            &self.rows,
            c,
        );
        self.tm.backward_trunk(p, grads, &dhidden);
    }
}

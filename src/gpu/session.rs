//! One conversation on the GPU: [`GpuSession`] holds the activations and the KV cache (allocated
//! once) and runs forward passes, each step (a prefill chunk, or one decode token) encoded into
//! one submission. The GPU twin of [`Model::forward`] and [`Model::classify`].
//!
//! A layer is at most seven dispatches, and five in decode (llama and gpt2 alike):
//!
//! ```text
//! decode (T < 8, matvec.wgsl)                  prefill (tiled matmul.wgsl)
//! 1 norm + QKV + bias + RoPE + KV-cache write   1 norm          2 QKV + bias + RoPE + cache write
//! 2 attention (+ 1 merge past 64 positions)    3 attention (tiled over queries)
//! 3 Wo + bias + residual add                   4 Wo + bias + residual add
//! 4 norm + gate/up + SwiGLU (gpt2: c_fc+GELU)  5 norm          6 gate/up + SwiGLU (c_fc + GELU)
//! 5 W_down + bias + residual add               7 W_down + bias + residual add
//! ```
//!
//! plus the embedding at the start and, at the end, the final norm folded into the LM head's
//! matvec (last position) and the sampler when the token is picked on the GPU. A model whose Q,
//! K, V (or gate, up) are stored in different formats takes one dispatch per matrix instead.

use super::buffers;
use super::kernels::{self, Arena, Epilogue, KvCacheRef, Linear, MatmulKernel, Norm, Recorder};
use super::model::{GpuModel, Mlp, NormAt};
use super::GpuContext;
use crate::error::{Error, Result};
use crate::model::Logits;
#[allow(unused_imports)]
use crate::model::Model; // doc links
use std::sync::Arc;

/// What a step does after the layers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Head {
    /// Nothing (a prefill chunk before the last, a debug hook).
    None,
    /// The logits of the last position, or of every position.
    Logits(Logits),
    /// The last position's token, picked by the GPU sampler into `ring[slot]`.
    Sample { slot: usize },
    /// A classifier's label logits from the pooled final hidden states.
    Classify,
}

/// One conversation on the GPU: activations for up to `chunk` tokens per step and a KV cache of
/// `capacity` positions, allocated once.
pub struct GpuSession {
    pub model: Arc<GpuModel>,
    pub(crate) capacity: usize,
    pub(crate) chunk: usize,
    pub(crate) len: usize,
    pub(crate) tokens: wgpu::Buffer, // (chunk) u32; [0] is also where the sampler writes
    x: wgpu::Buffer,                 // residual stream (chunk, C)
    xn: wgpu::Buffer,                // normed input of a sublayer, prefill (chunk, C)
    q: wgpu::Buffer,                 // (chunk, NH·HS)
    att: wgpu::Buffer,               // attention output (chunk, NH·HS)
    act: wgpu::Buffer,               // MLP activation (chunk, FF)
    gate: wgpu::Buffer,              // gate (chunk, FF) when gate and up are apart
    part: wgpu::Buffer,              // split-K attention partials (NH, MAX_SPLITS, HS + 2)
    pooled: wgpu::Buffer,            // a classifier's pooled hidden state (C)
    kv: Vec<wgpu::Buffer>,           // L × [K (capacity, NKV·HS), V (capacity, NKV·HS)]
    pub(crate) logits: wgpu::Buffer, // (logit_rows, V), or a classifier's (num_labels)
    logit_rows: usize,
    staging: wgpu::Buffer, // logit_rows · V · 4 bytes, mappable
    /// The sampler's RNG state and seen-token bits (`kernels::sampler_state`).
    pub(crate) sampler: wgpu::Buffer,
    /// Tokens picked by the sampler, by slot, read back in batches.
    pub(crate) ring: wgpu::Buffer,
    pub(crate) arena: Arena,
    /// Dispatches of the last step encoded (one decode token: the figure `bench infer` prints).
    pub(crate) last_dispatches: usize,
}

/// Slots of the ring of sampled tokens: the most decode steps one submission encodes.
pub const RING: usize = 64;

impl GpuSession {
    /// A session whose KV cache holds `capacity` positions (default and maximum: the model's
    /// max_seq_len) and whose steps take up to `chunk` tokens (default min(capacity, 256), and
    /// for a classifier, which reads its whole input in one step, the capacity); longer prompts
    /// are prefilled in several steps.
    pub fn new(
        model: Arc<GpuModel>,
        capacity: Option<usize>,
        chunk: Option<usize>,
    ) -> Result<Self> {
        let cfg = &model.config;
        let capacity = capacity
            .unwrap_or(cfg.max_seq_len)
            .clamp(1, cfg.max_seq_len);
        let chunk = chunk
            .unwrap_or(if cfg.is_classifier() { capacity } else { 256 })
            .clamp(1, capacity);
        let g = &*model.gpu;
        let (c, ff, qd, kvd) = (cfg.dim, cfg.hidden_dim, cfg.q_dim(), cfg.kv_dim());
        let z = |label: &str, n: usize| buffers::zeros(g, label, n);
        let kv = (0..cfg.n_layers)
            .map(|l| z(&format!("kv.{l}"), 2 * capacity * kvd))
            .collect::<Result<Vec<_>>>()?;
        // What the head writes: V logits, or a classifier's label logits.
        let v = match cfg.is_classifier() {
            true => cfg.labels.len(),
            false => cfg.vocab_size,
        };
        let split_gate = model
            .layers
            .iter()
            .any(|l| matches!(l.mlp, Mlp::Split { .. }));
        let parts = cfg.n_heads * kernels::MAX_SPLITS * (cfg.head_dim + 2);
        Ok(GpuSession {
            tokens: z("tokens", chunk)?,
            x: z("x", chunk * c)?,
            xn: z("xn", chunk * c)?,
            q: z("q", chunk * qd)?,
            att: z("att", chunk * qd)?,
            act: z("act", chunk * ff)?,
            gate: z("gate", if split_gate { chunk * ff } else { 1 })?,
            part: z("attention.part", parts)?,
            pooled: z("pooled", c)?,
            kv,
            logits: z("logits", v)?,
            logit_rows: 1,
            staging: buffers::staging(g, "logits.staging", (v * 4) as u64),
            sampler: z("sampler", 8 + v.div_ceil(32))?,
            ring: z("ring", RING)?,
            arena: Arena::new(),
            last_dispatches: 0,
            capacity,
            chunk,
            len: 0,
            model,
        })
    }

    /// Positions in the KV cache.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Forgets everything after the first `len` positions (their cache rows are overwritten by
    /// the next step).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    pub fn reset(&mut self) {
        self.len = 0;
    }
    pub fn gpu(&self) -> &GpuContext {
        &self.model.gpu
    }
    /// Bytes of this session's KV cache on the device (its layers × K and V × capacity).
    pub fn kv_bytes(&self) -> u64 {
        self.kv.iter().map(|b| b.size()).sum()
    }
    /// Dispatches of the last step encoded: after a decode step, the dispatches per token.
    pub fn last_dispatches(&self) -> usize {
        self.last_dispatches
    }

    pub(crate) fn check(&self, tokens: &[u32]) -> Result<()> {
        let cfg = &self.model.config;
        if tokens.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        self.check_room(tokens.len())?;
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= cfg.vocab_size) {
            return Err(Error::TokenOutOfRange {
                id,
                vocab: cfg.vocab_size,
            });
        }
        self.gpu().check()
    }

    /// Whether `n` more positions fit the context and the cache.
    pub(crate) fn check_room(&self, n: usize) -> Result<()> {
        let cfg = &self.model.config;
        let total = self.len + n;
        if total > cfg.max_seq_len {
            return Err(Error::PromptTooLong {
                tokens: total,
                context: cfg.max_seq_len,
            });
        }
        if total > self.capacity {
            return Err(Error::InvalidArgument(format!(
                "{total} positions do not fit in this GPU session's KV cache ({} positions); \
                 create the session with a larger capacity",
                self.capacity
            )));
        }
        Ok(())
    }

    /// Runs `tokens` after what the cache holds and returns the logits, (1, V) or (T, V):
    /// the GPU twin of [`Model::forward`]. One submission per `chunk` tokens.
    pub async fn forward_async(&mut self, tokens: &[u32], which: Logits) -> Result<Vec<f32>> {
        self.check_language_model()?;
        self.check(tokens)?;
        let mut out = Vec::new();
        let n_chunks = tokens.len().div_ceil(self.chunk);
        for (i, part) in tokens.chunks(self.chunk).enumerate() {
            let head = match (which, i + 1 == n_chunks) {
                (Logits::All, _) => Head::Logits(Logits::All),
                (Logits::Last, true) => Head::Logits(Logits::Last),
                (Logits::Last, false) => Head::None,
            };
            if let Some(n) = self.step(part, head)? {
                let b = buffers::read_mapped(self.gpu(), &self.staging, n).await?;
                out.extend(buffers::f32_from_bytes(&b));
            }
        }
        Ok(out)
    }

    /// Like [`Self::forward_async`] with `Logits::Last`, but reads back only the argmax of the
    /// logits (the GPU sampler, greedy: 4 bytes instead of V floats).
    pub async fn forward_argmax_async(&mut self, tokens: &[u32]) -> Result<u32> {
        self.check_language_model()?;
        self.check(tokens)?;
        let greedy = kernels::sample_settings(&Default::default(), 1).expect("greedy");
        let pending = self.submit_sampled(tokens, greedy)?;
        Ok(pending.wait(self).await?[0])
    }

    /// Classification logits (num_labels) of `tokens`, pooled as the classifier's config says:
    /// the GPU twin of [`Model::classify`]. The whole input (`tokens`, or `tokens sep tokens` for
    /// echo_max) runs in one step from an empty cache, so a bidirectional trunk sees all of it;
    /// it must fit the session's chunk (a classifier's default: its context). Only the label
    /// logits are read back. The session is empty afterwards.
    pub async fn classify_async(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let cfg = &self.model.config;
        if !cfg.is_classifier() {
            return Err(Error::InvalidArgument(
                "this model has no classification head (config.json has no id2label)".into(),
            ));
        }
        let input = cfg.pooling.input(tokens, cfg.pad_token_id.unwrap_or(0));
        self.reset();
        self.check(&input)?;
        if input.len() > self.chunk {
            return Err(Error::InvalidArgument(format!(
                "a classifier reads its input in one step: {} positions do not fit this GPU \
                 session's steps of {}; create the session with a larger chunk",
                input.len(),
                self.chunk
            )));
        }
        let bytes = self.step(&input, Head::Classify);
        self.reset();
        let n = bytes?.expect("a classify step reads back its logits");
        let b = buffers::read_mapped(self.gpu(), &self.staging, n).await?;
        Ok(buffers::f32_from_bytes(&b))
    }

    /// Blocking [`Self::classify_async`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn classify(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        pollster::block_on(self.classify_async(tokens))
    }

    /// Language-model forward passes need the LM head; a classifier has its own.
    pub(crate) fn check_language_model(&self) -> Result<()> {
        match self.model.config.is_classifier() {
            true => Err(Error::InvalidArgument(
                "this model is a classifier: run it with classify, not forward".into(),
            )),
            false => Ok(()),
        }
    }

    /// Blocking [`Self::forward_async`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward(&mut self, tokens: &[u32], which: Logits) -> Result<Vec<f32>> {
        pollster::block_on(self.forward_async(tokens, which))
    }

    /// Blocking [`Self::forward_argmax_async`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward_argmax(&mut self, tokens: &[u32]) -> Result<u32> {
        pollster::block_on(self.forward_argmax_async(tokens))
    }

    /// The residual stream after the first `layers` blocks of `tokens`, run from an empty cache,
    /// at the positions `rows` only ((rows.len(), C)): the GPU twin of [`Model::trunk_states`]
    /// restricted to the rows a moderation head pools. Steps of at most `chunk` tokens (a
    /// bidirectional trunk needs the whole window in one); only those rows are read back. The
    /// session is empty afterwards.
    pub async fn trunk_rows_async(
        &mut self,
        tokens: &[u32],
        layers: usize,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let cfg = &self.model.config;
        if layers == 0 || layers > cfg.n_layers {
            return Err(Error::InvalidArgument(format!(
                "a trunk of {layers} blocks: this model has {}",
                cfg.n_layers
            )));
        }
        if rows.end > tokens.len() {
            return Err(Error::InvalidArgument(format!(
                "positions {rows:?} of a window of {} tokens",
                tokens.len()
            )));
        }
        if !cfg.causal && tokens.len() > self.chunk {
            return Err(Error::InvalidArgument(format!(
                "a bidirectional trunk reads its window in one step: {} positions do not fit \
                 this GPU session's steps of {}",
                tokens.len(),
                self.chunk
            )));
        }
        self.reset();
        let out = self.trunk_rows_inner(tokens, layers, rows).await;
        self.reset();
        out
    }

    async fn trunk_rows_inner(
        &mut self,
        tokens: &[u32],
        layers: usize,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        self.check(tokens)?;
        let c = self.model.config.dim;
        let g = self.model.gpu.clone();
        let mut out = Vec::with_capacity(rows.len() * c);
        for (i, part) in tokens.chunks(self.chunk).enumerate() {
            let start = i * self.chunk;
            let t = part.len();
            g.queue
                .write_buffer(&self.tokens, 0, bytemuck::cast_slice(part));
            let mut arena = std::mem::take(&mut self.arena);
            let mut rec = Recorder::new(&g, &mut arena);
            self.record_step(&mut rec, t, start, layers, Head::None);
            rec.submit(&[]);
            self.arena = arena;
            self.len += t;
            let (lo, hi) = (rows.start.max(start), rows.end.min(start + t));
            if lo < hi {
                // Queued after the step: reads its x.
                let x = buffers::read_f32(&g, &self.x, (lo - start) * c, (hi - lo) * c).await?;
                out.extend(x);
            }
            if start + t >= rows.end {
                break; // later positions cannot change these rows (causal, or one step)
            }
        }
        Ok(out)
    }

    /// Debug hook: the residual stream (T, C) after layer `layer` (or after the embedding when
    /// `layer` is None) for `tokens` run from an empty cache, to find which layer a parity
    /// failure starts in. Resets the session.
    pub async fn debug_hidden_async(
        &mut self,
        tokens: &[u32],
        layer: Option<usize>,
    ) -> Result<Vec<f32>> {
        self.reset();
        self.check(tokens)?;
        if tokens.len() > self.chunk {
            return Err(Error::InvalidArgument(
                "debug_hidden takes at most one chunk".into(),
            ));
        }
        let stop = layer.map_or(0, |l| l + 1);
        self.model
            .gpu
            .queue
            .write_buffer(&self.tokens, 0, bytemuck::cast_slice(tokens));
        let mut arena = std::mem::take(&mut self.arena);
        let mut rec = Recorder::new(self.gpu(), &mut arena);
        self.record_step(&mut rec, tokens.len(), 0, stop, Head::None);
        rec.submit(&[]);
        self.arena = arena;
        let c = self.model.config.dim;
        let out = buffers::read_f32(self.gpu(), &self.x, 0, tokens.len() * c).await;
        self.reset();
        out
    }

    /// Encodes and submits one step of at most `chunk` tokens; returns how many bytes of the
    /// staging buffer to read, if anything is read back.
    fn step(&mut self, tokens: &[u32], head: Head) -> Result<Option<u64>> {
        let v = self.model.config.vocab_size;
        if head == Head::Logits(Logits::All) && tokens.len() > self.logit_rows {
            // Grown once, the first time all positions' logits are asked for.
            let g = &*self.model.gpu;
            self.logits = buffers::zeros(g, "logits", self.chunk * v)?;
            self.staging = buffers::staging(g, "logits.staging", (self.chunk * v * 4) as u64);
            self.logit_rows = self.chunk;
        }
        let g = self.model.gpu.clone();
        g.queue
            .write_buffer(&self.tokens, 0, bytemuck::cast_slice(tokens));
        let (t, pos0, layers) = (tokens.len(), self.len, self.model.config.n_layers);
        let mut arena = std::mem::take(&mut self.arena);
        let mut rec = Recorder::new(&g, &mut arena);
        self.record_step(&mut rec, t, pos0, layers, head);
        let bytes = self.readback_bytes(t, head);
        match bytes {
            Some(n) => rec.submit(&[(&self.logits, 0, &self.staging, 0, n)]),
            None => rec.submit(&[]),
        };
        self.arena = arena;
        self.len += t;
        Ok(bytes)
    }

    fn readback_bytes(&self, t: usize, head: Head) -> Option<u64> {
        let cfg = &self.model.config;
        match head {
            Head::None | Head::Sample { .. } => None,
            Head::Logits(Logits::Last) => Some((cfg.vocab_size * 4) as u64),
            Head::Logits(Logits::All) => Some((t * cfg.vocab_size * 4) as u64),
            Head::Classify => Some((cfg.labels.len() * 4) as u64),
        }
    }

    /// Records the forward pass of the `t` tokens in `self.tokens` at positions pos0.. through
    /// layers 0..n_layers, then `head`.
    pub(crate) fn record_step(
        &self,
        r: &mut Recorder,
        t: usize,
        pos0: usize,
        n_layers: usize,
        head: Head,
    ) {
        let m = &*self.model;
        kernels::embedding(
            r,
            &self.x,
            &self.tokens,
            &m.tok_emb,
            m.pos_emb.as_ref(),
            t,
            pos0,
        );
        for l in 0..n_layers {
            self.record_layer(r, l, t, pos0);
        }
        self.record_head(r, t, head);
    }

    /// The family's norm at `at`.
    fn norm(&self, at: &NormAt) -> Norm {
        let eps = self.model.config.norm_eps;
        match at.b {
            Some(b) => Norm::Layer { w: at.w, b, eps },
            None => Norm::Rms { w: at.w, eps },
        }
    }

    /// The input of a sublayer whose norm is `at`: in decode, x itself with the norm for the
    /// matvec to fold in; in prefill, xn, which a norm dispatch fills first.
    fn sublayer_input(&self, r: &mut Recorder, at: &NormAt, t: usize) -> (&wgpu::Buffer, Norm) {
        let norm = self.norm(at);
        if t < 8 {
            return (&self.x, norm);
        }
        let m = &*self.model;
        kernels::norm(r, &self.xn, &self.x, &m.vecs, norm, t, m.config.dim);
        (&self.xn, Norm::None)
    }

    fn record_layer(&self, r: &mut Recorder, l: usize, t: usize, pos0: usize) {
        let m = &*self.model;
        let cfg = &m.config;
        let ly = &m.layers[l];
        let (nh, nkv, hs, kvd) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.kv_dim());
        let kv = KvCacheRef {
            buf: &self.kv[l],
            v_off: self.capacity * kvd,
        };
        let auto = MatmulKernel::Auto;
        let base = |w, x, out| Linear {
            vecs: Some(&m.vecs),
            ..Linear::new(w, x, out, t)
        };

        // x + attention(norm(x)): Q, K, V in one pass that also rotates and caches them.
        let (x_in, norm) = self.sublayer_input(r, &ly.attn_norm, t);
        let qkv = kernels::QkvOut {
            kv: kv.buf,
            v_off: kv.v_off,
            hs,
            q_dim: cfg.q_dim(),
            kv_dim: kvd,
            pos0,
            rope: m.rope.as_ref().map(|(b, sin)| (b, *sin)),
        };
        for (w, c_base) in &ly.qkv {
            let lin = Linear {
                bias: ly.b_qkv,
                norm,
                epi: Epilogue::Qkv(qkv),
                c_base: *c_base,
                ..base(w, x_in, &self.q)
            };
            kernels::linear(r, auto, &lin);
        }
        kernels::attention(
            r,
            &self.att,
            &self.q,
            kv,
            Some(&self.part),
            t,
            nh,
            nkv,
            hs,
            pos0,
            cfg.causal,
        );
        let wo = Linear {
            bias: ly.b_o,
            epi: Epilogue::Add,
            ..base(&ly.wo, &self.att, &self.x)
        };
        kernels::linear(r, auto, &wo);

        // x + mlp(norm(x))
        let (x_in, norm) = self.sublayer_input(r, &ly.mlp_norm, t);
        let into_act = |w, epi, bias| Linear {
            bias,
            norm,
            epi,
            ..base(w, x_in, &self.act)
        };
        match &ly.mlp {
            Mlp::GateUp(w) => kernels::linear(r, auto, &into_act(w, Epilogue::Swiglu, ly.b_mlp)),
            Mlp::Gelu(w) => kernels::linear(r, auto, &into_act(w, Epilogue::Gelu, ly.b_mlp)),
            Mlp::Split { gate, up } => {
                let g = Linear {
                    bias: ly.b_mlp,
                    norm,
                    ..base(gate, x_in, &self.gate)
                };
                kernels::linear(r, auto, &g);
                let epi = Epilogue::SiluMul {
                    gate: &self.gate,
                    gate_off: 0,
                };
                let b_up = ly.b_mlp.map(|b| b + cfg.hidden_dim);
                kernels::linear(r, auto, &into_act(up, epi, b_up));
            }
        }
        let down = Linear {
            bias: ly.b_down,
            epi: Epilogue::Add,
            ..base(&ly.w_down, &self.act, &self.x)
        };
        kernels::linear(r, auto, &down);
    }

    fn record_head(&self, r: &mut Recorder, t: usize, head: Head) {
        let m = &*self.model;
        let cfg = &m.config;
        let c = cfg.dim;
        let norm = self.norm(&m.final_norm);
        // The last position's logits: the final norm folded into the head's matvec.
        let last = Linear {
            x_off: (t - 1) * c,
            vecs: Some(&m.vecs),
            norm,
            ..Linear::new(m.lm_head(), &self.x, &self.logits, 1)
        };
        match head {
            Head::None => {}
            Head::Logits(Logits::Last) => kernels::linear(r, MatmulKernel::Vector, &last),
            Head::Logits(Logits::All) => {
                kernels::norm(r, &self.xn, &self.x, &m.vecs, norm, t, c);
                let all = Linear::new(m.lm_head(), &self.xn, &self.logits, t);
                kernels::linear(r, MatmulKernel::Auto, &all);
            }
            // decode.rs records the sampler after it.
            Head::Sample { .. } => kernels::linear(r, MatmulKernel::Vector, &last),
            Head::Classify => {
                let head = m.cls_head.as_ref().expect("classify_async checks the head");
                kernels::norm(r, &self.xn, &self.x, &m.vecs, norm, t, c);
                kernels::pool(r, &self.pooled, &self.xn, t, c, cfg.pooling);
                let lin = Linear::new(head, &self.pooled, &self.logits, 1);
                kernels::linear(r, MatmulKernel::Vector, &lin);
            }
        }
    }
}

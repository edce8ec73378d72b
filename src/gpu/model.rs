//! The transformer on the GPU: [`GpuModel`] holds the weights (uploaded once), [`GpuSession`]
//! the activations and KV cache of one conversation (allocated once) and runs forward passes.
//!
//! A step (prefill of up to `chunk` tokens, or one decode token) is one submission: the same
//! sequence of ops as the CPU engine (`model/mod.rs`), recorded by [`kernels`] and followed by a
//! copy of the logits to a staging buffer, which is the only thing read back. A classifier (the
//! moderator) reads its whole input in one step and reads back only its label logits:
//! [`GpuSession::classify_async`], the twin of [`Model::classify`].

use super::buffers::{self, Weight, WeightFormat};
use super::kernels::{self, Arena, Recorder};
use super::GpuContext;
use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::model::{Logits, Model};
use crate::params::{LayerSlot as LS, Params, Slot};
use crate::quant::QType;
use std::sync::Arc;

/// One transformer block's tensors on the GPU. Matrices are [`Weight`]s, vectors f32 buffers.
struct GpuLayer {
    attn_norm_w: wgpu::Buffer,         // (C)
    attn_norm_b: Option<wgpu::Buffer>, // (C) gpt2
    wq: Weight,                        // (NH*HS, C)
    bq: Option<wgpu::Buffer>,          // (NH*HS)
    wk: Weight,                        // (NKV*HS, C)
    bk: Option<wgpu::Buffer>,          // (NKV*HS)
    wv: Weight,                        // (NKV*HS, C)
    bv: Option<wgpu::Buffer>,          // (NKV*HS)
    wo: Weight,                        // (C, NH*HS)
    bo: Option<wgpu::Buffer>,          // (C)
    mlp_norm_w: wgpu::Buffer,          // (C)
    mlp_norm_b: Option<wgpu::Buffer>,  // (C) gpt2
    w_gate: Option<Weight>,            // (FF, C) llama
    b_gate: Option<wgpu::Buffer>,      // (FF)
    w_up: Weight,                      // (FF, C)
    b_up: Option<wgpu::Buffer>,        // (FF)
    w_down: Weight,                    // (C, FF)
    b_down: Option<wgpu::Buffer>,      // (C)
}

/// A model's weights on the GPU.
pub struct GpuModel {
    pub gpu: Arc<GpuContext>,
    pub config: ModelConfig,
    pub format: WeightFormat,
    tok_emb: Weight,               // (V, C)
    pos_emb: Option<wgpu::Buffer>, // (maxT, C) gpt2, f32
    lm_head: Option<Weight>,       // (V, C); None when tied to tok_emb
    cls_head: Option<Weight>,      // (num_labels, C) classifiers
    layers: Vec<GpuLayer>,
    final_norm_w: wgpu::Buffer,         // (C)
    final_norm_b: Option<wgpu::Buffer>, // (C) gpt2
    rope_cos: wgpu::Buffer,             // (maxT, HS/2) llama; a placeholder for gpt2
    rope_sin: wgpu::Buffer,             // (maxT, HS/2)
}

impl GpuModel {
    /// The storage format that suits a model loaded from a file: f16 for f16 files, f32 for f32
    /// and bf16 ones (bf16's range does not fit in f16).
    pub fn default_format(model: &Model) -> WeightFormat {
        match model.storage() {
            QType::F16 => WeightFormat::F16,
            QType::F32 | QType::BF16 => WeightFormat::F32,
            // Packed blocks are dequantized at upload; f16 holds their values closely.
            _ => WeightFormat::F16,
        }
    }

    /// Uploads `model`'s weights, matrices in `format`, vectors in f32.
    pub fn new(gpu: Arc<GpuContext>, model: &Model, format: WeightFormat) -> Result<Self> {
        let cfg = model.config.clone();
        if cfg.head_dim > 256 {
            return Err(Error::Gpu(format!(
                "head_dim {} is larger than attention.wgsl supports (256)",
                cfg.head_dim
            )));
        }
        let p = &model.weights;
        let g = &*gpu;
        let spec_name = |slot: Slot| {
            p.layout
                .spec(slot)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| format!("{slot:?}"))
        };
        let mat = |slot: Slot| -> Result<Weight> {
            let s = p
                .layout
                .spec(slot)
                .ok_or_else(|| Error::Gpu(format!("the model has no tensor {slot:?}")))?;
            let data = p.t(slot).to_f32();
            Weight::upload(g, &s.name, &data, s.shape[0], s.shape[1], format)
        };
        let vec = |slot: Slot| buffers::upload_f32(g, &spec_name(slot), p.t(slot).as_f32());
        let opt_vec = |slot: Slot| -> Result<Option<wgpu::Buffer>> {
            match p.vec_opt(slot) {
                Some(d) => Ok(Some(buffers::upload_f32(g, &spec_name(slot), d)?)),
                None => Ok(None),
            }
        };
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for l in 0..cfg.n_layers {
            let s = |x: LS| Slot::Layer(l, x);
            layers.push(GpuLayer {
                attn_norm_w: vec(s(LS::AttnNormW))?,
                attn_norm_b: opt_vec(s(LS::AttnNormB))?,
                wq: mat(s(LS::Wq))?,
                bq: opt_vec(s(LS::Bq))?,
                wk: mat(s(LS::Wk))?,
                bk: opt_vec(s(LS::Bk))?,
                wv: mat(s(LS::Wv))?,
                bv: opt_vec(s(LS::Bv))?,
                wo: mat(s(LS::Wo))?,
                bo: opt_vec(s(LS::Bo))?,
                mlp_norm_w: vec(s(LS::MlpNormW))?,
                mlp_norm_b: opt_vec(s(LS::MlpNormB))?,
                w_gate: match p.layout.has(s(LS::WGate)) {
                    true => Some(mat(s(LS::WGate))?),
                    false => None,
                },
                b_gate: opt_vec(s(LS::BGate))?,
                w_up: mat(s(LS::WUp))?,
                b_up: opt_vec(s(LS::BUp))?,
                w_down: mat(s(LS::WDown))?,
                b_down: opt_vec(s(LS::BDown))?,
            });
        }
        let (rope_cos, rope_sin) = match model.rope_table() {
            Some(t) => (
                buffers::upload_f32(g, "rope.cos", &t.cos)?,
                buffers::upload_f32(g, "rope.sin", &t.sin)?,
            ),
            None => (gpu.placeholder.clone(), gpu.placeholder.clone()),
        };
        let gm = GpuModel {
            tok_emb: mat(Slot::TokEmb)?,
            pos_emb: opt_vec(Slot::PosEmb)?,
            lm_head: match p.layout.has(Slot::LmHead) {
                true => Some(mat(Slot::LmHead)?),
                false => None,
            },
            cls_head: match cfg.is_classifier() {
                true => Some(mat(Slot::ClsHead)?),
                false => None,
            },
            final_norm_w: vec(Slot::FinalNormW)?,
            final_norm_b: opt_vec(Slot::FinalNormB)?,
            layers,
            rope_cos,
            rope_sin,
            gpu: gpu.clone(),
            config: cfg,
            format,
        };
        gpu.check()?;
        Ok(gm)
    }

    fn lm_head(&self) -> &Weight {
        self.lm_head.as_ref().unwrap_or(&self.tok_emb)
    }

    /// Bytes of weight matrices one decode step reads: every layer's projections and the output
    /// head (the embedding lookup reads one row, which is negligible).
    pub fn weight_bytes_per_token(&self) -> u64 {
        let layers: u64 = self
            .layers
            .iter()
            .map(|l| {
                l.wq.bytes()
                    + l.wk.bytes()
                    + l.wv.bytes()
                    + l.wo.bytes()
                    + l.w_gate.as_ref().map_or(0, Weight::bytes)
                    + l.w_up.bytes()
                    + l.w_down.bytes()
            })
            .sum();
        layers + self.lm_head().bytes()
    }
}

/// What a step reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Readback {
    Logits(Logits),
    /// Only the argmax of the last position's logits (4 bytes).
    Argmax,
    /// A classifier's label logits from the pooled final hidden states.
    Classify,
}

/// One conversation on the GPU: activations for up to `chunk` tokens per step and a KV cache of
/// `capacity` positions, allocated once.
pub struct GpuSession {
    pub model: Arc<GpuModel>,
    capacity: usize,
    chunk: usize,
    len: usize,
    tokens: wgpu::Buffer,       // (chunk) u32
    x: wgpu::Buffer,            // residual stream (chunk, C)
    xn: wgpu::Buffer,           // normed input of a sublayer (chunk, C)
    q: wgpu::Buffer,            // (chunk, NH*HS)
    att: wgpu::Buffer,          // attention output (chunk, NH*HS)
    proj: wgpu::Buffer,         // (chunk, C)
    h1: wgpu::Buffer,           // gate, or c_fc output (chunk, FF)
    h2: wgpu::Buffer,           // up (chunk, FF) llama
    act: wgpu::Buffer,          // MLP activation (chunk, FF)
    pooled: wgpu::Buffer,       // a classifier's pooled hidden state (C)
    k_cache: Vec<wgpu::Buffer>, // L × (capacity, NKV*HS)
    v_cache: Vec<wgpu::Buffer>, // L × (capacity, NKV*HS)
    logits: wgpu::Buffer,       // (logit_rows, V), or a classifier's (num_labels)
    logit_rows: usize,
    staging: wgpu::Buffer,   // logit_rows * V * 4 bytes, mappable
    token_out: wgpu::Buffer, // (1) u32, argmax
    arena: Arena,
}

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
        let mut k_cache = vec![];
        let mut v_cache = vec![];
        for l in 0..cfg.n_layers {
            k_cache.push(z(&format!("k_cache.{l}"), capacity * kvd)?);
            v_cache.push(z(&format!("v_cache.{l}"), capacity * kvd)?);
        }
        // What the head writes: V logits, or a classifier's label logits.
        let v = match cfg.is_classifier() {
            true => cfg.labels.len(),
            false => cfg.vocab_size,
        };
        Ok(GpuSession {
            tokens: z("tokens", chunk)?,
            x: z("x", chunk * c)?,
            xn: z("xn", chunk * c)?,
            q: z("q", chunk * qd)?,
            att: z("att", chunk * qd)?,
            proj: z("proj", chunk * c)?,
            h1: z("h1", chunk * ff)?,
            h2: z(
                "h2",
                if cfg.family == Family::Llama {
                    chunk * ff
                } else {
                    1
                },
            )?,
            act: z("act", chunk * ff)?,
            pooled: z("pooled", c)?,
            k_cache,
            v_cache,
            logits: z("logits", v)?,
            logit_rows: 1,
            staging: buffers::staging(g, "logits.staging", (v * 4) as u64),
            token_out: z("token", 1)?,
            arena: Arena::new(),
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

    fn check(&self, tokens: &[u32]) -> Result<()> {
        let cfg = &self.model.config;
        if tokens.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let total = self.len + tokens.len();
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
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= cfg.vocab_size) {
            return Err(Error::TokenOutOfRange {
                id,
                vocab: cfg.vocab_size,
            });
        }
        self.gpu().check()
    }

    /// Runs `tokens` after what the cache holds and returns the logits, (1, V) or (T, V):
    /// the GPU twin of [`Model::forward`]. One submission per `chunk` tokens.
    pub async fn forward_async(&mut self, tokens: &[u32], which: Logits) -> Result<Vec<f32>> {
        self.check_language_model()?;
        self.check(tokens)?;
        let mut out = Vec::new();
        let n_chunks = tokens.len().div_ceil(self.chunk);
        for (i, part) in tokens.chunks(self.chunk).enumerate() {
            let last = i + 1 == n_chunks;
            let readback = match (which, last) {
                (Logits::All, _) => Some(Readback::Logits(Logits::All)),
                (Logits::Last, true) => Some(Readback::Logits(Logits::Last)),
                (Logits::Last, false) => None,
            };
            let bytes = self.step(part, readback)?;
            if let Some(b) = bytes {
                let b = buffers::read_mapped(self.gpu(), &self.staging, b).await?;
                out.extend(buffers::f32_from_bytes(&b));
            }
        }
        Ok(out)
    }

    /// Like [`Self::forward_async`] with `Logits::Last`, but reads back only the argmax of the
    /// logits (greedy decoding without copying V floats).
    pub async fn forward_argmax_async(&mut self, tokens: &[u32]) -> Result<u32> {
        self.check_language_model()?;
        self.check(tokens)?;
        let n_chunks = tokens.len().div_ceil(self.chunk);
        let mut tok = 0;
        for (i, part) in tokens.chunks(self.chunk).enumerate() {
            let rb = (i + 1 == n_chunks).then_some(Readback::Argmax);
            if let Some(b) = self.step(part, rb)? {
                let b = buffers::read_mapped(self.gpu(), &self.staging, b).await?;
                tok = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        Ok(tok)
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
        let bytes = self.step(&input, Some(Readback::Classify));
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
    fn check_language_model(&self) -> Result<()> {
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
        self.encode(tokens, 0, stop, None);
        let out =
            buffers::read_f32(self.gpu(), &self.x, 0, tokens.len() * self.model.config.dim).await;
        self.reset();
        out
    }

    /// Encodes and submits one step of at most `chunk` tokens; returns how many bytes of the
    /// staging buffer to read, if anything is read back.
    fn step(&mut self, tokens: &[u32], readback: Option<Readback>) -> Result<Option<u64>> {
        let v = self.model.config.vocab_size;
        let rows = match readback {
            Some(Readback::Logits(Logits::All)) => tokens.len(),
            _ => 1,
        };
        if rows > self.logit_rows {
            // Grown once, the first time all positions' logits are asked for.
            let g = &*self.model.gpu;
            self.logits = buffers::zeros(g, "logits", self.chunk * v)?;
            self.staging = buffers::staging(g, "logits.staging", (self.chunk * v * 4) as u64);
            self.logit_rows = self.chunk;
        }
        let pos0 = self.len;
        let n_layers = self.model.config.n_layers;
        let bytes = self.encode(tokens, pos0, n_layers, readback);
        self.len += tokens.len();
        Ok(bytes)
    }

    /// Records the forward pass of `tokens` at positions pos0.. through layers 0..n_layers (and,
    /// when `readback` asks for it, the final norm, head and copy to staging), and submits it.
    fn encode(
        &mut self,
        tokens: &[u32],
        pos0: usize,
        n_layers: usize,
        readback: Option<Readback>,
    ) -> Option<u64> {
        let m = self.model.clone();
        let cfg = &m.config;
        let g = &*m.gpu;
        let t = tokens.len();
        let (c, ff, nh, nkv, hs) = (
            cfg.dim,
            cfg.hidden_dim,
            cfg.n_heads,
            cfg.n_kv_heads,
            cfg.head_dim,
        );
        let kvd = cfg.kv_dim();
        let eps = cfg.norm_eps;
        g.queue
            .write_buffer(&self.tokens, 0, bytemuck::cast_slice(tokens));

        let mut rec = Recorder::new(g, &mut self.arena);
        let r = &mut rec;
        kernels::embedding(
            r,
            &self.x,
            &self.tokens,
            &m.tok_emb,
            m.pos_emb.as_ref(),
            t,
            pos0,
        );
        let norm = |r: &mut Recorder,
                    out: &wgpu::Buffer,
                    x: &wgpu::Buffer,
                    w: &wgpu::Buffer,
                    b: Option<&wgpu::Buffer>| match b {
            Some(b) => kernels::layernorm(r, out, x, w, b, t, c, eps),
            None => kernels::rmsnorm(r, out, x, w, t, c, eps),
        };
        for (l, ly) in m.layers.iter().enumerate().take(n_layers) {
            let (kc, vc) = (&self.k_cache[l], &self.v_cache[l]);
            norm(
                r,
                &self.xn,
                &self.x,
                &ly.attn_norm_w,
                ly.attn_norm_b.as_ref(),
            );
            kernels::matmul(r, &self.q, 0, &self.xn, 0, &ly.wq, ly.bq.as_ref(), t);
            // Keys and values go straight into the cache rows of these positions.
            kernels::matmul(r, kc, pos0 * kvd, &self.xn, 0, &ly.wk, ly.bk.as_ref(), t);
            kernels::matmul(r, vc, pos0 * kvd, &self.xn, 0, &ly.wv, ly.bv.as_ref(), t);
            if cfg.family == Family::Llama {
                kernels::rope(r, &self.q, 0, &m.rope_cos, &m.rope_sin, t, nh, hs, pos0);
                kernels::rope(
                    r,
                    kc,
                    pos0 * kvd,
                    &m.rope_cos,
                    &m.rope_sin,
                    t,
                    nkv,
                    hs,
                    pos0,
                );
            }
            kernels::attention(
                r, &self.att, &self.q, kc, vc, t, nh, nkv, hs, pos0, cfg.causal,
            );
            kernels::matmul(r, &self.proj, 0, &self.att, 0, &ly.wo, ly.bo.as_ref(), t);
            kernels::residual(r, &self.x, &self.proj, t * c);

            norm(r, &self.xn, &self.x, &ly.mlp_norm_w, ly.mlp_norm_b.as_ref());
            match &ly.w_gate {
                Some(w_gate) => {
                    kernels::matmul(r, &self.h1, 0, &self.xn, 0, w_gate, ly.b_gate.as_ref(), t);
                    kernels::matmul(r, &self.h2, 0, &self.xn, 0, &ly.w_up, ly.b_up.as_ref(), t);
                    kernels::swiglu(r, &self.act, &self.h1, &self.h2, t * ff);
                }
                None => {
                    kernels::matmul(r, &self.h1, 0, &self.xn, 0, &ly.w_up, ly.b_up.as_ref(), t);
                    kernels::gelu(r, &self.act, &self.h1, t * ff);
                }
            }
            kernels::matmul(
                r,
                &self.proj,
                0,
                &self.act,
                0,
                &ly.w_down,
                ly.b_down.as_ref(),
                t,
            );
            kernels::residual(r, &self.x, &self.proj, t * c);
        }

        let v = cfg.vocab_size;
        let bytes = match readback {
            None => None,
            Some(rb) => {
                norm(
                    r,
                    &self.xn,
                    &self.x,
                    &m.final_norm_w,
                    m.final_norm_b.as_ref(),
                );
                let (rows, x_off) = match rb {
                    Readback::Logits(Logits::All) => (t, 0),
                    _ => (1, (t - 1) * c),
                };
                match (rb, &m.cls_head) {
                    (Readback::Classify, Some(head)) => {
                        kernels::pool(r, &self.pooled, &self.xn, t, c, cfg.pooling);
                        kernels::matmul(r, &self.logits, 0, &self.pooled, 0, head, None, 1);
                        Some((&self.logits, (cfg.labels.len() * 4) as u64))
                    }
                    (Readback::Classify, None) => unreachable!("classify_async checks the head"),
                    (Readback::Argmax, _) => {
                        kernels::matmul(r, &self.logits, 0, &self.xn, x_off, m.lm_head(), None, 1);
                        kernels::argmax(r, &self.token_out, &self.logits, 0, v);
                        Some((&self.token_out, 4u64))
                    }
                    (Readback::Logits(_), _) => {
                        kernels::matmul(
                            r,
                            &self.logits,
                            0,
                            &self.xn,
                            x_off,
                            m.lm_head(),
                            None,
                            rows,
                        );
                        Some((&self.logits, (rows * v * 4) as u64))
                    }
                }
            }
        };
        match bytes {
            Some((src, n)) => {
                rec.submit(&[(src, 0, &self.staging, 0, n)]);
                Some(n)
            }
            None => {
                rec.submit(&[]);
                None
            }
        }
    }
}

/// `params` with every weight matrix rounded to f16 and back: the CPU twin of a model whose
/// matrices the GPU holds in f16 (vectors stay f32 there too).
pub fn round_matrices_to_f16(params: &Params) -> Params {
    let mut out = params.clone();
    for spec in &params.layout.specs {
        if spec.shape.len() == 2 && spec.slot != Slot::PosEmb {
            let r = buffers::round_f16(&params.data[spec.offset..spec.offset + spec.len]);
            out.data[spec.offset..spec.offset + spec.len].copy_from_slice(&r);
        }
    }
    out
}

//! The transformer: one definition for both families, driven by [`ModelConfig`].
//!
//! ```text
//! x = embed(tokens) (+ pos_emb)                               (T, C)
//! for each layer:
//!     x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
//!     x += mlp(norm(x))     llama: W_down(silu(W_gate·h) ⊙ W_up·h)   gpt2: W_down(gelu(W_up·h))
//! logits = lm_head · norm(x)                                   (T, V)
//! ```

pub mod kv_cache;

pub use kv_cache::KvCache;

use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::ops::matvec::{self, Store};
use crate::ops::*;
use crate::params::{LayerSlot as LS, Params, Slot};
use crate::quant::QType;
use crate::tensor::{Tensor, Weights};
use crate::weights::DType;
use std::path::Path;

#[derive(Clone)]
pub struct Model {
    pub config: ModelConfig,
    /// Every tensor in its storage type (matrices stay packed; see `tensor.rs`).
    pub weights: Weights,
    /// The first positions' RoPE angles (llama); later positions are computed as they come.
    rope: Option<RopeTable>,
}

/// Positions whose RoPE angles a model computes when it loads: enough for most conversations,
/// small whatever max_position_embeddings says (4096 × HS/2 × 8 bytes: 2 MiB at HS = 128).
const ROPE_TABLE_POSITIONS: usize = 4096;

/// Which positions' logits a forward pass returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only the last position: (1, V). What generation needs.
    Last,
    /// Every position: (T, V). What parity tests and scoring need.
    All,
}

impl Model {
    /// Loads `config.json` and `model.safetensors` from a model directory, or a `.gguf` file (or
    /// a directory holding one; see [`crate::gguf::find`]).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if crate::gguf::find(dir)?.is_some() {
            return crate::gguf::load_model(dir);
        }
        let config = ModelConfig::from_file(dir.join("config.json"))?;
        let weights = crate::weights::load_weights(dir.join("model.safetensors"), &config)?;
        Ok(Self::from_weights(config, weights))
    }

    /// Builds a model from the bytes of `config.json` and `model.safetensors` (the browser path).
    pub fn from_bytes(config_json: &str, safetensors: &[u8], origin: &str) -> Result<Self> {
        let config = ModelConfig::from_json_str(config_json, format!("{origin}/config.json"))?;
        let weights = crate::weights::weights_from_bytes(
            safetensors,
            &config,
            Path::new(&format!("{origin}/model.safetensors")),
        )?;
        Ok(Self::from_weights(config, weights))
    }

    /// A model from f32 parameters (training's layout). `dtype` is the storage type the
    /// matrices get: F32 keeps them as they are; F16/BF16 round them (as a file of that dtype
    /// would).
    pub fn new(config: ModelConfig, params: Params, dtype: DType) -> Self {
        let mut weights = Weights::from_params(&params);
        drop(params);
        match dtype {
            DType::F32 => {}
            DType::F16 => weights.cast_matrices(QType::F16, true),
            DType::BF16 => weights.cast_matrices(QType::BF16, true),
        }
        Self::from_weights(config, weights)
    }

    /// A model from tensors in their storage types (the loaders' path).
    pub fn from_weights(config: ModelConfig, weights: Weights) -> Self {
        let rope = (config.family == Family::Llama).then(|| {
            RopeTable::new(
                config.max_seq_len.min(ROPE_TABLE_POSITIONS),
                config.head_dim,
                config.rope_theta,
            )
        });
        Model {
            config,
            weights,
            rope,
        }
    }

    /// Converts every weight matrix (the token embedding included) to `qtype`: `--dtype f32`
    /// dequantizes a quantized model at load, `--dtype q8_0` quantizes an f32 one.
    pub fn cast_matrices(&mut self, qtype: QType) {
        self.weights.cast_matrices(qtype, true);
    }

    /// The storage type most weight bytes use ("F16", "Q4_1"...).
    pub fn storage(&self) -> QType {
        self.weights.main_qtype()
    }

    /// Every parameter as f32, in training's flat layout (dequantized where packed).
    pub fn to_params(&self) -> Params {
        self.weights.to_params()
    }

    /// The RoPE table of every position up to max_seq_len (llama), built on each call: for the
    /// GPU engine, which uploads it once. The CPU forward pass keeps only the first
    /// positions' table and computes the others as they are used.
    pub fn rope_table(&self) -> Option<RopeTable> {
        (self.config.family == Family::Llama).then(|| {
            RopeTable::new(
                self.config.max_seq_len,
                self.config.head_dim,
                self.config.rope_theta,
            )
        })
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache::new(&self.config)
    }

    /// Checks that `tokens` can be appended to a cache holding `cached` positions.
    pub fn check_tokens(&self, tokens: &[u32], cached: usize) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        if cached + tokens.len() > self.config.max_seq_len {
            return Err(Error::PromptTooLong {
                tokens: cached + tokens.len(),
                context: self.config.max_seq_len,
            });
        }
        let v = self.config.vocab_size;
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= v) {
            return Err(Error::TokenOutOfRange { id, vocab: v });
        }
        Ok(())
    }

    /// Runs `tokens` through the model after what `cache` holds, appends their keys and values to
    /// the cache, and returns the logits: (1, V) or (T, V).
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, which: Logits) -> Result<Vec<f32>> {
        // The parallel regions run on the spinning forward-pass team (`ops::team`), natively.
        forward_team(|| self.forward_here(tokens, cache, which))
    }

    /// [`Self::forward`] on the calling thread.
    fn forward_here(&self, tokens: &[u32], cache: &mut KvCache, which: Logits) -> Result<Vec<f32>> {
        let x = self.hidden_states(tokens, cache)?;
        let (c, v) = (self.config.dim, self.config.vocab_size);
        let t = tokens.len();
        let rows = match which {
            Logits::Last => &x[(t - 1) * c..],
            Logits::All => &x[..],
        };
        let n = rows.len() / c;
        let mut logits = vec![0.0; n * v];
        linear_forward(&mut logits, rows, self.weights.lm_head(), None, n);
        Ok(logits)
    }

    /// Classification logits (num_labels) from the final hidden states pooled as the config says:
    /// the last token's (transformers' `*ForSequenceClassification` on an unpadded sequence), or
    /// each channel's maximum over the positions (`classifier_pooling: "max"`), or for
    /// `"echo_max"` the maximum over the second copy of `tokens sep tokens` (sep: the pad token).
    /// `tokens` must fit the context: `config.pooling.window(max_seq_len)` of them.
    pub fn classify(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        if !self.config.is_classifier() {
            return Err(Error::InvalidArgument(
                "this model has no classification head (config.json has no id2label)".into(),
            ));
        }
        let mut cache = self.new_cache();
        let sep = self.config.pad_token_id.unwrap_or(0);
        let x = self.hidden_states(&self.config.pooling.input(tokens, sep), &mut cache)?;
        let c = self.config.dim;
        let mut pooled = vec![0.0; c];
        crate::ops::pool_forward(&mut pooled, &x, c, self.config.pooling);
        let mut out = vec![0.0; self.config.labels.len()];
        linear_forward(&mut out, &pooled, self.weights.t(Slot::ClsHead), None, 1);
        Ok(out)
    }

    /// The final-normed hidden states (T, C) of `tokens`, appended after the cache's contents.
    pub fn hidden_states(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
        self.hidden_states_tapped(tokens, cache, &mut |_, _| {})
    }

    /// [`Self::hidden_states`], calling `tap(l, x)` with the residual stream x (T, C) after each
    /// block l (0-based): what a probe or a classifier over a middle layer reads.
    pub fn hidden_states_tapped(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        tap: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<Vec<f32>> {
        let x = self.blocks(tokens, cache, self.config.n_layers, tap)?;
        let t = tokens.len();
        let mut xn = vec![0.0; x.len()];
        let (mut a, mut b) = (vec![0.0; t], vec![0.0; t]);
        self.norm(&mut xn, &mut a, &mut b, &x, None, false, t);
        Ok(xn)
    }

    /// The residual stream x (T, C) of `tokens` after the first `layers` blocks, from an empty
    /// cache (the rest of the model is not computed): what a moderation head on this model as
    /// its trunk reads.
    pub fn trunk_states(&self, tokens: &[u32], layers: usize) -> Result<Vec<f32>> {
        if layers == 0 || layers > self.config.n_layers {
            return Err(Error::InvalidArgument(format!(
                "a trunk of {layers} blocks: this model has {}",
                self.config.n_layers
            )));
        }
        self.blocks(tokens, &mut self.new_cache(), layers, &mut |_, _| {})
    }

    /// Runs `tokens` through blocks 0..layers after what `cache` holds; returns the residual
    /// stream (T, C). The cache advances only when every block ran.
    /// Its parallel regions run on the forward-pass team (`ops::forward_team`), as every
    /// entry point's (forward, classify, hidden and trunk states) do.
    fn blocks(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        layers: usize,
        tap: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<Vec<f32>> {
        forward_team(|| self.blocks_here(tokens, cache, layers, tap))
    }

    fn blocks_here(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        layers: usize,
        tap: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<Vec<f32>> {
        let pos0 = cache.len();
        if !self.config.causal && pos0 > 0 {
            // The cached keys were computed without the tokens that follow them.
            return Err(Error::InvalidArgument(
                "a bidirectional model (is_causal false) reads a whole text at once, not after a cache"
                    .into(),
            ));
        }
        self.check_tokens(tokens, pos0)?;
        let (t, c) = (tokens.len(), self.config.dim);
        let p = &self.weights;
        let mut x = vec![0.0; t * c]; // residual stream (T, C)
        embed_rows(&mut x, tokens, p.t(Slot::TokEmb));
        if let Some(wpe) = p.vec_opt(Slot::PosEmb) {
            residual_forward(&mut x, &wpe[pos0 * c..(pos0 + t) * c]);
        }
        self.layers_here(&mut x, t, cache, layers, tap);
        if layers == self.config.n_layers {
            cache.advance(t);
        }
        Ok(x)
    }

    /// Blocks `layers` of a causal llama model as a model of their own, their tensors in their
    /// storage types: what a moderator whose top blocks are tuned starts from. It reads
    /// states, not tokens ([`Self::blocks_on_states`]), so its vocabulary is one zero row and
    /// its final norm (the trunk's) is never applied.
    pub fn blocks_model(&self, layers: std::ops::Range<usize>) -> Result<Model> {
        let config = self.blocks_config(layers.clone())?;
        let layout = crate::params::ParamLayout::new(&config);
        let tensors = layout
            .specs
            .iter()
            .map(|spec| match spec.slot {
                Slot::Layer(l, ls) => self.weights.t(Slot::Layer(layers.start + l, ls)).clone(),
                other => self
                    .weights
                    .get(other)
                    .filter(|_| other != Slot::TokEmb)
                    .cloned()
                    .unwrap_or_else(|| Tensor::f32(spec.shape.clone(), vec![0.0; spec.len])),
            })
            .collect();
        Ok(Model::from_weights(config, Weights { layout, tensors }))
    }

    /// The config of [`Self::blocks_model`]`(layers)`: this model's, with `layers.len()` blocks
    /// and a vocabulary of one.
    pub fn blocks_config(&self, layers: std::ops::Range<usize>) -> Result<ModelConfig> {
        let n = self.config.n_layers;
        if layers.is_empty() || layers.end > n {
            return Err(Error::InvalidArgument(format!(
                "blocks {layers:?}: need a non-empty range within 0..{n} (the model has {n} blocks)"
            )));
        }
        if self.config.family != Family::Llama || !self.config.causal {
            return Err(Error::InvalidArgument(
                "blocks split off a model: implemented for causal llama models only".into(),
            ));
        }
        let config = ModelConfig {
            n_layers: layers.len(),
            vocab_size: 1,
            tie_embeddings: true,
            labels: vec![],
            pooling: Default::default(),
            ..self.config.clone()
        };
        config.validate().map_err(Error::InvalidArgument)?;
        Ok(config)
    }

    /// The residual stream (T, C) after every block of this model, run from position 0 on the
    /// given states `x` (T, C) instead of token embeddings: for top blocks split off with
    /// [`Self::blocks_model`], the states the trunk's lower blocks left (a moderator's tuned
    /// top blocks, once the moderator has them).
    pub fn blocks_on_states(&self, mut x: Vec<f32>) -> Result<Vec<f32>> {
        let c = self.config.dim;
        if x.is_empty() || x.len() % c != 0 {
            return Err(Error::InvalidArgument(format!(
                "input states of {} values are not T rows of {c}",
                x.len()
            )));
        }
        let t = x.len() / c;
        if t > self.config.max_seq_len {
            return Err(Error::InvalidArgument(format!(
                "input states of {t} positions exceed the model's context of {} (max_position_embeddings)",
                self.config.max_seq_len
            )));
        }
        let mut cache = self.new_cache();
        let layers = self.config.n_layers;
        forward_team(|| self.layers_here(&mut x, t, &mut cache, layers, &mut |_, _| {}));
        Ok(x)
    }

    /// Blocks 0..layers on the residual stream x (T, C) of positions after what `cache` holds.
    /// Appends each block's keys and values; advancing the cache is the caller's.
    fn layers_here(
        &self,
        x: &mut [f32],
        t: usize,
        cache: &mut KvCache,
        layers: usize,
        tap: &mut dyn FnMut(usize, &[f32]),
    ) {
        let pos0 = cache.len();
        let cfg = &self.config;
        let p = &self.weights;
        let (c, ff) = (cfg.dim, cfg.hidden_dim);
        let (nh, nkv, hs) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim);
        let (qd, kvd) = (cfg.q_dim(), cfg.kv_dim());

        let mut xn = vec![0.0; t * c]; // normed input of a sublayer (T, C)
        let mut stat_a = vec![0.0; t]; // rstd, or mean for LayerNorm (T)
        let mut stat_b = vec![0.0; t]; // rstd for LayerNorm (T)
                                       // q (T, NH*HS), k (T, NKV*HS), v (T, NKV*HS) in one buffer: for one token it is the
                                       // stacked output of a single matvec over Wq, Wk and Wv.
        let mut qkv = vec![0.0; t * (qd + 2 * kvd)];
        let mut att = vec![0.0; t * qd]; // attention output (T, NH*HS)
        let mut proj = vec![0.0; t * c]; // (T, C)
        let mut h1 = vec![0.0; t * ff]; // gate, or c_fc output (T, FF)
        let mut h2 = vec![
            0.0;
            if cfg.family == Family::Llama {
                t * ff
            } else {
                0
            }
        ]; // up (T, FF)
        let mut act = vec![0.0; t * ff]; // MLP activation (T, FF)

        for l in 0..layers {
            // out (T, rows of W) = inp · Wᵀ + b, for layer l's weight `w` and bias `b`.
            let lin = |out: &mut [f32], inp: &[f32], w: LS, b: LS| {
                let bias = p.vec_opt(Slot::Layer(l, b));
                linear_forward(out, inp, p.t(Slot::Layer(l, w)), bias, t)
            };
            let w = |s: LS| p.t(Slot::Layer(l, s));
            let b = |s: LS| p.vec_opt(Slot::Layer(l, s));
            // Decode (one token) fuses what shares a pass: QKV in one matvec, gate and up in
            // one with SwiGLU on the way out, the residual adds inside the projections.
            let decode = t == 1;
            self.norm(&mut xn, &mut stat_a, &mut stat_b, x, Some(l), false, t);
            if decode {
                let parts = [
                    (w(LS::Wq), b(LS::Bq)),
                    (w(LS::Wk), b(LS::Bk)),
                    (w(LS::Wv), b(LS::Bv)),
                ];
                matvec::matvec_cat(&mut qkv, &xn, &parts);
            }
            let (q, kv) = qkv.split_at_mut(t * qd);
            let (k, v) = kv.split_at_mut(t * kvd);
            if !decode {
                let parts = [
                    (w(LS::Wq), b(LS::Bq)),
                    (w(LS::Wk), b(LS::Bk)),
                    (w(LS::Wv), b(LS::Bv)),
                ];
                linear_cat_forward(&mut [&mut *q, &mut *k, &mut *v], &xn, &parts, t);
            }
            if let Some(rope) = &self.rope {
                rope_forward(q, rope, pos0, t, nh, hs);
                rope_forward(k, rope, pos0, t, nkv, hs);
            }
            cache.append(l, k, v);
            let (kc, vc) = cache.layer(l);
            attention_forward(&mut att, q, kc, vc, pos0, t, nh, nkv, hs, cfg.causal);
            if decode {
                matvec::matvec(x, &att, w(LS::Wo), b(LS::Bo), Store::Add);
            } else {
                lin(&mut proj, &att, LS::Wo, LS::Bo);
                residual_forward(x, &proj);
            }

            self.norm(&mut xn, &mut stat_a, &mut stat_b, x, Some(l), true, t);
            match cfg.family {
                Family::Llama if decode => {
                    matvec::matvec_swiglu(
                        &mut act,
                        &xn,
                        (w(LS::WGate), b(LS::BGate)),
                        (w(LS::WUp), b(LS::BUp)),
                    );
                }
                Family::Llama => {
                    let parts = [(w(LS::WGate), b(LS::BGate)), (w(LS::WUp), b(LS::BUp))];
                    linear_cat_forward(&mut [&mut h1, &mut h2], &xn, &parts, t);
                    swiglu_forward(&mut act, &h1, &h2);
                }
                Family::Gpt2 => {
                    lin(&mut h1, &xn, LS::WUp, LS::BUp);
                    gelu_forward(&mut act, &h1);
                }
            }
            if decode {
                matvec::matvec(x, &act, w(LS::WDown), b(LS::BDown), Store::Add);
            } else {
                lin(&mut proj, &act, LS::WDown, LS::BDown);
                residual_forward(x, &proj);
            }
            tap(l, x);
        }
    }

    /// The family's norm: layer `l`'s attention (`mlp == false`) or MLP norm, or the final norm.
    #[allow(clippy::too_many_arguments)]
    fn norm(
        &self,
        out: &mut [f32],
        a: &mut [f32],
        b: &mut [f32],
        inp: &[f32],
        layer: Option<usize>,
        mlp: bool,
        t: usize,
    ) {
        let (ws, bs) = match (layer, mlp) {
            (Some(l), false) => (Slot::Layer(l, LS::AttnNormW), Slot::Layer(l, LS::AttnNormB)),
            (Some(l), true) => (Slot::Layer(l, LS::MlpNormW), Slot::Layer(l, LS::MlpNormB)),
            (None, _) => (Slot::FinalNormW, Slot::FinalNormB),
        };
        let (c, eps) = (self.config.dim, self.config.norm_eps);
        match self.config.family {
            Family::Llama => rmsnorm_forward(out, a, inp, self.weights.t(ws).as_f32(), t, c, eps),
            Family::Gpt2 => layernorm_forward(
                out,
                a,
                b,
                inp,
                self.weights.t(ws).as_f32(),
                self.weights.t(bs).as_f32(),
                t,
                c,
                eps,
            ),
        }
    }
}

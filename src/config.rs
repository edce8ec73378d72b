//! Model configuration read from a Hugging Face `config.json`.
//!
//! One [`ModelConfig`] describes both families tinychat runs; the transformer in `model/` reads
//! its switches (norm kind, positional scheme, MLP kind, biases) instead of having two copies.
//!
//! Dimension names used throughout the crate: B batch, T time, C model width, NH query heads,
//! NKV key/value heads, HS head size, FF MLP width, V vocabulary, L layers.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// RMSNorm, RoPE, SwiGLU MLP, grouped-query attention, optional tied embeddings.
    Llama,
    /// LayerNorm, learned absolute positions, GELU(tanh) MLP, biases everywhere, tied embeddings.
    Gpt2,
}

impl Family {
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Gpt2 => "gpt2",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub family: Family,
    /// V
    pub vocab_size: usize,
    /// C
    pub dim: usize,
    /// L
    pub n_layers: usize,
    /// NH
    pub n_heads: usize,
    /// NKV (== NH for multi-head attention, 1 for multi-query)
    pub n_kv_heads: usize,
    /// HS
    pub head_dim: usize,
    /// FF
    pub hidden_dim: usize,
    /// The longest sequence (prompt + generated tokens) the model accepts.
    pub max_seq_len: usize,
    pub norm_eps: f32,
    /// RoPE base (llama only).
    pub rope_theta: f32,
    /// lm_head shares the token embedding matrix.
    pub tie_embeddings: bool,
    /// q/k/v/o projections carry biases.
    pub attn_bias: bool,
    /// MLP projections carry biases.
    pub mlp_bias: bool,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
    pub pad_token_id: Option<u32>,
    /// Class names of a classification head (`id2label`), in id order. Empty for a causal LM.
    pub labels: Vec<String>,
    /// How a classification head reads the sequence (config.json `classifier_pooling`, written
    /// only when it is not the default `last`).
    pub pooling: Pooling,
    /// Causal attention (every language model). A classifier may attend both ways, so that every
    /// position reads the whole text: config.json `"is_causal": false` (the attribute
    /// transformers' attention modules carry; its Llama classes ignore the key and stay causal,
    /// so only tinychat scores such a classifier as trained). Written only when false.
    pub causal: bool,
}

/// How a sequence classifier turns the final hidden states (T, C) into the head's input (C).
/// `Last` is transformers' `LlamaForSequenceClassification` / `GPT2ForSequenceClassification`
/// (the last token of an unpadded sequence). `Max` takes each channel's maximum over all
/// positions: a tinychat extension, saved as `"classifier_pooling": "max"` (the key ModernBERT's
/// config uses for its "cls"/"mean" choice), which transformers' Llama classes ignore.
/// `EchoMax` ("echo_max", also a tinychat extension) feeds the trunk the text twice, `x sep x`,
/// and takes the maximum over the second copy only: with causal attention every position of the
/// second copy has read the whole text, so a word's features already know what follows it
/// ("kill" in "kill a stuck process"), as "echo embeddings" (Springer et al., 2024) do for causal
/// language models. It costs twice the positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    #[default]
    Last,
    Max,
    EchoMax,
}

impl Pooling {
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Last => "last",
            Pooling::Max => "max",
            Pooling::EchoMax => "echo_max",
        }
    }

    /// How many text tokens one pass of a trunk with `ctx` positions reads: all of them, or for
    /// `EchoMax` the (ctx − 1) / 2 that fit twice with the separator.
    pub fn window(self, ctx: usize) -> usize {
        match self {
            Pooling::EchoMax => (ctx.saturating_sub(1) / 2).max(1),
            _ => ctx,
        }
    }

    /// The trunk's input for the text tokens `ids`: the tokens, or for `EchoMax` `ids sep ids`
    /// (2n + 1 positions; [`crate::ops::pool_forward`] finds the second copy from that length).
    pub fn input(self, ids: &[u32], sep: u32) -> Vec<u32> {
        match self {
            Pooling::EchoMax => {
                let mut v = Vec::with_capacity(2 * ids.len() + 1);
                v.extend_from_slice(ids);
                v.push(sep);
                v.extend_from_slice(ids);
                v
            }
            _ => ids.to_vec(),
        }
    }
}

impl std::str::FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "last" => Ok(Pooling::Last),
            "max" => Ok(Pooling::Max),
            "echo_max" => Ok(Pooling::EchoMax),
            other => Err(format!(
                "unknown pooling {other:?} (expected \"last\", \"max\" or \"echo_max\")"
            )),
        }
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The largest sizes a `config.json` may give (docs/limits.md lists them with the reasons).
/// Each is several times what the largest models tinychat could run use, and together they keep
/// every size computed from them (the parameter count, layouts, the RoPE table) far from
/// overflow, so a hostile config is refused before anything is allocated.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// V: Gemma's 262,144 is the largest in common use.
    pub vocab_size: usize,
    /// C: Llama 3.1 405B has 16,384.
    pub hidden_size: usize,
    /// FF: Llama 3.1 405B has 53,248.
    pub intermediate_size: usize,
    /// L: Llama 3.1 405B has 126.
    pub layers: usize,
    /// NH and NKV.
    pub heads: usize,
    /// HS: 64 to 256 in practice.
    pub head_dim: usize,
    /// The context: Llama 3.1 has 131,072, the longest-context releases about a million.
    pub max_position_embeddings: usize,
    /// Classes of a classification head.
    pub labels: usize,
    /// All parameters together (2^40, about 1.1 trillion); on a 32-bit target (wasm32), what
    /// `usize` holds as well.
    pub parameters: u64,
}

pub const LIMITS: Limits = Limits {
    vocab_size: 1 << 22,
    hidden_size: 1 << 16,
    intermediate_size: 1 << 20,
    layers: 1 << 10,
    heads: 1 << 10,
    head_dim: 1 << 10,
    max_position_embeddings: 1 << 21,
    labels: 1 << 16,
    parameters: 1 << 40,
};

impl ModelConfig {
    /// Reads `config.json` from a file or from a model directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let mut path = path.as_ref().to_path_buf();
        if path.is_dir() {
            path = path.join("config.json");
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Self::from_json_str(&text, &path)
    }

    /// Parses the text of a `config.json`; `path` is only used in error messages.
    pub fn from_json_str(text: &str, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let value: Value = serde_json::from_str(text).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        let obj = value.as_object().ok_or_else(|| Error::Config {
            path: path.clone(),
            msg: "expected a JSON object at the top level".into(),
        })?;
        let r = Reader { obj, path: &path };
        if let Some(q) = obj.get("quantization_config").filter(|q| !q.is_null()) {
            let method = q
                .get("quant_method")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(r.err(format!(
                "declares quantization_config (quant_method {method:?}): quantized safetensors checkpoints (GPTQ, AWQ, bitsandbytes, ...) are out of scope; use a GGUF file of the model (tinychat reads Q8_0, Q4_0, Q4_1, Q4_K and Q6_K), or its unquantized checkpoint"
            )));
        }
        let model_type = r.str("model_type")?.unwrap_or_default();
        let cfg = match model_type.as_str() {
            "llama" | "mistral" | "smollm" => {
                let dim = r.req_usize("hidden_size")?;
                let n_heads = r.req_usize("num_attention_heads")?;
                let n_kv_heads = r.usize("num_key_value_heads")?.unwrap_or(n_heads);
                let head_dim = match r.usize("head_dim")? {
                    Some(h) => h,
                    None => {
                        if n_heads == 0 || dim % n_heads != 0 {
                            return Err(r.err(format!(
                                "hidden_size {dim} is not divisible by num_attention_heads {n_heads}"
                            )));
                        }
                        dim / n_heads
                    }
                };
                // transformers >= 5 moves rope_theta into rope_parameters; older files have it flat.
                let rope_theta = match r.f64("rope_theta")? {
                    Some(t) => t,
                    None => obj
                        .get("rope_parameters")
                        .and_then(|p| p.get("rope_theta"))
                        .and_then(Value::as_f64)
                        .unwrap_or(10000.0),
                };
                for key in ["rope_scaling", "rope_parameters"] {
                    if let Some(Value::Object(s)) = obj.get(key) {
                        let kind = s
                            .get("rope_type")
                            .or_else(|| s.get("type"))
                            .and_then(Value::as_str)
                            .unwrap_or("default");
                        if kind != "default" {
                            return Err(r.err(format!(
                                "{key}.rope_type {kind:?} is not supported (only the default RoPE)"
                            )));
                        }
                    }
                }
                let act = r.str("hidden_act")?.unwrap_or_else(|| "silu".into());
                if act != "silu" {
                    return Err(r.err(format!(
                        "hidden_act {act:?} is not supported for llama (only \"silu\")"
                    )));
                }
                ModelConfig {
                    family: Family::Llama,
                    vocab_size: r.req_usize("vocab_size")?,
                    dim,
                    n_layers: r.req_usize("num_hidden_layers")?,
                    n_heads,
                    n_kv_heads,
                    head_dim,
                    hidden_dim: r.req_usize("intermediate_size")?,
                    max_seq_len: r.usize("max_position_embeddings")?.unwrap_or(2048),
                    norm_eps: r.f64("rms_norm_eps")?.unwrap_or(1e-6) as f32,
                    rope_theta: rope_theta as f32,
                    tie_embeddings: r.bool("tie_word_embeddings")?.unwrap_or(false),
                    attn_bias: r.bool("attention_bias")?.unwrap_or(false),
                    mlp_bias: r.bool("mlp_bias")?.unwrap_or(false),
                    bos_token_id: r.u32("bos_token_id")?,
                    eos_token_ids: r.ids("eos_token_id")?,
                    pad_token_id: r.u32("pad_token_id")?,
                    labels: r.labels()?,
                    pooling: r.pooling()?,
                    causal: r.bool("is_causal")?.unwrap_or(true),
                }
            }
            "gpt2" => {
                let dim = r.req_usize("n_embd")?;
                let n_heads = r.req_usize("n_head")?;
                if n_heads == 0 || dim % n_heads != 0 {
                    return Err(r.err(format!("n_embd {dim} is not divisible by n_head {n_heads}")));
                }
                let act = r
                    .str("activation_function")?
                    .unwrap_or_else(|| "gelu_new".into());
                if !matches!(act.as_str(), "gelu_new" | "gelu_pytorch_tanh") {
                    return Err(r.err(format!(
                        "activation_function {act:?} is not supported for gpt2 (only \"gelu_new\", the tanh approximation)"
                    )));
                }
                ModelConfig {
                    family: Family::Gpt2,
                    vocab_size: r.req_usize("vocab_size")?,
                    dim,
                    n_layers: r.req_usize("n_layer")?,
                    n_heads,
                    n_kv_heads: n_heads,
                    head_dim: dim / n_heads,
                    hidden_dim: r.usize("n_inner")?.unwrap_or(dim.saturating_mul(4)),
                    max_seq_len: r.usize("n_positions")?.unwrap_or(1024),
                    norm_eps: r.f64("layer_norm_epsilon")?.unwrap_or(1e-5) as f32,
                    rope_theta: 0.0,
                    tie_embeddings: r.bool("tie_word_embeddings")?.unwrap_or(true),
                    attn_bias: true,
                    mlp_bias: true,
                    bos_token_id: r.u32("bos_token_id")?,
                    eos_token_ids: r.ids("eos_token_id")?,
                    pad_token_id: r.u32("pad_token_id")?,
                    labels: r.labels()?,
                    pooling: r.pooling()?,
                    causal: r.bool("is_causal")?.unwrap_or(true),
                }
            }
            "" => return Err(r.err("model_type is missing".into())),
            other => {
                return Err(Error::UnknownModelType {
                    path,
                    model_type: other.into(),
                })
            }
        };
        cfg.validate().map_err(|msg| Error::Config { path, msg })?;
        Ok(cfg)
    }

    /// A llama-family causal LM with every size zero and every switch at its default (untied
    /// head, no biases, causal, RoPE base 10000, eps 1e-5): the base that loaders reading sizes
    /// from somewhere else than config.json (GGUF metadata) fill in with struct-update syntax,
    /// `ModelConfig { dim, ..ModelConfig::llama_base() }`, then [`Self::validate`].
    pub fn llama_base() -> Self {
        ModelConfig {
            family: Family::Llama,
            vocab_size: 0,
            dim: 0,
            n_layers: 0,
            n_heads: 0,
            n_kv_heads: 0,
            head_dim: 0,
            hidden_dim: 0,
            max_seq_len: 0,
            norm_eps: 1e-5,
            rope_theta: 10000.0,
            tie_embeddings: false,
            attn_bias: false,
            mlp_bias: false,
            bos_token_id: None,
            eos_token_ids: vec![],
            pad_token_id: None,
            labels: vec![],
            pooling: Pooling::Last,
            causal: true,
        }
    }

    /// Checks that the sizes are consistent with each other and within [`LIMITS`]; the message
    /// names the fields. A config that passes describes a model whose parameter count, layout
    /// and RoPE table can be computed without overflow (`param_count` is `Some`).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let sizes = [
            ("vocab_size", self.vocab_size, LIMITS.vocab_size),
            ("hidden_size", self.dim, LIMITS.hidden_size),
            ("num_hidden_layers", self.n_layers, LIMITS.layers),
            ("num_attention_heads", self.n_heads, LIMITS.heads),
            ("num_key_value_heads", self.n_kv_heads, LIMITS.heads),
            ("head_dim", self.head_dim, LIMITS.head_dim),
            (
                "intermediate_size",
                self.hidden_dim,
                LIMITS.intermediate_size,
            ),
            (
                "max_position_embeddings",
                self.max_seq_len,
                LIMITS.max_position_embeddings,
            ),
        ];
        for (name, v, max) in sizes {
            if v == 0 {
                return Err(format!("{name} must be positive"));
            }
            if v > max {
                return Err(format!(
                    "{name} {v} is larger than tinychat accepts ({max}; see docs/limits.md)"
                ));
            }
        }
        if self.labels.len() > LIMITS.labels {
            return Err(format!(
                "id2label has {} labels, more than tinychat accepts ({}; see docs/limits.md)",
                self.labels.len(),
                LIMITS.labels
            ));
        }
        match self.param_count() {
            Some(n) if n as u64 <= LIMITS.parameters => {}
            _ => {
                return Err(format!(
                    "these sizes make more than {} parameters (the most tinychat accepts{}; see docs/limits.md)",
                    LIMITS.parameters,
                    if usize::BITS < 64 { " on a 32-bit target: 4 GiB of memory" } else { "" }
                ))
            }
        }
        if self.family == Family::Llama && !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return Err(format!(
                "rope_theta ({}) must be a positive number",
                self.rope_theta
            ));
        }
        if self.n_heads % self.n_kv_heads != 0 {
            return Err(format!(
                "num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
                self.n_heads, self.n_kv_heads
            ));
        }
        if self.family == Family::Llama && self.head_dim % 2 != 0 {
            return Err(format!(
                "head_dim ({}) must be even for RoPE",
                self.head_dim
            ));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return Err("the norm epsilon must be a positive number".into());
        }
        if !self.causal && !self.is_classifier() {
            return Err(
                "is_causal false (bidirectional attention) needs a classification head (id2label)"
                    .into(),
            );
        }
        if self.pooling != Pooling::Last && !self.is_classifier() {
            return Err(format!(
                "classifier_pooling {:?} needs a classification head (id2label)",
                self.pooling.name()
            ));
        }
        Ok(())
    }

    /// Width of the query projection output, NH * HS.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }
    /// Width of the key and value projection outputs, NKV * HS.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
    pub fn is_classifier(&self) -> bool {
        !self.labels.is_empty()
    }

    /// The number of parameters this configuration describes (the length of
    /// [`crate::params::ParamLayout`]), or None when it overflows `usize`. Computed without
    /// building the layout, so a config with absurd sizes costs nothing to check.
    pub fn param_count(&self) -> Option<usize> {
        let (c, v, ff) = (self.dim, self.vocab_size, self.hidden_dim);
        let qd = self.n_heads.checked_mul(self.head_dim)?;
        let kvd = self.n_kv_heads.checked_mul(self.head_dim)?;
        let gpt2 = self.family == Family::Gpt2;
        let mul = |a: usize, b: usize| a.checked_mul(b);
        let sum =
            |xs: &[Option<usize>]| xs.iter().try_fold(0usize, |acc, x| acc.checked_add((*x)?));
        let norm = if gpt2 { mul(2, c) } else { Some(c) };
        let attn_bias = if self.attn_bias {
            sum(&[Some(qd), Some(kvd), Some(kvd), Some(c)])
        } else {
            Some(0)
        };
        let mlp_mats = mul(if gpt2 { 2 } else { 3 }, mul(ff, c)?);
        let mlp_bias = if self.mlp_bias {
            sum(&[mul(if gpt2 { 1 } else { 2 }, ff), Some(c)])
        } else {
            Some(0)
        };
        let layer = sum(&[
            norm,
            norm,
            mul(qd, c),
            mul(2, mul(kvd, c)?),
            mul(c, qd),
            attn_bias,
            mlp_mats,
            mlp_bias,
        ])?;
        let head = if self.is_classifier() {
            mul(self.labels.len(), c)
        } else if !self.tie_embeddings {
            mul(v, c)
        } else {
            Some(0)
        };
        sum(&[
            mul(v, c),
            if gpt2 {
                mul(self.max_seq_len, c)
            } else {
                Some(0)
            },
            mul(self.n_layers, layer),
            norm,
            head,
        ])
    }

    /// A Hugging Face `config.json` for this configuration, loadable by transformers.
    pub fn to_hf_json(&self) -> Value {
        let mut m = Map::new();
        let eos: Value = match self.eos_token_ids.as_slice() {
            [] => Value::Null,
            [one] => (*one).into(),
            many => many.iter().map(|&x| Value::from(x)).collect(),
        };
        match self.family {
            Family::Llama => {
                let arch = if self.is_classifier() {
                    "LlamaForSequenceClassification"
                } else {
                    "LlamaForCausalLM"
                };
                m.insert("architectures".into(), serde_json::json!([arch]));
                m.insert("model_type".into(), "llama".into());
                m.insert("vocab_size".into(), self.vocab_size.into());
                m.insert("hidden_size".into(), self.dim.into());
                m.insert("intermediate_size".into(), self.hidden_dim.into());
                m.insert("num_hidden_layers".into(), self.n_layers.into());
                m.insert("num_attention_heads".into(), self.n_heads.into());
                m.insert("num_key_value_heads".into(), self.n_kv_heads.into());
                m.insert("head_dim".into(), self.head_dim.into());
                m.insert("max_position_embeddings".into(), self.max_seq_len.into());
                m.insert("rms_norm_eps".into(), (self.norm_eps as f64).into());
                m.insert("rope_theta".into(), (self.rope_theta as f64).into());
                m.insert("hidden_act".into(), "silu".into());
                m.insert("attention_bias".into(), self.attn_bias.into());
                m.insert("mlp_bias".into(), self.mlp_bias.into());
            }
            Family::Gpt2 => {
                let arch = if self.is_classifier() {
                    "GPT2ForSequenceClassification"
                } else {
                    "GPT2LMHeadModel"
                };
                m.insert("architectures".into(), serde_json::json!([arch]));
                m.insert("model_type".into(), "gpt2".into());
                m.insert("vocab_size".into(), self.vocab_size.into());
                m.insert("n_embd".into(), self.dim.into());
                m.insert("n_layer".into(), self.n_layers.into());
                m.insert("n_head".into(), self.n_heads.into());
                m.insert("n_inner".into(), self.hidden_dim.into());
                m.insert("n_positions".into(), self.max_seq_len.into());
                m.insert("layer_norm_epsilon".into(), (self.norm_eps as f64).into());
                m.insert("activation_function".into(), "gelu_new".into());
            }
        }
        m.insert("tie_word_embeddings".into(), self.tie_embeddings.into());
        m.insert("torch_dtype".into(), "float32".into());
        if let Some(b) = self.bos_token_id {
            m.insert("bos_token_id".into(), b.into());
        }
        m.insert("eos_token_id".into(), eos);
        if let Some(p) = self.pad_token_id {
            m.insert("pad_token_id".into(), p.into());
        }
        if self.is_classifier() {
            let id2label: Map<String, Value> = self
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), Value::from(l.clone())))
                .collect();
            let label2id: Map<String, Value> = self
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), Value::from(i)))
                .collect();
            m.insert("id2label".into(), Value::Object(id2label));
            m.insert("label2id".into(), Value::Object(label2id));
            m.insert("problem_type".into(), "multi_label_classification".into());
            if self.pooling != Pooling::Last {
                m.insert("classifier_pooling".into(), self.pooling.name().into());
            }
            if !self.causal {
                m.insert("is_causal".into(), false.into());
            }
        }
        Value::Object(m)
    }
}

/// Typed access to config fields with errors that name the field.
struct Reader<'a> {
    obj: &'a Map<String, Value>,
    path: &'a Path,
}

impl Reader<'_> {
    fn err(&self, msg: String) -> Error {
        Error::Config {
            path: self.path.to_path_buf(),
            msg,
        }
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }
    fn usize(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                let x = v.as_u64().ok_or_else(|| {
                    self.err(format!("{key} must be a non-negative integer, got {v}"))
                })?;
                // On wasm32 usize has 32 bits: a larger value must not wrap to a small one.
                usize::try_from(x)
                    .map(Some)
                    .map_err(|_| self.err(format!("{key} {x} is too large")))
            }
        }
    }
    fn req_usize(&self, key: &str) -> Result<usize> {
        self.usize(key)?
            .ok_or_else(|| self.err(format!("required field {key} is missing")))
    }
    fn u32(&self, key: &str) -> Result<Option<u32>> {
        self.get(key).map(|v| self.token_id(key, v)).transpose()
    }
    /// A token id: an integer that fits u32 (not truncated).
    fn token_id(&self, key: &str, v: &Value) -> Result<u32> {
        v.as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| {
                self.err(format!(
                    "{key} must be a token id (an integer below 2^32), got {v}"
                ))
            })
    }
    fn f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.err(format!("{key} must be a number, got {v}"))),
        }
    }
    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.err(format!("{key} must be true or false, got {v}"))),
        }
    }
    fn str(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| self.err(format!("{key} must be a string, got {v}"))),
        }
    }
    /// `eos_token_id` may be one id or a list of ids.
    fn ids(&self, key: &str) -> Result<Vec<u32>> {
        match self.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(a)) => a.iter().map(|v| self.token_id(key, v)).collect(),
            Some(v) => Ok(vec![self.token_id(key, v)?]),
        }
    }
    /// `classifier_pooling`: absent means `last`.
    fn pooling(&self) -> Result<Pooling> {
        match self.str("classifier_pooling")? {
            None => Ok(Pooling::Last),
            Some(v) => v
                .parse()
                .map_err(|e: String| self.err(format!("classifier_pooling: {e}"))),
        }
    }

    /// `id2label` as a list in id order; missing ids are an error.
    fn labels(&self) -> Result<Vec<String>> {
        let Some(v) = self.get("id2label") else {
            return Ok(vec![]);
        };
        // Only a model with a classification head declares problem_type or an architecture
        // ending in ForSequenceClassification; transformers writes a default id2label
        // ({0: LABEL_0, 1: LABEL_1}) into every config, which must not turn an LM into a classifier.
        let is_cls = self
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter().any(|x| {
                    x.as_str()
                        .is_some_and(|s| s.ends_with("ForSequenceClassification"))
                })
            })
            .unwrap_or(false)
            || self.get("problem_type").is_some();
        if !is_cls {
            return Ok(vec![]);
        }
        let m = v
            .as_object()
            .ok_or_else(|| self.err("id2label must be an object".into()))?;
        let mut labels = vec![String::new(); m.len()];
        for (k, name) in m {
            let i: usize = k
                .parse()
                .map_err(|_| self.err(format!("id2label key {k:?} is not an integer")))?;
            let slot = labels
                .get_mut(i)
                .ok_or_else(|| self.err(format!("id2label ids must be 0..{}, got {i}", m.len())))?;
            *slot = name
                .as_str()
                .ok_or_else(|| self.err(format!("id2label[{k}] must be a string")))?
                .to_string();
        }
        Ok(labels)
    }
}

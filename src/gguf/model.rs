//! A GGUF model's configuration (from `llama.*` metadata) and its tensors, mapped onto tinychat's
//! parameter slots.
//!
//! ```text
//! GGUF name                      slot                 GGUF ne (inner first)   our shape
//! token_embd.weight              TokEmb               (C, V)                  (V, C)
//! blk.N.attn_norm.weight         AttnNormW            (C)                     (C)
//! blk.N.attn_q.weight            Wq   (rows permuted) (C, NH·HS)              (NH·HS, C)
//! blk.N.attn_k.weight            Wk   (rows permuted) (C, NKV·HS)             (NKV·HS, C)
//! blk.N.attn_v.weight            Wv                   (C, NKV·HS)             (NKV·HS, C)
//! blk.N.attn_output.weight       Wo                   (NH·HS, C)              (C, NH·HS)
//! blk.N.ffn_norm.weight          MlpNormW             (C)                     (C)
//! blk.N.ffn_{gate,up}.weight     WGate, WUp           (C, FF)                 (FF, C)
//! blk.N.ffn_down.weight          WDown                (FF, C)                 (C, FF)
//! output_norm.weight             FinalNormW           (C)                     (C)
//! output.weight                  LmHead (absent: tied) (C, V)                 (V, C)
//! ```
//!
//! ggml's `ne` lists dimensions innermost first, so a GGUF matrix (in, out) is PyTorch's
//! (out, in): the bytes are already in our row order.
//!
//! **Q and K rows.** llama.cpp's converter permutes the rows of `q_proj` and `k_proj` so that its
//! RoPE, which rotates adjacent pairs (x[2i], x[2i+1]), computes what Hugging Face's rotate-half
//! RoPE computes on (x[i], x[i + HS/2]). Within each head, HF row `i·HS/2 + j` (i ∈ {0, 1},
//! j < HS/2) is stored at GGUF row `2j + i`. tinychat rotates halves like HF, so the loader moves
//! the rows back. A row of packed blocks moves whole, so quantized weights stay packed.

use super::reader::{Gguf, TensorInfo};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::params::{LayerSlot, ParamLayout, Params, Slot};
use crate::quant::QType;
use crate::tensor::{Tensor, TensorData, Weights};
use crate::weights::DType;
use std::borrow::Cow;
use std::path::PathBuf;

/// One weight of the model as the file stores it, placed in tinychat's slot and row order.
#[derive(Clone, Debug)]
pub struct GgufTensor<'a> {
    pub slot: Slot,
    /// The GGUF name, for messages.
    pub name: String,
    pub qtype: QType,
    /// Our shape, outermost first: (out, in) for a matrix, as in [`Params`].
    pub shape: Vec<usize>,
    /// Packed rows in our order: borrowed from the file, or owned when rows were permuted.
    pub bytes: Cow<'a, [u8]>,
}

/// Everything the engine needs of a GGUF model except the tokenizer: what packed storage is
/// built from. [`ModelParts::to_params`] is the interim path that dequantizes it all to f32.
#[derive(Clone, Debug)]
pub struct ModelParts<'a> {
    pub config: ModelConfig,
    /// In [`ParamLayout`] order.
    pub tensors: Vec<GgufTensor<'a>>,
}

/// The longest context taken from `llama.context_length` (longer ones are clamped to it).
pub const MAX_CONTEXT: usize = 1 << 20;

/// The architectures tinychat runs (llama.cpp converts Mistral-style models as `llama`).
const ARCHS: [&str; 1] = ["llama"];

/// The model configuration from `general.architecture` and `llama.*` metadata, with the
/// vocabulary size from the embedding's shape (else `llama.vocab_size`, the token list), a tied
/// head when `output.weight` is absent, and the bos/eos/pad ids of `tokenizer.ggml.*`.
pub fn config_from_metadata(g: &Gguf) -> Result<ModelConfig> {
    let arch = g.req_str("general.architecture")?;
    if !ARCHS.contains(&arch) {
        return Err(g.err(format!(
            "general.architecture is {arch:?}; tinychat runs {} GGUF files (Llama, SmolLM2, TinyLlama, Mistral-style models)",
            ARCHS.map(|a| format!("{a:?}")).join(", ")
        )));
    }
    let key = |k: &str| format!("{arch}.{k}");
    if let Some(v) = g.get(&key("attention.head_count_kv")) {
        if v.as_array().is_some() {
            return Err(g.err(format!(
                "{} is a per-layer list; tinychat needs one key/value head count for all layers",
                key("attention.head_count_kv")
            )));
        }
    }
    let dim = g.req_usize(&key("embedding_length"))?;
    let n_heads = g.req_usize(&key("attention.head_count"))?;
    let n_kv_heads = g.usize(&key("attention.head_count_kv"))?.unwrap_or(n_heads);
    let head_dim = match g.usize(&key("attention.key_length"))? {
        Some(h) => h,
        None if n_heads > 0 && dim % n_heads == 0 => dim / n_heads,
        None => {
            return Err(g.err(format!(
                "{} {dim} is not divisible by {} {n_heads}",
                key("embedding_length"),
                key("attention.head_count")
            )))
        }
    };
    if let Some(v) = g.usize(&key("attention.value_length"))? {
        if v != head_dim {
            return Err(g.err(format!(
                "{} ({v}) differs from the key length ({head_dim}); tinychat needs them equal",
                key("attention.value_length")
            )));
        }
    }
    if let Some(r) = g.usize(&key("rope.dimension_count"))? {
        if r != head_dim {
            return Err(g.err(format!(
                "{} is {r} but heads have {head_dim} dimensions; partial RoPE is not supported",
                key("rope.dimension_count")
            )));
        }
    }
    if let Some(kind) = g.str(&key("rope.scaling.type"))? {
        if kind != "none" {
            return Err(g.err(format!(
                "{} {kind:?} is not supported (only the default RoPE)",
                key("rope.scaling.type")
            )));
        }
    }
    if g.tensor("rope_freqs.weight").is_some() {
        return Err(g.err(
            "tensor \"rope_freqs.weight\" (Llama 3.1-style RoPE scaling) is not supported (only the default RoPE)",
        ));
    }
    // The embedding's rows are the model's vocabulary (it may be padded past the token list).
    let vocab_size = match g.tensor("token_embd.weight").and_then(|t| t.ne.get(1)) {
        Some(&v) => v,
        None => match g.usize(&key("vocab_size"))? {
            Some(v) => v,
            None => g
                .get("tokenizer.ggml.tokens")
                .and_then(|v| v.as_array())
                .map(|t| t.len())
                .ok_or_else(|| {
                    g.err("the vocabulary size is unknown: no token_embd.weight, llama.vocab_size or tokenizer.ggml.tokens")
                })?,
        },
    };
    let id =
        |k: &str| -> Result<Option<u32>> { Ok(g.usize(k)?.and_then(|x| u32::try_from(x).ok())) };
    let mut eos_token_ids: Vec<u32> = vec![];
    // llama.cpp ends generation at eos and at eot/eom (end of turn, end of message) when set.
    for k in [
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id",
    ] {
        if let Some(i) = id(k)? {
            if !eos_token_ids.contains(&i) {
                eos_token_ids.push(i);
            }
        }
    }
    let cfg = ModelConfig {
        vocab_size,
        dim,
        n_layers: g.req_usize(&key("block_count"))?,
        n_heads,
        n_kv_heads,
        head_dim,
        hidden_dim: g.req_usize(&key("feed_forward_length"))?,
        // The RoPE table is built for every position up front; no engine here gets near 2^20
        // positions, and a hostile value must not size an allocation.
        max_seq_len: g.req_usize(&key("context_length"))?.min(MAX_CONTEXT),
        norm_eps: g
            .f64(&key("attention.layer_norm_rms_epsilon"))?
            .unwrap_or(1e-5) as f32,
        rope_theta: g.f64(&key("rope.freq_base"))?.unwrap_or(10000.0) as f32,
        tie_embeddings: g.tensor("output.weight").is_none(),
        bos_token_id: id("tokenizer.ggml.bos_token_id")?,
        eos_token_ids,
        pad_token_id: id("tokenizer.ggml.padding_token_id")?,
        ..ModelConfig::llama_base()
    };
    // The file's own measure first: its messages name the GGUF keys. Then the limits every
    // model has (config::LIMITS), which name config.json's fields.
    check_sizes_fit(g, &cfg)?;
    cfg.validate().map_err(|msg| g.err(msg))?;
    Ok(cfg)
}

/// Hostile sizes must not size an allocation or overflow: every layer needs its own tensors,
/// and no matrix can hold more values than the file has bytes for (4-bit types store two per
/// byte; none packs more than 256 in 144 bytes).
fn check_sizes_fit(g: &Gguf, cfg: &ModelConfig) -> Result<()> {
    if cfg.n_layers > g.tensors.len() {
        return Err(g.err(format!(
            "llama.block_count is {} but the file holds only {} tensors",
            cfg.n_layers,
            g.tensors.len()
        )));
    }
    let most = g
        .tensors
        .iter()
        .map(|t| t.size)
        .sum::<usize>()
        .saturating_mul(2);
    let c = cfg.dim;
    let q = cfg.n_heads.saturating_mul(cfg.head_dim);
    let kv = cfg.n_kv_heads.saturating_mul(cfg.head_dim);
    for (what, a, b) in [
        ("vocabulary × width", cfg.vocab_size, c),
        ("query width × width", q, c),
        ("key/value width × width", kv, c),
        ("feed-forward × width", cfg.hidden_dim, c),
    ] {
        if a.checked_mul(b).is_none_or(|n| n > most) {
            return Err(g.err(format!(
                "the sizes in the metadata ({what} = {a} × {b}) need more weights than the file holds"
            )));
        }
    }
    Ok(())
}

/// The GGUF name of a llama slot.
pub fn gguf_name(slot: Slot) -> Option<String> {
    use LayerSlot::*;
    Some(match slot {
        Slot::TokEmb => "token_embd.weight".into(),
        Slot::FinalNormW => "output_norm.weight".into(),
        Slot::LmHead => "output.weight".into(),
        Slot::Layer(l, s) => {
            let n = match s {
                AttnNormW => "attn_norm",
                Wq => "attn_q",
                Wk => "attn_k",
                Wv => "attn_v",
                Wo => "attn_output",
                MlpNormW => "ffn_norm",
                WGate => "ffn_gate",
                WUp => "ffn_up",
                WDown => "ffn_down",
                _ => return None,
            };
            format!("blk.{l}.{n}.weight")
        }
        _ => return None,
    })
}

/// Moves the rows of a Q or K projection from Hugging Face's order to llama.cpp's (what its
/// converter does before writing them): the inverse of [`unpermute_rows`].
pub fn permute_rows(bytes: &[u8], rows: usize, row_bytes: usize, n_heads: usize) -> Vec<u8> {
    move_rows(bytes, rows, row_bytes, n_heads, true)
}

/// Moves the rows of a Q or K projection from llama.cpp's order back to Hugging Face's (see the
/// module doc): `rows` rows of `row_bytes` bytes, `n_heads` heads.
pub fn unpermute_rows(bytes: &[u8], rows: usize, row_bytes: usize, n_heads: usize) -> Vec<u8> {
    move_rows(bytes, rows, row_bytes, n_heads, false)
}

/// Row `h·hs + i·hs/2 + j` in Hugging Face's order is row `h·hs + 2j + i` in llama.cpp's.
fn move_rows(
    bytes: &[u8],
    rows: usize,
    row_bytes: usize,
    n_heads: usize,
    to_gguf: bool,
) -> Vec<u8> {
    let hs = rows / n_heads;
    let half = hs / 2;
    let mut out = vec![0u8; bytes.len()];
    for h in 0..n_heads {
        for i in 0..2 {
            for j in 0..half {
                let (hf, gguf) = (h * hs + i * half + j, h * hs + 2 * j + i);
                let (dst, src) = if to_gguf { (gguf, hf) } else { (hf, gguf) };
                out[dst * row_bytes..(dst + 1) * row_bytes]
                    .copy_from_slice(&bytes[src * row_bytes..(src + 1) * row_bytes]);
            }
        }
    }
    out
}

impl<'a> ModelParts<'a> {
    /// The configuration and every weight of a parsed GGUF file, shapes checked against the
    /// configuration, Q and K rows back in rotate-half order.
    pub fn from_gguf(g: &Gguf<'a>) -> Result<Self> {
        Self::with_config(g, config_from_metadata(g)?)
    }

    /// [`Self::from_gguf`] with a configuration known beforehand (a file of blocks split off a
    /// model, whose metadata holds no `llama.*` keys): every tensor of `config` must be there,
    /// under its GGUF name, in its shape.
    pub fn with_config(g: &Gguf<'a>, config: ModelConfig) -> Result<Self> {
        let layout = ParamLayout::new(&config);
        let path = PathBuf::from(&g.origin);
        let mut tensors = Vec::with_capacity(layout.specs.len());
        for spec in &layout.specs {
            // A config of blocks split off a biased model names slots a llama GGUF has no name
            // for (the configs read from GGUF metadata never do).
            let name = gguf_name(spec.slot).ok_or_else(|| Error::Gguf {
                path: path.clone(),
                msg: format!(
                    "the model needs {:?}, a bias, and GGUF llama files hold none: use safetensors",
                    spec.slot
                ),
            })?;
            let t: &TensorInfo = g.tensor(&name).ok_or_else(|| Error::MissingTensor {
                path: path.clone(),
                name: name.clone(),
                expected: spec.shape.clone(),
            })?;
            let shape = t.shape();
            if shape != spec.shape {
                return Err(Error::ShapeMismatch {
                    path: path.clone(),
                    name,
                    expected: spec.shape.clone(),
                    actual: shape,
                });
            }
            let data = g.tensor_data(t);
            let heads = match spec.slot {
                Slot::Layer(_, LayerSlot::Wq) => Some(config.n_heads),
                Slot::Layer(_, LayerSlot::Wk) => Some(config.n_kv_heads),
                _ => None,
            };
            let bytes = match heads {
                Some(n) => {
                    let row = t.size / shape[0];
                    Cow::Owned(unpermute_rows(data, shape[0], row, n))
                }
                None => Cow::Borrowed(data),
            };
            tensors.push(GgufTensor {
                slot: spec.slot,
                name,
                qtype: t.qtype,
                shape,
                bytes,
            });
        }
        Ok(ModelParts { config, tensors })
    }

    /// Every weight dequantized to f32 (the interim path until packed storage lands).
    pub fn to_params(&self) -> Params {
        let mut params = Params::zeros(&self.config);
        for t in &self.tensors {
            let dst = params
                .get_mut(t.slot)
                .expect("the tensors were made from this layout");
            crate::quant::dequantize(t.qtype, &t.bytes, dst);
        }
        params
    }

    /// The model with f32 weights (what `--dtype f32` asks for).
    pub fn to_model_f32(&self) -> Model {
        Model::new(self.config.clone(), self.to_params(), DType::F32)
    }

    /// Every weight in the type the file stores it in: quantized matrices stay packed (copied
    /// out of the file once); 1-D tensors (norms) become f32, as the engines read them.
    pub fn to_weights(&self) -> Result<Weights> {
        let layout = ParamLayout::new(&self.config);
        let mut tensors = Vec::with_capacity(self.tensors.len());
        for (spec, t) in layout.specs.iter().zip(&self.tensors) {
            debug_assert_eq!(spec.slot, t.slot);
            let cols = *t.shape.last().expect("tensors have a shape");
            if t.qtype.row_bytes(cols).is_none() {
                return Err(Error::Gguf {
                    path: PathBuf::from(&t.name),
                    msg: format!(
                        "rows of {cols} values are not whole {} blocks of {}",
                        t.qtype,
                        t.qtype.block_len()
                    ),
                });
            }
            let data = if t.shape.len() == 1 && t.qtype != QType::F32 {
                let mut v = vec![0.0; spec.len];
                crate::quant::dequantize(t.qtype, &t.bytes, &mut v);
                TensorData::F32(v)
            } else {
                let b = &t.bytes;
                match t.qtype {
                    QType::F32 => TensorData::F32(
                        b.chunks_exact(4)
                            .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
                            .collect(),
                    ),
                    QType::F16 => TensorData::F16(
                        b.chunks_exact(2)
                            .map(|x| half::f16::from_le_bytes([x[0], x[1]]))
                            .collect(),
                    ),
                    QType::BF16 => TensorData::BF16(
                        b.chunks_exact(2)
                            .map(|x| half::bf16::from_le_bytes([x[0], x[1]]))
                            .collect(),
                    ),
                    q => TensorData::Quant(q, b.to_vec()),
                }
            };
            tensors.push(Tensor {
                shape: t.shape.clone(),
                data,
            });
        }
        Ok(Weights { layout, tensors })
    }

    /// The model with its weights as the file stores them ([`Self::to_weights`]).
    pub fn to_model(&self) -> Result<Model> {
        Ok(Model::from_weights(self.config.clone(), self.to_weights()?))
    }

    /// The weight types in the file and how many tensors use each ("Q4_1 ×210, F32 ×61").
    pub fn type_summary(&self) -> String {
        let mut counts: Vec<(QType, usize)> = vec![];
        for t in &self.tensors {
            match counts.iter_mut().find(|(q, _)| *q == t.qtype) {
                Some((_, n)) => *n += 1,
                None => counts.push((t.qtype, 1)),
            }
        }
        counts
            .iter()
            .map(|(q, n)| format!("{q} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_undoes_llama_cpp_permute() {
        // llama.cpp: w.reshape(n_head, 2, hs/2, cols).swapaxes(1, 2).reshape(rows, cols)
        let (n_head, hs, cols) = (3, 8, 2);
        let rows = n_head * hs;
        let hf: Vec<u8> = (0..rows * cols).map(|x| x as u8).collect();
        let mut gguf = vec![0u8; hf.len()];
        for h in 0..n_head {
            for j in 0..hs / 2 {
                for i in 0..2 {
                    let g_row = h * hs + j * 2 + i; // index (h, j, i) after the swap
                    let hf_row = h * hs + i * hs / 2 + j; // index (h, i, j) before it
                    gguf[g_row * cols..(g_row + 1) * cols]
                        .copy_from_slice(&hf[hf_row * cols..(hf_row + 1) * cols]);
                }
            }
        }
        assert_eq!(unpermute_rows(&gguf, rows, cols, n_head), hf);
        assert_eq!(permute_rows(&hf, rows, cols, n_head), gguf);
    }
}

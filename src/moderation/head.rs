//! A moderation head on a pretrained trunk (Llama Guard's recipe at 135M): the chat model's own
//! transformer reads the text, a small multi-label head reads its hidden states.
//!
//! ```text
//! text ─► normalize ─► prefix + tokens + suffix ─► trunk blocks 0..layers ─► x (T, C)
//!      ─► pool over the text's positions (mean, mean‖max, or the last)  p (C or 2C)
//!      ─► standardize: z = (p − mean) / std                             z
//!      ─► logits = W2 · gelu(W1 · z + b1) + b2    (or W · z + b)        (L)
//! ```
//!
//! The directory holds `config.json` (`"model_type": "tinychat_moderation_head"`, the trunk it
//! reads, the layers, the pooling, the prompt, `id2label`), `model.safetensors` (the head's
//! tensors below) and `thresholds.json`; the trunk's weights and tokenizer are the chat model's,
//! named by a path relative to the directory (`"trunk": "../smollm2.gguf"`), so a bundle ships
//! and loads them once.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::ops::{gelu_forward, linear_forward};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `model_type` of a head's config.json.
pub const MODEL_TYPE: &str = "tinychat_moderation_head";

/// A head's tuned top blocks, beside its model.safetensors: the tensors of
/// [`Model::blocks_model`] (HF names, `model.layers.0…`), in f16; or, with
/// [`HeadConfig::block_rank`], their low-rank corrections to the trunk's ([`super::low_rank`]).
/// With `"blocks_format": "gguf"` they are [`super::blocks_gguf::FILE`] instead.
pub const BLOCKS_FILE: &str = "blocks.safetensors";

/// The container of a head's tuned blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlocksFormat {
    /// [`BLOCKS_FILE`]: f16 (or bf16, f32) safetensors, whole blocks or low-rank corrections.
    #[default]
    Safetensors,
    /// [`super::blocks_gguf::FILE`]: whole blocks in a GGUF type (Q8_0).
    Gguf,
}

/// The largest [`HeadConfig::block_rank`] a head may name (the CLI's limit too).
pub const MAX_BLOCK_RANK: usize = 4096;

/// Whether `bytes` is a safetensors file holding low-rank factors.
fn holds_factors(bytes: &[u8]) -> bool {
    safetensors::SafeTensors::deserialize(bytes)
        .is_ok_and(|st| st.names().iter().any(|n| n.contains(".lora_A.")))
}

/// How the head reads the trunk's hidden states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadPooling {
    /// The mean over the text's positions.
    #[default]
    Mean,
    /// The last position (the end of the prompt's suffix).
    Last,
    /// The mean over the text's positions, then each channel's maximum over them (2C values):
    /// a phrase anywhere in the text can drive the max, whatever surrounds it.
    MeanMax,
}

impl HeadPooling {
    /// Values the pooling gives for a trunk of width `c`: the head's input width.
    pub fn width(self, c: usize) -> usize {
        match self {
            HeadPooling::MeanMax => 2 * c,
            _ => c,
        }
    }
}

/// A head's config.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadConfig {
    pub model_type: String,
    /// The trunk: a model directory or `.gguf`, relative to the head's directory.
    pub trunk: String,
    /// Trunk blocks the text runs through (the rest are not computed).
    pub layers: usize,
    #[serde(default)]
    pub pooling: HeadPooling,
    /// The text is read as `prefix + text + suffix` (a chat template's user turn, so the trunk
    /// sees a message as it would in a conversation).
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    /// Text tokens per window; longer texts are read in windows that overlap by half.
    pub window: usize,
    /// The most windows one check reads (a longer text is refused, never cut short).
    #[serde(default = "default_max_windows")]
    pub max_windows: usize,
    /// The top `tuned_blocks` of the `layers` blocks are the moderator's own, tuned with the
    /// head and shipped beside it ([`BLOCKS_FILE`]): the trunk runs blocks
    /// 0..layers − tuned_blocks, these run on its states. 0: every block is the trunk's.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tuned_blocks: usize,
    /// The tuned blocks' weight matrices ship as rank-`block_rank` corrections to the trunk's
    /// ([`super::low_rank`]); 0: the blocks ship whole, in f16 or (`blocks_format` gguf) Q8_0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub block_rank: usize,
    /// The file the tuned blocks ship in (absent: safetensors, as earlier releases wrote).
    #[serde(default, skip_serializing_if = "is_safetensors")]
    pub blocks_format: BlocksFormat,
    /// Width of the hidden layer, 0 for a linear head.
    #[serde(default)]
    pub hidden: usize,
    /// C of the trunk, checked when it loads.
    pub hidden_size: usize,
    pub id2label: BTreeMap<String, String>,
}

fn default_max_windows() -> usize {
    64
}

/// A frozen head's config.json omits `tuned_blocks`, so earlier releases still read it.
fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_safetensors(f: &BlocksFormat) -> bool {
    *f == BlocksFormat::Safetensors
}

impl HeadConfig {
    /// The file of the tuned blocks, beside config.json (when `tuned_blocks` > 0).
    pub fn blocks_file(&self) -> &'static str {
        match self.blocks_format {
            BlocksFormat::Safetensors => BLOCKS_FILE,
            BlocksFormat::Gguf => super::blocks_gguf::FILE,
        }
    }

    /// The labels in id order.
    pub fn labels(&self, origin: &str) -> Result<Vec<String>> {
        let mut out = vec![String::new(); self.id2label.len()];
        for (k, v) in &self.id2label {
            let i: usize =
                k.parse()
                    .ok()
                    .filter(|&i| i < out.len())
                    .ok_or_else(|| Error::Config {
                        path: origin.into(),
                        msg: format!("id2label: key {k:?} is not an id below {}", out.len()),
                    })?;
            out[i] = v.clone();
        }
        Ok(out)
    }
}

/// The head's weights: its tuned blocks when it has them, the standardization of the pooled
/// state, then one or two linear layers.
#[derive(Clone)]
pub struct ModerationHead {
    pub config: HeadConfig,
    /// The tuned top blocks ([`HeadConfig::tuned_blocks`]), once [`Self::load_blocks`] read them.
    pub blocks: Option<Arc<Model>>,
    pub labels: Vec<String>,
    /// (C) mean and 1/std of the pooled states of the training texts.
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
    /// (H, C) and (H) when `hidden > 0`.
    pub w1: Option<(Tensor, Vec<f32>)>,
    /// (L, H or C) and (L).
    pub w2: Tensor,
    pub b2: Vec<f32>,
}

impl ModerationHead {
    /// Reads the head from its config.json text and model.safetensors bytes.
    pub fn from_bytes(config_json: &str, safetensors: &[u8], origin: &str) -> Result<Self> {
        let config: HeadConfig =
            serde_json::from_str(config_json).map_err(|source| Error::Json {
                path: format!("{origin}/config.json").into(),
                source,
            })?;
        let labels = config.labels(&format!("{origin}/config.json"))?;
        let path = format!("{origin}/model.safetensors");
        let st =
            safetensors::SafeTensors::deserialize(safetensors).map_err(|e| Error::Safetensors {
                path: path.clone().into(),
                msg: e.to_string(),
            })?;
        let (c, l, h) = (
            config.pooling.width(config.hidden_size),
            labels.len(),
            config.hidden,
        );
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let t = st.tensor(name).map_err(|_| Error::MissingTensor {
                path: path.clone().into(),
                name: name.into(),
                expected: shape.to_vec(),
            })?;
            if t.shape() != shape || t.dtype() != safetensors::Dtype::F32 {
                return Err(Error::ShapeMismatch {
                    path: path.clone().into(),
                    name: format!("{name} ({:?})", t.dtype()),
                    expected: shape.to_vec(),
                    actual: t.shape().to_vec(),
                });
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let mean = get("mean", &[c])?;
        let std = get("std", &[c])?;
        let inv_std = std.iter().map(|s| 1.0 / s.max(1e-6)).collect();
        let w1 = if h > 0 {
            Some((
                Tensor::f32(vec![h, c], get("w1", &[h, c])?),
                get("b1", &[h])?,
            ))
        } else {
            None
        };
        let k = if h > 0 { h } else { c };
        let w2 = Tensor::f32(vec![l, k], get("w2", &[l, k])?);
        let b2 = get("b2", &[l])?;
        Ok(ModerationHead {
            config,
            blocks: None,
            labels,
            mean,
            inv_std,
            w1,
            w2,
            b2,
        })
    }

    /// A head with zero weights (every logit 0) for `config`: what training starts from, and
    /// enough to compute the pooled states it trains on.
    pub fn untrained(config: HeadConfig) -> Result<Self> {
        let labels = config.labels("the head's config")?;
        let (c, l, h) = (
            config.pooling.width(config.hidden_size),
            labels.len(),
            config.hidden,
        );
        let k = if h > 0 { h } else { c };
        Ok(ModerationHead {
            mean: vec![0.0; c],
            inv_std: vec![1.0; c],
            w1: (h > 0).then(|| (Tensor::f32(vec![h, c], vec![0.0; h * c]), vec![0.0; h])),
            w2: Tensor::f32(vec![l, k], vec![0.0; l * k]),
            b2: vec![0.0; l],
            config,
            blocks: None,
            labels,
        })
    }

    /// The first trunk block this head's own tuned blocks replace (`layers` when it has none):
    /// the trunk runs blocks 0..this.
    pub fn trunk_layers(&self) -> usize {
        self.config.layers.saturating_sub(self.config.tuned_blocks)
    }

    /// Reads the tuned blocks from the bytes of [`HeadConfig::blocks_file`] (`origin` names the
    /// head's directory in errors), shaped as the blocks of `trunk` they replace: a file of
    /// another shape is an error naming its tensor.
    pub fn load_blocks(&mut self, trunk: &Model, bytes: &[u8], origin: &str) -> Result<()> {
        let (k, layers) = (self.config.tuned_blocks, self.config.layers);
        if k == 0 || k >= layers {
            return Err(Error::Config {
                path: format!("{origin}/config.json").into(),
                msg: format!(
                    "tuned_blocks {k}: a head with tuned blocks tunes 1..{layers} of its {layers} blocks"
                ),
            });
        }
        let config = trunk
            .blocks_config(layers - k..layers)
            .map_err(|e| Error::Config {
                path: format!("{origin}/config.json").into(),
                msg: format!("layers {layers}, tuned_blocks {k} on this trunk: {e}"),
            })?;
        let path = format!("{origin}/{}", self.config.blocks_file());
        let rank = self.config.block_rank;
        let blocks = if rank > MAX_BLOCK_RANK {
            return Err(Error::Config {
                path: format!("{origin}/config.json").into(),
                msg: format!("block_rank {rank}: use 0 (whole blocks) or 1..={MAX_BLOCK_RANK}"),
            });
        } else if self.config.blocks_format == BlocksFormat::Gguf {
            if rank > 0 {
                return Err(Error::Config {
                    path: format!("{origin}/config.json").into(),
                    msg: format!(
                        "block_rank {rank} with blocks_format gguf: low-rank corrections ship as safetensors"
                    ),
                });
            }
            super::blocks_gguf::read(bytes, &config, layers - k, &path)?
        } else if rank > 0 {
            let base = trunk.blocks_model(layers - k..layers)?;
            super::low_rank::apply(&base, bytes, rank, path.as_ref())?
        } else {
            let weights = crate::weights::weights_from_bytes(bytes, &config, path.as_ref())
                .map_err(|e| match holds_factors(bytes) {
                    true => Error::Config {
                        path: format!("{origin}/config.json").into(),
                        msg: format!(
                            "{BLOCKS_FILE} holds low-rank corrections (lora_A / lora_B), but no block_rank is given ({e})"
                        ),
                    },
                    false => e,
                })?;
            Model::from_weights(config, weights)
        };
        self.blocks = Some(Arc::new(blocks));
        Ok(())
    }

    /// The states the head pools, from the trunk's states `x` (T, C) after blocks
    /// 0..[`Self::trunk_layers`]: `x` itself, or the tuned blocks run on it.
    pub fn top_states(&self, x: Vec<f32>) -> Result<Vec<f32>> {
        match &self.blocks {
            Some(b) => b.blocks_on_states(x),
            None => Ok(x),
        }
    }

    /// The label logits (L) of one pooled trunk state `p` (C).
    pub fn forward(&self, p: &[f32]) -> Vec<f32> {
        let z: Vec<f32> = p
            .iter()
            .zip(&self.mean)
            .zip(&self.inv_std)
            .map(|((x, m), s)| (x - m) * s)
            .collect();
        let inp = match &self.w1 {
            Some((w1, b1)) => {
                let mut a = vec![0.0; b1.len()];
                linear_forward(&mut a, &z, w1, Some(b1), 1);
                let mut g = vec![0.0; a.len()];
                gelu_forward(&mut g, &a);
                g
            }
            None => z,
        };
        let mut out = vec![0.0; self.b2.len()];
        linear_forward(&mut out, &inp, &self.w2, Some(&self.b2), 1);
        out
    }
}

/// Pools the trunk's states `x` (T, C) over the text's positions `text` (a range of T).
pub fn pool(x: &[f32], c: usize, text: std::ops::Range<usize>, pooling: HeadPooling) -> Vec<f32> {
    let t = x.len() / c;
    match pooling {
        HeadPooling::Last => x[(t - 1) * c..t * c].to_vec(),
        HeadPooling::Mean | HeadPooling::MeanMax => {
            let range = if text.is_empty() { 0..t } else { text };
            let n = range.len() as f32;
            let mut out = vec![0.0; c];
            for r in range.clone() {
                for (o, v) in out.iter_mut().zip(&x[r * c..(r + 1) * c]) {
                    *o += v / n;
                }
            }
            if pooling == HeadPooling::MeanMax {
                let mut mx = vec![f32::NEG_INFINITY; c];
                for r in range {
                    for (o, v) in mx.iter_mut().zip(&x[r * c..(r + 1) * c]) {
                        *o = o.max(*v);
                    }
                }
                out.extend(mx);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three positions of width 2; the text is positions 1..3.
    #[test]
    fn pooling_reads_the_texts_positions() {
        let x = [9.0, 9.0, 1.0, -4.0, 3.0, 2.0];
        assert_eq!(pool(&x, 2, 1..3, HeadPooling::Mean), vec![2.0, -1.0]);
        assert_eq!(
            pool(&x, 2, 1..3, HeadPooling::MeanMax),
            vec![2.0, -1.0, 3.0, 2.0]
        );
        assert_eq!(pool(&x, 2, 1..3, HeadPooling::Last), vec![3.0, 2.0]);
        assert_eq!(HeadPooling::MeanMax.width(576), 1152);
    }
}

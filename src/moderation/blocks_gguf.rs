//! A head's tuned blocks as a GGUF file (`blocks.gguf`, `"blocks_format": "gguf"`): the
//! tensors of [`Model::blocks_model`] under llama.cpp's names (`blk.0…` is the first tuned
//! block), Q and K rows in llama.cpp's order, the matrices in a packed type (Q8_0: 34 bytes per
//! 32 weights, half of f16), the norms in f32. The blocks run from the file's types as a GGUF
//! model does, so a head calibrated on them is calibrated on what ships.
//!
//! ```text
//! general.architecture = "llama"    general.type = "tinychat.moderation_blocks"
//! tinychat.blocks.first = 16        tinychat.blocks.count = 4   (the trunk blocks they replace)
//! token_embd.weight  (1, C) f32 zeros, output_norm.weight (C) f32   (never applied)
//! blk.{l}.attn_norm / attn_q / attn_k / attn_v / attn_output / ffn_norm / ffn_gate / ffn_up /
//! ffn_down .weight
//! ```

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::gguf::model::{gguf_name, permute_rows};
use crate::gguf::{Gguf, ModelParts, Value, Writer};
use crate::model::Model;
use crate::params::{LayerSlot, Slot};
use crate::quant::QType;

/// The file of a head whose config says `"blocks_format": "gguf"`.
pub const FILE: &str = "blocks.gguf";

/// `general.type` of the file.
const TYPE: &str = "tinychat.moderation_blocks";

/// The file of `blocks` (a [`Model::blocks_model`], weights in any type), its matrices stored
/// as `qtype`: the blocks `first..first + n_layers` of the trunk they replace.
pub fn to_bytes(blocks: &Model, qtype: QType, first: usize) -> Result<Vec<u8>> {
    let cfg = &blocks.config;
    let mut w = Writer::new();
    w.kv("general.architecture", Value::Str("llama".into()))
        .kv("general.type", Value::Str(TYPE.into()))
        .kv("tinychat.blocks.first", Value::U32(first as u32))
        .kv("tinychat.blocks.count", Value::U32(cfg.n_layers as u32));
    for (spec, t) in blocks
        .weights
        .layout
        .specs
        .iter()
        .zip(&blocks.weights.tensors)
    {
        let name = gguf_name(spec.slot)
            .ok_or_else(|| Error::InvalidArgument(format!("{:?} has no GGUF name", spec.slot)))?;
        let values = t.to_f32();
        let matrix = spec.shape.len() == 2 && spec.slot != Slot::TokEmb;
        let q = if matrix { qtype } else { QType::F32 };
        let cols = *spec.shape.last().expect("tensors have a shape");
        let row_bytes = q.row_bytes(cols).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{name}: rows of {cols} weights are not whole {q} blocks of {}",
                q.block_len()
            ))
        })?;
        let mut bytes = crate::quant::quantize(q, &values);
        let heads = match spec.slot {
            Slot::Layer(_, LayerSlot::Wq) => Some(cfg.n_heads),
            Slot::Layer(_, LayerSlot::Wk) => Some(cfg.n_kv_heads),
            _ => None,
        };
        if let Some(n) = heads {
            bytes = permute_rows(&bytes, spec.shape[0], row_bytes, n);
        }
        let ne: Vec<usize> = spec.shape.iter().rev().copied().collect();
        w.tensor(&name, &ne, q, bytes);
    }
    Ok(w.to_bytes())
}

/// The blocks of `bytes` (the file `path`), shaped as `config` (the trunk's
/// [`Model::blocks_config`] for blocks `first..`): a file of other blocks, another shape or a
/// type the engine cannot run is an error naming the file and the tensor or key.
pub fn read(bytes: &[u8], config: &ModelConfig, first: usize, path: &str) -> Result<Model> {
    let g = Gguf::parse(bytes, path)?;
    let bad = |msg: String| Error::Gguf {
        path: path.into(),
        msg,
    };
    let ty = g.str("general.type")?;
    if ty != Some(TYPE) {
        let got = ty.map_or("missing".into(), |t| format!("{t:?}"));
        return Err(bad(format!(
            "general.type is {got}, not \"{TYPE}\": not a file of a moderator's tuned blocks"
        )));
    }
    for (key, want) in [
        ("tinychat.blocks.first", first),
        ("tinychat.blocks.count", config.n_layers),
    ] {
        let got = g.usize(key)?;
        if got != Some(want) {
            let got = got.map_or("missing".into(), |n| n.to_string());
            return Err(bad(format!(
                "{key} is {got}: the head's config.json replaces the trunk's blocks {first}..{} (count {})",
                first + config.n_layers,
                config.n_layers
            )));
        }
    }
    ModelParts::with_config(&g, config.clone())?.to_model()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocks of a tiny random llama model (`bias`: with attention and MLP biases).
    fn blocks(bias: bool) -> Model {
        let cfg = ModelConfig {
            vocab_size: 4,
            dim: 32,
            n_layers: 3,
            n_heads: 4,
            n_kv_heads: 2,
            head_dim: 8,
            hidden_dim: 64,
            max_seq_len: 16,
            attn_bias: bias,
            mlp_bias: bias,
            ..ModelConfig::llama_base()
        };
        crate::gpu::bench::random_model(&cfg, 7)
            .blocks_model(1..3)
            .unwrap()
    }

    #[test]
    fn blocks_round_trip_and_corrupt_files_are_errors_not_panics() {
        let b = blocks(false);
        let bytes = to_bytes(&b, QType::Q8_0, 1).unwrap();
        let back = read(&bytes, &b.config, 1, "blocks.gguf").unwrap();
        assert_eq!(back.storage(), QType::Q8_0);
        // Every truncation, and a byte changed every 97 bytes (headers, sizes and weights alike).
        for n in (0..bytes.len()).step_by(61) {
            assert!(read(&bytes[..n], &b.config, 1, "blocks.gguf").is_err());
        }
        for i in (0..bytes.len()).step_by(97) {
            let mut c = bytes.clone();
            c[i] ^= 0xa5;
            let _ = read(&c, &b.config, 1, "blocks.gguf");
        }
    }

    #[test]
    fn biased_blocks_are_refused_by_name() {
        let b = blocks(true);
        let e = to_bytes(&b, QType::F16, 1).unwrap_err().to_string();
        assert!(e.contains("no GGUF name"), "{e}");
        // A file of unbiased blocks read as a biased model's.
        let bytes = to_bytes(&blocks(false), QType::F16, 1).unwrap();
        let e = read(&bytes, &b.config, 1, "blocks.gguf")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("blocks.gguf") && e.contains("a bias"), "{e}");
    }
}

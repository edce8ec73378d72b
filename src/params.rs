//! All parameters of a model in one flat `Vec<f32>`, with a table of names, shapes and offsets
//! (llm.c's `fill_in_parameter_sizes` + `malloc_and_point_parameters`). Training keeps its
//! gradients and AdamW moments in buffers of the same layout, so one offset table serves all.
//!
//! Linear weights are stored (out, in), like PyTorch's `nn.Linear`: row `o` holds the weights of
//! output `o`, so a decode-time matrix-vector product reads memory in order. GPT-2's Conv1D
//! weights, stored (in, out), are transposed on load and back on save (see `weights.rs`).

use crate::config::{Family, ModelConfig};
use std::collections::HashMap;

/// One tensor of a transformer block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerSlot {
    AttnNormW, // (C)
    AttnNormB, // (C)            gpt2
    Wq,        // (NH*HS, C)
    Bq,        // (NH*HS)        attn_bias
    Wk,        // (NKV*HS, C)
    Bk,        // (NKV*HS)
    Wv,        // (NKV*HS, C)
    Bv,        // (NKV*HS)
    Wo,        // (C, NH*HS)
    Bo,        // (C)
    MlpNormW,  // (C)
    MlpNormB,  // (C)            gpt2
    WGate,     // (FF, C)        llama
    BGate,     // (FF)           llama with mlp_bias
    WUp,       // (FF, C)        gpt2's c_fc
    BUp,       // (FF)
    WDown,     // (C, FF)        gpt2's mlp.c_proj
    BDown,     // (C)
}

/// Any tensor of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    TokEmb, // (V, C)
    PosEmb, // (maxT, C)  gpt2
    Layer(usize, LayerSlot),
    FinalNormW, // (C)
    FinalNormB, // (C)        gpt2
    LmHead,     // (V, C)     absent when tied to TokEmb
    ClsHead,    // (num_labels, C)  sequence-classification models only
}

#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub slot: Slot,
    /// tinychat's own name, e.g. `layers.3.wq`; the Hugging Face names live in `weights.rs`.
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
}

impl ParamSpec {
    /// Matrices get weight decay; norms, biases and embeddings do not (nanoGPT/TRL convention).
    pub fn is_matrix(&self) -> bool {
        self.shape.len() == 2 && !matches!(self.slot, Slot::TokEmb | Slot::PosEmb)
    }
}

#[derive(Clone, Debug)]
pub struct ParamLayout {
    pub specs: Vec<ParamSpec>,
    index: HashMap<Slot, usize>,
    pub total: usize,
}

impl ParamLayout {
    pub fn new(cfg: &ModelConfig) -> Self {
        let (c, v, ff) = (cfg.dim, cfg.vocab_size, cfg.hidden_dim);
        let (qd, kvd) = (cfg.q_dim(), cfg.kv_dim());
        let gpt2 = cfg.family == Family::Gpt2;
        let mut list: Vec<(Slot, String, Vec<usize>)> = vec![];
        list.push((Slot::TokEmb, "tok_emb".into(), vec![v, c]));
        if gpt2 {
            list.push((Slot::PosEmb, "pos_emb".into(), vec![cfg.max_seq_len, c]));
        }
        for l in 0..cfg.n_layers {
            use LayerSlot::*;
            let mut add = |s: LayerSlot, n: &str, shape: Vec<usize>| {
                list.push((Slot::Layer(l, s), format!("layers.{l}.{n}"), shape))
            };
            add(AttnNormW, "attn_norm.weight", vec![c]);
            if gpt2 {
                add(AttnNormB, "attn_norm.bias", vec![c]);
            }
            add(Wq, "wq.weight", vec![qd, c]);
            if cfg.attn_bias {
                add(Bq, "wq.bias", vec![qd]);
            }
            add(Wk, "wk.weight", vec![kvd, c]);
            if cfg.attn_bias {
                add(Bk, "wk.bias", vec![kvd]);
            }
            add(Wv, "wv.weight", vec![kvd, c]);
            if cfg.attn_bias {
                add(Bv, "wv.bias", vec![kvd]);
            }
            add(Wo, "wo.weight", vec![c, qd]);
            if cfg.attn_bias {
                add(Bo, "wo.bias", vec![c]);
            }
            add(MlpNormW, "mlp_norm.weight", vec![c]);
            if gpt2 {
                add(MlpNormB, "mlp_norm.bias", vec![c]);
            }
            if !gpt2 {
                add(WGate, "w_gate.weight", vec![ff, c]);
                if cfg.mlp_bias {
                    add(BGate, "w_gate.bias", vec![ff]);
                }
            }
            add(WUp, "w_up.weight", vec![ff, c]);
            if cfg.mlp_bias {
                add(BUp, "w_up.bias", vec![ff]);
            }
            add(WDown, "w_down.weight", vec![c, ff]);
            if cfg.mlp_bias {
                add(BDown, "w_down.bias", vec![c]);
            }
        }
        list.push((Slot::FinalNormW, "final_norm.weight".into(), vec![c]));
        if gpt2 {
            list.push((Slot::FinalNormB, "final_norm.bias".into(), vec![c]));
        }
        if cfg.is_classifier() {
            list.push((
                Slot::ClsHead,
                "cls_head.weight".into(),
                vec![cfg.labels.len(), c],
            ));
        } else if !cfg.tie_embeddings {
            list.push((Slot::LmHead, "lm_head.weight".into(), vec![v, c]));
        }
        let mut specs = Vec::with_capacity(list.len());
        let mut index = HashMap::new();
        let mut offset = 0;
        for (slot, name, shape) in list {
            let len = shape.iter().product();
            index.insert(slot, specs.len());
            specs.push(ParamSpec {
                slot,
                name,
                shape,
                offset,
                len,
            });
            offset += len;
        }
        ParamLayout {
            specs,
            index,
            total: offset,
        }
    }

    pub fn spec(&self, slot: Slot) -> Option<&ParamSpec> {
        self.index.get(&slot).map(|&i| &self.specs[i])
    }
    /// Position of `slot` in `specs`.
    pub fn index_of(&self, slot: Slot) -> Option<usize> {
        self.index.get(&slot).copied()
    }
    pub fn has(&self, slot: Slot) -> bool {
        self.index.contains_key(&slot)
    }
}

/// A flat parameter buffer and its layout.
#[derive(Clone, Debug)]
pub struct Params {
    pub layout: ParamLayout,
    /// All parameters, in layout order.
    pub data: Vec<f32>,
}

impl Params {
    pub fn zeros(cfg: &ModelConfig) -> Self {
        let layout = ParamLayout::new(cfg);
        let data = vec![0.0; layout.total];
        Params { layout, data }
    }

    /// The tensor in `slot`; panics if the model has no such tensor (a programming error:
    /// check with `get` for optional tensors).
    pub fn t(&self, slot: Slot) -> &[f32] {
        self.get(slot)
            .unwrap_or_else(|| panic!("the model has no tensor {slot:?}"))
    }
    pub fn get(&self, slot: Slot) -> Option<&[f32]> {
        self.layout
            .spec(slot)
            .map(|s| &self.data[s.offset..s.offset + s.len])
    }
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut [f32]> {
        let s = self.layout.spec(slot)?;
        let (o, n) = (s.offset, s.len);
        Some(&mut self.data[o..o + n])
    }
    pub fn layer(&self, l: usize, s: LayerSlot) -> &[f32] {
        self.t(Slot::Layer(l, s))
    }
    pub fn layer_opt(&self, l: usize, s: LayerSlot) -> Option<&[f32]> {
        self.get(Slot::Layer(l, s))
    }
    /// The output projection (V, C): lm_head, or the token embedding when tied.
    pub fn lm_head(&self) -> &[f32] {
        self.get(Slot::LmHead)
            .unwrap_or_else(|| self.t(Slot::TokEmb))
    }
}

//! The transformer's weights on the GPU: [`GpuModel`], uploaded once, each matrix in its storage
//! format (f32, f16, bf16 or GGUF blocks, never dequantized at upload), with the matrices that
//! read the same input stacked so that one dispatch computes them all: W_q, W_k and W_v as one
//! QKV matrix, W_gate and W_up as one (2FF, C) matrix. Every f32 vector (norm weights, biases)
//! lives in one buffer, `vecs`, addressed by offsets in the dispatches' uniforms.

use super::buffers::{self, Weight, WeightFormat};
use super::GpuContext;
use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::params::{LayerSlot as LS, Params, Slot};
use crate::tensor::Tensor;
use std::sync::Arc;

/// A norm's weight (and LayerNorm's bias) in `vecs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NormAt {
    pub w: usize,
    pub b: Option<usize>,
}

/// The MLP's input projections.
pub(crate) enum Mlp {
    /// llama: W_gate stacked over W_up (2FF, C), SwiGLU in the epilogue.
    GateUp(Weight),
    /// llama whose W_gate and W_up are stored in different formats: two dispatches, the gate
    /// to a buffer and silu(gate)·up in the second one's epilogue.
    Split { gate: Weight, up: Weight },
    /// gpt2: c_fc (FF, C) with GELU in the epilogue.
    Gelu(Weight),
}

/// One transformer block on the GPU. Offsets index `GpuModel::vecs`.
pub(crate) struct GpuLayer {
    pub attn_norm: NormAt,
    /// W_q, W_k, W_v stacked (NH·HS + 2·NKV·HS, C), or apart when their formats differ; each
    /// with the stacked row its row 0 is.
    pub qkv: Vec<(Weight, usize)>,
    pub b_qkv: Option<usize>, // (NH·HS + 2·NKV·HS)
    pub wo: Weight,           // (C, NH·HS)
    pub b_o: Option<usize>,   // (C)
    pub mlp_norm: NormAt,
    pub mlp: Mlp,
    pub b_mlp: Option<usize>,  // (2FF): gate then up; gpt2 (FF)
    pub w_down: Weight,        // (C, FF)
    pub b_down: Option<usize>, // (C)
}

/// A model's weights on the GPU.
pub struct GpuModel {
    pub gpu: Arc<GpuContext>,
    pub config: ModelConfig,
    /// The format most weight bytes are in (for reports).
    pub format: WeightFormat,
    pub(crate) tok_emb: Weight,               // (V, C)
    pub(crate) pos_emb: Option<wgpu::Buffer>, // (maxT, C) gpt2, f32
    pub(crate) lm_head: Option<Weight>,       // (V, C); None when tied to tok_emb
    pub(crate) cls_head: Option<Weight>,      // (num_labels, C) classifiers
    pub(crate) layers: Vec<GpuLayer>,
    pub(crate) final_norm: NormAt,
    /// Every norm weight and bias, one after another (f32).
    pub(crate) vecs: wgpu::Buffer,
    /// RoPE's cos (maxT, HS/2) then sin, and where sin starts; None for gpt2.
    pub(crate) rope: Option<(wgpu::Buffer, usize)>,
}

/// The model's f32 vectors, gathered for one upload.
struct Vecs<'a> {
    data: Vec<f32>,
    model: &'a Model,
}

impl Vecs<'_> {
    /// Appends the concatenation of `slots` (each of its given length; an absent one as
    /// zeros) and returns its offset, or None when none of them exists.
    fn push(&mut self, slots: &[(Slot, usize)]) -> Option<usize> {
        let w = &self.model.weights;
        if slots.iter().all(|(s, _)| w.get(*s).is_none()) {
            return None;
        }
        let at = self.data.len();
        for &(s, n) in slots {
            match w.vec_opt(s) {
                Some(v) => self.data.extend_from_slice(v),
                None => self.data.extend(std::iter::repeat_n(0.0, n)),
            }
        }
        Some(at)
    }

    fn norm(&mut self, w: Slot, b: Slot, c: usize) -> NormAt {
        NormAt {
            w: self.push(&[(w, c)]).expect("a norm weight"),
            b: self.push(&[(b, c)]),
        }
    }
}

impl GpuModel {
    /// The storage format of a model's weights as loaded (what `new` uses with `None`).
    pub fn default_format(model: &Model) -> WeightFormat {
        WeightFormat::from_qtype(model.storage())
    }

    /// Uploads `model`'s weights: matrices in their storage format, or all converted to
    /// `format` when one is given (f32 and f16 for comparisons; a packed format quantizes);
    /// vectors in f32.
    pub fn new(
        gpu: Arc<GpuContext>,
        model: &Model,
        format: impl Into<Option<WeightFormat>>,
    ) -> Result<Self> {
        let forced: Option<WeightFormat> = format.into();
        let cfg = model.config.clone();
        if cfg.head_dim > 256 {
            return Err(Error::Gpu(format!(
                "head_dim {} is larger than attention.wgsl supports (256)",
                cfg.head_dim
            )));
        }
        let p = &model.weights;
        let g = &*gpu;
        let fmt = |t: &Tensor| forced.unwrap_or(WeightFormat::from_qtype(t.qtype()));
        let name = |slot: Slot| {
            p.layout
                .spec(slot)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| format!("{slot:?}"))
        };
        let tensor = |slot: Slot| -> Result<&Tensor> {
            p.get(slot)
                .ok_or_else(|| Error::Gpu(format!("the model has no tensor {slot:?}")))
        };
        let mat = |slot: Slot| -> Result<Weight> {
            let t = tensor(slot)?;
            Weight::upload_tensors(g, &name(slot), &[t], fmt(t))
        };
        // Matrices stacked into one when they share a format, else uploaded apart (each with
        // the stacked row its row 0 is).
        let stack = |slots: &[Slot], label: &str| -> Result<Vec<(Weight, usize)>> {
            let ts = slots
                .iter()
                .map(|&s| tensor(s))
                .collect::<Result<Vec<_>>>()?;
            if ts.iter().all(|t| fmt(t) == fmt(ts[0])) {
                return Ok(vec![(
                    Weight::upload_tensors(g, label, &ts, fmt(ts[0]))?,
                    0,
                )]);
            }
            let mut row = 0;
            let mut out = vec![];
            for (&s, t) in slots.iter().zip(&ts) {
                out.push((mat(s)?, row));
                row += t.rows_cols().0;
            }
            Ok(out)
        };
        let (c, ff, qd, kvd) = (cfg.dim, cfg.hidden_dim, cfg.q_dim(), cfg.kv_dim());
        let mut v = Vecs {
            data: vec![],
            model,
        };
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for l in 0..cfg.n_layers {
            let s = |x: LS| Slot::Layer(l, x);
            let qkv = stack(
                &[s(LS::Wq), s(LS::Wk), s(LS::Wv)],
                &format!("layers.{l}.qkv"),
            )?;
            let (mlp, b_mlp) = match cfg.family {
                Family::Llama => {
                    let gu = stack(&[s(LS::WGate), s(LS::WUp)], &format!("layers.{l}.gate_up"))?;
                    let mut it = gu.into_iter().map(|(w, _)| w);
                    let mlp = match (it.next(), it.next()) {
                        (Some(w), None) => Mlp::GateUp(w),
                        (Some(gate), Some(up)) => Mlp::Split { gate, up },
                        _ => unreachable!("two matrices stacked or apart"),
                    };
                    (mlp, v.push(&[(s(LS::BGate), ff), (s(LS::BUp), ff)]))
                }
                Family::Gpt2 => (Mlp::Gelu(mat(s(LS::WUp))?), v.push(&[(s(LS::BUp), ff)])),
            };
            layers.push(GpuLayer {
                attn_norm: v.norm(s(LS::AttnNormW), s(LS::AttnNormB), c),
                qkv,
                b_qkv: v.push(&[(s(LS::Bq), qd), (s(LS::Bk), kvd), (s(LS::Bv), kvd)]),
                wo: mat(s(LS::Wo))?,
                b_o: v.push(&[(s(LS::Bo), c)]),
                mlp_norm: v.norm(s(LS::MlpNormW), s(LS::MlpNormB), c),
                mlp,
                b_mlp,
                w_down: mat(s(LS::WDown))?,
                b_down: v.push(&[(s(LS::BDown), c)]),
            });
        }
        let final_norm = v.norm(Slot::FinalNormW, Slot::FinalNormB, c);
        let rope = match model.rope_table() {
            Some(t) => {
                let mut table = t.cos.clone();
                table.extend_from_slice(&t.sin);
                Some((buffers::upload_f32(g, "rope", &table)?, t.cos.len()))
            }
            None => None,
        };
        let gm = GpuModel {
            tok_emb: mat(Slot::TokEmb)?,
            pos_emb: match p.vec_opt(Slot::PosEmb) {
                Some(d) => Some(buffers::upload_f32(g, &name(Slot::PosEmb), d)?),
                None => None,
            },
            lm_head: match p.layout.has(Slot::LmHead) {
                true => Some(mat(Slot::LmHead)?),
                false => None,
            },
            cls_head: match cfg.is_classifier() {
                true => Some(mat(Slot::ClsHead)?),
                false => None,
            },
            vecs: buffers::upload_f32(g, "vecs", &v.data)?,
            final_norm,
            layers,
            rope,
            format: forced.unwrap_or_else(|| Self::default_format(model)),
            gpu: gpu.clone(),
            config: cfg,
        };
        gpu.check()?;
        gpu.count_weight_bytes(gm.bytes());
        Ok(gm)
    }

    /// `model`'s weights on `gpu`, uploaded once: when an earlier call (another engine's) put
    /// this same `Arc<Model>` (`Arc::ptr_eq`) on this device in the same `format` and a session
    /// still holds it, that upload is returned; otherwise [`Self::new`] uploads it. This is how a
    /// moderation head whose trunk is the chat model runs on the chat model's weights: two
    /// sessions, each with its own KV cache and activations, read one set of weight buffers.
    pub fn shared(
        gpu: &Arc<GpuContext>,
        model: &Arc<Model>,
        format: Option<WeightFormat>,
    ) -> Result<Arc<Self>> {
        // Held across the upload, so two engines opened at once still upload once.
        let mut uploaded = gpu.uploaded();
        uploaded.retain(|u| u.gpu.strong_count() > 0);
        let same = |u: &&super::Uploaded| {
            u.format == format && u.model.upgrade().is_some_and(|m| Arc::ptr_eq(&m, model))
        };
        if let Some(gm) = uploaded.iter().find(same).and_then(|u| u.gpu.upgrade()) {
            return Ok(gm);
        }
        let gm = Arc::new(Self::new(gpu.clone(), model, format)?);
        uploaded.push(super::Uploaded {
            model: Arc::downgrade(model),
            format,
            gpu: Arc::downgrade(&gm),
        });
        Ok(gm)
    }

    /// Bytes this model's weights take on the device: every matrix in its GPU layout, the
    /// norm/bias vectors, RoPE's table and learned positions.
    pub fn bytes(&self) -> u64 {
        let w = |w: &Weight| w.buf.size();
        let mut n = w(&self.tok_emb) + self.vecs.size();
        n += self.lm_head.as_ref().map_or(0, w);
        n += self.cls_head.as_ref().map_or(0, w);
        n += self.pos_emb.as_ref().map_or(0, |b| b.size());
        n += self.rope.as_ref().map_or(0, |(b, _)| b.size());
        for l in &self.layers {
            n += l.qkv.iter().map(|(m, _)| w(m)).sum::<u64>() + w(&l.wo) + w(&l.w_down);
            n += match &l.mlp {
                Mlp::GateUp(m) | Mlp::Gelu(m) => w(m),
                Mlp::Split { gate, up } => w(gate) + w(up),
            };
        }
        n
    }

    pub(crate) fn lm_head(&self) -> &Weight {
        self.lm_head.as_ref().unwrap_or(&self.tok_emb)
    }

    /// Bytes of weight matrices one decode step reads: every layer's projections and the output
    /// head, in their GPU formats (the embedding lookup reads one row, which is negligible).
    pub fn weight_bytes_per_token(&self) -> u64 {
        let layers: u64 = self
            .layers
            .iter()
            .map(|l| {
                let mlp = match &l.mlp {
                    Mlp::GateUp(w) | Mlp::Gelu(w) => w.bytes(),
                    Mlp::Split { gate, up } => gate.bytes() + up.bytes(),
                };
                l.qkv.iter().map(|(w, _)| w.bytes()).sum::<u64>()
                    + l.wo.bytes()
                    + mlp
                    + l.w_down.bytes()
            })
            .sum();
        layers + self.lm_head().bytes()
    }

    /// "f32", or the formats of the matrices when they differ ("q4_1 + q8_0").
    pub fn describe_formats(&self) -> String {
        let mut names: Vec<&str> = vec![];
        let mut add = |w: &Weight| {
            if !names.contains(&w.format.name()) {
                names.push(w.format.name());
            }
        };
        for l in &self.layers {
            l.qkv.iter().for_each(|(w, _)| add(w));
            add(&l.wo);
            match &l.mlp {
                Mlp::GateUp(w) | Mlp::Gelu(w) => add(w),
                Mlp::Split { gate, up } => {
                    add(gate);
                    add(up);
                }
            }
            add(&l.w_down);
        }
        add(&self.tok_emb);
        if let Some(h) = &self.lm_head {
            add(h);
        }
        names.join(" + ")
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

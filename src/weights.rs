//! safetensors load and save, and the map between tinychat's parameter slots and the tensor
//! names of Hugging Face checkpoints.
//!
//! llama:  `model.embed_tokens.weight`, `model.layers.{l}.self_attn.q_proj.weight`, ... — same
//!         shapes as ours.
//! gpt2:   `[transformer.]h.{l}.attn.c_attn.weight` is Conv1D, stored (in, out) = (C, 3C) with
//!         q, k and v side by side; we split it and transpose each part to (out, in).

use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::params::{LayerSlot, ParamLayout, Params, Slot};
use crate::quant::QType;
use crate::tensor::{Tensor, Weights};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Storage dtype of weights in a file (compute is always f32 on the CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    F16,
    BF16,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
        }
    }
}

/// How a slot is stored in a Hugging Face file.
#[derive(Clone, Debug, PartialEq)]
enum Layout {
    /// Same shape and element order as ours.
    Same,
    /// A Conv1D weight (IN, OUT_total); our tensor is columns `col0..col0+out` transposed.
    Conv1d { col0: usize },
    /// A 1-D slice `start..start+len` of a larger vector (a fused bias).
    Slice { start: usize },
}

#[derive(Clone, Debug)]
struct HfName {
    name: String,
    /// Shape of the whole tensor in the file.
    shape: Vec<usize>,
    layout: Layout,
}

fn hf_name(cfg: &ModelConfig, slot: Slot, gpt2_prefix: &str) -> HfName {
    let (c, v, ff) = (cfg.dim, cfg.vocab_size, cfg.hidden_dim);
    let same = |name: String, shape: Vec<usize>| HfName {
        name,
        shape,
        layout: Layout::Same,
    };
    match cfg.family {
        Family::Llama => {
            let (qd, kvd) = (cfg.q_dim(), cfg.kv_dim());
            match slot {
                Slot::TokEmb => same("model.embed_tokens.weight".into(), vec![v, c]),
                Slot::PosEmb => unreachable!("llama has no learned positions"),
                Slot::FinalNormW => same("model.norm.weight".into(), vec![c]),
                Slot::FinalNormB => unreachable!("llama's RMSNorm has no bias"),
                Slot::LmHead => same("lm_head.weight".into(), vec![v, c]),
                Slot::ClsHead => same("score.weight".into(), vec![cfg.labels.len(), c]),
                Slot::Layer(l, s) => {
                    use LayerSlot::*;
                    let p = format!("model.layers.{l}");
                    let (n, shape) = match s {
                        AttnNormW => ("input_layernorm.weight", vec![c]),
                        Wq => ("self_attn.q_proj.weight", vec![qd, c]),
                        Bq => ("self_attn.q_proj.bias", vec![qd]),
                        Wk => ("self_attn.k_proj.weight", vec![kvd, c]),
                        Bk => ("self_attn.k_proj.bias", vec![kvd]),
                        Wv => ("self_attn.v_proj.weight", vec![kvd, c]),
                        Bv => ("self_attn.v_proj.bias", vec![kvd]),
                        Wo => ("self_attn.o_proj.weight", vec![c, qd]),
                        Bo => ("self_attn.o_proj.bias", vec![c]),
                        MlpNormW => ("post_attention_layernorm.weight", vec![c]),
                        WGate => ("mlp.gate_proj.weight", vec![ff, c]),
                        BGate => ("mlp.gate_proj.bias", vec![ff]),
                        WUp => ("mlp.up_proj.weight", vec![ff, c]),
                        BUp => ("mlp.up_proj.bias", vec![ff]),
                        WDown => ("mlp.down_proj.weight", vec![c, ff]),
                        BDown => ("mlp.down_proj.bias", vec![c]),
                        AttnNormB | MlpNormB => unreachable!("llama's RMSNorm has no bias"),
                    };
                    same(format!("{p}.{n}"), shape)
                }
            }
        }
        Family::Gpt2 => {
            let t = gpt2_prefix;
            let conv = |name: String, shape: Vec<usize>, col0: usize| HfName {
                name,
                shape,
                layout: Layout::Conv1d { col0 },
            };
            let slice = |name: String, len: usize, start: usize| HfName {
                name,
                shape: vec![len],
                layout: Layout::Slice { start },
            };
            match slot {
                Slot::TokEmb => same(format!("{t}wte.weight"), vec![v, c]),
                Slot::PosEmb => same(format!("{t}wpe.weight"), vec![cfg.max_seq_len, c]),
                Slot::FinalNormW => same(format!("{t}ln_f.weight"), vec![c]),
                Slot::FinalNormB => same(format!("{t}ln_f.bias"), vec![c]),
                Slot::LmHead => same("lm_head.weight".into(), vec![v, c]),
                Slot::ClsHead => same("score.weight".into(), vec![cfg.labels.len(), c]),
                Slot::Layer(l, s) => {
                    use LayerSlot::*;
                    let p = format!("{t}h.{l}");
                    match s {
                        AttnNormW => same(format!("{p}.ln_1.weight"), vec![c]),
                        AttnNormB => same(format!("{p}.ln_1.bias"), vec![c]),
                        MlpNormW => same(format!("{p}.ln_2.weight"), vec![c]),
                        MlpNormB => same(format!("{p}.ln_2.bias"), vec![c]),
                        Wq => conv(format!("{p}.attn.c_attn.weight"), vec![c, 3 * c], 0),
                        Wk => conv(format!("{p}.attn.c_attn.weight"), vec![c, 3 * c], c),
                        Wv => conv(format!("{p}.attn.c_attn.weight"), vec![c, 3 * c], 2 * c),
                        Bq => slice(format!("{p}.attn.c_attn.bias"), 3 * c, 0),
                        Bk => slice(format!("{p}.attn.c_attn.bias"), 3 * c, c),
                        Bv => slice(format!("{p}.attn.c_attn.bias"), 3 * c, 2 * c),
                        Wo => conv(format!("{p}.attn.c_proj.weight"), vec![c, c], 0),
                        Bo => same(format!("{p}.attn.c_proj.bias"), vec![c]),
                        WUp => conv(format!("{p}.mlp.c_fc.weight"), vec![c, ff], 0),
                        BUp => same(format!("{p}.mlp.c_fc.bias"), vec![ff]),
                        WDown => conv(format!("{p}.mlp.c_proj.weight"), vec![ff, c], 0),
                        BDown => same(format!("{p}.mlp.c_proj.bias"), vec![c]),
                        WGate | BGate => unreachable!("gpt2's MLP has no gate"),
                    }
                }
            }
        }
    }
}

fn to_f32(view: &TensorView, path: &Path, name: &str) -> Result<(Vec<f32>, DType)> {
    let b = view.data();
    let out = match view.dtype() {
        Dtype::F32 => (
            b.chunks_exact(4)
                .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
                .collect(),
            DType::F32,
        ),
        Dtype::F16 => (
            b.chunks_exact(2)
                .map(|x| half::f16::from_le_bytes([x[0], x[1]]).to_f32())
                .collect(),
            DType::F16,
        ),
        Dtype::BF16 => (
            b.chunks_exact(2)
                .map(|x| half::bf16::from_le_bytes([x[0], x[1]]).to_f32())
                .collect(),
            DType::BF16,
        ),
        other => {
            return Err(Error::UnsupportedDtype {
                path: path.to_path_buf(),
                name: name.into(),
                dtype: format!("{other:?}"),
            })
        }
    };
    Ok(out)
}

fn read_file(path: &Path) -> Result<(Vec<u8>, std::path::PathBuf)> {
    let mut path = path.to_path_buf();
    if path.is_dir() {
        path = path.join("model.safetensors");
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    Ok((bytes, path))
}

/// Reads `model.safetensors` (a file, or a model directory holding one) into f32 parameters
/// (training's layout), with the token embedding's storage dtype.
pub fn load(path: impl AsRef<Path>, cfg: &ModelConfig) -> Result<(Params, DType)> {
    let (bytes, path) = read_file(path.as_ref())?;
    from_bytes(&bytes, cfg, &path)
}

/// Reads `model.safetensors` into tensors in their storage types: f16 and bf16 matrices stay
/// f16/bf16 (the engine widens them in registers); norms and biases become f32.
pub fn load_weights(path: impl AsRef<Path>, cfg: &ModelConfig) -> Result<Weights> {
    let (bytes, path) = read_file(path.as_ref())?;
    weights_from_bytes(&bytes, cfg, &path)
}

/// Parses safetensors bytes into a parameter buffer, checking every tensor against `cfg`.
/// `path` only names the source in errors. Returns the dtype of the token embedding.
pub fn from_bytes(bytes: &[u8], cfg: &ModelConfig, path: &Path) -> Result<(Params, DType)> {
    let st = check(bytes, cfg, path)?;
    let mut params = Params::zeros(cfg);
    let mut storage = DType::F32;
    for_each_slot(&st, cfg, path, |i, values, dt| {
        let spec = &params.layout.specs[i];
        if spec.slot == Slot::TokEmb {
            storage = dt;
        }
        let (o, n) = (spec.offset, spec.len);
        params.data[o..o + n].copy_from_slice(&values);
    })?;
    Ok((params, storage))
}

/// [`load_weights`] on bytes.
pub fn weights_from_bytes(bytes: &[u8], cfg: &ModelConfig, path: &Path) -> Result<Weights> {
    let st = check(bytes, cfg, path)?;
    let layout = ParamLayout::new(cfg);
    let mut tensors: Vec<Option<Tensor>> = vec![None; layout.specs.len()];
    for_each_slot(&st, cfg, path, |i, values, dt| {
        let spec = &layout.specs[i];
        let matrix = spec.shape.len() == 2 && spec.slot != Slot::PosEmb;
        // Widened from f16/bf16 above, narrowed back here: both directions are exact.
        let q = match dt {
            DType::F16 if matrix => QType::F16,
            DType::BF16 if matrix => QType::BF16,
            _ => QType::F32,
        };
        tensors[i] = Some(match q {
            QType::F32 => Tensor::f32(spec.shape.clone(), values),
            _ => Tensor::from_f32(spec.shape.clone(), &values, q),
        });
    })?;
    let tensors = tensors
        .into_iter()
        .map(|t| t.expect("for_each_slot visits every slot"))
        .collect();
    Ok(Weights { layout, tensors })
}

/// The smallest storage a parameter can have in a safetensors file tinychat reads (F16, BF16).
const MIN_BYTES_PER_PARAM: u64 = 2;

/// Checks the file against the config before anything the size of the model is allocated:
/// the file is at least as large as the parameter count needs, its header parses, and every
/// tensor the config needs is there with the right shape and a dtype tinychat reads. Only the
/// header is parsed (the data stays where it is).
fn check<'a>(bytes: &'a [u8], cfg: &ModelConfig, path: &Path) -> Result<SafeTensors<'a>> {
    // validate() bounds the sizes, but a config may also be built in code.
    cfg.validate().map_err(|msg| Error::Config {
        path: path.to_path_buf(),
        msg: format!("the model's configuration: {msg}"),
    })?;
    let params = cfg
        .param_count()
        .expect("validate() checked the parameter count") as u64;
    if params.saturating_mul(MIN_BYTES_PER_PARAM) > bytes.len() as u64 {
        return Err(Error::Safetensors {
            path: path.to_path_buf(),
            msg: format!(
                "config.json describes {params} parameters, at least {} bytes as F16, but the file has {} bytes: the config does not belong to these weights",
                params.saturating_mul(MIN_BYTES_PER_PARAM),
                bytes.len()
            ),
        });
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let prefix = gpt2_prefix(&st, cfg);
    let layout = ParamLayout::new(cfg);
    for spec in &layout.specs {
        let hf = hf_name(cfg, spec.slot, prefix);
        view(&st, &hf, path)?;
    }
    Ok(st)
}

/// GPT-2 checkpoints name their tensors with or without `transformer.`.
fn gpt2_prefix(st: &SafeTensors, cfg: &ModelConfig) -> &'static str {
    if cfg.family == Family::Gpt2 && st.tensor("transformer.wte.weight").is_ok() {
        "transformer."
    } else {
        ""
    }
}

/// The tensor `hf` names, checked for presence, shape and dtype.
fn view<'a>(st: &SafeTensors<'a>, hf: &HfName, path: &Path) -> Result<TensorView<'a>> {
    let view = st.tensor(&hf.name).map_err(|_| Error::MissingTensor {
        path: path.to_path_buf(),
        name: hf.name.clone(),
        expected: hf.shape.clone(),
    })?;
    if view.shape() != hf.shape.as_slice() {
        return Err(Error::ShapeMismatch {
            path: path.to_path_buf(),
            name: hf.name.clone(),
            expected: hf.shape.clone(),
            actual: view.shape().to_vec(),
        });
    }
    if !matches!(view.dtype(), Dtype::F32 | Dtype::F16 | Dtype::BF16) {
        return Err(Error::UnsupportedDtype {
            path: path.to_path_buf(),
            name: hf.name.clone(),
            dtype: format!("{:?}", view.dtype()),
        });
    }
    Ok(view)
}

/// Decodes the tensor of every slot of `cfg`'s layout to f32 (transposing Conv1D weights and
/// slicing fused biases) and hands it to `put(spec index, values, file dtype)`, one slot at a
/// time, so at most one decoded tensor (and the fused one it comes from) is alive. `st` has
/// passed [`check`].
fn for_each_slot(
    st: &SafeTensors,
    cfg: &ModelConfig,
    path: &Path,
    mut put: impl FnMut(usize, Vec<f32>, DType),
) -> Result<()> {
    let prefix = gpt2_prefix(st, cfg);
    let layout = ParamLayout::new(cfg);
    // Each Hugging Face tensor is decoded once, even when it feeds several slots (c_attn).
    let mut cache: HashMap<String, (Vec<f32>, DType)> = HashMap::new();
    for (i, spec) in layout.specs.iter().enumerate() {
        let hf = hf_name(cfg, spec.slot, prefix);
        if !cache.contains_key(&hf.name) {
            let view = view(st, &hf, path)?;
            let decoded = to_f32(&view, path, &hf.name)?;
            cache.insert(hf.name.clone(), decoded);
        }
        let (src, dt) = &cache[&hf.name];
        let dt = *dt;
        let values = match hf.layout {
            Layout::Same => cache.remove(&hf.name).expect("decoded above").0,
            Layout::Slice { start } => src[start..start + spec.len].to_vec(),
            Layout::Conv1d { col0 } => {
                // src (IN, OUT_total); ours (out, IN): dst[o][i] = src[i][col0 + o]
                let (n_in, n_total) = (hf.shape[0], hf.shape[1]);
                let n_out = spec.shape[0];
                let mut dst = vec![0.0; n_out * n_in];
                for o in 0..n_out {
                    for i in 0..n_in {
                        dst[o * n_in + i] = src[i * n_total + col0 + o];
                    }
                }
                dst
            }
        };
        put(i, values, dt);
    }
    Ok(())
}

/// The Hugging Face name and whole-tensor shape of `slot` in a llama model of config `cfg` (a
/// tensor of its own there: no fused or transposed layouts).
pub(crate) fn llama_tensor(cfg: &ModelConfig, slot: Slot) -> (String, Vec<usize>) {
    debug_assert_eq!(cfg.family, Family::Llama);
    let hf = hf_name(cfg, slot, "");
    (hf.name, hf.shape)
}

/// The tensor `name` of `st` decoded to f32 (F32, F16 or BF16), checked against `shape`: a
/// missing tensor, another shape or another dtype is an error naming `path` and the tensor.
pub(crate) fn tensor_f32(
    st: &SafeTensors,
    name: &str,
    shape: &[usize],
    path: &Path,
) -> Result<Vec<f32>> {
    let hf = HfName {
        name: name.into(),
        shape: shape.to_vec(),
        layout: Layout::Same,
    };
    let v = view(st, &hf, path)?;
    Ok(to_f32(&v, path, name)?.0)
}

/// Serialises named f32 tensors (name → shape, values, the dtype to store them in) as
/// safetensors.
pub(crate) fn tensors_to_bytes(
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>, DType)>,
) -> Result<Vec<u8>> {
    let encoded: Vec<(String, Vec<usize>, Vec<u8>, Dtype)> = tensors
        .into_iter()
        .map(|(name, (shape, data, dtype))| {
            let (bytes, st_dtype): (Vec<u8>, Dtype) = match dtype {
                DType::F32 => (
                    data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    Dtype::F32,
                ),
                DType::F16 => (
                    data.iter()
                        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                        .collect(),
                    Dtype::F16,
                ),
                DType::BF16 => (
                    data.iter()
                        .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
                        .collect(),
                    Dtype::BF16,
                ),
            };
            (name, shape, bytes, st_dtype)
        })
        .collect();
    let views: Vec<(String, TensorView)> = encoded
        .iter()
        .map(|(n, s, b, d)| {
            TensorView::new(*d, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Other(format!("safetensors: {e}")))
        })
        .collect::<Result<_>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta)).map_err(|e| Error::Other(format!("safetensors: {e}")))
}

/// Serialises parameters under their Hugging Face names (transformers can load the result).
pub fn to_bytes(params: &Params, cfg: &ModelConfig, dtype: DType) -> Result<Vec<u8>> {
    let prefix = if cfg.family == Family::Gpt2 {
        "transformer."
    } else {
        ""
    };
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    for spec in &params.layout.specs {
        let hf = hf_name(cfg, spec.slot, prefix);
        let numel: usize = hf.shape.iter().product();
        let entry = tensors
            .entry(hf.name.clone())
            .or_insert_with(|| (hf.shape.clone(), vec![0.0; numel]));
        let src = &params.data[spec.offset..spec.offset + spec.len];
        let dst = &mut entry.1;
        match hf.layout {
            Layout::Same => dst.copy_from_slice(src),
            Layout::Slice { start } => dst[start..start + spec.len].copy_from_slice(src),
            Layout::Conv1d { col0 } => {
                let (n_in, n_total) = (hf.shape[0], hf.shape[1]);
                for o in 0..spec.shape[0] {
                    for i in 0..n_in {
                        dst[i * n_total + col0 + o] = src[o * n_in + i];
                    }
                }
            }
        }
    }
    tensors_to_bytes(
        tensors
            .into_iter()
            .map(|(n, (shape, data))| (n, (shape, data, dtype)))
            .collect(),
    )
}

/// Writes `model.safetensors` atomically.
pub fn save(
    params: &Params,
    cfg: &ModelConfig,
    path: impl AsRef<Path>,
    dtype: DType,
) -> Result<()> {
    let bytes = to_bytes(params, cfg, dtype)?;
    crate::io::write_atomic(path.as_ref(), &bytes)
}

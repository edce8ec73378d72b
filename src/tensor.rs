//! A weight tensor in its storage type, and the set of a model's tensors.
//!
//! Inference keeps every tensor as the file stored it: f32, f16 and bf16 as typed vectors,
//! GGUF's quantized blocks as bytes (see `quant/`). Matrices are (rows, cols) row-major, each
//! row a whole number of blocks, so a matvec streams a row's packed bytes once and dequantizes
//! them in registers. Norm weights and biases are always f32. Training works on the flat f32
//! [`Params`] instead; [`Weights::from_params`] and [`Weights::to_params`] convert.

use crate::params::{ParamLayout, Params, Slot};
use crate::quant::{self, QType};
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use std::borrow::Cow;

/// The elements of a tensor, in their storage type.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    /// Whole blocks of a quantized type (`QType::is_quantized`).
    Quant(QType, Vec<u8>),
}

/// One tensor: its shape (PyTorch order: the last dimension is contiguous) and data.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor {
            shape,
            data: TensorData::F32(data),
        }
    }

    /// Quantizes or converts f32 values to `qtype` (the last dimension must be a whole number of
    /// `qtype`'s blocks).
    pub fn from_f32(shape: Vec<usize>, x: &[f32], qtype: QType) -> Self {
        let data = match qtype {
            QType::F32 => TensorData::F32(x.to_vec()),
            QType::F16 => TensorData::F16(x.iter().map(|&v| f16::from_f32(v)).collect()),
            QType::BF16 => TensorData::BF16(x.iter().map(|&v| bf16::from_f32(v)).collect()),
            q => TensorData::Quant(q, quant::quantize(q, x)),
        };
        Tensor { shape, data }
    }

    pub fn qtype(&self) -> QType {
        match &self.data {
            TensorData::F32(_) => QType::F32,
            TensorData::F16(_) => QType::F16,
            TensorData::BF16(_) => QType::BF16,
            TensorData::Quant(q, _) => *q,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// (rows, cols) of a matrix; a vector is one row.
    pub fn rows_cols(&self) -> (usize, usize) {
        match self.shape.as_slice() {
            [c] => (1, *c),
            [r, c] => (*r, *c),
            s => (s[..s.len() - 1].iter().product(), s[s.len() - 1]),
        }
    }

    /// Bytes of storage.
    pub fn bytes(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len() * 4,
            TensorData::F16(v) => v.len() * 2,
            TensorData::BF16(v) => v.len() * 2,
            TensorData::Quant(_, b) => b.len(),
        }
    }

    /// The f32 values, borrowed when stored as f32.
    pub fn to_f32(&self) -> Cow<'_, [f32]> {
        match &self.data {
            TensorData::F32(v) => Cow::Borrowed(v),
            TensorData::F16(v) => Cow::Owned(v.to_f32_vec()),
            TensorData::BF16(v) => Cow::Owned(v.iter().map(|x| x.to_f32()).collect()),
            TensorData::Quant(q, b) => {
                let mut out = vec![0.0; self.numel()];
                quant::dequantize(*q, b, &mut out);
                Cow::Owned(out)
            }
        }
    }

    /// The f32 slice of a tensor stored as f32 (norms, biases); panics otherwise.
    pub fn as_f32(&self) -> &[f32] {
        match &self.data {
            TensorData::F32(v) => v,
            _ => panic!(
                "tensor of shape {:?} is {}, not F32",
                self.shape,
                self.qtype()
            ),
        }
    }

    /// Row `r` of a matrix, dequantized into `out` (cols).
    pub fn row_into(&self, r: usize, out: &mut [f32]) {
        let (_, c) = self.rows_cols();
        debug_assert_eq!(out.len(), c);
        match &self.data {
            TensorData::F32(v) => out.copy_from_slice(&v[r * c..(r + 1) * c]),
            // `half`'s slice conversion: F16C eight values at a time where the CPU has it (the
            // CPU is asked once per row, where `to_f32` asks once per value and converts one);
            // exact either way. (bf16's is a shift, which the plain loop vectorizes.)
            TensorData::F16(v) => v[r * c..(r + 1) * c].convert_to_f32_slice(out),
            TensorData::BF16(v) => {
                for (o, x) in out.iter_mut().zip(&v[r * c..(r + 1) * c]) {
                    *o = x.to_f32();
                }
            }
            TensorData::Quant(q, b) => {
                let rb = q.row_bytes(c).expect("rows are whole blocks");
                quant::dequantize(*q, &b[r * rb..(r + 1) * rb], out);
            }
        }
    }

    /// This tensor converted to `qtype` (through f32).
    pub fn cast(&self, qtype: QType) -> Tensor {
        if self.qtype() == qtype {
            return self.clone();
        }
        Tensor::from_f32(self.shape.clone(), &self.to_f32(), qtype)
    }
}

/// All tensors of a model, one per [`Slot`] of its [`ParamLayout`] (same order).
#[derive(Clone, Debug)]
pub struct Weights {
    pub layout: ParamLayout,
    pub tensors: Vec<Tensor>,
}

impl Weights {
    /// f32 tensors from a flat parameter buffer.
    pub fn from_params(p: &Params) -> Self {
        let tensors = p
            .layout
            .specs
            .iter()
            .map(|s| Tensor::f32(s.shape.clone(), p.data[s.offset..s.offset + s.len].to_vec()))
            .collect();
        Weights {
            layout: p.layout.clone(),
            tensors,
        }
    }

    /// Every tensor dequantized into a flat f32 buffer (training from a pretrained model).
    pub fn to_params(&self) -> Params {
        let mut data = vec![0.0; self.layout.total];
        for (s, t) in self.layout.specs.iter().zip(&self.tensors) {
            data[s.offset..s.offset + s.len].copy_from_slice(&t.to_f32());
        }
        Params {
            layout: self.layout.clone(),
            data,
        }
    }

    pub fn get(&self, slot: Slot) -> Option<&Tensor> {
        self.layout.index_of(slot).map(|i| &self.tensors[i])
    }

    /// The tensor in `slot`; panics if the model has none (a programming error: check with
    /// `get` for optional tensors).
    pub fn t(&self, slot: Slot) -> &Tensor {
        self.get(slot)
            .unwrap_or_else(|| panic!("the model has no tensor {slot:?}"))
    }

    /// An f32 vector (norm weight, bias), if the model has it.
    pub fn vec_opt(&self, slot: Slot) -> Option<&[f32]> {
        self.get(slot).map(Tensor::as_f32)
    }

    /// The output projection (V, C): lm_head, or the token embedding when tied.
    pub fn lm_head(&self) -> &Tensor {
        self.get(Slot::LmHead)
            .unwrap_or_else(|| self.t(Slot::TokEmb))
    }

    /// Bytes of all tensors as stored.
    pub fn bytes(&self) -> usize {
        self.tensors.iter().map(Tensor::bytes).sum()
    }

    /// Parameter count.
    pub fn numel(&self) -> usize {
        self.layout.total
    }

    /// Converts every matrix (not the embeddings' position table, norms or biases) to `qtype`;
    /// the token embedding too when `embeddings` is set.
    pub fn cast_matrices(&mut self, qtype: QType, embeddings: bool) {
        for (s, t) in self.layout.specs.iter().zip(self.tensors.iter_mut()) {
            let matrix = s.shape.len() == 2 && s.slot != Slot::PosEmb;
            if matrix && (embeddings || s.slot != Slot::TokEmb) {
                *t = t.cast(qtype);
            }
        }
    }

    /// The storage type most of the weights use (by bytes), for reports.
    pub fn main_qtype(&self) -> QType {
        let mut by: Vec<(QType, usize)> = vec![];
        for t in &self.tensors {
            match by.iter_mut().find(|(q, _)| *q == t.qtype()) {
                Some((_, b)) => *b += t.bytes(),
                None => by.push((t.qtype(), t.bytes())),
            }
        }
        by.into_iter()
            .max_by_key(|&(_, b)| b)
            .map_or(QType::F32, |(q, _)| q)
    }
}

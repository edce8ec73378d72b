//! The GGUF container: header, metadata, tensor infos, aligned tensor data. Versions 2 and 3
//! (little-endian); version 1 (2023, 32-bit counts) is refused with a clear error.
//!
//! ```text
//! magic "GGUF" | version u32 | n_tensors u64 | n_kv u64
//! n_kv ×      key: string | value type u32 | value
//! n_tensors × name: string | n_dims u32 | ne: [u64; n_dims] (ne[0] innermost) | type u32 | offset u64
//! padding to `general.alignment` (default 32)
//! tensor data; each tensor at data_start + offset (offset a multiple of the alignment)
//! string = len u64 + UTF-8 bytes; array = element type u32 + count u64 + elements
//! ```
//!
//! Everything is read from a `&[u8]` (the browser hands over bytes, natively the file is read
//! once). The reader is written for hostile input: every count, length and size is checked
//! against the bytes that are left *before* anything is allocated, arithmetic is checked, arrays
//! nest at most [`MAX_DEPTH`] deep, tensors have at most 4 dimensions, and every tensor must lie
//! inside the file, after the header, without overlapping another.

use crate::error::{Error, Result};
use crate::quant::QType;
use std::collections::HashMap;
use std::path::PathBuf;

pub const MAGIC: &[u8; 4] = b"GGUF";
/// Data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// ggml's GGML_MAX_DIMS.
pub const MAX_DIMS: usize = 4;
/// Deepest nesting of arrays accepted (real files nest at most 2 deep).
pub const MAX_DEPTH: usize = 8;

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
}

impl Value {
    /// GGUF's name of the value type ("u32", "string", "array", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::U8(_) => "u8",
            Value::I8(_) => "i8",
            Value::U16(_) => "u16",
            Value::I16(_) => "i16",
            Value::U32(_) => "u32",
            Value::I32(_) => "i32",
            Value::U64(_) => "u64",
            Value::I64(_) => "i64",
            Value::F32(_) => "f32",
            Value::F64(_) => "f64",
            Value::Bool(_) => "bool",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
        }
    }
    /// Any integer type holding a value ≥ 0.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v as u64),
            Value::U16(v) => Some(v as u64),
            Value::U32(v) => Some(v as u64),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    /// Any integer type.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I8(v) => Some(v as i64),
            Value::I16(v) => Some(v as i64),
            Value::I32(v) => Some(v as i64),
            Value::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }
    /// Floats, and integers as floats.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// ggml's name of a type id, also for the types tinychat does not read (for error messages).
pub fn ggml_type_name(id: u32) -> Option<&'static str> {
    const NAMES: [&str; 40] = [
        "F32",
        "F16",
        "Q4_0",
        "Q4_1",
        "Q4_2",
        "Q4_3",
        "Q5_0",
        "Q5_1",
        "Q8_0",
        "Q8_1",
        "Q2_K",
        "Q3_K",
        "Q4_K",
        "Q5_K",
        "Q6_K",
        "Q8_K",
        "IQ2_XXS",
        "IQ2_XS",
        "IQ3_XXS",
        "IQ1_S",
        "IQ4_NL",
        "IQ3_S",
        "IQ2_S",
        "IQ4_XS",
        "I8",
        "I16",
        "I32",
        "I64",
        "F64",
        "IQ1_M",
        "BF16",
        "Q4_0_4_4",
        "Q4_0_4_8",
        "Q4_0_8_8",
        "TQ1_0",
        "TQ2_0",
        "IQ4_NL_4_4",
        "IQ4_NL_4_8",
        "IQ4_NL_8_8",
        "MXFP4",
    ];
    NAMES.get(id as usize).copied()
}

/// One tensor's header entry, checked against the file.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml's `ne`: ne[0] is the innermost (contiguous) dimension, the length of a row.
    pub ne: Vec<usize>,
    pub qtype: QType,
    /// Absolute byte offset of the data in the file.
    pub start: usize,
    /// Bytes of data: `qtype.row_bytes(ne[0]) · ne[1] · ne[2] · ne[3]`.
    pub size: usize,
}

impl TensorInfo {
    /// The shape outermost first, as PyTorch and safetensors write it (ne reversed).
    pub fn shape(&self) -> Vec<usize> {
        self.ne.iter().rev().copied().collect()
    }
    pub fn n_elements(&self) -> usize {
        self.ne.iter().product()
    }
}

/// A parsed GGUF file, borrowing its tensor data from the bytes.
#[derive(Clone, Debug)]
pub struct Gguf<'a> {
    /// Names the file in errors (a path or a URL).
    pub origin: String,
    pub version: u32,
    pub alignment: usize,
    /// Key/value pairs in file order.
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    /// Where the data section starts (the header, padded to the alignment).
    pub data_start: usize,
    key_index: HashMap<String, usize>,
    tensor_index: HashMap<String, usize>,
    bytes: &'a [u8],
}

impl<'a> Gguf<'a> {
    /// Parses and checks the header of `bytes`; `origin` names the file in errors.
    pub fn parse(bytes: &'a [u8], origin: &str) -> Result<Self> {
        let mut c = Cursor {
            b: bytes,
            pos: 0,
            origin,
        };
        let version = c.preamble()?;
        let n_tensors = c.u64(|| "the tensor count".into())?;
        let n_kv = c.u64(|| "the metadata count".into())?;
        // A key/value pair takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 4 + 8.
        c.check_count(n_kv, 13, || "metadata key/value pairs".into())?;
        c.check_count(n_tensors, 24, || "tensor infos".into())?;

        let mut metadata = Vec::with_capacity(n_kv as usize);
        let mut key_index = HashMap::with_capacity(n_kv as usize);
        for i in 0..n_kv as usize {
            let key = c.string(&|| format!("the key of metadata entry {i}"))?;
            let ty = c.u32(|| format!("the value type of {key:?}"))?;
            let value = c.value(ty, &key, 0)?;
            if key_index.insert(key.clone(), i).is_some() {
                return Err(c.err(format!("metadata key {key:?} appears twice")));
            }
            metadata.push((key, value));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, Value::U32(a))) if *a > 0 && a.is_power_of_two() => *a as usize,
            Some((_, v)) => {
                return Err(c.err(format!(
                    "general.alignment must be a u32 power of two, got {v:?}"
                )))
            }
        };

        let mut infos = Vec::with_capacity(n_tensors as usize);
        for i in 0..n_tensors as usize {
            infos.push(c.tensor_info(i)?);
        }
        // Offsets are relative to the data section, which starts after the tensor infos.
        let data_start = c
            .pos
            .checked_next_multiple_of(alignment)
            .ok_or_else(|| c.err("the header size overflows".into()))?;
        let mut tensors = Vec::with_capacity(infos.len());
        let mut tensor_index = HashMap::with_capacity(infos.len());
        for info in infos {
            let t = c.place(info, data_start, alignment)?;
            if tensor_index.insert(t.name.clone(), tensors.len()).is_some() {
                return Err(c.err(format!("tensor {:?} appears twice", t.name)));
            }
            tensors.push(t);
        }
        check_no_overlap(&tensors).map_err(|m| c.err(m))?;
        Ok(Gguf {
            origin: origin.to_string(),
            version,
            alignment,
            metadata,
            tensors,
            data_start,
            key_index,
            tensor_index,
            bytes,
        })
    }

    /// An error about this file.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        Error::Gguf {
            path: PathBuf::from(&self.origin),
            msg: msg.into(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.key_index.get(key).map(|&i| &self.metadata[i].1)
    }
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }
    /// The packed bytes of a tensor (checked to lie in the file by [`Self::parse`]).
    pub fn tensor_data(&self, t: &TensorInfo) -> &'a [u8] {
        &self.bytes[t.start..t.start + t.size]
    }

    fn typed<T>(
        &self,
        key: &str,
        want: &str,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or_else(|| {
                self.err(format!(
                    "metadata {key:?} must be {want}, got a {} ({})",
                    v.type_name(),
                    short(v)
                ))
            }),
        }
    }
    /// A non-negative integer that fits in usize.
    pub fn usize(&self, key: &str) -> Result<Option<usize>> {
        self.typed(key, "a non-negative integer", |v| {
            v.as_u64().and_then(|x| usize::try_from(x).ok())
        })
    }
    pub fn req_usize(&self, key: &str) -> Result<usize> {
        self.usize(key)?
            .ok_or_else(|| self.err(format!("metadata {key:?} is missing")))
    }
    pub fn f64(&self, key: &str) -> Result<Option<f64>> {
        self.typed(key, "a number", Value::as_f64)
    }
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "a bool", Value::as_bool)
    }
    pub fn str(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(format!(
                "metadata {key:?} must be a string, got a {}",
                v.type_name()
            ))),
        }
    }
    pub fn req_str(&self, key: &str) -> Result<&str> {
        self.str(key)?
            .ok_or_else(|| self.err(format!("metadata {key:?} is missing")))
    }
    /// An array whose elements `f` converts; an element of the wrong type is an error naming
    /// its index.
    pub fn array<T>(
        &self,
        key: &str,
        want: &str,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let a = v.as_array().ok_or_else(|| {
            self.err(format!(
                "metadata {key:?} must be an array of {want}, got a {}",
                v.type_name()
            ))
        })?;
        a.iter()
            .enumerate()
            .map(|(i, x)| {
                f(x).ok_or_else(|| {
                    self.err(format!(
                        "metadata {key:?}[{i}] must be {want}, got a {}",
                        x.type_name()
                    ))
                })
            })
            .collect::<Result<Vec<T>>>()
            .map(Some)
    }
}

/// A value for an error message, cut short.
fn short(v: &Value) -> String {
    let s = format!("{v:?}");
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Reads little-endian values, failing with "truncated" errors that say what was being read.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    origin: &'a str,
}

impl<'a> Cursor<'a> {
    fn err(&self, msg: String) -> Error {
        Error::Gguf {
            path: PathBuf::from(self.origin),
            msg,
        }
    }
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    fn truncated(&self, what: String, need: u128) -> Error {
        self.err(format!(
            "truncated GGUF file: {what} needs {need} bytes at offset {}, but the file ends at {} (is the download incomplete?)",
            self.pos,
            self.b.len()
        ))
    }
    fn take(&mut self, n: usize, what: impl FnOnce() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(what(), n as u128));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Fails unless `count` items of at least `min_bytes` each can fit in what is left: the
    /// check that comes before any allocation sized by `count`.
    fn check_count(&self, count: u64, min_bytes: u64, what: impl FnOnce() -> String) -> Result<()> {
        let need = count as u128 * min_bytes as u128;
        if need > self.remaining() as u128 {
            return Err(self.err(format!(
                "{count} {} need at least {need} bytes at offset {}, but the file ends at {} (truncated or corrupt)",
                what(),
                self.pos,
                self.b.len()
            )));
        }
        Ok(())
    }
    fn array<const N: usize>(&mut self, what: impl FnOnce() -> String) -> Result<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }
    fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }
    fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let len = self.u64(what)?;
        if len > self.remaining() as u64 {
            return Err(self.truncated(format!("{} (a string)", what()), len as u128));
        }
        let bytes = self.take(len as usize, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.err(format!("{} is not valid UTF-8", what())))
    }

    /// The magic number and a version this reader knows (2 or 3).
    fn preamble(&mut self) -> Result<u32> {
        let magic = self.take(4, || "the magic number".into())?;
        if magic != MAGIC {
            return Err(self.err(format!(
                "not a GGUF file: it starts with {:?} instead of \"GGUF\"",
                String::from_utf8_lossy(magic)
            )));
        }
        match self.u32(|| "the version".into())? {
            v @ (2 | 3) => Ok(v),
            1 => Err(self.err(
                "GGUF version 1 is not supported (an early 2023 format with 32-bit counts); re-convert the model with a current llama.cpp".into(),
            )),
            v if v > 3 && v.swap_bytes() <= 3 => Err(self.err(format!(
                "this is a big-endian GGUF (version {}); tinychat reads little-endian files",
                v.swap_bytes()
            ))),
            v => Err(self.err(format!(
                "GGUF version {v} is not supported (tinychat reads versions 2 and 3)"
            ))),
        }
    }

    /// Tensor info `i`: name, ne, type and offset (relative to the data section).
    fn tensor_info(&mut self, i: usize) -> Result<(String, Vec<usize>, QType, u64)> {
        let name = self.string(&|| format!("the name of tensor {i}"))?;
        let n_dims = self.u32(|| format!("tensor {name:?}'s dimension count"))? as usize;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(self.err(format!(
                "tensor {name:?} has {n_dims} dimensions (GGUF allows 1 to {MAX_DIMS})"
            )));
        }
        let mut ne = Vec::with_capacity(n_dims);
        for _ in 0..n_dims {
            let d = self.u64(|| format!("tensor {name:?}'s shape"))?;
            let d = usize::try_from(d)
                .ok()
                .filter(|&d| d > 0 && d <= i64::MAX as usize)
                .ok_or_else(|| self.err(format!("tensor {name:?} has a dimension of {d}")))?;
            ne.push(d);
        }
        let type_id = self.u32(|| format!("tensor {name:?}'s type"))?;
        let qtype = QType::from_ggml(type_id).ok_or_else(|| {
            self.err(format!(
                "tensor {name:?}: type {} is not supported; tinychat reads {}",
                match ggml_type_name(type_id) {
                    Some(n) => format!("{n} ({type_id})"),
                    None => format!("{type_id} (not a ggml type)"),
                },
                QType::ALL.map(QType::name).join(", ")
            ))
        })?;
        let offset = self.u64(|| format!("tensor {name:?}'s offset"))?;
        Ok((name, ne, qtype, offset))
    }

    /// Sizes a tensor from its type and shape and checks that it lies inside the file.
    fn place(
        &self,
        (name, ne, qtype, offset): (String, Vec<usize>, QType, u64),
        data_start: usize,
        alignment: usize,
    ) -> Result<TensorInfo> {
        let shape_str = format!("{:?}", ne.iter().rev().collect::<Vec<_>>());
        if ne[0] % qtype.block_len() != 0 {
            return Err(self.err(format!(
                "tensor {name:?}: type {qtype} packs {} values per block, but its rows have {} (shape {shape_str})",
                qtype.block_len(),
                ne[0]
            )));
        }
        let row = (ne[0] / qtype.block_len()).checked_mul(qtype.block_bytes());
        let size = ne[1..]
            .iter()
            .fold(row, |acc, &d| acc.and_then(|a| a.checked_mul(d)))
            .ok_or_else(|| self.err(format!("tensor {name:?}: shape {shape_str} overflows")))?;
        if offset % alignment as u64 != 0 {
            return Err(self.err(format!(
                "tensor {name:?}: offset {offset} is not a multiple of the alignment {alignment}"
            )));
        }
        let start = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(data_start));
        let end = start.and_then(|s| s.checked_add(size));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(self.err(format!("tensor {name:?}: offset {offset} overflows")));
        };
        if end > self.b.len() {
            return Err(self.err(format!(
                "tensor {name:?} ({qtype}, shape {shape_str}) needs {size} bytes at offset {start}, but the file ends at {} (truncated, or the tensor's size disagrees with its type and shape)",
                self.b.len()
            )));
        }
        Ok(TensorInfo {
            name,
            ne,
            qtype,
            start,
            size,
        })
    }

    /// A value of GGUF type `ty` for metadata `key`; `depth` counts enclosing arrays.
    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<Value> {
        let what = || format!("metadata {key:?}");
        Ok(match ty {
            0 => Value::U8(self.array::<1>(what)?[0]),
            1 => Value::I8(self.array::<1>(what)?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            4 => Value::U32(u32::from_le_bytes(self.array(what)?)),
            5 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            7 => match self.array::<1>(what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(self.err(format!("metadata {key:?}: bool byte {b} is not 0 or 1"))),
            },
            8 => Value::Str(self.string(&what)?),
            9 => {
                if depth >= MAX_DEPTH {
                    return Err(self.err(format!(
                        "metadata {key:?}: arrays nest deeper than {MAX_DEPTH} levels"
                    )));
                }
                let elem = self.u32(|| format!("metadata {key:?}'s element type"))?;
                let n = self.u64(|| format!("metadata {key:?}'s length"))?;
                let min = min_value_bytes(elem).ok_or_else(|| {
                    self.err(format!(
                        "metadata {key:?}: unknown array element type {elem}"
                    ))
                })?;
                self.check_count(n, min, || format!("elements of array {key:?}"))?;
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(self.value(elem, key, depth + 1)?);
                }
                Value::Array(v)
            }
            10 => Value::U64(u64::from_le_bytes(self.array(what)?)),
            11 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            other => return Err(self.err(format!("metadata {key:?}: unknown value type {other}"))),
        })
    }
}

/// No two tensors may share bytes: a tensor whose size disagrees with its type and shape runs
/// into the next one.
fn check_no_overlap(tensors: &[TensorInfo]) -> std::result::Result<(), String> {
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| (t.start, t.size));
    for w in order.windows(2) {
        if w[0].start + w[0].size > w[1].start {
            return Err(format!(
                "tensor {:?} ({}, shape {:?}, {} bytes at offset {}) overlaps tensor {:?} at offset {}: a tensor's size disagrees with its type and shape",
                w[0].name,
                w[0].qtype,
                w[0].shape(),
                w[0].size,
                w[0].start,
                w[1].name,
                w[1].start
            ));
        }
    }
    Ok(())
}

/// The fewest bytes a value of GGUF type `ty` takes (a string its length, an array its element
/// type and count); None for an unknown type.
fn min_value_bytes(ty: u32) -> Option<u64> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10..=12 => 8,
        9 => 12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::writer::Writer;

    fn sample() -> Writer {
        let mut w = Writer::new();
        w.kv("general.architecture", Value::Str("llama".into()))
            .kv("a.u8", Value::U8(7))
            .kv("a.i8", Value::I8(-7))
            .kv("a.u16", Value::U16(700))
            .kv("a.i16", Value::I16(-700))
            .kv("a.u32", Value::U32(70000))
            .kv("a.i32", Value::I32(-70000))
            .kv("a.u64", Value::U64(1 << 40))
            .kv("a.i64", Value::I64(-(1 << 40)))
            .kv("a.f32", Value::F32(0.5))
            .kv("a.f64", Value::F64(-0.25))
            .kv("a.bool", Value::Bool(true))
            .kv(
                "a.nested",
                Value::Array(vec![
                    Value::Array(vec![Value::I32(1), Value::I32(2)]),
                    Value::Array(vec![Value::I32(3)]),
                ]),
            )
            .kv(
                "a.strs",
                Value::Array(vec![Value::Str("x".into()), Value::Str("ÿ".into())]),
            )
            .tensor("t.f32", &[3, 2], QType::F32, vec![0; 24])
            .tensor("t.q8", &[32, 2], QType::Q8_0, vec![0; 68]);
        w
    }

    #[test]
    fn every_value_type_round_trips() {
        for version in [2, 3] {
            let mut w = sample();
            w.version = version;
            let bytes = w.to_bytes();
            let g = Gguf::parse(&bytes, "t.gguf").unwrap();
            assert_eq!(g.version, version);
            assert_eq!(g.metadata, w.metadata);
            assert_eq!(g.tensors.len(), 2);
            let t = g.tensor("t.q8").unwrap();
            assert_eq!(
                (t.ne.clone(), t.qtype, t.size),
                (vec![32, 2], QType::Q8_0, 68)
            );
            assert_eq!(t.shape(), vec![2, 32]);
            assert_eq!(t.start % 32, 0);
            assert_eq!(g.usize("a.u32").unwrap(), Some(70000));
            assert!(g.usize("a.i8").is_err());
            assert_eq!(g.f64("a.i32").unwrap(), Some(-70000.0));
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() - 1 {
            // The last tensor's padding is not data, so cutting it is allowed.
            if let Err(e) = Gguf::parse(&bytes[..n], "t.gguf") {
                assert!(e.to_string().starts_with("t.gguf: "), "{e}");
            } else {
                assert!(
                    n >= bytes.len() - 28,
                    "cut at {n} of {} parsed",
                    bytes.len()
                );
            }
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        // Flip every byte of the header in turn (a cheap fuzz over every field).
        let bytes = sample().to_bytes();
        let header = bytes.len() - 128;
        for i in 0..header {
            for x in [0x00, 0xFF, 0x80, 0x7F] {
                let mut b = bytes.clone();
                b[i] = x;
                let _ = Gguf::parse(&b, "t.gguf");
            }
        }
    }

    #[test]
    fn custom_alignment() {
        let mut w = sample();
        w.kv("general.alignment", Value::U32(64));
        let bytes = w.to_bytes();
        let g = Gguf::parse(&bytes, "t.gguf").unwrap();
        assert_eq!(g.alignment, 64);
        assert!(g.tensors.iter().all(|t| t.start % 64 == 0));
        let mut w = sample();
        w.kv("general.alignment", Value::U32(48));
        let e = Gguf::parse(&w.to_bytes(), "t.gguf")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("general.alignment must be a u32 power of two"),
            "{e}"
        );
    }
}

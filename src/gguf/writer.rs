//! Writes GGUF files: how tests and tools make small valid (or deliberately broken) files
//! without Python. The layout is [`super::reader`]'s.

use super::reader::{Gguf, Value, DEFAULT_ALIGNMENT, MAGIC};
use crate::quant::QType;

/// A GGUF file to be: metadata and tensors, written by [`Writer::to_bytes`].
#[derive(Default)]
pub struct Writer {
    pub version: u32,
    pub metadata: Vec<(String, Value)>,
    /// (name, ne innermost first, ggml type id, bytes)
    pub tensors: Vec<(String, Vec<usize>, u32, Vec<u8>)>,
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            version: 3,
            ..Default::default()
        }
    }
    pub fn kv(&mut self, key: &str, v: Value) -> &mut Self {
        self.metadata.push((key.into(), v));
        self
    }
    pub fn tensor(&mut self, name: &str, ne: &[usize], t: QType, bytes: Vec<u8>) -> &mut Self {
        self.tensor_raw(name, ne, t as u32, bytes)
    }
    /// A tensor of any ggml type id (also ones tinychat cannot read, for tests).
    pub fn tensor_raw(
        &mut self,
        name: &str,
        ne: &[usize],
        type_id: u32,
        bytes: Vec<u8>,
    ) -> &mut Self {
        self.tensors
            .push((name.into(), ne.to_vec(), type_id, bytes));
        self
    }
    /// A copy of a parsed file (metadata and tensors), to change and write back.
    pub fn from_gguf(g: &Gguf) -> Self {
        Writer {
            version: g.version,
            metadata: g.metadata.clone(),
            tensors: g
                .tensors
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        t.ne.clone(),
                        t.qtype as u32,
                        g.tensor_data(t).to_vec(),
                    )
                })
                .collect(),
        }
    }
    /// Sets `key` (replacing its value where present, else appending it).
    pub fn set(&mut self, key: &str, v: Value) -> &mut Self {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = v,
            None => self.metadata.push((key.into(), v)),
        }
        self
    }
    /// Removes `key` from the metadata.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let align = match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, Value::U32(a))) if *a > 0 => *a as usize,
            _ => DEFAULT_ALIGNMENT,
        };
        let mut out = Vec::new();
        out.extend(MAGIC);
        out.extend(self.version.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        for (k, v) in &self.metadata {
            put_str(&mut out, k);
            out.extend(value_type(v).to_le_bytes());
            put_value(&mut out, v);
        }
        let mut offset = 0usize;
        for (name, ne, t, bytes) in &self.tensors {
            put_str(&mut out, name);
            out.extend((ne.len() as u32).to_le_bytes());
            ne.iter()
                .for_each(|d| out.extend((*d as u64).to_le_bytes()));
            out.extend(t.to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offset = (offset + bytes.len()).next_multiple_of(align);
        }
        out.resize(out.len().next_multiple_of(align), 0);
        for (_, _, _, bytes) in &self.tensors {
            out.extend(bytes);
            out.resize(out.len().next_multiple_of(align), 0);
        }
        out
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn value_type(v: &Value) -> u32 {
    match v {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::Str(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.push(*x as u8),
        Value::U16(x) => out.extend(x.to_le_bytes()),
        Value::I16(x) => out.extend(x.to_le_bytes()),
        Value::U32(x) => out.extend(x.to_le_bytes()),
        Value::I32(x) => out.extend(x.to_le_bytes()),
        Value::U64(x) => out.extend(x.to_le_bytes()),
        Value::I64(x) => out.extend(x.to_le_bytes()),
        Value::F32(x) => out.extend(x.to_le_bytes()),
        Value::F64(x) => out.extend(x.to_le_bytes()),
        Value::Bool(x) => out.push(*x as u8),
        Value::Str(s) => put_str(out, s),
        Value::Array(a) => {
            // An empty array's element type is not known; u8 is as good as any.
            out.extend(a.first().map_or(0, value_type).to_le_bytes());
            out.extend((a.len() as u64).to_le_bytes());
            a.iter().for_each(|x| put_value(out, x));
        }
    }
}

//! Keys and values of the positions seen so far, one growable buffer per layer, so memory is
//! proportional to the conversation rather than to the model's maximum context.

use crate::config::ModelConfig;

#[derive(Clone, Debug)]
pub struct KvCache {
    k: Vec<Vec<f32>>, // L × (len, NKV*HS)
    v: Vec<Vec<f32>>, // L × (len, NKV*HS)
    len: usize,
    kv_dim: usize,
}

impl KvCache {
    pub fn new(cfg: &ModelConfig) -> Self {
        KvCache {
            k: vec![Vec::new(); cfg.n_layers],
            v: vec![Vec::new(); cfg.n_layers],
            len: 0,
            kv_dim: cfg.kv_dim(),
        }
    }
    /// Number of positions held.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Appends layer `l`'s keys and values for the positions being processed.
    pub fn append(&mut self, l: usize, k: &[f32], v: &[f32]) {
        debug_assert_eq!(k.len() % self.kv_dim, 0);
        self.k[l].extend_from_slice(k);
        self.v[l].extend_from_slice(v);
    }
    /// (keys, values) of layer `l`, including positions appended in the current step.
    pub fn layer(&self, l: usize) -> (&[f32], &[f32]) {
        (&self.k[l], &self.v[l])
    }
    /// Marks `t` appended positions as done (after every layer has appended them).
    pub fn advance(&mut self, t: usize) {
        self.len += t;
        debug_assert!(self.k.iter().all(|k| k.len() == self.len * self.kv_dim));
    }
    /// Drops everything after the first `len` positions (to rewind a conversation).
    pub fn truncate(&mut self, len: usize) {
        let n = len.min(self.len);
        for l in 0..self.k.len() {
            self.k[l].truncate(n * self.kv_dim);
            self.v[l].truncate(n * self.kv_dim);
        }
        self.len = n;
    }
    pub fn clear(&mut self) {
        self.truncate(0);
    }
}

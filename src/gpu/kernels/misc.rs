//! Norms, the embedding lookup, pooling and the sampler.

use super::{spread, u, wg, Norm, Recorder};
use crate::generate::{Rng, SamplingParams};
use crate::gpu::buffers::Weight;
use crate::gpu::{Op, Variant};
use bytemuck::{Pod, Zeroable};

// ---------------------------------------------------------------------------------------------
// norms

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NormShape {
    pub rows: u32,
    pub c: u32,
    pub eps: f32,
    pub w_off: u32,
    pub b_off: u32,
    pub _pad: [u32; 3],
}

/// out (R, C) = `norm` of x's rows, its weight (and bias) read from `vecs` at the offsets it
/// names: `rmsnorm.wgsl` or `layernorm.wgsl`. CPU twins: `ops::rmsnorm_forward`,
/// `ops::layernorm_forward`.
pub fn norm(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    x: &wgpu::Buffer,
    vecs: &wgpu::Buffer,
    norm: Norm,
    rows: usize,
    c: usize,
) {
    let (w, b, eps) = match norm {
        Norm::Rms { w, eps } => (w, None, eps),
        Norm::Layer { w, b, eps } => (w, Some(b), eps),
        Norm::None => panic!("norm kernel without a norm"),
    };
    let shape = NormShape {
        rows: u(rows),
        c: u(c),
        eps,
        w_off: u(w),
        b_off: u(b.unwrap_or(0)),
        _pad: [0; 3],
    };
    match b {
        None => rec.dispatch(
            Op::RmsNorm,
            Variant::Plain,
            &[vecs, x, out],
            &shape,
            spread(rows, 1),
        ),
        Some(_) => rec.dispatch(
            Op::LayerNorm,
            Variant::Plain,
            &[vecs, vecs, x, out],
            &shape,
            spread(rows, 1),
        ),
    }
}

/// out (R, C) = rmsnorm(x) · weight (C). CPU twin: `ops::rmsnorm_forward`.
pub fn rmsnorm(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    x: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    rows: usize,
    c: usize,
    eps: f32,
) {
    norm(rec, out, x, weight, Norm::Rms { w: 0, eps }, rows, c)
}

/// out (R, C) = layernorm(x) · weight + bias, weight and bias (C) one after the other in
/// `weight_bias`. CPU twin: `ops::layernorm_forward`.
pub fn layernorm(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    x: &wgpu::Buffer,
    weight_bias: &wgpu::Buffer,
    rows: usize,
    c: usize,
    eps: f32,
) {
    let n = Norm::Layer { w: 0, b: c, eps };
    norm(rec, out, x, weight_bias, n, rows, c)
}

// ---------------------------------------------------------------------------------------------
// embedding

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct EmbeddingShape {
    pub rows: u32,
    pub c: u32,
    pub k4: u32,
    pub w_aux: u32,
    pub pos0: u32,
    pub has_pos: u32,
    pub _pad: [u32; 2],
}

/// out (R, C) = wte[tokens] (+ wpe[pos0..]). CPU twin: `ops::embedding_forward`.
/// `tokens` holds R u32 ids; `wte` is (V, C) in any format; `wpe` (maxT, C) f32.
pub fn embedding(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    tokens: &wgpu::Buffer,
    wte: &Weight,
    wpe: Option<&wgpu::Buffer>,
    rows: usize,
    pos0: usize,
) {
    let shape = EmbeddingShape {
        rows: u(rows),
        c: u(wte.cols),
        k4: u(wte.k4),
        w_aux: u(wte.aux),
        pos0: u(pos0),
        has_pos: wpe.is_some() as u32,
        _pad: [0; 2],
    };
    let wpe = wpe.unwrap_or(&rec.gpu.placeholder).clone();
    let groups = spread((rows * wte.k4).div_ceil(wg(Op::Embedding)), 1);
    rec.dispatch(
        Op::Embedding,
        Variant::Weights(wte.format),
        &[&wte.buf, tokens, &wpe, out],
        &shape,
        groups,
    );
}

// ---------------------------------------------------------------------------------------------
// pooling

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct PoolShape {
    pub rows: u32,
    pub c: u32,
    pub first: u32,
    pub mode: u32,
}

/// out (C) = x's (R, C) rows pooled as a classifier's config says: the last row, or each
/// channel's maximum (over the second copy's rows for echo_max). CPU twin: `ops::pool_forward`.
pub fn pool(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    x: &wgpu::Buffer,
    rows: usize,
    c: usize,
    pooling: crate::config::Pooling,
) {
    assert!(rows >= 1 && c >= 1);
    let shape = PoolShape {
        rows: u(rows),
        c: u(c),
        first: u(crate::ops::first_pooled(rows, pooling)),
        mode: (pooling != crate::config::Pooling::Last) as u32,
    };
    let groups = [u(c.div_ceil(wg(Op::Pool))), 1, 1];
    rec.dispatch(Op::Pool, Variant::Plain, &[x, out], &shape, groups);
}

// ---------------------------------------------------------------------------------------------
// sampling

/// Most candidates the GPU sampler sorts (its workgroup's 256 threads).
pub const SAMPLE_MAX_K: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SampleShape {
    pub v: u32,
    pub x_off: u32,
    pub top_k: u32,
    pub slot: u32,
    pub inv_t: f32,
    pub top_p: f32,
    pub penalty: f32,
    pub _pad: u32,
}

/// How `params` sample on the GPU: the uniform's (top_k, inv_t, top_p, penalty), or None when
/// the GPU sampler cannot follow them (more than [`SAMPLE_MAX_K`] candidates: top_k 0 or above
/// 256 with a vocabulary larger than 256), in which case the CPU samples from read-back logits.
pub fn sample_settings(params: &SamplingParams, vocab: usize) -> Option<(u32, f32, f32, f32)> {
    let penalty = params.repetition_penalty;
    if params.temperature == 0.0 {
        return Some((0, 0.0, 1.0, penalty));
    }
    // generate::sample keeps top_k candidates when 0 < top_k < V, else all V.
    let k = match params.top_k {
        k if k > 0 && k < vocab => k,
        _ => vocab,
    };
    (k <= SAMPLE_MAX_K).then(|| (k as u32, 1.0 / params.temperature, params.top_p, penalty))
}

/// The sampler's state buffer for a generation: the RNG (xoshiro256**, four u64 as (lo, hi)
/// u32 pairs), then one bit per vocabulary entry for the tokens seen (the repetition penalty's
/// history). CPU twin: [`Rng`] and the history of `generate::Generator`.
pub fn sampler_state(rng: &Rng, seen: &[u32], vocab: usize) -> Vec<u32> {
    let mut out = vec![0u32; 8 + vocab.div_ceil(32)];
    for (i, s) in rng.state().iter().enumerate() {
        out[2 * i] = *s as u32;
        out[2 * i + 1] = (*s >> 32) as u32;
    }
    for &t in seen {
        if (t as usize) < vocab {
            out[8 + t as usize / 32] |= 1 << (t % 32);
        }
    }
    out
}

/// Picks the next token from `logits[x_off..]` (V) as `generate::sample` would with the RNG and
/// history in `state` (see [`sampler_state`]), which it updates; writes the token to
/// `tokens[0]` (the next step's input) and `ring[slot]`. `settings` from [`sample_settings`].
#[allow(clippy::too_many_arguments)]
pub fn sample(
    rec: &mut Recorder,
    logits: &wgpu::Buffer,
    x_off: usize,
    vocab: usize,
    settings: (u32, f32, f32, f32),
    state: &wgpu::Buffer,
    tokens: &wgpu::Buffer,
    ring: &wgpu::Buffer,
    slot: usize,
) {
    let (top_k, inv_t, top_p, penalty) = settings;
    let shape = SampleShape {
        v: u(vocab),
        x_off: u(x_off),
        top_k,
        slot: u(slot),
        inv_t,
        top_p,
        penalty,
        _pad: 0,
    };
    rec.dispatch(
        Op::Sample,
        Variant::Plain,
        &[logits, state, tokens, ring],
        &shape,
        [1, 1, 1],
    );
}

//! Attention over the KV cache (`attention.wgsl`) and the merge of its split-K partial results
//! (`attention_combine.wgsl`). CPU twin: `ops::attention_forward`.

use super::{spread, u, wg, Recorder};
use crate::gpu::{Op, Variant};
use bytemuck::{Pod, Zeroable};

/// Most ranges a decode step's positions are split into (flash-decoding).
pub const MAX_SPLITS: usize = 32;
/// Queries one attention workgroup handles together (they share every key and value read).
const MAX_QUERIES: usize = 8;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct AttentionShape {
    pub rows: u32,
    pub nh: u32,
    pub nkv: u32,
    pub hs: u32,
    pub pos0: u32,
    pub scale: f32,
    pub causal: u32,
    pub v_off: u32,
    pub qh: u32,
    pub qr: u32,
    pub splits: u32,
    pub split_len: u32,
    pub _pad: [u32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct CombineShape {
    pub n: u32,
    pub hs: u32,
    pub splits: u32,
    pub _pad: u32,
}

/// How many ranges a decode step over `n` positions is split into, and their length: ranges of
/// at least one workgroup's block (64 positions), at most [`MAX_SPLITS`] of them.
pub fn decode_splits(n: usize) -> (usize, usize) {
    let block = wg(Op::Attention);
    let len = n.div_ceil(MAX_SPLITS).div_ceil(block).max(1) * block;
    (n.div_ceil(len), len)
}

/// A layer's KV cache on the GPU: keys (capacity, NKV·HS), then values from `v_off`.
#[derive(Clone, Copy, Debug)]
pub struct KvCacheRef<'a> {
    pub buf: &'a wgpu::Buffer,
    pub v_off: usize,
}

/// out (R, NH·HS): grouped-query attention of q (R, NH·HS) over the first pos0 + R rows of the
/// cache, which already holds these rows' keys and values; causal, or with `causal` false every
/// row sees all pos0 + R positions (a bidirectional classifier). A single row (decode) is split
/// over its positions when `part` (room for NH · MAX_SPLITS · (HS + 2) floats) is given and the
/// context is longer than one block: one more dispatch merges the ranges.
/// CPU twin: `ops::attention_forward`.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    rec: &mut Recorder,
    out: &wgpu::Buffer,
    q: &wgpu::Buffer,
    kv: KvCacheRef,
    part: Option<&wgpu::Buffer>,
    rows: usize,
    nh: usize,
    nkv: usize,
    hs: usize,
    pos0: usize,
    causal: bool,
) {
    let block = wg(Op::Attention);
    assert!(
        hs <= 4 * block && hs <= 256,
        "attention.wgsl handles head sizes up to {}",
        (4 * block).min(256)
    );
    assert!(nkv > 0 && nh % nkv == 0 && rows >= 1);
    let group = nh / nkv;
    let qh = group.min(MAX_QUERIES);
    let qr = (MAX_QUERIES / qh).min(rows);
    let n = pos0 + rows;
    let (splits, split_len) = match (rows, part) {
        (1, Some(_)) => decode_splits(n),
        _ => (1, n.div_ceil(block) * block),
    };
    let shape = AttentionShape {
        rows: u(rows),
        nh: u(nh),
        nkv: u(nkv),
        hs: u(hs),
        pos0: u(pos0),
        scale: 1.0 / (hs as f32).sqrt(),
        causal: causal as u32,
        v_off: u(kv.v_off),
        qh: u(qh),
        qr: u(qr),
        splits: u(splits),
        split_len: u(split_len),
        _pad: [0; 4],
    };
    let x = rows.div_ceil(qr) * nkv * group.div_ceil(qh);
    assert!(x <= 65_535, "too many attention workgroups ({x})");
    let gpu = rec.gpu;
    let part = match splits {
        1 => &gpu.placeholder_rw,
        _ => part.expect("split attention needs the partials buffer"),
    };
    rec.dispatch(
        Op::Attention,
        Variant::Plain,
        &[q, kv.buf, out, part],
        &shape,
        [u(x), u(splits), 1],
    );
    if splits > 1 {
        let shape = CombineShape {
            n: u(rows * nh),
            hs: u(hs),
            splits: u(splits),
            _pad: 0,
        };
        rec.dispatch(
            Op::AttentionCombine,
            Variant::Plain,
            &[part, out],
            &shape,
            spread(rows * nh, 1),
        );
    }
}

// Weight access, Q6_K (the contract every prelude keeps: weights.wgsl; CPU twin:
// quant::reference::dequantize_block). A super-block is 256 weights x[i] = d·sc[i / 16]·(q[i] − 32)
// with 6-bit q split into ql (low 4 bits) and qh (high 2) and i8 scales sc. In half h (128
// weights), quarter t (32 weights), position l: the low bits are nibble t / 2 of
// ql[64h + 32(t % 2) + l], the high bits bits 2t..2t+1 of qh[32h + l], the scale sc[8h + 2t + l / 16].
// GPU layout (src/gpu/buffers.rs): ggml's 210-byte blocks without d (52 u32 each: ql in words
// 0..31, qh in 32..47, sc in 48..51) for the whole matrix; then from u32 `shape.w_aux` every
// block's f16 d, two per u32.

@group(0) @binding(1) var<storage, read> w: array<u32>;

fn q6_d(blk: u32) -> f32 {
    let p = unpack2x16float(w[shape.w_aux + blk / 2u]);
    return select(p.x, p.y, (blk & 1u) == 1u);
}

// Scale k (0..16) of the block at u32 `base`, an i8.
fn q6_sc(base: u32, k: u32) -> f32 {
    let b = (w[base + 48u + k / 4u] >> (8u * (k % 4u))) & 255u;
    return f32(bitcast<i32>(b << 24u) >> 24u);
}

// q − 32 for positions 4u .. 4u+3 of quarter t of half h of the block at `base`.
fn q6x4(base: u32, h: u32, t: u32, u: u32) -> vec4<f32> {
    let lo = (w[base + 16u * h + 8u * (t & 1u) + u] >> (4u * (t / 2u))) & 0x0f0f0f0fu;
    let hi = (w[base + 32u + 8u * h + u] >> (2u * t)) & 0x03030303u;
    let q = lo | (hi << 4u);
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(255u)) - 32.0;
}

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    let blk = row * (shape.k4 / 64u) + g / 64u;
    let base = blk * 52u;
    let e = (g % 64u) * 4u;
    let h = e / 128u;
    let t = (e % 128u) / 32u;
    let l = e % 32u;
    return q6_d(blk) * q6_sc(base, 8u * h + 2u * t + l / 16u) * q6x4(base, h, t, l / 4u);
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let blk = row * (shape.k4 / 64u) + s / 8u;
    let base = blk * 52u;
    let h = (s % 8u) / 4u;
    let t = s % 4u;
    // positions 0..15 take scale 8h + 2t, positions 16..31 the next one
    let a0 = dot(q6x4(base, h, t, 0u), x.v0) + dot(q6x4(base, h, t, 1u), x.v1)
        + dot(q6x4(base, h, t, 2u), x.v2) + dot(q6x4(base, h, t, 3u), x.v3);
    let a1 = dot(q6x4(base, h, t, 4u), x.v4) + dot(q6x4(base, h, t, 5u), x.v5)
        + dot(q6x4(base, h, t, 6u), x.v6) + dot(q6x4(base, h, t, 7u), x.v7);
    let k = 8u * h + 2u * t;
    return q6_d(blk) * (q6_sc(base, k) * a0 + q6_sc(base, k + 1u) * a1);
}

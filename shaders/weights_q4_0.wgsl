// Weight access, Q4_0 (the contract every prelude keeps: weights.wgsl; CPU twin:
// quant::reference::dequantize_block). A block is 32 weights x[i] = d · (q[i] − 8): byte j of its
// 16 quant bytes holds q[j] in its low nibble and q[j + 16] in its high one.
// GPU layout (src/gpu/buffers.rs): the blocks' 16-byte bodies (qs), 4 u32 each, for the whole
// matrix; then from u32 `shape.w_aux` every block's f16 d, two per u32.

@group(0) @binding(1) var<storage, read> w: array<u32>;

fn q4_d(blk: u32) -> f32 {
    let p = unpack2x16float(w[shape.w_aux + blk / 2u]);
    return select(p.x, p.y, (blk & 1u) == 1u);
}

// The low nibbles of the four bytes of a u32 (byte 0 first).
fn nib_lo(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u));
}

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    let blk = row * (shape.k4 / 8u) + g / 8u;
    let gi = g % 8u; // groups 0..3: low nibbles of words 0..3; groups 4..7: their high nibbles
    let q = w[blk * 4u + (gi & 3u)] >> (4u * (gi / 4u));
    return q4_d(blk) * (nib_lo(q) - 8.0);
}

// Word j holds weights 4j .. 4j+3 (low nibbles) and 16+4j .. 16+4j+3 (high nibbles).
fn q4_word(q: u32, lo: vec4<f32>, hi: vec4<f32>) -> f32 {
    return dot(nib_lo(q) - 8.0, lo) + dot(nib_lo(q >> 4u) - 8.0, hi);
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let blk = row * (shape.k4 / 8u) + s;
    let b = blk * 4u;
    let acc = q4_word(w[b], x.v0, x.v4) + q4_word(w[b + 1u], x.v1, x.v5)
        + q4_word(w[b + 2u], x.v2, x.v6) + q4_word(w[b + 3u], x.v3, x.v7);
    return q4_d(blk) * acc;
}

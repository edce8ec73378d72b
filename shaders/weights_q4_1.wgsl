// Weight access, Q4_1 (the contract every prelude keeps: weights.wgsl; CPU twin:
// quant::reference::dequantize_block). A block is 32 weights x[i] = d · q[i] + m, nibbles as in
// Q4_0. Its 20 bytes are aligned, so the GPU holds ggml's blocks as stored: 5 u32 each, word 0
// = (d, m) as two f16, words 1..4 the 16 quant bytes.

@group(0) @binding(1) var<storage, read> w: array<u32>;

fn nib_lo(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u));
}

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    let blk = row * (shape.k4 / 8u) + g / 8u;
    let dm = unpack2x16float(w[blk * 5u]);
    let gi = g % 8u;
    let q = w[blk * 5u + 1u + (gi & 3u)] >> (4u * (gi / 4u));
    return dm.x * nib_lo(q) + dm.y;
}

// Word j holds weights 4j .. 4j+3 (low nibbles) and 16+4j .. 16+4j+3 (high nibbles).
fn q4_word(q: u32, lo: vec4<f32>, hi: vec4<f32>) -> f32 {
    return dot(nib_lo(q), lo) + dot(nib_lo(q >> 4u), hi);
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let blk = row * (shape.k4 / 8u) + s;
    let b = blk * 5u;
    let dm = unpack2x16float(w[b]);
    let acc = q4_word(w[b + 1u], x.v0, x.v4) + q4_word(w[b + 2u], x.v1, x.v5)
        + q4_word(w[b + 3u], x.v2, x.v6) + q4_word(w[b + 4u], x.v3, x.v7);
    let xsum = x.v0 + x.v1 + x.v2 + x.v3 + x.v4 + x.v5 + x.v6 + x.v7;
    // Σ (d·q + m)·x = d·Σ q·x + m·Σ x
    return dm.x * acc + dm.y * dot(xsum, vec4<f32>(1.0));
}

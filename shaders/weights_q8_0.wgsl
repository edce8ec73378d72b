// Weight access, Q8_0 (the contract every prelude keeps: weights.wgsl; CPU twin:
// quant::reference::dequantize_block). A block is 32 weights x[i] = d · q[i], q an i8.
// GPU layout (src/gpu/buffers.rs): the blocks' 32-byte bodies (q) for the whole matrix, 8 u32
// each, row after row; then from u32 `shape.w_aux` every block's f16 d, two per u32.

@group(0) @binding(1) var<storage, read> w: array<u32>;

// The scale of block `blk` (counted over the whole matrix).
fn q8_d(blk: u32) -> f32 {
    let p = unpack2x16float(w[shape.w_aux + blk / 2u]);
    return select(p.x, p.y, (blk & 1u) == 1u);
}

// The four i8 in a u32 (byte 0 first), sign-extended.
fn i8x4(q: u32) -> vec4<f32> {
    let v = vec4<i32>(
        bitcast<i32>(q << 24u),
        bitcast<i32>(q << 16u),
        bitcast<i32>(q << 8u),
        bitcast<i32>(q),
    );
    return vec4<f32>(v >> vec4<u32>(24u));
}

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    let blk = row * (shape.k4 / 8u) + g / 8u;
    return q8_d(blk) * i8x4(w[blk * 8u + g % 8u]);
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let blk = row * (shape.k4 / 8u) + s;
    let b = blk * 8u;
    let acc = dot(i8x4(w[b]), x.v0) + dot(i8x4(w[b + 1u]), x.v1) + dot(i8x4(w[b + 2u]), x.v2)
        + dot(i8x4(w[b + 3u]), x.v3) + dot(i8x4(w[b + 4u]), x.v4)
        + dot(i8x4(w[b + 5u]), x.v5) + dot(i8x4(w[b + 6u]), x.v6)
        + dot(i8x4(w[b + 7u]), x.v7);
    return q8_d(blk) * acc;
}

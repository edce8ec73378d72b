// Weight access, Q8_0 (see weights_f32.wgsl for the contract every prelude keeps; CPU twin:
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

fn dot32(row: u32, s: u32, xv: ptr<function, array<vec4<f32>, 8>>) -> f32 {
    let blk = row * (shape.k4 / 8u) + s;
    var acc = 0.0;
    for (var i = 0u; i < 8u; i++) {
        acc += dot(i8x4(w[blk * 8u + i]), (*xv)[i]);
    }
    return q8_d(blk) * acc;
}

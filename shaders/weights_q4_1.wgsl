// Weight access, Q4_1 (see weights_f32.wgsl for the contract every prelude keeps; CPU twin:
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

fn dot32(row: u32, s: u32, xv: ptr<function, array<vec4<f32>, 8>>) -> f32 {
    let blk = row * (shape.k4 / 8u) + s;
    let dm = unpack2x16float(w[blk * 5u]);
    var acc = 0.0;
    var xsum = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        let q = w[blk * 5u + 1u + j];
        acc += dot(nib_lo(q), (*xv)[j]) + dot(nib_lo(q >> 4u), (*xv)[j + 4u]);
        xsum += (*xv)[j] + (*xv)[j + 4u];
    }
    // Σ (d·q + m)·x = d·Σ q·x + m·Σ x
    return dm.x * acc + dm.y * dot(xsum, vec4<f32>(1.0));
}

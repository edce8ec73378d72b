// Weight access, Q4_K (the contract every prelude keeps: weights.wgsl; CPU twin:
// quant::reference::dequantize_block). A super-block is 256 weights in 8 sub-blocks of 32:
// x[i] = d·sc[j]·q[i] − dmin·mn[j], j = i / 32, with 6-bit (sc, mn) pairs packed in 12 bytes
// (ggml's get_scale_min_k4) and 4-bit q: the 32 bytes qs[32c ..] hold sub-block 2c in their low
// nibbles and 2c + 1 in their high ones. Its 144 bytes are aligned, so the GPU holds ggml's
// blocks as stored: 36 u32 each, word 0 = (d, dmin), words 1..3 the scales, words 4..35 qs.

@group(0) @binding(1) var<storage, read> w: array<u32>;

fn nib_lo(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u));
}

// Byte k (0..12) of the scales of the block starting at u32 `base`.
fn k_byte(base: u32, k: u32) -> u32 {
    return (w[base + 1u + k / 4u] >> (8u * (k % 4u))) & 255u;
}

// (d·sc[j], dmin·mn[j]) of sub-block j of the block at `base`.
fn k_scale_min(base: u32, j: u32) -> vec2<f32> {
    var sc: u32;
    var mn: u32;
    if (j < 4u) {
        sc = k_byte(base, j) & 63u;
        mn = k_byte(base, j + 4u) & 63u;
    } else {
        sc = (k_byte(base, j + 4u) & 15u) | ((k_byte(base, j - 4u) >> 6u) << 4u);
        mn = (k_byte(base, j + 4u) >> 4u) | ((k_byte(base, j) >> 6u) << 4u);
    }
    let dd = unpack2x16float(w[base]);
    return vec2<f32>(dd.x * f32(sc), dd.y * f32(mn));
}

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    let base = (row * (shape.k4 / 64u) + g / 64u) * 36u;
    let e = (g % 64u) * 4u; // element within the super-block
    let j = e / 32u;
    let q = w[base + 4u + 8u * (j / 2u) + (e % 32u) / 4u] >> (4u * (j & 1u));
    let sm = k_scale_min(base, j);
    return sm.x * nib_lo(q) - sm.y;
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let base = (row * (shape.k4 / 64u) + s / 8u) * 36u;
    let j = s % 8u;
    let qb = base + 4u + 8u * (j / 2u);
    let sh = 4u * (j & 1u); // sub-block 2c: low nibbles; 2c + 1: high
    let acc = dot(nib_lo(w[qb] >> sh), x.v0) + dot(nib_lo(w[qb + 1u] >> sh), x.v1)
        + dot(nib_lo(w[qb + 2u] >> sh), x.v2) + dot(nib_lo(w[qb + 3u] >> sh), x.v3)
        + dot(nib_lo(w[qb + 4u] >> sh), x.v4) + dot(nib_lo(w[qb + 5u] >> sh), x.v5)
        + dot(nib_lo(w[qb + 6u] >> sh), x.v6) + dot(nib_lo(w[qb + 7u] >> sh), x.v7);
    let xsum = x.v0 + x.v1 + x.v2 + x.v3 + x.v4 + x.v5 + x.v6 + x.v7;
    let sm = k_scale_min(base, j);
    return sm.x * acc - sm.y * dot(xsum, vec4<f32>(1.0));
}

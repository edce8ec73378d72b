// Weight access, f32 variant (the contract every prelude keeps: weights.wgsl). (N, K) row-major,
// rows padded with zeros to K32 = 32·ceil(K/32).

@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>; // (N, K32 / 4)

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    return w[row * shape.k4 + g];
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let b = row * shape.k4 + 8u * s;
    return dot(w[b], x.v0) + dot(w[b + 1u], x.v1) + dot(w[b + 2u], x.v2) + dot(w[b + 3u], x.v3)
        + dot(w[b + 4u], x.v4) + dot(w[b + 5u], x.v5) + dot(w[b + 6u], x.v6)
        + dot(w[b + 7u], x.v7);
}

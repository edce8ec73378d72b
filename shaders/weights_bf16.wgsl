// Weight access, bf16 variant (the contract every prelude keeps: weights.wgsl): two
// bfloat16 per u32, the lower index in the low half. A bf16 is the top half of an f32, so
// widening is a shift (exact). (N, K32) values, zero-padded rows.

@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>; // (N, K32 / 4), 4 bf16 each

fn bf16x4(p: vec2<u32>) -> vec4<f32> {
    return vec4<f32>(
        bitcast<f32>(p.x << 16u),
        bitcast<f32>(p.x & 0xffff0000u),
        bitcast<f32>(p.y << 16u),
        bitcast<f32>(p.y & 0xffff0000u),
    );
}

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    return bf16x4(w[row * shape.k4 + g]);
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let b = row * shape.k4 + 8u * s;
    return dot(bf16x4(w[b]), x.v0) + dot(bf16x4(w[b + 1u]), x.v1)
        + dot(bf16x4(w[b + 2u]), x.v2) + dot(bf16x4(w[b + 3u]), x.v3)
        + dot(bf16x4(w[b + 4u]), x.v4) + dot(bf16x4(w[b + 5u]), x.v5)
        + dot(bf16x4(w[b + 6u]), x.v6) + dot(bf16x4(w[b + 7u]), x.v7);
}

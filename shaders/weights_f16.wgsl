// Weight access, f16 variant (the contract every prelude keeps: weights.wgsl): two
// halves per u32, the lower index in the low half, four per vec2<u32>, unpacked with
// unpack2x16float. Needs no shader-f16 feature, so it runs on every WebGPU adapter (headless
// Chromium's SwiftShader has none). Math stays in f32. (N, K32) halves, zero-padded rows.

@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>; // (N, K32 / 4), 4 halves each

fn f16x4(p: vec2<u32>) -> vec4<f32> {
    return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    return f16x4(w[row * shape.k4 + g]);
}

fn dot32(row: u32, s: u32, x: X8) -> f32 {
    let b = row * shape.k4 + 8u * s;
    return dot(f16x4(w[b]), x.v0) + dot(f16x4(w[b + 1u]), x.v1) + dot(f16x4(w[b + 2u]), x.v2)
        + dot(f16x4(w[b + 3u]), x.v3) + dot(f16x4(w[b + 4u]), x.v4)
        + dot(f16x4(w[b + 5u]), x.v5) + dot(f16x4(w[b + 6u]), x.v6)
        + dot(f16x4(w[b + 7u]), x.v7);
}

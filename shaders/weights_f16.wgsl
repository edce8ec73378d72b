// Weight access, f16 variant (see weights_f32.wgsl for the contract every prelude keeps): two
// halves per u32, the lower index in the low half, four per vec2<u32>, unpacked with
// unpack2x16float. Needs no shader-f16 feature, so it runs on every WebGPU adapter (headless
// Chromium's SwiftShader has none). Math stays in f32. (N, K32) halves, zero-padded rows.

@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>; // (N, K32 / 4), 4 halves each

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    let p = w[row * shape.k4 + g];
    return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}

fn dot32(row: u32, s: u32, xv: ptr<function, array<vec4<f32>, 8>>) -> f32 {
    let b = row * shape.k4 + 8u * s;
    var acc = 0.0;
    for (var i = 0u; i < 8u; i++) {
        let p = w[b + i];
        acc += dot(vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y)), (*xv)[i]);
    }
    return acc;
}

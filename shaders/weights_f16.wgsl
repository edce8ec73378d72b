// Weight access, f16 variant: two halves packed per u32 (the low half is the lower index), four
// halves per vec2<u32>, unpacked with unpack2x16float. Needs no shader-f16 feature, so it runs on
// every WebGPU adapter (headless Chromium's SwiftShader has no shader-f16). Math stays in f32.
//
// Same layout as weights_f32.wgsl: (N, K) row-major, rows padded with zeros to K4 = ceil(K / 4)
// groups of four.

@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>; // (N, K4), 4 halves each

// Elements 4i .. 4i+3 of the padded matrix.
fn load_w4(i: u32) -> vec4<f32> {
    let p = w[i];
    return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}

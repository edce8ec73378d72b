// Weight access, f32 variant. Prepended (as text) to every shader that reads a weight matrix:
// matmul, matvec, embedding. Its twin weights_f16.wgsl has the same binding and function.
//
// A matrix (N, K) is stored row-major with each row padded with zeros to K4 = ceil(K / 4) vec4s,
// so a row starts on a 16-byte boundary and the padding contributes nothing to a dot product.

@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>; // (N, K4)

// Elements 4i .. 4i+3 of the padded matrix.
fn load_w4(i: u32) -> vec4<f32> {
    return w[i];
}

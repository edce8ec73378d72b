// Weight access, f32 variant. Every shader that reads a weight matrix (matvec, matmul, embedding)
// is compiled once per storage format, with one of the weights_<format>.wgsl files prepended as
// text. Each prelude declares binding 1 `w` and the same two functions:
//
//   load_w4(row, g)     weights 4g .. 4g+3 of a row, as f32          (tiled matmul, embedding)
//   dot32(row, s, xv)   Σ_i w[row, 32s + i] · xv[i / 4][i % 4]       (matvec: one block of 32)
//
// and reads the matrix geometry from the op's uniform: `shape.k4` (a row's length in groups of
// four, padding included) and `shape.w_aux` (where a packed format's scale array starts, in u32).
// Layouts: src/gpu/buffers.rs. Here (N, K) row-major, rows padded with zeros to K32 = 32·ceil(K/32).

@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>; // (N, K32 / 4)

fn load_w4(row: u32, g: u32) -> vec4<f32> {
    return w[row * shape.k4 + g];
}

fn dot32(row: u32, s: u32, xv: ptr<function, array<vec4<f32>, 8>>) -> f32 {
    let b = row * shape.k4 + 8u * s;
    var acc = 0.0;
    for (var i = 0u; i < 8u; i++) {
        acc += dot(w[b + i], (*xv)[i]);
    }
    return acc;
}

// What every weights prelude (weights_<format>.wgsl) gives the shaders that read a weight
// matrix (matvec, matmul, embedding), which are compiled once per storage format with this file
// and one prelude prepended as text. Each prelude declares binding 1 `w` and two functions:
//
//   load_w4(row, g)    weights 4g .. 4g+3 of a row, as f32          (tiled matmul, embedding)
//   dot32(row, s, x)   Σ_i w[row, 32s + i] · x_i over one block of 32 (matvec)
//
// and reads the matrix geometry from the op's uniform: `shape.k4` (a row's length in groups of
// four, padding included) and `shape.w_aux` (where a packed format's scale array starts, in u32).
// Layouts: src/gpu/buffers.rs.
//
// dot32 takes its 32 inputs as eight named vec4s rather than an array: no dynamic indexing, so
// every compiler keeps them in registers (an array passed by pointer cost lavapipe 3× on the
// LM head).

struct X8 {
    v0: vec4<f32>, // x[0..4]
    v1: vec4<f32>,
    v2: vec4<f32>,
    v3: vec4<f32>,
    v4: vec4<f32>, // x[16..20]
    v5: vec4<f32>,
    v6: vec4<f32>,
    v7: vec4<f32>,
}

// Token embedding lookup, plus learned positions for gpt2:
// out[r, :] = wte[tokens[r], :] (+ wpe[pos0 + r, :]). CPU twin: ops::embedding_forward.
// wte is a weight matrix like any other (any storage format: f32, f16, bf16 or packed blocks),
// since the same tensor is the tied output projection. One thread per group of four outputs.
//
// Needs weights.wgsl and a prelude (weights_<format>.wgsl): binding 1 `w` = wte (V, C).

struct Shape {
    rows: u32,    // R
    c: u32,       // C
    k4: u32,      // a row of wte in groups of four, padding included
    w_aux: u32,   // packed formats: first f16 scale of wte, in u32 words
    pos0: u32,    // position of row 0
    has_pos: u32, // 0: no learned positions (wpe is a placeholder)
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;     // (R)
@group(0) @binding(3) var<storage, read> wpe: array<f32>;        // (maxT, C)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (R, C)

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let idx = (wid.x + wid.y * nwg.x) * WG + lid;
    if (idx >= shape.rows * shape.k4) {
        return;
    }
    let r = idx / shape.k4;
    let g = idx % shape.k4;
    let e = load_w4(tokens[r], g);
    for (var i = 0u; i < 4u; i++) {
        let col = 4u * g + i;
        if (col < shape.c) {
            var v = e[i];
            if (shape.has_pos != 0u) {
                v += wpe[(shape.pos0 + r) * shape.c + col];
            }
            out[r * shape.c + col] = v;
        }
    }
}

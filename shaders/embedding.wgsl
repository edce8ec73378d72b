// Token embedding lookup, plus learned positions for gpt2:
// out[r, :] = wte[tokens[r], :] (+ wpe[pos0 + r, :]). CPU twin: ops::embedding_forward.
// wte is a weight matrix like any other (f32 or packed f16, padded rows), since the same tensor
// is the tied output projection. One thread per group of four output elements.
//
// Needs a weights prelude (weights_f32.wgsl or weights_f16.wgsl): binding 1 `w` = wte (V, C4).

struct Shape {
    rows: u32,    // R
    c: u32,       // C
    c4: u32,      // row stride of wte in groups of 4 = ceil(C / 4)
    pos0: u32,    // position of row 0
    has_pos: u32, // 0: no learned positions (wpe is a placeholder)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
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
    if (idx >= shape.rows * shape.c4) {
        return;
    }
    let r = idx / shape.c4;
    let g = idx % shape.c4;
    let e = load_w4(tokens[r] * shape.c4 + g);
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

// SwiGLU (llama MLP): out = silu(gate) * up, silu(g) = g · σ(g) = g / (1 + e^(−g)).
// CPU twin: ops::swiglu_forward. One thread per element.

struct Shape {
    n: u32, // number of elements (R · FF)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> gate: array<f32>;       // (N)
@group(0) @binding(2) var<storage, read> up: array<f32>;         // (N)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (N)

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= shape.n) {
        return;
    }
    let g = gate[i];
    out[i] = g / (1.0 + exp(-g)) * up[i];
}

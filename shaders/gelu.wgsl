// GELU, tanh approximation (gpt2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// CPU twin: ops::gelu_forward. One thread per element.

struct Shape {
    n: u32, // number of elements (R · FF)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // (N)

override WG: u32 = 64;
const GELU_SCALE: f32 = 0.7978846; // sqrt(2/π), as ops::GELU_SCALE

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
    let v = x[i];
    let cube = 0.044715 * v * v * v;
    // tanh saturates to ±1 in f32 long before |u| = 15; clamping keeps backends whose tanh is
    // computed from exponentials from returning inf / inf = NaN for large inputs.
    let u = clamp(GELU_SCALE * (v + cube), -15.0, 15.0);
    out[i] = 0.5 * v * (1.0 + tanh(u));
}

// Residual connection: out += x, elementwise. CPU twin: ops::residual_forward.

struct Shape {
    n: u32, // number of elements (R · C)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // (N), updated in place

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
    out[i] += x[i];
}

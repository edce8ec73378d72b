// RMSNorm (llama): out[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) * weight.
// CPU twin: ops::rmsnorm_forward. One workgroup per row; its threads sum x² in a tree.

struct Shape {
    rows: u32, // R
    c: u32,    // C
    eps: f32,
    w_off: u32, // index of the weight in its buffer
    b_off: u32, // index of the bias in its buffer (LayerNorm)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> weight: array<f32>;     // (C)
@group(0) @binding(2) var<storage, read> x: array<f32>;          // (R, C)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (R, C)

override WG: u32 = 64; // a power of two ≤ 256
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let r = wid.x + wid.y * nwg.x;
    if (r >= shape.rows) {
        return;
    }
    let base = r * shape.c;
    var s = 0.0;
    for (var i = lid; i < shape.c; i += WG) {
        let v = x[base + i];
        s += v * v;
    }
    red[lid] = s;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    let rstd = 1.0 / sqrt(red[0] / f32(shape.c) + shape.eps);
    for (var i = lid; i < shape.c; i += WG) {
        out[base + i] = x[base + i] * rstd * weight[shape.w_off + i];
    }
}

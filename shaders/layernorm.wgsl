// LayerNorm (gpt2): out[r, :] = (x[r, :] − mean) / sqrt(var + eps) * weight + bias, with the
// biased variance, as PyTorch. CPU twin: ops::layernorm_forward. One workgroup per row; two tree
// reductions (the mean, then the squared deviations from it — the same two-pass formula as the
// CPU, which stays accurate when |mean| ≫ std).

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
@group(0) @binding(2) var<storage, read> bias: array<f32>;       // (C)
@group(0) @binding(3) var<storage, read> x: array<f32>;          // (R, C)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (R, C)

override WG: u32 = 64; // a power of two ≤ 256
var<workgroup> red: array<f32, 256>;

// Sum of `v` over the workgroup; every thread gets the result.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier(); // red is reused by the next call
    return total;
}

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
    let n = f32(shape.c);
    var s = 0.0;
    for (var i = lid; i < shape.c; i += WG) {
        s += x[base + i];
    }
    let mean = workgroup_sum(lid, s) / n;
    var d = 0.0;
    for (var i = lid; i < shape.c; i += WG) {
        let v = x[base + i] - mean;
        d += v * v;
    }
    let rstd = 1.0 / sqrt(workgroup_sum(lid, d) / n + shape.eps);
    for (var i = lid; i < shape.c; i += WG) {
        out[base + i] = (x[base + i] - mean) * rstd * weight[shape.w_off + i] + bias[shape.b_off + i];
    }
}

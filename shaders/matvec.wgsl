// Matrix-vector product for decode: out[r, o] = x[r, :] · W[o, :] + bias[o], for a few rows r.
// CPU twin: ops::matmul_forward. Prefill uses the tiled matmul.wgsl instead; both share this
// uniform and these bindings, so one bind group serves either.
//
// A workgroup of WG threads computes WG / LANES outputs: a group of LANES threads per output o
// strides over the K4 vec4s of row o of W, then the group adds its partial sums in workgroup
// memory. Every weight is read exactly once per row r, in order, and neighbouring threads read
// neighbouring vec4s, which is what a memory-bound decode step wants.
//
// Needs a weights prelude (weights_f32.wgsl or weights_f16.wgsl): binding 1 `w` (N, K4), load_w4.

struct Shape {
    rows: u32,     // R: rows of x and out
    k: u32,        // K: input features
    n: u32,        // N: output features
    k4: u32,       // row stride of w in groups of 4 = ceil(K / 4)
    x_off: u32,    // index of x[0, 0] in the x buffer
    out_off: u32,  // index of out[0, 0] in the out buffer
    has_bias: u32, // 0: bias is a placeholder
    _pad: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(2) var<storage, read> x: array<f32>;          // (R, K) from x_off
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // (N)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (R, N) from out_off

override WG: u32 = 256; // threads per workgroup; a power of two, LANES ≤ WG ≤ 256
const LANES: u32 = 32u;   // threads per output
var<workgroup> partial: array<f32, 256>;

fn load_x4(base: u32, k0: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
        if (k0 + i < shape.k) {
            v[i] = x[base + k0 + i];
        }
    }
    return v;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Groups of outputs are spread over x and y (at most 65535 workgroups per dimension); z is
    // the row of x.
    let group = wid.x + wid.y * nwg.x;
    let o = group * (WG / LANES) + lid / LANES;
    let lane = lid % LANES;
    let r = wid.z;
    var s = 0.0;
    if (o < shape.n) {
        let xb = shape.x_off + r * shape.k;
        let wb = o * shape.k4;
        for (var j = lane; j < shape.k4; j += LANES) {
            s += dot(load_w4(wb + j), load_x4(xb, 4u * j));
        }
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
        if (lane < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    if (lane == 0u && o < shape.n) {
        var y = partial[lid];
        if (shape.has_bias != 0u) {
            y += bias[o];
        }
        out[shape.out_off + r * shape.n + o] = y;
    }
}

// Index of the largest of n values (the first one on ties, as torch.argmax and
// generate::argmax), so greedy decoding can read back 4 bytes instead of V logits.
// One workgroup: each thread scans a strided slice, then a tree keeps the best (value, index).

struct Shape {
    n: u32,     // number of values (V)
    x_off: u32, // index of x[0] in the buffer
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N) from x_off
@group(0) @binding(2) var<storage, read_write> out: array<u32>;  // (1)

override WG: u32 = 256; // a power of two ≤ 256
const NEG_BIG: f32 = -3.0e38;

var<workgroup> best_v: array<f32, 256>;
var<workgroup> best_i: array<u32, 256>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    var bv = NEG_BIG;
    var bi = 0xffffffffu;
    for (var i = lid; i < shape.n; i += WG) {
        let v = x[shape.x_off + i];
        if (v > bv) { // indices rise within a thread, so ">" keeps the first of equals
            bv = v;
            bi = i;
        }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            let v = best_v[lid + stride];
            let i = best_i[lid + stride];
            if (v > best_v[lid] || (v == best_v[lid] && i < best_i[lid])) {
                best_v[lid] = v;
                best_i[lid] = i;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[0] = min(best_i[0], shape.n - 1u);
    }
}

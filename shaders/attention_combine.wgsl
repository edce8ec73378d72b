// Merges the split-K partial results of attention.wgsl (flash-decoding's second step). CPU twin:
// ops::attention_forward (split and merged, the result is the same softmax-weighted sum).
//
// Range s of a query's positions left its unnormalised sum a_s = Σ exp(score − m_s)·v, its max
// m_s and its denominator l_s. With M = max_s m_s:
//   out = Σ_s exp(m_s − M)·a_s / Σ_s exp(m_s − M)·l_s.
// One workgroup per (row, head); thread j owns dimensions j, j + WG, ...

struct Shape {
    n: u32,      // rows × heads
    hs: u32,     // HS
    splits: u32, // ranges per query
    _pad: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> part: array<f32>;        // (R·NH, splits, HS + 2)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;   // (R·NH, HS)

override WG: u32 = 64;
const NEG_BIG: f32 = -3.0e38;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let qi = wid.x + wid.y * nwg.x;
    if (qi >= shape.n) {
        return;
    }
    let stride = shape.hs + 2u;
    let base = qi * shape.splits * stride;
    var mx = NEG_BIG;
    for (var s = 0u; s < shape.splits; s++) {
        mx = max(mx, part[base + s * stride + shape.hs]);
    }
    var den = 0.0;
    for (var s = 0u; s < shape.splits; s++) {
        let b = base + s * stride;
        den += exp(part[b + shape.hs] - mx) * part[b + shape.hs + 1u];
    }
    for (var j = lid; j < shape.hs; j += WG) {
        var num = 0.0;
        for (var s = 0u; s < shape.splits; s++) {
            let b = base + s * stride;
            num += exp(part[b + shape.hs] - mx) * part[b + j];
        }
        out[qi * shape.hs + j] = num / den;
    }
}

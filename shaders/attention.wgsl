// Grouped-query attention of R new queries over the KV cache, causal or (for a bidirectional
// classifier) over every position. CPU twin: ops::attention_forward.
//
// out[r, h, :] = Σ_s softmax_s(q[r, h] · k[s, g] / sqrt(HS)) v[s, g], s = 0 ..= pos0 + r when
// causal, s = 0 .. pos0 + R otherwise, where g = h / (NH / NKV) is the key/value head that query
// head h shares.
//
// One workgroup per (head, row). It walks the cache in blocks of WG positions: each thread
// scores one position, the block's max and sum come from tree reductions in workgroup memory,
// and a running max m and denominator l rescale what came before (the "online softmax" of
// FlashAttention), so any context length works with fixed workgroup memory and no f32 atomics.
// For the weighted sum of values, thread j owns output dimensions j, j + WG, j + 2·WG, j + 3·WG.

struct Shape {
    rows: u32,  // R: new queries
    nh: u32,    // NH
    nkv: u32,   // NKV
    hs: u32,    // HS (≤ 4·WG and ≤ 256)
    pos0: u32,  // positions already in the cache before these rows
    scale: f32, // 1 / sqrt(HS)
    causal: u32, // 1: row r sees positions 0 ..= pos0 + r; 0: all pos0 + R positions
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> q: array<f32>;          // (R, NH, HS)
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;    // (capacity, NKV, HS)
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;    // (capacity, NKV, HS)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (R, NH, HS)

override WG: u32 = 64; // a power of two ≤ 256
const NEG_BIG: f32 = -3.0e38; // stands in for −∞ (WGSL has no infinity literals)

var<workgroup> qs: array<f32, 256>;  // the query row
var<workgroup> ps: array<f32, 256>;  // this block's unnormalised probabilities
var<workgroup> red: array<f32, 256>; // reduction scratch

fn reduce_max(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            red[lid] = max(red[lid], red[lid + stride]);
        }
        workgroupBarrier();
    }
    let m = red[0];
    workgroupBarrier();
    return m;
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    let s = red[0];
    workgroupBarrier();
    return s;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let h = wid.x;
    let r = wid.y;
    let hs = shape.hs;
    let kvd = shape.nkv * hs;
    let kv_off = (h / (shape.nh / shape.nkv)) * hs; // this head's columns in the cache
    let q_off = (r * shape.nh + h) * hs;
    // Positions this row attends to: 0 ..= pos0 + r (causal), or all of them.
    let n = select(shape.pos0 + shape.rows, shape.pos0 + r + 1u, shape.causal != 0u);

    for (var j = lid; j < hs; j += WG) {
        qs[j] = q[q_off + j];
    }
    workgroupBarrier();

    var m = NEG_BIG; // running max of the scores
    var l = 0.0;     // running Σ exp(score − m)
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var s0 = 0u; s0 < n; s0 += WG) {
        let s = s0 + lid;
        var score = NEG_BIG;
        if (s < n) {
            let kb = s * kvd + kv_off;
            var d = 0.0;
            for (var j = 0u; j < hs; j++) {
                d += qs[j] * k_cache[kb + j];
            }
            score = d * shape.scale;
        }
        let m_new = max(m, reduce_max(lid, score));
        var p = 0.0;
        if (s < n) {
            p = exp(score - m_new);
        }
        ps[lid] = p;
        let corr = exp(m - m_new); // 0 on the first block
        l = l * corr + reduce_sum(lid, p); // the barriers inside also publish ps
        let count = min(WG, n - s0);
        for (var i = 0u; i < 4u; i++) {
            let j = lid + i * WG;
            if (j < hs) {
                var a = acc[i] * corr;
                for (var u = 0u; u < count; u++) {
                    a += ps[u] * v_cache[(s0 + u) * kvd + kv_off + j];
                }
                acc[i] = a;
            }
        }
        m = m_new;
        workgroupBarrier(); // ps is rewritten by the next block
    }
    for (var i = 0u; i < 4u; i++) {
        let j = lid + i * WG;
        if (j < hs) {
            out[q_off + j] = acc[i] / l;
        }
    }
}

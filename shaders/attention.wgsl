// Grouped-query attention of R new query rows over the KV cache, causal or (for a bidirectional
// classifier) over every position. CPU twin: ops::attention_forward.
//
// out[r, h, :] = Σ_s softmax_s(q[r, h] · k[s, g] / sqrt(HS)) v[s, g], s = 0 ..= pos0 + r when
// causal, s = 0 .. pos0 + R otherwise, where g = h / (NH / NKV) is the key/value head that query
// head h shares.
//
// A workgroup takes up to 8 queries that read the same keys and values: QH query heads of one
// group g (the heads that share a KV head) times QR consecutive rows. It walks its positions in
// blocks of WG: each thread reads the key of one position once and scores it against all its
// queries; each block's maxima and sums come from tree reductions in workgroup memory, and a
// running max m and denominator l per query rescale what came before (FlashAttention's online
// softmax), so any context works with fixed workgroup memory and no f32 atomics. For the
// weighted sum of values, thread j owns dimensions j, j + WG, j + 2·WG, j + 3·WG of every query
// and reads each value once for all of them. So keys and values are read once per 8 queries:
// for a prefill that is tiling over queries, for decode (R = 1) it is the GQA group. Loops over
// the queries run to the constant MAXQ (stopping at nq) so that compilers can unroll them and
// keep the per-query arrays in registers.
//
// Split-K (flash-decoding): with shape.splits > 1 the positions are cut into `splits` ranges of
// split_len, one workgroup each (y of the grid), so a long context keeps the whole GPU busy in
// decode; each writes its unnormalised sums with its m and l to `part`, and
// attention_combine.wgsl merges them. With splits = 1 the result goes straight to `out`.

struct Shape {
    rows: u32,      // R: new query rows
    nh: u32,        // NH
    nkv: u32,       // NKV
    hs: u32,        // HS (≤ 4·WG and ≤ 256)
    pos0: u32,      // positions already in the cache before these rows
    scale: f32,     // 1 / sqrt(HS)
    causal: u32,    // 1: row r sees positions 0 ..= pos0 + r; 0: all pos0 + R positions
    v_off: u32,     // index of the V half in kv
    qh: u32,        // query heads per workgroup (divides into NH / NKV in chunks)
    qr: u32,        // query rows per workgroup; qh · qr ≤ 8
    splits: u32,    // ranges of positions (1: no split)
    split_len: u32, // positions per range (a multiple of WG)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> q: array<f32>;           // (R, NH, HS)
@group(0) @binding(2) var<storage, read> kv: array<f32>;          // K (cap, NKV·HS), then V
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // (R, NH, HS)
@group(0) @binding(4) var<storage, read_write> part: array<f32>;  // (R, NH, splits, HS + 2)

override WG: u32 = 64; // a power of two ≤ 64 (ps and red hold 8 queries × WG)
const NEG_BIG: f32 = -3.0e38; // stands in for −∞ (WGSL has no infinity literals)
const MAXQ: u32 = 8u;

var<workgroup> qs: array<f32, 2048>; // the queries, MAXQ × HS
var<workgroup> ps: array<f32, 512>;  // this block's unnormalised probabilities, MAXQ × WG
var<workgroup> red: array<f32, 512>; // reduction scratch, MAXQ × WG

// Per query, the max (op 0) or sum (op 1) over the workgroup of v[qi]; all threads get them.
fn reduce(lid: u32, v: ptr<function, array<f32, 8>>, nq: u32, op: u32) {
    for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
        red[i * WG + lid] = (*v)[i];
    }
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
                let a = red[i * WG + lid];
                let b = red[i * WG + lid + stride];
                red[i * WG + lid] = select(a + b, max(a, b), op == 0u);
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
        (*v)[i] = red[i * WG];
    }
    workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let hs = shape.hs;
    let kvd = shape.nkv * hs;
    let group = shape.nh / shape.nkv;            // query heads per KV head
    let chunks = (group + shape.qh - 1u) / shape.qh;
    // wid.x = (row block · NKV + g) · chunks + chunk; wid.y = split
    let chunk = wid.x % chunks;
    let g = (wid.x / chunks) % shape.nkv;
    let r0 = (wid.x / chunks / shape.nkv) * shape.qr;
    let split = wid.y;
    let nq = shape.qh * shape.qr;
    let kv_col = g * hs;

    // Query i of this workgroup: row r0 + i / qh, head g·group + chunk·qh + i % qh.
    var valid: array<bool, 8>;
    var limit: array<u32, 8>; // positions this query sees: s < limit
    var last_row = r0;
    for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
        let r = r0 + i / shape.qh;
        let hg = chunk * shape.qh + i % shape.qh;
        valid[i] = r < shape.rows && hg < group;
        limit[i] = select(shape.pos0 + shape.rows, shape.pos0 + r + 1u, shape.causal != 0u);
        if (valid[i]) {
            last_row = max(last_row, r);
        }
    }
    let n = select(shape.pos0 + shape.rows, shape.pos0 + last_row + 1u, shape.causal != 0u);
    let s_begin = split * shape.split_len;
    let s_end = min(n, s_begin + shape.split_len);

    for (var e = lid; e < nq * hs; e += WG) {
        let i = e / hs;
        let r = r0 + i / shape.qh;
        let h = g * group + chunk * shape.qh + i % shape.qh;
        var v = 0.0;
        if (valid[i]) {
            v = q[(r * shape.nh + h) * hs + e % hs];
        }
        qs[e] = v;
    }
    workgroupBarrier();

    var m: array<f32, 8>;   // running max of the scores
    var l: array<f32, 8>;   // running Σ exp(score − m)
    var acc: array<f32, 32>; // [query][i]: dimension lid + i·WG
    for (var i = 0u; i < MAXQ; i++) {
        m[i] = NEG_BIG;
    }
    for (var s0 = s_begin; s0 < s_end; s0 += WG) {
        let s = s0 + lid;
        var score: array<f32, 8>;
        for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
            score[i] = 0.0;
        }
        if (s < s_end) {
            let kb = s * kvd + kv_col;
            for (var j = 0u; j < hs; j++) {
                let kj = kv[kb + j];
                for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
                    score[i] += qs[i * hs + j] * kj;
                }
            }
        }
        var see: array<bool, 8>;
        var bmax: array<f32, 8>;
        for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
            see[i] = valid[i] && s < s_end && s < limit[i];
            score[i] = select(NEG_BIG, score[i] * shape.scale, see[i]);
            bmax[i] = score[i];
        }
        reduce(lid, &bmax, nq, 0u);
        var corr: array<f32, 8>;
        var bsum: array<f32, 8>;
        for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
            let m_new = max(m[i], bmax[i]);
            let p = select(0.0, exp(score[i] - m_new), see[i]);
            ps[i * WG + lid] = p;
            bsum[i] = p;
            corr[i] = exp(m[i] - m_new); // 0 on the first block, 1 while nothing is seen
            m[i] = m_new;
        }
        reduce(lid, &bsum, nq, 1u); // its barriers also publish ps
        let count = min(WG, s_end - s0);
        for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
            l[i] = l[i] * corr[i] + bsum[i];
            for (var d = 0u; d < 4u; d++) {
                acc[i * 4u + d] *= corr[i];
            }
        }
        for (var d = 0u; d < 4u; d++) {
            let j = lid + d * WG;
            if (j < hs) {
                for (var u = 0u; u < count; u++) {
                    let vv = kv[shape.v_off + (s0 + u) * kvd + kv_col + j];
                    for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
                        acc[i * 4u + d] += ps[i * WG + u] * vv;
                    }
                }
            }
        }
        workgroupBarrier(); // ps is rewritten by the next block
    }

    for (var i = 0u; i < MAXQ; i++) {
        if (i >= nq) { break; }
        if (!valid[i]) {
            continue;
        }
        let r = r0 + i / shape.qh;
        let h = g * group + chunk * shape.qh + i % shape.qh;
        if (shape.splits == 1u) {
            for (var d = 0u; d < 4u; d++) {
                let j = lid + d * WG;
                if (j < hs) {
                    out[(r * shape.nh + h) * hs + j] = acc[i * 4u + d] / l[i];
                }
            }
        } else {
            let pb = ((r * shape.nh + h) * shape.splits + split) * (hs + 2u);
            for (var d = 0u; d < 4u; d++) {
                let j = lid + d * WG;
                if (j < hs) {
                    part[pb + j] = acc[i * 4u + d];
                }
            }
            if (lid == 0u) {
                part[pb + hs] = m[i];
                part[pb + hs + 1u] = l[i];
            }
        }
    }
}

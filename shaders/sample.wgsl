// Picks the next token on the GPU from the logits of the last position, exactly as the CPU's
// generate::sample does (its oracle), writes it where the next decode step reads its input, and
// appends it to the ring of tokens read back in batches. One workgroup of 256 threads.
//
// In transformers' order, as generate::sample:
//   1. repetition penalty on every token seen so far (a bitset in `state`): a positive logit is
//      divided by it, a negative one multiplied;
//   2. greedy (shape.top_k = 0): the first largest logit;
//   3. otherwise the K best candidates (K = top_k, or V when V ≤ 256), sorted by logit, ties by
//      lower id — found by a radix select on the logits' order-preserving u32 keys (four passes
//      of 8 bits with a workgroup histogram), collected in id order, and bitonic-sorted in
//      workgroup memory;
//   4. then one thread runs the CPU's arithmetic in the CPU's order: p_i = exp(l_i / T − max),
//      normalised by their sum, the top-p cut, and the draw r = uniform · Σ kept, subtracting
//      p_i until r < 0. uniform() is xoshiro256** (generate::Rng) on (lo, hi) u32 pairs.
//
// Every comparison, sort and sum is the CPU's, in the same order, on the same f32 values; only
// exp may differ in the last bit between libm and the GPU's exp, which can change a token only
// if the draw lands within about 1e-7 of the boundary between two candidates.

struct Shape {
    v: u32,       // V
    x_off: u32,   // index of the logits in `logits`
    top_k: u32,   // K candidates (1 ..= 256); 0: greedy
    slot: u32,    // index in `ring` for this token
    inv_t: f32,   // 1 / temperature
    top_p: f32,   // nucleus (1: off)
    penalty: f32, // repetition penalty (1: off)
    _pad: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // (V) from x_off
@group(0) @binding(2) var<storage, read_write> state: array<u32>;  // [0, 8): s0..s3 as (lo, hi); then seen bits (V / 32)
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>; // [0]: the next step's input
@group(0) @binding(4) var<storage, read_write> ring: array<u32>;   // sampled tokens, by slot

const T: u32 = 256u;
const NEG_BIG: f32 = -3.0e38;

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> cand_key: array<u32, 256>;
var<workgroup> cand_id: array<u32, 256>;
var<workgroup> best_v: array<f32, 256>;
var<workgroup> cnt_gt: array<u32, 256>;
var<workgroup> cnt_eq: array<u32, 256>;
var<workgroup> probs: array<f32, 256>;
var<workgroup> sel: vec2<u32>; // (digit, still to take) of a radix pass

fn seen(i: u32) -> bool {
    return ((state[8u + i / 32u] >> (i % 32u)) & 1u) != 0u;
}

// Logit i after the repetition penalty (generate::sample, step 1).
fn plogit(i: u32) -> f32 {
    let l = logits[shape.x_off + i];
    if (shape.penalty != 1.0 && seen(i)) {
        return select(l * shape.penalty, l / shape.penalty, l > 0.0);
    }
    return l;
}

// A u32 that orders as the f32 does (−0 and +0 equal, as partial_cmp has them).
fn key(l: f32) -> u32 {
    if (l == 0.0) {
        return 0x80000000u;
    }
    let b = bitcast<u32>(l);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// --- xoshiro256** on u64 = vec2<u32>(lo, hi) -------------------------------------------------

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn shl64(a: vec2<u32>, n: u32) -> vec2<u32> { // 0 < n < 32
    return vec2<u32>(a.x << n, (a.y << n) | (a.x >> (32u - n)));
}

fn rotl64(a: vec2<u32>, n: u32) -> vec2<u32> { // 0 < n < 32
    return vec2<u32>((a.x << n) | (a.y >> (32u - n)), (a.y << n) | (a.x >> (32u - n)));
}

fn s_at(i: u32) -> vec2<u32> {
    return vec2<u32>(state[2u * i], state[2u * i + 1u]);
}

fn s_set(i: u32, v: vec2<u32>) {
    state[2u * i] = v.x;
    state[2u * i + 1u] = v.y;
}

// generate::Rng::next_u64, on the state in `state`.
fn next_u64() -> vec2<u32> {
    var s0 = s_at(0u);
    var s1 = s_at(1u);
    var s2 = s_at(2u);
    var s3 = s_at(3u);
    let x5 = add64(shl64(s1, 2u), s1); // s1 · 5
    let rot = rotl64(x5, 7u);
    let r = add64(shl64(rot, 3u), rot); // · 9
    let t = shl64(s1, 17u);
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl64(s3.yx, 13u); // rotate left by 45 = swap halves, then 13
    s_set(0u, s0);
    s_set(1u, s1);
    s_set(2u, s2);
    s_set(3u, s3);
    return r;
}

// generate::Rng::uniform: the top 24 bits over 2^24 (exact in f32).
fn rng_uniform() -> f32 {
    return f32(next_u64().y >> 8u) / 16777216.0;
}

fn emit(tok: u32) {
    tokens[0] = tok;
    ring[shape.slot] = tok;
    state[8u + tok / 32u] |= 1u << (tok % 32u);
}

// Whether candidate (ka, ia) comes before (kb, ib): larger logit, then lower id.
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
    return ka > kb || (ka == kb && ia < ib);
}

fn greedy(lid: u32) {
    var bv = NEG_BIG;
    var bi = 0xffffffffu;
    for (var i = lid; i < shape.v; i += T) {
        let v = plogit(i);
        if (v > bv) { // indices rise within a thread, so ">" keeps the first of equals
            bv = v;
            bi = i;
        }
    }
    best_v[lid] = bv;
    cand_id[lid] = bi;
    workgroupBarrier();
    for (var stride = T / 2u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            let v = best_v[lid + stride];
            let i = cand_id[lid + stride];
            if (v > best_v[lid] || (v == best_v[lid] && i < cand_id[lid])) {
                best_v[lid] = v;
                cand_id[lid] = i;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        emit(select(cand_id[0], 0u, cand_id[0] == 0xffffffffu));
    }
}

// The K best candidates, sorted, into cand_key / cand_id [0, K).
fn top_k(lid: u32) {
    let k = shape.top_k;
    // Radix select of the K-th largest key, 8 bits at a time from the top.
    var prefix = 0u;
    var mask = 0u;
    var need = k; // of the keys matching prefix, how many more to take
    for (var round = 0u; round < 4u; round++) {
        let shift = 24u - 8u * round;
        atomicStore(&hist[lid], 0u);
        workgroupBarrier();
        for (var i = lid; i < shape.v; i += T) {
            let kk = key(plogit(i));
            if ((kk & mask) == prefix) {
                atomicAdd(&hist[(kk >> shift) & 255u], 1u);
            }
        }
        workgroupBarrier();
        if (lid == 0u) {
            var cum = 0u;
            var d = 255u;
            loop {
                let h = atomicLoad(&hist[d]);
                if (cum + h >= need || d == 0u) {
                    break;
                }
                cum += h;
                d -= 1u;
            }
            sel = vec2<u32>(d, need - cum);
        }
        workgroupBarrier();
        let s = sel;
        prefix |= s.x << shift;
        mask |= 255u << shift;
        need = s.y;
        workgroupBarrier(); // sel is rewritten by the next pass
    }
    // Keys above the threshold all go in; of those equal to it, the `need` lowest ids. Each
    // thread scans a contiguous range of ids, so a prefix sum over threads orders them by id.
    let threshold = prefix;
    let n_gt = k - need;
    let span = (shape.v + T - 1u) / T;
    let lo = min(shape.v, lid * span);
    let hi = min(shape.v, lo + span);
    var ngt = 0u;
    var neq = 0u;
    for (var i = lo; i < hi; i++) {
        let kk = key(plogit(i));
        ngt += select(0u, 1u, kk > threshold);
        neq += select(0u, 1u, kk == threshold);
    }
    cnt_gt[lid] = ngt;
    cnt_eq[lid] = neq;
    workgroupBarrier();
    if (lid == 0u) {
        var a = 0u;
        var b = 0u;
        for (var t = 0u; t < T; t++) {
            let x = cnt_gt[t];
            cnt_gt[t] = a;
            a += x;
            let y = cnt_eq[t];
            cnt_eq[t] = b;
            b += y;
        }
    }
    workgroupBarrier();
    var pg = cnt_gt[lid];
    var pe = cnt_eq[lid];
    for (var i = lo; i < hi; i++) {
        let kk = key(plogit(i));
        if (kk > threshold) {
            cand_key[pg] = kk;
            cand_id[pg] = i;
            pg++;
        } else if (kk == threshold) {
            if (pe < need) {
                cand_key[n_gt + pe] = kk;
                cand_id[n_gt + pe] = i;
            }
            pe++;
        }
    }
    if (lid >= k) {
        cand_key[lid] = 0u;
        cand_id[lid] = 0xffffffffu;
    }
    workgroupBarrier();
    // Bitonic sort of the 256 entries into "before" order.
    for (var size = 2u; size <= T; size <<= 1u) {
        for (var j = size >> 1u; j > 0u; j >>= 1u) {
            let p = lid ^ j;
            if (p > lid) {
                let ka = cand_key[lid];
                let ia = cand_id[lid];
                let kb = cand_key[p];
                let ib = cand_id[p];
                let up = (lid & size) == 0u;
                if (select(before(ka, ia, kb, ib), before(kb, ib, ka, ia), up)) {
                    cand_key[lid] = kb;
                    cand_id[lid] = ib;
                    cand_key[p] = ka;
                    cand_id[p] = ia;
                }
            }
            workgroupBarrier();
        }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    if (shape.top_k == 0u) {
        greedy(lid);
        return;
    }
    top_k(lid);
    if (lid != 0u) {
        return;
    }
    // generate::sample's arithmetic, in its order.
    let k = shape.top_k;
    let mx = plogit(cand_id[0]) * shape.inv_t;
    var sum = 0.0;
    for (var i = 0u; i < k; i++) {
        let e = exp(plogit(cand_id[i]) * shape.inv_t - mx);
        probs[i] = e;
        sum += e;
    }
    for (var i = 0u; i < k; i++) {
        probs[i] = probs[i] / sum;
    }
    var keep = k;
    if (shape.top_p < 1.0) {
        var cum = 0.0;
        for (var i = 0u; i < k; i++) {
            cum += probs[i];
            if (cum >= shape.top_p) {
                keep = i + 1u;
                break;
            }
        }
    }
    var total = 0.0;
    for (var i = 0u; i < keep; i++) {
        total += probs[i];
    }
    var r = rng_uniform() * total;
    var tok = cand_id[keep - 1u];
    for (var i = 0u; i < keep; i++) {
        r -= probs[i];
        if (r < 0.0) {
            tok = cand_id[i];
            break;
        }
    }
    emit(tok);
}

// What the two linear kernels share (matvec.wgsl for decode, matmul.wgsl for prefill): their
// uniform, their bindings, and the epilogue that turns y = W·x into what the next op reads.
// Prepended (as text) after the weights prelude; CPU twins: ops::linear_forward followed by the
// op each epilogue stands in for.
//
// The epilogues fold into the projection what used to be separate passes:
//   EPI_STORE     out = y + bias
//   EPI_ADD       out += y + bias                          (residual add after Wo and W_down)
//   EPI_GELU      out = gelu_tanh(y + bias)                (gpt2's c_fc)
//   EPI_SWIGLU    out[j] = silu(y_gate[j]) · y_up[j]       (W_gate and W_up stacked, (2FF, C))
//   EPI_SILU_MUL  out = silu(gate) · (y + bias)            (W_up alone; the gate comes in `kv`)
//   EPI_QKV       q → out; k, v → row pos0 + r of the KV cache (W_q, W_k, W_v stacked), with
//                 RoPE applied to q and k on the way (llama)
//
// Paired outputs: RoPE rotates dimension i of a head with dimension i + HS/2, and SwiGLU
// multiplies gate j with up j. A kernel computes output columns in pairs (c, c + 1), c even,
// and `wrow` maps column c to the weight row it is made of, so that each pair lands in one
// thread: for SWIGLU column 2j is gate row j and 2j + 1 up row j; for QKV's q and k heads,
// column 2i of a head is row i and 2i + 1 is row i + HS/2. Weights are stored untouched.

struct Shape {
    rows: u32,     // R: rows of x and out
    k: u32,        // K: input features
    n: u32,        // N: output columns of this dispatch (rows of w)
    k4: u32,       // a row of w in groups of four weights, padding included
    w_aux: u32,    // packed formats: first f16 scale of w, in u32 words
    x_off: u32,    // index of x[0, 0]
    out_off: u32,  // index of out[0, 0] (for QKV: of q[0, 0])
    bias_off: u32, // index of the bias in vecs (by weight row), or NONE
    norm: u32,     // NORM_*: how x is normed on the way in (matvec only)
    norm_w: u32,   // index of the norm's weight in vecs
    norm_b: u32,   // index of the norm's bias in vecs (LayerNorm)
    eps: f32,
    epi: u32,      // EPI_*
    c_base: u32,   // global column of this weight's row 0 (Q, K, V uploaded apart; else 0)
    hs: u32,       // QKV: head size HS
    q_dim: u32,    // QKV: NH·HS
    kv_dim: u32,   // QKV: NKV·HS
    pos0: u32,     // QKV: position of row 0 (RoPE angle and cache row)
    rope: u32,     // QKV: 1 rotates q and k (llama); 0 leaves them (gpt2)
    rope_sin: u32, // QKV: index of the sin table in `rope` (the cos table starts at 0)
    v_off: u32,    // QKV: index of the V half of `kv`
    aux_off: u32,  // SILU_MUL: index of gate[0, 0] in `kv`
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(2) var<storage, read> x: array<f32>;            // (R, K) from x_off
@group(0) @binding(3) var<storage, read> vecs: array<f32>;         // the model's f32 vectors
@group(0) @binding(4) var<storage, read> rope: array<f32>;         // cos (maxT, HS/2), then sin
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // (R, N), or q (R, NH·HS)
@group(0) @binding(6) var<storage, read_write> kv: array<f32>;     // K (cap, NKV·HS), then V

const NONE: u32 = 0xffffffffu;
const NORM_NONE: u32 = 0u;
const NORM_RMS: u32 = 1u;
const NORM_LAYER: u32 = 2u;
const EPI_STORE: u32 = 0u;
const EPI_ADD: u32 = 1u;
const EPI_GELU: u32 = 2u;
const EPI_SWIGLU: u32 = 3u;
const EPI_SILU_MUL: u32 = 4u;
const EPI_QKV: u32 = 5u;
const GELU_SCALE: f32 = 0.7978846; // sqrt(2/π), as ops::GELU_SCALE

// Whether global column gc is the first of a pair the epilogue combines.
fn paired(gc: u32) -> bool {
    return shape.epi == EPI_SWIGLU
        || (shape.epi == EPI_QKV && shape.rope != 0u && gc < shape.q_dim + shape.kv_dim);
}

// The stacked weight row that global output column gc is made of (see the header).
fn wrow(gc: u32) -> u32 {
    if (shape.epi == EPI_SWIGLU) {
        return gc / 2u + (gc % 2u) * (shape.n / 2u);
    }
    if (paired(gc)) {
        let j = gc % shape.hs;
        return gc - j + j / 2u + (j % 2u) * (shape.hs / 2u);
    }
    return gc;
}

// The row of this dispatch's w that local output column c reads.
fn w_row(c: u32) -> u32 {
    return wrow(shape.c_base + c) - shape.c_base;
}

fn bias_at(row: u32) -> f32 {
    if (shape.bias_off == NONE) {
        return 0.0;
    }
    return vecs[shape.bias_off + row];
}

fn silu(g: f32) -> f32 {
    return g / (1.0 + exp(-g));
}

fn gelu(v: f32) -> f32 {
    let cube = 0.044715 * v * v * v;
    // tanh saturates to ±1 in f32 long before |u| = 15; clamping keeps backends whose tanh is
    // computed from exponentials from returning inf / inf = NaN for large inputs.
    let u = clamp(GELU_SCALE * (v + cube), -15.0, 15.0);
    return 0.5 * v * (1.0 + tanh(u));
}

// QKV: stacked row i of row r goes to q, or to the cache row of position pos0 + r.
fn qkv_store(r: u32, i: u32, v: f32) {
    if (i < shape.q_dim) {
        out[shape.out_off + r * shape.q_dim + i] = v;
    } else if (i < shape.q_dim + shape.kv_dim) {
        kv[(shape.pos0 + r) * shape.kv_dim + i - shape.q_dim] = v;
    } else {
        kv[shape.v_off + (shape.pos0 + r) * shape.kv_dim + i - shape.q_dim - shape.kv_dim] = v;
    }
}

// One output: y = (row of w)·x of row r, global column gc.
fn emit1(r: u32, gc: u32, y: f32) {
    let i = wrow(gc);
    let v = y + bias_at(i);
    let o = shape.out_off + r * shape.n + gc - shape.c_base;
    switch (shape.epi) {
        case EPI_ADD: { out[o] += v; }
        case EPI_GELU: { out[o] = gelu(v); }
        case EPI_SILU_MUL: { out[o] = silu(kv[shape.aux_off + r * shape.n + gc]) * v; }
        case EPI_QKV: { qkv_store(r, i, v); }
        default: { out[o] = v; }
    }
}

// Columns gc (even) and gc + 1 of row r; `has1` is false when gc + 1 is past the last column.
fn emit2(r: u32, gc: u32, y0: f32, y1: f32, has1: bool) {
    if (!paired(gc)) {
        emit1(r, gc, y0);
        if (has1) {
            emit1(r, gc + 1u, y1);
        }
        return;
    }
    let i0 = wrow(gc);
    let i1 = wrow(gc + 1u);
    let a = y0 + bias_at(i0);
    let b = y1 + bias_at(i1);
    if (shape.epi == EPI_SWIGLU) {
        out[shape.out_off + r * (shape.n / 2u) + gc / 2u] = silu(a) * b;
        return;
    }
    // RoPE (ops::rope_forward): (a, b) = dimensions (j, j + HS/2) of a head at position p.
    let half = shape.hs / 2u;
    let t = (shape.pos0 + r) * half + i0 % shape.hs;
    let cs = rope[t];
    let sn = rope[shape.rope_sin + t];
    qkv_store(r, i0, a * cs - b * sn);
    qkv_store(r, i1, b * cs + a * sn);
}

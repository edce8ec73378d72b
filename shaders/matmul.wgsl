// Tiled matrix multiply for prefill: out ← epilogue(x (R, K) · Wᵀ + bias), W stored (N, K).
// CPU twin: ops::linear_forward. Needs weights.wgsl and a prelude (weights_<format>.wgsl), then
// linear.wgsl (uniform, bindings, epilogues); x comes normed already (shape.norm must be 0).
//
// Each workgroup of 16 × 16 threads computes a BM × BN tile of out, BM = 16·TM and BN = 16·TN.
// It walks K in steps of BK, staging a BM × BK tile of x and a BN × BK tile of W (dequantized by
// load_w4) in workgroup memory, so each value fetched is used BN (or BM) times; each thread keeps
// a TM × TN block of sums in registers. TM and TN are override constants: 4 × 4 (64 × 64 tiles)
// for long prompts, 2 × 2 (32 × 32 tiles, four times the workgroups) when a 128-token prompt
// would leave most of a large GPU idle. Each thread's TN columns hold whole epilogue pairs.

override TM: u32 = 4u; // rows per thread (≤ 4)
override TN: u32 = 4u; // columns per thread (2 or 4)
const BK: u32 = 16u;   // step along K (a multiple of 4)
const THREADS: u32 = 256u;

var<workgroup> xs: array<f32, 1024>; // [kk][m]: BK × BM
var<workgroup> ws: array<f32, 1024>; // [kk][n]: BK × BN

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid3: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let bm = 16u * TM;
    let bn = 16u * TN;
    let row0 = wid.y * bm;
    let col0 = wid.x * bn;
    let tx = lid3.x; // this thread's columns: col0 + tx·TN ..
    let ty = lid3.y; // this thread's rows:    row0 + ty·TM ..
    var acc: array<f32, 16>; // TM × TN

    for (var k0 = 0u; k0 < shape.k; k0 += BK) {
        // x tile: BM × BK scalars. Out-of-range entries are 0.
        for (var e = lid; e < bm * BK; e += THREADS) {
            let m = e / BK;
            let kk = e % BK;
            let r = row0 + m;
            let k = k0 + kk;
            var v = 0.0;
            if (r < shape.rows && k < shape.k) {
                v = x[shape.x_off + r * shape.k + k];
            }
            xs[kk * bm + m] = v;
        }
        // W tile: BN rows × BK / 4 groups of four. Rows are padded with zeros (or are whole
        // blocks), so only the column and the group index need checking.
        for (var e = lid; e < bn * (BK / 4u); e += THREADS) {
            let n = e / (BK / 4u);
            let q = e % (BK / 4u);
            let col = col0 + n;
            let g = k0 / 4u + q;
            var v = vec4<f32>(0.0);
            if (col < shape.n && g < shape.k4) {
                v = load_w4(w_row(col), g);
            }
            ws[(4u * q + 0u) * bn + n] = v.x;
            ws[(4u * q + 1u) * bn + n] = v.y;
            ws[(4u * q + 2u) * bn + n] = v.z;
            ws[(4u * q + 3u) * bn + n] = v.w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < TM; i++) {
                a[i] = xs[kk * bm + ty * TM + i];
            }
            for (var j = 0u; j < TN; j++) {
                b[j] = ws[kk * bn + tx * TN + j];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] += a[i] * b[j];
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TM; i++) {
        let r = row0 + ty * TM + i;
        for (var j = 0u; j < TN; j += 2u) {
            let c = col0 + tx * TN + j;
            if (r < shape.rows && c < shape.n) {
                emit2(r, shape.c_base + c, acc[i * TN + j], acc[i * TN + j + 1u], c + 1u < shape.n);
            }
        }
    }
}

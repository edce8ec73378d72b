// Tiled matrix multiply for prefill: out (R, N) = x (R, K) · Wᵀ + bias, W stored (N, K).
// CPU twin: ops::matmul_forward. Same uniform and bindings as matvec.wgsl.
//
// Each workgroup computes a BM × BN tile of out. It walks K in steps of BK, staging a BM × BK
// tile of x and a BN × BK tile of W in workgroup memory, so each value fetched from memory is
// used BN (or BM) times. Each of the 16 × 16 threads keeps a TM × TN block of sums in registers.
// The tile sizes are constants (they size workgroup memory and the register block); the
// workgroup is (BN / TN, BM / TM) = (16, 16).
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

const BM: u32 = 64u; // rows of out per workgroup
const BN: u32 = 64u; // columns of out per workgroup
const BK: u32 = 16u; // step along K (a multiple of 4)
const TM: u32 = 4u;  // rows per thread
const TN: u32 = 4u;  // columns per thread
const THREADS: u32 = 256u; // (BM / TM) * (BN / TN)

var<workgroup> xs: array<f32, 1024>; // [kk][m]: BK × BM
var<workgroup> ws: array<f32, 1024>; // [kk][n]: BK × BN

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid3: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let tx = lid3.x; // this thread's columns: col0 + tx*TN ..
    let ty = lid3.y; // this thread's rows:    row0 + ty*TM ..
    var acc: array<f32, 16>; // TM × TN

    for (var k0 = 0u; k0 < shape.k; k0 += BK) {
        // x tile: BM × BK scalars, 4 per thread. Out-of-range entries are 0.
        for (var i = 0u; i < (BM * BK) / THREADS; i++) {
            let e = lid + i * THREADS;
            let m = e / BK;
            let kk = e % BK;
            let r = row0 + m;
            let k = k0 + kk;
            var v = 0.0;
            if (r < shape.rows && k < shape.k) {
                v = x[shape.x_off + r * shape.k + k];
            }
            xs[kk * BM + m] = v;
        }
        // W tile: BN rows × BK / 4 groups of four = 256 groups, one per thread. Rows are padded
        // with zeros to K4 groups, so only the row and the group index need checking.
        {
            let n = lid / (BK / 4u);
            let q = lid % (BK / 4u);
            let col = col0 + n;
            let g = k0 / 4u + q;
            var v = vec4<f32>(0.0);
            if (col < shape.n && g < shape.k4) {
                v = load_w4(col * shape.k4 + g);
            }
            ws[(4u * q + 0u) * BN + n] = v.x;
            ws[(4u * q + 1u) * BN + n] = v.y;
            ws[(4u * q + 2u) * BN + n] = v.z;
            ws[(4u * q + 3u) * BN + n] = v.w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < TM; i++) {
                a[i] = xs[kk * BM + ty * TM + i];
            }
            for (var j = 0u; j < TN; j++) {
                b[j] = ws[kk * BN + tx * TN + j];
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
        for (var j = 0u; j < TN; j++) {
            let c = col0 + tx * TN + j;
            if (r < shape.rows && c < shape.n) {
                var y = acc[i * TN + j];
                if (shape.has_bias != 0u) {
                    y += bias[c];
                }
                out[shape.out_off + r * shape.n + c] = y;
            }
        }
    }
}

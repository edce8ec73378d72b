// Matrix-vector product for decode, with the norm before it and the epilogue after it fused in:
// out[r] ← epilogue(W · norm(x[r]) + bias), for a few rows r. CPU twin: ops::linear_forward
// (after ops::rmsnorm_forward / layernorm_forward when shape.norm asks for it).
// Needs weights.wgsl and a prelude (weights_<format>.wgsl), then linear.wgsl (uniform, bindings,
// epilogues).
//
// A workgroup of WG threads computes WG / LANES output columns: a group of LANES threads per
// column strides over the row's blocks of 32 weights (dot32), then the group adds its partial
// sums in workgroup memory, and the first WG / (2·LANES) threads run the epilogue on a pair of
// columns each. Every weight is read once per row r; neighbouring lanes read neighbouring blocks.
//
// x is staged in workgroup memory (normed, zero-padded to whole blocks) when it fits (K ≤ 2048),
// so the lanes of every column read it from there; a wider x is read (and normed) from global
// memory as each block is used. The norm: every workgroup first reduces its row of x (K floats,
// a few KB, from cache) to the norm's statistics; that costs far less than the dispatch and the
// round trip through memory of a separate norm pass.

override WG: u32 = 128;   // threads per workgroup; a power of two ≤ 256
override LANES: u32 = 16; // threads per output column; a power of two, WG / LANES even
const XS_MAX: u32 = 2048u;
var<workgroup> red: array<f32, 256>;
var<workgroup> xs: array<f32, 2048>; // x normed, K32 entries

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
    workgroupBarrier();
    return total;
}

// x[xb + e .. e + 4], normed as the uniform says (mean, rstd of the row), zeros past K.
fn load_x4(xb: u32, e: u32, mean: f32, rstd: f32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
        let k = e + i;
        if (k < shape.k) {
            var a = x[xb + k];
            if (shape.norm != NORM_NONE) {
                a = (a - mean) * rstd * vecs[shape.norm_w + k];
                if (shape.norm == NORM_LAYER) {
                    a += vecs[shape.norm_b + k];
                }
            }
            v[i] = a;
        }
    }
    return v;
}

fn xs4(e: u32) -> vec4<f32> {
    return vec4<f32>(xs[e], xs[e + 1u], xs[e + 2u], xs[e + 3u]);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Columns are spread over x and y (at most 65535 workgroups per dimension); z is the row.
    let r = wid.z;
    let xb = shape.x_off + r * shape.k;
    let kf = f32(shape.k);

    var mean = 0.0;
    var rstd = 1.0;
    if (shape.norm != NORM_NONE) {
        if (shape.norm == NORM_LAYER) {
            var s = 0.0;
            for (var i = lid; i < shape.k; i += WG) {
                s += x[xb + i];
            }
            mean = workgroup_sum(lid, s) / kf;
        }
        var ss = 0.0;
        for (var i = lid; i < shape.k; i += WG) {
            let d = x[xb + i] - mean;
            ss += d * d;
        }
        rstd = 1.0 / sqrt(workgroup_sum(lid, ss) / kf + shape.eps);
    }

    // Stage x (normed) when it fits; the rest of a block past K is zero.
    let staged = shape.k4 * 4u <= XS_MAX;
    if (staged) {
        for (var e = 4u * lid; e < shape.k4 * 4u; e += 4u * WG) {
            let v = load_x4(xb, e, mean, rstd);
            xs[e] = v.x;
            xs[e + 1u] = v.y;
            xs[e + 2u] = v.z;
            xs[e + 3u] = v.w;
        }
        workgroupBarrier();
    }

    let outs = WG / LANES;
    let c0 = (wid.x + wid.y * nwg.x) * outs;
    let c = c0 + lid / LANES;
    let lane = lid % LANES;
    var s = 0.0;
    if (c < shape.n) {
        let row = w_row(c);
        let parts = shape.k4 / 8u; // blocks of 32 weights per row
        // Two loops rather than a branch inside one: software rasterizers (lavapipe,
        // SwiftShader) pay for both sides of a branch in a loop body (3× here).
        if (staged) {
            for (var p = lane; p < parts; p += LANES) {
                let e = 32u * p;
                let xv = X8(xs4(e), xs4(e + 4u), xs4(e + 8u), xs4(e + 12u), xs4(e + 16u),
                    xs4(e + 20u), xs4(e + 24u), xs4(e + 28u));
                s += dot32(row, p, xv);
            }
        } else {
            for (var p = lane; p < parts; p += LANES) {
                let e = 32u * p;
                let xv = X8(load_x4(xb, e, mean, rstd), load_x4(xb, e + 4u, mean, rstd),
                    load_x4(xb, e + 8u, mean, rstd), load_x4(xb, e + 12u, mean, rstd),
                    load_x4(xb, e + 16u, mean, rstd), load_x4(xb, e + 20u, mean, rstd),
                    load_x4(xb, e + 24u, mean, rstd), load_x4(xb, e + 28u, mean, rstd));
                s += dot32(row, p, xv);
            }
        }
    }
    red[lid] = s;
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
        if (lane < stride) {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid < outs / 2u) {
        let ca = c0 + 2u * lid;
        if (ca < shape.n) {
            let y0 = red[2u * lid * LANES];
            let y1 = red[(2u * lid + 1u) * LANES];
            emit2(r, shape.c_base + ca, y0, y1, ca + 1u < shape.n);
        }
    }
}

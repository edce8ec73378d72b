// Sequence pooling for a classification head: one row (C) from the final hidden states (R, C).
// CPU twin: ops::pool_forward.
//
// mode 0 (last): out = x[R − 1], the last token as transformers' *ForSequenceClassification;
// mode 1 (max):  out[i] = max over rows first .. R of x[r, i] (first > 0 skips the first copy
// and the separator of echo_max's `x sep x`). One thread per channel.

struct Shape {
    rows: u32,  // R
    c: u32,     // C
    first: u32, // first row pooled by the maximum
    mode: u32,  // 0: last row, 1: channel-wise maximum
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (R, C)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (C)

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let c = shape.c;
    if (i >= c) {
        return;
    }
    if (shape.mode == 0u) {
        out[i] = x[(shape.rows - 1u) * c + i];
        return;
    }
    var m = x[shape.first * c + i];
    for (var r = shape.first + 1u; r < shape.rows; r++) {
        let v = x[r * c + i];
        if (v > m) { // as the CPU twin: the first of equals, and a NaN never replaces m
            m = v;
        }
    }
    out[i] = m;
}

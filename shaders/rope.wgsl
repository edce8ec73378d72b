// Rotary position embedding, Hugging Face "rotate_half" layout: in each head, dimension i pairs
// with i + HS/2 and the pair turns by the angle of (position, i). CPU twin: ops::rope_forward,
// and the angles come from the same table (ops::RopeTable), so both round identically.
// Rotates x (R, H, HS) in place; row r sits at position pos0 + r. x may be the KV cache, where
// the new rows start at x_off.

struct Shape {
    rows: u32,  // R
    heads: u32, // H (NH for queries, NKV for keys)
    hs: u32,    // HS
    pos0: u32,  // position of row 0
    x_off: u32, // index of x[0, 0, 0] in the buffer
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> cos_t: array<f32>;       // (maxT, HS/2)
@group(0) @binding(2) var<storage, read> sin_t: array<f32>;       // (maxT, HS/2)
@group(0) @binding(3) var<storage, read_write> x: array<f32>;     // (R, H, HS) from x_off

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // One thread per (row, head, pair).
    let half = shape.hs / 2u;
    let idx = (wid.x + wid.y * nwg.x) * WG + lid;
    if (idx >= shape.rows * shape.heads * half) {
        return;
    }
    let i = idx % half;
    let rh = idx / half; // row * H + head
    let r = rh / shape.heads;
    let t = (shape.pos0 + r) * half + i;
    let c = cos_t[t];
    let s = sin_t[t];
    let p = shape.x_off + rh * shape.hs + i;
    let a = x[p];
    let b = x[p + half];
    x[p] = a * c - b * s;
    x[p + half] = b * c + a * s;
}

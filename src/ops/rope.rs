//! Rotary position embedding in the Hugging Face (GPT-NeoX, "rotate_half") layout: dimension i
//! of a head is paired with dimension i + HS/2, and the pair is rotated by angle p·θ^(−2i/HS).

/// cos/sin of every (position, frequency) pair, computed once per model. (maxT, HS/2) each.
#[derive(Clone, Debug)]
pub struct RopeTable {
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    pub half: usize,
}

impl RopeTable {
    pub fn new(max_t: usize, head_dim: usize, theta: f32) -> Self {
        let half = head_dim / 2;
        // Same float32 arithmetic as transformers, so angles round the same way.
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let mut cos = Vec::with_capacity(max_t * half);
        let mut sin = Vec::with_capacity(max_t * half);
        for p in 0..max_t {
            for &f in &inv_freq {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        RopeTable { cos, sin, half }
    }
}

/// Rotates x (T, NH, HS) in place; row t sits at absolute position pos0 + t.
pub fn rope_forward(x: &mut [f32], table: &RopeTable, pos0: usize, t: usize, nh: usize, hs: usize) {
    let half = hs / 2;
    debug_assert_eq!(half, table.half);
    for r in 0..t {
        let cs = &table.cos[(pos0 + r) * half..][..half];
        let sn = &table.sin[(pos0 + r) * half..][..half];
        for h in 0..nh {
            let v = &mut x[(r * nh + h) * hs..][..hs];
            for i in 0..half {
                let (a, b) = (v[i], v[i + half]);
                v[i] = a * cs[i] - b * sn[i];
                v[i + half] = b * cs[i] + a * sn[i];
            }
        }
    }
}

/// Backward of [`rope_forward`], in place on dx (T, NH, HS). The rotation is orthogonal, so the
/// gradient is rotated back by the transposed matrix: for the pair (a, b) at angle θ,
///   da = dy_a·cos θ + dy_b·sin θ,   db = −dy_a·sin θ + dy_b·cos θ.
#[cfg(feature = "train")]
pub fn rope_backward(
    dx: &mut [f32],
    table: &RopeTable,
    pos0: usize,
    t: usize,
    nh: usize,
    hs: usize,
) {
    let half = hs / 2;
    for r in 0..t {
        let cs = &table.cos[(pos0 + r) * half..][..half];
        let sn = &table.sin[(pos0 + r) * half..][..half];
        for h in 0..nh {
            let v = &mut dx[(r * nh + h) * hs..][..hs];
            for i in 0..half {
                let (da, db) = (v[i], v[i + half]);
                v[i] = da * cs[i] + db * sn[i];
                v[i + half] = db * cs[i] - da * sn[i];
            }
        }
    }
}

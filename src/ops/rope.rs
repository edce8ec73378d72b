//! Rotary position embedding in the Hugging Face (GPT-NeoX, "rotate_half") layout: dimension i
//! of a head is paired with dimension i + HS/2, and the pair is rotated by angle p·θ^(−2i/HS).

/// cos/sin of the first `rows()` positions, (rows, HS/2) each, computed once per model.
/// Positions past the table are computed when they are needed, with the same f32 arithmetic,
/// so a model whose config allows a million positions costs memory only for those it uses.
#[derive(Clone, Debug)]
pub struct RopeTable {
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    pub half: usize,
    /// θ^(−2i/HS) for i < HS/2: the angle of pair i advances by this much per position.
    pub inv_freq: Vec<f32>,
}

impl RopeTable {
    /// A table of `max_t` positions.
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
        RopeTable {
            cos,
            sin,
            half,
            inv_freq,
        }
    }

    /// Positions the table holds.
    pub fn rows(&self) -> usize {
        self.cos.len().checked_div(self.half).unwrap_or(0)
    }

    /// (cos, sin) of position `p`, each HS/2: the table's row, or computed into `buf`.
    fn row<'a>(&'a self, p: usize, buf: &'a mut Vec<f32>) -> (&'a [f32], &'a [f32]) {
        let half = self.half;
        if p < self.rows() {
            return (&self.cos[p * half..][..half], &self.sin[p * half..][..half]);
        }
        buf.clear();
        buf.extend(self.inv_freq.iter().map(|&f| (p as f32 * f).cos()));
        buf.extend(self.inv_freq.iter().map(|&f| (p as f32 * f).sin()));
        buf.split_at(half)
    }
}

/// Rotates x (T, NH, HS) in place; row t sits at absolute position pos0 + t.
pub fn rope_forward(x: &mut [f32], table: &RopeTable, pos0: usize, t: usize, nh: usize, hs: usize) {
    let half = hs / 2;
    debug_assert_eq!(half, table.half);
    assert_eq!(x.len(), t * nh * hs, "rope length");
    // Groups of 16 rows (positions), in parallel.
    const ROWS: usize = 16;
    super::par_chunks(x, ROWS * nh * hs, |ci, x| {
        let mut buf = Vec::new();
        for (i, x) in x.chunks_exact_mut(nh * hs).enumerate() {
            let (cs, sn) = table.row(pos0 + ci * ROWS + i, &mut buf);
            for v in x.chunks_exact_mut(hs) {
                for i in 0..half {
                    let (a, b) = (v[i], v[i + half]);
                    v[i] = a * cs[i] - b * sn[i];
                    v[i + half] = b * cs[i] + a * sn[i];
                }
            }
        }
    })
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
    let mut buf = Vec::new();
    for r in 0..t {
        let (cs, sn) = table.row(pos0 + r, &mut buf);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_past_the_table_rotate_as_the_table_would() {
        let (hs, nh, theta) = (6, 2, 10000.0);
        let full = RopeTable::new(40, hs, theta);
        let short = RopeTable::new(3, hs, theta);
        let x: Vec<f32> = (0..5 * nh * hs).map(|i| (i as f32 * 0.37).sin()).collect();
        let (mut a, mut b) = (x.clone(), x);
        rope_forward(&mut a, &full, 30, 5, nh, hs);
        rope_forward(&mut b, &short, 30, 5, nh, hs);
        assert_eq!(a, b);
    }
}

//! Token (and, for gpt2, learned position) embedding lookup.

/// out (T, C) = wte[tokens[t]] (+ wpe[pos0 + t]). wte: (V, C), wpe: (maxT, C).
pub fn embedding_forward(
    out: &mut [f32],
    tokens: &[u32],
    wte: &[f32],
    wpe: Option<&[f32]>,
    pos0: usize,
    c: usize,
) {
    for (r, &tok) in tokens.iter().enumerate() {
        let o = &mut out[r * c..(r + 1) * c];
        o.copy_from_slice(&wte[tok as usize * c..][..c]);
        if let Some(wpe) = wpe {
            for (y, p) in o.iter_mut().zip(&wpe[(pos0 + r) * c..][..c]) {
                *y += *p;
            }
        }
    }
}

/// Backward of [`embedding_forward`] for the token table: dwte[tokens[t]] += dout[t].
/// dout: (T, C), dwte: (V, C). Positions repeat tokens, so rows accumulate (`+=`).
#[cfg(feature = "train")]
pub fn embedding_backward(dwte: &mut [f32], dout: &[f32], tokens: &[u32], c: usize) {
    for (r, &tok) in tokens.iter().enumerate() {
        let d = &mut dwte[tok as usize * c..][..c];
        for (w, g) in d.iter_mut().zip(&dout[r * c..(r + 1) * c]) {
            *w += *g;
        }
    }
}

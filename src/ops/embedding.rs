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

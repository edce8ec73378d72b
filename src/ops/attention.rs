//! Causal grouped-query attention of T new queries over a KV cache.

use super::{dot, par_chunks, softmax_inplace};

/// out (T, NH*HS): for query row t at absolute position pos0 + t and head h, attend over cache
/// rows 0..=pos0+t of key/value head h / (NH/NKV).
/// q: (T, NH*HS); k_cache, v_cache: (≥ pos0+T, NKV*HS).
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    out: &mut [f32],
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    pos0: usize,
    t: usize,
    nh: usize,
    nkv: usize,
    hs: usize,
) {
    let group = nh / nkv;
    let kvd = nkv * hs;
    let scale = 1.0 / (hs as f32).sqrt();
    // One chunk per (row, head): each writes its own HS outputs.
    par_chunks(out, hs, |i, o| {
        let (r, h) = (i / nh, i % nh);
        let kvh = h / group;
        let qv = &q[(r * nh + h) * hs..][..hs];
        let n = pos0 + r + 1;
        let mut att: Vec<f32> = (0..n)
            .map(|s| dot(qv, &k_cache[s * kvd + kvh * hs..][..hs]) * scale)
            .collect();
        softmax_inplace(&mut att);
        o.fill(0.0);
        for (s, &p) in att.iter().enumerate() {
            let vv = &v_cache[s * kvd + kvh * hs..][..hs];
            for j in 0..hs {
                o[j] += p * vv[j];
            }
        }
    });
    let _ = t;
}

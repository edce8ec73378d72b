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

/// Causal grouped-query self-attention over whole training sequences (no cache).
/// out (B, T, NH, HS); att (B, T, NH, T) keeps the softmax probabilities for the backward pass
/// (entries after the query's own position stay 0); q (B, T, NH, HS); k, v (B, T, NKV, HS).
#[cfg(feature = "train")]
#[allow(clippy::too_many_arguments)]
pub fn attention_train_forward(
    out: &mut [f32],
    att: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    b: usize,
    t: usize,
    nh: usize,
    nkv: usize,
    hs: usize,
) {
    use rayon::prelude::*;
    assert_eq!(out.len(), b * t * nh * hs);
    assert_eq!(att.len(), b * t * nh * t);
    let group = nh / nkv;
    let kvd = nkv * hs;
    let scale = 1.0 / (hs as f32).sqrt();
    // One task per (b, t, h) row: it owns HS outputs and T probabilities.
    out.par_chunks_mut(hs)
        .zip(att.par_chunks_mut(t))
        .enumerate()
        .for_each(|(i, (o, p))| {
            let (bt, h) = (i / nh, i % nh);
            let (bb, tt) = (bt / t, bt % t);
            let kvh = h / group;
            let qv = &q[i * hs..][..hs];
            let base = bb * t * kvd + kvh * hs;
            let mut max = f32::NEG_INFINITY;
            for s in 0..=tt {
                let x = dot(qv, &k[base + s * kvd..][..hs]) * scale;
                p[s] = x;
                max = max.max(x);
            }
            let mut sum = 0.0;
            for x in &mut p[..=tt] {
                *x = (*x - max).exp();
                sum += *x;
            }
            let inv = 1.0 / sum;
            for x in &mut p[..=tt] {
                *x *= inv;
            }
            p[tt + 1..].fill(0.0);
            o.fill(0.0);
            for s in 0..=tt {
                let vv = &v[base + s * kvd..][..hs];
                let ps = p[s];
                for j in 0..hs {
                    o[j] += ps * vv[j];
                }
            }
        });
}

/// Backward of [`attention_train_forward`]; accumulates into dq (B, T, NH, HS) and dk, dv
/// (B, T, NKV, HS). With p = softmax(a), a_s = scale·q·k_s, y = Σ_s p_s·v_s:
///   dv_s += p_s·dy,   dp_s = dy·v_s,   da_s = p_s·(dp_s − Σ_r p_r·dp_r)   (softmax backward)
///   dq += scale·Σ_s da_s·k_s,   dk_s += scale·da_s·q
/// The query heads of a group share one key/value head, so the work is split by (b, kv head):
/// each task owns its dk/dv rows and its group's dq rows, summed in a fixed order.
#[cfg(feature = "train")]
#[allow(clippy::too_many_arguments)]
pub fn attention_train_backward(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    att: &[f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    b: usize,
    t: usize,
    nh: usize,
    nkv: usize,
    hs: usize,
) {
    use rayon::prelude::*;
    let group = nh / nkv;
    let kvd = nkv * hs;
    let qd = nh * hs;
    let scale = 1.0 / (hs as f32).sqrt();
    // (dq for the group's heads (G, T, HS), dk (T, HS), dv (T, HS)) per (b, kv head).
    let parts: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = (0..b * nkv)
        .into_par_iter()
        .map(|task| {
            let (bb, kvh) = (task / nkv, task % nkv);
            let mut gq = vec![0.0f32; group * t * hs];
            let mut gk = vec![0.0f32; t * hs];
            let mut gv = vec![0.0f32; t * hs];
            let mut da = vec![0.0f32; t];
            let kvbase = bb * t * kvd + kvh * hs;
            for g in 0..group {
                let h = kvh * group + g;
                for tt in 0..t {
                    let row = (bb * t + tt) * nh + h;
                    let p = &att[row * t..][..=tt];
                    let dy = &dout[row * hs..][..hs];
                    let qv = &q[row * hs..][..hs];
                    let mut pdp = 0.0;
                    for s in 0..=tt {
                        let dp = dot(dy, &v[kvbase + s * kvd..][..hs]);
                        da[s] = dp;
                        pdp += p[s] * dp;
                        let dvs = &mut gv[s * hs..][..hs];
                        for j in 0..hs {
                            dvs[j] += p[s] * dy[j];
                        }
                    }
                    let dqr = &mut gq[(g * t + tt) * hs..][..hs];
                    for s in 0..=tt {
                        let a = p[s] * (da[s] - pdp) * scale;
                        let ks = &k[kvbase + s * kvd..][..hs];
                        let dks = &mut gk[s * hs..][..hs];
                        for j in 0..hs {
                            dqr[j] += a * ks[j];
                            dks[j] += a * qv[j];
                        }
                    }
                }
            }
            (gq, gk, gv)
        })
        .collect();
    for (task, (gq, gk, gv)) in parts.iter().enumerate() {
        let (bb, kvh) = (task / nkv, task % nkv);
        for tt in 0..t {
            let kvo = (bb * t + tt) * kvd + kvh * hs;
            for j in 0..hs {
                dk[kvo + j] += gk[tt * hs + j];
                dv[kvo + j] += gv[tt * hs + j];
            }
            for g in 0..group {
                let qo = (bb * t + tt) * qd + (kvh * group + g) * hs;
                for j in 0..hs {
                    dq[qo + j] += gq[(g * t + tt) * hs + j];
                }
            }
        }
    }
}

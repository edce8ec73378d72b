//! Grouped-query attention: causal (language models) or bidirectional (a classifier trunk that
//! reads the whole text at every position, `"is_causal": false` in config.json).

use super::{dot, par_chunks, softmax_inplace};
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
use avx512::{attend_avx512, blocked, Attn, QUAD};

/// out (T, NH*HS): for query row t at absolute position pos0 + t and head h, attend over cache
/// rows 0..=pos0+t of key/value head h / (NH/NKV), or with `causal` false over all pos0+T rows.
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
    causal: bool,
) {
    let group = nh / nkv;
    let kvd = nkv * hs;
    let scale = 1.0 / (hs as f32).sqrt();
    #[cfg(target_arch = "x86_64")]
    let avx2 = super::matvec::Isa::current() != super::matvec::Isa::Portable;
    #[cfg(target_arch = "x86_64")]
    let avx512 =
        super::matvec::Isa::current() == super::matvec::Isa::Avx512 && matches!(hs, 32 | 64 | 128);
    #[cfg(target_arch = "x86_64")]
    if avx512 && t >= 2 * QUAD {
        let a = Attn {
            q,
            k: k_cache,
            v: v_cache,
            pos0,
            t,
            nh,
            group,
            hs,
            causal,
            scale,
        };
        return blocked::prefill(out, &a);
    }
    // One chunk per (row, head): each writes its own HS outputs.
    par_chunks(out, hs, |i, o| {
        let (r, h) = (i / nh, i % nh);
        let qv = &q[(r * nh + h) * hs..][..hs];
        let n = if causal { pos0 + r + 1 } else { pos0 + t };
        let (k, v) = (&k_cache[(h / group) * hs..], &v_cache[(h / group) * hs..]);
        ATT.with(|att| {
            let mut att = att.borrow_mut();
            att.resize(n, 0.0);
            #[cfg(target_arch = "x86_64")]
            if avx512 {
                // SAFETY: `Isa::current()` is Avx512 only on CPUs with AVX-512 F.
                return unsafe {
                    match hs {
                        32 => attend_avx512::<2>(o, qv, k, v, kvd, scale, &mut att[..n]),
                        64 => attend_avx512::<4>(o, qv, k, v, kvd, scale, &mut att[..n]),
                        _ => attend_avx512::<8>(o, qv, k, v, kvd, scale, &mut att[..n]),
                    }
                };
            }
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: `Isa::current()` is above Portable only on CPUs with AVX2 and FMA.
                return unsafe { attend_avx2(o, qv, k, v, kvd, scale, &mut att[..n]) };
            }
            attend(o, qv, k, v, kvd, scale, &mut att[..n])
        })
    });
}

thread_local! {
    /// One row of attention scores, reused across calls on this thread.
    static ATT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// o (HS) = Σ_s softmax(scale · q·k_s)_s · v_s over the att.len() positions s, where k_s and
/// v_s are the HS values at k[s · kvd..] and v[s · kvd..].
///
/// The scores four positions at a time (four independent [`dot`]s in one loop step), and for
/// the usual head sizes o in registers across all positions (a fixed-size accumulator) rather
/// than loaded and stored at every position: 20–25% less time in attention (perf, SmolLM2
/// decode at 128–512 positions). Every value is computed by the same operations in the same
/// order as one `dot` per position and `o[j] += p · v_s[j]` in memory would.
#[inline(always)]
fn attend(o: &mut [f32], q: &[f32], k: &[f32], v: &[f32], kvd: usize, scale: f32, att: &mut [f32]) {
    let hs = o.len();
    let key = |s: usize| &k[s * kvd..][..hs];
    let done = att.len() / 4 * 4;
    let mut quads = att.chunks_exact_mut(4);
    for (i, a) in (&mut quads).enumerate() {
        let s = 4 * i;
        let d = [
            dot(q, key(s)),
            dot(q, key(s + 1)),
            dot(q, key(s + 2)),
            dot(q, key(s + 3)),
        ];
        for (a, d) in a.iter_mut().zip(d) {
            *a = d * scale;
        }
    }
    for (s, a) in quads.into_remainder().iter_mut().enumerate() {
        *a = dot(q, key(done + s)) * scale;
    }
    softmax_inplace(att);
    match hs {
        32 => weighted_values::<32>(o, v, kvd, att),
        64 => weighted_values::<64>(o, v, kvd, att),
        128 => weighted_values::<128>(o, v, kvd, att),
        _ => {
            o.fill(0.0);
            for (s, &p) in att.iter().enumerate() {
                let vv = &v[s * kvd..][..hs];
                for j in 0..hs {
                    o[j] += p * vv[j];
                }
            }
        }
    }
}

/// o (HS) = Σ_s p_s · v_s, summed from 0 in position order, with o held in registers.
#[inline(always)]
fn weighted_values<const HS: usize>(o: &mut [f32], v: &[f32], kvd: usize, att: &[f32]) {
    let mut acc = [0.0f32; HS];
    for (s, &p) in att.iter().enumerate() {
        let vv: &[f32; HS] = v[s * kvd..][..HS].try_into().unwrap();
        for j in 0..HS {
            acc[j] += p * vv[j];
        }
    }
    o.copy_from_slice(&acc);
}

/// [`attend`] compiled for AVX2 (8 lanes instead of SSE2's 4): the same operations in the same
/// order, so the same results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_avx2(
    o: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    kvd: usize,
    scale: f32,
    att: &mut [f32],
) {
    attend(o, q, k, v, kvd, scale, att)
}

/// Grouped-query self-attention over whole training sequences (no cache).
/// out (B, T, NH, HS); att (B, NH, T, T) keeps the softmax probabilities for the backward pass
/// (entries outside the mask are 0); q (B, T, NH, HS); k, v (B, T, NKV, HS).
///
/// `key_lengths` None is the causal mask: row r attends to keys 0..=r. Some(lengths) is
/// bidirectional: every row of sequence b attends to keys 0..lengths[b], the text without its
/// right padding (padding rows too, so they stay finite; the pooling never reads them).
///
/// Per (b, h) it is two GEMMs, S = scale·Q·Kᵀ (T, T) and Y = P·V (T, HS), with the mask and the
/// softmax between them; the (b, h) tasks run in parallel.
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
    key_lengths: Option<&[usize]>,
) {
    use super::matmul::sgemm_strided;
    use rayon::prelude::*;
    assert_eq!(out.len(), b * t * nh * hs);
    check_key_lengths(key_lengths, b, t);
    assert_eq!(att.len(), b * nh * t * t);
    let group = nh / nkv;
    let (qd, kvd) = (nh * hs, nkv * hs);
    let scale = 1.0 / (hs as f32).sqrt();
    let ys: Vec<Vec<f32>> = att
        .par_chunks_mut(t * t)
        .enumerate()
        .map(|(i, p)| {
            let (bb, h) = (i / nh, i % nh);
            let qh = &q[bb * t * qd + h * hs..];
            let kh = &k[bb * t * kvd + (h / group) * hs..];
            let vh = &v[bb * t * kvd + (h / group) * hs..];
            // S (T, T) = Q (T, HS) · Kᵀ (HS, T)
            sgemm_strided(t, hs, t, qh, (qd, 1), kh, (1, kvd), 0.0, p, t);
            for (r, row) in p.chunks_exact_mut(t).enumerate() {
                let end = keys_end(key_lengths, bb, r);
                let valid = &mut row[..end];
                let mut max = f32::NEG_INFINITY;
                for x in valid.iter_mut() {
                    *x *= scale;
                    max = max.max(*x);
                }
                let mut sum = 0.0;
                for x in valid.iter_mut() {
                    *x = (*x - max).exp();
                    sum += *x;
                }
                let inv = 1.0 / sum;
                for x in valid.iter_mut() {
                    *x *= inv;
                }
                row[end..].fill(0.0);
            }
            // Y (T, HS) = P (T, T) · V (T, HS)
            let mut y = vec![0.0f32; t * hs];
            sgemm_strided(t, t, hs, p, (t, 1), vh, (kvd, 1), 0.0, &mut y, hs);
            y
        })
        .collect();
    for (i, y) in ys.iter().enumerate() {
        let (bb, h) = (i / nh, i % nh);
        for r in 0..t {
            out[(bb * t + r) * qd + h * hs..][..hs].copy_from_slice(&y[r * hs..][..hs]);
        }
    }
}

/// Backward of [`attention_train_forward`] (the same `key_lengths`); accumulates into dq
/// (B, T, NH, HS) and dk, dv (B, T, NKV, HS). With P = softmax(A), A = scale·Q·Kᵀ (masked),
/// Y = P·V:
///   dV += Pᵀ·dY,   dP = dY·Vᵀ,   dA = P ⊙ (dP − rowsum(P ⊙ dP))   (softmax backward)
///   dQ += scale·dA·K,   dK += scale·dAᵀ·Q
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
    key_lengths: Option<&[usize]>,
) {
    use super::matmul::sgemm_strided;
    use rayon::prelude::*;
    check_key_lengths(key_lengths, b, t);
    let group = nh / nkv;
    let (qd, kvd) = (nh * hs, nkv * hs);
    let scale = 1.0 / (hs as f32).sqrt();
    // (dq for the group's heads (G, T, HS), dk (T, HS), dv (T, HS)) per (b, kv head).
    let parts: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = (0..b * nkv)
        .into_par_iter()
        .map(|task| {
            let (bb, kvh) = (task / nkv, task % nkv);
            let mut gq = vec![0.0f32; group * t * hs];
            let mut gk = vec![0.0f32; t * hs];
            let mut gv = vec![0.0f32; t * hs];
            let mut da = vec![0.0f32; t * t];
            let kh = &k[bb * t * kvd + kvh * hs..];
            let vh = &v[bb * t * kvd + kvh * hs..];
            for g in 0..group {
                let h = kvh * group + g;
                let p = &att[(bb * nh + h) * t * t..][..t * t];
                let dy = &dout[bb * t * qd + h * hs..];
                let qh = &q[bb * t * qd + h * hs..];
                // dV (T, HS) += Pᵀ (T, T) · dY (T, HS)
                sgemm_strided(t, t, hs, p, (1, t), dy, (qd, 1), 1.0, &mut gv, hs);
                // dP (T, T) = dY (T, HS) · Vᵀ (HS, T)
                sgemm_strided(t, hs, t, dy, (qd, 1), vh, (1, kvd), 0.0, &mut da, t);
                for r in 0..t {
                    let end = keys_end(key_lengths, bb, r);
                    let (pr, dr) = (&p[r * t..][..end], &mut da[r * t..][..t]);
                    let mut pdp = 0.0;
                    for s in 0..end {
                        pdp += pr[s] * dr[s];
                    }
                    for s in 0..end {
                        dr[s] = pr[s] * (dr[s] - pdp) * scale;
                    }
                    dr[end..].fill(0.0);
                }
                // dQ (T, HS) = dA (T, T) · K (T, HS);  dK (T, HS) += dAᵀ · Q
                let gqh = &mut gq[g * t * hs..][..t * hs];
                sgemm_strided(t, t, hs, &da, (t, 1), kh, (kvd, 1), 0.0, gqh, hs);
                sgemm_strided(t, t, hs, &da, (1, t), qh, (qd, 1), 1.0, &mut gk, hs);
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

/// One past the last key that row `r` of sequence `b` attends to (see
/// [`attention_train_forward`]).
#[cfg(feature = "train")]
fn keys_end(key_lengths: Option<&[usize]>, b: usize, r: usize) -> usize {
    match key_lengths {
        None => r + 1,
        Some(lengths) => lengths[b],
    }
}

#[cfg(feature = "train")]
fn check_key_lengths(key_lengths: Option<&[usize]>, b: usize, t: usize) {
    if let Some(l) = key_lengths {
        assert!(
            l.len() == b && l.iter().all(|&x| (1..=t).contains(&x)),
            "key_lengths must hold {b} lengths in 1..={t}, got {l:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prefill's blocked attention (x86 with AVX-512) against `attend` row by row:
    /// causal and bidirectional, after a cached prefix and not, blocks of 16 rows with partial
    /// tiles of 4, each head size it takes, on one thread and on two.
    #[test]
    fn blocked_prefill_attention_matches_row_by_row() {
        let mut rng = crate::generate::Rng::new(7);
        let mut rand =
            |n: usize| -> Vec<f32> { (0..n).map(|_| 2.0 * rng.uniform() - 1.0).collect() };
        for hs in [32, 64, 128] {
            for (t, pos0) in [(8, 0), (9, 0), (17, 3), (45, 0), (33, 40)] {
                for causal in [true, false] {
                    let (nh, nkv) = (6, 2);
                    let n = pos0 + t;
                    let (q, k, v) = (rand(t * nh * hs), rand(n * nkv * hs), rand(n * nkv * hs));
                    let mut want = vec![0.0f32; t * nh * hs];
                    for r in 0..t {
                        for h in 0..nh {
                            let keys = if causal { pos0 + r + 1 } else { n };
                            let g = h / (nh / nkv);
                            attend(
                                &mut want[(r * nh + h) * hs..][..hs],
                                &q[(r * nh + h) * hs..][..hs],
                                &k[g * hs..],
                                &v[g * hs..],
                                nkv * hs,
                                1.0 / (hs as f32).sqrt(),
                                &mut vec![0.0; keys],
                            );
                        }
                    }
                    for threads in [1, 2] {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(threads)
                            .build()
                            .unwrap();
                        let mut got = vec![f32::NAN; want.len()];
                        pool.install(|| {
                            attention_forward(&mut got, &q, &k, &v, pos0, t, nh, nkv, hs, causal)
                        });
                        let worst = crate::ops::max_abs_diff(&got, &want);
                        assert!(
                            worst < 1e-5,
                            "HS={hs} T={t} pos0={pos0} causal={causal} threads={threads}: {worst}"
                        );
                    }
                }
            }
        }
    }

    /// The AVX-512 softmax against `softmax_inplace`: lengths around 16, scores from 0 down to
    /// past exp's range (those give 0).
    #[test]
    fn avx512_softmax_matches_softmax_inplace() {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            let mut rng = crate::generate::Rng::new(13);
            for n in [1, 2, 15, 16, 17, 40, 300] {
                for spread in [0.1f32, 5.0, 40.0, 200.0] {
                    let x: Vec<f32> = (0..n).map(|_| (rng.uniform() - 0.5) * spread).collect();
                    let mut want = x.clone();
                    softmax_inplace(&mut want);
                    let mut got = x.clone();
                    // SAFETY: AVX-512 F was detected just above.
                    unsafe { avx512::softmax_avx512(&mut got) };
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= 1e-6 * w + 1e-30,
                            "n={n} spread={spread}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    /// Decode's AVX-512 attention (16 scores at a time, reduced together) against `attend`:
    /// each head size it takes, position counts around the groups of 16.
    #[test]
    fn avx512_attend_matches_attend() {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            let mut rng = crate::generate::Rng::new(11);
            let mut rand =
                |n: usize| -> Vec<f32> { (0..n).map(|_| 2.0 * rng.uniform() - 1.0).collect() };
            for hs in [32, 64, 128] {
                let kvd = 3 * hs;
                for n in [1, 2, 15, 16, 17, 31, 32, 33, 100, 257] {
                    let (q, k, v) = (rand(hs), rand(n * kvd), rand(n * kvd));
                    let (k, v) = (&k[hs..], &v[hs..]);
                    let mut want = vec![0.0; hs];
                    attend(&mut want, &q, k, v, kvd, 0.125, &mut vec![0.0; n]);
                    let mut got = vec![0.0; hs];
                    let att = &mut vec![0.0; n];
                    // SAFETY: AVX-512 was detected just above.
                    unsafe {
                        match hs {
                            32 => attend_avx512::<2>(&mut got, &q, k, v, kvd, 0.125, att),
                            64 => attend_avx512::<4>(&mut got, &q, k, v, kvd, 0.125, att),
                            _ => attend_avx512::<8>(&mut got, &q, k, v, kvd, 0.125, att),
                        }
                    }
                    let worst = crate::ops::max_abs_diff(&got, &want);
                    assert!(worst < 1e-6, "HS={hs} n={n}: {worst}");
                }
            }
        }
    }

    /// `attend` (four scores at a time, o in registers for the usual head sizes) gives bit for
    /// bit what one `dot` per position and o summed in memory give, compiled for the baseline
    /// and, where the CPU has it, for AVX2: every head-size path, and position counts around
    /// the groups of four.
    #[test]
    fn attend_matches_one_position_at_a_time_bit_for_bit() {
        let mut rng = crate::generate::Rng::new(3);
        let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform() - 0.5).collect() };
        for hs in [8, 32, 40, 64, 128] {
            let kvd = 3 * hs; // three KV heads; the middle one is read
            for n in [1, 2, 3, 4, 5, 7, 8, 13, 64] {
                let (q, k, v) = (rand(hs), rand(n * kvd), rand(n * kvd));
                let (k, v) = (&k[hs..], &v[hs..]);
                let mut p: Vec<f32> = (0..n)
                    .map(|s| dot(&q, &k[s * kvd..][..hs]) * 0.125)
                    .collect();
                softmax_inplace(&mut p);
                let mut want = vec![0.0f32; hs];
                for (s, p) in p.iter().enumerate() {
                    for j in 0..hs {
                        want[j] += p * v[s * kvd + j];
                    }
                }
                let mut got = vec![0.0; hs];
                attend(&mut got, &q, k, v, kvd, 0.125, &mut vec![0.0; n]);
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "HS={hs} n={n}");
                #[cfg(target_arch = "x86_64")]
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    let mut got = vec![0.0; hs];
                    // SAFETY: AVX2 and FMA were detected just above.
                    unsafe { attend_avx2(&mut got, &q, k, v, kvd, 0.125, &mut vec![0.0; n]) };
                    assert_eq!(bits(&got), bits(&want), "AVX2, HS={hs} n={n}");
                }
            }
        }
    }
}

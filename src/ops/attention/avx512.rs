//! Attention kernels on AVX-512 (x86-64): decode's `attend_avx512` (one query row) and prefill's
//! `blocked` (small GEMMs), with their softmax. They agree with the row-at-a-time `attend` of the
//! parent module to rounding, not bit for bit; its tests check them.

/// [`attend`](super::attend) for AVX-512, HS a multiple of 16 up to 128: q and o held in zmm
/// registers, the scores 16 positions at a time (each position's FMAs into one register, then
/// the 16 registers reduced together by a transpose-and-add tree: about two instructions a
/// position where a lone horizontal sum takes eight). The same maths as `attend` in another
/// order: values agree to rounding, not bit for bit.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn attend_avx512<const M: usize>(
    o: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    kvd: usize,
    scale: f32,
    att: &mut [f32],
) {
    use std::arch::x86_64::*;
    let n = att.len();
    assert!(o.len() == 16 * M && q.len() == 16 * M && n > 0);
    assert!(k.len() >= (n - 1) * kvd + 16 * M && v.len() >= (n - 1) * kvd + 16 * M);
    let mut qv = [_mm512_setzero_ps(); M];
    for (m, x) in qv.iter_mut().enumerate() {
        *x = _mm512_loadu_ps(q.as_ptr().add(16 * m));
    }
    let sc = _mm512_set1_ps(scale);
    let full = n / 16 * 16;
    for s0 in (0..full).step_by(16) {
        let mut d = [_mm512_setzero_ps(); 16];
        for (i, x) in d.iter_mut().enumerate() {
            *x = dot16(&qv, k.as_ptr().add((s0 + i) * kvd));
        }
        _mm512_storeu_ps(att.as_mut_ptr().add(s0), _mm512_mul_ps(sum16(&d), sc));
    }
    for s in full..n {
        att[s] = _mm512_reduce_add_ps(dot16(&qv, k.as_ptr().add(s * kvd))) * scale;
    }
    softmax_avx512(att);
    let mut acc = [_mm512_setzero_ps(); M];
    for (s, &p) in att.iter().enumerate() {
        let (p, vp) = (_mm512_set1_ps(p), v.as_ptr().add(s * kvd));
        for (m, a) in acc.iter_mut().enumerate() {
            *a = _mm512_fmadd_ps(p, _mm512_loadu_ps(vp.add(16 * m)), *a);
        }
    }
    for (m, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(o.as_mut_ptr().add(16 * m), *a);
    }
}

/// [`softmax_inplace`](crate::ops::softmax_inplace) on AVX-512, with exp as 2^k · p(r)
/// (k = round(x·log₂e), r = x − k·ln 2, p the degree-6 Taylor polynomial, within about 2 ulp of
/// libm's; `scalef` applies 2^k, so a very negative x gives 0). For the AVX-512 attention
/// kernels, which already differ from the row-at-a-time path by rounding.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn softmax_avx512(x: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = x.len();
    let mask = |i: usize| -> __mmask16 {
        if n - i >= 16 {
            0xFFFF
        } else {
            (1u16 << (n - i)) - 1
        }
    };
    let p = x.as_mut_ptr();
    let mut mx = _mm512_set1_ps(f32::NEG_INFINITY);
    for i in (0..n).step_by(16) {
        let m = mask(i);
        mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, p.add(i)));
    }
    let mx = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    let mut sum = _mm512_setzero_ps();
    for i in (0..n).step_by(16) {
        let m = mask(i);
        let e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p.add(i)), mx));
        _mm512_mask_storeu_ps(p.add(i), m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    let inv = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(sum));
    for i in (0..n).step_by(16) {
        let m = mask(i);
        _mm512_mask_storeu_ps(
            p.add(i),
            m,
            _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p.add(i)), inv),
        );
    }
}

/// e^x by lanes for x ≤ 0 (softmax's inputs); see [`softmax_avx512`].
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn exp_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let x = _mm512_max_ps(x, _mm512_set1_ps(-104.0));
    let k = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut y = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(y, k)
}

/// q·k by lanes: Σ over m of q[m] · k[16m..16m+16] (one register; its lanes sum to the dot).
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn dot16<const M: usize>(
    q: &[std::arch::x86_64::__m512; M],
    k: *const f32,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let mut acc = _mm512_mul_ps(q[0], _mm512_loadu_ps(k));
    for (m, x) in q.iter().enumerate().skip(1) {
        acc = _mm512_fmadd_ps(*x, _mm512_loadu_ps(k.add(16 * m)), acc);
    }
    acc
}

/// Lane i of the result = the sum of d[i]'s 16 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn sum16(d: &[std::arch::x86_64::__m512; 16]) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    // Within each 128-bit lane: pairs, then fours, so y[j] holds, per 128-bit lane L, the
    // partial sums of d[4j..4j+4] over L's four values.
    let mut y = [_mm512_setzero_ps(); 4];
    for (j, y) in y.iter_mut().enumerate() {
        let ab = pair(d[4 * j], d[4 * j + 1]);
        let cd = pair(d[4 * j + 2], d[4 * j + 3]);
        let (ab, cd) = (_mm512_castps_pd(ab), _mm512_castps_pd(cd));
        *y = _mm512_add_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(ab, cd)),
            _mm512_castpd_ps(_mm512_unpackhi_pd(ab, cd)),
        );
    }
    // Across the four 128-bit lanes: (0+1, 2+3) of two registers, then of those.
    lanes(lanes(y[0], y[1]), lanes(y[2], y[3]))
}

/// Per 128-bit lane of a = [a0..a3], b = [b0..b3]: [a0+a2, b0+b2, a1+a3, b1+b3].
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn pair(
    a: std::arch::x86_64::__m512,
    b: std::arch::x86_64::__m512,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b))
}

/// [a.L0 + a.L1, a.L2 + a.L3, b.L0 + b.L1, b.L2 + b.L3] of the 128-bit lanes L of a and b.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn lanes(
    a: std::arch::x86_64::__m512,
    b: std::arch::x86_64::__m512,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b),
        _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b),
    )
}

/// What prefill's attention reads: q (T, NH*HS), the cache's k and v (≥ pos0+T rows of
/// NKV*HS), the positions, the heads (`group` query heads per KV head) and the mask.
pub(super) struct Attn<'a> {
    pub(super) q: &'a [f32],
    pub(super) k: &'a [f32],
    pub(super) v: &'a [f32],
    pub(super) pos0: usize,
    pub(super) t: usize,
    pub(super) nh: usize,
    pub(super) group: usize,
    pub(super) hs: usize,
    pub(super) causal: bool,
    pub(super) scale: f32,
}

/// Query rows a register tile holds.
pub(super) const QUAD: usize = 4;

/// Prefill's attention as small GEMMs on AVX-512 (elsewhere, and for a single query row,
/// [`attend`](super::attend) row by row). A task is one KV head and a block of query rows, over
/// all the query heads that share it:
///
/// ```text
/// Kᵀ (HS, n)  the head's keys, transposed once per task (n: the block's last row's keys)
/// per query head:  S = scale · Q·Kᵀ    prefill::kernel_8x32, 8 rows × 32 keys a tile, k = HS
///                              softmax per row over its own keys (the rest 0)
///                              O = P·V             4 rows × 64 columns a tile, k = the keys
/// ```
///
/// Per row this is the same maths as `attend` (each score a dot over HS, then softmax, then
/// Σ p·v), with FMAs in a different order, so values agree to rounding, not bit for bit.
pub(super) mod blocked {
    use super::{softmax_avx512, Attn, QUAD};
    use crate::ops::prefill::{kernel_8x32, MR};
    use crate::ops::{par_for, SendPtr};
    use std::arch::x86_64::*;

    /// Query rows per task.
    const BLOCK: usize = 16;
    /// Keys a score tile spans.
    const KEYS: usize = 32;

    thread_local! {
        /// Kᵀ and the scores of one task, reused across calls on this thread.
        static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }

    /// Runs the attention of `a` into `out` (T, NH·HS). The caller checked for AVX-512 and
    /// HS ∈ {32, 64, 128}.
    pub(in crate::ops::attention) fn prefill(out: &mut [f32], a: &Attn) {
        let blocks = a.t.div_ceil(BLOCK);
        let nkv = a.nh / a.group;
        // The tasks read and write through raw pointers within these bounds.
        let (qd, kvd) = (a.nh * a.hs, nkv * a.hs);
        assert!(out.len() >= a.t * qd && a.q.len() >= a.t * qd);
        assert!(a.k.len() >= (a.pos0 + a.t) * kvd && a.v.len() >= (a.pos0 + a.t) * kvd);
        let out_ptr = SendPtr(out.as_mut_ptr());
        // Later blocks see more keys: claim them first so the short ones fill in at the end.
        par_for(nkv * blocks, |i| {
            let (b, g) = (blocks - 1 - i / nkv, i % nkv);
            let rows = b * BLOCK..((b + 1) * BLOCK).min(a.t);
            SCRATCH.with(|s| {
                let (kt, sc) = &mut *s.borrow_mut();
                // SAFETY: the task writes out[r][h·HS..] for its rows r and its KV head's query
                // heads h only, disjoint from every other task's; `out` outlives `par_for`.
                // The caller checked for AVX-512.
                unsafe { task(out_ptr, a, g, rows, kt, sc) }
            })
        });
    }

    /// Keys query row r reads: 0..keys(a, r).
    #[inline(always)]
    fn keys(a: &Attn, r: usize) -> usize {
        if a.causal {
            a.pos0 + r + 1
        } else {
            a.pos0 + a.t
        }
    }

    /// One KV head `g`, query rows `rows`: every query head of the group.
    #[target_feature(enable = "avx512f")]
    unsafe fn task(
        out: SendPtr,
        a: &Attn,
        g: usize,
        rows: std::ops::Range<usize>,
        kt: &mut Vec<f32>,
        sc: &mut Vec<f32>,
    ) {
        let hs = a.hs;
        let (nkv, qd) = (a.nh / a.group, a.nh * hs);
        let kvd = nkv * hs;
        // The block's tiles span the last row's keys, padded to KEYS.
        let n = keys(a, rows.end - 1);
        let np = n.next_multiple_of(KEYS);
        // Kᵀ in panels of KEYS keys, (HS, KEYS) each: the packed B operand of prefill's GEMM
        // micro-kernel, which computes the scores.
        kt.clear();
        kt.resize(hs * np, 0.0);
        for s in 0..n {
            let panel = &mut kt[(s / KEYS) * hs * KEYS + s % KEYS..];
            for (j, &x) in a.k[s * kvd + g * hs..][..hs].iter().enumerate() {
                panel[j * KEYS] = x;
            }
        }
        sc.resize(BLOCK * np, 0.0);
        for h in g * a.group..(g + 1) * a.group {
            // S = scale · Q·Kᵀ, 8 rows × 32 keys a tile; past the block's end the last row
            // again (computed, not stored).
            for r0 in rows.clone().step_by(MR) {
                let live = MR.min(rows.end - r0);
                let q: [*const f32; MR] =
                    std::array::from_fn(|i| a.q[(r0 + i.min(live - 1)) * qd + h * hs..].as_ptr());
                for s0 in (0..np).step_by(KEYS) {
                    let mut c = [[0.0f32; KEYS]; MR];
                    kernel_8x32(&q, kt[s0 * hs..].as_ptr(), hs, &mut c);
                    for (i, c) in c.iter().enumerate().take(live) {
                        let row = &mut sc[(r0 + i - rows.start) * np + s0..][..KEYS];
                        for (o, x) in row.iter_mut().zip(c) {
                            *o = x * a.scale;
                        }
                    }
                }
            }
            for r in rows.clone() {
                let row = &mut sc[(r - rows.start) * np..][..np];
                softmax_avx512(&mut row[..keys(a, r)]);
                row[keys(a, r)..].fill(0.0);
            }
            for r0 in rows.clone().step_by(QUAD) {
                let live = QUAD.min(rows.end - r0);
                let rr: [usize; QUAD] = std::array::from_fn(|i| r0 + i.min(live - 1));
                // O = P·V over the tile's keys (a shorter row's extra probabilities are 0).
                let p = rr.map(|r| sc[(r - rows.start) * np..].as_ptr());
                let o = rr.map(|r| out.get().add(r * qd + h * hs));
                let n = keys(a, rr[QUAD - 1]);
                let v = &a.v[g * hs..];
                for c in (0..hs).step_by(64) {
                    match hs - c {
                        32 => values::<2>(p, v, kvd, n, o.map(|o| o.add(c)), c, live),
                        _ => values::<4>(p, v, kvd, n, o.map(|o| o.add(c)), c, live),
                    }
                }
            }
        }
    }

    /// o[i][0..16·M] = Σ_{s<n} p[i][s] · v[s·kvd + c..][..16·M] for the tile's `live` rows.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn values<const M: usize>(
        p: [*const f32; QUAD],
        v: &[f32],
        kvd: usize,
        n: usize,
        o: [*mut f32; QUAD],
        c: usize,
        live: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); M]; QUAD];
        let v = v[c..].as_ptr();
        for s in 0..n {
            let mut vv = [_mm512_setzero_ps(); M];
            for (m, x) in vv.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(v.add(s * kvd + 16 * m));
            }
            for i in 0..QUAD {
                let x = _mm512_set1_ps(*p[i].add(s));
                for m in 0..M {
                    acc[i][m] = _mm512_fmadd_ps(x, vv[m], acc[i][m]);
                }
            }
        }
        for i in 0..live {
            for m in 0..M {
                _mm512_storeu_ps(o[i].add(16 * m), acc[i][m]);
            }
        }
    }
}

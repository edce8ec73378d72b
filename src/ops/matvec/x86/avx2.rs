//! AVX2 + FMA + F16C kernels (256-bit). Callers must have checked [`super::has_avx2`].

use crate::ops::matvec::Q8Act;
use crate::quant::reference::scale_min_k4;
use core::arch::x86_64::*;
use half::{bf16, f16};

/// i32 lane k = Σ of u[4k..4k+4]·s[4k..4k+4] (u unsigned, s signed; the pair sums of
/// `vpmaddubsw` cannot saturate here: |u| ≤ 128, |s| ≤ 127 and one of them ≤ 63 except in Q8_0,
/// where 2·128·127 < 32767).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_u8_i8(u: __m256i, s: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
}

super::quant_kernels!("avx2,fma,f16c");

/// Σ w·x over n values, where `load(i)` widens w[i..i+8] to f32 in a register and `at(i)` is
/// one w[i]; four accumulators of 8 lanes, then 8 at a time, then one at a time.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn float_dot(
    n: usize,
    x: *const f32,
    load: impl Fn(usize) -> __m256,
    at: impl Fn(usize) -> f32,
) -> f32 {
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            *a = _mm256_fmadd_ps(load(i + 8 * k), _mm256_loadu_ps(x.add(i + 8 * k)), *a);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(load(i), _mm256_loadu_ps(x.add(i)), acc[0]);
        i += 8;
    }
    let mut s = hsum8(_mm256_add_ps(
        _mm256_add_ps(acc[0], acc[1]),
        _mm256_add_ps(acc[2], acc[3]),
    ));
    while i < n {
        s += at(i) * *x.add(i);
        i += 1;
    }
    s
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn f32_rows(w: &[f32], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    assert!(w.len() >= dots.len() * n);
    for (r, d) in dots.iter_mut().enumerate() {
        let p = w.as_ptr().add(r * n);
        *d = float_dot(n, x.as_ptr(), |i| _mm256_loadu_ps(p.add(i)), |i| *p.add(i));
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn f16_rows(w: &[f16], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    assert!(w.len() >= dots.len() * n);
    for (r, d) in dots.iter_mut().enumerate() {
        let p = w.as_ptr().add(r * n);
        let load = |i: usize| _mm256_cvtph_ps(_mm_loadu_si128(p.add(i) as *const __m128i));
        *d = float_dot(n, x.as_ptr(), load, |i| (*p.add(i)).to_f32());
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn bf16_rows(w: &[bf16], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    assert!(w.len() >= dots.len() * n);
    for (r, d) in dots.iter_mut().enumerate() {
        let p = w.as_ptr().add(r * n);
        let load = |i: usize| {
            let h = _mm256_cvtepu16_epi32(_mm_loadu_si128(p.add(i) as *const __m128i));
            _mm256_castsi256_ps(_mm256_slli_epi32(h, 16))
        };
        *d = float_dot(n, x.as_ptr(), load, |i| (*p.add(i)).to_f32());
    }
}

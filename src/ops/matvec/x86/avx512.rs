//! AVX-512 kernels: floats in 512-bit registers (16 lanes, masked tails), the 8-bit dots with
//! VNNI's `vpdpbusd` (u8·i8 summed by four into i32 in one instruction) on 256-bit registers
//! (AVX512VL), sharing the quantized bodies with AVX2. Callers must have checked
//! [`super::has_avx512`].

use crate::ops::matvec::Q8Act;
use crate::quant::reference::scale_min_k4;
use core::arch::x86_64::*;
use half::{bf16, f16};

/// i32 lane k = Σ of u[4k..4k+4]·s[4k..4k+4] (u unsigned, s signed), no saturation.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn dot_u8_i8(u: __m256i, s: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s)
}

super::quant_kernels!("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c");

/// Σ w·x over n values, where `load(i, mask)` widens the w[i..i+16] picked by `mask` to f32 in
/// a register (masked-off lanes are zero and their memory is not touched); four accumulators
/// of 16 lanes, then 16 at a time, then one masked step for the tail.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn float_dot(n: usize, x: *const f32, load: impl Fn(usize, __mmask16) -> __m512) -> f32 {
    let all = 0xFFFF;
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    while i + 64 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            let xi = _mm512_loadu_ps(x.add(i + 16 * k));
            *a = _mm512_fmadd_ps(load(i + 16 * k, all), xi, *a);
        }
        i += 64;
    }
    while i + 16 <= n {
        acc[0] = _mm512_fmadd_ps(load(i, all), _mm512_loadu_ps(x.add(i)), acc[0]);
        i += 16;
    }
    if i < n {
        let m: __mmask16 = (1u16 << (n - i)) - 1;
        let xi = _mm512_maskz_loadu_ps(m, x.add(i));
        acc[1] = _mm512_fmadd_ps(load(i, m), xi, acc[1]);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(
        _mm512_add_ps(acc[0], acc[1]),
        _mm512_add_ps(acc[2], acc[3]),
    ))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn f32_rows(w: &[f32], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    assert!(w.len() >= dots.len() * n);
    for (r, d) in dots.iter_mut().enumerate() {
        let p = w.as_ptr().add(r * n);
        *d = float_dot(n, x.as_ptr(), |i, m| _mm512_maskz_loadu_ps(m, p.add(i)));
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn f16_rows(w: &[f16], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    assert!(w.len() >= dots.len() * n);
    for (r, d) in dots.iter_mut().enumerate() {
        let p = w.as_ptr().add(r * n) as *const i16;
        let load = |i: usize, m: __mmask16| _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p.add(i)));
        *d = float_dot(n, x.as_ptr(), load);
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn bf16_rows(w: &[bf16], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    assert!(w.len() >= dots.len() * n);
    for (r, d) in dots.iter_mut().enumerate() {
        let p = w.as_ptr().add(r * n) as *const i16;
        let load = |i: usize, m: __mmask16| {
            let h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p.add(i)));
            _mm512_castsi512_ps(_mm512_slli_epi32(h, 16))
        };
        *d = float_dot(n, x.as_ptr(), load);
    }
}

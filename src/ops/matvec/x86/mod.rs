//! x86-64 kernels: AVX2 (+FMA, F16C) and AVX-512 (F/BW/VL + VNNI). Callers check the features
//! first ([`has_avx2`], [`has_avx512`]); every kernel is an `unsafe fn` with
//! `#[target_feature]` whose contract is exactly that check.
//!
//! The quantized formats share one body per format ([`quant_kernels!`]), written with 256-bit
//! integer ops around one primitive that differs per ISA: `dot_u8_i8(u, s)`, the i32 sums of
//! four adjacent u8·i8 products (AVX2: `vpmaddubsw` + `vpmaddwd`; AVX-512: VNNI `vpdpbusd`).

pub mod avx2;
pub mod avx512;

pub fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

pub fn has_avx512() -> bool {
    has_avx2()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
}

/// The quantized-format kernels for the target features `$feat`, calling the invoking module's
/// `dot_u8_i8`. Each: dots[i] = row i of `w` (packed blocks, rows end to end) · x's 8-bit
/// blocks `a`. Two accumulators hide the FMA latency.
macro_rules! quant_kernels {
    ($feat:literal) => {
        /// The little-endian f16 at `p`, as f32.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn f16_at(p: *const u8) -> f32 {
            let bits = (p as *const u16).read_unaligned();
            _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn hsum8(v: __m256) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
        }

        /// 16 bytes of packed nibbles → 32 bytes: the low nibbles, then the high ones.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn nibbles(p: *const u8) -> __m256i {
            let t = _mm_loadu_si128(p as *const __m128i);
            let both = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
            _mm256_and_si256(both, _mm256_set1_epi8(0xF))
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn load32(p: *const i8) -> __m256i {
            _mm256_loadu_si256(p as *const __m256i)
        }

        /// Checks the sizes the unchecked reads below rely on; returns blocks of 32 per row.
        /// `bb` bytes per block of `bl` values.
        fn check(w: &[u8], bb: usize, bl: usize, a: &Q8Act, rows: usize) -> usize {
            let nb = a.d.len();
            assert!(a.s.len() == nb && a.q.len() == 32 * nb && (32 * nb) % bl == 0);
            assert!(w.len() >= rows * (32 * nb / bl) * bb);
            nb
        }

        /// Q8_0: d_w·d_x·Σ q_w·q_x (signed · signed via |q_w| and sign(q_x, q_w)).
        #[target_feature(enable = $feat)]
        pub unsafe fn q8_0_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
            let nb = check(w, 34, 32, a, dots.len());
            let (aq, ad) = (a.q.as_ptr(), a.d.as_ptr());
            for (r, dst) in dots.iter_mut().enumerate() {
                let row = w.as_ptr().add(r * nb * 34);
                let step = |b: usize, acc: __m256| {
                    let blk = row.add(34 * b);
                    let q = load32(blk.add(2) as *const i8);
                    let x = load32(aq.add(32 * b));
                    let p = dot_u8_i8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
                    let scale = _mm256_set1_ps(f16_at(blk) * *ad.add(b));
                    _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc)
                };
                let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                let mut b = 0;
                while b + 2 <= nb {
                    acc0 = step(b, acc0);
                    acc1 = step(b + 1, acc1);
                    b += 2;
                }
                if b < nb {
                    acc0 = step(b, acc0);
                }
                *dst = hsum8(_mm256_add_ps(acc0, acc1));
            }
        }

        /// Q4_0 and Q4_1 (`offset` bytes of scales before the nibbles): d·Σ q·x plus, per
        /// block, the offset times Σx — Q4_0's −8·d, Q4_1's m.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn q4_rows<const BB: usize>(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
            let nb = check(w, BB, 32, a, dots.len());
            let (aq, ad, asum) = (a.q.as_ptr(), a.d.as_ptr(), a.s.as_ptr());
            for (r, dst) in dots.iter_mut().enumerate() {
                let row = w.as_ptr().add(r * nb * BB);
                let mut corr = 0f32;
                let mut step = |b: usize, acc: __m256| {
                    let blk = row.add(BB * b);
                    let d = f16_at(blk);
                    // Q4_0 (18 bytes): q − 8; Q4_1 (20 bytes): q·d + m.
                    let (qs, m) = if BB == 18 {
                        (blk.add(2), -8.0 * d)
                    } else {
                        (blk.add(4), f16_at(blk.add(2)))
                    };
                    corr += m * *asum.add(b);
                    let p = dot_u8_i8(nibbles(qs), load32(aq.add(32 * b)));
                    let scale = _mm256_set1_ps(d * *ad.add(b));
                    _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc)
                };
                let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                let mut b = 0;
                while b + 2 <= nb {
                    acc0 = step(b, acc0);
                    acc1 = step(b + 1, acc1);
                    b += 2;
                }
                if b < nb {
                    acc0 = step(b, acc0);
                }
                *dst = hsum8(_mm256_add_ps(acc0, acc1)) + corr;
            }
        }

        #[target_feature(enable = $feat)]
        pub unsafe fn q4_0_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
            q4_rows::<18>(w, a, dots)
        }

        #[target_feature(enable = $feat)]
        pub unsafe fn q4_1_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
            q4_rows::<20>(w, a, dots)
        }

        /// Q4_K: per sub-block j of 32, d·sc_j·Σ q·x − dmin·m_j·Σx; 32 bytes of nibbles hold
        /// sub-blocks 2c (low) and 2c + 1 (high).
        #[target_feature(enable = $feat)]
        pub unsafe fn q4k_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
            let nb = check(w, 144, 256, a, dots.len());
            let nsb = nb / 8;
            let (aq, ad, asum) = (a.q.as_ptr(), a.d.as_ptr(), a.s.as_ptr());
            let m4 = _mm256_set1_epi8(0xF);
            for (r, dst) in dots.iter_mut().enumerate() {
                let row = w.as_ptr().add(r * nsb * 144);
                let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                let mut corr = 0f32;
                for sb in 0..nsb {
                    let blk = row.add(144 * sb);
                    let (d, dmin) = (f16_at(blk), f16_at(blk.add(2)));
                    let scales = std::slice::from_raw_parts(blk.add(4), 12);
                    for c in 0..4 {
                        let (sc0, m0) = scale_min_k4(2 * c, scales);
                        let (sc1, m1) = scale_min_k4(2 * c + 1, scales);
                        let ab = 8 * sb + 2 * c;
                        let qq = _mm256_loadu_si256(blk.add(16 + 32 * c) as *const __m256i);
                        let lo = _mm256_and_si256(qq, m4);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
                        let p0 = dot_u8_i8(lo, load32(aq.add(32 * ab)));
                        let p1 = dot_u8_i8(hi, load32(aq.add(32 * ab + 32)));
                        let (dx0, dx1) = (*ad.add(ab), *ad.add(ab + 1));
                        let s0 = _mm256_set1_ps(d * sc0 as f32 * dx0);
                        let s1 = _mm256_set1_ps(d * sc1 as f32 * dx1);
                        acc0 = _mm256_fmadd_ps(s0, _mm256_cvtepi32_ps(p0), acc0);
                        acc1 = _mm256_fmadd_ps(s1, _mm256_cvtepi32_ps(p1), acc1);
                        corr += dmin * (m0 as f32 * *asum.add(ab) + m1 as f32 * *asum.add(ab + 1));
                    }
                }
                *dst = hsum8(_mm256_add_ps(acc0, acc1)) - corr;
            }
        }

        /// Q6_K: per 32 values (one x block) the integer sums Σ(q − 32)·x of its two groups of
        /// 16, times their scales sc_g (i32 lanes 0..4 are the first group, 4..8 the second),
        /// then · d · d_x. The 6-bit q of a half (128 values) are ql's nibbles (bytes 0..32 low,
        /// 32..64 low, 0..32 high, 32..64 high) with 2 bits each from qh (bits 0, 2, 4, 6).
        #[target_feature(enable = $feat)]
        pub unsafe fn q6k_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
            let nb = check(w, 210, 256, a, dots.len());
            let nsb = nb / 8;
            let (aq, ad) = (a.q.as_ptr(), a.d.as_ptr());
            let m4 = _mm256_set1_epi8(0xF);
            let m2 = _mm256_set1_epi8(3);
            let k32 = _mm256_set1_epi8(32);
            for (r, dst) in dots.iter_mut().enumerate() {
                let row = w.as_ptr().add(r * nsb * 210);
                let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                for sb in 0..nsb {
                    let blk = row.add(210 * sb);
                    let d = f16_at(blk.add(208));
                    for h in 0..2 {
                        let ql0 = _mm256_loadu_si256(blk.add(64 * h) as *const __m256i);
                        let ql1 = _mm256_loadu_si256(blk.add(64 * h + 32) as *const __m256i);
                        let qh = _mm256_loadu_si256(blk.add(128 + 32 * h) as *const __m256i);
                        let sc = blk.add(192 + 8 * h) as *const i8;
                        // The high 2 bits of value group k sit at bits 2k..2k+2 of qh.
                        let hi = |k: i32| match k {
                            0 => _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4),
                            1 => {
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)
                            }
                            2 => {
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)
                            }
                            _ => {
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)
                            }
                        };
                        let q = [
                            _mm256_or_si256(_mm256_and_si256(ql0, m4), hi(0)),
                            _mm256_or_si256(_mm256_and_si256(ql1, m4), hi(1)),
                            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), hi(2)),
                            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), hi(3)),
                        ];
                        for (k, &qk) in q.iter().enumerate() {
                            let ab = 8 * sb + 4 * h + k;
                            let x = load32(aq.add(32 * ab));
                            let p = _mm256_sub_epi32(dot_u8_i8(qk, x), dot_u8_i8(k32, x));
                            let scales = _mm256_set_m128i(
                                _mm_set1_epi32(*sc.add(2 * k + 1) as i32),
                                _mm_set1_epi32(*sc.add(2 * k) as i32),
                            );
                            let p = _mm256_cvtepi32_ps(_mm256_mullo_epi32(p, scales));
                            let s = _mm256_set1_ps(d * *ad.add(ab));
                            if k % 2 == 0 {
                                acc0 = _mm256_fmadd_ps(s, p, acc0);
                            } else {
                                acc1 = _mm256_fmadd_ps(s, p, acc1);
                            }
                        }
                    }
                }
                *dst = hsum8(_mm256_add_ps(acc0, acc1));
            }
        }
    };
}
pub(crate) use quant_kernels;

//! wasm simd128 kernels (the wasm build enables simd128: `.cargo/config.toml`), for the formats
//! the browser's CPU engine meets most: the 8-bit and 4-bit blocks of a GGUF (SmolLM2's Q4_1
//! matrices and Q8_0 embedding) and the half-precision floats. LLVM does not find these in the
//! portable code: it widens every 8-bit product to i32 and keeps the nibbles in a stack array,
//! and it does not vectorize the f16 widening at all.
//!
//! - Q8_0: `i16x8.extmul` of weights and x (i8 × i8), two products added in i16 (|w·x| ≤
//!   128 · 127, so a sum of two fits), then `i32x4.extadd_pairwise`: 32 products in 4
//!   multiplies, 2 pairwise widenings and 3 adds.
//! - Q4_0, Q4_1: the nibbles zero-extended to i16 and `i32x4.dot_i16x8_s` against x widened to
//!   i16 once per matvec (`Q8Act::q16`).
//! - Per block, one convert and one multiply-add in f32 (the block's scales); four blocks' f16
//!   scales are read together in one vector, moved into f32 bit places by shifts and a mask
//!   (`SPREAD_MASK`; a row with an inf or NaN scale is computed by the portable kernel).
//! - F16: 8 halves moved into f32 bit positions in registers, read as 2^-112 of their value
//!   against x·2^112 (exact: `f16_rows`); a row segment with an inf or NaN widens each value
//!   by the bit operations of [`super::portable::f16_bits_to_f32`]. BF16 by a shift.
//!
//! F32 and the k-quants take the portable kernels (LLVM vectorizes the f32 dot already; the
//! k-quants are rare in browser bundles).

use super::portable::f16_bits_to_f32;
use super::Q8Act;
use core::arch::wasm32::*;
use half::{bf16, f16};

pub use super::portable::{f32_rows, q4k_rows, q6k_rows};

/// 16 bytes of `s` (at least 16 long) as a vector.
#[inline(always)]
fn load16<T: bytemuck::Pod>(s: &[T]) -> v128 {
    let b: &[u8; 16] = bytemuck::cast_slice(s)[..16].try_into().unwrap();
    // SAFETY: `b` is 16 readable bytes; v128_load has no alignment requirement.
    unsafe { v128_load(b.as_ptr() as *const v128) }
}

#[inline(always)]
fn hsum(v: v128) -> f32 {
    (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
        + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
}

/// Σ w·x over 32 values in four i32 partial sums (Q8_0): w's 32 i8 values in `w0` and `w1`, x's
/// 32 i8 values: `i16x8.extmul` of the bytes, two products added in i16, pairwise to i32.
#[inline(always)]
fn dot32_i8(w0: v128, w1: v128, x: &[i8; 32]) -> v128 {
    let (x0, x1) = (load16(&x[..16]), load16(&x[16..]));
    let a = i16x8_add(
        i16x8_extmul_low_i8x16(w0, x0),
        i16x8_extmul_high_i8x16(w0, x0),
    );
    let b = i16x8_add(
        i16x8_extmul_low_i8x16(w1, x1),
        i16x8_extmul_high_i8x16(w1, x1),
    );
    i32x4_add(
        i32x4_extadd_pairwise_i16x8(a),
        i32x4_extadd_pairwise_i16x8(b),
    )
}

/// Σ w·x over 32 values in four i32 partial sums (Q4): w's nibbles 0–15 in `w0`, 16–31 in `w1`
/// (u8 lanes), x's 32 values already widened to i16: the nibbles widen by a zero-extension,
/// then `i32x4.dot_i16x8_s` (one `pmaddwd`) multiplies and adds pairs. Fewer instructions than
/// `dot32_i8` for nibbles; for Q8_0's signed bytes the extra sign extensions cancel the gain (a
/// noisy A/B in Node, CPU time per token on a loaded machine: Q4_1 −17%, Q8_0 +9%).
#[inline(always)]
fn dot32_i16(w0: v128, w1: v128, x: &[i16; 32]) -> v128 {
    let (a, b) = (u16x8_extend_low_u8x16(w0), u16x8_extend_high_u8x16(w0));
    let (c, d) = (u16x8_extend_low_u8x16(w1), u16x8_extend_high_u8x16(w1));
    let p0 = i32x4_add(
        i32x4_dot_i16x8(a, load16(&x[..8])),
        i32x4_dot_i16x8(b, load16(&x[8..16])),
    );
    let p1 = i32x4_add(
        i32x4_dot_i16x8(c, load16(&x[16..24])),
        i32x4_dot_i16x8(d, load16(&x[24..])),
    );
    i32x4_add(p0, p1)
}

/// A block format's header as the kernels use it: the weights' scale `d` and offset term `o`,
/// so that the block's contribution is d·d_x·Σq·x_q + o·s (s = d_x·Σx_q, see `Q8Act`).
#[derive(Clone, Copy)]
enum Head {
    /// d at byte 0, no offset (Q8_0).
    Scale,
    /// d at byte 0, o = −8·d (Q4_0: values q − 8).
    Centered,
    /// d at byte 0, o = m at byte 2 (Q4_1).
    ScaleMin,
}

/// The little-endian u16 at byte `at` of a block.
#[inline(always)]
fn u16_at<const BB: usize>(blk: &[u8; BB], at: usize) -> u32 {
    u16::from_le_bytes([blk[at], blk[at + 1]]) as u32
}

/// A block's first four bytes, little-endian (every block format here is at least 18 long).
#[inline(always)]
fn u32_at<const BB: usize>(blk: &[u8; BB]) -> u32 {
    u32::from_le_bytes([blk[0], blk[1], blk[2], blk[3]])
}

/// Rows of blocks of `BB` bytes, headed as `head` says; `dot` gives a block's i32 partial sums
/// Σq·x_q. Four blocks at a time, their f16 scales are widened together in one vector (the
/// scalar conversion costs more than the block's dot product); the rest one by one. Blocks and
/// groups are fixed-size arrays, so that no index is checked in the loop.
#[inline(always)]
fn block_rows<const BB: usize, X>(
    w: &[u8],
    head: Head,
    a: &Q8Act,
    xq: &[[X; 32]],
    dots: &mut [f32],
    dot: impl Fn(&[u8; BB], &[X; 32]) -> v128,
    exact: fn(&[u8], &Q8Act, &mut [f32]),
) {
    let nb = a.d.len();
    let (xd, _) = a.d.as_chunks::<4>();
    let (xs, _) = a.s.as_chunks::<4>();
    // The f16 header fields' exponents (d alone, or d and Q4_1's m), to find an inf or NaN.
    let exp_bits: u32 = match head {
        Head::ScaleMin => 0x7c00_7c00,
        _ => 0x7c00,
    };
    let exponents = u32x4_splat(exp_bits);
    for (d, row) in dots.iter_mut().zip(w.chunks_exact(nb * BB)) {
        let (blocks, _) = row.as_chunks::<BB>();
        let (mut acc, mut off) = (f32x4_splat(0.0), f32x4_splat(0.0));
        let mut special = i16x8_splat(0);
        let mut scaled = |p: v128, scale: v128| {
            acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(p), scale));
        };
        let groups = blocks.chunks_exact(4).zip(xq.chunks_exact(4));
        for ((g, x), (dx, sx)) in groups.zip(xd.iter().zip(xs)) {
            // Each block's first 4 bytes: d (and m for Q4_1) as f16; widened 4 blocks at once.
            // (In f32 places, `SPREAD_MASK`: 2^-112 of their values, exact but for inf and
            // NaN, which send the row to the exact kernel.)
            let head4 = u32x4(u32_at(&g[0]), u32_at(&g[1]), u32_at(&g[2]), u32_at(&g[3]));
            let e = v128_and(head4, exponents);
            special = v128_or(special, i16x8_eq(e, u16x8_splat(0x7c00)));
            let spread = |v: v128| f32x4_mul(spread_top_f16(v), f32x4_splat(TWO_112));
            let dw = spread(i32x4_shl(head4, 16));
            let o = match head {
                Head::Scale => None,
                Head::Centered => Some(f32x4_mul(dw, f32x4_splat(-8.0))),
                Head::ScaleMin => Some(spread(head4)),
            };
            if let Some(o) = o {
                off = f32x4_add(off, f32x4_mul(o, load16(sx)));
            }
            let sc = f32x4_mul(dw, load16(dx));
            scaled(dot(&g[0], &x[0]), i32x4_shuffle::<0, 0, 0, 0>(sc, sc));
            scaled(dot(&g[1], &x[1]), i32x4_shuffle::<1, 1, 1, 1>(sc, sc));
            scaled(dot(&g[2], &x[2]), i32x4_shuffle::<2, 2, 2, 2>(sc, sc));
            scaled(dot(&g[3], &x[3]), i32x4_shuffle::<3, 3, 3, 3>(sc, sc));
        }
        let (mut tail, mut special_tail) = (0f32, false);
        for b in nb / 4 * 4..nb {
            let blk = &blocks[b];
            // (Widened exactly here, but an inf d would meet each lane's partial sum apart:
            // NaN where a lane's sum is 0 and the portable kernel's total is ±inf.)
            let e = u32_at(blk) & exp_bits;
            special_tail |= e & 0xffff == 0x7c00 || e >> 16 == 0x7c00;
            let dw = f16_bits_to_f32(u16_at(blk, 0) as u16);
            scaled(dot(blk, &xq[b]), f32x4_splat(dw * a.d[b]));
            tail += a.s[b]
                * match head {
                    Head::Scale => 0.0,
                    Head::Centered => -8.0 * dw,
                    Head::ScaleMin => f16_bits_to_f32(u16_at(blk, 2) as u16),
                };
        }
        *d = hsum(acc) + hsum(off) + tail;
        if v128_any_true(special) || special_tail {
            exact(row, a, core::slice::from_mut(d));
        }
    }
}

pub fn q8_0_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    let xq = a.q.as_chunks::<32>().0;
    block_rows::<34, _>(
        w,
        Head::Scale,
        a,
        xq,
        dots,
        |blk, x| dot32_i8(load16(&blk[2..18]), load16(&blk[18..]), x),
        super::portable::q8_0_rows,
    )
}

/// Σq·x_q of a Q4 block's 16 bytes of nibbles (low nibbles are values 0–15, high ones 16–31).
#[inline(always)]
fn dot_nibbles(qs: &[u8], x: &[i16; 32]) -> v128 {
    let v = load16(qs);
    let m = u8x16_splat(0x0F);
    dot32_i16(v128_and(v, m), v128_and(u16x8_shr(v, 4), m), x)
}

pub fn q4_0_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    // d·(q − 8)·x summed = d·d_x·Σq·x_q − 8·d·s
    let xq = a.q16.as_chunks::<32>().0;
    block_rows::<18, _>(
        w,
        Head::Centered,
        a,
        xq,
        dots,
        |blk, x| dot_nibbles(&blk[2..], x),
        super::portable::q4_0_rows,
    )
}

pub fn q4_1_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    // (d·q + m)·x summed = d·d_x·Σq·x_q + m·s
    let xq = a.q16.as_chunks::<32>().0;
    block_rows::<20, _>(
        w,
        Head::ScaleMin,
        a,
        xq,
        dots,
        |blk, x| dot_nibbles(&blk[4..], x),
        super::portable::q4_1_rows,
    )
}

/// Four f16 bit patterns (in the low halves of u32 lanes) as f32: see `f16_bits_to_f32`.
#[inline(always)]
fn widen_f16(h: v128) -> v128 {
    let v = f32x4_mul(
        i32x4_shl(v128_and(h, u32x4_splat(0x7fff)), 13),
        f32x4_splat(TWO_112),
    );
    let inf_nan = u32x4_ge(v128_and(h, u32x4_splat(0x7c00)), u32x4_splat(0x7c00));
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    v128_or(
        v128_or(v, v128_and(inf_nan, u32x4_splat(0x7f80_0000))),
        sign,
    )
}

/// Rows of 16-bit floats, 8 values a step widened by `widen` (4 lanes at a time) into two
/// accumulators; the tail (n mod 8) in scalar code.
#[inline(always)]
fn half_rows<T: bytemuck::Pod>(
    w: &[T],
    x: &[f32],
    dots: &mut [f32],
    widen: impl Fn(v128) -> v128,
    scalar: impl Fn(T) -> f32,
) {
    let n = x.len();
    let n8 = n / 8 * 8;
    for (d, row) in dots.iter_mut().zip(w.chunks_exact(n)) {
        let (mut a0, mut a1) = (f32x4_splat(0.0), f32x4_splat(0.0));
        for (cw, cx) in row[..n8].chunks_exact(8).zip(x[..n8].chunks_exact(8)) {
            let h = load16(cw);
            let (lo, hi) = (u32x4_extend_low_u16x8(h), u32x4_extend_high_u16x8(h));
            a0 = f32x4_add(a0, f32x4_mul(widen(lo), load16(cx)));
            a1 = f32x4_add(a1, f32x4_mul(widen(hi), load16(&cx[4..])));
        }
        let mut s = hsum(f32x4_add(a0, a1));
        for i in n8..n {
            s += scalar(row[i]) * x[i];
        }
        *d = s;
    }
}

/// An f16's bits in an f32's place, sign to sign and exponent-and-mantissa to the low end of the
/// f32's (`((h as i16 as i32) << 13) & 0x8fff_e000`), read as an f32 hold 2^-112 of its value,
/// exactly, subnormals included; x·2^112 is exact too while |x| < 2^14, so their product is the
/// exact path's product, rounded once the same way. Exponent 31 (inf, NaN) is the one pattern
/// this reads wrong (a finite number): a row's 2,048-column segment that holds one is computed
/// again by the exact path.
const SPREAD_MASK: u32 = 0x8fff_e000;
const TWO_112: f32 = f32::from_bits(0x7780_0000);

/// x·2^112 is staged on the stack this many columns at a time.
const F16_COLS: usize = 2048;

/// The f16 in the top half of each i32 lane in f32 places (`SPREAD_MASK`): an arithmetic shift
/// by 3 puts its sign at bit 31 (and 28–30, masked) and the rest at bits 13–27.
#[inline(always)]
fn spread_top_f16(v: v128) -> v128 {
    v128_and(i32x4_shr(v, 3), u32x4_splat(SPREAD_MASK))
}

/// F16 rows, 8 halves a step: 3 shifts and 2 masks put the bits in place (`SPREAD_MASK`),
/// against x·2^112 staged once per call (a strip of rows), even and odd columns apart; about
/// half the instructions of widening each value (`widen_f16`), which the rare row segment with
/// an inf or NaN still takes, as does a call whose x has |x| ≥ 2^14.
pub fn f16_rows(w: &[f16], x: &[f32], dots: &mut [f32]) {
    let exact = |w: &[f16], x: &[f32], dots: &mut [f32]| {
        half_rows(w, x, dots, widen_f16, |h| f16_bits_to_f32(h.to_bits()))
    };
    let n = x.len();
    if n == 0 || !x.iter().all(|v| v.abs() < 16384.0) {
        return exact(w, x, dots);
    }
    let mut staged = [0f32; F16_COLS];
    for c0 in (0..n).step_by(F16_COLS) {
        let c1 = (c0 + F16_COLS).min(n);
        let xs = &mut staged[..c1 - c0];
        let n8 = xs.len() / 8 * 8;
        // Each 8: the even columns, then the odd ones (the order `f16_dot_spread` reads h in).
        for (s, v) in xs[..n8].chunks_exact_mut(8).zip(x[c0..].chunks_exact(8)) {
            for k in 0..4 {
                (s[k], s[k + 4]) = (v[2 * k] * TWO_112, v[2 * k + 1] * TWO_112);
            }
        }
        for (s, v) in xs[n8..].iter_mut().zip(&x[c0 + n8..c1]) {
            *s = v * TWO_112;
        }
        for (d, row) in dots.iter_mut().zip(w.chunks_exact(n)) {
            let seg = &row[c0..c1];
            let s = f16_dot_spread(seg, xs).unwrap_or_else(|| {
                let mut one = [0f32];
                exact(seg, &x[c0..c1], &mut one);
                one[0]
            });
            *d = if c0 == 0 { s } else { *d + s };
        }
    }
}

/// Σ w·x of one row segment against x·2^112 (`f16_rows`), or None where a weight is inf or NaN.
#[inline(always)]
fn f16_dot_spread(w: &[f16], xs: &[f32]) -> Option<f32> {
    let n8 = w.len() / 8 * 8;
    let (mut a0, mut a1, mut top) = (f32x4_splat(0.0), f32x4_splat(0.0), u16x8_splat(0));
    for (cw, cx) in w[..n8].chunks_exact(8).zip(xs[..n8].chunks_exact(8)) {
        let h = load16(cw);
        // Exponent and mantissa, sign dropped: ≥ 0xf800 where the exponent is 31.
        top = u16x8_max(top, i16x8_shl(h, 1));
        // Lane pairs as i32: the even half shifted to the top first.
        let (even, odd) = (spread_top_f16(i32x4_shl(h, 16)), spread_top_f16(h));
        a0 = f32x4_add(a0, f32x4_mul(even, load16(cx)));
        a1 = f32x4_add(a1, f32x4_mul(odd, load16(&cx[4..])));
    }
    let mut s = hsum(f32x4_add(a0, a1));
    let mut inf_nan = v128_any_true(u16x8_ge(top, u16x8_splat(0xf800)));
    for (h, x) in w[n8..].iter().zip(&xs[n8..]) {
        let h = h.to_bits();
        inf_nan |= h & 0x7c00 == 0x7c00;
        s += f32::from_bits(((h as i16 as i32) << 13) as u32 & SPREAD_MASK) * x;
    }
    (!inf_nan).then_some(s)
}

pub fn bf16_rows(w: &[bf16], x: &[f32], dots: &mut [f32]) {
    half_rows(
        w,
        x,
        dots,
        |h| i32x4_shl(h, 16),
        |h| f32::from_bits((h.to_bits() as u32) << 16),
    )
}

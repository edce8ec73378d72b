//! Portable kernels: plain Rust over fixed-width chunks, shaped so LLVM turns them into the
//! target's SIMD (SSE2 natively, simd128 in wasm with `+simd128`) and into scalar code where
//! there is none. Every function: dots[i] = row i of `w` · x, rows laid end to end.

use super::Q8Act;
use crate::ops::dot;
use crate::quant::{f16_at, reference::scale_min_k4};
use half::{bf16, f16};

pub fn f32_rows(w: &[f32], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    for (d, row) in dots.iter_mut().zip(w.chunks_exact(n)) {
        *d = dot(row, x);
    }
}

/// f16 bits → f32 in a few integer and float ops with no branches or selects, so a loop of
/// them vectorizes: place exponent and mantissa where f32 keeps them and multiply by 2^112 to
/// rebias the exponent (15 → 127), which is exact and also renormalizes subnormals; Inf/NaN
/// (exponent all ones) then get f32's all-ones exponent by an OR under a mask.
#[inline(always)]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let v = f32::from_bits((h & 0x7fff) << 13) * f32::from_bits(0x7780_0000); // · 2^112
    let inf_nan = (((h & 0x7c00) + 0x0400) >> 15).wrapping_neg(); // all ones iff exponent 31
    f32::from_bits(v.to_bits() | (inf_nan & 0x7f80_0000) | ((h & 0x8000) << 16))
}

/// `dot` (ops/mod.rs) with w's values widened as they are read: the same eight accumulators
/// and the same order of sums, so a row of f16 weights gives exactly the result of its f32
/// widening.
#[inline(always)]
fn widening_dot<T: Copy>(w: &[T], x: &[f32], widen: impl Fn(T) -> f32) -> f32 {
    let n = w.len() / 8 * 8;
    let mut acc = [0.0f32; 8];
    for (cw, cx) in w[..n].chunks_exact(8).zip(x[..n].chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += widen(cw[k]) * cx[k];
        }
    }
    let mut s = (acc[0] + acc[4]) + (acc[1] + acc[5]) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for i in n..w.len() {
        s += widen(w[i]) * x[i];
    }
    s
}

pub fn f16_rows(w: &[f16], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    for (d, row) in dots.iter_mut().zip(w.chunks_exact(n)) {
        *d = widening_dot(row, x, |h| f16_bits_to_f32(h.to_bits()));
    }
}

pub fn bf16_rows(w: &[bf16], x: &[f32], dots: &mut [f32]) {
    let n = x.len();
    for (d, row) in dots.iter_mut().zip(w.chunks_exact(n)) {
        *d = widening_dot(row, x, |h| f32::from_bits((h.to_bits() as u32) << 16));
    }
}

/// Σ a[i]·b[i] over 32 8-bit values, in i32.
#[inline(always)]
fn idot32(a: &[i8; 32], b: &[i8]) -> i32 {
    let mut s = 0i32;
    for i in 0..32 {
        s += a[i] as i32 * b[i] as i32;
    }
    s
}

/// The 32 4-bit values of a Q4_0/Q4_1 block's 16 bytes: low nibbles first, then high.
#[inline(always)]
fn nibbles(qs: &[u8]) -> [i8; 32] {
    let mut q = [0i8; 32];
    for j in 0..16 {
        q[j] = (qs[j] & 0xF) as i8;
        q[j + 16] = (qs[j] >> 4) as i8;
    }
    q
}

/// Rows of n / 32 blocks, `bb` bytes each, against x's 8-bit blocks.
fn block_rows(w: &[u8], bb: usize, a: &Q8Act, dots: &mut [f32], f: impl Fn(&[u8], usize) -> f32) {
    let nb = a.d.len();
    for (d, row) in dots.iter_mut().zip(w.chunks_exact(nb * bb)) {
        *d = row
            .chunks_exact(bb)
            .enumerate()
            .map(|(b, blk)| f(blk, b))
            .sum();
    }
}

pub fn q8_0_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    block_rows(w, 34, a, dots, |blk, b| {
        let q: &[i8; 32] = bytemuck::cast_slice::<u8, i8>(&blk[2..34])
            .try_into()
            .unwrap();
        f16_at(blk) * a.d[b] * idot32(q, &a.q[32 * b..32 * b + 32]) as f32
    })
}

pub fn q4_0_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    // d·(q − 8)·x summed = d·(Σq·x − 8·Σx)
    block_rows(w, 18, a, dots, |blk, b| {
        let d = f16_at(blk);
        let p = idot32(&nibbles(&blk[2..18]), &a.q[32 * b..32 * b + 32]);
        d * (a.d[b] * p as f32 - 8.0 * a.s[b])
    })
}

pub fn q4_1_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    // (d·q + m)·x summed = d·Σq·x + m·Σx
    block_rows(w, 20, a, dots, |blk, b| {
        let (d, m) = (f16_at(blk), f16_at(&blk[2..]));
        let p = idot32(&nibbles(&blk[4..20]), &a.q[32 * b..32 * b + 32]);
        d * a.d[b] * p as f32 + m * a.s[b]
    })
}

pub fn q4k_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    // Per sub-block j of 32: (d·sc_j·q − dmin·m_j)·x summed = d·sc_j·Σq·x − dmin·m_j·Σx.
    let nsb = a.d.len() / 8;
    for (dst, row) in dots.iter_mut().zip(w.chunks_exact(nsb * 144)) {
        let mut s = 0f32;
        for (sb, blk) in row.chunks_exact(144).enumerate() {
            let (d, dmin) = (f16_at(blk), f16_at(&blk[2..]));
            let qs = &blk[16..144];
            for j in 0..8 {
                let (sc, m) = scale_min_k4(j, &blk[4..16]);
                let c = &qs[32 * (j / 2)..32 * (j / 2) + 32];
                let mut q = [0i8; 32];
                for l in 0..32 {
                    q[l] = if j % 2 == 0 { c[l] & 0xF } else { c[l] >> 4 } as i8;
                }
                let ab = 8 * sb + j;
                let p = idot32(&q, &a.q[32 * ab..32 * ab + 32]);
                s += d * sc as f32 * a.d[ab] * p as f32 - dmin * m as f32 * a.s[ab];
            }
        }
        *dst = s;
    }
}

pub fn q6k_rows(w: &[u8], a: &Q8Act, dots: &mut [f32]) {
    // Per 16 values g: d·sc_g·(q − 32)·x summed; the integer part Σ(q − 32)·x_q per 16,
    // scaled by sc_g, summed per 32 (one x block), then · d · d_x.
    let nsb = a.d.len() / 8;
    for (dst, row) in dots.iter_mut().zip(w.chunks_exact(nsb * 210)) {
        let mut s = 0f32;
        for (sb, blk) in row.chunks_exact(210).enumerate() {
            let d = f16_at(&blk[208..]);
            for h in 0..2 {
                let (ql, qh) = (&blk[64 * h..64 * h + 64], &blk[128 + 32 * h..160 + 32 * h]);
                let sc = &blk[192 + 8 * h..200 + 8 * h];
                for k in 0..4 {
                    // Values 32k..32k+32 of this half: ql's low (k even) or high (k odd)
                    // nibbles of bytes 32·(k%2).., with 2 bits of qh at bit 2k.
                    let mut q = [0i8; 32];
                    for l in 0..32 {
                        let lo = ql[32 * (k % 2) + l] >> (4 * (k / 2)) & 0xF;
                        let hi = (qh[l] >> (2 * k)) & 3;
                        q[l] = ((lo | (hi << 4)) as i32 - 32) as i8;
                    }
                    let ab = 8 * sb + 4 * h + k;
                    let x = &a.q[32 * ab..32 * ab + 32];
                    let mut p = [0i32; 2];
                    for (g, pg) in p.iter_mut().enumerate() {
                        for l in 16 * g..16 * g + 16 {
                            *pg += q[l] as i32 * x[l] as i32;
                        }
                    }
                    let isum =
                        p[0] * (sc[2 * k] as i8) as i32 + p[1] * (sc[2 * k + 1] as i8) as i32;
                    s += d * a.d[ab] * isum as f32;
                }
            }
        }
        *dst = s;
    }
}

//! One block at a time, in plain scalar Rust: the definition of each quantized format (see the
//! table in `quant/mod.rs`). Dequantization follows ggml's `dequantize_row_*` exactly;
//! quantization follows ggml's reference rounding for Q8_0, Q4_0 and Q4_1, and for the k-quants
//! uses a simple min/max fit (ggml searches the scales harder, so its bytes differ from ours;
//! both decode with the same rule).

use super::{f16_at, QType};
use half::f16;

/// Dequantizes one block of `t` (`b.len() == t.block_bytes()`) into `out` (`t.block_len()`).
pub fn dequantize_block(t: QType, b: &[u8], out: &mut [f32]) {
    match t {
        QType::Q8_0 => {
            let d = f16_at(b);
            for (o, &q) in out.iter_mut().zip(&b[2..34]) {
                *o = d * (q as i8) as f32;
            }
        }
        QType::Q4_0 => {
            let d = f16_at(b);
            for (j, &q) in b[2..18].iter().enumerate() {
                out[j] = d * ((q & 0xF) as i32 - 8) as f32;
                out[j + 16] = d * ((q >> 4) as i32 - 8) as f32;
            }
        }
        QType::Q4_1 => {
            let (d, m) = (f16_at(b), f16_at(&b[2..]));
            for (j, &q) in b[4..20].iter().enumerate() {
                out[j] = d * (q & 0xF) as f32 + m;
                out[j + 16] = d * (q >> 4) as f32 + m;
            }
        }
        QType::Q4K => {
            let (d, dmin) = (f16_at(b), f16_at(&b[2..]));
            let scales = &b[4..16];
            let qs = &b[16..144];
            for c in 0..4 {
                // 64 elements: sub-block 2c from the low nibbles, 2c + 1 from the high ones.
                let (sc0, m0) = scale_min_k4(2 * c, scales);
                let (sc1, m1) = scale_min_k4(2 * c + 1, scales);
                let (d0, d1) = (d * sc0 as f32, d * sc1 as f32);
                let (n0, n1) = (dmin * m0 as f32, dmin * m1 as f32);
                for l in 0..32 {
                    let q = qs[32 * c + l];
                    out[64 * c + l] = d0 * (q & 0xF) as f32 - n0;
                    out[64 * c + 32 + l] = d1 * (q >> 4) as f32 - n1;
                }
            }
        }
        QType::Q6K => {
            let (ql, qh) = (&b[0..128], &b[128..192]);
            let sc = &b[192..208];
            let d = f16_at(&b[208..]);
            for h in 0..2 {
                let (ql, qh, sc) = (&ql[64 * h..], &qh[32 * h..], &sc[8 * h..]);
                let y = &mut out[128 * h..];
                for l in 0..32 {
                    let is = l / 16;
                    let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                    let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                    let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                    let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                    y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                    y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                    y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                    y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                }
            }
        }
        QType::F32 | QType::F16 | QType::BF16 => unreachable!("{t} has no blocks"),
    }
}

/// Q4_K's `j`-th (scale, min) pair of 6 bits each, packed in 12 bytes (ggml's
/// `get_scale_min_k4`): pairs 0..4 sit in the low 6 bits of bytes j and j + 4; pairs 4..8 keep
/// their low 4 bits in byte j + 4 (scale low nibble, min high nibble) and their top 2 bits in
/// the spare top bits of bytes j − 4 (scale) and j (min).
#[inline(always)]
pub fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn push_f16(out: &mut Vec<u8>, x: f32) {
    out.extend(f16::from_f32(x).to_le_bytes());
}

/// Appends one block of `t` quantized from `x` (`t.block_len()` values) to `out`.
pub fn quantize_block(t: QType, x: &[f32], out: &mut Vec<u8>) {
    match t {
        QType::Q8_0 => {
            let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            push_f16(out, d);
            out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
        }
        QType::Q4_0 => {
            // The value of largest magnitude maps to −8, so its sign decides d's.
            let max = x
                .iter()
                .fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
            let d = max / -8.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            push_f16(out, d);
            let q = |v: f32| ((v * id + 8.5) as i8).min(15) as u8;
            out.extend((0..16).map(|j| q(x[j]) | (q(x[j + 16]) << 4)));
        }
        QType::Q4_1 => {
            let min = x.iter().copied().fold(f32::INFINITY, f32::min);
            let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = (max - min) / 15.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            push_f16(out, d);
            push_f16(out, min);
            let q = |v: f32| (((v - min) * id + 0.5) as i8).min(15) as u8;
            out.extend((0..16).map(|j| q(x[j]) | (q(x[j + 16]) << 4)));
        }
        QType::Q4K => quantize_q4k(x, out),
        QType::Q6K => quantize_q6k(x, out),
        QType::F32 | QType::F16 | QType::BF16 => unreachable!("{t} has no blocks"),
    }
}

/// Q4_K: each 32-value sub-block j gets x ≈ scale_j·q − min_j with q in 0..16 and min_j ≥ 0;
/// the scales and mins are then stored as 6-bit multiples of two f16 super-scales.
fn quantize_q4k(x: &[f32], out: &mut Vec<u8>) {
    let mut scale = [0f32; 8];
    let mut mins = [0f32; 8];
    for j in 0..8 {
        let s = &x[32 * j..32 * j + 32];
        let lo = s.iter().copied().fold(0f32, f32::min); // ≤ 0: the format stores −min ≥ 0
        let hi = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        scale[j] = (hi - lo) / 15.0;
        mins[j] = -lo;
    }
    let d = scale.iter().copied().fold(0f32, f32::max) / 63.0;
    let dmin = mins.iter().copied().fold(0f32, f32::max) / 63.0;
    // Round through f16, as the decoder will see them.
    let (d, dmin) = (f16::from_f32(d).to_f32(), f16::from_f32(dmin).to_f32());
    let q6 = |v: f32, s: f32| {
        if s > 0.0 {
            (v / s).round().clamp(0.0, 63.0) as u8
        } else {
            0
        }
    };
    let sc: Vec<u8> = scale.iter().map(|&s| q6(s, d)).collect();
    let mn: Vec<u8> = mins.iter().map(|&m| q6(m, dmin)).collect();
    push_f16(out, d);
    push_f16(out, dmin);
    let mut packed = [0u8; 12];
    for j in 0..4 {
        packed[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
        packed[j + 4] = (mn[j] & 63) | ((mn[j + 4] >> 4) << 6);
        packed[j + 8] = (sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4);
    }
    out.extend(packed);
    let q = |i: usize| {
        let j = i / 32;
        let s = d * sc[j] as f32;
        if s == 0.0 {
            return 0u8;
        }
        ((x[i] + dmin * mn[j] as f32) / s).round().clamp(0.0, 15.0) as u8
    };
    for c in 0..4 {
        out.extend((0..32).map(|l| q(64 * c + l) | (q(64 * c + 32 + l) << 4)));
    }
}

/// Q6_K: each 16-value group g gets x ≈ d·sc_g·(q − 32) with q in 0..64 and sc_g an i8.
fn quantize_q6k(x: &[f32], out: &mut Vec<u8>) {
    let mut s = [0f32; 16];
    for (g, sg) in s.iter_mut().enumerate() {
        *sg = x[16 * g..16 * g + 16]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            / 31.0;
    }
    let d = f16::from_f32(s.iter().copied().fold(0f32, f32::max) / 127.0).to_f32();
    let sc: Vec<i8> = s
        .iter()
        .map(|&v| {
            if d > 0.0 {
                (v / d).round().clamp(-128.0, 127.0) as i8
            } else {
                0
            }
        })
        .collect();
    let q = |i: usize| -> u8 {
        let step = d * sc[i / 16] as f32;
        if step == 0.0 {
            return 32;
        }
        ((x[i] / step).round().clamp(-32.0, 31.0) as i32 + 32) as u8
    };
    let (mut ql, mut qh) = ([0u8; 128], [0u8; 64]);
    for h in 0..2 {
        for l in 0..32 {
            let b = 128 * h;
            let (q1, q2, q3, q4) = (q(b + l), q(b + l + 32), q(b + l + 64), q(b + l + 96));
            ql[64 * h + l] = (q1 & 0xF) | ((q3 & 0xF) << 4);
            ql[64 * h + l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4);
            qh[32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
        }
    }
    out.extend(ql);
    out.extend(qh);
    out.extend(sc.iter().map(|&v| v as u8));
    push_f16(out, d);
}

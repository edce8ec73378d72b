//! Weight storage types: plain floats (f32, f16, bf16) and GGUF's quantized blocks.
//!
//! A quantized row of `n` weights is `n / block_len` blocks laid end to end, each a few scales
//! followed by packed integers (ggml's `block_q4_0` etc.; byte layouts below, little-endian).
//! Weights stay packed in memory and are dequantized inside the matvec/matmul kernels; the
//! functions here are the readable reference those kernels are tested against.
//!
//! ```text
//! type  block  bytes  layout                                         x[i]
//! Q8_0    32     34   d:f16, q:[i8; 32]                              d·q[i]
//! Q4_0    32     18   d:f16, qs:[u8; 16] (low nibbles 0..16, high   d·(q[i] − 8)
//!                     nibbles 16..32)
//! Q4_1    32     20   d:f16, m:f16, qs:[u8; 16] (as Q4_0)            d·q[i] + m
//! Q4_K   256    144   d:f16, dmin:f16, scales:[u8; 12] (8 6-bit      d·sc[j]·q[i] − dmin·mn[j]
//!                     scale/min pairs), qs:[u8; 128]                 j = i / 32
//! Q6_K   256    210   ql:[u8; 128], qh:[u8; 64], sc:[i8; 16], d:f16  d·sc[i / 16]·(q[i] − 32)
//! ```

pub mod reference;

use half::{bf16, f16};

/// How one tensor's elements are stored. The discriminants are ggml's type ids (`GGML_TYPE_*`),
/// the numbers a GGUF file's tensor infos carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum QType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q8_0 = 8,
    Q4K = 12,
    Q6K = 14,
    BF16 = 30,
}

impl QType {
    pub const ALL: [QType; 8] = [
        QType::F32,
        QType::F16,
        QType::BF16,
        QType::Q8_0,
        QType::Q4_0,
        QType::Q4_1,
        QType::Q4K,
        QType::Q6K,
    ];

    /// The type with ggml id `id`, if tinychat reads it.
    pub fn from_ggml(id: u32) -> Option<QType> {
        QType::ALL.into_iter().find(|t| *t as u32 == id)
    }

    /// ggml's name: "F32", "Q4_K", ...
    pub fn name(self) -> &'static str {
        match self {
            QType::F32 => "F32",
            QType::F16 => "F16",
            QType::BF16 => "BF16",
            QType::Q8_0 => "Q8_0",
            QType::Q4_0 => "Q4_0",
            QType::Q4_1 => "Q4_1",
            QType::Q4K => "Q4_K",
            QType::Q6K => "Q6_K",
        }
    }

    /// Parses a name as [`Self::name`] writes it (case-insensitive; "Q4K" also works).
    pub fn from_name(s: &str) -> Option<QType> {
        let u = s.to_ascii_uppercase().replace('_', "");
        QType::ALL
            .into_iter()
            .find(|t| t.name().replace('_', "") == u)
    }

    /// Elements per block (1 for the float types).
    pub fn block_len(self) -> usize {
        match self {
            QType::F32 | QType::F16 | QType::BF16 => 1,
            QType::Q8_0 | QType::Q4_0 | QType::Q4_1 => 32,
            QType::Q4K | QType::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            QType::F32 => 4,
            QType::F16 | QType::BF16 => 2,
            QType::Q8_0 => 34,
            QType::Q4_0 => 18,
            QType::Q4_1 => 20,
            QType::Q4K => 144,
            QType::Q6K => 210,
        }
    }

    pub fn is_quantized(self) -> bool {
        self.block_len() > 1
    }

    /// Bytes of a row of `n` elements, or None when `n` is not a whole number of blocks.
    pub fn row_bytes(self, n: usize) -> Option<usize> {
        self.bytes_for(n)
    }

    /// Bytes of `n` elements (a whole tensor), or None when `n` is not a whole number of blocks
    /// or the size overflows.
    pub fn bytes_for(self, n: usize) -> Option<usize> {
        if n % self.block_len() != 0 {
            return None;
        }
        (n / self.block_len()).checked_mul(self.block_bytes())
    }
}

impl std::fmt::Display for QType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads the little-endian f16 at `b[0..2]` as f32.
#[inline(always)]
pub fn f16_at(b: &[u8]) -> f32 {
    f16::from_le_bytes([b[0], b[1]]).to_f32()
}

/// Dequantizes `out.len()` elements of type `t` from `bytes` (whole blocks, as many as `out`
/// needs). The reference every kernel is compared with.
pub fn dequantize(t: QType, bytes: &[u8], out: &mut [f32]) {
    let n = out.len();
    let need = t
        .bytes_for(n)
        .expect("dequantize: not a whole number of blocks");
    let bytes = &bytes[..need];
    match t {
        QType::F32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        QType::F16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = f16_at(b);
            }
        }
        QType::BF16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = bf16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        _ => {
            let (bl, bb) = (t.block_len(), t.block_bytes());
            for (o, b) in out.chunks_exact_mut(bl).zip(bytes.chunks_exact(bb)) {
                reference::dequantize_block(t, b, o);
            }
        }
    }
}

/// Quantizes `x` (a whole number of blocks) into type `t` (ggml's reference rounding; for the
/// float types, a plain conversion). The inverse direction of [`dequantize`], used by `--dtype`
/// conversions and by tests to make packed weights.
pub fn quantize(t: QType, x: &[f32]) -> Vec<u8> {
    let n = t
        .bytes_for(x.len())
        .expect("quantize: not a whole number of blocks");
    let mut out = Vec::with_capacity(n);
    match t {
        QType::F32 => x.iter().for_each(|v| out.extend(v.to_le_bytes())),
        QType::F16 => x
            .iter()
            .for_each(|v| out.extend(f16::from_f32(*v).to_le_bytes())),
        QType::BF16 => x
            .iter()
            .for_each(|v| out.extend(bf16::from_f32(*v).to_le_bytes())),
        _ => x
            .chunks_exact(t.block_len())
            .for_each(|b| reference::quantize_block(t, b, &mut out)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::generate::Rng::new(seed);
        (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
    }

    #[test]
    fn sizes_and_names() {
        for t in QType::ALL {
            assert_eq!(QType::from_ggml(t as u32), Some(t));
            assert_eq!(QType::from_name(t.name()), Some(t));
        }
        assert_eq!(QType::Q4K.row_bytes(512), Some(288));
        assert_eq!(QType::Q8_0.row_bytes(33), None);
        assert_eq!(QType::from_ggml(6), None); // Q5_0: not read
    }

    #[test]
    fn quantize_then_dequantize_is_close() {
        // Worst-case error of one element is about half a quantization step of its block.
        let x = rand_vec(512, 7);
        for (t, tol) in [
            (QType::F32, 0.0),
            (QType::F16, 1e-3),
            (QType::BF16, 8e-3),
            (QType::Q8_0, 1.0 / 127.0),
            (QType::Q4_0, 1.0 / 7.0),
            (QType::Q4_1, 1.0 / 15.0),
            (QType::Q4K, 2.0 / 15.0),
            (QType::Q6K, 1.0 / 31.0),
        ] {
            let q = quantize(t, &x);
            assert_eq!(q.len(), t.bytes_for(x.len()).unwrap(), "{t}");
            let mut y = vec![0.0; x.len()];
            dequantize(t, &q, &mut y);
            let worst = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst <= tol + 1e-6, "{t}: worst error {worst} > {tol}");
        }
    }
}

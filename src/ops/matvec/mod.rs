//! Decode kernels: o = W · x for one input vector x and a weight matrix W (OUT, IN) in any
//! storage type, streaming every weight byte once at memory speed.
//!
//! ```text
//! format   x as           inner product per 32 weights                      kernels
//! F32      f32            FMA                                               portable, avx2, avx512
//! F16      f32            widen 8/16 halves in a register (F16C), FMA        portable, avx2, avx512, simd128
//! BF16     f32            widen (shift left 16) in a register, FMA           portable, avx2, avx512, simd128
//! Q8_0     8-bit blocks   i8·i8 → i32 (maddubs+madd, VNNI dpbusd, extmul)   portable, avx2, avx512, simd128
//! Q4_0/1   8-bit blocks   nibbles u8·i8 → i32, then ·d (+ m·Σx)             portable, avx2, avx512, simd128
//! Q4_K     8-bit blocks   nibbles u8·i8 → i32, ·d·sc_j, − dmin·m_j·Σx       portable, avx2, avx512
//! Q6_K     8-bit blocks   (q − 32)·x per 16 in i16, ·sc (madd), ·d          portable, avx2, avx512
//! ```
//!
//! Quantized weights meet an 8-bit copy of x (llama.cpp's scheme): x is cut into blocks of 32,
//! each stored as `d = max|x| / 127` and `q = round(x / d)` (i8), plus `s = d · Σq` for the
//! formats with a per-block offset. Quantizing x costs one pass over IN values per matvec and
//! turns the inner loop into integer multiply-adds, which is what lets a 4-bit row be consumed
//! as fast as memory delivers it. The price is x's rounding (about 0.4% of a block's largest
//! value per element); the tests compare against the scalar reference with the same 8-bit x.
//!
//! Threads split the output rows (`par_chunks`); nothing is allocated per call (the 8-bit x
//! lives in a thread-local buffer of the calling thread).
//!
//! The instruction set is picked once ([`Isa::current`]: the best this CPU has, or the
//! `TINYCHAT_ISA` environment variable: `portable`, `avx2`, `avx512`; in wasm, `simd128`); the
//! `*_with` functions take it explicitly so tests can run every path (the simd128 kernels are
//! tested in the browser: tests/web_gpu.rs).

mod portable;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::par_chunks;
use crate::quant::QType;
use crate::tensor::{Tensor, TensorData};
use std::cell::RefCell;
use std::sync::OnceLock;

/// Which kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust in fixed-width chunks that LLVM vectorizes for the target (SSE2 natively,
    /// simd128 in wasm built with `+simd128`, scalar code without either).
    Portable,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512 F/BW/VL + VNNI (zmm floats, VNNI `vpdpbusd` for the 8-bit dots).
    Avx512,
    /// wasm32 with simd128 (how the wasm build is compiled): explicit 8-bit dots and f16
    /// widening where LLVM's vectorization of the portable code falls short (`simd128.rs`).
    Simd128,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Simd128 => "simd128",
        }
    }

    /// Every instruction set this CPU can run, worst first.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)] // nothing to add on other architectures
        let mut v = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if x86::has_avx2() {
                v.push(Isa::Avx2);
            }
            if x86::has_avx512() {
                v.push(Isa::Avx512);
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        v.push(Isa::Simd128);
        v
    }

    /// The kernels decode uses: `TINYCHAT_ISA` if set (and available), else the best available.
    pub fn current() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            let avail = Isa::available();
            let best = *avail.last().unwrap();
            match std::env::var("TINYCHAT_ISA") {
                Ok(s) => match avail.iter().find(|i| i.name() == s.to_ascii_lowercase()) {
                    Some(&i) => i,
                    None => {
                        eprintln!(
                            "TINYCHAT_ISA={s}: not one of {:?} on this CPU; using {}",
                            avail.iter().map(|i| i.name()).collect::<Vec<_>>(),
                            best.name()
                        );
                        best
                    }
                },
                Err(_) => best,
            }
        })
    }
}

/// x cut into blocks of 32 and rounded to 8 bits, for the quantized formats.
#[derive(Default, Debug)]
pub struct Q8Act {
    /// Per block: the scale d (IN / 32).
    pub d: Vec<f32>,
    /// Per block: d · Σq, the block's sum as the kernels see it (IN / 32).
    pub s: Vec<f32>,
    /// The 8-bit values, q ∈ [−127, 127] (IN).
    pub q: Vec<i8>,
    /// In wasm (simd128) only: q widened to i16 once, for `i32x4.dot_i16x8_s` (empty elsewhere).
    pub q16: Vec<i16>,
}

impl Q8Act {
    /// Quantizes x (a multiple of 32 long) into this buffer, reusing its memory.
    pub fn quantize(&mut self, x: &[f32]) {
        assert_eq!(x.len() % 32, 0, "8-bit activations come in blocks of 32");
        let nb = x.len() / 32;
        self.d.resize(nb, 0.0);
        self.s.resize(nb, 0.0);
        self.q.resize(x.len(), 0);
        for (b, (xs, qs)) in x
            .chunks_exact(32)
            .zip(self.q.chunks_exact_mut(32))
            .enumerate()
        {
            let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            let mut sum = 0i32;
            for (q, v) in qs.iter_mut().zip(xs) {
                *q = (v * id).round() as i8;
                sum += *q as i32;
            }
            self.d[b] = d;
            self.s[b] = d * sum as f32;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            self.q16.clear();
            self.q16.extend(self.q.iter().map(|&v| v as i16));
        }
    }

    /// The values as the kernels see them: d · q (the reference tests compare with).
    pub fn dequantized(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.q.len()];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.d[i / 32] * self.q[i] as f32;
        }
        out
    }
}

/// One input vector, in the forms the kernels read.
pub struct Act<'a> {
    /// (IN)
    pub x: &'a [f32],
    /// x in 8-bit blocks; filled only when a quantized matrix reads it.
    pub q8: &'a Q8Act,
}

thread_local! {
    /// The 8-bit copy of x, reused across calls on this (the calling) thread.
    static Q8: RefCell<Q8Act> = RefCell::new(Q8Act::default());
}

/// Runs `f` with x prepared for the kernels (its 8-bit copy made if `quantized`).
///
/// The buffer is taken out of the thread-local for the call, not borrowed across it: while `f`
/// waits for its parallel rows, a rayon worker may run another model's matvec on this same
/// thread (work stealing), which then starts from an empty buffer instead of finding it
/// borrowed.
fn with_act<R>(x: &[f32], quantized: bool, f: impl FnOnce(&Act) -> R) -> R {
    let mut q8 = Q8.with(|c| std::mem::take(&mut *c.borrow_mut()));
    if quantized {
        q8.quantize(x);
    }
    let r = f(&Act { x, q8: &q8 });
    Q8.with(|c| *c.borrow_mut() = q8);
    r
}

/// dots[i] = row (r0 + i) of W · x, with the kernel of W's format for `isa`.
pub fn dots(isa: Isa, w: &Tensor, r0: usize, a: &Act, dots: &mut [f32]) {
    let n = a.x.len();
    let rows = r0..r0 + dots.len();
    macro_rules! run {
        ($f:ident, $w:expr, $x:expr) => {
            match isa {
                // SAFETY: `Isa::Avx2`/`Avx512` are only handed out (by `available`/`current`)
                // when the CPU has those features; `check_isa` guards explicit choices.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe { x86::avx512::$f($w, $x, dots) },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { x86::avx2::$f($w, $x, dots) },
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Isa::Simd128 => simd128::$f($w, $x, dots),
                _ => portable::$f($w, $x, dots),
            }
        };
    }
    match &w.data {
        TensorData::F32(v) => run!(f32_rows, &v[rows.start * n..rows.end * n], a.x),
        TensorData::F16(v) => run!(f16_rows, &v[rows.start * n..rows.end * n], a.x),
        TensorData::BF16(v) => run!(bf16_rows, &v[rows.start * n..rows.end * n], a.x),
        TensorData::Quant(q, b) => {
            let rb = q.row_bytes(n).expect("rows are whole blocks");
            let b = &b[rows.start * rb..rows.end * rb];
            match q {
                QType::Q8_0 => run!(q8_0_rows, b, a.q8),
                QType::Q4_0 => run!(q4_0_rows, b, a.q8),
                QType::Q4_1 => run!(q4_1_rows, b, a.q8),
                QType::Q4K => run!(q4k_rows, b, a.q8),
                QType::Q6K => run!(q6k_rows, b, a.q8),
                QType::F32 | QType::F16 | QType::BF16 => unreachable!(),
            }
        }
    }
}

fn check_isa(isa: Isa) {
    assert!(
        Isa::available().contains(&isa),
        "{} kernels need CPU features this machine lacks",
        isa.name()
    );
}

/// Rows per task: about four tasks per thread (rayon balances them), at least 16 rows.
fn chunk_rows(n_out: usize) -> usize {
    n_out.div_ceil(super::num_threads() * 4).max(16)
}

/// Rows a kernel call computes at once (its results sit in a stack buffer).
const STRIP: usize = 64;

/// How results land in the output: written, or added to what is there (a residual connection
/// fused into the projection that feeds it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Set,
    Add,
}

/// o (OUT) = W (OUT, IN) · x (IN) + bias, or `o +=` that with [`Store::Add`].
pub fn matvec(o: &mut [f32], x: &[f32], w: &Tensor, bias: Option<&[f32]>, store: Store) {
    matvec_with(Isa::current(), o, x, w, bias, store)
}

/// [`matvec`] with the kernels of `isa`.
pub fn matvec_with(
    isa: Isa,
    o: &mut [f32],
    x: &[f32],
    w: &Tensor,
    bias: Option<&[f32]>,
    store: Store,
) {
    matvec_cat_with(isa, o, x, &[(w, bias)], store)
}

/// Several matrices that read the same x, as one matvec over their stacked rows:
/// o = [W₀ · x + b₀, W₁ · x + b₁, ...] (Σ OUTᵢ). One pass of thread dispatch and one 8-bit
/// copy of x serve them all (the Q, K and V projections).
pub fn matvec_cat(o: &mut [f32], x: &[f32], parts: &[(&Tensor, Option<&[f32]>)]) {
    matvec_cat_with(Isa::current(), o, x, parts, Store::Set)
}

/// [`matvec_cat`] with the kernels of `isa` and a [`Store`] mode.
pub fn matvec_cat_with(
    isa: Isa,
    o: &mut [f32],
    x: &[f32],
    parts: &[(&Tensor, Option<&[f32]>)],
    store: Store,
) {
    check_isa(isa);
    let mut total = 0;
    for (w, b) in parts {
        let (rows, cols) = w.rows_cols();
        assert_eq!(
            cols,
            x.len(),
            "matvec: W has {cols} columns, x has {}",
            x.len()
        );
        assert!(b.is_none_or(|b| b.len() == rows), "matvec bias");
        total += rows;
    }
    assert_eq!(o.len(), total, "matvec out");
    let quantized = parts.iter().any(|(w, _)| w.qtype().is_quantized());
    let chunk = chunk_rows(total);
    with_act(x, quantized, |a| {
        par_chunks(o, chunk, |ci, oc| {
            // Global rows g0..g0+len of the stack; walk the parts they overlap.
            let g0 = ci * chunk;
            let mut part_start = 0;
            for (w, bias) in parts {
                let rows = w.rows_cols().0;
                let (lo, hi) = (g0.max(part_start), (g0 + oc.len()).min(part_start + rows));
                for s in (lo..hi).step_by(STRIP) {
                    let e = (s + STRIP).min(hi);
                    let mut buf = [0f32; STRIP];
                    let d = &mut buf[..e - s];
                    dots(isa, w, s - part_start, a, d);
                    let out = &mut oc[s - g0..e - g0];
                    let b = bias.map(|b| &b[s - part_start..e - part_start]);
                    store_rows(out, d, b, store);
                }
                part_start += rows;
            }
        })
    });
}

fn store_rows(out: &mut [f32], d: &[f32], bias: Option<&[f32]>, store: Store) {
    match (store, bias) {
        (Store::Set, None) => out.copy_from_slice(d),
        (Store::Set, Some(b)) => out
            .iter_mut()
            .zip(d.iter().zip(b))
            .for_each(|(o, (d, b))| *o = d + b),
        (Store::Add, None) => out.iter_mut().zip(d).for_each(|(o, d)| *o += d),
        (Store::Add, Some(b)) => out
            .iter_mut()
            .zip(d.iter().zip(b))
            .for_each(|(o, (d, b))| *o += d + b),
    }
}

/// The llama MLP's first half in one pass: act (FF) = silu(W_gate · x + b_g) ⊙ (W_up · x + b_u).
/// Each task computes the same rows of both matrices, so gate and up never exist as vectors.
pub fn matvec_swiglu(
    act: &mut [f32],
    x: &[f32],
    gate: (&Tensor, Option<&[f32]>),
    up: (&Tensor, Option<&[f32]>),
) {
    matvec_swiglu_with(Isa::current(), act, x, gate, up)
}

/// [`matvec_swiglu`] with the kernels of `isa`.
pub fn matvec_swiglu_with(
    isa: Isa,
    act: &mut [f32],
    x: &[f32],
    (wg, bg): (&Tensor, Option<&[f32]>),
    (wu, bu): (&Tensor, Option<&[f32]>),
) {
    check_isa(isa);
    let n_out = act.len();
    assert_eq!(wg.rows_cols(), (n_out, x.len()), "swiglu gate shape");
    assert_eq!(wu.rows_cols(), (n_out, x.len()), "swiglu up shape");
    let chunk = chunk_rows(n_out);
    let quantized = wg.qtype().is_quantized() || wu.qtype().is_quantized();
    with_act(x, quantized, |a| {
        par_chunks(act, chunk, |ci, oc| {
            let r0 = ci * chunk;
            for (si, out) in oc.chunks_mut(STRIP).enumerate() {
                let s = r0 + si * STRIP;
                let (mut g, mut u) = ([0f32; STRIP], [0f32; STRIP]);
                let (g, u) = (&mut g[..out.len()], &mut u[..out.len()]);
                dots(isa, wg, s, a, g);
                dots(isa, wu, s, a, u);
                for (i, o) in out.iter_mut().enumerate() {
                    let gv = g[i] + bg.map_or(0.0, |b| b[s + i]);
                    let uv = u[i] + bu.map_or(0.0, |b| b[s + i]);
                    *o = crate::ops::silu_mul(gv, uv);
                }
            }
        })
    });
}

#[cfg(test)]
mod tests;

//! CPU ops, llm.c style: free functions over flat `f32` slices with the shapes in the signature.
//! Natively, and in wasm built with the `wasm-threads` feature (rayon's pool on Web Workers), they
//! spread work over rayon's threads; in the single-threaded wasm build they run on its one thread.
//! Each op has a GPU twin in `shaders/<op>.wgsl` and, under the `train` feature, a backward.

pub mod activation;
pub mod attention;
pub mod embedding;
pub mod head;
pub mod linear;
pub mod loss;
pub mod matmul;
pub mod matvec;
pub mod norm;
pub mod pool;
#[cfg(not(target_arch = "wasm32"))]
pub mod prefill;
pub mod rope;
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
pub mod team;

pub use activation::*;
pub use attention::*;
pub use embedding::*;
pub use head::*;
pub use linear::*;
pub use loss::*;
pub use matmul::*;
pub use norm::*;
pub use pool::*;
pub use rope::*;

/// Runs `f(i)` for every i in 0..n, in parallel where threads exist: on the forward-pass team
/// inside [`forward_team`], else on rayon's pool.
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
pub fn par_for(n: usize, f: impl Fn(usize) + Sync + Send) {
    use rayon::prelude::*;
    if n == 1 {
        f(0)
    } else if !team::run(n, &f) {
        (0..n).into_par_iter().for_each(f)
    }
}

#[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
pub fn par_for(n: usize, f: impl Fn(usize)) {
    (0..n).for_each(f)
}

/// Runs `f(chunk_index, chunk)` over `out.chunks_mut(chunk)`, in parallel where threads exist
/// (see [`par_for`]).
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
pub fn par_chunks<F>(out: &mut [f32], chunk: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let chunk = chunk.max(1);
    let (len, base) = (out.len(), SendPtr(out.as_mut_ptr()));
    par_for(len.div_ceil(chunk), |i| {
        let (start, end) = (i * chunk, ((i + 1) * chunk).min(len));
        // SAFETY: `par_for` runs each i once, so the chunks are disjoint parts of `out`, which
        // stays borrowed until it returns.
        f(i, unsafe {
            std::slice::from_raw_parts_mut(base.get().add(start), end - start)
        })
    })
}

#[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
pub fn par_chunks<F>(out: &mut [f32], chunk: usize, f: F)
where
    F: Fn(usize, &mut [f32]),
{
    out.chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| f(i, c));
}

/// The largest |a − b| over two equally long slices, for the kernels' tests: NaN if any
/// difference is NaN (an output never written, a NaN produced), so that `diff < tol` fails
/// then; `fold(0.0, f32::max)` would skip it.
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "max_abs_diff lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, |m, d| {
            if m.is_nan() || d.is_nan() {
                f32::NAN
            } else {
                m.max(d)
            }
        })
}

/// A pointer that tasks share to write disjoint parts of one slice.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: the users of SendPtr hand each task a part of the slice no other task touches.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// (A method, so closures capture the whole `SendPtr`, not its raw pointer field.)
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Runs `f` (a forward pass) with its parallel regions on the team ([`team::with_team`])
/// natively and in threaded wasm; in single-threaded wasm, right here.
///
/// A decode step makes ~150 parallel regions of 20–200 µs each, a 128-token prefill ~400 with
/// serial work (norms, RoPE) between them. Through rayon each region wakes the other workers
/// and sleeps the caller until they finish; the team's threads spin between regions instead
/// (docs/performance.md has the measurements).
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
pub fn forward_team<R>(f: impl FnOnce() -> R) -> R {
    team::with_team(f)
}

#[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
pub fn forward_team<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Number of worker threads the CPU ops may use.
pub fn num_threads() -> usize {
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
    {
        rayon::current_num_threads()
    }
    #[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
    {
        1
    }
}

/// `out += inp`, elementwise (the residual connection).
pub fn residual_forward(out: &mut [f32], inp: &[f32]) {
    debug_assert_eq!(out.len(), inp.len());
    for (o, i) in out.iter_mut().zip(inp) {
        *o += *i;
    }
}

/// Dot product with eight independent accumulators, so the compiler can keep a SIMD register
/// of partial sums instead of one serial chain of adds.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len() / 8 * 8;
    let mut acc = [0.0f32; 8];
    for (ca, cb) in a[..n].chunks_exact(8).zip(b[..n].chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    let mut s = (acc[0] + acc[4]) + (acc[1] + acc[5]) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for i in n..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// In-place softmax over one row, numerically stable (subtract the max).
pub fn softmax_inplace(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

//! CPU ops, llm.c style: free functions over flat `f32` slices with the shapes in the signature.
//! Natively they spread work over rayon's threads; in wasm they run on the one thread there is.
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

/// Runs `f(chunk_index, chunk)` over `out.chunks_mut(chunk)`, in parallel where threads exist.
#[cfg(not(target_arch = "wasm32"))]
pub fn par_chunks<F>(out: &mut [f32], chunk: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    use rayon::prelude::*;
    out.par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| f(i, c));
}

#[cfg(target_arch = "wasm32")]
pub fn par_chunks<F>(out: &mut [f32], chunk: usize, f: F)
where
    F: Fn(usize, &mut [f32]),
{
    out.chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| f(i, c));
}

/// Runs `f` on one of rayon's worker threads (natively; in wasm, right here) and waits for it.
///
/// A forward pass makes ~150 parallel regions per token. Started from a thread outside the pool
/// (the caller's), each one hands its tasks to the workers and puts the caller to sleep until
/// they finish: two thread wake-ups per region, which on a busy machine cost more than the work.
/// Run from a worker, the region's tasks go on that worker's own queue, it takes part in them,
/// and only the other workers are woken (if they are asleep at all).
#[cfg(not(target_arch = "wasm32"))]
pub fn on_workers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    rayon::scope(|_| f())
}

#[cfg(target_arch = "wasm32")]
pub fn on_workers<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Number of worker threads the CPU ops may use.
pub fn num_threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::current_num_threads()
    }
    #[cfg(target_arch = "wasm32")]
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

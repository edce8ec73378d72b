//! out = inp · Wᵀ + bias, with W stored (OUT, IN) like `nn.Linear`.

use super::{dot, num_threads, par_chunks};

/// out: (T, OUT), inp: (T, IN), weight: (OUT, IN), bias: (OUT).
///
/// Many rows (prefill, training): rows are split into one block per thread and each block is a
/// cache-blocked GEMM from `matrixmultiply`. Few rows (decode): each row is a matrix-vector
/// product whose outputs are split across threads, so every thread streams its own part of W.
pub fn matmul_forward(
    out: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    t: usize,
    n_in: usize,
    n_out: usize,
) {
    assert_eq!(out.len(), t * n_out, "matmul out");
    assert_eq!(inp.len(), t * n_in, "matmul inp");
    assert_eq!(weight.len(), n_out * n_in, "matmul weight");
    if t >= 8 {
        let rows_per_block = t.div_ceil(num_threads()).max(1);
        par_chunks(out, rows_per_block * n_out, |b, o| {
            let rows = o.len() / n_out;
            let x = &inp[b * rows_per_block * n_in..][..rows * n_in];
            sgemm_nt(o, x, weight, rows, n_in, n_out, 0.0);
            if let Some(bias) = bias {
                for row in o.chunks_exact_mut(n_out) {
                    for (y, b) in row.iter_mut().zip(bias) {
                        *y += *b;
                    }
                }
            }
        });
    } else {
        for r in 0..t {
            let x = &inp[r * n_in..(r + 1) * n_in];
            let o = &mut out[r * n_out..(r + 1) * n_out];
            matvec(o, x, weight, bias, n_in);
        }
    }
}

/// o (N) = W (N, IN) · x (IN) + bias, outputs split across threads.
pub fn matvec(o: &mut [f32], x: &[f32], weight: &[f32], bias: Option<&[f32]>, n_in: usize) {
    let n_out = o.len();
    let chunk = n_out.div_ceil(num_threads() * 4).max(16);
    par_chunks(o, chunk, |ci, oc| {
        let base = ci * chunk;
        for (j, y) in oc.iter_mut().enumerate() {
            let row = base + j;
            let mut s = dot(&weight[row * n_in..(row + 1) * n_in], x);
            if let Some(b) = bias {
                s += b[row];
            }
            *y = s;
        }
    });
}

/// c (M, N) = a (M, K) · bᵀ where b is stored (N, K), plus beta · c. Single-threaded GEMM.
pub fn sgemm_nt(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize, beta: f32) {
    assert!(c.len() >= m * n && a.len() >= m * k && b.len() >= n * k);
    // SAFETY: the slices are at least as long as the strides below address (asserted above),
    // and `c` is exclusively borrowed.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Plain triple loop, the readable definition the tests compare against.
pub fn matmul_reference(
    out: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    t: usize,
    n_in: usize,
    n_out: usize,
) {
    for r in 0..t {
        for o in 0..n_out {
            let mut s = bias.map_or(0.0, |b| b[o]) as f64;
            for i in 0..n_in {
                s += inp[r * n_in + i] as f64 * weight[o * n_in + i] as f64;
            }
            out[r * n_out + o] = s as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::generate::Rng::new(seed);
        (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
    }

    #[test]
    fn matmul_matches_reference_on_odd_sizes() {
        for &(t, n_in, n_out) in &[(1, 37, 53), (3, 200, 101), (37, 200, 175), (9, 64, 1)] {
            let x = rand_vec(t * n_in, 1);
            let w = rand_vec(n_out * n_in, 2);
            let b = rand_vec(n_out, 3);
            let mut got = vec![0.0; t * n_out];
            let mut want = vec![0.0; t * n_out];
            matmul_forward(&mut got, &x, &w, Some(&b), t, n_in, n_out);
            matmul_reference(&mut want, &x, &w, Some(&b), t, n_in, n_out);
            let diff = crate::ops::max_abs_diff(&got, &want);
            assert!(diff < 1e-4, "T={t} IN={n_in} OUT={n_out}: max diff {diff}");
        }
    }
}

/// c (M, N) = a (M, K) · b (K, N) + beta · c, every operand addressed by (row, column) strides,
/// so transposed views cost nothing. Single-threaded; callers split M across threads.
#[cfg(feature = "train")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm_strided(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
    rsc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rs: usize, cs: usize, r: usize, cc: usize| (r - 1) * rs + (cc - 1) * cs;
    if k > 0 {
        assert!(a.len() > last(rsa, csa, m, k) && b.len() > last(rsb, csb, k, n));
    }
    assert!(c.len() > last(rsc, 1, m, n));
    // SAFETY: the asserts above bound every address the strides reach; `c` is exclusive.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            rsc as isize,
            1,
        );
    }
}

/// Backward of [`matmul_forward`] (out = inp · Wᵀ + bias); accumulates (`+=`) into
///   dinp (T, IN)   += dout (T, OUT) · W (OUT, IN)
///   dweight (OUT, IN) += doutᵀ (OUT, T) · inp (T, IN)
///   dbias (OUT)    += Σ_t dout[t]
/// Each product is a GEMM from `matrixmultiply`, with the output rows split across threads so
/// no two threads write the same element (and the result does not depend on thread timing).
#[cfg(feature = "train")]
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward(
    dinp: &mut [f32],
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    t: usize,
    n_in: usize,
    n_out: usize,
) {
    assert_eq!(dout.len(), t * n_out, "matmul_backward dout");
    assert_eq!(inp.len(), t * n_in, "matmul_backward inp");
    assert_eq!(dinp.len(), t * n_in, "matmul_backward dinp");
    assert_eq!(dweight.len(), n_out * n_in, "matmul_backward dweight");
    let nt = num_threads();
    let rows = t.div_ceil(nt).max(1);
    par_chunks(dinp, rows * n_in, |bi, d| {
        let m = d.len() / n_in;
        let a = &dout[bi * rows * n_out..];
        sgemm_strided(
            m,
            n_out,
            n_in,
            a,
            (n_out, 1),
            weight,
            (n_in, 1),
            1.0,
            d,
            n_in,
        );
    });
    let orows = n_out.div_ceil(nt).max(1);
    par_chunks(dweight, orows * n_in, |bi, d| {
        let m = d.len() / n_in;
        let a = &dout[bi * orows..]; // column o0 of dout, read as rows of doutᵀ
        sgemm_strided(m, t, n_in, a, (1, n_out), inp, (n_in, 1), 1.0, d, n_in);
    });
    if let Some(db) = dbias {
        for row in dout.chunks_exact(n_out) {
            for (b, g) in db.iter_mut().zip(row) {
                *b += *g;
            }
        }
    }
}

//! Sequence pooling for classification heads: one (C) row from the final hidden states (T, C).
//! GPU twin: `shaders/pool.wgsl`.

use crate::config::Pooling;

/// The first row pooled: 0, or for [`Pooling::EchoMax`] (T = 2n + 1 rows for `x sep x`) the
/// first row of the second copy, n + 1.
pub fn first_pooled(t: usize, pooling: Pooling) -> usize {
    match pooling {
        Pooling::EchoMax => (t / 2 + t % 2).min(t - 1),
        _ => 0,
    }
}

/// out (C) = the last row of `rows` (T, C) for [`Pooling::Last`] (transformers'
/// `*ForSequenceClassification`), or the elementwise maximum over the T rows for [`Pooling::Max`]
/// (over the second copy's rows for [`Pooling::EchoMax`]).
pub fn pool_forward(out: &mut [f32], rows: &[f32], c: usize, pooling: Pooling) {
    let t = rows.len() / c;
    assert!(t >= 1 && rows.len() == t * c && out.len() == c);
    let rows = &rows[first_pooled(t, pooling) * c..];
    match pooling {
        Pooling::Last => out.copy_from_slice(&rows[(t - 1) * c..]),
        Pooling::Max | Pooling::EchoMax => {
            out.copy_from_slice(&rows[..c]);
            for r in rows.chunks_exact(c).skip(1) {
                for (o, &x) in out.iter_mut().zip(r) {
                    if x > *o {
                        *o = x;
                    }
                }
            }
        }
    }
}

/// Backward of [`pool_forward`]: drows (T, C) += the pooled gradient `dout` (C), routed to the
/// last row, or for the maximum to the row that held each channel's maximum (the first such row on
/// a tie, as the forward keeps it).
#[cfg(feature = "train")]
pub fn pool_backward(drows: &mut [f32], dout: &[f32], rows: &[f32], c: usize, pooling: Pooling) {
    let t = rows.len() / c;
    assert!(t >= 1 && rows.len() == t * c && drows.len() == rows.len() && dout.len() == c);
    let first = first_pooled(t, pooling);
    let (drows, rows, t) = (&mut drows[first * c..], &rows[first * c..], t - first);
    match pooling {
        Pooling::Last => {
            for (d, &g) in drows[(t - 1) * c..].iter_mut().zip(dout) {
                *d += g;
            }
        }
        Pooling::Max | Pooling::EchoMax => {
            for i in 0..c {
                let mut best = 0;
                for k in 1..t {
                    if rows[k * c + i] > rows[best * c + i] {
                        best = k;
                    }
                }
                drows[best * c + i] += dout[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Echo pooling reads only the second copy of `x sep x`: with x = 2 tokens (5 rows) the
    /// maximum comes from rows 3 and 4, never from the first copy or the separator, and the
    /// gradient goes back only there (checked with `--features train`).
    #[test]
    fn echo_max_pools_the_second_copy() {
        let c = 2;
        #[rustfmt::skip]
        let rows = [
            9.0, 9.0, // x0, first copy: larger, but not read
            8.0, 8.0, // x1, first copy
            7.0, 7.0, // separator
            1.0, 4.0, // x0, second copy
            3.0, 2.0, // x1, second copy
        ];
        let mut out = [0.0; 2];
        pool_forward(&mut out, &rows, c, Pooling::EchoMax);
        assert_eq!(out, [3.0, 4.0]);
        pool_forward(&mut out, &rows, c, Pooling::Max);
        assert_eq!(out, [9.0, 9.0]);
        #[cfg(feature = "train")]
        {
            let mut d = [0.0; 10];
            pool_backward(&mut d, &[1.0, 2.0], &rows, c, Pooling::EchoMax);
            assert_eq!(d, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 0.0]);
        }
        // One text token: `x sep x` is 3 rows and the last is pooled.
        pool_forward(&mut out, &rows[..6], c, Pooling::EchoMax);
        assert_eq!(out, [7.0, 7.0]);
        assert_eq!(Pooling::EchoMax.input(&[5, 6], 0), vec![5, 6, 0, 5, 6]);
        assert_eq!(Pooling::EchoMax.window(64), 31);
        assert_eq!(Pooling::Max.window(64), 64);
    }
}

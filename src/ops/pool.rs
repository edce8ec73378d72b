//! Sequence pooling for classification heads: one (C) row from the final hidden states (T, C).
//! The classifier's head runs on the CPU in every engine, so this op has no GPU twin.

use crate::config::Pooling;

/// The first row pooled: 0, or for [`Pooling::EchoMax`] (T = 2n + 1 rows for `x sep x`) the
/// first row of the second copy, n + 1.
fn first_pooled(t: usize, pooling: Pooling) -> usize {
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

//! Softmax cross-entropy, fused: the forward turns logits into probabilities in place and the
//! backward turns them into logit gradients in place, so a (B·T, V) buffer is allocated once.

use super::par_chunks;

/// logits (N, V) → probabilities in place; losses (N) = −log p[target]. A target of
/// [`IGNORE`] contributes no loss (and no gradient).
pub fn crossentropy_softmax_forward(
    losses: &mut [f32],
    logits: &mut [f32],
    targets: &[u32],
    v: usize,
) {
    par_chunks(logits, v, |_, row| super::softmax_inplace(row));
    for (i, &tg) in targets.iter().enumerate() {
        losses[i] = if tg == IGNORE {
            0.0
        } else {
            -logits[i * v + tg as usize].max(f32::MIN_POSITIVE).ln()
        };
    }
}

/// Target id meaning "no loss at this position" (PyTorch's ignore_index = −100 role).
pub const IGNORE: u32 = u32::MAX;

/// probs (N, V) → dlogits in place: dlogit_j = dloss · (p_j − [j = target]), where dloss is
/// the weight of each position's loss in the total (1/count for a mean).
pub fn crossentropy_softmax_backward(probs: &mut [f32], targets: &[u32], dloss: f32, v: usize) {
    par_chunks(probs, v, |i, row| {
        let tg = targets[i];
        if tg == IGNORE {
            row.fill(0.0);
            return;
        }
        for x in row.iter_mut() {
            *x *= dloss;
        }
        row[tg as usize] -= dloss;
    });
}

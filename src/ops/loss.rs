//! The losses of the training heads, each a forward with its backward (under `train`):
//! softmax cross-entropy (the language model), BCE with logits (the moderation classifier),
//! Bradley–Terry over ranked answers (the reward model), and the log-probabilities and entropy of
//! chosen tokens (the PPO policy). The softmax ones are fused: the forward turns logits into
//! probabilities in place and the backward turns them into logit gradients in place, so a
//! (N, V) buffer is allocated once.

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
#[cfg(feature = "train")]
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

/// softplus(x) = log(1 + eˣ), without overflow.
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Mean over all (B·L) entries of PyTorch's `BCEWithLogitsLoss(pos_weight=...)`:
/// l = (1 − y)·z + w·softplus(−z) with w = 1 + (pos_weight − 1)·y, which for pos_weight = 1 is
/// −[y·log σ(z) + (1 − y)·log(1 − σ(z))]. logits, targets: (B, L); pos_weight: (L), 1 for plain
/// BCE.
pub fn bce_with_logits_forward(logits: &[f32], targets: &[f32], pos_weight: &[f32]) -> f32 {
    let nl = pos_weight.len();
    let sum: f64 = logits
        .iter()
        .zip(targets)
        .enumerate()
        .map(|(i, (&z, &y))| {
            let w = 1.0 + (pos_weight[i % nl] - 1.0) * y;
            ((1.0 - y) * z + w * softplus(-z)) as f64
        })
        .sum();
    (sum / logits.len().max(1) as f64) as f32
}

/// dlogits = scale · ∂(mean loss)/∂z = scale/(B·L) · ((1 − y) − w·σ(−z)) (= σ(z) − y when
/// pos_weight = 1).
#[cfg(feature = "train")]
pub fn bce_with_logits_backward(
    dlogits: &mut [f32],
    logits: &[f32],
    targets: &[f32],
    pos_weight: &[f32],
    scale: f32,
) {
    let nl = pos_weight.len();
    let k = scale / logits.len().max(1) as f32;
    for (i, ((d, &z), &y)) in dlogits.iter_mut().zip(logits).zip(targets).enumerate() {
        let w = 1.0 + (pos_weight[i % nl] - 1.0) * y;
        let sig_neg = 1.0 / (1.0 + z.exp()); // σ(−z)
        *d = k * ((1.0 - y) - w * sig_neg);
    }
}

fn log_sigmoid(x: f32) -> f32 {
    // log σ(x) = −softplus(−x)
    -((-x).max(0.0) + (-x.abs()).exp().ln_1p())
}

#[cfg(feature = "train")]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The answers of one prompt in a batch of scores: rows start..start+len, ranked best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranking {
    pub start: usize,
    pub len: usize,
}

/// Bradley–Terry loss over every pair of each ranking's K answers (InstructGPT's K-wise scheme),
/// r: one score per row:
///
/// ```text
/// loss = 1/P Σ_rankings 1/C(K,2) Σ_{i<j} −log σ(r_i − r_j)
/// ```
///
/// Returns (loss, pairs ordered correctly, pairs).
pub fn bradley_terry_forward(r: &[f32], rankings: &[Ranking]) -> (f32, usize, usize) {
    let (mut loss, mut right, mut pairs) = (0.0f64, 0, 0);
    for g in rankings {
        let k = g.len;
        let np = k * (k - 1) / 2;
        let mut s = 0.0f64;
        for i in 0..k {
            for j in i + 1..k {
                let d = r[g.start + i] - r[g.start + j];
                s -= log_sigmoid(d) as f64;
                right += (d > 0.0) as usize;
            }
        }
        loss += s / np as f64;
        pairs += np;
    }
    ((loss / rankings.len().max(1) as f64) as f32, right, pairs)
}

/// dr = ∂(scale · loss)/∂r of [`bradley_terry_forward`]; rows outside the rankings get 0. Per pair
/// (i better than j): ∂/∂r_i = −σ(r_j − r_i) / (P·C(K,2)), ∂/∂r_j = +σ(r_j − r_i) / (P·C(K,2)).
#[cfg(feature = "train")]
pub fn bradley_terry_backward(dr: &mut [f32], r: &[f32], rankings: &[Ranking], scale: f32) {
    dr.fill(0.0);
    for g in rankings {
        let k = g.len;
        let w = scale / ((k * (k - 1) / 2) as f32 * rankings.len() as f32);
        for i in 0..k {
            for j in i + 1..k {
                let (a, b) = (g.start + i, g.start + j);
                // −log σ(r_a − r_b): ∂/∂r_a = −σ(r_b − r_a)
                let s = sigmoid(r[b] - r[a]);
                dr[a] -= w * s;
                dr[b] += w * s;
            }
        }
    }
}

/// Log-probabilities of chosen tokens and the entropies of a tempered softmax: for each of the
/// M rows of `logits` (M, V), p = softmax(logits / τ) (written over `logits` in place),
/// logp[i] = log p[toks[i]] and entropy[i] = −Σ_v p log p. `inv_temp` = 1/τ.
pub fn logprob_forward(
    logp: &mut [f32],
    entropy: &mut [f32],
    logits: &mut [f32],
    toks: &[u32],
    inv_temp: f32,
    v: usize,
) {
    for i in 0..toks.len() {
        let row = &mut logits[i * v..(i + 1) * v];
        if inv_temp != 1.0 {
            row.iter_mut().for_each(|x| *x *= inv_temp);
        }
        let mx = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let chosen = row[toks[i] as usize];
        let mut z = 0.0f64;
        for x in row.iter_mut() {
            *x = (*x - mx).exp();
            z += *x as f64;
        }
        let logz = z.ln() as f32 + mx;
        let mut ent = 0.0f64;
        for x in row.iter_mut() {
            *x /= z as f32;
            if *x > 0.0 {
                ent -= (*x as f64) * (*x as f64).ln();
            }
        }
        logp[i] = chosen - logz;
        entropy[i] = ent as f32;
    }
}

/// Backward of [`logprob_forward`]'s log-probabilities: probs (M, V) → dlogits in place, given
/// dlogp = ∂loss/∂logp: ∂logp/∂logits = (onehot(tok) − p) / τ.
#[cfg(feature = "train")]
pub fn logprob_backward(probs: &mut [f32], dlogp: &[f32], toks: &[u32], inv_temp: f32, v: usize) {
    for i in 0..toks.len() {
        let g = dlogp[i] * inv_temp;
        let row = &mut probs[i * v..(i + 1) * v];
        for x in row.iter_mut() {
            *x *= -g;
        }
        row[toks[i] as usize] += g;
    }
}

//! Augmentation of the moderation classifier's training batches, applied to a filled (B, T)
//! batch in this order: word swap (a token becomes one of its nearest word vectors), word
//! dropout, and for echo pooling the `x sep x` rows. Each is deterministic in its `Rng`.

use crate::config::Pooling;
use crate::generate::Rng;

/// Turns each row `x` of a filled batch into `x sep x` for [`Pooling::EchoMax`] (after word
/// dropout, so both copies are the same text); other poolings leave the batch as it is. Rows
/// must hold at most `pooling.window(t)` tokens.
pub fn echo_rows(inputs: &mut [u32], lengths: &mut [usize], t: usize, sep: u32, pooling: Pooling) {
    if pooling != Pooling::EchoMax {
        return;
    }
    for (r, len) in lengths.iter_mut().enumerate() {
        let row = &mut inputs[r * t..(r + 1) * t];
        let n = *len;
        assert!(2 * n < t, "a row of {n} tokens does not fit twice in T={t}");
        row[n] = sep;
        row.copy_within(0..n, n + 1);
        *len = 2 * n + 1;
    }
}

/// Word dropout on a filled batch: drops each token with probability `p` (keeping at least
/// one per text), shifting the rest left and re-padding. Deterministic in `rng`.
pub fn drop_tokens(
    inputs: &mut [u32],
    lengths: &mut [usize],
    t: usize,
    pad: u32,
    p: f32,
    rng: &mut Rng,
) {
    for (r, len) in lengths.iter_mut().enumerate() {
        let row = &mut inputs[r * t..(r + 1) * t];
        let mut kept = 0;
        for i in 0..*len {
            let last_chance = kept == 0 && i + 1 == *len;
            if rng.uniform() >= p || last_chance {
                row[kept] = row[i];
                kept += 1;
            }
        }
        row[kept..].fill(pad);
        *len = kept;
    }
}

/// `--word-swap`: at most this many neighbours per word, each at least this cosine.
pub const SWAP_K: usize = 8;
pub const SWAP_MIN_COS: f32 = 0.5;

/// For each row of `emb` (V, C) that came from a word vector (`from_vectors`), the rows of the
/// other vector words nearest to it by cosine: up to `k`, each at least `min_cos`, nearest first.
/// Other rows get none.
pub fn nearest_words(
    emb: &[f32],
    c: usize,
    from_vectors: &[bool],
    k: usize,
    min_cos: f32,
) -> Vec<Vec<u32>> {
    let ids: Vec<usize> = (0..from_vectors.len())
        .filter(|&i| from_vectors[i])
        .collect();
    let mut unit = vec![0.0f32; ids.len() * c];
    for (j, &i) in ids.iter().enumerate() {
        let row = &emb[i * c..(i + 1) * c];
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        for (u, x) in unit[j * c..(j + 1) * c].iter_mut().zip(row) {
            *u = x / n;
        }
    }
    let mut out = vec![Vec::new(); from_vectors.len()];
    const BLOCK: usize = 512;
    let n = ids.len();
    let mut sims = vec![0.0f32; BLOCK * n];
    for b0 in (0..n).step_by(BLOCK) {
        let rows = BLOCK.min(n - b0);
        let sims = &mut sims[..rows * n];
        crate::ops::matmul_forward(
            sims,
            &unit[b0 * c..(b0 + rows) * c],
            &unit,
            None,
            rows,
            c,
            n,
        );
        for r in 0..rows {
            let row = &sims[r * n..(r + 1) * n];
            let mut best: Vec<(f32, usize)> = row
                .iter()
                .enumerate()
                .filter(|&(j, &v)| j != b0 + r && v >= min_cos)
                .map(|(j, &v)| (v, j))
                .collect();
            best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            best.truncate(k);
            out[ids[b0 + r]] = best.into_iter().map(|(_, j)| ids[j] as u32).collect();
        }
    }
    out
}

/// `--word-swap`: replaces each token of each text by a random one of its `neighbours` with
/// probability `p` (tokens without neighbours stay). Deterministic in `rng`.
pub fn swap_words(
    inputs: &mut [u32],
    lengths: &[usize],
    t: usize,
    neighbours: &[Vec<u32>],
    p: f32,
    rng: &mut Rng,
) {
    for (r, &len) in lengths.iter().enumerate() {
        for tok in &mut inputs[r * t..r * t + len] {
            if rng.uniform() < p {
                let nb = &neighbours[*tok as usize];
                if !nb.is_empty() {
                    *tok = nb[(rng.next_u64() % nb.len() as u64) as usize];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row `x` of a batch becomes `x sep x` after word dropout, the padding after it kept;
    /// other poolings leave the batch alone.
    #[test]
    fn echo_rows_reads_each_row_twice() {
        let t = 7;
        let mut inputs = vec![4, 5, 6, 9, 9, 9, 9, 7, 9, 9, 9, 9, 9, 9];
        let mut lengths = vec![3, 1];
        let (before, lens) = (inputs.clone(), lengths.clone());
        echo_rows(&mut inputs, &mut lengths, t, 9, Pooling::Max);
        assert_eq!((&inputs, &lengths), (&before, &lens));
        echo_rows(&mut inputs, &mut lengths, t, 0, Pooling::EchoMax);
        assert_eq!(inputs, vec![4, 5, 6, 0, 4, 5, 6, 7, 0, 7, 9, 9, 9, 9]);
        assert_eq!(lengths, vec![7, 3]);
    }

    /// Neighbours are the nearest vector rows by cosine (scale does not matter), nearest first,
    /// at most k, never the word itself, never a row without a vector, none under the cosine
    /// floor; word swap replaces tokens only with those neighbours, inside each text's length.
    #[test]
    fn word_swap_uses_the_nearest_vector_words() {
        let c = 3;
        #[rustfmt::skip]
        let emb = [
            0.0, 0.0, 0.0,   // 0: pad, no vector
            1.0, 0.0, 0.0,   // 1
            5.0, 1.0, 0.0,   // 2: close to 1 (cosine 0.98), scaled
            1.0, 1.0, 0.0,   // 3: cosine 0.71 with 1
            0.0, 0.0, 1.0,   // 4: orthogonal to all
            1.0, 0.0, 0.0,   // 5: same as 1, but random (no vector)
        ];
        let from = [false, true, true, true, true, false];
        let nb = nearest_words(&emb, c, &from, 2, 0.5);
        assert_eq!(nb[1], vec![2, 3]);
        assert_eq!(nb[2], vec![1, 3]);
        assert_eq!(nb[3], vec![2, 1]);
        assert!(nb[4].is_empty(), "nothing within the floor");
        assert!(nb[0].is_empty() && nb[5].is_empty(), "rows without vectors");
        assert_eq!(nearest_words(&emb, c, &from, 1, 0.5)[3], vec![2]);

        let t = 4;
        let mut inputs = vec![1, 4, 9, 9, 3, 1, 1, 9];
        let lengths = [2, 3];
        let mut rng = Rng::new(5);
        swap_words(&mut inputs, &lengths, t, &nb_padded(&nb), 0.999, &mut rng);
        assert!(nb[1].contains(&inputs[0]), "{inputs:?}");
        assert_eq!(inputs[1], 4, "no neighbours: kept");
        assert_eq!(
            (inputs[2], inputs[3], inputs[7]),
            (9, 9, 9),
            "padding untouched"
        );
        for i in 4..7 {
            assert!(
                [1, 2, 3].contains(&inputs[i]) && inputs[i] != [3, 1, 1][i - 4],
                "{inputs:?}"
            );
        }
        let before = inputs.clone();
        swap_words(&mut inputs, &lengths, t, &nb_padded(&nb), 0.0, &mut rng);
        assert_eq!(inputs, before, "p = 0 swaps nothing");
    }

    /// The neighbour table with room for the padding id 9.
    fn nb_padded(nb: &[Vec<u32>]) -> Vec<Vec<u32>> {
        let mut v = nb.to_vec();
        v.resize(10, vec![]);
        v
    }
}

//! Each op's backward against central finite differences of its forward.
//!
//! For a scalar probe L = Σ_i w_i·y_i (random fixed weights w), ∂L/∂x_j from the backward must
//! equal (L(x + h·e_j) − L(x − h·e_j)) / 2h. The probe sums in f64 so the difference quotient is
//! not swamped by f32 rounding; h = 1e-3 keeps the truncation error O(h²) ≈ 1e-6.
#![cfg(feature = "train")]

use tinychat::generate::Rng;
use tinychat::ops::*;

const H: f32 = 1e-3;
const TOL: f32 = 2e-3;

fn rand_vec(n: usize, rng: &mut Rng, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.uniform() * 2.0 - 1.0) * scale)
        .collect()
}

fn probe(y: &[f32], w: &[f32]) -> f64 {
    y.iter().zip(w).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// Checks `analytic` against finite differences of `f` at every coordinate of `x`.
fn check(name: &str, x: &[f32], analytic: &[f32], mut f: impl FnMut(&[f32]) -> f64) {
    let mut xp = x.to_vec();
    let mut max_err = 0.0f32;
    for j in 0..x.len() {
        xp[j] = x[j] + H;
        let lp = f(&xp);
        xp[j] = x[j] - H;
        let lm = f(&xp);
        xp[j] = x[j];
        let num = ((lp - lm) / (2.0 * H as f64)) as f32;
        let err = (num - analytic[j]).abs() / (1.0f32).max(num.abs());
        max_err = max_err.max(err);
        assert!(
            err < TOL,
            "{name}[{j}]: backward {} vs finite difference {num}",
            analytic[j]
        );
    }
    println!("{name}: {} coordinates, max rel err {max_err:.2e}", x.len());
}

#[test]
fn matmul_backward_matches_finite_differences() {
    let mut rng = Rng::new(1);
    let (t, n_in, n_out) = (13, 7, 11);
    let x = rand_vec(t * n_in, &mut rng, 1.0);
    let w = rand_vec(n_out * n_in, &mut rng, 1.0);
    let bias = rand_vec(n_out, &mut rng, 1.0);
    let pw = rand_vec(t * n_out, &mut rng, 1.0);
    let fwd = |x: &[f32], w: &[f32], b: &[f32]| {
        let mut y = vec![0.0; t * n_out];
        matmul_forward(&mut y, x, w, Some(b), t, n_in, n_out);
        probe(&y, &pw)
    };
    let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; n_out]);
    matmul_backward(&mut dx, &mut dw, Some(&mut db), &pw, &x, &w, t, n_in, n_out);
    check("matmul dinp", &x, &dx, |x| fwd(x, &w, &bias));
    check("matmul dweight", &w, &dw, |w| fwd(&x, w, &bias));
    check("matmul dbias", &bias, &db, |b| fwd(&x, &w, b));
    // Accumulates: a second backward doubles every gradient.
    let dx1 = dx.clone();
    matmul_backward(&mut dx, &mut dw, None, &pw, &x, &w, t, n_in, n_out);
    for (a, b) in dx.iter().zip(&dx1) {
        assert!((a - 2.0 * b).abs() < 1e-5);
    }
}

#[test]
fn rmsnorm_backward_matches_finite_differences() {
    let mut rng = Rng::new(2);
    let (t, c, eps) = (5, 9, 1e-5);
    let x = rand_vec(t * c, &mut rng, 2.0);
    let w = rand_vec(c, &mut rng, 1.5);
    let pw = rand_vec(t * c, &mut rng, 1.0);
    let fwd = |x: &[f32], w: &[f32]| {
        let (mut y, mut r) = (vec![0.0; t * c], vec![0.0; t]);
        rmsnorm_forward(&mut y, &mut r, x, w, t, c, eps);
        probe(&y, &pw)
    };
    let (mut y, mut rstd) = (vec![0.0; t * c], vec![0.0; t]);
    rmsnorm_forward(&mut y, &mut rstd, &x, &w, t, c, eps);
    let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; c]);
    rmsnorm_backward(&mut dx, &mut dw, &pw, &x, &w, &rstd, t, c);
    check("rmsnorm dinp", &x, &dx, |x| fwd(x, &w));
    check("rmsnorm dweight", &w, &dw, |w| fwd(&x, w));
}

#[test]
fn swiglu_backward_matches_finite_differences() {
    let mut rng = Rng::new(3);
    let n = 31;
    let g = rand_vec(n, &mut rng, 4.0);
    let u = rand_vec(n, &mut rng, 2.0);
    let pw = rand_vec(n, &mut rng, 1.0);
    let fwd = |g: &[f32], u: &[f32]| {
        let mut y = vec![0.0; n];
        swiglu_forward(&mut y, g, u);
        probe(&y, &pw)
    };
    let (mut dg, mut du) = (vec![0.0; n], vec![0.0; n]);
    swiglu_backward(&mut dg, &mut du, &pw, &g, &u);
    check("swiglu dgate", &g, &dg, |g| fwd(g, &u));
    check("swiglu dup", &u, &du, |u| fwd(&g, u));
}

#[test]
fn rope_backward_matches_finite_differences() {
    let mut rng = Rng::new(4);
    let (t, nh, hs) = (6, 3, 8);
    let table = RopeTable::new(16, hs, 10000.0);
    let x = rand_vec(t * nh * hs, &mut rng, 1.0);
    let pw = rand_vec(x.len(), &mut rng, 1.0);
    let mut dx = pw.clone();
    rope_backward(&mut dx, &table, 2, t, nh, hs);
    check("rope dx", &x, &dx, |x| {
        let mut y = x.to_vec();
        rope_forward(&mut y, &table, 2, t, nh, hs);
        probe(&y, &pw)
    });
}

#[test]
fn embedding_backward_matches_finite_differences() {
    let mut rng = Rng::new(5);
    let (v, c) = (7, 4);
    let tokens = [3u32, 1, 3, 6, 0, 3];
    let wte = rand_vec(v * c, &mut rng, 1.0);
    let pw = rand_vec(tokens.len() * c, &mut rng, 1.0);
    let mut dw = vec![0.0; v * c];
    embedding_backward(&mut dw, &pw, &tokens, c);
    check("embedding dwte", &wte, &dw, |w| {
        let mut y = vec![0.0; tokens.len() * c];
        embedding_forward(&mut y, &tokens, w, None, 0, c);
        probe(&y, &pw)
    });
}

#[test]
fn attention_backward_matches_finite_differences() {
    // Causal, then bidirectional with a key mask (the second sequence has 2 padding rows).
    attention_backward_with(None);
    attention_backward_with(Some(&[5, 3]));
}

fn attention_backward_with(key_lengths: Option<&[usize]>) {
    let mut rng = Rng::new(6);
    // GQA: 4 query heads over 2 key/value heads, odd T.
    let (b, t, nh, nkv, hs) = (2, 5, 4, 2, 3);
    let q = rand_vec(b * t * nh * hs, &mut rng, 1.5);
    let k = rand_vec(b * t * nkv * hs, &mut rng, 1.5);
    let v = rand_vec(b * t * nkv * hs, &mut rng, 1.5);
    let pw = rand_vec(q.len(), &mut rng, 1.0);
    let fwd = |q: &[f32], k: &[f32], v: &[f32]| {
        let mut y = vec![0.0; b * t * nh * hs];
        let mut att = vec![0.0; b * t * nh * t];
        attention_train_forward(&mut y, &mut att, q, k, v, b, t, nh, nkv, hs, key_lengths);
        probe(&y, &pw)
    };
    let mut y = vec![0.0; q.len()];
    let mut att = vec![0.0; b * t * nh * t];
    attention_train_forward(&mut y, &mut att, &q, &k, &v, b, t, nh, nkv, hs, key_lengths);
    // The training forward agrees with the inference kernel over a cache (per batch row; a
    // bidirectional row over its unpadded length, the rows the pooling reads).
    let full = t;
    for bb in 0..b {
        let t = key_lengths.map_or(full, |l| l[bb]);
        let mut yi = vec![0.0; t * nh * hs];
        let (kb, vb) = (
            &k[bb * full * nkv * hs..][..t * nkv * hs],
            &v[bb * full * nkv * hs..][..t * nkv * hs],
        );
        attention_forward(
            &mut yi,
            &q[bb * full * nh * hs..][..t * nh * hs],
            kb,
            vb,
            0,
            t,
            nh,
            nkv,
            hs,
            key_lengths.is_none(),
        );
        for (a, c) in yi.iter().zip(&y[bb * full * nh * hs..]) {
            assert!((a - c).abs() < 1e-5);
        }
    }
    // Bidirectional: the first position reads the last key; causal: it cannot.
    let mut k2 = k.clone();
    k2[(t - 1) * nkv * hs] += 1.0;
    let mut y2 = vec![0.0; q.len()];
    attention_train_forward(
        &mut y2,
        &mut att.clone(),
        &q,
        &k2,
        &v,
        b,
        t,
        nh,
        nkv,
        hs,
        key_lengths,
    );
    assert_eq!(y2[..hs] == y[..hs], key_lengths.is_none());
    let (mut dq, mut dk, mut dv) = (vec![0.0; q.len()], vec![0.0; k.len()], vec![0.0; v.len()]);
    attention_train_backward(
        &mut dq,
        &mut dk,
        &mut dv,
        &pw,
        &att,
        &q,
        &k,
        &v,
        b,
        t,
        nh,
        nkv,
        hs,
        key_lengths,
    );
    if let Some(l) = key_lengths {
        // Padding keys get no gradient: nothing attends to them.
        let pad = (t + l[1]) * nkv * hs..2 * t * nkv * hs;
        assert!(dk[pad.clone()].iter().chain(&dv[pad]).all(|&x| x == 0.0));
    }
    check("attention dq", &q, &dq, |q| fwd(q, &k, &v));
    check("attention dk", &k, &dk, |k| fwd(&q, k, &v));
    check("attention dv", &v, &dv, |v| fwd(&q, &k, v));
}

#[test]
fn crossentropy_backward_matches_finite_differences() {
    let mut rng = Rng::new(7);
    let (n, v) = (4, 9);
    let logits = rand_vec(n * v, &mut rng, 3.0);
    let targets = [2u32, IGNORE, 8, 0];
    let mean_loss = |l: &[f32]| {
        let mut p = l.to_vec();
        let mut losses = vec![0.0; n];
        crossentropy_softmax_forward(&mut losses, &mut p, &targets, v);
        losses.iter().map(|&x| x as f64).sum::<f64>() / 3.0
    };
    let mut p = logits.clone();
    let mut losses = vec![0.0; n];
    crossentropy_softmax_forward(&mut losses, &mut p, &targets, v);
    assert_eq!(losses[1], 0.0);
    crossentropy_softmax_backward(&mut p, &targets, 1.0 / 3.0, v);
    check("crossentropy dlogits", &logits, &p, mean_loss);
}

#[test]
fn value_head_backward_matches_finite_differences() {
    // v_i = w · h[rows_i]; rows repeat (row 3 twice) and skip some (row 1), so the gradient
    // accumulates into the rows read and leaves the others at 0.
    let mut rng = Rng::new(8);
    let (n, c) = (5, 7);
    let hidden = rand_vec(n * c, &mut rng, 1.0);
    let w = rand_vec(c, &mut rng, 1.0);
    let rows = [0usize, 3, 4, 3];
    let pw = rand_vec(rows.len(), &mut rng, 1.0);
    let fwd = |h: &[f32], w: &[f32]| {
        let mut v = vec![0.0; rows.len()];
        value_head_forward(&mut v, h, w, &rows, c);
        probe(&v, &pw)
    };
    let (mut dh, mut dw) = (vec![0.0; hidden.len()], vec![0.0; c]);
    value_head_backward(&mut dh, &mut dw, &pw, &hidden, &w, &rows, c);
    assert!(dh[c..2 * c].iter().all(|&x| x == 0.0), "row 1 is not read");
    check("value head dhidden", &hidden, &dh, |h| fwd(h, &w));
    check("value head dweight", &w, &dw, |w| fwd(&hidden, w));
}

#[test]
fn layers_from_states_backward_matches_finite_differences() {
    // TrainModel::forward_states / backward_states: two llama blocks (GQA, RoPE, causal) read
    // given input states, as when the top blocks of a frozen trunk are tuned; the gradient of a
    // probe of their output with respect to every block parameter and every input state.
    use tinychat::config::ModelConfig;
    use tinychat::params::{Params, Slot};
    use tinychat::train::model::{init_params, TrainModel};
    // 16 wide, so finite differences over every parameter stay at about 4,000 coordinates.
    let cfg = ModelConfig {
        vocab_size: 3,
        dim: 16,
        head_dim: 4,
        hidden_dim: 24,
        ..crate::common::tiny_llama_config(&[], 8)
    };
    let (b, t, c) = (2, 5, cfg.dim);
    let mut rng = Rng::new(9);
    let mut p = init_params(&cfg, 10);
    // Weights well away from init's near-identity blocks, so every path carries gradient.
    for x in p.data.iter_mut() {
        *x += (rng.uniform() * 2.0 - 1.0) * 0.3;
    }
    let x0 = rand_vec(b * t * c, &mut rng, 1.0);
    let w = rand_vec(b * t * c, &mut rng, 1.0);
    let mut m = TrainModel::new(&cfg, b, t).unwrap();
    let loss =
        |p: &Params, x0: &[f32], m: &mut TrainModel| probe(m.forward_states(p, x0).unwrap(), &w);
    loss(&p, &x0, &mut m);
    let mut grads = vec![0.0; p.data.len()];
    let dx0 = m.backward_states(&p, &mut grads, &w).to_vec();
    check("blocks dx0", &x0, &dx0, |x| loss(&p, x, &mut m));
    let mut q = p.clone();
    check("blocks dparams", &p.data, &grads, |d| {
        q.data.copy_from_slice(d);
        loss(&q, &x0, &mut m)
    });
    // The token embedding and the final norm are not on this path.
    for slot in [Slot::TokEmb, Slot::FinalNormW] {
        let s = p.layout.spec(slot).unwrap();
        assert!(grads[s.offset..s.offset + s.len].iter().all(|&g| g == 0.0));
    }
}

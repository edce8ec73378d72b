//! The moderation classifier's training: the head and its loss against finite differences, the
//! whole classifier's gradient through the shared trunk, train/inference parity of the logits,
//! threshold calibration, and `train moderation` end to end (exact resume, `--init`, the
//! classifier directory that `Moderator::load` reads, `eval moderation`).
#![cfg(feature = "train")]

use crate::common;

use crate::eval_cli::EvalModerationArgs;
use crate::train_cli::ModerationArgs;
use clap::Parser;
use std::path::{Path, PathBuf};
use tinychat::config::Pooling;
use tinychat::generate::Rng;
use tinychat::model::Model;
use tinychat::moderation::Moderator;
use tinychat::ops::{
    bce_with_logits_backward, bce_with_logits_forward, cls_head_backward, cls_head_forward,
};
use tinychat::params::Slot;
use tinychat::train::eval::calibrate::{benign_fpr, calibrate, calibrate_all, calibrate_f1_all};
use tinychat::train::eval::moderation as eval_moderation;
use tinychat::train::moderation::{run, Classifier, ModerationOptions};
use tinychat::train::moderation_data::CATEGORIES;
use tinychat::train::word_vectors;

const H: f32 = 1e-3;

fn rand_vec(n: usize, rng: &mut Rng, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.uniform() * 2.0 - 1.0) * scale)
        .collect()
}

/// Central difference of `f` at coordinate j of x.
fn numeric(x: &mut [f32], j: usize, f: &mut impl FnMut(&[f32]) -> f32) -> f32 {
    numeric_h(x, j, H, f)
}

fn numeric_h(x: &mut [f32], j: usize, h: f32, f: &mut impl FnMut(&[f32]) -> f32) -> f32 {
    let x0 = x[j];
    x[j] = x0 + h;
    let lp = f(x) as f64;
    x[j] = x0 - h;
    let lm = f(x) as f64;
    x[j] = x0;
    ((lp - lm) / (2.0 * h as f64)) as f32
}

#[test]
fn head_and_bce_backward_match_finite_differences() {
    // loss(h, W) = Σ_{b,j} bce(z_bj, y_bj; pw_j) with z_b = W·pool(h[b, 0..len_b]): the last row,
    // or each channel's maximum over the rows
    // ∂loss/∂z = (1 − y) − w·σ(−z);  ∂loss/∂W_j = Σ_b ∂loss/∂z_bj · h_b;  ∂loss/∂h_b = Wᵀ·∂loss/∂z_b
    let mut rng = Rng::new(7);
    let (b, t, c, nl) = (3, 5, 6, 4);
    let lengths = [5, 1, 3];
    let mut hidden = rand_vec(b * t * c, &mut rng, 1.0);
    let mut w = rand_vec(nl * c, &mut rng, 1.0);
    let targets: Vec<f32> = (0..b * nl)
        .map(|i| ((i * 7) % 3 == 0) as u8 as f32)
        .collect();
    let cases = [
        (Pooling::Last, vec![1.0; nl]),
        (Pooling::Last, vec![1.0, 3.0, 0.5, 10.0]),
        (Pooling::Max, vec![1.0, 3.0, 0.5, 10.0]),
        (Pooling::EchoMax, vec![1.0, 3.0, 0.5, 10.0]),
    ];
    for (pooling, pos_weight) in cases {
        // Summed over B·L (scale = B·L) so the gradients are O(1).
        let k = (b * nl) as f32;
        let loss = |h: &[f32], w: &[f32]| {
            let mut z = vec![0.0; b * nl];
            cls_head_forward(&mut z, h, w, &lengths, t, c, nl, pooling);
            bce_with_logits_forward(&z, &targets, &pos_weight) * k
        };
        let mut z = vec![0.0; b * nl];
        cls_head_forward(&mut z, &hidden, &w, &lengths, t, c, nl, pooling);
        let mut dz = vec![0.0; b * nl];
        bce_with_logits_backward(&mut dz, &z, &targets, &pos_weight, k);
        let (mut dh, mut dw) = (vec![0.0; hidden.len()], vec![0.0; w.len()]);
        cls_head_backward(
            &mut dh, &mut dw, &dz, &hidden, &w, &lengths, t, c, nl, pooling,
        );
        let mut max_err = 0.0f32;
        for j in 0..w.len() {
            let wc = w.clone();
            let num = numeric(&mut w, j, &mut |w: &[f32]| loss(&hidden, w));
            assert_eq!(w, wc);
            let err = (num - dw[j]).abs() / num.abs().max(1.0);
            max_err = max_err.max(err);
            assert!(err < 2e-3, "dW[{j}]: backward {} vs numeric {num}", dw[j]);
        }
        for j in 0..hidden.len() {
            let num = numeric(&mut hidden, j, &mut |h: &[f32]| loss(h, &w));
            let err = (num - dh[j]).abs() / num.abs().max(1.0);
            max_err = max_err.max(err);
            assert!(err < 2e-3, "dh[{j}]: backward {} vs numeric {num}", dh[j]);
            // Last: only the last real position of each sequence gets a gradient. Max: only the
            // position holding the channel's maximum over the real positions. Padding: none.
            let (bb, pos, ch) = (j / c / t, (j / c) % t, j % c);
            let argmax = (first_pooled(lengths[bb], pooling)..lengths[bb])
                .max_by(|&x, &y| {
                    let v = |p: usize| hidden[(bb * t + p) * c + ch];
                    v(x).total_cmp(&v(y)).then(y.cmp(&x))
                })
                .unwrap();
            let source = match pooling {
                Pooling::Last => lengths[bb] - 1,
                Pooling::Max | Pooling::EchoMax => argmax,
            };
            if pos != source {
                assert_eq!(dh[j], 0.0, "dh[{j}] off the pooled position ({pooling})");
            }
        }
        println!(
            "head + BCE ({pooling} pooling, pos_weight {pos_weight:?}): max rel err {max_err:.2e}"
        );
    }
    // Large logits stay finite: softplus and σ must not overflow.
    let z = [80.0, -80.0];
    let y = [0.0, 1.0];
    let l = bce_with_logits_forward(&z, &y, &[1.0]);
    assert!((l - 80.0).abs() < 1e-3, "{l}");
    let mut d = [0.0; 2];
    bce_with_logits_backward(&mut d, &z, &y, &[1.0], 2.0);
    assert!(
        (d[0] - 1.0).abs() < 1e-6 && (d[1] + 1.0).abs() < 1e-6,
        "{d:?}"
    );
}

/// The first position max pooling reads: 0, or the start of the second copy of `x sep x` (a
/// sequence of `len` = 2n + 1 positions) for echo pooling.
fn first_pooled(len: usize, pooling: Pooling) -> usize {
    match pooling {
        Pooling::EchoMax => (len / 2 + len % 2).min(len - 1),
        _ => 0,
    }
}

fn tiny_classifier(seq: usize) -> (tinychat::config::ModelConfig, tinychat::params::Params) {
    let cfg = common::tiny_llama_config(&["a", "b", "c"], seq);
    let p = common::random_params(&cfg, 11, 0.15);
    (cfg, p)
}

#[test]
fn classifier_gradient_through_the_trunk_matches_finite_differences() {
    for pooling in [Pooling::Last, Pooling::Max, Pooling::EchoMax] {
        classifier_gradient_with(pooling, true);
    }
    // Bidirectional: the last position reads every token (smooth, nothing skipped), and max
    // pooling over positions that all read every token.
    classifier_gradient_with(Pooling::Last, false);
    classifier_gradient_with(Pooling::Max, false);
}

fn classifier_gradient_with(pooling: Pooling, causal: bool) {
    let (b, t) = (2, 6);
    let (mut cfg, mut p) = tiny_classifier(t);
    cfg.pooling = pooling;
    cfg.causal = causal;
    let mut cls = Classifier::new(&cfg, b, t).unwrap();
    // Echo pooling reads `x sep x`: 5 positions for two tokens, 3 for one.
    let (inputs, lengths): (Vec<u32>, [usize; 2]) = match pooling {
        Pooling::EchoMax => (vec![5, 70, 0, 5, 70, 9, 44, 0, 44, 0, 0, 0], [5, 3]),
        _ => (vec![5, 70, 100, 33, 2, 9, 44, 45, 46, 0, 0, 0], [6, 3]),
    };
    let targets = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    let pw = [1.0, 2.0, 4.0];
    let mut grads = vec![0.0; p.data.len()];
    cls.bce_forward_backward(&p, &mut grads, &inputs, &lengths, &targets, &pw, 1.0)
        .unwrap();
    // Every tensor: its first coordinates and a few random ones.
    let mut rng = Rng::new(5);
    let mut coords = vec![];
    for spec in &p.layout.specs {
        for k in 0..3 {
            coords.push(spec.offset + k);
        }
        for _ in 0..3 {
            coords.push(spec.offset + (rng.next_u64() % spec.len as u64) as usize);
        }
    }
    // Token rows of the embedding that the batch uses.
    let emb = p.layout.spec(Slot::TokEmb).unwrap().offset;
    coords.extend([emb + 70 * cfg.dim + 3, emb + 46 * cfg.dim + 1]);
    let mut max_err = 0.0f32;
    let mut data = p.data.clone();
    // Which position holds each channel's maximum, per sequence: max pooling is smooth only
    // while that does not change, so a coordinate whose ±h moves it is skipped (and counted).
    let (c, t_) = (cfg.dim, t);
    let argmax = |h: &[f32]| -> Vec<usize> {
        let mut out = vec![];
        for (bb, &len) in lengths.iter().enumerate() {
            for ch in 0..c {
                let v = |pos: usize| h[(bb * t_ + pos) * c + ch];
                let first = first_pooled(len, pooling);
                out.push(
                    (first..len).fold(first, |best, pos| if v(pos) > v(best) { pos } else { best }),
                );
            }
        }
        out
    };
    cls.forward(&p, &inputs, &lengths).unwrap();
    let at_p = argmax(cls.model.hidden());
    let mut kinks = 0;
    for &j in &coords {
        // h = 1e-2: the mean loss is an f32 near 0.7 whose last bit (6e-8) would be 3e-5 of
        // gradient at h = 1e-3, as large as the small gradients checked here; the O(h²)
        // truncation error at 1e-2 is far below that.
        let mut smooth = true;
        let num = numeric_h(&mut data, j, 1e-2, &mut |d: &[f32]| {
            p.data.copy_from_slice(d);
            let z = cls.forward(&p, &inputs, &lengths).unwrap();
            let l = bce_with_logits_forward(z, &targets, &pw);
            smooth &= argmax(cls.model.hidden()) == at_p;
            l
        });
        if pooling != Pooling::Last && !smooth {
            kinks += 1;
            continue;
        }
        let err = (num - grads[j]).abs();
        max_err = max_err.max(err);
        assert!(
            err < 5e-5 + 1e-2 * grads[j].abs(),
            "param {j}: backward {} vs numeric {num}",
            grads[j]
        );
    }
    println!(
        "{pooling} pooling{}: {} coordinates through the trunk ({kinks} skipped where ±h moves a \
         maximum to another position), max abs err {max_err:.2e}",
        if causal { "" } else { ", bidirectional" },
        coords.len()
    );
    // Where every position reads every token, a coordinate moves more of the maxima: up to a
    // fifth may be skipped there, a tenth when causal.
    assert!(
        kinks * if causal { 10 } else { 5 } <= coords.len(),
        "{kinks} of {} skipped",
        coords.len()
    );
    // Tokens after a sequence's end do not change its logits (causal attention needs no mask
    // for that; bidirectional attention masks the padding keys).
    p.data.copy_from_slice(&data);
    let z0 = cls.forward(&p, &inputs, &lengths).unwrap().to_vec();
    let mut other = inputs.clone();
    other[6 + lengths[1]..].fill(200);
    let z1 = cls.forward(&p, &other, &lengths).unwrap().to_vec();
    assert_eq!(z0, z1);
}

#[test]
fn training_logits_match_the_inference_classifier() {
    for pooling in [Pooling::Last, Pooling::Max, Pooling::EchoMax] {
        training_logits_match_with(pooling, true);
    }
    for pooling in [Pooling::Last, Pooling::Max] {
        training_logits_match_with(pooling, false);
    }
}

fn training_logits_match_with(pooling: Pooling, causal: bool) {
    // Echo pooling: the trainer's rows are `x sep x` (sep = the pad id, 0 here); the inference
    // classifier is given `x` and builds the same input itself. Bidirectional: the trainer's
    // padded second row must score as the inference classifier scores the unpadded text.
    let b = 2;
    let t = if pooling == Pooling::EchoMax { 15 } else { 7 };
    let (mut cfg, p) = tiny_classifier(t);
    cfg.pooling = pooling;
    cfg.causal = causal;
    let mut cls = Classifier::new(&cfg, b, t).unwrap();
    let seqs: [&[u32]; 2] = [&[3, 1, 4, 1, 5, 9, 2], &[100, 101]];
    let mut inputs = vec![0u32; b * t];
    let mut lengths = [0; 2];
    for (r, s) in seqs.iter().enumerate() {
        let row = pooling.input(s, cfg.pad_token_id.unwrap_or(0));
        inputs[r * t..r * t + row.len()].copy_from_slice(&row);
        lengths[r] = row.len();
    }
    assert_eq!(pooling.window(t), 7);
    let z = cls.forward(&p, &inputs, &lengths).unwrap().to_vec();
    let m = Model::new(cfg.clone(), p.clone(), tinychat::weights::DType::F32);
    if !causal {
        // A bidirectional trunk reads a text whole: continuing after a cache is refused, since
        // the cached keys never saw the new tokens.
        let mut cache = m.new_cache();
        m.hidden_states(&[3, 1], &mut cache).unwrap();
        let e = m.hidden_states(&[4], &mut cache).unwrap_err().to_string();
        assert!(e.contains("bidirectional"), "{e}");
    }
    for (r, s) in seqs.iter().enumerate() {
        let want = m.classify(s).unwrap();
        for j in 0..3 {
            assert!(
                (z[r * 3 + j] - want[j]).abs() < 1e-4,
                "{pooling} pooling (causal {causal}), sequence {r} label {j}: training {} vs inference {}",
                z[r * 3 + j],
                want[j]
            );
        }
    }
}

#[test]
fn calibration_takes_the_most_recall_at_the_target_precision() {
    // Sorted by score: + + + − + − + − −   (5 positives)
    let scores = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3, 0.1];
    let pos = [true, true, true, false, true, false, true, false, false];
    // Precision ≥ 0.8: at 0.7 it is 4/5 = 0.8 with recall 0.8; at 0.5 it is 5/7 < 0.8.
    let c = calibrate("x", &scores, &pos, 0.8);
    assert_eq!(c.method, "target_precision");
    assert_eq!(c.threshold, 0.7);
    assert!((c.precision - 0.8).abs() < 1e-6 && (c.recall - 0.8).abs() < 1e-6);
    // Precision 1 is reachable only down to 0.85 (recall 3/5).
    let c = calibrate("x", &scores, &pos, 1.0);
    assert_eq!(c.threshold, 0.85);
    assert!((c.recall - 0.6).abs() < 1e-6);
    // Ties flag together: a negative tied with the top positive makes precision 1 unreachable,
    // and the best-F1 threshold is used instead.
    let scores = [0.9, 0.9, 0.2, 0.1];
    let pos = [true, false, true, false];
    let c = calibrate("x", &scores, &pos, 1.0);
    assert_eq!(c.method, "best_f1");
    // F1 at 0.9: p 1/2, r 1/2 → 0.5; at 0.2: p 2/3, r 1 → 0.8.
    assert_eq!(c.threshold, 0.2);
    assert!((c.f1 - 0.8).abs() < 1e-6);
    let c = calibrate("x", &[0.3, 0.4], &[false, false], 0.9);
    assert_eq!((c.method.as_str(), c.threshold), ("no_positives", 0.5));
}

#[test]
fn classifier_pooling_is_read_written_and_checked() {
    use tinychat::config::ModelConfig;
    let path = std::path::Path::new("config.json");
    let mut cfg = common::tiny_llama_config(&["a", "b"], 16);
    // The default, last, is what transformers' Llama classes do and is not written.
    let v = cfg.to_hf_json();
    assert!(v.get("classifier_pooling").is_none());
    cfg.pooling = Pooling::Max;
    let v = cfg.to_hf_json();
    assert_eq!(v["classifier_pooling"], "max");
    let back = ModelConfig::from_json_str(&v.to_string(), path).unwrap();
    assert_eq!(back, cfg);
    // Causal attention is the default and is not written; a bidirectional trunk is
    // "is_causal": false, and only a classifier may have one.
    assert!(v.get("is_causal").is_none());
    let mut bidi = cfg.clone();
    bidi.causal = false;
    let vb = bidi.to_hf_json();
    assert_eq!(vb["is_causal"], false);
    assert_eq!(
        ModelConfig::from_json_str(&vb.to_string(), path).unwrap(),
        bidi
    );
    let mut echo = cfg.clone();
    echo.pooling = Pooling::EchoMax;
    let ve = echo.to_hf_json();
    assert_eq!(ve["classifier_pooling"], "echo_max");
    assert_eq!(
        ModelConfig::from_json_str(&ve.to_string(), path).unwrap(),
        echo
    );
    // An unknown value, or pooling on a model without a classification head, is an error.
    let mut bad = v.clone();
    bad["classifier_pooling"] = "mean".into();
    let e = ModelConfig::from_json_str(&bad.to_string(), path)
        .unwrap_err()
        .to_string();
    for part in ["config.json", "classifier_pooling", "mean"] {
        assert!(e.contains(part), "{e}");
    }
    let mut lm = v.clone();
    for k in ["id2label", "label2id", "problem_type"] {
        lm.as_object_mut().unwrap().remove(k);
    }
    lm["architectures"] = serde_json::json!(["LlamaForCausalLM"]);
    let e = ModelConfig::from_json_str(&lm.to_string(), path)
        .unwrap_err()
        .to_string();
    for part in ["classifier_pooling", "classification head"] {
        assert!(e.contains(part), "{e}");
    }
    lm.as_object_mut().unwrap().remove("classifier_pooling");
    lm["is_causal"] = false.into();
    let e = ModelConfig::from_json_str(&lm.to_string(), path)
        .unwrap_err()
        .to_string();
    for part in ["config.json", "is_causal", "classification head"] {
        assert!(e.contains(part), "{e}");
    }
}

#[test]
fn the_benign_false_positive_budget_raises_the_target_precision() {
    // Two categories, six texts (rows: scores of a, b; positives of a, b). Texts 4 and 5 are benign.
    let scores = [
        0.9, 0.1, //  a
        0.8, 0.1, //  a
        0.6, 0.2, //  a
        0.1, 0.9, //  b
        0.7, 0.1, //  benign, scores high on a
        0.1, 0.3, //  benign
    ];
    let positive = [
        true, false, true, false, true, false, false, true, false, false, false, false,
    ];
    // Precision 0.7: a's threshold 0.6 (3 of 4 flagged are a) flags benign text 4: FPR 1/2.
    let (cal, target, fpr) = calibrate_all(&["a", "b"], &scores, &positive, 0.7, 1.0);
    assert_eq!(
        (cal[0].threshold, cal[1].threshold, target),
        (0.6, 0.9, 0.7)
    );
    assert_eq!(fpr, 0.5);
    assert_eq!(benign_fpr(&scores, &positive, &[0.6, 0.9]), 0.5);
    // A budget of 0 raises the target in steps of 0.005 until a reaches precision 1 (0.8).
    let (cal, target, fpr) = calibrate_all(&["a", "b"], &scores, &positive, 0.7, 0.0);
    assert_eq!((cal[0].threshold, cal[1].threshold), (0.8, 0.9));
    // 0.705, 0.71, … keep a's threshold at 0.6 (precision 0.75); 0.755 is the first above it.
    assert_eq!(target, 151.0 / 200.0);
    assert_eq!(fpr, 0.0);
    // When no target up to 0.995 meets the budget, the one with the lowest FPR is kept (the
    // first on a tie) and its FPR reported: here a's positive ties with a benign text, so every
    // target flags it.
    let tie = [0.9, 0.0, 0.9, 0.0];
    let (_, target, fpr) = calibrate_all(&["a", "b"], &tie, &[true, false, false, false], 0.5, 0.0);
    assert_eq!((target, fpr), (0.5, 1.0));
}

#[test]
fn the_budget_raises_only_the_categories_that_flag_benign_text() {
    // Rows (a, b): a's positives at 0.9, 0.7, 0.5 with benign texts at 0.8 and 0.6; b's at 0.9
    // and 0.7 with a benign text at 0.8; one more benign text scores nothing.
    let scores = [
        0.9, 0.0, // a
        0.8, 0.0, // benign
        0.7, 0.0, // a
        0.6, 0.0, // benign
        0.5, 0.0, // a
        0.0, 0.9, // b
        0.0, 0.8, // benign
        0.0, 0.7, // b
        0.0, 0.0, // benign
    ];
    let labels = [1, 0, 1, 0, 1, 2, 0, 2, 0];
    let positive: Vec<bool> = labels.iter().flat_map(|&l| [l == 1, l == 2]).collect();
    // Target 0.6: a at 0.5 (3 of 5), b at 0.7 (2 of 3); they flag 3 of the 4 benign texts.
    let (cal, _, fpr) = calibrate_all(&["a", "b"], &scores, &positive, 0.6, 1.0);
    assert_eq!((cal[0].threshold, cal[1].threshold, fpr), (0.5, 0.7, 0.75));
    // A budget of 1/4: a flags two benign texts and rises first (0.605 → 0.7, 2 of 3); then a and
    // b flag one each and the first, a, rises until 0.67 takes it to 0.9. b keeps its threshold
    // and target, where raising both together would have lifted b to 0.9 as well.
    let (cal, target, fpr) = calibrate_all(&["a", "b"], &scores, &positive, 0.6, 0.25);
    assert_eq!((cal[0].threshold, cal[1].threshold, fpr), (0.9, 0.7, 0.25));
    assert_eq!((cal[0].target, cal[1].target), (134.0 / 200.0, 0.6));
    assert_eq!(target, 134.0 / 200.0);
    assert_eq!(benign_fpr(&scores, &positive, &[0.9, 0.7]), 0.25);
}

#[test]
fn a_raise_past_the_reachable_precision_is_refused() {
    // a: a benign text scores highest (0.95), so a's precision tops out at 2/3 (at 0.85); past
    // that its best-F1 threshold is 0.7, which flags both of a's benign texts again.
    let scores = [
        0.95, 0.0, // benign
        0.9, 0.0, // a
        0.85, 0.0, // a
        0.8, 0.0, // benign
        0.7, 0.0, // a
        0.0, 0.9, // b
        0.0, 0.6, // benign
        0.0, 0.5, // b
    ];
    let labels = [0, 1, 1, 0, 1, 2, 0, 2];
    let positive: Vec<bool> = labels.iter().flat_map(|&l| [l == 1, l == 2]).collect();
    // Target 0.5: a at 0.7 (3 of 5) and b at 0.5 (2 of 3) flag all three benign texts. A budget
    // of 1/3: a rises to 0.85 at 0.605 and on to 0.665; 0.67 is out of a's reach and refused
    // (taking it would put a back at 0.7), so a stops there and b rises until 0.67 lifts it to
    // 0.9, leaving only the benign text above everything of a's.
    let (cal, _, fpr) = calibrate_all(&["a", "b"], &scores, &positive, 0.5, 1.0 / 3.0);
    assert_eq!((cal[0].threshold, cal[1].threshold), (0.85, 0.9));
    assert_eq!(
        (cal[0].target, cal[1].target),
        (133.0 / 200.0, 134.0 / 200.0)
    );
    assert_eq!(cal[0].method, "target_precision");
    assert_eq!(fpr, 1.0 / 3.0);
}

#[test]
fn calibrating_for_f1_keeps_the_recall_a_precision_target_gives_up() {
    // a's positives at 0.95, 0.8, 0.7, 0.6 and one of b's texts at 0.9 on a (a neighbouring
    // category scoring high, as hate texts do on harassment). Precision 0.9 is met only at
    // 0.95 (recall 1/4); the best F1 is at 0.6 (precision 0.8, recall 1: F1 0.889).
    let scores = [
        0.95, 0.0, // a
        0.9, 0.9, // b
        0.8, 0.0, // a
        0.7, 0.0, // a
        0.6, 0.0, // a
        0.1, 0.1, // benign
    ];
    let labels = [1, 2, 1, 1, 1, 0];
    let positive: Vec<bool> = labels.iter().flat_map(|&l| [l == 1, l == 2]).collect();
    let (cal, _, _) = calibrate_all(&["a", "b"], &scores, &positive, 0.9, 1.0);
    assert_eq!((cal[0].threshold, cal[0].recall), (0.95, 0.25));
    let (cal, fpr) = calibrate_f1_all(&["a", "b"], &scores, &positive, 0.0);
    assert_eq!((cal[0].threshold, cal[1].threshold, fpr), (0.6, 0.9, 0.0));
    assert!((cal[0].f1 - 0.8 / 0.9).abs() < 1e-6, "{:?}", cal[0]);
    assert_eq!((cal[0].method.as_str(), cal[0].target), ("best_f1", 0.0));
}

#[test]
fn the_f1_budget_moves_the_threshold_that_costs_least_f1_per_benign_text() {
    // a: positives 0.9, 0.8, 0.7 and a benign text at 0.75: best F1 at 0.7 (0.857); above the
    // benign text, 0.8 (0.8). b: positives 0.9, 0.6 and a benign text at 0.8: best F1 at 0.6
    // (0.8); above it, 0.9 (0.667). Two more benign texts score nothing.
    let scores = [
        0.9, 0.0, // a
        0.8, 0.0, // a
        0.7, 0.0, // a
        0.75, 0.0, // benign
        0.0, 0.9, // b
        0.0, 0.6, // b
        0.0, 0.8, // benign
        0.0, 0.0, // benign
        0.0, 0.0, // benign
    ];
    let labels = [1, 1, 1, 0, 2, 2, 0, 0, 0];
    let positive: Vec<bool> = labels.iter().flat_map(|&l| [l == 1, l == 2]).collect();
    let th = |cal: &[tinychat::train::eval::calibrate::Calibration]| {
        (cal[0].threshold, cal[1].threshold)
    };
    let (cal, fpr) = calibrate_f1_all(&["a", "b"], &scores, &positive, 1.0);
    assert_eq!((th(&cal), fpr), ((0.7, 0.6), 0.5));
    // One benign text within budget: a's move costs 0.057, b's 0.133: a moves.
    let (cal, fpr) = calibrate_f1_all(&["a", "b"], &scores, &positive, 0.25);
    assert_eq!((th(&cal), fpr), ((0.8, 0.6), 0.25));
    assert_eq!(benign_fpr(&scores, &positive, &[0.8, 0.6]), 0.25);
    // The same with the columns swapped: the cheaper move is now the second category's.
    let swap = |v: &[f32]| v.chunks(2).flat_map(|r| [r[1], r[0]]).collect::<Vec<f32>>();
    let pos_swapped: Vec<bool> = positive.chunks(2).flat_map(|r| [r[1], r[0]]).collect();
    let (cal, _) = calibrate_f1_all(&["b", "a"], &swap(&scores), &pos_swapped, 0.25);
    assert_eq!(th(&cal), (0.6, 0.8));
    let (cal, fpr) = calibrate_f1_all(&["a", "b"], &scores, &positive, 0.0);
    assert_eq!((th(&cal), fpr), ((0.8, 0.9), 0.0));
    // A category whose every positive scores at or below a benign text ends above all its
    // scores (F1 0), and the loop ends.
    // A category whose every positive scores at or below a benign text rises to its highest
    // score above it (F1 0 there), and with nothing above that, stops: thresholds stay ≤ 1,
    // and the state is returned over budget.
    let (cal, fpr) = calibrate_f1_all(&["a"], &[0.9, 0.5, 0.7], &[false, true, false], 0.0);
    assert_eq!((cal[0].threshold, cal[0].f1, fpr), (0.9, 0.0, 0.5));
    let (cal, fpr) = calibrate_f1_all(&["a"], &[1.0, 0.5], &[false, true], 0.0);
    assert_eq!((cal[0].threshold, fpr), (0.5, 1.0));
    // A NaN score flags nothing and ends no loop early or late.
    let (cal, fpr) = calibrate_f1_all(&["a"], &[f32::NAN, 0.8, 0.3], &[true, true, false], 0.0);
    assert_eq!((cal[0].threshold, fpr), (0.8, 0.0));
    assert_eq!(
        calibrate("a", &[f32::NAN, 0.8], &[true, true], 0.9).threshold,
        0.8
    );
}

#[test]
fn the_calibration_flag_takes_precision_or_f1() {
    let parse = |v: &[&str]| TrainCli::try_parse_from(v.iter().copied());
    assert_eq!(parse(&["x"]).unwrap().a.calibration, "precision");
    assert_eq!(
        parse(&["x", "--calibration", "f1"]).unwrap().a.calibration,
        "f1"
    );
    assert!(parse(&["x", "--calibration", "recall"]).is_err());
}

#[derive(Parser)]
struct TrainCli {
    #[command(flatten)]
    a: ModerationArgs,
}

#[derive(Parser)]
struct EvalCli {
    #[command(flatten)]
    a: EvalModerationArgs,
}

fn line(text: &str, cats: &[&str]) -> String {
    let labels: serde_json::Map<String, serde_json::Value> =
        cats.iter().map(|c| (c.to_string(), 1.into())).collect();
    serde_json::json!({"text": text, "labels": labels}).to_string() + "\n"
}

/// A tiny labeled data set (train, val, test) and a byte-level tokenizer.
fn setup(root: &Path) -> Vec<String> {
    let insults = ["idiot", "moron", "loser", "clown"];
    let names = ["sam", "alex", "kim", "lee", "pat"];
    let things = ["the sea", "bread", "a garden", "the train", "music"];
    let split = |name: &str, n: usize, off: usize| {
        let mut s = String::new();
        for i in 0..n {
            let k = i + off;
            let name_ = names[k % names.len()];
            s += &line(
                &format!("{name_} you are a {}", insults[k % insults.len()]),
                &["harassment"],
            );
            s += &line(
                &format!("i will hurt you {name_}"),
                &["harassment/threatening"],
            );
            s += &line(&format!("{name_} likes {}", things[k % things.len()]), &[]);
        }
        std::fs::write(root.join(format!("data/{name}.jsonl")), s).unwrap();
    };
    std::fs::create_dir_all(root.join("data")).unwrap();
    split("train", 20, 0);
    split("val", 6, 3);
    split("test", 5, 1);
    std::fs::create_dir_all(root.join("tok")).unwrap();
    std::fs::write(
        root.join("tok/tokenizer.json"),
        common::byte_tokenizer_json(),
    )
    .unwrap();
    let s = |p: PathBuf| p.display().to_string();
    [
        "x",
        "--data",
        &s(root.join("data")),
        "--tokenizer",
        &s(root.join("tok")),
        "--dim",
        "32",
        "--layers",
        "1",
        "--heads",
        "4",
        "--kv-heads",
        "2",
        "--ffn",
        "64",
        "--seq-len",
        "24",
        "--batch-size",
        "6",
        "--steps",
        "10",
        "--warmup",
        "2",
        "--lr",
        "5e-3",
        "--eval-every",
        "4",
        "--save-every",
        "100",
        "--token-dropout",
        "0.2",
        "--quiet",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect()
}

/// `base` with `extra` appended; a flag in `extra` replaces the same flag (and value) of `base`.
fn train_args(base: &[String], extra: &[&str]) -> ModerationOptions {
    let mut v = vec![];
    let mut i = 0;
    while i < base.len() {
        if base[i].starts_with("--") && extra.contains(&base[i].as_str()) && i + 1 < base.len() {
            i += 2;
        } else {
            v.push(base[i].clone());
            i += 1;
        }
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    TrainCli::parse_from(v).a.into()
}

#[test]
fn train_moderation_resumes_exactly_and_writes_a_classifier_the_moderator_loads() {
    let root = common::temp_dir("train-moderation");
    let base = setup(&root);
    let full = root.join("full");
    let parted = root.join("parted");
    let out = |d: &Path| d.display().to_string();
    // Calibrated validation F1 every 4 steps (and at the end).
    let s = run(&train_args(
        &base,
        &["--out", &out(&full), "--calibrate-every", "4"],
    ))
    .unwrap();
    assert_eq!(s.steps_done, 10);
    assert!(s.train_loss.is_finite() && s.val_loss.is_some());
    // Stopped at step 4, resumed to 10: the same weights bit for bit, the same log.
    let s = run(&train_args(
        &base,
        &[
            "--out",
            &out(&parted),
            "--stop-after",
            "4",
            "--calibrate-every",
            "4",
        ],
    ))
    .unwrap();
    assert!(s.classifier.is_none(), "no classifier before the last step");
    run(&train_args(
        &base,
        &["--out", &out(&parted), "--resume", "--calibrate-every", "4"],
    ))
    .unwrap();
    let weights = |d: &Path| std::fs::read(d.join("checkpoint/model.safetensors")).unwrap();
    assert!(weights(&full) == weights(&parted), "resume is not exact");
    let log = |d: &Path| std::fs::read_to_string(d.join("metrics.jsonl")).unwrap();
    let strip = |s: String| -> Vec<String> {
        s.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                for k in ["elapsed_s", "ex_per_s"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v.to_string()
            })
            .collect()
    };
    assert_eq!(strip(log(&full)), strip(log(&parted)));
    assert!(full.join("loss.png").exists());
    let calibrated: Vec<(u64, f64)> = log(&full)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| Some((v["step"].as_u64()?, v["val_calibrated_macro_f1"].as_f64()?)))
        .collect();
    assert_eq!(
        calibrated.iter().map(|c| c.0).collect::<Vec<_>>(),
        [4, 8, 10]
    );
    // A resume with other settings is refused with both settings shown.
    let e = run(&train_args(
        &base,
        &["--out", &out(&parted), "--resume", "--lr", "1e-3"],
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("other settings"), "{e}");
    assert!(
        e.contains("(lr differ)"),
        "the differing setting is named: {e}"
    );

    // The classifier directory: HF config with id2label, thresholds for every label.
    let dir = full.join("classifier");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["problem_type"], "multi_label_classification");
    assert_eq!(cfg["id2label"].as_object().unwrap().len(), CATEGORIES.len());
    // The tiny preset pools with the maximum over positions, and says so in config.json.
    assert_eq!(cfg["classifier_pooling"], "max");
    assert!(
        !dir.join(word_vectors::NOTICE_FILE).exists(),
        "no vectors, no notice"
    );
    let cal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("calibration.json")).unwrap())
            .unwrap();
    assert_eq!(cal["max_benign_fpr"].as_f64().unwrap() as f32, 0.01);
    assert!(cal["target_precision_used"].as_f64().unwrap() >= 0.9 - 1e-6);
    let fpr = cal["val_benign_fpr"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&fpr), "{fpr}");
    // The validation macro F1 it reports is the last one logged, and what eval moderation
    // gives on the validation file with the thresholds written.
    let val_f1 = cal["val_macro_f1"].as_f64().unwrap() as f32;
    assert_eq!(val_f1, calibrated[2].1 as f32);
    assert!(dir.join("tokenizer_config.json").exists());
    let m = Moderator::load(&dir).unwrap();
    assert_eq!(m.model.config.pooling, Pooling::Max);
    assert_eq!(m.labels(), CATEGORIES.map(String::from).as_slice());
    let th: tinychat::moderation::Thresholds =
        serde_json::from_str(&std::fs::read_to_string(dir.join("thresholds.json")).unwrap())
            .unwrap();
    assert_eq!(th.len(), CATEGORIES.len());
    for (j, c) in CATEGORIES.iter().enumerate() {
        assert_eq!(m.thresholds[j], th[*c], "{c}");
        // calibration.json describes the thresholds that were written.
        let row = cal["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["category"] == *c)
            .unwrap();
        assert_eq!(row["threshold"].as_f64().unwrap() as f32, th[*c], "{c}");
    }
    // Categories without validation positives keep 0.5.
    assert_eq!(th["hate"], 0.5);

    // eval moderation reads it and reports every category.
    let test = root.join("data/test.jsonl");
    let ea = EvalCli::parse_from([
        "x",
        "--model",
        &dir.display().to_string(),
        "--data",
        &test.display().to_string(),
        "--json",
    ])
    .a;
    let reports = eval_moderation::run(&ea.into()).unwrap();
    let r = &reports[0];
    let val = root.join("data/val.jsonl").display().to_string();
    let ev = EvalCli::parse_from(["x", "--model", &dir.display().to_string(), "--data", &val]).a;
    assert_eq!(
        eval_moderation::run(&ev.into()).unwrap()[0].macro_f1,
        val_f1
    );
    assert_eq!(r.examples, 15);
    assert_eq!((r.benign, r.harmful), (5, 10));
    assert_eq!(r.categories.len(), CATEGORIES.len());
    let h = r
        .categories
        .iter()
        .find(|c| c.category == "harassment")
        .unwrap();
    assert_eq!(h.positives, 10);
    // harassment, harassment/threatening and violence (implied by the threat) have positives.
    assert_eq!(r.macro_categories, 3);
    assert!(r.table().contains("macro F1"));
}

/// `--bidirectional`: the saved classifier says `"is_causal": false` and the moderator loads it
/// as such (the logits' agreement with the trainer is checked above, without the CLI).
#[test]
fn train_moderation_bidirectional_saves_and_scores_without_the_causal_mask() {
    let root = common::temp_dir("train-moderation-bidi");
    let base = setup(&root);
    let out = root.join("bidi");
    let s = run(&train_args(
        &base,
        &["--out", &out.display().to_string(), "--bidirectional"],
    ))
    .unwrap();
    assert_eq!(s.steps_done, 10);
    let dir = out.join("classifier");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["is_causal"], false);
    let m = Moderator::load(&dir).unwrap();
    assert!(!m.model.config.causal);
    let scores = m.scores("you are a nice person").unwrap();
    assert_eq!(scores.len(), CATEGORIES.len());
    assert!(scores.iter().all(|x| (0.0..=1.0).contains(x)), "{scores:?}");
    // Resuming it as a causal run is refused: the setting is part of the run.
    let e = run(&train_args(
        &base,
        &["--out", &out.display().to_string(), "--resume"],
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("other settings") && e.contains("bidirectional"),
        "{e}"
    );
    // Reading the text twice adds nothing to a bidirectional trunk: refused, naming both flags.
    let echo = root.join("bidi-echo").display().to_string();
    let e = run(&train_args(
        &base,
        &["--out", &echo, "--bidirectional", "--pooling", "echo_max"],
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("--bidirectional") && e.contains("echo_max"),
        "{e}"
    );
}

/// `--pooling echo_max`: texts are cut to (T − 1) / 2 tokens and read twice in training; the
/// saved classifier says so, and the moderator scores through the same echo, in windows of
/// (T − 1) / 2 tokens for long texts.
#[test]
fn train_moderation_with_echo_pooling_reads_each_text_twice() {
    let root = common::temp_dir("train-moderation-echo");
    let base = setup(&root);
    let out = root.join("echo");
    let s = run(&train_args(
        &base,
        &["--out", &out.display().to_string(), "--pooling", "echo_max"],
    ))
    .unwrap();
    assert_eq!(s.steps_done, 10);
    assert!(s.train_loss.is_finite());
    let dir = out.join("classifier");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["classifier_pooling"], "echo_max");
    let m = Moderator::load(&dir).unwrap();
    assert_eq!(m.model.config.pooling, Pooling::EchoMax);
    // T = 24: 11 text tokens fit twice with the separator (23 positions), 12 do not.
    assert_eq!(m.model.config.pooling.window(24), 11);
    let enc = |text: &str| {
        m.tokenizer
            .encode(&tinychat::moderation::normalize::normalize(text), false)
            .unwrap()
    };
    let ids = enc("sam is nice");
    assert!(ids.len() <= 11, "{ids:?}");
    let logits = m.model.classify(&ids).unwrap();
    let scores = m.scores("sam is nice").unwrap();
    for (z, p) in logits.iter().zip(&scores) {
        assert!((tinychat::moderation::sigmoid(*z) - p).abs() < 1e-6);
    }
    // 12 tokens would need 25 positions: a clear error, not a silent cut.
    let e = m.model.classify(&[ids[0]; 12]).unwrap_err().to_string();
    assert!(e.contains("25") && e.contains("24"), "{e}");
    // A long text is scored in windows of 11 tokens (stride 5) and each category takes its
    // highest window.
    let long = "kim likes the sea. ".repeat(6) + "alex you are a moron";
    let ids = enc(&long);
    assert!(ids.len() > 11);
    let mut want = vec![0.0f32; CATEGORIES.len()];
    let mut start = 0;
    loop {
        let end = (start + 11).min(ids.len());
        for (w, z) in want
            .iter_mut()
            .zip(m.model.classify(&ids[start..end]).unwrap())
        {
            *w = w.max(tinychat::moderation::sigmoid(z));
        }
        if end == ids.len() {
            break;
        }
        start += 5;
    }
    assert_eq!(m.scores(&long).unwrap(), want);
}

#[test]
fn init_copies_the_pretrained_trunk() {
    let root = common::temp_dir("train-moderation-init");
    let base = setup(&root);
    let lm_cfg = common::tiny_llama_config(&[], 32);
    let lm = common::random_params(&lm_cfg, 3, 0.05);
    common::write_model_dir(&root.join("lm"), &lm_cfg, &lm);
    let out = root.join("run");
    // lr 0: the weights after training are the initial ones.
    run(&train_args(
        &base,
        &[
            "--out",
            &out.display().to_string(),
            "--init",
            &root.join("lm").display().to_string(),
            "--lr",
            "0",
            "--min-lr",
            "0",
            "--steps",
            "2",
        ],
    ))
    .unwrap();
    let m = Model::load(out.join("classifier")).unwrap();
    assert_eq!(
        (m.config.dim, m.config.n_layers),
        (32, 2),
        "shape of --init"
    );
    assert_eq!(m.config.max_seq_len, 24);
    let mp = m.to_params();
    for spec in &mp.layout.specs {
        if spec.slot == Slot::ClsHead {
            continue;
        }
        assert_eq!(mp.get(spec.slot), lm.get(spec.slot), "{}", spec.name);
    }
    // A classifier cannot be the trunk of another.
    let e = run(&train_args(
        &base,
        &[
            "--out",
            &root.join("run2").display().to_string(),
            "--init",
            &out.join("classifier").display().to_string(),
        ],
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("llama-family language model"), "{e}");
}

/// `--word-vectors`: a word-level tokenizer from the vectors plus the training words, the
/// vector rows of the embedding copied in (scaled) and kept fixed through training and resume,
/// the other rows trained; the classifier directory loads in the moderator, which tokenises
/// words the training set never had (here "brute") with their vector rows.
#[test]
fn train_moderation_with_word_vectors_keeps_the_vector_rows_fixed() {
    let root = common::temp_dir("train-moderation-wv");
    let base = setup(&root);
    // GloVe's text format; "brute" (a held-out insult) sits next to "idiot" and "moron".
    let vectors = "the 0.1 0.3 -0.2 0.05\nyou 0.2 -0.1 0.4 0.1\nidiot 0.9 0.8 -0.7 0.6\n\
                   moron 0.85 0.75 -0.65 0.7\nbrute 0.8 0.9 -0.6 0.65\nsea -0.5 0.2 0.3 -0.4\n\
                   bread -0.4 0.1 0.5 -0.3\nhurt 0.7 -0.6 0.2 0.9\nzebra 0.1 0.1 0.1 0.1\n";
    let vpath = root.join("vectors.txt");
    std::fs::write(&vpath, vectors).unwrap();
    let vp = vpath.display().to_string();
    let argv = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--out",
            &out.display().to_string(),
            "--word-vectors",
            &vp,
            "--vocab-top",
            "6",
            "--dim",
            "8",
            "--heads",
            "2",
            "--kv-heads",
            "1",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let go = |v: Vec<String>| {
        let r: Vec<&str> = v.iter().map(String::as_str).collect();
        run(&train_args(&base, &r))
    };
    let out = root.join("wv");
    let s = go(argv(&out, &[])).unwrap();
    assert!(s.train_loss.is_finite());
    let dir = out.join("classifier");
    // The vectors' source and licence travel with the weights that hold them.
    assert_eq!(
        std::fs::read_to_string(dir.join(word_vectors::NOTICE_FILE)).unwrap(),
        word_vectors::NOTICE
    );
    let m = Moderator::load(&dir).unwrap();
    let tok = tinychat::tokenizer::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    // The top 6 vector words, then the training words by count (with and without vectors).
    assert_eq!(tok.id_to_token(0).as_deref(), Some("<|endoftext|>"));
    assert_eq!(tok.id_to_token(1).as_deref(), Some("[UNK]"));
    let id = |w: &str| tok.token_to_id(w).unwrap() as usize;
    assert!(id("brute") < 8 && id("sam") >= 8, "top words first");
    assert!(
        tok.token_to_id("bread").is_some(),
        "7th vector word, in training"
    );
    assert_eq!(
        tok.token_to_id("zebra"),
        None,
        "9th vector word, not in training"
    );
    assert_eq!(m.model.config.vocab_size, tok.vocab_size());
    // Vector rows: the vectors scaled by one factor, padded with zeros to --dim, unchanged by
    // training; "sam" (no vector) was trained.
    let emb = |dir: &Path| {
        let cfg = tinychat::config::ModelConfig::from_file(dir.join("config.json")).unwrap();
        let (p, _) = tinychat::weights::load(dir.join("model.safetensors"), &cfg).unwrap();
        p.get(tinychat::params::Slot::TokEmb).unwrap().to_vec()
    };
    let e = emb(&out.join("checkpoint"));
    let row = |w: &str| &e[id(w) * 8..id(w) * 8 + 8];
    let k = row("idiot")[0] / 0.9;
    for (w, v) in [
        ("idiot", [0.9, 0.8, -0.7, 0.6]),
        ("brute", [0.8, 0.9, -0.6, 0.65]),
    ] {
        for (a, b) in row(w).iter().zip(v.iter().chain(&[0.0; 4])) {
            assert!((a - b * k).abs() < 1e-6, "{w}: {a} vs {}", b * k);
        }
    }
    // A quoted word is the word: "'BRUTE'" reads as ' brute ' (the quote, unseen in training,
    // is [UNK]).
    let ids = tok.encode("'BRUTE'", false).unwrap();
    assert_eq!(ids, [1, id("brute") as u32, 1]);
    assert!(m
        .scores("you 'brute'")
        .unwrap()
        .iter()
        .all(|s| s.is_finite()));
    // Resume rebuilds the same tokenizer and keeps the rows fixed.
    let parted = root.join("wv-parted");
    go(argv(&parted, &["--stop-after", "4"])).unwrap();
    // Between step 4 and step 10 the vector rows stay, the row of "sam" (no vector) moves.
    let e4 = emb(&parted.join("checkpoint"));
    let r = |e: &[f32], w: &str| e[id(w) * 8..id(w) * 8 + 8].to_vec();
    assert_eq!(r(&e4, "idiot"), r(&e, "idiot"));
    assert_ne!(r(&e4, "sam"), r(&e, "sam"));
    go(argv(&parted, &["--resume"])).unwrap();
    assert!(
        std::fs::read(out.join("checkpoint/model.safetensors")).unwrap()
            == std::fs::read(parted.join("checkpoint/model.safetensors")).unwrap(),
        "resume with word vectors is not exact"
    );
    // --train-word-vectors lets them move.
    let moved = root.join("wv-moved");
    go(argv(&moved, &["--train-word-vectors"])).unwrap();
    let e2 = emb(&moved.join("checkpoint"));
    let r = id("idiot") * 8;
    assert!(e2[r..r + 4] != e[r..r + 4]);
    // --word-swap trains on words swapped for their vector neighbours ("idiot" ↔ "moron",
    // "brute"): another model, and a resume is still exact. It needs --word-vectors and a
    // probability in [0, 1).
    let weights = |d: &Path| std::fs::read(d.join("checkpoint/model.safetensors")).unwrap();
    let swapped = root.join("wv-swap");
    go(argv(&swapped, &["--word-swap", "0.3"])).unwrap();
    assert!(
        weights(&swapped) != weights(&out),
        "word swap changed nothing"
    );
    let swap_parted = root.join("wv-swap-parted");
    go(argv(
        &swap_parted,
        &["--word-swap", "0.3", "--stop-after", "4"],
    ))
    .unwrap();
    go(argv(&swap_parted, &["--word-swap", "0.3", "--resume"])).unwrap();
    assert!(
        weights(&swapped) == weights(&swap_parted),
        "resume with word swap is not exact"
    );
    assert!(TrainCli::try_parse_from(["x", "--word-swap", "0.1"]).is_err());
    let err = go(argv(&root.join("wv-swap-bad"), &["--word-swap", "1.5"]))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--word-swap"), "{err}");
    // The word-vector flags need --word-vectors; a non-positive --word-vector-std is refused.
    assert!(TrainCli::try_parse_from(["x", "--vocab-top", "5"]).is_err());
    let err = go(argv(&root.join("wv-std"), &["--word-vector-std", "0"]))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--word-vector-std"), "{err}");
    // A missing or malformed vector file is named.
    std::fs::write(root.join("bad.txt"), "a 1 2\nb 1\n").unwrap();
    let mut v = argv(&root.join("wv-bad"), &[]);
    v[3] = root.join("bad.txt").display().to_string();
    let err = go(v).err().unwrap().to_string();
    assert!(err.contains("bad.txt") && err.contains("line 2"), "{err}");
    let mut v = argv(&root.join("wv-bad"), &[]);
    v[3] = root.join("missing.json").display().to_string();
    let err = go(v).err().unwrap().to_string();
    assert!(
        err.contains("missing.json") && err.contains("to fetch the package"),
        "{err}"
    );
}

#[test]
fn the_default_bundle_carries_the_word_vectors_notice() {
    // A moderator over word vectors (a WordLevel tokenizer) ships their licence beside them.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/models/default/moderator");
    let tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tokenizer.json")).unwrap())
            .unwrap();
    let notice = std::fs::read_to_string(dir.join(word_vectors::NOTICE_FILE)).ok();
    if tok["model"]["type"] == "WordLevel" {
        assert_eq!(notice.as_deref(), Some(word_vectors::NOTICE));
    } else {
        assert_eq!(notice, None);
    }
}

/// The head route with a tuned top block (`--tune-blocks 1`) on the tiny GGUF trunk: the run
/// writes the block beside the head, the moderator it writes loads with it, and the report's
/// figures are what that moderator gives on the same texts, with the block as rank-2
/// corrections and whole in Q8_0; a frozen run into the same directory leaves no stale block
/// behind.
#[test]
fn head_route_with_tuned_blocks_reports_what_its_moderator_gives() {
    use tinychat::train::moderation::head::{run as run_head, HeadOptions};
    let root = common::temp_dir("train-moderation-tuned");
    setup(&root);
    let out = root.join("run");
    std::fs::create_dir_all(&out).unwrap();
    let trunk = out.join("tiny_q8_0.gguf");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/tiny_q8_0.gguf"),
        &trunk,
    )
    .unwrap();
    let mut o = HeadOptions::new(&trunk);
    o.data = root.join("data");
    o.sets = root.clone();
    o.out = out.clone();
    o.layers = 2;
    o.tune_blocks = 1;
    o.block_rank = 2; // the corrections' route, trained, written and read back
    o.window = 8;
    o.epochs = 2;
    o.batch_size = 8;
    o.block_lr = 1e-3;
    let summary = run_head(&o).unwrap();
    let dir = out.join("moderator");
    assert!(dir.join("blocks.safetensors").is_file());
    let m = Moderator::load(&dir).unwrap();
    let head = m.head.as_ref().unwrap();
    assert_eq!((head.config.tuned_blocks, head.config.block_rank), (1, 2));
    // The tuned block moved away from the trunk's block 1.
    let trunk_block = m.model.blocks_model(1..2).unwrap().to_params();
    let tuned = head.blocks.as_ref().unwrap().to_params();
    assert!(
        tuned
            .data
            .iter()
            .zip(&trunk_block.data)
            .any(|(a, b)| (a - b).abs() > 1e-3),
        "training left the block as it was"
    );
    // The report's val figures, category by category, are what the saved moderator gives on
    // the same texts.
    let same_as_report =
        |m: &Moderator, summary: &tinychat::train::moderation::head::HeadSummary| {
            let val = &summary.reports[0];
            let examples =
                tinychat::train::moderation_data::read_jsonl(out.join("eval/val.jsonl")).unwrap();
            let again = tinychat::train::eval::moderation::evaluate(m, &examples, "val").unwrap();
            assert_eq!(again.examples, val.examples);
            assert!(
                val.categories.iter().any(|c| c.flagged > 0),
                "nothing flagged: the comparison would be empty"
            );
            for (a, b) in again.categories.iter().zip(&val.categories) {
                assert_eq!(
                    (&a.category, a.flagged, a.true_positives),
                    (&b.category, b.flagged, b.true_positives)
                );
            }
            assert_eq!(
                (again.benign_flagged, again.harmful_flagged, again.macro_f1),
                (val.benign_flagged, val.harmful_flagged, val.macro_f1)
            );
        };
    same_as_report(&m, &summary);

    // Whole blocks in Q8_0 (blocks.gguf): calibrated and reported as they ship; the rank-2
    // run's blocks.safetensors is gone.
    o.block_rank = 0;
    o.block_type = tinychat::quant::QType::Q8_0;
    let summary = run_head(&o).unwrap();
    assert!(dir.join("blocks.gguf").is_file() && !dir.join("blocks.safetensors").exists());
    let m = Moderator::load(&dir).unwrap();
    let blocks = m.head.as_ref().unwrap().blocks.as_ref().unwrap();
    assert_eq!(blocks.storage(), tinychat::quant::QType::Q8_0);
    same_as_report(&m, &summary);

    o.tune_blocks = 0;
    let e = run_head(&o).err().unwrap().to_string();
    assert!(
        e.contains("--block-type q8_0") && e.contains("--tune-blocks"),
        "{e}"
    );
    o.block_type = tinychat::quant::QType::F16;
    run_head(&o).unwrap();
    assert!(!dir.join("blocks.safetensors").exists() && !dir.join("blocks.gguf").exists());
    let m = Moderator::load(&dir).unwrap();
    assert!(m.head.as_ref().unwrap().blocks.is_none());
}

//! Exploration (not part of the product): which SmolLM2 features make a good moderation head?
//! Extracts pooled hidden states of several layers for subsets of the moderation splits, trains
//! linear multi-label heads on them, calibrates on val, reports macro F1 / benign FPR.
//!
//! cargo run --release --features train --example mod_probe -- extract DATA_DIR OUT_DIR
//! cargo run --release --features train --example mod_probe -- heads OUT_DIR

use rayon::prelude::*;
use std::io::Write;
use std::path::Path;
use tinychat::moderation::normalize::normalize;
use tinychat::train::moderation_data::{read_jsonl, Example, CATEGORIES};
use tinychat::ChatModel;

const LAYERS: [usize; 6] = [8, 12, 16, 20, 24, 29];

fn sample(v: Vec<Example>, n: usize, seed: u64) -> Vec<Example> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    let mut s = seed;
    for i in (1..idx.len()).rev() {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (s >> 33) as usize % (i + 1);
        idx.swap(i, j);
    }
    idx.truncate(n);
    idx.sort();
    idx.into_iter().map(|i| v[i].clone()).collect()
}

fn extract(data: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let chat = ChatModel::load("models/smollm2").unwrap();
    let m = &chat.model;
    let c = m.config.dim;
    let splits: Vec<(&str, Vec<Example>)> = vec![
        (
            "train",
            sample(read_jsonl(data.join("train.jsonl")).unwrap(), 6000, 1),
        ),
        (
            "val",
            sample(read_jsonl(data.join("val.jsonl")).unwrap(), 2000, 2),
        ),
        (
            "test",
            sample(read_jsonl(data.join("test.jsonl")).unwrap(), 2000, 3),
        ),
        (
            "test_obf",
            sample(
                read_jsonl(data.join("test_obfuscated.jsonl")).unwrap(),
                2000,
                3,
            ),
        ),
        (
            "challenge",
            read_jsonl("data/moderation_challenge.jsonl").unwrap(),
        ),
    ];
    for (name, exs) in &splits {
        let t0 = std::time::Instant::now();
        let feats: Vec<Vec<f32>> = exs
            .par_iter()
            .map(|e| {
                let text = normalize(&e.text);
                let ids = chat
                    .tokenizer
                    .encode(&format!("<|im_start|>user\n{text}<|im_end|>"), false)
                    .unwrap();
                let n = ids.len();
                let mut f = vec![0f32; LAYERS.len() * 2 * c];
                let mut cache = m.new_cache();
                m.hidden_states_tapped(&ids, &mut cache, &mut |l, x| {
                    if let Some(k) = LAYERS.iter().position(|&q| q == l) {
                        let (mean, last) = f[k * 2 * c..(k + 1) * 2 * c].split_at_mut(c);
                        // mean over the text's tokens (skip the 3 header tokens and the end)
                        let (a, b) = (3.min(n - 1), n.saturating_sub(1).max(4.min(n)));
                        for t in a..b {
                            for j in 0..c {
                                mean[j] += x[t * c + j] / (b - a) as f32;
                            }
                        }
                        last.copy_from_slice(&x[(n - 1) * c..n * c]);
                    }
                })
                .unwrap();
                f
            })
            .collect();
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(out.join(format!("{name}.f32"))).unwrap(),
        );
        for f in &feats {
            w.write_all(bytemuck::cast_slice(f)).unwrap();
        }
        let labels: Vec<Vec<f32>> = exs.iter().map(|e| e.target()).collect();
        std::fs::write(
            out.join(format!("{name}.labels.json")),
            serde_json::to_string(&labels).unwrap(),
        )
        .unwrap();
        eprintln!(
            "{name}: {} texts in {:.0} s",
            exs.len(),
            t0.elapsed().as_secs_f64()
        );
    }
}

struct Split {
    x: Vec<f32>, // (n, d)
    y: Vec<f32>, // (n, 13)
    n: usize,
}

fn load(out: &Path, name: &str, layer_k: usize, kind: usize, c: usize) -> Split {
    let raw = std::fs::read(out.join(format!("{name}.f32"))).unwrap();
    let all: &[f32] = bytemuck::cast_slice(&raw);
    let per = LAYERS.len() * 2 * c;
    let n = all.len() / per;
    let mut x = Vec::with_capacity(n * c);
    for i in 0..n {
        let o = i * per + layer_k * 2 * c + kind * c;
        x.extend_from_slice(&all[o..o + c]);
    }
    let labels: Vec<Vec<f32>> =
        serde_json::from_slice(&std::fs::read(out.join(format!("{name}.labels.json"))).unwrap())
            .unwrap();
    Split {
        x,
        y: labels.concat(),
        n,
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Logistic regression, 13 outputs, Adam, full batch.
fn train_head(
    tr: &Split,
    d: usize,
    l2: f32,
    epochs: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let nl = CATEGORIES.len();
    // standardize
    let mut mu = vec![0f32; d];
    let mut sd = vec![0f32; d];
    for i in 0..tr.n {
        for j in 0..d {
            mu[j] += tr.x[i * d + j] / tr.n as f32;
        }
    }
    for i in 0..tr.n {
        for j in 0..d {
            let v = tr.x[i * d + j] - mu[j];
            sd[j] += v * v / tr.n as f32;
        }
    }
    for s in sd.iter_mut() {
        *s = s.sqrt().max(1e-6);
    }
    let xs: Vec<f32> = (0..tr.n * d)
        .map(|k| (tr.x[k] - mu[k % d]) / sd[k % d])
        .collect();
    let mut w = vec![0f32; nl * d];
    let mut b = vec![0f32; nl];
    let (mut mw, mut vw, mut mb, mut vb) = (
        vec![0f32; nl * d],
        vec![0f32; nl * d],
        vec![0f32; nl],
        vec![0f32; nl],
    );
    let lr = 0.01;
    for ep in 1..=epochs {
        let grads: Vec<(Vec<f32>, Vec<f32>)> = (0..nl)
            .into_par_iter()
            .map(|j| {
                let mut gw = vec![0f32; d];
                let mut gb = 0f32;
                for i in 0..tr.n {
                    let row = &xs[i * d..(i + 1) * d];
                    let z: f32 = row
                        .iter()
                        .zip(&w[j * d..(j + 1) * d])
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                        + b[j];
                    let g = sigmoid(z) - tr.y[i * nl + j];
                    for k in 0..d {
                        gw[k] += g * row[k];
                    }
                    gb += g;
                }
                for k in 0..d {
                    gw[k] = gw[k] / tr.n as f32 + l2 * w[j * d + k];
                }
                (gw, vec![gb / tr.n as f32])
            })
            .collect();
        let (b1, b2) = (0.9f32, 0.999f32);
        let c1 = 1.0 - b1.powi(ep as i32);
        let c2 = 1.0 - b2.powi(ep as i32);
        for (j, (gw, gb)) in grads.iter().enumerate() {
            for k in 0..d {
                let i = j * d + k;
                mw[i] = b1 * mw[i] + (1.0 - b1) * gw[k];
                vw[i] = b2 * vw[i] + (1.0 - b2) * gw[k] * gw[k];
                w[i] -= lr * (mw[i] / c1) / ((vw[i] / c2).sqrt() + 1e-8);
            }
            mb[j] = b1 * mb[j] + (1.0 - b1) * gb[0];
            vb[j] = b2 * vb[j] + (1.0 - b2) * gb[0] * gb[0];
            b[j] -= lr * (mb[j] / c1) / ((vb[j] / c2).sqrt() + 1e-8);
        }
    }
    (w, b, mu, sd)
}

fn scores(s: &Split, d: usize, h: &(Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>)) -> Vec<f32> {
    let nl = CATEGORIES.len();
    let (w, b, mu, sd) = h;
    let mut out = vec![0f32; s.n * nl];
    for i in 0..s.n {
        let row: Vec<f32> = (0..d).map(|k| (s.x[i * d + k] - mu[k]) / sd[k]).collect();
        for j in 0..nl {
            let z: f32 = row
                .iter()
                .zip(&w[j * d..(j + 1) * d])
                .map(|(a, b)| a * b)
                .sum::<f32>()
                + b[j];
            out[i * nl + j] = sigmoid(z);
        }
    }
    out
}

fn flags(sc: &[f32], th: &[f32]) -> Vec<bool> {
    let nl = th.len();
    let mut f: Vec<bool> = sc
        .iter()
        .enumerate()
        .map(|(k, &v)| v >= th[k % nl])
        .collect();
    let n = sc.len() / nl;
    for i in 0..n {
        for j in 0..nl {
            if f[i * nl + j] {
                for p in tinychat::moderation::implied(CATEGORIES[j]) {
                    let pj = CATEGORIES.iter().position(|c| c == p).unwrap();
                    f[i * nl + pj] = true;
                }
            }
        }
    }
    f
}

/// (macro F1, benign FPR)
fn evaluate(s: &Split, sc: &[f32], th: &[f32]) -> (f32, f32) {
    let nl = th.len();
    let f = flags(sc, th);
    let mut f1s = vec![];
    for j in 0..nl {
        let (mut tp, mut fp, mut fnn) = (0f32, 0f32, 0f32);
        for i in 0..s.n {
            match (f[i * nl + j], s.y[i * nl + j] > 0.5) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fnn += 1.0,
                _ => {}
            }
        }
        if tp + fnn > 0.0 {
            f1s.push(if tp == 0.0 {
                0.0
            } else {
                2.0 * tp / (2.0 * tp + fp + fnn)
            });
        }
    }
    let benign: Vec<usize> = (0..s.n)
        .filter(|&i| s.y[i * nl..(i + 1) * nl].iter().all(|&v| v < 0.5))
        .collect();
    let fl = benign
        .iter()
        .filter(|&&i| f[i * nl..(i + 1) * nl].iter().any(|&v| v))
        .count();
    (
        f1s.iter().sum::<f32>() / f1s.len() as f32,
        fl as f32 / benign.len().max(1) as f32,
    )
}

/// Per-category F1-best thresholds on val, then raised until the benign FPR ≤ budget.
fn calibrate(s: &Split, sc: &[f32], budget: f32) -> Vec<f32> {
    let nl = CATEGORIES.len();
    let mut th = vec![0.5f32; nl];
    for j in 0..nl {
        let mut best = (0.0, 0.5);
        for k in 1..100 {
            let t = k as f32 / 100.0;
            let (mut tp, mut fp, mut fnn) = (0f32, 0f32, 0f32);
            for i in 0..s.n {
                match (sc[i * nl + j] >= t, s.y[i * nl + j] > 0.5) {
                    (true, true) => tp += 1.0,
                    (true, false) => fp += 1.0,
                    (false, true) => fnn += 1.0,
                    _ => {}
                }
            }
            let f = if tp == 0.0 {
                0.0
            } else {
                2.0 * tp / (2.0 * tp + fp + fnn)
            };
            if f > best.0 {
                best = (f, t);
            }
        }
        th[j] = best.1;
    }
    let benign: Vec<usize> = (0..s.n)
        .filter(|&i| s.y[i * nl..(i + 1) * nl].iter().all(|&v| v < 0.5))
        .collect();
    for _ in 0..2000 {
        let f = flags(sc, &th);
        let fl = benign
            .iter()
            .filter(|&&i| f[i * nl..(i + 1) * nl].iter().any(|&v| v))
            .count();
        if (fl as f32) / (benign.len() as f32) <= budget {
            break;
        }
        // raise the category flagging most benign texts on its own score
        let mut worst = (0usize, 0usize);
        for j in 0..nl {
            let c = benign.iter().filter(|&&i| sc[i * nl + j] >= th[j]).count();
            if c > worst.1 && th[j] < 0.999 {
                worst = (j, c);
            }
        }
        th[worst.0] = (th[worst.0] + 0.01).min(0.999);
    }
    th
}

fn heads(out: &Path) {
    let c = 576;
    for (k, &layer) in LAYERS.iter().enumerate() {
        for (kind, kname) in [(0, "mean"), (1, "last")] {
            let all = load(out, "train", k, kind, c);
            let cut = all.n * 4 / 5;
            let nl = CATEGORIES.len();
            let tr = Split {
                x: all.x[..cut * c].to_vec(),
                y: all.y[..cut * nl].to_vec(),
                n: cut,
            };
            let va = Split {
                x: all.x[cut * c..].to_vec(),
                y: all.y[cut * nl..].to_vec(),
                n: all.n - cut,
            };
            let h = train_head(&tr, c, 1e-3, 300);
            let th = calibrate(&va, &scores(&va, c, &h), 0.01);
            let mut line = format!("layer {layer:2} {kname:4}:");
            let (f1, fpr) = evaluate(&tr, &scores(&tr, c, &h), &th);
            line += &format!("  train {f1:.3}/{:.1}%", fpr * 100.0);
            for name in ["val"] {
                let s = &va;
                let (f1, fpr) = evaluate(s, &scores(s, c, &h), &th);
                line += &format!("  {name} {f1:.3}/{:.1}%", fpr * 100.0);
            }
            println!("{line}");
        }
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a[1].as_str() {
        "extract" => extract(Path::new(&a[2]), Path::new(&a[3])),
        "heads" => heads(Path::new(&a[2])),
        _ => panic!("extract | heads"),
    }
}

//! `tinychat train moderation --init <SmolLM2 GGUF>`: a moderation head on a frozen pretrained
//! trunk (Llama Guard's recipe at 135M; the head's inference side is `moderation/head.rs`).
//!
//! ```text
//! every text of every split ─► Moderator::pooled (the inference path: normalize, windows,
//!     prefix + window + suffix, trunk blocks 0..layers, pool)  ─► features/<split>-<key>.bin
//! train windows ─► z = (p − mean) / std ─► MLP (C → H, GELU, → L) ─► BCE with logits, AdamW
//! best epoch by validation loss ─► thresholds calibrated on val (precision target within the
//! benign budget, eval::calibrate) ─► moderator/ + report.json
//! ```
//!
//! The trunk is frozen, so its features are computed once per text and cached in the run
//! directory (keyed by the texts, the trunk file and the head's reading of it); training the
//! head then takes seconds an epoch on two cores. A text's score is the maximum over its
//! windows, as at inference, so the reports equal what `tinychat moderate` gives.
//!
//! The run directory:
//!
//! ```text
//! <out>/features/      cached pooled states, one file per split and setting
//! <out>/eval/          the evaluation subsets, as JSONL (for `tinychat eval moderation`)
//! <out>/moderator/     config.json  model.safetensors  thresholds.json  calibration.json
//! <out>/report.json    per-split, per-category precision / recall / F1 and benign FPR
//! <out>/metrics.jsonl  one line per epoch
//! ```

use super::super::data::fnv1a;
use super::super::eval::calibrate::{calibrate_examples, Calibration};
use super::super::eval::moderation::{report_scored, EvalReport};
use super::mlp::{adamw, head_safetensors, sigmoid, softplus, Mlp, Standardizer};
use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::io::{write_atomic, write_json_atomic};
use crate::model::Model;
use crate::moderation::head::{HeadConfig, HeadPooling, ModerationHead, MODEL_TYPE};
use crate::moderation::{Moderator, Thresholds};
use crate::tokenizer::Tokenizer;
use crate::train::moderation_data::{read_jsonl, Example, CATEGORIES};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Options of the head route of `tinychat train moderation`.
#[derive(Clone, Debug, Serialize)]
pub struct HeadOptions {
    /// The trunk: a `.gguf` file or a model directory.
    pub init: PathBuf,
    /// Prepared moderation data: train.jsonl, val.jsonl, and test.jsonl /
    /// test_obfuscated.jsonl when present (evaluated).
    pub data: PathBuf,
    /// Where the hand-written sets lie: moderation_challenge.jsonl and
    /// moderation_benign_{short,answers}_{train,eval}.jsonl (the train files join training).
    pub sets: PathBuf,
    /// Run directory.
    pub out: PathBuf,
    /// The trunk's path as the head's config.json names it, relative to the head's directory
    /// (default `../<file name of init>`: the trunk beside the moderator in a bundle).
    pub trunk_name: Option<String>,
    /// Trunk blocks read (the features are the residual stream after them).
    pub layers: usize,
    pub pooling: HeadPooling,
    /// Hidden width of the head; 0 for a linear head.
    pub hidden: usize,
    /// Text tokens per window.
    pub window: usize,
    /// Most generated training / validation / test texts used (a seeded sample of each file).
    pub train_limit: usize,
    pub val_limit: usize,
    pub test_limit: usize,
    pub epochs: usize,
    pub lr: f32,
    pub weight_decay: f32,
    /// Input dropout while training.
    pub dropout: f32,
    pub batch_size: usize,
    pub seed: u64,
    pub target_precision: f32,
    pub max_benign_fpr: f32,
}

impl HeadOptions {
    pub fn new(init: impl Into<PathBuf>) -> Self {
        HeadOptions {
            init: init.into(),
            data: "data/moderation".into(),
            sets: "data".into(),
            out: "runs/moderation-head".into(),
            trunk_name: None,
            layers: 20,
            pooling: HeadPooling::Mean,
            hidden: 64,
            window: 64,
            train_limit: 16000,
            val_limit: 2000,
            test_limit: 2000,
            epochs: 15,
            lr: 1e-3,
            weight_decay: 1e-2,
            dropout: 0.3,
            batch_size: 64,
            seed: 1,
            target_precision: 0.9,
            max_benign_fpr: 0.01,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct HeadSummary {
    pub best_epoch: usize,
    pub val_loss: f32,
    pub reports: Vec<EvalReport>,
    pub feature_s: f64,
    pub train_s: f64,
}

/// A split: its examples and, once computed, each text's pooled window states.
struct Split {
    name: String,
    examples: Vec<Example>,
    /// Per text, per window, C values.
    features: Vec<Vec<Vec<f32>>>,
}

fn sample(mut v: Vec<Example>, n: usize, seed: u64) -> Vec<Example> {
    if v.len() > n {
        let mut rng = Rng::new(seed);
        for i in (1..v.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v.truncate(n);
    }
    v
}

fn labels_of(e: &Example) -> Vec<f32> {
    CATEGORIES.iter().map(|c| e.has(c) as u8 as f32).collect()
}

/// Loads the trunk and its tokenizer (a `.gguf` file or a model directory).
fn load_trunk(init: &Path) -> Result<(Arc<Model>, Tokenizer)> {
    let chat = crate::chat::ChatModel::load(init)?;
    Ok((chat.model.clone(), chat.tokenizer.clone()))
}

/// The head's config for these options on a trunk of width `c` and depth `n_layers`.
fn head_config(o: &HeadOptions, c: usize, n_layers: usize) -> Result<HeadConfig> {
    if o.layers == 0 || o.layers > n_layers {
        return Err(Error::InvalidArgument(format!(
            "--head-layers {}: the trunk has {n_layers} blocks (use 1..={n_layers})",
            o.layers
        )));
    }
    let trunk = match &o.trunk_name {
        Some(t) => t.clone(),
        None => format!(
            "../{}",
            o.init
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| Error::InvalidArgument(format!(
                    "--init {}: name the trunk's file (or pass --trunk-name)",
                    o.init.display()
                )))?
        ),
    };
    Ok(HeadConfig {
        model_type: MODEL_TYPE.into(),
        trunk,
        layers: o.layers,
        pooling: o.pooling,
        prefix: "<|im_start|>user\n".into(),
        suffix: "<|im_end|>".into(),
        window: o.window,
        max_windows: 64,
        hidden: o.hidden,
        hidden_size: c,
        id2label: CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c.to_string()))
            .collect(),
    })
}

/// The pooled states of every text of `split`, from the cache or computed (in parallel over
/// texts) and cached.
fn features(m: &Moderator, split: &mut Split, cache_dir: &Path, key: &str) -> Result<()> {
    let mut h = key.as_bytes().to_vec();
    for e in &split.examples {
        h.extend_from_slice(e.text.as_bytes());
        h.push(0);
    }
    let path = cache_dir.join(format!("{}-{:016x}.bin", split.name, fnv1a(&h)));
    let c = m.head.as_ref().map_or(m.model.config.dim, |h| {
        h.config.pooling.width(h.config.hidden_size)
    });
    if let Ok(bytes) = std::fs::read(&path) {
        if let Some(f) = decode_features(&bytes, split.examples.len(), c) {
            split.features = f;
            eprintln!(
                "{}: {} texts, features from {}",
                split.name,
                split.examples.len(),
                path.display()
            );
            return Ok(());
        }
    }
    let t0 = Instant::now();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let n = split.examples.len();
    split.features = split
        .examples
        .par_iter()
        .map(|e| {
            let f = m.pooled(&e.text);
            let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if k % 500 == 0 {
                eprintln!(
                    "  {}: {k}/{n} texts, {:.1} texts/s",
                    split.name,
                    k as f64 / t0.elapsed().as_secs_f64()
                );
            }
            f
        })
        .collect::<Result<_>>()?;
    eprintln!(
        "{}: {n} texts in {:.0} s ({:.1} texts/s)",
        split.name,
        t0.elapsed().as_secs_f64(),
        n as f64 / t0.elapsed().as_secs_f64()
    );
    write_atomic(&path, &encode_features(&split.features))
}

/// u32 windows per text, then the windows' C values each, little-endian.
fn encode_features(f: &[Vec<Vec<f32>>]) -> Vec<u8> {
    let mut out = vec![];
    for w in f {
        out.extend_from_slice(&(w.len() as u32).to_le_bytes());
        for p in w {
            for v in p {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    out
}

fn decode_features(b: &[u8], n: usize, c: usize) -> Option<Vec<Vec<Vec<f32>>>> {
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    let word = |at: usize| -> Option<[u8; 4]> { b.get(at..at + 4)?.try_into().ok() };
    for _ in 0..n {
        let k = u32::from_le_bytes(word(at)?) as usize;
        at += 4;
        let mut ws = Vec::with_capacity(k);
        for _ in 0..k {
            let vals = b.get(at..at + 4 * c)?;
            ws.push(
                vals.chunks_exact(4)
                    .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
                    .collect(),
            );
            at += 4 * c;
        }
        out.push(ws);
    }
    (at == b.len()).then_some(out)
}

/// Each text's scores (max over its windows' sigmoids), (N, L).
fn split_scores(mlp: &Mlp, st: &Standardizer, f: &[Vec<Vec<f32>>]) -> Vec<f32> {
    f.par_iter()
        .flat_map_iter(|ws| {
            let mut best = vec![0f32; mlp.l];
            let mut a = vec![];
            for p in ws {
                for (b, z) in best.iter_mut().zip(mlp.forward(&st.apply(p), &mut a)) {
                    *b = b.max(sigmoid(z));
                }
            }
            best
        })
        .collect()
}

/// Mean BCE per label of `f`'s windows against the labels of their texts.
fn mean_loss(mlp: &Mlp, st: &Standardizer, f: &[Vec<Vec<f32>>], ex: &[Example]) -> f32 {
    let (sum, n) = f
        .par_iter()
        .zip(ex)
        .map(|(ws, e)| {
            let y = labels_of(e);
            let mut a = vec![];
            let mut s = 0f64;
            for p in ws {
                for (z, t) in mlp.forward(&st.apply(p), &mut a).iter().zip(&y) {
                    s += (softplus(*z) - t * z) as f64;
                }
            }
            (s, ws.len() * y.len())
        })
        .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    (sum / n.max(1) as f64) as f32
}

/// The splits of a run: a sample of the generated training texts with the written benign
/// ones, a sample of val, and the evaluation files that exist.
fn read_splits(o: &HeadOptions) -> Result<Vec<Split>> {
    let read = |p: PathBuf| -> Result<Vec<Example>> { read_jsonl(p) };
    let mut train_ex = sample(read(o.data.join("train.jsonl"))?, o.train_limit, o.seed);
    for extra in [
        "moderation_benign_short_train.jsonl",
        "moderation_benign_answers_train.jsonl",
    ] {
        let p = o.sets.join(extra);
        if p.exists() {
            train_ex.extend(read(p)?);
        }
    }
    let mut splits = vec![
        Split {
            name: "train".into(),
            examples: train_ex,
            features: vec![],
        },
        Split {
            name: "val".into(),
            examples: sample(read(o.data.join("val.jsonl"))?, o.val_limit, o.seed + 1),
            features: vec![],
        },
    ];
    for (name, file, limit) in [
        ("test", o.data.join("test.jsonl"), o.test_limit),
        (
            "test_obfuscated",
            o.data.join("test_obfuscated.jsonl"),
            o.test_limit,
        ),
        (
            "challenge",
            o.sets.join("moderation_challenge.jsonl"),
            usize::MAX,
        ),
        (
            "benign_short",
            o.sets.join("moderation_benign_short_eval.jsonl"),
            usize::MAX,
        ),
        (
            "benign_answers",
            o.sets.join("moderation_benign_answers_eval.jsonl"),
            usize::MAX,
        ),
    ] {
        if file.exists() {
            splits.push(Split {
                name: name.into(),
                examples: sample(read(file)?, limit, o.seed + 2),
                features: vec![],
            });
        }
    }

    Ok(splits)
}

/// Trains the MLP on the training windows (each window labelled with its text's labels);
/// keeps the epoch with the lowest validation loss. Returns it with the standardization, the
/// epoch and that loss.
fn train(o: &HeadOptions, splits: &[Split], c: usize) -> Result<(Mlp, Standardizer, usize, f32)> {
    let train = &splits[0];
    let mut rows: Vec<(&[f32], Vec<f32>)> = vec![];
    for (ws, e) in train.features.iter().zip(&train.examples) {
        let y = labels_of(e);
        for p in ws {
            rows.push((p, y.clone()));
        }
    }
    let st = Standardizer::fit(&rows.iter().map(|r| r.0).collect::<Vec<_>>(), c);
    let zs: Vec<Vec<f32>> = rows.iter().map(|r| st.apply(r.0)).collect();
    let l = CATEGORIES.len();
    let mut rng = Rng::new(o.seed);
    let mut mlp = Mlp::new(c, o.hidden, l, &mut rng);
    let (mut m1, mut v1) = (mlp.zeros_like(), mlp.zeros_like());
    let mut order: Vec<usize> = (0..zs.len()).collect();
    let mut best = (f32::INFINITY, 0usize, mlp.clone());
    let metrics_path = o.out.join("metrics.jsonl");
    let mut metrics = String::new();
    let mut step = 0i32;
    for epoch in 1..=o.epochs {
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut train_loss = 0f64;
        for batch in order.chunks(o.batch_size.max(1)) {
            let scale = 1.0 / (batch.len() * l) as f32;
            let seeds: Vec<u64> = batch.iter().map(|_| rng.next_u64()).collect();
            let (g, loss) = batch
                .par_iter()
                .zip(&seeds)
                .fold(
                    || (mlp.zeros_like(), 0f64),
                    |(mut g, s), (&i, &seed)| {
                        let mut z = zs[i].clone();
                        if o.dropout > 0.0 {
                            let mut r = Rng::new(seed);
                            let keep = 1.0 / (1.0 - o.dropout);
                            for v in z.iter_mut() {
                                *v = if r.uniform() < o.dropout {
                                    0.0
                                } else {
                                    *v * keep
                                };
                            }
                        }
                        let loss = mlp.backward(&z, &rows[i].1, scale, &mut g, None);
                        (g, s + loss as f64)
                    },
                )
                .reduce(
                    || (mlp.zeros_like(), 0f64),
                    |(mut a, la), (b, lb)| {
                        a.add(&b);
                        (a, la + lb)
                    },
                );
            train_loss += loss;
            step += 1;
            adamw(&mut mlp, &g, &mut m1, &mut v1, o.lr, o.weight_decay, step);
        }
        let train_loss = (train_loss / (zs.len() * l) as f64) as f32;
        let val_loss = mean_loss(&mlp, &st, &splits[1].features, &splits[1].examples);
        eprintln!(
            "epoch {epoch}/{}: train loss {train_loss:.4}, val loss {val_loss:.4}",
            o.epochs
        );
        metrics += &format!(
            "{}\n",
            json!({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        );
        if val_loss < best.0 {
            best = (val_loss, epoch, mlp.clone());
        }
    }
    write_atomic(&metrics_path, metrics.as_bytes())?;
    let (val_loss, best_epoch, mlp) = best;
    Ok((mlp, st, best_epoch, val_loss))
}

/// Runs the head route: features, training, calibration, reports, the moderator directory.
pub fn run(o: &HeadOptions) -> Result<HeadSummary> {
    let t_start = Instant::now();
    let (trunk, tokenizer) = load_trunk(&o.init)?;
    let cfg = head_config(o, trunk.config.dim, trunk.config.n_layers)?;
    // The head's input width (the pooled values).
    let c = cfg.pooling.width(trunk.config.dim);
    let reader = Moderator::with_head(
        trunk.clone(),
        ModerationHead::untrained(cfg.clone())?,
        tokenizer.clone(),
        None,
    )?;

    let mut splits = read_splits(o)?;

    let cache = o.out.join("features");
    std::fs::create_dir_all(&cache).map_err(|e| Error::io(&cache, e))?;
    let trunk_meta = std::fs::metadata(&o.init).map_err(|e| Error::io(&o.init, e))?;
    let key = format!(
        "{}|{}|{}|{:?}|{}|{}|{}",
        o.init.file_name().and_then(|n| n.to_str()).unwrap_or(""),
        trunk_meta.len(),
        cfg.layers,
        cfg.pooling,
        cfg.prefix,
        cfg.suffix,
        cfg.window
    );
    let t_feat = Instant::now();
    for s in splits.iter_mut() {
        features(&reader, s, &cache, &key)?;
    }
    let feature_s = t_feat.elapsed().as_secs_f64();

    let t_train = Instant::now();
    let (mlp, st, best_epoch, val_loss) = train(o, &splits, c)?;
    let train_s = t_train.elapsed().as_secs_f64();

    // Calibration on val, through the same scores inference computes.
    let val = &splits[1];
    let val_scores = split_scores(&mlp, &st, &val.features);
    let (calibration, thresholds, target, benign_fpr) = calibrate_examples(
        &val.examples,
        &val_scores,
        o.target_precision,
        o.max_benign_fpr,
    );
    let head = to_head(cfg.clone(), &mlp, &st)?;
    let moderator = Moderator::with_head(trunk, head, tokenizer, Some(&thresholds))?;

    let mut reports = vec![];
    for s in &splits[1..] {
        let t0 = Instant::now();
        let scores = split_scores(&mlp, &st, &s.features);
        let r = report_scored(&moderator, &s.examples, &scores, &s.name, t0);
        eprintln!(
            "{:16} macro F1 {:.3}  benign FPR {:.2}% ({}/{})  harmful caught {}/{}",
            s.name,
            r.macro_f1,
            100.0 * r.false_positive_rate,
            r.benign_flagged,
            r.benign,
            r.harmful_flagged,
            r.harmful
        );
        reports.push(r);
    }

    // The moderator directory and the evaluation subsets.
    let dir = o.out.join("moderator");
    write_head(
        &dir,
        &cfg,
        (&mlp, &st),
        &thresholds,
        &calibration,
        target,
        benign_fpr,
    )?;
    let eval_dir = o.out.join("eval");
    std::fs::create_dir_all(&eval_dir).map_err(|e| Error::io(&eval_dir, e))?;
    for s in &splits[1..] {
        let mut text = String::new();
        for e in &s.examples {
            text += &serde_json::to_string(e).map_err(|e| Error::Other(e.to_string()))?;
            text.push('\n');
        }
        write_atomic(&eval_dir.join(format!("{}.jsonl", s.name)), text.as_bytes())?;
    }
    let summary = HeadSummary {
        best_epoch,
        val_loss,
        reports,
        feature_s,
        train_s,
    };
    write_json_atomic(
        &o.out.join("report.json"),
        &json!({"options": o, "summary": summary, "wall_s": t_start.elapsed().as_secs_f64()}),
    )?;
    eprintln!(
        "wrote {} (best epoch {best_epoch}, val loss {val_loss:.4}; features {feature_s:.0} s, training {train_s:.0} s)",
        dir.display()
    );
    Ok(summary)
}

/// The trained head as the inference side holds it.
fn to_head(config: HeadConfig, mlp: &Mlp, st: &Standardizer) -> Result<ModerationHead> {
    let bytes = head_safetensors(mlp, st)?;
    let json = serde_json::to_string(&config).map_err(|e| Error::Other(e.to_string()))?;
    ModerationHead::from_bytes(&json, &bytes, "the trained head")
}

/// Writes the moderator directory: config.json, model.safetensors, thresholds.json and
/// calibration.json.
fn write_head(
    dir: &Path,
    config: &HeadConfig,
    (mlp, st): (&Mlp, &Standardizer),
    thresholds: &Thresholds,
    calibration: &[Calibration],
    target: f32,
    benign_fpr: f32,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_atomic(&dir.join("model.safetensors"), &head_safetensors(mlp, st)?)?;
    write_json_atomic(
        &dir.join("config.json"),
        &serde_json::to_value(config).map_err(|e| Error::Other(e.to_string()))?,
    )?;
    write_json_atomic(
        &dir.join("thresholds.json"),
        &serde_json::to_value(thresholds).map_err(|e| Error::Other(e.to_string()))?,
    )?;
    write_json_atomic(
        &dir.join("calibration.json"),
        &json!({"target_precision": target, "val_benign_fpr": benign_fpr, "categories": calibration}),
    )
}

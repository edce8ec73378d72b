//! `tinychat train moderation --init <SmolLM2 GGUF>`: a moderation head on a frozen pretrained
//! trunk (Llama Guard's recipe at 135M; the head's inference side is `moderation/head.rs`), or,
//! with `--tune-blocks K`, a head trained together with the trunk's top K blocks (`tune.rs`: the
//! cache then holds each window's states below them, not pooled states).
//!
//! ```text
//! every text of every split ─► Moderator::pooled (the inference path: normalize, windows,
//!     prefix + window + suffix, trunk blocks 0..layers, pool)  ─► features/<split>-<key>.bin
//! train windows ─► z = (p − mean) / std ─► MLP (C → H, GELU, → L) ─► BCE with logits, AdamW
//! best epoch by validation loss ─► thresholds calibrated on val (a precision target, or for F1
//! with --calibration f1, within the benign budget: eval::calibrate) ─► moderator/ + report.json
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
//!                      blocks.safetensors (with --tune-blocks: whole in f16, or low-rank
//!                      corrections) or blocks.gguf (--block-type q8_0)
//! <out>/report.json    per-split, per-category precision / recall / F1 and benign FPR
//! <out>/metrics.jsonl  one line per epoch
//! ```

use super::super::data::fnv1a;
use super::super::eval::calibrate::{calibrate_examples, Calibration};
use super::super::eval::moderation::{report_scored, EvalReport};
use super::mlp::{adamw, head_safetensors, sigmoid, softplus, Mlp, Standardizer};
use super::tune;
use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::io::{write_atomic, write_json_atomic};
use crate::model::Model;
use crate::moderation::head::{
    pool, BlocksFormat, HeadConfig, HeadPooling, ModerationHead, MODEL_TYPE,
};
use crate::moderation::{blocks_gguf, low_rank, Moderator, Thresholds};
use crate::quant::QType;
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
    /// The top blocks of those `layers` tuned with the head (`tune.rs`); 0: a frozen trunk.
    pub tune_blocks: usize,
    /// The tuned blocks ship as rank-`block_rank` corrections to the trunk's weights
    /// ([`crate::moderation::low_rank`]); 0 ships them whole (in `block_type`).
    pub block_rank: usize,
    /// How whole tuned blocks ship: F16 in safetensors, or Q8_0 in GGUF
    /// ([`crate::moderation::blocks_gguf`]: half the bytes, calibrated as shipped).
    #[serde(serialize_with = "qtype_name")]
    pub block_type: QType,
    /// AdamW's learning rate for the tuned blocks (`lr` is the head's).
    pub block_lr: f32,
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
    /// Calibrate each category for this precision ([`calibrate_all`], default 0.9); `None`
    /// calibrates for F1 ([`calibrate_f1_all`]). Both within `max_benign_fpr`.
    ///
    /// [`calibrate_all`]: crate::train::eval::calibrate::calibrate_all
    /// [`calibrate_f1_all`]: crate::train::eval::calibrate::calibrate_f1_all
    pub target_precision: Option<f32>,
    pub max_benign_fpr: f32,
}

fn qtype_name<S: serde::Serializer>(q: &QType, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(q.name())
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
            tune_blocks: 0,
            block_rank: 0,
            block_type: QType::F16,
            block_lr: 6e-5,
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
            target_precision: Some(0.9),
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

/// A split: its examples and, once computed, each text's window features.
pub(super) struct Split {
    pub(super) name: String,
    pub(super) examples: Vec<Example>,
    /// Per text, per window: its pooled state (C) on a frozen trunk, or the trunk's states
    /// (T, C) under the tuned blocks.
    pub(super) features: Vec<Vec<Vec<f32>>>,
}

fn sample(mut v: Vec<Example>, n: usize, seed: u64) -> Vec<Example> {
    if v.len() > n {
        Rng::new(seed).shuffle(&mut v);
        v.truncate(n);
    }
    v
}

pub(super) fn labels_of(e: &Example) -> Vec<f32> {
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
    if o.tune_blocks >= o.layers {
        return Err(Error::InvalidArgument(format!(
            "--tune-blocks {}: the head reads {} blocks, and at least the first stays frozen (use 0..{})",
            o.tune_blocks, o.layers, o.layers
        )));
    }
    if let Some(t) = o.target_precision {
        super::unit("target-precision", t, true)?;
    }
    super::unit("max-benign-fpr", o.max_benign_fpr, true)?;
    if o.tune_blocks > 0 && o.pooling != HeadPooling::Mean {
        return Err(Error::InvalidArgument(
            "--tune-blocks trains through the mean of the text's states: use --head-pooling mean"
                .into(),
        ));
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
    let blocks_format = match o.block_type {
        QType::F16 => BlocksFormat::Safetensors,
        q if o.tune_blocks == 0 => {
            return Err(Error::InvalidArgument(format!(
                "--block-type {}: a frozen head ships no blocks (add --tune-blocks)",
                q.name().to_lowercase()
            )))
        }
        QType::Q8_0 if o.block_rank == 0 => BlocksFormat::Gguf,
        QType::Q8_0 => {
            return Err(Error::InvalidArgument(format!(
                "--block-type q8_0 ships whole blocks: it cannot go with --block-rank {}",
                o.block_rank
            )))
        }
        q => {
            return Err(Error::InvalidArgument(format!(
                "--block-type {q}: tuned blocks ship as f16 or q8_0"
            )))
        }
    };
    Ok(HeadConfig {
        model_type: MODEL_TYPE.into(),
        trunk,
        layers: o.layers,
        tuned_blocks: o.tune_blocks,
        block_rank: if o.tune_blocks > 0 { o.block_rank } else { 0 },
        blocks_format: if o.tune_blocks > 0 {
            blocks_format
        } else {
            BlocksFormat::Safetensors
        },
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

/// The features of every text of `split` (`of` one text: its windows'), from the cache or
/// computed (in parallel over texts) and cached.
fn features(
    of: &(dyn Fn(&str) -> Result<Vec<Vec<f32>>> + Sync),
    split: &mut Split,
    cache_dir: &Path,
    key: &str,
) -> Result<()> {
    let mut h = key.as_bytes().to_vec();
    for e in &split.examples {
        h.extend_from_slice(e.text.as_bytes());
        h.push(0);
    }
    let path = cache_dir.join(format!("{}-{:016x}.bin", split.name, fnv1a(&h)));
    if let Ok(bytes) = std::fs::read(&path) {
        if let Some(f) = decode_features(&bytes, split.examples.len()) {
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
            let f = of(&e.text);
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

/// Per text: u32 windows, then per window u32 values and the values, little-endian.
fn encode_features(f: &[Vec<Vec<f32>>]) -> Vec<u8> {
    let mut out = vec![];
    for w in f {
        out.extend_from_slice(&(w.len() as u32).to_le_bytes());
        for p in w {
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            for v in p {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    out
}

fn decode_features(b: &[u8], n: usize) -> Option<Vec<Vec<Vec<f32>>>> {
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    let word = |at: usize| -> Option<[u8; 4]> { b.get(at..at + 4)?.try_into().ok() };
    for _ in 0..n {
        let k = u32::from_le_bytes(word(at)?) as usize;
        at += 4;
        let mut ws = Vec::with_capacity(k);
        for _ in 0..k {
            let c = u32::from_le_bytes(word(at)?) as usize;
            at += 4;
            let vals = b.get(at..at.checked_add(c.checked_mul(4)?)?)?;
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

/// Each text's scores (max over its windows' sigmoids), (N, L), from its cached features as
/// inference computes them: the head on a pooled state, or on a frozen trunk's states the tuned
/// blocks, the pooling and the head (`prompt`: the head's prefix and suffix tokens).
fn split_scores(
    head: &ModerationHead,
    prompt: (usize, usize),
    f: &[Vec<Vec<f32>>],
) -> Result<Vec<f32>> {
    let c = head.config.hidden_size;
    let rows = f
        .par_iter()
        .map(|ws| {
            let mut best = vec![0f32; head.labels.len()];
            for w in ws {
                let logits = if head.blocks.is_some() {
                    let x = head.top_states(w.clone())?;
                    let text = tune::text_rows(x.len() / c, prompt);
                    head.forward(&pool(&x, c, text, head.config.pooling))
                } else {
                    head.forward(w)
                };
                for (b, z) in best.iter_mut().zip(logits) {
                    *b = b.max(sigmoid(z));
                }
            }
            Ok(best)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(rows.concat())
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
        rng.shuffle(&mut order);
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
    // The frozen trunk's blocks: all `layers`, or those below the tuned ones.
    let frozen = cfg.layers - cfg.tuned_blocks;
    check_blocks_write(&trunk, &cfg, o.block_type)?;
    let reader = Moderator::with_head(
        trunk.clone(),
        ModerationHead::untrained(HeadConfig {
            tuned_blocks: 0,
            layers: frozen,
            ..cfg.clone()
        })?,
        tokenizer.clone(),
        None,
    )?;
    let prompt = reader.prompt_lens();

    let mut splits = read_splits(o)?;

    let cache = o.out.join("features");
    std::fs::create_dir_all(&cache).map_err(|e| Error::io(&cache, e))?;
    let trunk_meta = std::fs::metadata(&o.init).map_err(|e| Error::io(&o.init, e))?;
    // What the features are: pooled states, or the states (T, C) the tuned blocks read.
    let what = if cfg.tuned_blocks > 0 {
        "states"
    } else {
        "pooled"
    };
    let key = format!(
        "v2|{what}|{}|{}|{}|{:?}|{}|{}|{}",
        o.init.file_name().and_then(|n| n.to_str()).unwrap_or(""),
        trunk_meta.len(),
        frozen,
        cfg.pooling,
        cfg.prefix,
        cfg.suffix,
        cfg.window
    );
    let of = |text: &str| {
        if cfg.tuned_blocks > 0 {
            reader.window_states(text, frozen)
        } else {
            reader.pooled(text)
        }
    };
    let t_feat = Instant::now();
    for s in splits.iter_mut() {
        features(&of, s, &cache, &key)?;
    }
    let feature_s = t_feat.elapsed().as_secs_f64();

    let t_train = Instant::now();
    // The head's and the blocks' files, and the head read back from them as a bundle loads it
    // (the blocks in f16, as they ship).
    let (head_bytes, blocks, best_epoch, val_loss) = if cfg.tuned_blocks > 0 {
        let init = trunk.blocks_model(frozen..cfg.layers)?;
        let t = tune::train(o, &init, &splits, prompt)?;
        let blocks = blocks_bytes(&init, &t, &cfg, o.block_type)?;
        (
            head_safetensors(&t.mlp, &t.st)?,
            Some(blocks),
            t.epoch,
            t.val_loss,
        )
    } else {
        let (mlp, st, best_epoch, val_loss) = train(o, &splits, c)?;
        (head_safetensors(&mlp, &st)?, None, best_epoch, val_loss)
    };
    let json = serde_json::to_string(&cfg).map_err(|e| Error::Other(e.to_string()))?;
    let mut head = ModerationHead::from_bytes(&json, &head_bytes, "the trained head")?;
    if let Some(b) = &blocks {
        head.load_blocks(&trunk, b, "the trained head")?;
    }
    let train_s = t_train.elapsed().as_secs_f64();

    // Calibration on val, through the same scores inference computes.
    let val = &splits[1];
    let val_scores = split_scores(&head, prompt, &val.features)?;
    let (calibration, thresholds, target, benign_fpr) = calibrate_examples(
        &val.examples,
        &val_scores,
        o.target_precision,
        o.max_benign_fpr,
    );
    let moderator = Moderator::with_head(trunk, head.clone(), tokenizer, Some(&thresholds))?;

    let mut reports = vec![];
    for s in &splits[1..] {
        let t0 = Instant::now();
        let scores = split_scores(&head, prompt, &s.features)?;
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
        (&head_bytes, blocks.as_deref()),
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

/// Writes the trunk's own blocks as the run will write the tuned ones (`"blocks_format": "gguf"`),
/// so a trunk whose blocks cannot be (biases, rows not whole Q8_0 blocks) fails before training.
fn check_blocks_write(trunk: &Model, cfg: &HeadConfig, qtype: QType) -> Result<()> {
    if cfg.blocks_format == BlocksFormat::Gguf {
        let first = cfg.layers - cfg.tuned_blocks;
        blocks_gguf::to_bytes(&trunk.blocks_model(first..cfg.layers)?, qtype, first)?;
    }
    Ok(())
}

/// The file of the tuned blocks `t`: rank-`rank` corrections to `init`, the trunk's blocks they
/// started from, or (rank 0) the whole blocks, in f16 or (`"blocks_format": "gguf"`) `qtype`.
fn blocks_bytes(init: &Model, t: &tune::Tuned, cfg: &HeadConfig, qtype: QType) -> Result<Vec<u8>> {
    let rank = cfg.block_rank;
    if cfg.blocks_format == BlocksFormat::Gguf {
        let first = cfg.layers - cfg.tuned_blocks;
        let blocks = Model::new(
            t.config.clone(),
            t.blocks.clone(),
            crate::weights::DType::F32,
        );
        return blocks_gguf::to_bytes(&blocks, qtype, first);
    }
    if rank == 0 {
        return crate::weights::to_bytes(&t.blocks, &t.config, crate::weights::DType::F16);
    }
    let t0 = Instant::now();
    let b = low_rank::to_bytes(&init.to_params(), &t.blocks, &t.config, rank)?;
    eprintln!(
        "tuned blocks as rank-{rank} corrections: {} bytes ({:.1} s)",
        b.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(b)
}

/// Writes the moderator directory: config.json, model.safetensors (the head), blocks.safetensors
/// or blocks.gguf (its tuned blocks, when it has them), thresholds.json and calibration.json.
fn write_head(
    dir: &Path,
    config: &HeadConfig,
    (head, blocks): (&[u8], Option<&[u8]>),
    thresholds: &Thresholds,
    calibration: &[Calibration],
    target: f32,
    benign_fpr: f32,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_atomic(&dir.join("model.safetensors"), head)?;
    let blocks_path = dir.join(config.blocks_file());
    if let Some(b) = blocks {
        write_atomic(&blocks_path, b)?;
    }
    write_json_atomic(
        &dir.join("config.json"),
        &serde_json::to_value(config).map_err(|e| Error::Other(e.to_string()))?,
    )?;
    // The directory keeps no blocks of an earlier run that this config.json does not name
    // (removed once it no longer names them).
    for name in [crate::moderation::head::BLOCKS_FILE, blocks_gguf::FILE] {
        let path = dir.join(name);
        if (blocks.is_none() || path != blocks_path) && path.exists() {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    write_json_atomic(
        &dir.join("thresholds.json"),
        &serde_json::to_value(thresholds).map_err(|e| Error::Other(e.to_string()))?,
    )?;
    write_json_atomic(
        &dir.join("calibration.json"),
        &json!({
            "rule": if target > 0.0 { "target_precision" } else { "best_f1" },
            "target_precision": target,
            "val_benign_fpr": benign_fpr,
            "categories": calibration
        }),
    )
}

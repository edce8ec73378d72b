//! The moderation classifier's data and model: labeled texts as token ids and batches, the
//! positive weights and the frozen word-vector rows of the loss, the model to start from
//! (random, a pretrained trunk, or word vectors), the training-time validation, and the
//! classifier directory the run writes.

use super::augment::{echo_rows, nearest_words, SWAP_K, SWAP_MIN_COS};
use super::ModerationSettings;
use crate::config::{Family, ModelConfig, Pooling};
use crate::error::{Error, Result};
use crate::moderation::normalize::normalize;
use crate::moderation::Thresholds;
use crate::ops::bce_with_logits_forward;
use crate::params::{Params, Slot};
use crate::tokenizer::Tokenizer;
use crate::train::checkpoint;
use crate::train::eval::prf;
use crate::train::heads::Classifier;
use crate::train::model::{init_params, trunk_with_new_head};
use crate::train::moderation_data::{Example, CATEGORIES};
use crate::train::tokenizer_train::{read_tokenizer_dir, TokenizerFiles};
use crate::train::word_vectors;
use crate::weights::DType;
use rayon::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A split, tokenised: ids of each text (normalised, at most T tokens) and its targets.
pub struct Encoded {
    pub ids: Vec<Vec<u32>>,
    /// (n, L) 0/1 in label order.
    pub targets: Vec<f32>,
    /// Texts longer than T, of which the last T tokens were kept.
    pub truncated: usize,
}

/// Tokenises `text` as the [`Moderator`] does: normalise, encode, and a lone space for empty
/// text.
pub fn encode_text(tok: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    let mut ids = tok.encode(&normalize(text), false)?;
    if ids.is_empty() {
        ids = tok.encode(" ", false)?;
    }
    if ids.is_empty() {
        // A word-level tokenizer gives nothing for blank text: the pad token stands in (id 0 in
        // tinychat's tokenizers), so every text has a position to classify.
        ids = vec![0];
    }
    Ok(ids)
}

/// Tokenises examples, keeping the last `t` tokens of longer texts: the data set's long texts
/// are a benign sentence followed by the labeled one, so the end carries the label.
pub fn encode_examples(tok: &Tokenizer, examples: &[Example], t: usize) -> Result<Encoded> {
    let ids: Vec<Vec<u32>> = examples
        .par_iter()
        .map(|e| encode_text(tok, &e.text))
        .collect::<Result<_>>()?;
    let truncated = ids.iter().filter(|v| v.len() > t).count();
    let ids = ids
        .into_iter()
        .map(|v| {
            if v.len() > t {
                v[v.len() - t..].to_vec()
            } else {
                v
            }
        })
        .collect();
    let targets = examples.iter().flat_map(|e| e.target()).collect();
    Ok(Encoded {
        ids,
        targets,
        truncated,
    })
}

/// Fills a (B, T) batch from examples `idx`: ids right-padded with `pad`, their lengths and
/// (B, L) targets.
pub fn fill_batch(
    data: &Encoded,
    idx: &[usize],
    t: usize,
    pad: u32,
    inputs: &mut [u32],
    lengths: &mut [usize],
    targets: &mut [f32],
) {
    let nl = CATEGORIES.len();
    for (r, &i) in idx.iter().enumerate() {
        let ids = &data.ids[i];
        let row = &mut inputs[r * t..(r + 1) * t];
        row.fill(pad);
        row[..ids.len()].copy_from_slice(ids);
        lengths[r] = ids.len();
        targets[r * nl..(r + 1) * nl].copy_from_slice(&data.targets[i * nl..(i + 1) * nl]);
    }
}

/// Zeroes the gradient of the token-embedding rows marked in `frozen` (AdamW then leaves them
/// unchanged: no gradient, no moments, and embeddings are not weight-decayed).
pub fn freeze_rows(p: &Params, grads: &mut [f32], frozen: &[bool]) {
    if frozen.is_empty() {
        return;
    }
    let spec = p.layout.spec(Slot::TokEmb).expect("token embedding");
    let c = spec.shape[1];
    for (r, _) in frozen.iter().enumerate().filter(|(_, &f)| f) {
        let o = spec.offset + r * c;
        grads[o..o + c].fill(0.0);
    }
}

/// Per-category positive weights from the `--pos-weight` setting and the training targets.
pub fn pos_weights(setting: &str, targets: &[f32], nl: usize) -> Result<Vec<f32>> {
    match setting {
        "none" => Ok(vec![1.0; nl]),
        "auto" => {
            let n = targets.len() / nl;
            Ok((0..nl)
                .map(|j| {
                    let pos = (0..n).filter(|&i| targets[i * nl + j] > 0.5).count();
                    let neg = n - pos;
                    if pos == 0 {
                        1.0
                    } else {
                        ((neg as f32 / pos as f32).sqrt()).clamp(1.0, 10.0)
                    }
                })
                .collect())
        }
        x => match x.parse::<f32>() {
            Ok(v) if v > 0.0 && v.is_finite() => Ok(vec![v; nl]),
            _ => Err(Error::InvalidArgument(format!(
                "--pos-weight must be auto, none or a positive number, got {x:?}"
            ))),
        },
    }
}

/// Where a pretrained trunk lives: a model directory, or a pretrain run directory holding one
/// in `checkpoint/`.
pub fn init_dir(dir: &Path) -> Result<PathBuf> {
    if dir.join("config.json").exists() {
        return Ok(dir.to_path_buf());
    }
    let ck = checkpoint::dir_of(dir);
    if ck.join("config.json").exists() {
        return Ok(ck);
    }
    Err(Error::InvalidArgument(format!(
        "--init {}: no config.json there or in its checkpoint/; pass a model directory from `tinychat train pretrain`, e.g. --init runs/pretrain/checkpoint",
        dir.display()
    )))
}

fn labels() -> Vec<String> {
    CATEGORIES.iter().map(|c| c.to_string()).collect()
}

/// The classifier config of a random-init run.
fn random_config(s: &ModerationSettings, tok: &Tokenizer) -> Result<ModelConfig> {
    s.shape.check()?;
    let eot = tok.token_to_id(crate::train::tokenizer_train::SPECIAL_TOKENS[0]);
    let cfg = ModelConfig {
        bos_token_id: eot,
        eos_token_ids: eot.into_iter().collect(),
        pad_token_id: eot,
        labels: labels(),
        pooling: s.pooling,
        causal: !s.bidirectional,
        ..s.shape.llama(tok.vocab_size())
    };
    cfg.validate()
        .map_err(|m| Error::InvalidArgument(format!("model settings: {m}")))?;
    Ok(cfg)
}

/// The classifier config and parameters of a run starting from a pretrained trunk: every
/// tensor but the LM head is copied, the classification head is drawn fresh.
fn from_pretrained(dir: &Path, s: &ModerationSettings) -> Result<(ModelConfig, Params)> {
    let base = ModelConfig::from_file(dir.join("config.json"))?;
    if base.family != Family::Llama || base.is_classifier() {
        return Err(Error::InvalidArgument(format!(
            "--init {}: need a llama-family language model (from `tinychat train pretrain`)",
            dir.display()
        )));
    }
    if s.shape.seq_len > base.max_seq_len {
        return Err(Error::InvalidArgument(format!(
            "--seq-len {} exceeds the pretrained model's context {}",
            s.shape.seq_len, base.max_seq_len
        )));
    }
    let (lm, _) = crate::weights::load(dir.join("model.safetensors"), &base)?;
    let mut cfg = base.clone();
    cfg.labels = labels();
    cfg.pooling = s.pooling;
    cfg.causal = !s.bidirectional;
    cfg.max_seq_len = s.shape.seq_len;
    cfg.tie_embeddings = false;
    let p = trunk_with_new_head(&cfg, &lm, s.seed, "pretrained model")?;
    Ok((cfg, p))
}

/// Validation loss and macro F1 at threshold 0.5 (over categories with positives) on up to
/// `limit` examples, batched on the training model.
pub fn validate(
    cls: &mut Classifier,
    p: &Params,
    val: &Encoded,
    limit: usize,
    pad: u32,
    pos_weight: &[f32],
) -> Result<(f32, f32)> {
    let (b, t) = (cls.model.batch, cls.model.seq);
    let nl = CATEGORIES.len();
    let n = val.ids.len().min(limit);
    let (mut inp, mut len, mut tgt) = (vec![pad; b * t], vec![1; b], vec![0.0; b * nl]);
    let (mut tp, mut fp, mut fneg) = (vec![0; nl], vec![0; nl], vec![0; nl]);
    let mut loss = 0.0f64;
    for start in (0..n).step_by(b) {
        let idx: Vec<usize> = (0..b).map(|r| (start + r).min(n - 1)).collect();
        fill_batch(val, &idx, t, pad, &mut inp, &mut len, &mut tgt);
        echo_rows(&mut inp, &mut len, t, pad, cls.model.config.pooling);
        let logits = cls.forward(p, &inp, &len)?;
        let real = (n - start).min(b);
        loss += bce_with_logits_forward(&logits[..real * nl], &tgt[..real * nl], pos_weight) as f64
            * real as f64;
        for r in 0..real {
            for j in 0..nl {
                let (f, y) = (logits[r * nl + j] >= 0.0, tgt[r * nl + j] > 0.5);
                match (f, y) {
                    (true, true) => tp[j] += 1,
                    (true, false) => fp[j] += 1,
                    (false, true) => fneg[j] += 1,
                    _ => {}
                }
            }
        }
    }
    let f1s: Vec<f32> = (0..nl)
        .filter(|&j| tp[j] + fneg[j] > 0)
        .map(|j| prf(tp[j], fp[j], fneg[j]).2)
        .collect();
    let macro_f1 = f1s.iter().sum::<f32>() / f1s.len().max(1) as f32;
    Ok(((loss / n.max(1) as f64) as f32, macro_f1))
}

/// Writes the classifier directory atomically (into a temp directory, then renamed).
#[allow(clippy::too_many_arguments)]
pub fn write_classifier(
    dir: &Path,
    cfg: &ModelConfig,
    params: &Params,
    tok_bytes: &[u8],
    tok_config: &Value,
    thresholds: &Thresholds,
    calibration: &Value,
    notice: Option<&str>,
) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "classifier".into());
    let tmp = parent.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    crate::io::write_json_atomic(&tmp.join("config.json"), &cfg.to_hf_json())?;
    crate::weights::save(params, cfg, tmp.join("model.safetensors"), DType::F32)?;
    crate::io::write_atomic(&tmp.join("tokenizer.json"), tok_bytes)?;
    crate::io::write_json_atomic(&tmp.join("tokenizer_config.json"), tok_config)?;
    crate::io::write_json_atomic(
        &tmp.join("thresholds.json"),
        &serde_json::to_value(thresholds).expect("thresholds serialise"),
    )?;
    crate::io::write_json_atomic(&tmp.join("calibration.json"), calibration)?;
    if let Some(text) = notice {
        crate::io::write_atomic(&tmp.join(word_vectors::NOTICE_FILE), text.as_bytes())?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
}

/// What a run trains on, on stderr: the model, where it starts, the texts, the positives.
pub fn describe(
    s: &ModerationSettings,
    init: &Initial,
    train: &Encoded,
    val: &Encoded,
    pos_weight: &[f32],
    params: usize,
) {
    let nl = CATEGORIES.len();
    let pos: Vec<String> = CATEGORIES
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let n = (0..train.ids.len())
                .filter(|&i| train.targets[i * nl + j] > 0.5)
                .count();
            format!("{c} {n} (w {:.1})", pos_weight[j])
        })
        .collect();
    let cfg = &init.cfg;
    eprintln!(
        "moderation classifier: {} parameters (dim {}, {} layers, {} heads / {} kv, ffn {}, vocab {}){}{}; {} train texts ({} cut to their last {} tokens{}), {} val texts\npositives: {}",
        params,
        cfg.dim,
        cfg.n_layers,
        cfg.n_heads,
        cfg.n_kv_heads,
        cfg.hidden_dim,
        cfg.vocab_size,
        init.init.as_ref().map_or(
            if s.word_vectors.is_some() { ", random trunk" } else { ", random init" }.into(),
            |d| format!(", trunk from {}", d.display())
        ),
        init.note,
        train.ids.len(),
        train.truncated,
        s.pooling.window(s.shape.seq_len),
        if s.pooling == Pooling::EchoMax { ", read twice" } else { "" },
        val.ids.len(),
        pos.join(", ")
    );
}

/// What a run starts from, before a checkpoint is consulted.
pub struct Initial {
    pub tok: TokenizerFiles,
    pub cfg: ModelConfig,
    /// The parameters of a pretrained trunk or of word vectors (None: a random init).
    pub params: Option<Params>,
    /// The pretrained trunk's model directory (`init`).
    pub init: Option<PathBuf>,
    /// Rows of the token embedding kept fixed (word vectors); empty when none are.
    pub frozen_rows: Vec<bool>,
    /// Each token's nearest word vectors for word swap; empty without it.
    pub neighbours: Vec<Vec<u32>>,
    /// What the word vectors made of the vocabulary, for the banner.
    pub note: String,
}

/// The tokenizer, config and (when not random) parameters a run starts from: word vectors with
/// their word-level tokenizer built on `train_ex`, a pretrained trunk (`s.init`), or a random
/// init with the tokenizer in `tokenizer`.
pub fn initial(s: &ModerationSettings, tokenizer: &Path, train_ex: &[Example]) -> Result<Initial> {
    let init = s.init.as_deref().map(init_dir).transpose()?;
    if let Some(path) = &s.word_vectors {
        return from_word_vectors(s, path, train_ex);
    }
    let tok = match &init {
        Some(d) => read_tokenizer_dir(d, "the pretrained model directory needs its tokenizer")?,
        None => read_tokenizer_dir(
            tokenizer,
            &format!(
                "train a tokenizer first: `tinychat train tokenizer --out {}`",
                tokenizer.display()
            ),
        )?,
    };
    let (cfg, params) = match &init {
        Some(d) => {
            let (c, p) = from_pretrained(d, s)?;
            (c, Some(p))
        }
        None => (random_config(s, &tok.tokenizer)?, None),
    };
    Ok(Initial {
        tok,
        cfg,
        params,
        init,
        frozen_rows: vec![],
        neighbours: vec![],
        note: String::new(),
    })
}

/// A random trunk whose token embedding holds the word vectors (see [`word_vectors::build`]).
fn from_word_vectors(s: &ModerationSettings, path: &Path, train_ex: &[Example]) -> Result<Initial> {
    let wv = word_vectors::load(path)?;
    let texts: Vec<&str> = train_ex.iter().map(|e| e.text.as_str()).collect();
    let wi = word_vectors::build(
        &wv,
        &texts,
        s.vocab_top,
        2,
        s.shape.dim,
        s.word_vector_std,
        s.seed,
    )?;
    let cfg = random_config(s, &wi.tok)?;
    let mut p = init_params(&cfg, s.seed);
    let spec = p
        .layout
        .spec(Slot::TokEmb)
        .expect("token embedding")
        .clone();
    p.data[spec.offset..spec.offset + spec.len].copy_from_slice(&wi.embeddings);
    let mut note = format!(
        "; word-level vocabulary from {} ({}-d vectors, {} words): the top {}, {} more training words with vectors, {} without (random{})",
        path.display(),
        wv.dim,
        wv.words.len(),
        s.vocab_top.min(wv.words.len()),
        wi.added_with_vector,
        wi.added_without_vector,
        if s.freeze_word_vectors { "; vector rows fixed" } else { "" }
    );
    let mut neighbours = vec![];
    if s.word_swap > 0.0 {
        let t0 = Instant::now();
        neighbours = nearest_words(
            &wi.embeddings,
            s.shape.dim,
            &wi.from_vectors,
            SWAP_K,
            SWAP_MIN_COS,
        );
        let with = neighbours.iter().filter(|n| !n.is_empty()).count();
        note.push_str(&format!(
            "; word swap {}: {with} words have neighbours (cosine ≥ {SWAP_MIN_COS}, up to {SWAP_K}; {:.1} s)",
            s.word_swap,
            t0.elapsed().as_secs_f64()
        ));
    }
    Ok(Initial {
        tok: TokenizerFiles {
            json: wi.tokenizer,
            tokenizer: wi.tok,
            config: word_vectors::tokenizer_config_json(),
        },
        cfg,
        params: Some(p),
        init: None,
        frozen_rows: if s.freeze_word_vectors {
            wi.from_vectors
        } else {
            vec![]
        },
        neighbours,
        note,
    })
}

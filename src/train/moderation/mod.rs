//! `tinychat train moderation`: the moderation classifier — the shared transformer trunk with a
//! multi-label head, one sigmoid per category (`tinychat eval moderation` is
//! [`crate::train::eval::moderation`]).
//!
//! ```text
//! text ─► normalize ─► tokens (right-padded to T, length len_b) ─► trunk ─► h (B·T, C)
//! z_b = W · pool(h[b, 0..len_b])             W: (L, C), HF `score.weight`       logits (B, L)
//! pool = each channel's max over the positions (`--pooling max`), or the last
//!        position h[b, len_b − 1] (`--pooling last`, transformers' sequence classifiers), or
//!        (`--pooling echo_max`) the max over the second half of `x sep x`: the text, at most
//!        (T − 1) / 2 tokens, is read twice so every pooled position has seen all of it
//! loss = mean over B × L of  (1 − y)·z + w·softplus(−z),   w = 1 + (pos_weight − 1)·y
//! ```
//!
//! The loss is PyTorch's `BCEWithLogitsLoss(pos_weight=...)`; with pos_weight = 1 it is
//! −[y·log σ(z) + (1 − y)·log(1 − σ(z))]. Its gradient is ∂l/∂z = (1 − y) − w·σ(−z)
//! (= σ(z) − y when pos_weight = 1). Attention is causal, so the pad tokens after position
//! len_b − 1 cannot change h there, and the pooling reads positions 0..len_b only: padding needs
//! no mask. With `--bidirectional` every position attends to the whole text, and the padding
//! keys are masked instead (`TrainModel::set_key_lengths`). Max pooling lets a harmful phrase
//! anywhere in the text drive the score directly, instead of through attention into the last
//! token; on the held-out split it generalised better (README, "Training the moderation
//! classifier").
//!
//! After training, every category gets a threshold calibrated on the validation split: the
//! lowest score threshold whose precision reaches `--target-precision` (most recall at that
//! precision), or the best-F1 threshold when no threshold reaches it. Then, while more than
//! `--max-benign-fpr` of the benign validation texts would be flagged by some category, the
//! category that flags the most of them has its target precision raised by 0.005 and is
//! calibrated again (the others keep theirs); see [`crate::train::eval::calibrate`]. Validation
//! scores come from the `Moderator`, the inference path, so the thresholds fit what users run.
//!
//! The run directory:
//!
//! ```text
//! <out>/checkpoint/    the latest training state (model directory + optimizer + trainer_state)
//! <out>/classifier/    config.json (id2label, problem_type)  model.safetensors  tokenizer.json
//!                      tokenizer_config.json  thresholds.json  calibration.json
//!                      NOTICE.md (with --word-vectors: the vectors' source and licence)
//!                      — what `Moderator::load` and `tinychat moderate --model` read
//! <out>/metrics.jsonl  <out>/loss.png
//! ```

pub mod augment;
pub mod classifier;
pub mod head;
mod mlp;
mod options;
mod tune;

pub use options::{
    preset, ModerationOptions, ModerationSettings, Preset, DEFAULT_VOCAB_TOP,
    DEFAULT_WORD_VECTOR_DROPOUT, DEFAULT_WORD_VECTOR_STD,
};

use super::data::fnv1a;
use super::eval::calibrate::{calibrate_val, Calibration, ValCalibration};
pub use super::heads::Classifier;
use super::metrics::text;
use super::trainer::{Fingerprint, Learner, Plot, Report, Stage, Start, Trainer};
use super::word_vectors;
use crate::config::Pooling;
use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::train::moderation_data::{read_jsonl, Example, CATEGORIES};
use augment::{drop_tokens, echo_rows, swap_words};
use classifier::{
    describe, encode_examples, fill_batch, freeze_rows, initial, pos_weights, validate,
    write_classifier, Encoded, Initial,
};
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Summary of a finished (or stopped) run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub steps_done: usize,
    pub train_loss: f32,
    pub val_loss: Option<f32>,
    pub val_macro_f1: Option<f32>,
    pub wall_s: f64,
    /// The classifier directory (absent when the run stopped early).
    pub classifier: Option<PathBuf>,
    pub calibration: Vec<Calibration>,
    /// The precision the thresholds were calibrated for (above `--target-precision` when the
    /// benign false-positive budget raised it) and the benign validation FPR they give.
    pub target_precision: f32,
    pub val_benign_fpr: f32,
    /// Macro F1 on the validation split at the calibrated thresholds (implied parents counted).
    #[serde(default)]
    pub val_calibrated_macro_f1: Option<f32>,
}

/// Refuses a flag `--name` whose value `x` is not in [0, 1] (`closed`) or [0, 1).
pub(super) fn unit(name: &str, x: f32, closed: bool) -> Result<()> {
    let ok = if closed {
        (0.0..=1.0).contains(&x)
    } else {
        (0.0..1.0).contains(&x)
    };
    if ok {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "--{name} must be in [0, 1{}, got {x}",
        if closed { "]" } else { ")" }
    )))
}

/// Refuses settings that cannot train.
fn check(s: &ModerationSettings, o: &ModerationOptions) -> Result<()> {
    if s.batch_size == 0 || s.schedule.steps == 0 || s.shape.seq_len == 0 {
        return Err(Error::InvalidArgument(
            "batch size, steps and sequence length must be positive".into(),
        ));
    }
    if s.bidirectional && s.pooling == Pooling::EchoMax {
        return Err(Error::InvalidArgument(
            "--bidirectional with --pooling echo_max: a bidirectional trunk already reads the \
             whole text at every position, so reading it twice adds nothing; use --pooling max"
                .into(),
        ));
    }
    unit("word-swap", s.word_swap, false)?;
    unit("token-dropout", s.token_dropout, false)?;
    unit("target-precision", o.target_precision, true)?;
    unit("max-benign-fpr", o.max_benign_fpr, true)
}

/// The train and val splits of the data set, neither empty.
fn read_splits(data: &Path) -> Result<(Vec<Example>, Vec<Example>)> {
    let split = |name: &str| -> Result<Vec<Example>> {
        let path = data.join(format!("{name}.jsonl"));
        if !path.exists() {
            return Err(Error::InvalidArgument(format!(
                "{} is missing: prepare the moderation data first (`tinychat data prepare`)",
                path.display()
            )));
        }
        read_jsonl(&path)
    };
    let (train, val) = (split("train")?, split("val")?);
    if train.is_empty() || val.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: the train and val splits must not be empty",
            data.display()
        )));
    }
    Ok((train, val))
}

/// The stage's state between steps (see [`Stage`]).
struct Moderation<'a> {
    o: &'a ModerationOptions,
    s: ModerationSettings,
    init: Initial,
    tok_hash: u64,
    train: Encoded,
    val: Encoded,
    val_ex: Vec<Example>,
    pos_weight: Vec<f32>,
    pad: u32,
    order: super::trainer::EpochOrder,
    cls: Classifier,
    learner: Learner,
    idx: Vec<usize>, // (B) examples of the batch
    inp: Vec<u32>,   // (B, T)
    len: Vec<usize>, // (B)
    tgt: Vec<f32>,   // (B, L)
    clock: Instant,
    /// Texts trained on in this invocation.
    seen: usize,
    /// The last step's loss and texts per second; the last validation's loss and macro F1.
    last: (f32, f64),
    last_val: Option<(f32, f32)>,
}

impl Moderation<'_> {
    /// Thresholds calibrated on the whole validation split with the current parameters.
    fn calibrate(&self) -> Result<ValCalibration> {
        calibrate_val(
            &self.init.cfg,
            &self.learner.params,
            &self.init.tok.json,
            &self.val_ex,
            self.o.target_precision,
            self.o.max_benign_fpr,
        )
    }

    /// Fills the next batch, augmented (word swap, word dropout, echo rows) for step `step`.
    fn batch(&mut self, step: usize) {
        let (s, t, pad) = (&self.s, self.s.shape.seq_len, self.pad);
        for i in self.idx.iter_mut() {
            *i = self.order.next_index();
        }
        let (inp, len) = (&mut self.inp, &mut self.len);
        fill_batch(&self.train, &self.idx, t, pad, inp, len, &mut self.tgt);
        if s.word_swap > 0.0 {
            let mut rng = Rng::new(s.seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            swap_words(inp, len, t, &self.init.neighbours, s.word_swap, &mut rng);
        }
        if s.token_dropout > 0.0 {
            let mut rng = Rng::new(s.seed ^ (step as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            drop_tokens(inp, len, t, pad, s.token_dropout, &mut rng);
        }
        echo_rows(inp, len, t, pad, s.pooling);
    }
}

impl Stage for Moderation<'_> {
    fn step(&mut self, step: usize) -> Result<Report> {
        self.batch(step);
        let (cls, frozen) = (&mut self.cls, &self.init.frozen_rows);
        let (inp, len, tgt, pw) = (&self.inp, &self.len, &self.tgt, &self.pos_weight);
        let st = self.learner.step(step, |params, grads| {
            let loss = cls.bce_forward_backward(params, grads, inp, len, tgt, pw, 1.0)?;
            freeze_rows(params, grads, frozen);
            Ok(loss)
        })?;
        let (done, b, loss) = (step + 1, self.s.batch_size, st.loss);
        let el = self.clock.elapsed().as_secs_f64();
        self.seen += b;
        let eps = self.seen as f64 / el.max(1e-9);
        self.last = (loss, eps);
        Ok(Report {
            line: json!({"step": done, "loss": loss, "lr": st.lr, "grad_norm": st.grad_norm, "examples": done * b, "ex_per_s": (eps * 10.0).round() / 10.0, "elapsed_s": el}),
            text: format!("loss {loss:.4} | {eps:.0} texts/s"),
        })
    }

    fn validate(&mut self, done: usize) -> Result<Vec<Report>> {
        let p = &self.learner.params;
        let (vl, vf) = validate(
            &mut self.cls,
            p,
            &self.val,
            self.o.eval_examples,
            self.pad,
            &self.pos_weight,
        )?;
        self.last_val = Some((vl, vf));
        let (loss, eps) = self.last;
        Ok(vec![Report {
            line: json!({"step": done, "val_loss": vl, "val_macro_f1_at_0.5": vf}),
            text: format!("step {done}: train loss {loss:.4}, val loss {vl:.4}, val macro F1 (at 0.5) {vf:.3}, {eps:.0} texts/s"),
        }])
    }

    /// `calibrate_every`: the thresholds the end of the run would choose, and what they give.
    fn after_step(&mut self, done: usize) -> Result<Vec<Report>> {
        let every = self.o.calibrate_every;
        if every == 0 || done % every != 0 || done >= self.s.schedule.steps {
            return Ok(vec![]);
        }
        let t_cal = Instant::now();
        let vc = self.calibrate()?;
        Ok(vec![Report {
            line: json!({"step": done, "val_calibrated_macro_f1": vc.macro_f1, "val_calibrated_benign_fpr": vc.benign_fpr}),
            text: format!(
                "step {done}: calibrated val macro F1 {:.3} with {:.2}% of the benign val texts flagged ({:.0}s)",
                vc.macro_f1,
                vc.benign_fpr * 100.0,
                t_cal.elapsed().as_secs_f64()
            ),
        }])
    }

    fn save(&mut self, done: usize) -> Result<()> {
        let mut state = self.order.state(done, &self.s);
        state["tokenizer_hash"] = format!("{:016x}", self.tok_hash).into();
        state["stage"] = "moderation".into();
        let tok = (&self.init.tok.json[..], &self.init.tok.config);
        self.learner
            .save(&self.o.run.out, &self.init.cfg, &state, tok)
    }
}

/// Runs `tinychat train moderation`.
pub fn run(o: &ModerationOptions) -> Result<Summary> {
    let t_start = Instant::now();
    let s = o.settings();
    check(&s, o)?;
    let (train_ex, val_ex) = read_splits(&o.data)?;
    let init = initial(&s, &o.tokenizer, &train_ex)?;
    let tok_hash = fnv1a(&init.tok.json);
    let (b, t, nl) = (s.batch_size, s.shape.seq_len, CATEGORIES.len());
    // Text tokens per example: T, or (T − 1) / 2 when the trunk reads each text twice.
    let train = encode_examples(&init.tok.tokenizer, &train_ex, s.pooling.window(t))?;
    let val = encode_examples(&init.tok.tokenizer, &val_ex, s.pooling.window(t))?;
    let pos_weight = pos_weights(&s.pos_weight, &train.targets, nl)?;
    let pad = init.cfg.pad_token_id.unwrap_or(0);

    let mut order = super::trainer::EpochOrder::shuffled(train.ids.len(), s.seed);
    let start = if o.run.resume {
        let fp = Fingerprint::tokenizer(tok_hash);
        let st = Start::resume(
            &o.run.out,
            &s,
            Some(&init.cfg),
            s.schedule.adamw.clone(),
            &fp,
        )?;
        order.seek(st.data_position.0, st.data_position.1);
        st
    } else {
        let cfg = &init.cfg;
        let p = (init.params.clone()).unwrap_or_else(|| super::model::init_params(cfg, s.seed));
        Start::fresh(cfg.clone(), p, s.schedule.adamw.clone())
    };
    let cls = Classifier::new(&init.cfg, b, t)?;
    if !o.run.quiet {
        describe(
            &s,
            &init,
            &train,
            &val,
            &pos_weight,
            start.params.data.len(),
        );
    }
    let mut trainer =
        Trainer::open(&o.run, s.schedule.steps, start.step)?.validate_every(o.eval_every);
    let mut stage = Moderation {
        o,
        learner: Learner::new(start.params, start.opt, s.schedule.clone()),
        s,
        init,
        tok_hash,
        train,
        val,
        val_ex,
        pos_weight,
        pad,
        order,
        cls,
        idx: vec![0; b],
        inp: vec![pad; b * t],
        len: vec![1; b],
        tgt: vec![0.0; b * nl],
        clock: Instant::now(),
        seen: 0,
        last: (f32::NAN, 0.0),
        last_val: None,
    };
    trainer.run(&mut stage)?;
    trainer.plot(Plot::Losses {
        text: text::MODERATION,
        entropy: None,
    })?;
    let mut summary = Summary {
        steps_done: trainer.end,
        train_loss: stage.last.0,
        val_loss: stage.last_val.map(|v| v.0),
        val_macro_f1: stage.last_val.map(|v| v.1),
        wall_s: 0.0,
        classifier: None,
        calibration: vec![],
        target_precision: o.target_precision,
        val_benign_fpr: 0.0,
        val_calibrated_macro_f1: None,
    };
    if trainer.end == stage.s.schedule.steps {
        finish(&stage, &mut trainer, &mut summary)?;
    }
    summary.wall_s = t_start.elapsed().as_secs_f64();
    if !o.run.quiet {
        eprintln!(
            "done: {} steps, train loss {:.4}, val loss {}, {:.0}s; classifier {}",
            summary.steps_done,
            summary.train_loss,
            summary.val_loss.map_or("-".into(), |v| format!("{v:.4}")),
            summary.wall_s,
            summary.classifier.as_ref().map_or(
                "not written (stopped early; --resume continues)".into(),
                |d| d.display().to_string()
            )
        );
    }
    Ok(summary)
}

/// The end of a full run: thresholds calibrated on the whole validation split through the
/// inference path, logged, and the classifier directory written with them.
fn finish(m: &Moderation, trainer: &mut Trainer, summary: &mut Summary) -> Result<()> {
    let (o, end) = (m.o, trainer.end);
    let t_cal = Instant::now();
    let ValCalibration {
        calibration: cal,
        thresholds,
        target,
        benign_fpr: fpr,
        macro_f1,
    } = m.calibrate()?;
    trainer.log.write(&json!({"step": end, "val_calibrated_macro_f1": macro_f1, "val_calibrated_benign_fpr": fpr}))?;
    summary.val_calibrated_macro_f1 = Some(macro_f1);
    summary.calibration = cal;
    summary.target_precision = target;
    summary.val_benign_fpr = fpr;
    let dir = o.run.out.join("classifier");
    let cal_json = json!({
        "target_precision": o.target_precision,
        "max_benign_fpr": o.max_benign_fpr,
        "target_precision_used": target,
        "val_benign_fpr": fpr,
        "val_macro_f1": macro_f1,
        "split": o.data.join("val.jsonl"),
        "examples": m.val_ex.len(),
        "categories": summary.calibration,
    });
    let init = &m.init;
    write_classifier(
        &dir,
        &init.cfg,
        &m.learner.params,
        &init.tok.json,
        &init.tok.config,
        &thresholds,
        &cal_json,
        m.s.word_vectors.as_ref().map(|_| word_vectors::NOTICE),
    )?;
    if !o.run.quiet {
        eprintln!(
            "calibrated thresholds on {} val texts for precision ≥ {}{} ({:.0}s); {:.2}% of the benign val texts flagged, macro F1 {:.3}:",
            m.val_ex.len(),
            o.target_precision,
            if target > o.target_precision {
                format!(
                    " (raised for some categories, up to {target}, to keep the benign false-positive rate ≤ {})",
                    o.max_benign_fpr
                )
            } else {
                String::new()
            },
            t_cal.elapsed().as_secs_f64(),
            fpr * 100.0,
            macro_f1
        );
        for c in &summary.calibration {
            eprintln!(
                "  {:<24} threshold {:.3}  precision {:.3}  recall {:.3}  F1 {:.3}  ({} positives, {} {})",
                c.category, c.threshold, c.precision, c.recall, c.f1, c.positives, c.method, c.target
            );
        }
    }
    summary.classifier = Some(dir);
    Ok(())
}

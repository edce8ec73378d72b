//! `tinychat train pretrain`: next-token training of a llama-family model on a prepared corpus.
//!
//! One knob, `preset`, sets the model shape and the schedule; every hyperparameter also has
//! its own option that overrides the preset. The run directory holds the checkpoint (a model
//! directory, see `checkpoint.rs`), `metrics.jsonl` and `loss.png`.

use super::checkpoint;
use super::data::{fnv1a, tokenize_split, Batcher};
use super::heads::LmBatches;
use super::model::{init_params, TrainModel};
use super::settings::{Overrides, Schedule, Shape};
use super::tokenizer_train::{read_tokenizer_dir, SPECIAL_TOKENS};
use super::trainer::{Fingerprint, Learner, Plot, Report, RunOptions, Stage, Start, Trainer};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::params::Params;
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// tiny: ~3.1M parameters with a 4096 vocabulary, about ten minutes on 2 cores; small: ~13M
/// parameters, about an hour.
pub use super::settings::Preset;

/// Everything that determines a run's numbers (saved in trainer_state.json; a resume must match).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    #[serde(flatten)]
    pub shape: Shape,
    pub tie_embeddings: bool,
    /// Sequences per micro-batch B, and micro-batches per optimiser step.
    pub batch_size: usize,
    pub grad_accum: usize,
    #[serde(flatten)]
    pub schedule: Schedule,
    /// Seed of the initialisation and the data order.
    pub seed: u64,
}

/// The settings of a preset (see [`Preset`]).
pub fn preset(p: Preset) -> TrainSettings {
    TrainSettings {
        tie_embeddings: false,
        batch_size: 16,
        grad_accum: 1,
        seed: 1337,
        shape: p.pick(
            Shape::new(192, 4, 6, 2, 512, 128),
            Shape::new(384, 6, 6, 2, 1024, 256),
        ),
        schedule: p.pick(
            Schedule::new(300, 3e-3, 3e-4, 20, 0.1),
            Schedule::new(2000, 1.5e-3, 1.5e-4, 100, 0.1),
        ),
    }
}

/// `tinychat train pretrain`, option for option (each field is named as its flag).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PretrainOptions {
    /// Model shape and schedule; `overrides` and the options after it replace single values.
    /// Default tiny.
    pub preset: Preset,
    /// Prepared corpus (train.jsonl and val.jsonl, from `tinychat data prepare`). Default
    /// data/corpus.
    pub data: PathBuf,
    /// Directory with tokenizer.json (from `tinychat train tokenizer`). Default data/tokenizer.
    pub tokenizer: PathBuf,
    pub overrides: Overrides,
    /// Tie the output head to the token embedding.
    pub tie_embeddings: Option<bool>,
    /// Micro-batches per optimiser step.
    pub grad_accum: Option<usize>,
    /// AdamW's β1, β2 and ε.
    pub beta1: Option<f32>,
    pub beta2: Option<f32>,
    pub eps: Option<f32>,
    /// Evaluate the validation loss every this many steps (and at the end). Default 50.
    pub eval_every: usize,
    /// Validation batches per evaluation. Default 8.
    pub eval_batches: usize,
    /// Run directory (default runs/pretrain), resume, checkpoints every 100 steps; `quiet`
    /// also skips the sample at the end.
    pub run: RunOptions,
}

impl Default for PretrainOptions {
    fn default() -> Self {
        PretrainOptions {
            preset: Preset::Tiny,
            data: "data/corpus".into(),
            tokenizer: "data/tokenizer".into(),
            overrides: Overrides::default(),
            tie_embeddings: None,
            grad_accum: None,
            beta1: None,
            beta2: None,
            eps: None,
            eval_every: 50,
            eval_batches: 8,
            run: RunOptions::new("runs/pretrain", 100),
        }
    }
}

impl PretrainOptions {
    /// The preset's settings with the options that are set.
    pub fn settings(&self) -> TrainSettings {
        let mut s = preset(self.preset);
        s.tie_embeddings = self.tie_embeddings.unwrap_or(s.tie_embeddings);
        s.grad_accum = self.grad_accum.unwrap_or(s.grad_accum);
        let adamw = &mut s.schedule.adamw;
        adamw.beta1 = self.beta1.unwrap_or(adamw.beta1);
        adamw.beta2 = self.beta2.unwrap_or(adamw.beta2);
        adamw.eps = self.eps.unwrap_or(adamw.eps);
        let o = &self.overrides;
        o.apply(&mut s.shape, &mut s.schedule);
        s.batch_size = o.batch_size.unwrap_or(s.batch_size);
        s.seed = o.seed.unwrap_or(s.seed);
        s
    }
}

/// The model config a run trains.
pub fn model_config(s: &TrainSettings, vocab: usize, tok: &Tokenizer) -> Result<ModelConfig> {
    s.shape.check()?;
    let eot = tok.token_to_id(SPECIAL_TOKENS[0]);
    let im_end = tok.token_to_id(SPECIAL_TOKENS[2]);
    let cfg = ModelConfig {
        tie_embeddings: s.tie_embeddings,
        bos_token_id: eot,
        eos_token_ids: eot.into_iter().chain(im_end).collect(),
        pad_token_id: eot,
        ..s.shape.llama(vocab)
    };
    cfg.validate()
        .map_err(|m| Error::InvalidArgument(format!("model settings: {m}")))?;
    Ok(cfg)
}

/// Token ids of a split, cached beside the corpus under a name that includes the tokenizer's hash.
fn load_tokens(data: &Path, split: &str, tok: &Tokenizer, tok_hash: u64) -> Result<Vec<u32>> {
    let src = data.join(format!("{split}.jsonl"));
    let cache = data
        .join("tokens")
        .join(format!("{split}-{tok_hash:016x}.u32"));
    if let (Ok(c), Ok(s)) = (std::fs::metadata(&cache), std::fs::metadata(&src)) {
        if c.modified().ok() >= s.modified().ok() {
            let bytes = std::fs::read(&cache).map_err(|e| Error::io(&cache, e))?;
            return Ok(bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect());
        }
    }
    if !src.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} is missing: prepare a corpus first, e.g. `tinychat data prepare --out {}`",
            src.display(),
            data.display()
        )));
    }
    let eot = tok.token_to_id(SPECIAL_TOKENS[0]).ok_or_else(|| {
        Error::Tokenizer(format!(
            "the tokenizer has no {} token; train one with `tinychat train tokenizer`",
            SPECIAL_TOKENS[0]
        ))
    })?;
    let ids = tokenize_split(&src, tok, eot)?;
    let bytes: Vec<u8> = ids.iter().flat_map(|x| x.to_le_bytes()).collect();
    crate::io::write_atomic(&cache, &bytes)?;
    Ok(ids)
}

/// Entropy (nats) of the unigram distribution of `ids`: the loss of a model that ignores context.
pub fn unigram_entropy(ids: &[u32], vocab: usize) -> f64 {
    let mut counts = vec![0u64; vocab];
    for &i in ids {
        counts[i as usize] += 1;
    }
    let n = ids.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Summary of a finished (or stopped) run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub steps_done: usize,
    pub train_loss: f32,
    pub val_loss: Option<f32>,
    pub unigram_entropy: f64,
    pub tokens_per_s: f64,
    pub wall_s: f64,
    pub checkpoint: PathBuf,
}

/// Mean loss over `batches` validation batches (windows taken in order, wrapping around).
fn evaluate(model: &mut TrainModel, params: &Params, val: &[u32], batches: usize) -> Result<f32> {
    let (b, t) = (model.batch, model.seq);
    let windows = (val.len().saturating_sub(1) / t).max(1);
    if val.len() < t + 1 {
        return Err(Error::InvalidArgument(format!(
            "the validation split has {} tokens, fewer than one sequence of {}",
            val.len(),
            t + 1
        )));
    }
    let (mut inp, mut tgt) = (vec![0u32; b * t], vec![0u32; b * t]);
    let mut sum = 0.0f64;
    for i in 0..batches {
        for r in 0..b {
            let w = (i * b + r) % windows;
            inp[r * t..(r + 1) * t].copy_from_slice(&val[w * t..w * t + t]);
            tgt[r * t..(r + 1) * t].copy_from_slice(&val[w * t + 1..w * t + t + 1]);
        }
        sum += model.forward(params, &inp, &tgt)? as f64;
    }
    Ok((sum / batches as f64) as f32)
}

/// The stage's state between steps (see [`Stage`]).
struct Pretrain<'a> {
    o: &'a PretrainOptions,
    s: TrainSettings,
    cfg: ModelConfig,
    tok: super::tokenizer_train::TokenizerFiles,
    tok_hash: u64,
    train: Vec<u32>,
    val: Vec<u32>,
    batcher: Batcher,
    lm: LmBatches,
    learner: Learner,
    clock: Instant,
    tokens_done: usize,
    /// The last step's loss and throughput, and the last validation loss.
    last: (f32, f64),
    last_val: Option<f32>,
}

impl Stage for Pretrain<'_> {
    fn step(&mut self, step: usize) -> Result<Report> {
        let (b, t, accum) = (self.s.batch_size, self.s.shape.seq_len, self.s.grad_accum);
        let (train, batcher, lm) = (&self.train, &mut self.batcher, &mut self.lm);
        let st = self.learner.step(step, |params, grads| {
            lm.accumulate(params, grads, accum, |inp, tgt| {
                batcher.next_batch(train, b, inp, tgt)
            })
        })?;
        let tokens_per_step = b * t * accum;
        self.tokens_done += tokens_per_step;
        let el = self.clock.elapsed().as_secs_f64();
        let tps = self.tokens_done as f64 / el.max(1e-9);
        let (done, loss) = (step + 1, st.loss);
        self.last = (loss, tps);
        Ok(Report {
            line: json!({"step": done, "loss": loss, "lr": st.lr, "grad_norm": st.grad_norm, "tokens": done * tokens_per_step, "tok_per_s": tps.round(), "elapsed_s": el}),
            text: format!("loss {loss:.3} | {tps:.0} tok/s"),
        })
    }

    fn validate(&mut self, done: usize) -> Result<Vec<Report>> {
        let p = &self.learner.params;
        let v = evaluate(&mut self.lm.model, p, &self.val, self.o.eval_batches)?;
        self.last_val = Some(v);
        let (loss, tps) = self.last;
        Ok(vec![Report {
            line: json!({"step": done, "val_loss": v}),
            text: format!("step {done}: train loss {loss:.4}, val loss {v:.4}, {tps:.0} tok/s"),
        }])
    }

    fn save(&mut self, done: usize) -> Result<()> {
        let mut state = self.batcher.order.state(done, &self.s);
        state["tokenizer_hash"] = format!("{:016x}", self.tok_hash).into();
        state["train_tokens"] = self.train.len().into();
        let tok = (&self.tok.json[..], &self.tok.config);
        self.learner.save(&self.o.run.out, &self.cfg, &state, tok)
    }
}

/// Runs `tinychat train pretrain`.
pub fn run(o: &PretrainOptions) -> Result<Summary> {
    let t_start = Instant::now();
    let s = o.settings();
    if s.batch_size == 0 || s.grad_accum == 0 || s.schedule.steps == 0 || s.shape.seq_len == 0 {
        return Err(Error::InvalidArgument(
            "batch size, grad accumulation, steps and sequence length must be positive".into(),
        ));
    }
    let hint = format!(
        "train a tokenizer first: `tinychat train tokenizer --out {}`",
        o.tokenizer.display()
    );
    let tok = read_tokenizer_dir(&o.tokenizer, &hint)?;
    let tok_hash = fnv1a(&tok.json);
    let vocab = tok.tokenizer.vocab_size();
    let cfg = model_config(&s, vocab, &tok.tokenizer)?;
    let train = load_tokens(&o.data, "train", &tok.tokenizer, tok_hash)?;
    let val = load_tokens(&o.data, "val", &tok.tokenizer, tok_hash)?;
    let entropy = unigram_entropy(&train, vocab);

    let mut batcher = Batcher::new(train.len(), s.shape.seq_len, s.seed)?;
    let start = if o.run.resume {
        let fp = Fingerprint::tokenizer(tok_hash);
        let st = Start::resume(&o.run.out, &s, Some(&cfg), s.schedule.adamw.clone(), &fp)?;
        batcher.order.seek(st.data_position.0, st.data_position.1);
        st
    } else {
        Start::fresh(
            cfg.clone(),
            init_params(&cfg, s.seed),
            s.schedule.adamw.clone(),
        )
    };
    let lm = LmBatches::new(&cfg, s.batch_size, s.shape.seq_len)?;
    if !o.run.quiet {
        let sh = &s.shape;
        eprintln!(
            "pretraining {} parameters (dim {}, {} layers, {} heads / {} kv, ffn {}, vocab {}) on {} train tokens ({} windows of {}), {} val tokens; unigram entropy {:.3} nats",
            start.params.data.len(), sh.dim, sh.layers, sh.heads, sh.kv_heads, sh.ffn, vocab, train.len(), batcher.windows(), sh.seq_len, val.len(), entropy
        );
    }
    let mut trainer =
        Trainer::open(&o.run, s.schedule.steps, start.step)?.validate_every(o.eval_every);
    let mut stage = Pretrain {
        learner: Learner::new(start.params, start.opt, s.schedule.clone()),
        clock: Instant::now(),
        o,
        s,
        cfg,
        tok,
        tok_hash,
        train,
        val,
        batcher,
        lm,
        tokens_done: 0,
        last: (f32::NAN, 0.0),
        last_val: None,
    };
    trainer.run(&mut stage)?;
    trainer.plot(Plot::Losses {
        text: super::metrics::text::PRETRAIN,
        entropy: Some(entropy),
    })?;
    let wall = stage.clock.elapsed().as_secs_f64();
    let summary = Summary {
        steps_done: trainer.end,
        train_loss: stage.last.0,
        val_loss: stage.last_val,
        unigram_entropy: entropy,
        tokens_per_s: stage.tokens_done as f64 / wall.max(1e-9),
        wall_s: t_start.elapsed().as_secs_f64(),
        checkpoint: checkpoint::dir_of(&o.run.out),
    };
    if !o.run.quiet {
        report_done(&summary, trainer.end > trainer.start);
    }
    Ok(summary)
}

/// The end of a run on stderr, and a sample of the model when it trained in this invocation.
fn report_done(summary: &Summary, trained: bool) {
    eprintln!(
        "done: {} steps, train loss {:.4}, val loss {}, unigram entropy {:.3}, {:.0} tok/s, {:.0}s; checkpoint {}",
        summary.steps_done,
        summary.train_loss,
        summary.val_loss.map_or("-".into(), |v| format!("{v:.4}")),
        summary.unigram_entropy,
        summary.tokens_per_s,
        summary.wall_s,
        summary.checkpoint.display()
    );
    if !trained {
        return;
    }
    if let Ok(chat) = crate::chat::ChatModel::load(&summary.checkpoint) {
        let sp = crate::generate::SamplingParams {
            temperature: 0.8,
            top_k: 50,
            seed: 1,
            max_new_tokens: 60,
            ..Default::default()
        };
        if let Ok(g) = chat.complete("The", &sp, |_| true) {
            eprintln!("sample: The{}", g.text);
        }
    }
}

/// The settings a run directory's checkpoint was trained with (for tools and tests).
pub fn saved_state(run: &Path) -> Result<Value> {
    Ok(checkpoint::load(run)?.state)
}

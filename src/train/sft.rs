//! `tinychat train sft`: supervised fine-tuning of a pretrained checkpoint on conversations.
//!
//! Each conversation is rendered with the checkpoint's chat template (`tokenizer_config.json`,
//! ChatML for tinychat's own tokenizer) and tokenized piece by piece: the text before each
//! assistant reply (up to and including `<|im_start|>assistant\n`), then the reply with its
//! closing `<|im_end|>`. Only reply tokens and that `<|im_end|>` are targets; every other
//! position (system and user turns, the assistant header, the newline after `<|im_end|>`,
//! padding) gets [`IGNORE`], so the loss is the mean cross-entropy of the assistant's tokens
//! and the model learns to answer and to stop. Tokenizing the reply on its own is what
//! generation sees too: the prompt ends at the header and the reply is produced token by token.
//!
//! Conversations are packed whole into rows of T+1 tokens (a conversation that does not fit in
//! the row's remaining space starts the next row; rows are padded at the end), in an order
//! shuffled by (seed, epoch); (epoch, cursor) is all the data state an exact resume needs.
//! Conversations longer than T+1 tokens are skipped, counted and reported.
//!
//! The run directory is laid out as pretraining's (see `checkpoint.rs`): `checkpoint/` (a model
//! directory the chat CLI loads), `metrics.jsonl`, `loss.png`.

use super::checkpoint;
use super::heads::LmBatches;
use super::metrics::text;
use super::model::TrainModel;
use super::settings::Schedule;
use super::sft_data::{read_sft_jsonl, SftExample};
use super::trainer::{
    EpochOrder, Fingerprint, Learner, Plot, Report, RunOptions, Stage, Start, Trainer,
};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::ops::IGNORE;
use crate::params::Params;
use crate::tokenizer::{ChatTemplate, Message, Tokenizer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One tokenized conversation. `target[i]`: token i is an assistant token the model is trained
/// to predict (from the tokens before it).
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    pub tokens: Vec<u32>,
    pub target: Vec<bool>,
}

/// Renders `messages` with `template` and tokenizes them, marking the assistant tokens (see the
/// module comment). Errors when the conversation has no assistant turn or the template does not
/// render a conversation as the concatenation of its prefixes (a template that rewrites earlier
/// turns when later ones are added cannot be masked this way).
pub fn encode_conversation(
    template: &ChatTemplate,
    tok: &Tokenizer,
    messages: &[Message],
) -> Result<Encoded> {
    if !messages.iter().any(|m| m.role == "assistant") {
        return Err(Error::InvalidArgument(
            "the conversation has no assistant turn: there is nothing to learn from it".into(),
        ));
    }
    let end_id = template
        .eos_token
        .as_deref()
        .and_then(|e| tok.token_to_id(e));
    let full = template.render(messages, false)?;
    // (text, is the assistant's reply) pieces whose concatenation is `full`.
    let mut pieces: Vec<(&str, bool)> = vec![];
    let mut cursor = 0;
    for (i, m) in messages.iter().enumerate() {
        if m.role != "assistant" {
            continue;
        }
        let head = template.render(&messages[..i], true)?;
        let upto = template.render(&messages[..=i], false)?;
        if !full.starts_with(&head) || !full.starts_with(&upto) || head.len() < cursor {
            return Err(Error::Template(
                "the chat template does not render a conversation as the concatenation of its turns; cannot mask the assistant's tokens".into(),
            ));
        }
        pieces.push((&full[cursor..head.len()], false));
        pieces.push((&full[head.len()..upto.len()], true));
        cursor = upto.len();
    }
    pieces.push((&full[cursor..], false));
    let mut out = Encoded {
        tokens: vec![],
        target: vec![],
    };
    for (text, assistant) in pieces {
        if text.is_empty() {
            continue;
        }
        let ids = tok.encode(text, false)?;
        // In a reply, everything up to and including the end token counts; what the template
        // writes after it (a newline) does not.
        let mut counting = assistant;
        for id in ids {
            out.tokens.push(id);
            out.target.push(counting);
            if counting && Some(id) == end_id {
                counting = false;
            }
        }
    }
    Ok(out)
}

/// Whole conversations packed into (B, T+1) rows in a shuffled order, resumable by (epoch, cursor).
#[derive(Clone, Debug)]
pub struct Packer {
    pub order: EpochOrder,
}

impl Packer {
    /// `shuffle: false` visits the conversations in file order (evaluation).
    pub fn new(n: usize, seed: u64, shuffle: bool) -> Self {
        let order = if shuffle {
            EpochOrder::shuffled(n, seed)
        } else {
            EpochOrder::in_order(n)
        };
        Packer { order }
    }

    /// Fills inputs and targets (B·T each). Every conversation must hold at most T+1 tokens.
    pub fn next_batch(
        &mut self,
        convs: &[Encoded],
        b: usize,
        t: usize,
        pad: u32,
        inputs: &mut [u32],
        targets: &mut [u32],
    ) {
        let (mut row, mut mask) = (Vec::with_capacity(t + 1), Vec::with_capacity(t + 1));
        for r in 0..b {
            row.clear();
            mask.clear();
            loop {
                let c = &convs[self.order.peek()];
                debug_assert!(c.tokens.len() <= t + 1);
                if row.len() + c.tokens.len() > t + 1 {
                    break;
                }
                row.extend_from_slice(&c.tokens);
                mask.extend_from_slice(&c.target);
                self.order.advance(1);
            }
            row.resize(t + 1, pad);
            mask.resize(t + 1, false);
            for j in 0..t {
                inputs[r * t + j] = row[j];
                targets[r * t + j] = if mask[j + 1] { row[j + 1] } else { IGNORE };
            }
        }
    }
}

/// Everything that determines an SFT run's numbers (saved in trainer_state.json).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SftSettings {
    pub seq_len: usize,
    pub batch_size: usize,
    pub grad_accum: usize,
    #[serde(flatten)]
    pub schedule: Schedule,
    pub seed: u64,
}

/// `tinychat train sft`, option for option (each field is named as its flag).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SftOptions {
    /// Pretrained model: a run directory (its checkpoint/) or a model directory. Default
    /// runs/pretrain.
    pub init: PathBuf,
    /// Fine-tuning data (sft_train.jsonl and sft_eval.jsonl, from `tinychat data prepare`).
    /// Default data/sft.
    pub data: PathBuf,
    /// Sequence length T (at most the model's context; None: the model's context).
    pub seq_len: Option<usize>,
    /// Packed rows per micro-batch B, and micro-batches per optimiser step. Default 16 and 1.
    pub batch_size: usize,
    pub grad_accum: usize,
    /// Default 300 steps from 1e-3 down to 1e-4 after 20 warmup steps, no weight decay.
    pub schedule: Schedule,
    /// Seed of the data order. Default 1337.
    pub seed: u64,
    /// Evaluate the held-out loss every this many steps (and at the end). Default 50.
    pub eval_every: usize,
    /// Held-out batches per evaluation. Default 4.
    pub eval_batches: usize,
    /// Run directory (default runs/sft), resume, checkpoints every 100 steps.
    pub run: RunOptions,
}

impl Default for SftOptions {
    fn default() -> Self {
        SftOptions {
            init: "runs/pretrain".into(),
            data: "data/sft".into(),
            seq_len: None,
            batch_size: 16,
            grad_accum: 1,
            schedule: Schedule::new(300, 1e-3, 1e-4, 20, 0.0),
            seed: 1337,
            eval_every: 50,
            eval_batches: 4,
            run: RunOptions::new("runs/sft", 100),
        }
    }
}

/// A model directory: `path` itself when it holds config.json, else its `checkpoint/`.
pub fn model_dir(path: &Path) -> PathBuf {
    if path.join("config.json").exists() {
        path.to_path_buf()
    } else {
        checkpoint::dir_of(path)
    }
}

/// The weights, config, tokenizer (bytes, parsed) and tokenizer_config.json of a model directory.
pub struct LoadedModel {
    pub config: ModelConfig,
    pub params: Params,
    pub tokenizer_json: Vec<u8>,
    pub tokenizer: Tokenizer,
    pub tokenizer_config: Value,
    pub template: ChatTemplate,
}

impl LoadedModel {
    /// The id of the chat template's end token (`<|im_end|>`), which ends a reply; `who` names
    /// the model in the error.
    pub fn end_token(&self, who: &str) -> Result<u32> {
        self.template
            .eos_token
            .as_deref()
            .and_then(|e| self.tokenizer.token_to_id(e))
            .ok_or_else(|| Error::InvalidArgument(format!("the {who}'s template has no end token")))
    }
}

pub fn load_model(dir: &Path) -> Result<LoadedModel> {
    let config = ModelConfig::from_file(dir.join("config.json"))?;
    let (params, _) = crate::weights::load(dir.join("model.safetensors"), &config)?;
    let tp = dir.join("tokenizer.json");
    let tokenizer_json = std::fs::read(&tp).map_err(|e| Error::io(&tp, e))?;
    let tokenizer = Tokenizer::from_bytes(&tokenizer_json)?;
    let cp = dir.join("tokenizer_config.json");
    let text = std::fs::read_to_string(&cp).map_err(|e| Error::io(&cp, e))?;
    let tokenizer_config: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: cp.clone(),
        source,
    })?;
    let template = ChatTemplate::from_tokenizer_config(&text, &cp.display().to_string())?;
    Ok(LoadedModel {
        config,
        params,
        tokenizer_json,
        tokenizer,
        tokenizer_config,
        template,
    })
}

/// Encodes conversations, skipping (and counting) those longer than `max_tokens`.
pub fn encode_all(
    m: &LoadedModel,
    examples: &[SftExample],
    max_tokens: usize,
) -> Result<(Vec<Encoded>, usize)> {
    let mut out = Vec::with_capacity(examples.len());
    let mut skipped = 0;
    for ex in examples {
        let e = encode_conversation(&m.template, &m.tokenizer, &ex.messages)?;
        if e.tokens.len() > max_tokens {
            skipped += 1;
        } else {
            out.push(e);
        }
    }
    Ok((out, skipped))
}

/// Summary of a finished (or stopped) SFT run.
#[derive(Debug, Clone, Serialize)]
pub struct SftSummary {
    pub steps_done: usize,
    pub train_loss: f32,
    pub val_loss: Option<f32>,
    pub train_conversations: usize,
    pub skipped_too_long: usize,
    pub wall_s: f64,
    pub checkpoint: PathBuf,
}

/// Mean assistant-token loss over the first `batches` packed batches of `convs` (in order).
pub fn evaluate(
    model: &mut TrainModel,
    params: &Params,
    convs: &[Encoded],
    batches: usize,
    pad: u32,
) -> Result<f32> {
    let (b, t) = (model.batch, model.seq);
    let mut packer = Packer::new(convs.len(), 0, false);
    let (mut inp, mut tgt) = (vec![0u32; b * t], vec![0u32; b * t]);
    let mut sum = 0.0f64;
    for _ in 0..batches {
        packer.next_batch(convs, b, t, pad, &mut inp, &mut tgt);
        sum += model.forward(params, &inp, &tgt)? as f64;
    }
    Ok((sum / batches.max(1) as f64) as f32)
}

/// The model a run starts from: `init` (a run or model directory), or on a resume the run's own
/// checkpoint (its tokenizer and template too). `hint` says how to make one.
pub(crate) fn load_init(
    init: &Path,
    run: &RunOptions,
    hint: &str,
) -> Result<(PathBuf, LoadedModel)> {
    let src = if run.resume {
        checkpoint::dir_of(&run.out)
    } else {
        model_dir(init)
    };
    let m = load_model(&src).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot load the model in {}: {e}\n  {hint}",
            src.display()
        ))
    })?;
    Ok((src, m))
}

/// The stage's state between steps (see [`Stage`]).
struct Sft<'a> {
    o: &'a SftOptions,
    s: SftSettings,
    m: LoadedModel,
    train: Vec<Encoded>,
    val: Vec<Encoded>,
    pad: u32,
    data_hash: String,
    packer: Packer,
    lm: LmBatches,
    learner: Learner,
    counted_total: usize,
    clock: Instant,
    last_loss: f32,
    last_val: Option<f32>,
}

impl Stage for Sft<'_> {
    fn step(&mut self, step: usize) -> Result<Report> {
        let (b, t, accum, pad) = (
            self.s.batch_size,
            self.s.seq_len,
            self.s.grad_accum,
            self.pad,
        );
        let (train, packer, lm) = (&self.train, &mut self.packer, &mut self.lm);
        let counted = &mut self.counted_total;
        let st = self.learner.step(step, |params, grads| {
            lm.accumulate(params, grads, accum, |inp, tgt| {
                packer.next_batch(train, b, t, pad, inp, tgt);
                *counted += tgt.iter().filter(|&&x| x != IGNORE).count();
            })
        })?;
        let (done, loss, epoch) = (step + 1, st.loss, self.packer.order.epoch);
        self.last_loss = loss;
        let el = self.clock.elapsed().as_secs_f64();
        Ok(Report {
            line: json!({"step": done, "loss": loss, "lr": st.lr, "grad_norm": st.grad_norm, "epoch": epoch, "assistant_tokens": self.counted_total, "elapsed_s": el}),
            text: format!("loss {loss:.3} | epoch {epoch}"),
        })
    }

    fn validate(&mut self, done: usize) -> Result<Vec<Report>> {
        if self.val.is_empty() {
            return Ok(vec![]);
        }
        let p = &self.learner.params;
        let v = evaluate(
            &mut self.lm.model,
            p,
            &self.val,
            self.o.eval_batches,
            self.pad,
        )?;
        self.last_val = Some(v);
        let loss = self.last_loss;
        Ok(vec![Report {
            line: json!({"step": done, "val_loss": v}),
            text: format!("step {done}: train loss {loss:.4}, held-out loss {v:.4}"),
        }])
    }

    fn save(&mut self, done: usize) -> Result<()> {
        let mut state = self.packer.order.state(done, &self.s);
        state["stage"] = "sft".into();
        state["data_hash"] = self.data_hash.clone().into();
        state["init"] = self.o.init.display().to_string().into();
        let m = &self.m;
        let tok = (&m.tokenizer_json[..], &m.tokenizer_config);
        self.learner.save(&self.o.run.out, &m.config, &state, tok)
    }
}

/// Runs `tinychat train sft`.
pub fn run(o: &SftOptions) -> Result<SftSummary> {
    let t_start = Instant::now();
    if o.batch_size == 0 || o.grad_accum == 0 || o.schedule.steps == 0 {
        return Err(Error::InvalidArgument(
            "batch size, grad accumulation and steps must be positive".into(),
        ));
    }
    let hint = format!(
        "pretrain one first: `tinychat train pretrain --out {}`",
        o.init.display()
    );
    let (src, m) = load_init(&o.init, &o.run, &hint)?;
    let seq_len = o.seq_len.unwrap_or(m.config.max_seq_len);
    let s = SftSettings {
        seq_len,
        batch_size: o.batch_size,
        grad_accum: o.grad_accum,
        schedule: o.schedule.clone(),
        seed: o.seed,
    };
    let pad = m.config.pad_token_id.unwrap_or(0);
    let [train_path, eval_path] = data_files(
        &o.data,
        ["sft_train.jsonl", "sft_eval.jsonl"],
        "prepare the fine-tuning data first, e.g. `tinychat data prepare` (writes data/sft)",
    )?;
    let (train, skipped) = encode_all(&m, &read_sft_jsonl(&train_path)?, seq_len + 1)?;
    let (val, val_skipped) = encode_all(&m, &read_sft_jsonl(&eval_path)?, seq_len + 1)?;
    if train.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no conversation fits in {} tokens ({} skipped as too long); raise --seq-len",
            train_path.display(),
            seq_len + 1,
            skipped
        )));
    }
    let fp = Fingerprint::data_file(&train_path)?;
    let mut packer = Packer::new(train.len(), s.seed, true);
    let start = if o.run.resume {
        let st = Start::resume(&o.run.out, &s, None, s.schedule.adamw.clone(), &fp)?;
        packer.order.seek(st.data_position.0, st.data_position.1);
        st
    } else {
        Start::fresh(m.config.clone(), m.params.clone(), s.schedule.adamw.clone())
    };
    let (b, t) = (s.batch_size, s.seq_len);
    let lm = LmBatches::new(&m.config, b, t)?;
    if !o.run.quiet {
        eprintln!(
            "fine-tuning {} parameters from {} on {} conversations ({} skipped: longer than {} tokens), {} held-out ({} skipped)",
            start.params.data.len(),
            src.display(),
            train.len(),
            skipped,
            t + 1,
            val.len(),
            val_skipped
        );
    }
    let mut trainer =
        Trainer::open(&o.run, s.schedule.steps, start.step)?.validate_every(o.eval_every);
    let mut stage = Sft {
        o,
        data_hash: fp.value,
        learner: Learner::new(start.params, start.opt, s.schedule.clone()),
        s,
        m,
        train,
        val,
        pad,
        packer,
        lm,
        counted_total: 0,
        clock: Instant::now(),
        last_loss: f32::NAN,
        last_val: None,
    };
    trainer.run(&mut stage)?;
    trainer.plot(Plot::Losses {
        text: text::SFT,
        entropy: None,
    })?;
    let summary = SftSummary {
        steps_done: trainer.end,
        train_loss: stage.last_loss,
        val_loss: stage.last_val,
        train_conversations: stage.train.len(),
        skipped_too_long: skipped,
        wall_s: t_start.elapsed().as_secs_f64(),
        checkpoint: checkpoint::dir_of(&o.run.out),
    };
    if !o.run.quiet {
        eprintln!(
            "done: {} steps, train loss {:.4}, held-out loss {}, {:.0}s; checkpoint {}",
            summary.steps_done,
            summary.train_loss,
            summary.val_loss.map_or("-".into(), |v| format!("{v:.4}")),
            summary.wall_s,
            summary.checkpoint.display()
        );
    }
    Ok(summary)
}

/// The files `names` in `dir`, all of which must exist (else an error ending in `hint`).
pub(crate) fn data_files<const N: usize>(
    dir: &Path,
    names: [&str; N],
    hint: &str,
) -> Result<[PathBuf; N]> {
    let paths = names.map(|n| dir.join(n));
    for p in &paths {
        if !p.exists() {
            return Err(Error::InvalidArgument(format!(
                "{} is missing: {hint}",
                p.display()
            )));
        }
    }
    Ok(paths)
}

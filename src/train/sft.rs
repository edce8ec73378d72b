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
use super::data::fnv1a;
use super::metrics::{plot, text, MetricsLog};
use super::model::TrainModel;
use super::optim::{clip_grad_norm, lr_at, AdamW, AdamWConfig};
use super::sft_data::{read_sft_jsonl, SftExample};
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
    pub seed: u64,
    pub epoch: u64,
    pub cursor: usize,
    order: Vec<u32>,
    shuffle: bool,
}

impl Packer {
    /// `shuffle: false` visits the conversations in file order (evaluation).
    pub fn new(n: usize, seed: u64, shuffle: bool) -> Self {
        let mut p = Packer {
            seed,
            epoch: 0,
            cursor: 0,
            order: (0..n as u32).collect(),
            shuffle,
        };
        p.reorder();
        p
    }

    fn reorder(&mut self) {
        if !self.shuffle {
            self.order.sort_unstable();
            return;
        }
        super::data::epoch_order(&mut self.order, self.seed, self.epoch);
    }

    pub fn seek(&mut self, epoch: u64, cursor: usize) {
        self.epoch = epoch;
        self.cursor = cursor;
        self.reorder();
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
                if self.cursor >= self.order.len() {
                    self.epoch += 1;
                    self.cursor = 0;
                    self.reorder();
                }
                let c = &convs[self.order[self.cursor] as usize];
                debug_assert!(c.tokens.len() <= t + 1);
                if row.len() + c.tokens.len() > t + 1 {
                    break;
                }
                row.extend_from_slice(&c.tokens);
                mask.extend_from_slice(&c.target);
                self.cursor += 1;
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
    pub steps: usize,
    pub lr: f32,
    pub min_lr: f32,
    pub warmup: usize,
    pub grad_clip: f32,
    pub adamw: AdamWConfig,
    pub seed: u64,
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat train sft --init runs/pretrain --data data/sft --out runs/sft\n  tinychat train sft --out runs/sft --resume\n  tinychat chat --model runs/sft/checkpoint"
)]
pub struct SftArgs {
    /// Pretrained model: a run directory (its checkpoint/) or a model directory.
    #[arg(long, default_value = "runs/pretrain")]
    pub init: PathBuf,
    /// Fine-tuning data (sft_train.jsonl and sft_eval.jsonl, from `tinychat data prepare`).
    #[arg(long, default_value = "data/sft")]
    pub data: PathBuf,
    /// Run directory: checkpoint/, metrics.jsonl, loss.png.
    #[arg(long, default_value = "runs/sft")]
    pub out: PathBuf,
    /// Continue from the run directory's checkpoint, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Sequence length T (at most the model's context; default: the model's context).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Packed rows per micro-batch B.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Optimiser steps in the whole run.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    #[arg(long, default_value_t = 1e-4)]
    pub min_lr: f32,
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    #[arg(long, default_value_t = 1.0)]
    pub grad_clip: f32,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Evaluate the held-out loss every this many steps (and at the end).
    #[arg(long, default_value_t = 50)]
    pub eval_every: usize,
    /// Held-out batches per evaluation.
    #[arg(long, default_value_t = 4)]
    pub eval_batches: usize,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub save_every: usize,
    /// Stop (with a checkpoint) after this step, as if interrupted; `--resume` continues.
    #[arg(long)]
    pub stop_after: Option<usize>,
    #[arg(long)]
    pub quiet: bool,
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

/// A progress bar for `total` steps starting at `start` (hidden when quiet).
pub(crate) fn progress_bar(total: usize, start: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
        )
        .expect("static template"),
    );
    pb.set_position(start as u64);
    pb.reset_eta();
    pb
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

/// Runs `tinychat train sft`.
pub fn run(args: &SftArgs) -> Result<SftSummary> {
    let t_start = Instant::now();
    if args.batch_size == 0 || args.grad_accum == 0 || args.steps == 0 {
        return Err(Error::InvalidArgument(
            "batch size, grad accumulation and steps must be positive".into(),
        ));
    }
    // On resume the model comes from the run's own checkpoint; the tokenizer and template too.
    let src = if args.resume {
        checkpoint::dir_of(&args.out)
    } else {
        model_dir(&args.init)
    };
    let mut m = load_model(&src).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot load the model in {}: {e}\n  pretrain one first: `tinychat train pretrain --out {}`",
            src.display(),
            args.init.display()
        ))
    })?;
    let seq_len = args.seq_len.unwrap_or(m.config.max_seq_len);
    let s = SftSettings {
        seq_len,
        batch_size: args.batch_size,
        grad_accum: args.grad_accum,
        steps: args.steps,
        lr: args.lr,
        min_lr: args.min_lr,
        warmup: args.warmup,
        grad_clip: args.grad_clip,
        adamw: AdamWConfig {
            weight_decay: args.weight_decay,
            ..AdamWConfig::default()
        },
        seed: args.seed,
    };
    let pad = m.config.pad_token_id.unwrap_or(0);
    let train_path = args.data.join("sft_train.jsonl");
    let eval_path = args.data.join("sft_eval.jsonl");
    for p in [&train_path, &eval_path] {
        if !p.exists() {
            return Err(Error::InvalidArgument(format!(
                "{} is missing: prepare the fine-tuning data first, e.g. `tinychat data prepare` (writes data/sft)",
                p.display()
            )));
        }
    }
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
    let data_hash = format!(
        "{:016x}",
        fnv1a(&std::fs::read(&train_path).map_err(|e| Error::io(&train_path, e))?)
    );
    let mut packer = Packer::new(train.len(), s.seed, true);
    let (mut opt, start) = if args.resume {
        let mut ck = checkpoint::load(&args.out)?;
        ck.check_settings(&args.out, &s, None)?;
        if ck.state["data_hash"].as_str() != Some(data_hash.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "--resume: {} differs from the data the checkpoint was trained on",
                train_path.display()
            )));
        }
        let opt = ck.take_adamw(s.adamw.clone());
        let (epoch, cursor) = ck.data_position();
        packer.seek(epoch, cursor);
        let step = ck.step();
        m.params = ck.params;
        (opt, step)
    } else {
        (AdamW::new(&m.params.layout, s.adamw.clone()), 0)
    };
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let mut log = MetricsLog::open(
        &args.out.join("metrics.jsonl"),
        args.resume.then_some(start as u64),
    )?;
    let (b, t) = (s.batch_size, s.seq_len);
    let mut model = TrainModel::new(&m.config, b, t)?;
    let mut grads = vec![0.0f32; m.params.data.len()];
    let (mut inp, mut tgt) = (vec![0u32; b * t], vec![0u32; b * t]);
    let end = args.stop_after.map_or(s.steps, |k| k.min(s.steps));
    if !args.quiet {
        eprintln!(
            "fine-tuning {} parameters from {} on {} conversations ({} skipped: longer than {} tokens), {} held-out ({} skipped)",
            m.params.data.len(),
            src.display(),
            train.len(),
            skipped,
            t + 1,
            val.len(),
            val_skipped
        );
    }
    let bar = progress_bar(s.steps, start, args.quiet);
    let init = args.init.display().to_string();
    let save = |params: &Params, opt: &AdamW, step: usize, packer: &Packer| -> Result<()> {
        let state = json!({
            "stage": "sft", "step": step, "epoch": packer.epoch, "cursor": packer.cursor,
            "settings": s, "data_hash": data_hash, "init": init,
        });
        checkpoint::save(
            &args.out,
            &m.config,
            params,
            opt,
            &state,
            &m.tokenizer_json,
            &m.tokenizer_config,
        )
    };
    let run_start = Instant::now();
    let (mut last_loss, mut last_val) = (f32::NAN, None);
    let mut counted_total = 0usize;
    for step in start..end {
        let lr = lr_at(step, s.lr, s.min_lr, s.warmup, s.steps);
        grads.fill(0.0);
        let mut loss = 0.0f32;
        for _ in 0..s.grad_accum {
            packer.next_batch(&train, b, t, pad, &mut inp, &mut tgt);
            counted_total += tgt.iter().filter(|&&x| x != IGNORE).count();
            loss += model.forward(&m.params, &inp, &tgt)? / s.grad_accum as f32;
            model.backward(&m.params, &mut grads, 1.0 / s.grad_accum as f32);
        }
        if !loss.is_finite() {
            return Err(Error::Other(format!(
                "step {}: the loss is {loss}; lower --lr",
                step + 1
            )));
        }
        let norm = clip_grad_norm(&mut grads, s.grad_clip);
        opt.update(&mut m.params.data, &grads, lr);
        last_loss = loss;
        let el = run_start.elapsed().as_secs_f64();
        let done = step + 1;
        log.write(&json!({"step": done, "loss": loss, "lr": lr, "grad_norm": norm, "epoch": packer.epoch, "assistant_tokens": counted_total, "elapsed_s": el}))?;
        bar.set_position(done as u64);
        bar.set_message(format!("loss {loss:.3} | epoch {}", packer.epoch));
        if !val.is_empty() && (done % args.eval_every == 0 || done == s.steps) {
            let v = evaluate(&mut model, &m.params, &val, args.eval_batches, pad)?;
            last_val = Some(v);
            log.write(&json!({"step": done, "val_loss": v}))?;
            bar.println(format!(
                "step {done}: train loss {loss:.4}, held-out loss {v:.4}"
            ));
        }
        if done % args.save_every == 0 || done == end {
            save(&m.params, &opt, done, &packer)?;
        }
    }
    bar.finish_and_clear();
    let (tc, vc) = log.read_curves()?;
    plot(&args.out.join("loss.png"), text::SFT, &tc, &vc, None)?;
    let summary = SftSummary {
        steps_done: end,
        train_loss: last_loss,
        val_loss: last_val,
        train_conversations: train.len(),
        skipped_too_long: skipped,
        wall_s: t_start.elapsed().as_secs_f64(),
        checkpoint: checkpoint::dir_of(&args.out),
    };
    if !args.quiet {
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

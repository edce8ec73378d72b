//! `tinychat train pretrain`: next-token training of a llama-family model on a prepared corpus.
//!
//! One knob, `--preset`, sets the model shape and the schedule; every hyperparameter also has
//! its own flag that overrides the preset. The run directory holds the checkpoint (a model
//! directory, see `checkpoint.rs`), `metrics.jsonl` and `loss.png`.

use super::checkpoint;
use super::data::{fnv1a, tokenize_split, Batcher};
use super::metrics::{plot, text, MetricsLog};
use super::model::{init_params, TrainModel};
use super::optim::{clip_grad_norm, lr_at, AdamW, AdamWConfig};
use super::tokenizer_train::{tokenizer_config_json, SPECIAL_TOKENS};
use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// ~3.1M parameters with a 4096 vocabulary; about ten minutes on 2 cores.
    Tiny,
    /// ~13M parameters; about an hour on 2 cores.
    Small,
}

/// Everything that determines a run's numbers (saved in trainer_state.json; a resume must match).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub dim: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub seq_len: usize,
    pub tie_embeddings: bool,
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

impl Preset {
    pub fn settings(self) -> TrainSettings {
        let base = TrainSettings {
            dim: 192,
            layers: 4,
            heads: 6,
            kv_heads: 2,
            ffn: 512,
            seq_len: 128,
            tie_embeddings: false,
            batch_size: 16,
            grad_accum: 1,
            steps: 300,
            lr: 3e-3,
            min_lr: 3e-4,
            warmup: 20,
            grad_clip: 1.0,
            adamw: AdamWConfig::default(),
            seed: 1337,
        };
        match self {
            Preset::Tiny => base,
            Preset::Small => TrainSettings {
                dim: 384,
                layers: 6,
                heads: 6,
                kv_heads: 2,
                ffn: 1024,
                seq_len: 256,
                batch_size: 16,
                steps: 2000,
                lr: 1.5e-3,
                min_lr: 1.5e-4,
                warmup: 100,
                ..base
            },
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat train pretrain --preset tiny --data data/corpus --tokenizer data/tokenizer --out runs/tiny\n  tinychat train pretrain --out runs/tiny --resume\n  tinychat chat --model runs/tiny/checkpoint"
)]
pub struct PretrainArgs {
    /// Model shape and schedule; the flags below override single values.
    #[arg(long, value_enum, default_value = "tiny")]
    pub preset: Preset,
    /// Prepared corpus (train.jsonl and val.jsonl, from `tinychat data prepare`).
    #[arg(long, default_value = "data/corpus")]
    pub data: PathBuf,
    /// Directory with tokenizer.json (from `tinychat train tokenizer`).
    #[arg(long, default_value = "data/tokenizer")]
    pub tokenizer: PathBuf,
    /// Run directory: checkpoint/, metrics.jsonl, loss.png.
    #[arg(long, default_value = "runs/pretrain")]
    pub out: PathBuf,
    /// Continue from the run directory's checkpoint, exactly where it stopped.
    #[arg(long)]
    pub resume: bool,
    #[arg(long)]
    pub dim: Option<usize>,
    #[arg(long)]
    pub layers: Option<usize>,
    #[arg(long)]
    pub heads: Option<usize>,
    #[arg(long)]
    pub kv_heads: Option<usize>,
    #[arg(long)]
    pub ffn: Option<usize>,
    /// Sequence length T (also the model's context).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Tie the output head to the token embedding.
    #[arg(long)]
    pub tie_embeddings: Option<bool>,
    /// Sequences per micro-batch B.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Micro-batches per optimiser step.
    #[arg(long)]
    pub grad_accum: Option<usize>,
    /// Optimiser steps in the whole run.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Learning rate at the end of the cosine decay.
    #[arg(long)]
    pub min_lr: Option<f32>,
    /// Linear warmup steps.
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Clip the global gradient norm to this (0 disables).
    #[arg(long)]
    pub grad_clip: Option<f32>,
    #[arg(long)]
    pub weight_decay: Option<f32>,
    #[arg(long)]
    pub beta1: Option<f32>,
    #[arg(long)]
    pub beta2: Option<f32>,
    #[arg(long)]
    pub eps: Option<f32>,
    /// Seed of the initialisation and the data order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate the validation loss every this many steps (and at the end).
    #[arg(long, default_value_t = 50)]
    pub eval_every: usize,
    /// Validation batches per evaluation.
    #[arg(long, default_value_t = 8)]
    pub eval_batches: usize,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub save_every: usize,
    /// Stop (with a checkpoint) after this step, as if interrupted; `--resume` continues.
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// No progress bar and no sample.
    #[arg(long)]
    pub quiet: bool,
}

impl PretrainArgs {
    pub fn settings(&self) -> TrainSettings {
        let mut s = self.preset.settings();
        macro_rules! over {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { s.$f = v; } )* };
        }
        over!(
            dim,
            layers,
            heads,
            kv_heads,
            ffn,
            seq_len,
            tie_embeddings,
            batch_size,
            grad_accum,
            steps,
            lr,
            min_lr,
            warmup,
            grad_clip,
            seed
        );
        if let Some(v) = self.weight_decay {
            s.adamw.weight_decay = v;
        }
        if let Some(v) = self.beta1 {
            s.adamw.beta1 = v;
        }
        if let Some(v) = self.beta2 {
            s.adamw.beta2 = v;
        }
        if let Some(v) = self.eps {
            s.adamw.eps = v;
        }
        s
    }
}

/// The model config a run trains.
pub fn model_config(s: &TrainSettings, vocab: usize, tok: &Tokenizer) -> Result<ModelConfig> {
    if s.heads == 0 || s.dim % s.heads != 0 {
        return Err(Error::InvalidArgument(format!(
            "--dim {} must be a multiple of --heads {}",
            s.dim, s.heads
        )));
    }
    let eot = tok.token_to_id(SPECIAL_TOKENS[0]);
    let im_end = tok.token_to_id(SPECIAL_TOKENS[2]);
    let cfg = ModelConfig {
        family: Family::Llama,
        vocab_size: vocab,
        dim: s.dim,
        n_layers: s.layers,
        n_heads: s.heads,
        n_kv_heads: s.kv_heads,
        head_dim: s.dim / s.heads,
        hidden_dim: s.ffn,
        max_seq_len: s.seq_len,
        norm_eps: 1e-5,
        rope_theta: 10000.0,
        tie_embeddings: s.tie_embeddings,
        attn_bias: false,
        mlp_bias: false,
        bos_token_id: eot,
        eos_token_ids: eot.into_iter().chain(im_end).collect(),
        pad_token_id: eot,
        labels: vec![],
        pooling: Default::default(),
        causal: true,
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
fn evaluate(
    model: &mut TrainModel,
    params: &crate::params::Params,
    val: &[u32],
    batches: usize,
) -> Result<f32> {
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

/// Runs `tinychat train pretrain`.
pub fn run(args: &PretrainArgs) -> Result<Summary> {
    let t_start = Instant::now();
    let s = args.settings();
    if s.batch_size == 0 || s.grad_accum == 0 || s.steps == 0 || s.seq_len == 0 {
        return Err(Error::InvalidArgument(
            "batch size, grad accumulation, steps and sequence length must be positive".into(),
        ));
    }
    let tok_path = args.tokenizer.join("tokenizer.json");
    let tok_bytes = std::fs::read(&tok_path).map_err(|e| {
        Error::InvalidArgument(format!(
            "{}: {e}; train a tokenizer first: `tinychat train tokenizer --out {}`",
            tok_path.display(),
            args.tokenizer.display()
        ))
    })?;
    let tok = Tokenizer::from_bytes(&tok_bytes)?;
    let tok_config = match std::fs::read_to_string(args.tokenizer.join("tokenizer_config.json")) {
        Ok(t) => serde_json::from_str(&t).map_err(|source| Error::Json {
            path: args.tokenizer.join("tokenizer_config.json"),
            source,
        })?,
        Err(_) => tokenizer_config_json(),
    };
    let tok_hash = fnv1a(&tok_bytes);
    let vocab = tok.vocab_size();
    let cfg = model_config(&s, vocab, &tok)?;
    let train = load_tokens(&args.data, "train", &tok, tok_hash)?;
    let val = load_tokens(&args.data, "val", &tok, tok_hash)?;
    let entropy = unigram_entropy(&train, vocab);

    let mut batcher = Batcher::new(train.len(), s.seq_len, s.seed)?;
    let (mut params, mut opt, start) = if args.resume {
        let mut ck = checkpoint::load(&args.out).map_err(|e| {
            Error::InvalidArgument(format!(
                "--resume: cannot read the checkpoint in {}: {e}",
                args.out.display()
            ))
        })?;
        ck.check_settings(&args.out, &s, Some(&cfg))?;
        if ck.state["tokenizer_hash"].as_str() != Some(format!("{tok_hash:016x}").as_str()) {
            return Err(Error::InvalidArgument(
                "--resume: the tokenizer differs from the one the checkpoint was trained with"
                    .into(),
            ));
        }
        let opt = ck.take_adamw(s.adamw.clone());
        let (epoch, cursor) = ck.data_position();
        batcher.seek(epoch, cursor);
        let step = ck.step();
        (ck.params, opt, step)
    } else {
        let p = init_params(&cfg, s.seed);
        let opt = AdamW::new(&p.layout, s.adamw.clone());
        (p, opt, 0)
    };
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let mut log = MetricsLog::open(
        &args.out.join("metrics.jsonl"),
        args.resume.then_some(start as u64),
    )?;
    let mut model = TrainModel::new(&cfg, s.batch_size, s.seq_len)?;
    let mut grads = vec![0.0f32; params.data.len()];
    let (b, t) = (s.batch_size, s.seq_len);
    let (mut inp, mut tgt) = (vec![0u32; b * t], vec![0u32; b * t]);
    let end = args.stop_after.map_or(s.steps, |k| k.min(s.steps));
    let tokens_per_step = b * t * s.grad_accum;
    if !args.quiet {
        eprintln!(
            "pretraining {} parameters (dim {}, {} layers, {} heads / {} kv, ffn {}, vocab {}) on {} train tokens ({} windows of {}), {} val tokens; unigram entropy {:.3} nats",
            params.data.len(), s.dim, s.layers, s.heads, s.kv_heads, s.ffn, vocab, train.len(), batcher.windows(), t, val.len(), entropy
        );
    }
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::new(s.steps as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .expect("static template"),
        );
        pb.set_position(start as u64);
        pb.reset_eta();
        pb
    };
    let save = |params: &crate::params::Params,
                opt: &AdamW,
                step: usize,
                batcher: &Batcher|
     -> Result<()> {
        let state = json!({
            "step": step, "epoch": batcher.epoch, "cursor": batcher.cursor,
            "settings": s, "tokenizer_hash": format!("{tok_hash:016x}"),
            "train_tokens": train.len(),
        });
        checkpoint::save(
            &args.out,
            &cfg,
            params,
            opt,
            &state,
            &tok_bytes,
            &tok_config,
        )
    };
    let run_start = Instant::now();
    let (mut last_loss, mut last_val) = (f32::NAN, None);
    let mut tokens_done = 0usize;
    for step in start..end {
        let lr = lr_at(step, s.lr, s.min_lr, s.warmup, s.steps);
        grads.fill(0.0);
        let mut loss = 0.0f32;
        for _ in 0..s.grad_accum {
            batcher.next_batch(&train, b, &mut inp, &mut tgt);
            loss += model.forward(&params, &inp, &tgt)? / s.grad_accum as f32;
            model.backward(&params, &mut grads, 1.0 / s.grad_accum as f32);
        }
        if !loss.is_finite() {
            return Err(Error::Other(format!(
                "step {}: the loss is {loss}; lower --lr or raise --warmup",
                step + 1
            )));
        }
        let norm = clip_grad_norm(&mut grads, s.grad_clip);
        opt.update(&mut params.data, &grads, lr);
        tokens_done += tokens_per_step;
        last_loss = loss;
        let el = run_start.elapsed().as_secs_f64();
        let tps = tokens_done as f64 / el.max(1e-9);
        let done = step + 1;
        log.write(&json!({"step": done, "loss": loss, "lr": lr, "grad_norm": norm, "tokens": done * tokens_per_step, "tok_per_s": tps.round(), "elapsed_s": el}))?;
        bar.set_position(done as u64);
        bar.set_message(format!("loss {loss:.3} | {tps:.0} tok/s"));
        if done % args.eval_every == 0 || done == s.steps {
            let v = evaluate(&mut model, &params, &val, args.eval_batches)?;
            last_val = Some(v);
            log.write(&json!({"step": done, "val_loss": v}))?;
            bar.println(format!(
                "step {done}: train loss {loss:.4}, val loss {v:.4}, {tps:.0} tok/s"
            ));
        }
        if done % args.save_every == 0 || done == end {
            save(&params, &opt, done, &batcher)?;
        }
    }
    bar.finish_and_clear();
    let (tc, vc) = log.read_curves()?;
    plot(
        &args.out.join("loss.png"),
        text::PRETRAIN,
        &tc,
        &vc,
        Some(entropy),
    )?;
    let wall = run_start.elapsed().as_secs_f64();
    let summary = Summary {
        steps_done: end,
        train_loss: last_loss,
        val_loss: last_val,
        unigram_entropy: entropy,
        tokens_per_s: tokens_done as f64 / wall.max(1e-9),
        wall_s: t_start.elapsed().as_secs_f64(),
        checkpoint: checkpoint::dir_of(&args.out),
    };
    if !args.quiet {
        eprintln!(
            "done: {} steps, train loss {:.4}, val loss {}, unigram entropy {:.3}, {:.0} tok/s, {:.0}s; checkpoint {}",
            summary.steps_done,
            summary.train_loss,
            summary.val_loss.map_or("-".into(), |v| format!("{v:.4}")),
            entropy,
            summary.tokens_per_s,
            summary.wall_s,
            summary.checkpoint.display()
        );
        if end > start {
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
    }
    Ok(summary)
}

/// The settings a run directory's checkpoint was trained with (for tools and tests).
pub fn saved_state(run: &Path) -> Result<Value> {
    Ok(checkpoint::load(run)?.state)
}

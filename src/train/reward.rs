//! `tinychat train reward`: a reward model from ranked answers (InstructGPT's K-wise scheme).
//!
//! The model is the SFT trunk with a scalar head on the final token: r(x, y) = w · h_last, where
//! h_last is the trunk's output at the reply's closing `<|im_end|>` of the ChatML rendering of
//! [user x, assistant y]. It is a sequence classifier with one label ("reward"), saved as an HF
//! model directory (`score.weight` of shape (1, C), `*ForSequenceClassification`), so
//! `Model::classify` returns [r].
//!
//! Loss (Bradley–Terry over every pair of a prompt's K ranked answers, y_1 best):
//!
//! ```text
//! loss = 1/P Σ_prompts 1/C(K,2) Σ_{i<j} −log σ(r_i − r_j)
//! ∂loss/∂r_i = −σ(r_j − r_i) / (P·C(K,2)),  ∂loss/∂r_j = +σ(r_j − r_i) / (P·C(K,2))   per pair
//! ```
//!
//! All K answers of a prompt sit in the same batch (one forward per answer, C(K,2) comparisons
//! from K forwards, which is what makes the K-wise scheme cheap and keeps a prompt's pairs from
//! being seen in different epochs).

use super::checkpoint;
use super::data::fnv1a;
pub use super::heads::RewardTrainer;
use super::metrics::{plot, MetricsLog};
use super::model::init_params;
use super::optim::{clip_grad_norm, lr_at, AdamW, AdamWConfig};
use super::sft::{encode_conversation, load_model, model_dir, progress_bar, LoadedModel};
use super::sft_data::{
    pairs_by_check, read_ppo_jsonl, read_ranked_jsonl, PpoPrompt, RankedExample,
};
use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::ops::{bradley_terry_forward, Ranking};
use crate::params::{Params, Slot};
use crate::tokenizer::Message;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The label of the reward model's single output.
pub const LABEL: &str = "reward";

// ---------------------------------------------------------------------------------------------
// Data.

/// The tokens a reward model scores for (prompt, reply): the ChatML conversation up to and
/// including the reply's `<|im_end|>` (the score is read there).
pub fn encode_pair(m: &LoadedModel, prompt: &str, reply: &str) -> Result<Vec<u32>> {
    let e = encode_conversation(
        &m.template,
        &m.tokenizer,
        &[Message::user(prompt), Message::assistant(reply)],
    )?;
    // Keep through the last counted token (the reply's end token).
    let last = e
        .target
        .iter()
        .rposition(|&t| t)
        .unwrap_or(e.tokens.len() - 1);
    Ok(e.tokens[..=last].to_vec())
}

/// A prompt's K answers tokenized, best first.
pub type Ranked = Vec<Vec<u32>>;

/// Tokenizes rankings, skipping (and counting) those with an answer longer than `t` tokens or
/// with more answers than rows in a batch.
pub fn encode_rankings(
    m: &LoadedModel,
    examples: &[RankedExample],
    t: usize,
    batch: usize,
) -> Result<(Vec<Ranked>, usize)> {
    let mut out = vec![];
    let mut skipped = 0;
    for ex in examples {
        let r: Ranked = ex
            .responses
            .iter()
            .map(|y| encode_pair(m, &ex.prompt, y))
            .collect::<Result<_>>()?;
        if r.len() > batch || r.iter().any(|s| s.len() > t) {
            skipped += 1;
        } else {
            out.push(r);
        }
    }
    Ok((out, skipped))
}

/// Fills a (B, T) batch with the rankings `ids` in order, stopping before the first one that
/// does not fit; returns the groups (one per ranking taken, so `groups.len()` were consumed).
/// Unused rows hold one pad token.
#[allow(clippy::too_many_arguments)]
pub fn fill_batch(
    data: &[Ranked],
    ids: impl Iterator<Item = usize>,
    b: usize,
    t: usize,
    pad: u32,
    inputs: &mut [u32],
    lengths: &mut [usize],
) -> Vec<Ranking> {
    inputs.fill(pad);
    lengths.fill(1);
    let mut groups = vec![];
    let mut row = 0;
    for i in ids {
        let r = &data[i];
        if row + r.len() > b {
            break;
        }
        groups.push(Ranking {
            start: row,
            len: r.len(),
        });
        for s in r {
            inputs[row * t..row * t + s.len()].copy_from_slice(s);
            lengths[row] = s.len();
            row += 1;
        }
    }
    groups
}

/// Shuffled epochs over the rankings, resumable by (epoch, cursor).
pub struct Order {
    pub seed: u64,
    pub epoch: u64,
    pub cursor: usize,
    order: Vec<u32>,
}

impl Order {
    pub fn new(n: usize, seed: u64) -> Self {
        let mut o = Order {
            seed,
            epoch: 0,
            cursor: 0,
            order: (0..n as u32).collect(),
        };
        o.shuffle();
        o
    }
    fn shuffle(&mut self) {
        super::data::epoch_order(&mut self.order, self.seed, self.epoch);
    }
    pub fn seek(&mut self, epoch: u64, cursor: usize) {
        self.epoch = epoch;
        self.cursor = cursor;
        self.shuffle();
    }
    /// The next batch (a batch never straddles two epochs: it takes what fits of this one).
    pub fn batch(
        &mut self,
        data: &[Ranked],
        b: usize,
        t: usize,
        pad: u32,
        inputs: &mut [u32],
        lengths: &mut [usize],
    ) -> Vec<Ranking> {
        if self.cursor >= self.order.len() {
            self.epoch += 1;
            self.cursor = 0;
            self.shuffle();
        }
        let ids = self.order[self.cursor..].iter().map(|&i| i as usize);
        let groups = fill_batch(data, ids, b, t, pad, inputs, lengths);
        self.cursor += groups.len();
        groups
    }
}

/// Pairwise accuracy (ties count as wrong) and mean loss of the model on held-out rankings.
pub fn evaluate(
    rm: &mut RewardTrainer,
    p: &Params,
    data: &[Ranked],
    pad: u32,
) -> Result<(f64, f64, usize)> {
    let (b, t) = (rm.model().batch, rm.model().seq);
    let (mut inp, mut len) = (vec![pad; b * t], vec![1usize; b]);
    let (mut right, mut pairs, mut loss_sum, mut n_groups) = (0usize, 0usize, 0.0f64, 0usize);
    let mut i = 0;
    while i < data.len() {
        let gs = fill_batch(data, i..data.len(), b, t, pad, &mut inp, &mut len);
        let r = rm.forward(p, &inp, &len)?.to_vec();
        let (l, ok, np) = bradley_terry_forward(&r, &gs);
        right += ok;
        pairs += np;
        loss_sum += l as f64 * gs.len() as f64;
        n_groups += gs.len();
        i += gs.len();
    }
    Ok((
        right as f64 / pairs.max(1) as f64,
        loss_sum / n_groups.max(1) as f64,
        pairs,
    ))
}

// ---------------------------------------------------------------------------------------------
// The stage.

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardSettings {
    pub seq_len: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub lr: f32,
    pub min_lr: f32,
    pub warmup: usize,
    pub grad_clip: f32,
    pub adamw: AdamWConfig,
    pub seed: u64,
    /// Samples of the --init model per checkable prompt ranked by the exact checkers (0: none).
    #[serde(default)]
    pub self_samples: usize,
    /// Checkable PPO prompts sampled for those rankings.
    #[serde(default)]
    pub self_prompts: usize,
    /// Their sources (prefixes of `meta.source`, comma-separated; empty: all).
    #[serde(default)]
    pub self_sources: String,
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat train reward --init runs/sft --data data/sft --out runs/reward\n  tinychat train reward --out runs/reward --resume"
)]
pub struct RewardArgs {
    /// The SFT model whose trunk starts the reward model (run or model directory).
    #[arg(long, default_value = "runs/sft")]
    pub init: PathBuf,
    /// Ranked answers (ranked_train.jsonl and ranked_eval.jsonl).
    #[arg(long, default_value = "data/sft")]
    pub data: PathBuf,
    #[arg(long, default_value = "runs/reward")]
    pub out: PathBuf,
    #[arg(long)]
    pub resume: bool,
    /// Sequence length T (default: the model's context).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Rows (answers) per batch; whole rankings only (a prompt's K answers share a batch).
    #[arg(long, default_value_t = 20)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f32,
    #[arg(long, default_value_t = 3e-5)]
    pub min_lr: f32,
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    #[arg(long, default_value_t = 1.0)]
    pub grad_clip: f32,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Held-out pairwise accuracy every this many steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    /// Held-out rankings used by the periodic evaluation, spread evenly over the file (all of
    /// them at the end).
    #[arg(long, default_value_t = 200)]
    pub eval_limit: usize,
    #[arg(long, default_value_t = 100)]
    pub save_every: usize,
    /// Rank this many samples of the --init (SFT) model per checkable prompt of
    /// ppo_prompts.jsonl by the exact checkers and add the (correct, wrong) pairs to the
    /// training rankings (0: the constructed rankings only).
    #[arg(long, default_value_t = 0)]
    pub self_samples: usize,
    /// How many checkable PPO prompts to sample (a seeded choice; a tenth of them is held out
    /// to measure the pairwise accuracy on the model's own samples).
    #[arg(long, default_value_t = 1000)]
    pub self_prompts: usize,
    /// Only sample prompts whose `meta.source` starts with one of these (comma-separated, e.g.
    /// "computed"); all checkable prompts when empty.
    #[arg(long, default_value = "")]
    pub self_sources: String,
    #[arg(long)]
    pub stop_after: Option<usize>,
    #[arg(long)]
    pub quiet: bool,
}

/// Does the prompt's `meta.source` start with one of the comma-separated `prefixes` (all do
/// when there are none)?
pub fn source_matches(p: &PpoPrompt, prefixes: &str) -> bool {
    let src = p
        .meta
        .as_ref()
        .and_then(|m| m["source"].as_str())
        .unwrap_or("");
    let mut any = false;
    for x in prefixes.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        any = true;
        if src.starts_with(x) {
            return true;
        }
    }
    !any
}

/// What [`self_rankings`] found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SelfRankStats {
    pub prompts: usize,
    pub samples: usize,
    pub correct: usize,
    pub pairs: usize,
}

/// Rankings of a model's own samples by the exact checkers: `k` samples (temperature 1, at most
/// `max_new` tokens) of `model` for each prompt, turned into (correct, wrong) pairs by
/// [`pairs_by_check`] (at most `k` pairs per prompt). Prompts without a check are skipped.
pub fn self_rankings(
    model: &LoadedModel,
    prompts: &[PpoPrompt],
    k: usize,
    max_new: usize,
    seed: u64,
) -> Result<(Vec<RankedExample>, SelfRankStats)> {
    use crate::generate::{Generator, SamplingParams};
    use crate::model::{KvCache, Logits, Model};
    let end = model
        .template
        .eos_token
        .as_deref()
        .and_then(|e| model.tokenizer.token_to_id(e))
        .ok_or_else(|| Error::InvalidArgument("the model's template has no end token".into()))?;
    let t = model.config.max_seq_len;
    let engine = Model::new(
        model.config.clone(),
        model.params.clone(),
        crate::weights::DType::F32,
    );
    let (mut out, mut st) = (vec![], SelfRankStats::default());
    for (i, p) in prompts.iter().enumerate() {
        let Some(check) = &p.check else { continue };
        let head = model.template.render(&[Message::user(&p.prompt)], true)?;
        let ids = model.tokenizer.encode(&head, false)?;
        if ids.len() + 2 > t {
            continue;
        }
        st.prompts += 1;
        let mut samples = vec![];
        for j in 0..k {
            let sp = SamplingParams {
                temperature: 1.0,
                top_k: 0,
                top_p: 1.0,
                repetition_penalty: 1.0,
                seed: seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add((i * k + j) as u64),
                max_new_tokens: max_new.min(t - ids.len() - 1),
                stop_tokens: vec![end],
            };
            let mut cache = KvCache::new(&model.config);
            let mut g = Generator::new(&ids, sp, t)?;
            loop {
                let input = g.take_input();
                if input.is_empty() {
                    break;
                }
                let mut logits = engine.forward(&input, &mut cache, Logits::Last)?;
                if g.push_logits(&mut logits).is_none() {
                    break;
                }
            }
            let text = model.tokenizer.decode(g.generated(), true)?;
            st.samples += 1;
            st.correct += crate::train::checkers::check(&text, check) as usize;
            samples.push(text);
        }
        let pairs = pairs_by_check(&p.prompt, &samples, check, k);
        st.pairs += pairs.len();
        out.extend(pairs);
    }
    Ok((out, st))
}

/// The reward model's config and parameters from an LM: every tensor but the LM head copied,
/// the scalar head drawn fresh.
pub fn from_lm(base: &ModelConfig, lm: &Params, seed: u64) -> Result<(ModelConfig, Params)> {
    if base.family != Family::Llama || base.is_classifier() {
        return Err(Error::InvalidArgument(
            "--init: need a llama-family language model (from `tinychat train sft`)".into(),
        ));
    }
    let mut cfg = base.clone();
    cfg.labels = vec![LABEL.into()];
    cfg.tie_embeddings = false;
    let mut p = init_params(&cfg, seed);
    for spec in p.layout.specs.clone() {
        if spec.slot == Slot::ClsHead {
            continue;
        }
        let src = lm.get(spec.slot).ok_or_else(|| {
            Error::Other(format!("--init: the language model has no {}", spec.name))
        })?;
        p.data[spec.offset..spec.offset + spec.len].copy_from_slice(src);
    }
    Ok((cfg, p))
}

#[derive(Debug, Clone, Serialize)]
pub struct RewardSummary {
    pub steps_done: usize,
    pub train_loss: f32,
    pub train_prompts: usize,
    pub skipped: usize,
    pub eval_pairwise_accuracy: f64,
    pub eval_loss: f64,
    pub eval_pairs: usize,
    /// Pairwise accuracy on held-out (correct, wrong) pairs of the --init model's own samples
    /// (with --self-samples), and their number.
    pub self_pairwise_accuracy: Option<f64>,
    pub self_pairs: usize,
    pub wall_s: f64,
    pub checkpoint: PathBuf,
}

pub fn run(args: &RewardArgs) -> Result<RewardSummary> {
    let t_start = Instant::now();
    if args.batch_size < 2 || args.steps == 0 {
        return Err(Error::InvalidArgument(
            "--batch-size must be at least 2 and --steps positive".into(),
        ));
    }
    let src = if args.resume {
        checkpoint::dir_of(&args.out)
    } else {
        model_dir(&args.init)
    };
    let m = load_model(&src).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot load the model in {}: {e}\n  fine-tune one first: `tinychat train sft --out {}`",
            src.display(),
            args.init.display()
        ))
    })?;
    let seq_len = args.seq_len.unwrap_or(m.config.max_seq_len);
    let s = RewardSettings {
        seq_len,
        batch_size: args.batch_size,
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
        self_samples: args.self_samples,
        self_prompts: if args.self_samples > 0 {
            args.self_prompts
        } else {
            0
        },
        self_sources: if args.self_samples > 0 {
            args.self_sources.clone()
        } else {
            String::new()
        },
    };
    let pad = m.config.pad_token_id.unwrap_or(0);
    let train_path = args.data.join("ranked_train.jsonl");
    let eval_path = args.data.join("ranked_eval.jsonl");
    for p in [&train_path, &eval_path] {
        if !p.exists() {
            return Err(Error::InvalidArgument(format!(
                "{} is missing: prepare the fine-tuning data first (`tinychat data prepare`)",
                p.display()
            )));
        }
    }
    let (mut train, mut skipped) =
        encode_rankings(&m, &read_ranked_jsonl(&train_path)?, seq_len, s.batch_size)?;
    // The SFT model's own samples ranked by the checkers (always from --init, also on resume:
    // the same seed gives the same rankings).
    let mut self_val: Vec<Ranked> = vec![];
    let mut self_stats = None;
    if s.self_samples > 0 {
        let ppo_path = args.data.join("ppo_prompts.jsonl");
        let mut cands: Vec<PpoPrompt> = read_ppo_jsonl(&ppo_path)?
            .into_iter()
            .filter(|p| p.check.is_some() && source_matches(p, &s.self_sources))
            .collect();
        let mut rng = Rng::new(s.seed ^ 0x5e1f);
        for i in (1..cands.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            cands.swap(i, j);
        }
        cands.truncate(s.self_prompts);
        let sft = load_model(&model_dir(&args.init))?;
        let t0 = Instant::now();
        let n_val = cands.len() / 10;
        let (val_rk, vst) = self_rankings(&sft, &cands[..n_val], s.self_samples, 24, s.seed)?;
        let (train_rk, tst) = self_rankings(&sft, &cands[n_val..], s.self_samples, 24, s.seed ^ 1)?;
        let (enc, sk) = encode_rankings(&m, &train_rk, seq_len, s.batch_size)?;
        skipped += sk;
        train.extend(enc);
        self_val = encode_rankings(&m, &val_rk, seq_len, s.batch_size)?.0;
        if !args.quiet {
            eprintln!(
                "own samples: {} prompts × {} samples of {}, {:.1}% correct by the checkers → {} (correct, wrong) pairs for training, {} held out; {:.0}s",
                tst.prompts + vst.prompts,
                s.self_samples,
                args.init.display(),
                100.0 * (tst.correct + vst.correct) as f64 / (tst.samples + vst.samples).max(1) as f64,
                tst.pairs,
                vst.pairs,
                t0.elapsed().as_secs_f64()
            );
        }
        self_stats = Some((tst, vst));
    }
    let (val, val_skipped) =
        encode_rankings(&m, &read_ranked_jsonl(&eval_path)?, seq_len, s.batch_size)?;
    if train.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no ranking fits ({skipped} skipped: an answer longer than {seq_len} tokens or more answers than --batch-size)",
            train_path.display()
        )));
    }
    let data_hash = format!(
        "{:016x}",
        fnv1a(&std::fs::read(&train_path).map_err(|e| Error::io(&train_path, e))?)
    );
    let mut order = Order::new(train.len(), s.seed);
    let (cfg, mut params, mut opt, start) = if args.resume {
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
        order.seek(epoch, cursor);
        let step = ck.step();
        (ck.config, ck.params, opt, step)
    } else {
        let (cfg, p) = from_lm(&m.config, &m.params, s.seed)?;
        let opt = AdamW::new(&p.layout, s.adamw.clone());
        (cfg, p, opt, 0)
    };
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let mut log = MetricsLog::open(
        &args.out.join("metrics.jsonl"),
        args.resume.then_some(start as u64),
    )?;
    let (b, t) = (s.batch_size, s.seq_len);
    let mut rm = RewardTrainer::new(&cfg, b, t)?;
    let mut grads = vec![0.0f32; params.data.len()];
    let (mut inp, mut len) = (vec![pad; b * t], vec![1usize; b]);
    let end = args.stop_after.map_or(s.steps, |k| k.min(s.steps));
    if !args.quiet {
        eprintln!(
            "reward model: {} parameters from {}; {} train rankings ({skipped} skipped), {} held-out ({val_skipped} skipped)",
            params.data.len(),
            src.display(),
            train.len(),
            val.len()
        );
    }
    let bar = progress_bar(s.steps, start, args.quiet);
    let init = args.init.display().to_string();
    let save = |params: &Params, opt: &AdamW, step: usize, order: &Order| -> Result<()> {
        let state = json!({
            "stage": "reward", "step": step, "epoch": order.epoch, "cursor": order.cursor,
            "settings": s, "data_hash": data_hash, "init": init,
        });
        checkpoint::save(
            &args.out,
            &cfg,
            params,
            opt,
            &state,
            &m.tokenizer_json,
            &m.tokenizer_config,
        )
    };
    // The periodic evaluation's rankings, spread evenly over the file (the file is ordered by
    // source, so its first rankings would stand for a few sources only).
    let eval_n = args.eval_limit.min(val.len());
    let val_sub: Vec<Ranked> = (0..eval_n)
        .map(|i| val[i * val.len() / eval_n].clone())
        .collect();
    let mut last_loss = f32::NAN;
    for step in start..end {
        let lr = lr_at(step, s.lr, s.min_lr, s.warmup, s.steps);
        grads.fill(0.0);
        let groups = order.batch(&train, b, t, pad, &mut inp, &mut len);
        let (loss, right, pairs) =
            rm.forward_backward(&params, &mut grads, &inp, &len, &groups, 1.0)?;
        if !loss.is_finite() {
            return Err(Error::Other(format!(
                "step {}: the loss is {loss}; lower --lr",
                step + 1
            )));
        }
        let norm = clip_grad_norm(&mut grads, s.grad_clip);
        opt.update(&mut params.data, &grads, lr);
        last_loss = loss;
        let done = step + 1;
        let acc = right as f64 / pairs.max(1) as f64;
        log.write(&json!({"step": done, "loss": loss, "pair_acc": acc, "prompts": groups.len(), "lr": lr, "grad_norm": norm, "epoch": order.epoch, "elapsed_s": t_start.elapsed().as_secs_f64()}))?;
        bar.set_position(done as u64);
        bar.set_message(format!("loss {loss:.3} | pair acc {acc:.2}"));
        if eval_n > 0 && done % args.eval_every == 0 && done != s.steps {
            let (a, l, _) = evaluate(&mut rm, &params, &val_sub, pad)?;
            log.write(&json!({"step": done, "val_loss": l, "val_pair_acc": a}))?;
            bar.println(format!("step {done}: train loss {loss:.4}, held-out loss {l:.4}, pairwise accuracy {a:.3} ({eval_n} rankings)"));
        }
        if done % args.save_every == 0 || done == end {
            save(&params, &opt, done, &order)?;
        }
    }
    bar.finish_and_clear();
    let (acc, vloss, vpairs) = evaluate(&mut rm, &params, &val, pad)?;
    let (self_acc, self_pairs) = if self_val.is_empty() {
        (None, 0)
    } else {
        let (a, _, n) = evaluate(&mut rm, &params, &self_val, pad)?;
        (Some(a), n)
    };
    if end == s.steps {
        log.write(&json!({"step": end, "val_loss": vloss, "val_pair_acc": acc, "self_pair_acc": self_acc, "self_samples": self_stats.as_ref().map(|(t, v)| json!({"train": t, "held_out": v}))}))?;
    }
    let (tc, vc) = log.read_curves()?;
    plot(&args.out.join("loss.png"), &tc, &vc, None)?;
    let summary = RewardSummary {
        steps_done: end,
        train_loss: last_loss,
        train_prompts: train.len(),
        skipped,
        eval_pairwise_accuracy: acc,
        eval_loss: vloss,
        eval_pairs: vpairs,
        self_pairwise_accuracy: self_acc,
        self_pairs,
        wall_s: t_start.elapsed().as_secs_f64(),
        checkpoint: checkpoint::dir_of(&args.out),
    };
    if !args.quiet {
        eprintln!(
            "done: {} steps, train loss {:.4}; held-out: pairwise accuracy {:.4} over {} pairs, loss {:.4}{}; {:.0}s; checkpoint {}",
            end, last_loss, acc, vpairs, vloss,
            self_acc.map_or(String::new(), |a| format!("; on the model's own held-out samples {a:.4} over {self_pairs} pairs")),
            summary.wall_s, summary.checkpoint.display()
        );
    }
    Ok(summary)
}

/// Scores (prompt, reply) with a saved reward model directory (`Model::classify`).
pub struct RewardModel {
    pub model: crate::model::Model,
    pub lm: LoadedModel,
}

impl RewardModel {
    pub fn load(dir: &Path) -> Result<Self> {
        let dir = model_dir(dir);
        let model = crate::model::Model::load(&dir)?;
        if model.config.labels.len() != 1 {
            return Err(Error::InvalidArgument(format!(
                "{}: not a reward model (needs exactly one label)",
                dir.display()
            )));
        }
        let lm = load_model(&dir)?;
        Ok(RewardModel { model, lm })
    }

    pub fn score(&self, prompt: &str, reply: &str) -> Result<f32> {
        let ids = encode_pair(&self.lm, prompt, reply)?;
        Ok(self.model.classify(&ids)?[0])
    }

    /// Scores an already tokenized conversation ending at the reply's end token.
    pub fn score_tokens(&self, ids: &[u32]) -> Result<f32> {
        Ok(self.model.classify(ids)?[0])
    }
}

// ---------------------------------------------------------------------------------------------
// `tinychat eval reward`: pairwise accuracy of a saved reward model, broken down.

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Example:\n  tinychat eval reward --model runs/reward --data data/sft/ranked_eval.jsonl --show-errors 10\n  tinychat eval reward --model runs/reward --json"
)]
pub struct EvalRewardArgs {
    /// The reward model: a run directory (its checkpoint/) or a model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Ranked answers, best first ({"prompt", "responses"} or TRL's {"prompt", "chosen", "rejected"}).
    #[arg(long, default_value = "data/sft/ranked_eval.jsonl")]
    pub data: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also print the N pairs ordered worst (most negative margin), with the table.
    #[arg(long, default_value_t = 0)]
    pub show_errors: usize,
}

/// One pair the model ordered wrong: the better answer scored `margin` above the worse (≤ 0;
/// a tie counts as wrong).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairError {
    pub prompt: String,
    pub better: String,
    pub worse: String,
    /// "1>3": the ranks compared
    pub ranks: String,
    pub source: String,
    pub margin: f32,
}

/// Pairs ordered right out of all pairs, and the mean margin r_better − r_worse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairCount {
    pub right: usize,
    pub pairs: usize,
    pub mean_margin: f64,
}

impl PairCount {
    fn add(&mut self, margin: f32) {
        self.right += (margin > 0.0) as usize;
        self.mean_margin += (margin as f64 - self.mean_margin) / (self.pairs + 1) as f64;
        self.pairs += 1;
    }
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.pairs.max(1) as f64
    }
}

/// What `tinychat eval reward` reports: every pair (i < j) of each ranking counts once, ties as
/// wrong, as in training's held-out accuracy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardEvalReport {
    pub data: PathBuf,
    pub rankings: usize,
    /// Rankings left out because an answer does not fit the model's context (counted, not scored).
    /// Training skips at its `--seq-len` (the context by default), so a run trained with a
    /// shorter one scored fewer rankings than this.
    pub skipped_too_long: usize,
    pub all: PairCount,
    /// By `meta.source` ("quiz/capital"), and by its family before the first '/' ("quiz").
    pub by_source: std::collections::BTreeMap<String, PairCount>,
    pub by_family: std::collections::BTreeMap<String, PairCount>,
    /// By the ranks compared, "1>2" (best against second) … "4>5"; K-wise rankings of different K
    /// share the labels of their positions.
    pub by_ranks: std::collections::BTreeMap<String, PairCount>,
    /// The `show_errors` worst-ordered pairs, worst first.
    pub worst: Vec<PairError>,
}

impl RewardEvalReport {
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} rankings ({} skipped: an answer longer than the context), {} pairs",
            self.data.display(),
            self.rankings,
            self.skipped_too_long,
            self.all.pairs
        );
        let _ = writeln!(
            s,
            "pairwise accuracy {:.4} ({}/{}), mean margin {:.3}",
            self.all.accuracy(),
            self.all.right,
            self.all.pairs,
            self.all.mean_margin
        );
        for (title, map) in [
            ("family", &self.by_family),
            ("source", &self.by_source),
            ("ranks", &self.by_ranks),
        ] {
            let _ = writeln!(
                s,
                "\n{title:<28} {:>6} {:>9} {:>7}",
                "pairs", "accuracy", "margin"
            );
            for (k, c) in map {
                let _ = writeln!(
                    s,
                    "{k:<28} {:>6} {:>9.3} {:>7.3}",
                    c.pairs,
                    c.accuracy(),
                    c.mean_margin
                );
            }
        }
        if !self.worst.is_empty() {
            let _ = writeln!(s, "\nworst-ordered pairs:");
            let cut = |t: &str| t.chars().take(70).collect::<String>().replace('\n', " ");
            for e in &self.worst {
                let _ = writeln!(
                    s,
                    "  {:>7.3} {} [{}] {:?}\n          better {:?}\n          worse  {:?}",
                    e.margin,
                    e.ranks,
                    e.source,
                    cut(&e.prompt),
                    cut(&e.better),
                    cut(&e.worse)
                );
            }
        }
        s
    }
}

/// Scores every answer of `examples` with `rm` and counts the pairs; keeps the `show_errors`
/// worst-ordered pairs.
pub fn evaluate_rankings(
    rm: &RewardModel,
    examples: &[RankedExample],
    data: &Path,
    show_errors: usize,
) -> Result<RewardEvalReport> {
    use rayon::prelude::*;
    let ctx = rm.model.config.max_seq_len;
    let scored: Vec<Option<Vec<f32>>> = examples
        .par_iter()
        .map(|ex| -> Result<Option<Vec<f32>>> {
            let ids: Vec<Vec<u32>> = ex
                .responses
                .iter()
                .map(|y| encode_pair(&rm.lm, &ex.prompt, y))
                .collect::<Result<_>>()?;
            if ids.iter().any(|s| s.len() > ctx) {
                return Ok(None);
            }
            ids.iter()
                .map(|s| rm.score_tokens(s))
                .collect::<Result<Vec<f32>>>()
                .map(Some)
        })
        .collect::<Result<_>>()?;
    let mut rep = RewardEvalReport {
        data: data.to_path_buf(),
        ..Default::default()
    };
    let mut wrong: Vec<(f32, &RankedExample, usize, usize, String)> = vec![];
    for (ex, r) in examples.iter().zip(&scored) {
        let Some(r) = r else {
            rep.skipped_too_long += 1;
            continue;
        };
        rep.rankings += 1;
        let source = ex
            .meta
            .as_ref()
            .and_then(|m| m.get("source"))
            .and_then(|s| s.as_str())
            .unwrap_or("(none)")
            .to_string();
        let family = source.split('/').next().unwrap_or("").to_string();
        for i in 0..r.len() {
            for j in i + 1..r.len() {
                let m = r[i] - r[j];
                if show_errors > 0 && m <= 0.0 {
                    wrong.push((m, ex, i, j, source.clone()));
                }
                rep.all.add(m);
                rep.by_source.entry(source.clone()).or_default().add(m);
                rep.by_family.entry(family.clone()).or_default().add(m);
                rep.by_ranks
                    .entry(format!("{}>{}", i + 1, j + 1))
                    .or_default()
                    .add(m);
            }
        }
    }
    wrong.sort_by(|a, b| a.0.total_cmp(&b.0));
    rep.worst = wrong
        .into_iter()
        .take(show_errors)
        .map(|(margin, ex, i, j, source)| PairError {
            prompt: ex.prompt.clone(),
            better: ex.responses[i].clone(),
            worse: ex.responses[j].clone(),
            ranks: format!("{}>{}", i + 1, j + 1),
            source,
            margin,
        })
        .collect();
    Ok(rep)
}

pub fn run_eval(args: &EvalRewardArgs) -> Result<RewardEvalReport> {
    let rm = RewardModel::load(&args.model)?;
    let examples = read_ranked_jsonl(&args.data)?;
    let rep = evaluate_rankings(&rm, &examples, &args.data, args.show_errors)?;
    if rep.all.pairs == 0 {
        return Err(Error::InvalidArgument(format!(
            "{}: no ranking to score ({} read, {} with an answer longer than the model's context of {} tokens)",
            args.data.display(),
            examples.len(),
            rep.skipped_too_long,
            rm.model.config.max_seq_len
        )));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rep).map_err(|e| Error::Other(e.to_string()))?
        );
    } else {
        print!("{}", rep.table());
    }
    Ok(rep)
}

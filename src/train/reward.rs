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
pub use super::heads::RewardTrainer;
use super::metrics::text;
use super::model::trunk_with_new_head;
use super::settings::Schedule;
use super::sft::{data_files, encode_conversation, load_init, load_model, model_dir, LoadedModel};
use super::sft_data::{
    pairs_by_check, read_ppo_jsonl, read_ranked_jsonl, PpoPrompt, RankedExample,
};
use super::trainer::{
    sample_reply, EpochOrder, Fingerprint, Learner, Plot, Report, RunOptions, Stage, Start, Trainer,
};
use crate::config::{Family, ModelConfig};
use crate::error::{Error, Result};
use crate::generate::Rng;
use crate::ops::{bradley_terry_forward, Ranking};
use crate::params::Params;
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

/// Fills a (B, T) batch (inputs (B·T), lengths (B)) with the rankings `ids` in order, stopping
/// before the first one that does not fit; returns the groups (one per ranking taken, so
/// `groups.len()` were consumed). Unused rows hold one pad token.
pub fn fill_batch(
    data: &[Ranked],
    ids: impl Iterator<Item = usize>,
    pad: u32,
    inputs: &mut [u32],
    lengths: &mut [usize],
) -> Vec<Ranking> {
    let (b, t) = (lengths.len(), inputs.len() / lengths.len());
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

/// The next batch of whole rankings in the epoch order (a batch never straddles two epochs: it
/// takes what fits of this one); see [`fill_batch`].
pub fn next_rankings(
    order: &mut EpochOrder,
    data: &[Ranked],
    pad: u32,
    inputs: &mut [u32],
    lengths: &mut [usize],
) -> Vec<Ranking> {
    let ids = order.rest().iter().map(|&i| i as usize);
    let groups = fill_batch(data, ids, pad, inputs, lengths);
    order.advance(groups.len());
    groups
}

/// Pairwise accuracy (ties count as wrong) and mean loss of the model on held-out rankings.
pub fn evaluate(
    rm: &mut RewardTrainer,
    p: &Params,
    data: &[Ranked],
    pad: u32,
) -> Result<(f64, f64, usize)> {
    let (b, t) = (rm.model.batch, rm.model.seq);
    let (mut inp, mut len) = (vec![pad; b * t], vec![1usize; b]);
    let (mut right, mut pairs, mut loss_sum, mut n_groups) = (0usize, 0usize, 0.0f64, 0usize);
    let mut i = 0;
    while i < data.len() {
        let gs = fill_batch(data, i..data.len(), pad, &mut inp, &mut len);
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
    #[serde(flatten)]
    pub schedule: Schedule,
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

/// `tinychat train reward`, option for option (each field is named as its flag).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RewardOptions {
    /// The SFT model whose trunk starts the reward model (run or model directory). Default
    /// runs/sft.
    pub init: PathBuf,
    /// Ranked answers (ranked_train.jsonl and ranked_eval.jsonl). Default data/sft.
    pub data: PathBuf,
    /// Sequence length T (None: the model's context).
    pub seq_len: Option<usize>,
    /// Rows (answers) per batch; whole rankings only (a prompt's K answers share a batch).
    /// Default 20.
    pub batch_size: usize,
    /// Default 300 steps from 3e-4 down to 3e-5 after 20 warmup steps, no weight decay.
    pub schedule: Schedule,
    /// Default 1337.
    pub seed: u64,
    /// Held-out pairwise accuracy every this many steps (and at the end). Default 100.
    pub eval_every: usize,
    /// Held-out rankings used by the periodic evaluation, spread evenly over the file (all of
    /// them at the end). Default 200.
    pub eval_limit: usize,
    /// Rank this many samples of the `init` (SFT) model per checkable prompt of
    /// ppo_prompts.jsonl by the exact checkers and add the (correct, wrong) pairs to the
    /// training rankings (0, the default: the constructed rankings only).
    pub self_samples: usize,
    /// How many checkable PPO prompts to sample (a seeded choice; a tenth of them is held out
    /// to measure the pairwise accuracy on the model's own samples). Default 1000.
    pub self_prompts: usize,
    /// Only sample prompts whose `meta.source` starts with one of these (comma-separated, e.g.
    /// "computed"); all checkable prompts when empty (the default).
    pub self_sources: String,
    /// Run directory (default runs/reward), resume, checkpoints every 100 steps.
    pub run: RunOptions,
}

impl Default for RewardOptions {
    fn default() -> Self {
        RewardOptions {
            init: "runs/sft".into(),
            data: "data/sft".into(),
            seq_len: None,
            batch_size: 20,
            schedule: Schedule::new(300, 3e-4, 3e-5, 20, 0.0),
            seed: 1337,
            eval_every: 100,
            eval_limit: 200,
            self_samples: 0,
            self_prompts: 1000,
            self_sources: String::new(),
            run: RunOptions::new("runs/reward", 100),
        }
    }
}

impl RewardOptions {
    /// The settings a checkpoint records (the self-sample settings only when used).
    pub fn settings(&self, seq_len: usize) -> RewardSettings {
        let own = self.self_samples > 0;
        RewardSettings {
            seq_len,
            batch_size: self.batch_size,
            schedule: self.schedule.clone(),
            seed: self.seed,
            self_samples: self.self_samples,
            self_prompts: if own { self.self_prompts } else { 0 },
            self_sources: if own {
                self.self_sources.clone()
            } else {
                String::new()
            },
        }
    }
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
    use crate::generate::SamplingParams;
    use crate::model::Model;
    let end = model.end_token("model")?;
    let t = model.config.max_seq_len;
    let engine = std::sync::Arc::new(Model::new(
        model.config.clone(),
        model.params.clone(),
        crate::weights::DType::F32,
    ));
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
            let (reply, _) = sample_reply(&engine, &ids, &sp)?;
            let text = model.tokenizer.decode(&reply, true)?;
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
    let p = trunk_with_new_head(&cfg, lm, seed, "language model")?;
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

/// The stage's state between steps (see [`Stage`]).
struct Reward<'a> {
    o: &'a RewardOptions,
    s: RewardSettings,
    cfg: ModelConfig,
    m: LoadedModel,
    train: Vec<Ranked>,
    /// The periodic evaluation's rankings, spread evenly over the held-out file (the file is
    /// ordered by source, so its first rankings would stand for a few sources only).
    val_sub: Vec<Ranked>,
    pad: u32,
    data_hash: String,
    order: EpochOrder,
    rm: RewardTrainer,
    learner: Learner,
    inp: Vec<u32>,   // (B, T)
    len: Vec<usize>, // (B)
    clock: Instant,
    last_loss: f32,
}

impl Stage for Reward<'_> {
    fn step(&mut self, step: usize) -> Result<Report> {
        let pad = self.pad;
        let (inp, len) = (&mut self.inp, &mut self.len);
        let groups = next_rankings(&mut self.order, &self.train, pad, inp, len);
        let rm = &mut self.rm;
        let mut pairs = (0, 0);
        let st = self.learner.step(step, |params, grads| {
            let (loss, right, n) = rm.bt_forward_backward(params, grads, inp, len, &groups, 1.0)?;
            pairs = (right, n);
            Ok(loss)
        })?;
        let (done, loss) = (step + 1, st.loss);
        self.last_loss = loss;
        let acc = pairs.0 as f64 / pairs.1.max(1) as f64;
        Ok(Report {
            line: json!({"step": done, "loss": loss, "pair_acc": acc, "prompts": groups.len(), "lr": st.lr, "grad_norm": st.grad_norm, "epoch": self.order.epoch, "elapsed_s": self.clock.elapsed().as_secs_f64()}),
            text: format!("loss {loss:.3} | pair acc {acc:.2}"),
        })
    }

    /// The held-out subset's accuracy; the run's end evaluates every held-out ranking instead.
    fn validate(&mut self, done: usize) -> Result<Vec<Report>> {
        let eval_n = self.val_sub.len();
        if eval_n == 0 || done == self.s.schedule.steps {
            return Ok(vec![]);
        }
        let p = &self.learner.params;
        let (a, l, _) = evaluate(&mut self.rm, p, &self.val_sub, self.pad)?;
        let loss = self.last_loss;
        Ok(vec![Report {
            line: json!({"step": done, "val_loss": l, "val_pair_acc": a}),
            text: format!("step {done}: train loss {loss:.4}, held-out loss {l:.4}, pairwise accuracy {a:.3} ({eval_n} rankings)"),
        }])
    }

    fn save(&mut self, done: usize) -> Result<()> {
        let mut state = self.order.state(done, &self.s);
        state["stage"] = "reward".into();
        state["data_hash"] = self.data_hash.clone().into();
        state["init"] = self.o.init.display().to_string().into();
        let tok = (&self.m.tokenizer_json[..], &self.m.tokenizer_config);
        self.learner.save(&self.o.run.out, &self.cfg, &state, tok)
    }
}

/// The `init` model's own samples ranked by the checkers, encoded.
struct OwnRankings {
    train: Vec<Ranked>,
    held_out: Vec<Ranked>,
    /// Rankings left out (an answer too long, or more answers than a batch holds).
    skipped: usize,
    /// What the checkers found on the training and the held-out prompts.
    stats: (SelfRankStats, SelfRankStats),
}

/// [`OwnRankings`], always from `init`, also on a resume: the same seed gives the same
/// rankings.
fn own_rankings(o: &RewardOptions, s: &RewardSettings, m: &LoadedModel) -> Result<OwnRankings> {
    let ppo_path = o.data.join("ppo_prompts.jsonl");
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
    let sft = load_model(&model_dir(&o.init))?;
    let t0 = Instant::now();
    let n_val = cands.len() / 10;
    let (val_rk, vst) = self_rankings(&sft, &cands[..n_val], s.self_samples, 24, s.seed)?;
    let (train_rk, tst) = self_rankings(&sft, &cands[n_val..], s.self_samples, 24, s.seed ^ 1)?;
    let (train, skipped) = encode_rankings(m, &train_rk, s.seq_len, s.batch_size)?;
    let val = encode_rankings(m, &val_rk, s.seq_len, s.batch_size)?.0;
    if !o.run.quiet {
        eprintln!(
            "own samples: {} prompts × {} samples of {}, {:.1}% correct by the checkers → {} (correct, wrong) pairs for training, {} held out; {:.0}s",
            tst.prompts + vst.prompts,
            s.self_samples,
            o.init.display(),
            100.0 * (tst.correct + vst.correct) as f64 / (tst.samples + vst.samples).max(1) as f64,
            tst.pairs,
            vst.pairs,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(OwnRankings {
        train,
        held_out: val,
        skipped,
        stats: (tst, vst),
    })
}

/// Runs `tinychat train reward`.
pub fn run(o: &RewardOptions) -> Result<RewardSummary> {
    let t_start = Instant::now();
    if o.batch_size < 2 || o.schedule.steps == 0 {
        return Err(Error::InvalidArgument(
            "--batch-size must be at least 2 and --steps positive".into(),
        ));
    }
    let hint = format!(
        "fine-tune one first: `tinychat train sft --out {}`",
        o.init.display()
    );
    let (src, m) = load_init(&o.init, &o.run, &hint)?;
    let s = o.settings(o.seq_len.unwrap_or(m.config.max_seq_len));
    let pad = m.config.pad_token_id.unwrap_or(0);
    let [train_path, eval_path] = data_files(
        &o.data,
        ["ranked_train.jsonl", "ranked_eval.jsonl"],
        "prepare the fine-tuning data first (`tinychat data prepare`)",
    )?;
    let (mut train, mut skipped) = encode_rankings(
        &m,
        &read_ranked_jsonl(&train_path)?,
        s.seq_len,
        s.batch_size,
    )?;
    let (mut self_val, mut self_stats) = (vec![], None);
    if s.self_samples > 0 {
        let own = own_rankings(o, &s, &m)?;
        skipped += own.skipped;
        train.extend(own.train);
        self_val = own.held_out;
        self_stats = Some(own.stats);
    }
    let (val, val_skipped) =
        encode_rankings(&m, &read_ranked_jsonl(&eval_path)?, s.seq_len, s.batch_size)?;
    if train.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no ranking fits ({skipped} skipped: an answer longer than {} tokens or more answers than --batch-size)",
            train_path.display(), s.seq_len
        )));
    }
    let fp = Fingerprint::data_file(&train_path)?;
    let mut order = EpochOrder::shuffled(train.len(), s.seed);
    let start = if o.run.resume {
        let st = Start::resume(&o.run.out, &s, None, s.schedule.adamw.clone(), &fp)?;
        order.seek(st.data_position.0, st.data_position.1);
        st
    } else {
        let (cfg, p) = from_lm(&m.config, &m.params, s.seed)?;
        Start::fresh(cfg, p, s.schedule.adamw.clone())
    };
    let (b, t) = (s.batch_size, s.seq_len);
    let rm = RewardTrainer::new(&start.config, b, t)?;
    if !o.run.quiet {
        eprintln!(
            "reward model: {} parameters from {}; {} train rankings ({skipped} skipped), {} held-out ({val_skipped} skipped)",
            start.params.data.len(),
            src.display(),
            train.len(),
            val.len()
        );
    }
    let mut trainer =
        Trainer::open(&o.run, s.schedule.steps, start.step)?.validate_every(o.eval_every);
    let eval_n = o.eval_limit.min(val.len());
    let mut stage = Reward {
        o,
        cfg: start.config,
        learner: Learner::new(start.params, start.opt, s.schedule.clone()),
        s,
        m,
        train,
        val_sub: (0..eval_n)
            .map(|i| val[i * val.len() / eval_n].clone())
            .collect(),
        pad,
        data_hash: fp.value,
        order,
        rm,
        inp: vec![pad; b * t],
        len: vec![1; b],
        clock: t_start,
        last_loss: f32::NAN,
    };
    trainer.run(&mut stage)?;
    // Every held-out ranking, and the held-out pairs of the model's own samples.
    let p = &stage.learner.params;
    let (acc, vloss, vpairs) = evaluate(&mut stage.rm, p, &val, pad)?;
    let (self_acc, self_pairs) = if self_val.is_empty() {
        (None, 0)
    } else {
        let (a, _, n) = evaluate(&mut stage.rm, p, &self_val, pad)?;
        (Some(a), n)
    };
    if trainer.end == stage.s.schedule.steps {
        trainer.log.write(&json!({"step": trainer.end, "val_loss": vloss, "val_pair_acc": acc, "self_pair_acc": self_acc, "self_samples": self_stats.as_ref().map(|(t, v)| json!({"train": t, "held_out": v}))}))?;
    }
    trainer.plot(Plot::Losses {
        text: text::REWARD,
        entropy: None,
    })?;
    let summary = RewardSummary {
        steps_done: trainer.end,
        train_loss: stage.last_loss,
        train_prompts: stage.train.len(),
        skipped,
        eval_pairwise_accuracy: acc,
        eval_loss: vloss,
        eval_pairs: vpairs,
        self_pairwise_accuracy: self_acc,
        self_pairs,
        wall_s: t_start.elapsed().as_secs_f64(),
        checkpoint: checkpoint::dir_of(&o.run.out),
    };
    if !o.run.quiet {
        eprintln!(
            "done: {} steps, train loss {:.4}; held-out: pairwise accuracy {:.4} over {} pairs, loss {:.4}{}; {:.0}s; checkpoint {}",
            summary.steps_done, summary.train_loss, acc, vpairs, vloss,
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

//! `tinychat train ppo`: the policy, its frozen reference and the reward model from their run
//! directories, the prompts, and the iterations on the shared [`Trainer`] (one step = one PPO
//! iteration; the critic is saved in `<out>/value/`).

use super::{iteration_prompts, IterStats, Ppo, PpoSettings, Trajectory};
use crate::error::{Error, Result};
use crate::tokenizer::Message;
use crate::train::checkers::{check, Check};
use crate::train::checkpoint;
use crate::train::heads::RewardTrainer;
use crate::train::optim::AdamWConfig;
use crate::train::sft::{load_model, model_dir, LoadedModel};
use crate::train::sft_data::read_ppo_jsonl;
use crate::train::trainer::{plot_run, Plot, Report, RunOptions, Stage, Trainer};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The series of a PPO run's metrics.jsonl drawn into loss.png.
pub const PLOTTED: [&str; 4] = ["reward", "kl", "value_loss", "entropy"];

/// `tinychat train ppo`, option for option (each field is named as its flag).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PpoOptions {
    /// The SFT model: the policy's start and the frozen reference. Default runs/sft.
    pub policy: PathBuf,
    /// The reward model (from `tinychat train reward`); the critic starts from it too. Default
    /// runs/reward.
    pub reward: PathBuf,
    /// PPO prompts (ppo_prompts.jsonl). Default data/sft.
    pub data: PathBuf,
    /// Default 40.
    pub iterations: usize,
    /// Only prompts whose `meta.source` starts with one of these (comma-separated); all prompts
    /// when empty (the default).
    pub prompt_sources: String,
    /// Pretraining text for PPO-ptx (a prepared corpus split, JSONL or text). Default
    /// data/corpus/train.jsonl.
    pub ptx_data: PathBuf,
    /// The hyperparameters the checkpoints record (see [`PpoSettings`]'s defaults).
    pub settings: PpoSettings,
    /// Run directory (default runs/ppo): checkpoint/ (the policy), value/checkpoint/ (the
    /// critic), metrics.jsonl, loss.png; resume (the same options; `iterations` may be raised);
    /// a checkpoint every 10 iterations.
    pub run: RunOptions,
}

impl Default for PpoOptions {
    fn default() -> Self {
        PpoOptions {
            policy: "runs/sft".into(),
            reward: "runs/reward".into(),
            data: "data/sft".into(),
            iterations: 40,
            prompt_sources: String::new(),
            ptx_data: "data/corpus/train.jsonl".into(),
            settings: PpoSettings::default(),
            run: RunOptions::new("runs/ppo", 10),
        }
    }
}

impl PpoOptions {
    fn check(&self) -> Result<()> {
        let s = &self.settings;
        if s.rollouts == 0 || s.minibatch == 0 || s.epochs == 0 || self.iterations == 0 {
            return Err(Error::InvalidArgument(
                "--rollouts, --minibatch, --epochs and --iterations must be positive".into(),
            ));
        }
        if s.samples_per_prompt == 0 || s.rollouts % s.samples_per_prompt != 0 {
            return Err(Error::InvalidArgument(format!(
                "--rollouts ({}) must be a positive multiple of --samples-per-prompt ({})",
                s.rollouts, s.samples_per_prompt
            )));
        }
        if !(s.temperature > 0.0 && s.temperature.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "--temperature must be positive (got {})",
                s.temperature
            )));
        }
        Ok(())
    }
}

/// The policy (SFT) and reward models, checked against each other.
fn load_models(o: &PpoOptions) -> Result<(LoadedModel, LoadedModel, PathBuf)> {
    let pol = load_model(&model_dir(&o.policy)).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot load the policy in {}: {e}\n  fine-tune one first: `tinychat train sft --out {}`",
            o.policy.display(),
            o.policy.display()
        ))
    })?;
    let rm_dir = model_dir(&o.reward);
    let rmm = load_model(&rm_dir).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot load the reward model in {}: {e}\n  train one first: `tinychat train reward --out {}`",
            rm_dir.display(),
            o.reward.display()
        ))
    })?;
    if rmm.config.labels.len() != 1 {
        return Err(Error::InvalidArgument(format!(
            "{}: not a reward model (one label); train one with `tinychat train reward`",
            rm_dir.display()
        )));
    }
    if rmm.tokenizer_json != pol.tokenizer_json {
        return Err(Error::InvalidArgument(
            "the reward model and the policy use different tokenizers".into(),
        ));
    }
    Ok((pol, rmm, rm_dir))
}

/// The PPO prompts a run answers.
struct Prompts {
    /// Each prompt rendered for the assistant's answer, tokenized.
    ids: Vec<Vec<u32>>,
    /// With `checker_reward`: each prompt's exact checker.
    checks: HashMap<Vec<u32>, Check>,
    /// Prompts too long for the context.
    skipped: usize,
}

/// The prompts from `prompt_sources` that fit the context with room for an answer (with
/// `checker_reward`, those with a check). Errors when none does.
fn read_prompts(o: &PpoOptions, pol: &LoadedModel) -> Result<Prompts> {
    let path = o.data.join("ppo_prompts.jsonl");
    if !path.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} is missing: prepare the fine-tuning data first (`tinychat data prepare`)",
            path.display()
        )));
    }
    let t = pol.config.max_seq_len;
    let (mut prompts, mut checks, mut skipped) = (vec![], HashMap::new(), 0);
    let sources: Vec<&str> = o
        .prompt_sources
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect();
    for it in &read_ppo_jsonl(&path)? {
        let src = it
            .meta
            .as_ref()
            .and_then(|m| m["source"].as_str())
            .unwrap_or("");
        if !sources.is_empty() && !sources.iter().any(|p| src.starts_with(p)) {
            continue;
        }
        if o.settings.checker_reward && it.check.is_none() {
            continue;
        }
        let head = pol.template.render(&[Message::user(&it.prompt)], true)?;
        let ids = pol.tokenizer.encode(&head, false)?;
        if ids.len() + 2 > t {
            skipped += 1;
        } else {
            if let (true, Some(c)) = (o.settings.checker_reward, &it.check) {
                checks.entry(ids.clone()).or_insert_with(|| c.clone());
            }
            prompts.push(ids);
        }
    }
    if prompts.is_empty() {
        let from = if sources.is_empty() {
            String::new()
        } else {
            format!(" from sources {:?}", o.prompt_sources)
        };
        let (what, why) = if o.settings.checker_reward {
            (
                " with a \"check\"",
                "; --checker-reward needs checkable prompts",
            )
        } else {
            ("", "")
        };
        return Err(Error::InvalidArgument(format!(
            "{}: no prompt{what}{from} fits the context of {t} tokens ({skipped} skipped){why}",
            path.display(),
        )));
    }
    Ok(Prompts {
        ids: prompts,
        checks,
        skipped,
    })
}

/// Scores a rollout: the reward model's score of the conversation, or (`checker_reward`) 1 when
/// the prompt's exact checker accepts the answer, else 0.
struct Scorer<'a> {
    rm: RewardTrainer,
    rmm: &'a LoadedModel,
    pol: &'a LoadedModel,
    checks: Option<HashMap<Vec<u32>, Check>>,
    pad: u32,
}

impl Scorer<'_> {
    fn score(&mut self, tr: &Trajectory) -> Result<f32> {
        if let Some(checks) = &self.checks {
            let text = self.pol.tokenizer.decode(&tr.response, true)?;
            let c = checks.get(&tr.prompt).ok_or_else(|| {
                Error::Other("--checker-reward: a rollout's prompt has no check".into())
            })?;
            return Ok(check(&text, c) as u8 as f32);
        }
        let rm_t = self.rmm.config.max_seq_len;
        let mut seq: Vec<u32> = tr.prompt.iter().chain(&tr.response).copied().collect();
        seq.truncate(rm_t);
        let n = seq.len();
        seq.resize(rm_t, self.pad);
        Ok(self.rm.forward(&self.rmm.params, &seq, &[n])?[0])
    }
}

/// The stage's state between iterations (see [`Stage`]).
struct PpoStage<'a> {
    o: &'a PpoOptions,
    s: PpoSettings,
    ppo: Ppo,
    pol: &'a LoadedModel,
    rmm: &'a LoadedModel,
    scorer: Scorer<'a>,
    prompts: Vec<Vec<u32>>,
    /// The prompts in the run's shuffled order.
    order: Vec<usize>,
    /// The policy's end token (stops a rollout) and its padding token.
    end: u32,
    pad: u32,
    /// Recorded with the checkpoints: where the policy and the reward came from.
    names: (String, String),
    stats: Vec<IterStats>,
    clock: std::time::Instant,
}

impl Stage for PpoStage<'_> {
    fn step(&mut self, it: usize) -> Result<Report> {
        // Iteration it takes prompts it·P .. (it+1)·P of the shuffled order (cyclically; P =
        // rollouts / samples per prompt), each K times in a row, so a resumed run sees the same
        // prompts.
        let batch: Vec<Vec<u32>> = iteration_prompts(
            it,
            self.s.rollouts,
            self.s.samples_per_prompt,
            self.order.len(),
        )
        .into_iter()
        .map(|i| self.prompts[self.order[i]].clone())
        .collect();
        let scorer = &mut self.scorer;
        let seed = self.s.seed ^ it as u64;
        let (st, _) = self
            .ppo
            .iterate(&batch, self.end, self.pad, seed, &mut |tr| scorer.score(tr))?;
        let done = it + 1;
        let line = json!({"step": done, "reward": st.score, "kl": st.kl, "beta": st.beta,
            "entropy": st.entropy, "clip_frac": st.clip_frac, "policy_loss": st.policy_loss,
            "value_loss": st.value_loss, "ptx_loss": st.ptx_loss, "response_len": st.response_len,
            "elapsed_s": self.clock.elapsed().as_secs_f64()});
        let text = format!(
            "iter {done}: reward {:.3}, KL {:.3}, β {:.4}, entropy {:.3}, clip {:.3}, value loss {:.4}, len {:.1}{}",
            st.score, st.kl, st.beta, st.entropy, st.clip_frac, st.value_loss, st.response_len,
            if self.s.ptx_coef > 0.0 { format!(", ptx loss {:.3}", st.ptx_loss) } else { String::new() }
        );
        self.stats.push(st);
        Ok(Report { line, text })
    }

    fn save(&mut self, done: usize) -> Result<()> {
        let ppo = &self.ppo;
        let state = json!({"stage": "ppo", "step": done, "settings": self.s, "beta": ppo.beta,
            "policy": self.names.0, "reward": self.names.1});
        // The critic first: a crash between the two leaves the policy at the older step, and
        // the resume check refuses the mismatch instead of mixing them.
        let (pol, rmm) = (self.pol, self.rmm);
        checkpoint::save(
            &value_run(&self.o.run.out),
            &rmm.config,
            &ppo.critic,
            &ppo.critic_opt,
            &state,
            &rmm.tokenizer_json,
            &rmm.tokenizer_config,
        )?;
        checkpoint::save(
            &self.o.run.out,
            &pol.config,
            &ppo.policy,
            &ppo.policy_opt,
            &state,
            &pol.tokenizer_json,
            &pol.tokenizer_config,
        )
    }

    /// The KL ran away (or another error): save what the finished iterations made, and say so.
    fn failed(&mut self, it: usize, start: usize, e: Error) -> Error {
        if it > start {
            if let Err(e) = self.save(it) {
                return e;
            }
        }
        if let Err(e) = plot_run(
            &self.o.run.out,
            &Plot::Series {
                text: super::super::metrics::text::PPO,
                keys: &PLOTTED,
            },
        ) {
            return e;
        }
        Error::Other(format!(
            "{e}\n  (the checkpoint in {} holds the policy after iteration {it})",
            checkpoint::dir_of(&self.o.run.out).display()
        ))
    }
}

/// Where the critic's checkpoint lives.
fn value_run(out: &Path) -> PathBuf {
    out.join("value")
}

/// The policy and critic of the run's checkpoints (the reference stays the SFT model); returns
/// the iteration they reached.
fn resume(ppo: &mut Ppo, o: &PpoOptions, pol: &LoadedModel, rmm: &LoadedModel) -> Result<usize> {
    let adam = AdamWConfig {
        weight_decay: 0.0,
        ..AdamWConfig::default()
    };
    let s = &ppo.s;
    let value = value_run(&o.run.out);
    let mut ck = checkpoint::load(&o.run.out)?;
    ck.check_settings(&o.run.out, s, Some(&pol.config))?;
    let mut vk = checkpoint::load(&value)?;
    vk.check_settings(&value, s, Some(&rmm.config))?;
    if vk.step() != ck.step() {
        return Err(Error::InvalidArgument(format!(
            "--resume: the policy checkpoint is at iteration {} but the critic's ({}) at {}",
            ck.step(),
            value.display(),
            vk.step()
        )));
    }
    let step = ck.step();
    ppo.policy_opt = ck.take_adamw(adam.clone());
    ppo.policy = ck.params;
    ppo.critic_opt = vk.take_adamw(adam);
    ppo.critic = vk.params;
    ppo.beta = ck.state["beta"]
        .as_f64()
        .ok_or_else(|| Error::InvalidArgument("--resume: trainer_state.json has no beta".into()))?
        as f32;
    Ok(step)
}

/// Runs `tinychat train ppo`; returns the per-iteration statistics of this invocation.
pub fn run(o: &PpoOptions) -> Result<Vec<IterStats>> {
    o.check()?;
    let (pol, rmm, rm_dir) = load_models(o)?;
    let end = pol.end_token("policy")?;
    let pad = pol.config.pad_token_id.unwrap_or(0);
    let Prompts {
        ids: prompts,
        checks,
        skipped,
    } = read_prompts(o, &pol)?;
    let mut s = o.settings.clone();
    s.kl_horizon = s.kl_horizon.max(1);
    let mut ppo = Ppo::new(
        s.clone(),
        pol.config.clone(),
        pol.params.clone(),
        rmm.config.clone(),
        rmm.params.clone(),
    )?;
    let start = if o.run.resume {
        resume(&mut ppo, o, &pol, &rmm)?
    } else {
        0
    };
    if s.ptx_coef > 0.0 {
        let eot = pol.config.eos_token_ids.first().copied().unwrap_or(0);
        let toks = crate::train::data::tokenize_split(&o.ptx_data, &pol.tokenizer, eot).map_err(|e| {
            Error::InvalidArgument(format!(
                "--ptx-data {}: {e}\n  prepare the corpus with `tinychat data prepare`, or pass --ptx-coef 0",
                o.ptx_data.display()
            ))
        })?;
        ppo.ptx = Some(toks);
    }
    let rm = RewardTrainer::new(&rmm.config, 1, rmm.config.max_seq_len)?;
    if !o.run.quiet {
        eprintln!(
            "PPO: policy {} ({} parameters), {} {}; {} prompts ({skipped} skipped){}{}",
            o.policy.display(),
            pol.params.data.len(),
            if s.checker_reward {
                "reward from the exact checkers (diagnostic), critic"
            } else {
                "reward model and critic"
            },
            rm_dir.display(),
            prompts.len(),
            if s.ptx_coef > 0.0 {
                format!(
                    "; PPO-ptx {} on {} tokens of {}",
                    s.ptx_coef,
                    ppo.ptx.as_ref().map_or(0, |p| p.len()),
                    o.ptx_data.display()
                )
            } else {
                String::new()
            },
            if o.run.resume {
                format!("; resuming at iteration {start}")
            } else {
                String::new()
            }
        );
    }
    let mut trainer = Trainer::open(&o.run, o.iterations, start)?.print_steps();
    let mut order: Vec<usize> = (0..prompts.len()).collect();
    let mut rng = crate::generate::Rng::new(s.seed);
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let checker_reward = s.checker_reward;
    let reward_name = if checker_reward {
        "exact checkers".to_string()
    } else {
        rm_dir.display().to_string()
    };
    let mut stage = PpoStage {
        o,
        s,
        ppo,
        pol: &pol,
        rmm: &rmm,
        scorer: Scorer {
            rm,
            rmm: &rmm,
            pol: &pol,
            checks: checker_reward.then_some(checks),
            pad,
        },
        prompts,
        order,
        end,
        pad,
        names: (o.policy.display().to_string(), reward_name),
        stats: vec![],
        clock: std::time::Instant::now(),
    };
    trainer.run(&mut stage)?;
    trainer.plot(Plot::Series {
        text: super::super::metrics::text::PPO,
        keys: &PLOTTED,
    })?;
    if !o.run.quiet {
        eprintln!(
            "done: {} iterations ({} in this run) in {:.0}s; checkpoint {}",
            trainer.end,
            trainer.end - start.min(trainer.end),
            stage.clock.elapsed().as_secs_f64(),
            checkpoint::dir_of(&o.run.out).display()
        );
    }
    Ok(stage.stats)
}

//! The loop every training stage shares: where it starts (fresh, or exactly where the run's
//! checkpoint stopped), the optimiser step, the shuffled epoch order the stages' batchers draw
//! from, the progress bar, the metrics log, periodic validation and checkpoints, and the plot.
//!
//! A stage plugs into [`Trainer::run`] with the hooks of [`Stage`]:
//!
//! ```text
//! for step in start..end:                        end = stop_after, or the run's last step
//!     report = stage.step(step)                  metrics.jsonl ← report.line, bar ← report.text
//!     done % eval_every == 0 or done == steps:   metrics.jsonl ← stage.validate(done)
//!     metrics.jsonl ← stage.after_step(done)
//!     done % save_every == 0 or done == end:     stage.save(done)
//! ```
//!
//! and draws `loss.png` from the log with [`Trainer::plot`] once its own last work is logged.

use super::checkpoint;
use super::metrics::{plot, plot_series, read_series, MetricsLog, PlotText};
use super::optim::{clip_grad_norm, lr_at, AdamW, AdamWConfig};
use super::settings::Schedule;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::params::Params;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a stage writes and how its loop runs. None of it changes the numbers a run computes,
/// so checkpoints do not record it and a resume may change it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunOptions {
    /// Run directory: checkpoint/, metrics.jsonl, loss.png.
    pub out: PathBuf,
    /// Continue from the run directory's checkpoint, exactly where it stopped.
    pub resume: bool,
    /// Write a checkpoint every this many steps (and at the end).
    pub save_every: usize,
    /// Stop (with a checkpoint) after this step, as if interrupted; `resume` continues.
    pub stop_after: Option<usize>,
    /// No progress bar (and no summary on stderr).
    pub quiet: bool,
}

impl RunOptions {
    /// A fresh run into `out`, checkpointed every `save_every` steps.
    pub fn new(out: impl Into<PathBuf>, save_every: usize) -> Self {
        RunOptions {
            out: out.into(),
            resume: false,
            save_every,
            stop_after: None,
            quiet: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data order.

/// Indices 0..n visited epoch after epoch, each epoch in its own order shuffled by (seed, epoch)
/// ([`super::data::epoch_order`]), or in index order; (epoch, cursor) is all an exact resume
/// needs.
#[derive(Clone, Debug)]
pub struct EpochOrder {
    pub seed: u64,
    pub epoch: u64,
    /// The next position in this epoch's order.
    pub cursor: usize,
    order: Vec<u32>,
    shuffle: bool,
}

impl EpochOrder {
    /// 0..n in an order shuffled anew every epoch.
    pub fn shuffled(n: usize, seed: u64) -> Self {
        Self::new(n, seed, true)
    }

    /// 0..n in index order, every epoch (evaluation).
    pub fn in_order(n: usize) -> Self {
        Self::new(n, 0, false)
    }

    fn new(n: usize, seed: u64, shuffle: bool) -> Self {
        let mut o = EpochOrder {
            seed,
            epoch: 0,
            cursor: 0,
            order: (0..n as u32).collect(),
            shuffle,
        };
        o.reorder();
        o
    }

    fn reorder(&mut self) {
        if self.shuffle {
            super::data::epoch_order(&mut self.order, self.seed, self.epoch);
        } else {
            self.order.sort_unstable();
        }
    }

    /// How many indices an epoch visits.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Moves to a saved position.
    pub fn seek(&mut self, epoch: u64, cursor: usize) {
        self.epoch = epoch;
        self.cursor = cursor;
        self.reorder();
    }

    /// The rest of this epoch's order, after starting the next epoch if this one is used up.
    /// [`advance`](Self::advance) moves past what was taken of it.
    pub fn rest(&mut self) -> &[u32] {
        if self.cursor >= self.order.len() {
            self.epoch += 1;
            self.cursor = 0;
            self.reorder();
        }
        &self.order[self.cursor..]
    }

    pub fn advance(&mut self, taken: usize) {
        self.cursor += taken;
    }

    /// The index at the cursor, without moving past it.
    pub fn peek(&mut self) -> usize {
        self.rest()[0] as usize
    }

    /// trainer_state.json after `done` steps of a run with `settings`: the step, this order's
    /// position and the settings (a stage adds what else its resume checks).
    pub fn state(&self, done: usize, settings: &impl Serialize) -> Value {
        serde_json::json!({
            "step": done, "epoch": self.epoch, "cursor": self.cursor, "settings": settings,
        })
    }

    /// The index at the cursor; moves past it.
    pub fn next_index(&mut self) -> usize {
        let i = self.peek();
        self.cursor += 1;
        i
    }
}

// ---------------------------------------------------------------------------------------------
// Where a run starts, and the optimiser step.

/// A run's model and optimiser where it starts: fresh, or from the run's checkpoint.
pub struct Start {
    pub config: ModelConfig,
    pub params: Params,
    pub opt: AdamW,
    /// Steps already taken.
    pub step: usize,
    /// Where the data order stood: (epoch, cursor).
    pub data_position: (u64, usize),
}

/// What a resumed run must share with its checkpoint besides the settings: the value this run
/// computes for `key` of trainer_state.json (a hash of the tokenizer or of the data), and the
/// error when the checkpoint's differs.
pub struct Fingerprint {
    pub key: &'static str,
    pub value: String,
    pub mismatch: String,
}

impl Fingerprint {
    /// The tokenizer's: tokenizer.json's FNV-1a hash.
    pub fn tokenizer(hash: u64) -> Fingerprint {
        Fingerprint {
            key: "tokenizer_hash",
            value: format!("{hash:016x}"),
            mismatch:
                "--resume: the tokenizer differs from the one the checkpoint was trained with"
                    .into(),
        }
    }

    /// The training data's: the FNV-1a hash of the file at `path`.
    pub fn data_file(path: &Path) -> Result<Fingerprint> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(Fingerprint {
            key: "data_hash",
            value: format!("{:016x}", super::data::fnv1a(&bytes)),
            mismatch: format!(
                "--resume: {} differs from the data the checkpoint was trained on",
                path.display()
            ),
        })
    }
}

impl Start {
    pub fn fresh(config: ModelConfig, params: Params, adamw: AdamWConfig) -> Start {
        let opt = AdamW::new(&params.layout, adamw);
        Start {
            config,
            params,
            opt,
            step: 0,
            data_position: (0, 0),
        }
    }

    /// The checkpoint of `run`, refused unless it was trained with `settings` (and with `config`
    /// when given) on the same data.
    pub fn resume<S>(
        run: &Path,
        settings: &S,
        config: Option<&ModelConfig>,
        adamw: AdamWConfig,
        fingerprint: &Fingerprint,
    ) -> Result<Start>
    where
        S: Serialize + DeserializeOwned + PartialEq,
    {
        let mut ck = checkpoint::load(run).map_err(|e| {
            Error::InvalidArgument(format!(
                "--resume: cannot read the checkpoint in {}: {e}",
                run.display()
            ))
        })?;
        ck.check_settings(run, settings, config)?;
        if ck.state[fingerprint.key].as_str() != Some(fingerprint.value.as_str()) {
            return Err(Error::InvalidArgument(fingerprint.mismatch.clone()));
        }
        let opt = ck.take_adamw(adamw);
        Ok(Start {
            step: ck.step(),
            data_position: ck.data_position(),
            config: ck.config,
            params: ck.params,
            opt,
        })
    }
}

/// The parameters, their gradient buffer (same layout) and AdamW on a schedule.
pub struct Learner {
    pub params: Params,
    pub grads: Vec<f32>,
    pub opt: AdamW,
    pub schedule: Schedule,
}

/// What one optimiser step did.
pub struct Stepped {
    pub loss: f32,
    pub lr: f32,
    pub grad_norm: f32,
}

impl Learner {
    /// Steps `params` with `opt` (AdamW with `schedule.adamw`, fresh or resumed) on `schedule`.
    pub fn new(params: Params, opt: AdamW, schedule: Schedule) -> Self {
        Learner {
            grads: vec![0.0; params.data.len()],
            params,
            opt,
            schedule,
        }
    }

    /// Optimiser step `step` (0-based): zeroes the gradients, lets `accumulate` add the batch's
    /// into them and return its loss, refuses a loss that is not finite, clips and updates.
    pub fn step(
        &mut self,
        step: usize,
        accumulate: impl FnOnce(&Params, &mut [f32]) -> Result<f32>,
    ) -> Result<Stepped> {
        let s = &self.schedule;
        let lr = lr_at(step, s.lr, s.min_lr, s.warmup, s.steps);
        self.grads.fill(0.0);
        let loss = accumulate(&self.params, &mut self.grads)?;
        if !loss.is_finite() {
            return Err(Error::Other(format!(
                "step {}: the loss is {loss}; lower --lr or raise --warmup",
                step + 1
            )));
        }
        let grad_norm = clip_grad_norm(&mut self.grads, s.grad_clip);
        self.opt.update(&mut self.params.data, &self.grads, lr);
        Ok(Stepped {
            loss,
            lr,
            grad_norm,
        })
    }

    /// Writes the run's checkpoint: the model (`config`, the parameters, the tokenizer's
    /// `tokenizer.json` and `tokenizer_config.json`), AdamW's moments and `state`.
    pub fn save(
        &self,
        run: &Path,
        config: &ModelConfig,
        state: &Value,
        tokenizer: (&[u8], &Value),
    ) -> Result<()> {
        let (json, tok_config) = tokenizer;
        checkpoint::save(
            run,
            config,
            &self.params,
            &self.opt,
            state,
            json,
            tok_config,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The loop.

/// A line of metrics.jsonl and what the terminal shows for it.
pub struct Report {
    pub line: Value,
    pub text: String,
}

/// The hooks a training stage plugs into [`Trainer::run`].
pub trait Stage {
    /// Trains step `step` (0-based: an optimiser step, or one PPO iteration) and reports it.
    fn step(&mut self, step: usize) -> Result<Report>;

    /// Validation after `done` steps; the trainer calls it every `eval_every` steps and after
    /// the run's last.
    fn validate(&mut self, _done: usize) -> Result<Vec<Report>> {
        Ok(vec![])
    }

    /// Whatever else a stage measures after a step (after the validation).
    fn after_step(&mut self, _done: usize) -> Result<Vec<Report>> {
        Ok(vec![])
    }

    /// Writes the checkpoint after `done` steps.
    fn save(&mut self, done: usize) -> Result<()>;

    /// Step `step` of a run that began at `start` failed with `e`: the error the run returns.
    fn failed(&mut self, _step: usize, _start: usize, e: Error) -> Error {
        e
    }
}

/// What `loss.png` shows, with its title, axis labels and legend (`metrics::text`).
pub enum Plot<'a> {
    /// Training loss and validation loss (with the corpus's unigram entropy when known).
    Losses {
        text: PlotText<'a>,
        entropy: Option<f64>,
    },
    /// These metrics, each in its own colour.
    Series {
        text: PlotText<'a>,
        keys: &'a [&'a str],
    },
}

/// Draws `<run>/loss.png` from `<run>/metrics.jsonl`.
pub fn plot_run(run: &Path, what: &Plot) -> Result<()> {
    let (log, png) = (run.join("metrics.jsonl"), run.join("loss.png"));
    match what {
        Plot::Losses { text, entropy } => {
            let (train, val) = super::metrics::read_curves(&log)?;
            plot(&png, *text, &train, &val, *entropy)
        }
        Plot::Series { text, keys } => plot_series(&png, *text, &read_series(&log, keys)?),
    }
}

/// A progress bar for `total` steps starting at `start` (hidden when quiet).
fn progress_bar(total: usize, start: usize, quiet: bool) -> indicatif::ProgressBar {
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

/// One invocation of a stage's loop: its log, its bar and when it validates and saves.
pub struct Trainer {
    pub log: MetricsLog,
    bar: indicatif::ProgressBar,
    /// The run's steps, the first step of this invocation and the step it stops after.
    pub steps: usize,
    pub start: usize,
    pub end: usize,
    out: PathBuf,
    save_every: usize,
    eval_every: Option<usize>,
    print_steps: bool,
}

impl Trainer {
    /// Creates the run directory and opens metrics.jsonl (on a resume keeping its lines up to
    /// step `start`) and the progress bar, for a run of `steps` steps.
    pub fn open(run: &RunOptions, steps: usize, start: usize) -> Result<Trainer> {
        std::fs::create_dir_all(&run.out).map_err(|e| Error::io(&run.out, e))?;
        let log = MetricsLog::open(
            &run.out.join("metrics.jsonl"),
            run.resume.then_some(start as u64),
        )?;
        Ok(Trainer {
            log,
            bar: progress_bar(steps, start, run.quiet),
            steps,
            start,
            end: run.stop_after.map_or(steps, |k| k.min(steps)),
            out: run.out.clone(),
            save_every: run.save_every,
            eval_every: None,
            print_steps: false,
        })
    }

    /// Validate every `every` steps and after the last.
    pub fn validate_every(mut self, every: usize) -> Self {
        self.eval_every = Some(every);
        self
    }

    /// Print each step's text above the bar (a line per step) instead of in it.
    pub fn print_steps(mut self) -> Self {
        self.print_steps = true;
        self
    }

    /// Runs steps start..end (see the module comment), then clears the bar.
    pub fn run(&mut self, stage: &mut impl Stage) -> Result<()> {
        for step in self.start..self.end {
            let report = match stage.step(step) {
                Ok(r) => r,
                Err(e) => {
                    self.bar.finish_and_clear();
                    return Err(stage.failed(step, self.start, e));
                }
            };
            let done = step + 1;
            self.log.write(&report.line)?;
            self.bar.set_position(done as u64);
            if self.print_steps {
                self.bar.println(report.text);
            } else {
                self.bar.set_message(report.text);
            }
            let due = |every: usize| done % every == 0 || done == self.steps;
            let mut extra = match self.eval_every {
                Some(every) if due(every) => stage.validate(done)?,
                _ => vec![],
            };
            extra.extend(stage.after_step(done)?);
            for r in extra {
                self.log.write(&r.line)?;
                self.bar.println(r.text);
            }
            if done % self.save_every.max(1) == 0 || done == self.end {
                stage.save(done)?;
            }
        }
        self.bar.finish_and_clear();
        Ok(())
    }

    /// Draws `loss.png` from the log.
    pub fn plot(&self, what: Plot) -> Result<()> {
        plot_run(&self.out, &what)
    }
}

// ---------------------------------------------------------------------------------------------
// Sampling (PPO's rollouts, the reward model's own samples).

/// Samples a reply to `prompt` through the one generation loop ([`Engine::generate`]) on the CPU
/// engine: the generated tokens (without the stop token) and why generation ended.
pub fn sample_reply(
    model: &Arc<crate::model::Model>,
    prompt: &[u32],
    sp: &crate::generate::SamplingParams,
) -> Result<(Vec<u32>, crate::generate::FinishReason)> {
    let g = crate::engine::Engine::cpu(model.clone()).generate(prompt, sp, |_| true)?;
    Ok((g.tokens, g.finish_reason))
}

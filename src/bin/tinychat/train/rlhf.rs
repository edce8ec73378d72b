//! `tinychat train reward` and `tinychat train ppo`: the flags of the RLHF stages.

use super::{FineTuneArgs, RunArgs, StageDefaults};
use crate::ranges::{count, number, CONTEXT, MANY};
use std::path::PathBuf;
use tinychat::train::ppo::{KlEstimator, PpoOptions, PpoSettings};
use tinychat::train::reward::RewardOptions;

#[derive(clap::Args, Debug, Clone)]
#[command(
    run_defaults("runs/reward", "100"),
    fine_tune_defaults("0.0003", "0.00003")
)]
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
    /// Sequence length T (default: the model's context).
    #[arg(long, value_parser = count(1, CONTEXT))]
    pub seq_len: Option<usize>,
    /// Rows (answers) per batch; whole rankings only (a prompt's K answers share a batch).
    #[arg(long, default_value_t = 20, value_parser = count(1, 65_536))]
    pub batch_size: usize,
    #[command(flatten)]
    pub schedule: FineTuneArgs,
    /// Held-out pairwise accuracy every this many steps (and at the end).
    #[arg(long, default_value_t = 100, value_parser = count(1, MANY))]
    pub eval_every: usize,
    /// Held-out rankings used by the periodic evaluation, spread evenly over the file (all of
    /// them at the end).
    #[arg(long, default_value_t = 200, value_parser = count(1, MANY))]
    pub eval_limit: usize,
    /// Rank this many samples of the --init (SFT) model per checkable prompt of
    /// ppo_prompts.jsonl by the exact checkers and add the (correct, wrong) pairs to the
    /// training rankings (0: the constructed rankings only).
    #[arg(long, default_value_t = 0, value_parser = count(0, 1024))]
    pub self_samples: usize,
    /// How many checkable PPO prompts to sample (a seeded choice; a tenth of them is held out
    /// to measure the pairwise accuracy on the model's own samples).
    #[arg(long, default_value_t = 1000, value_parser = count(1, MANY))]
    pub self_prompts: usize,
    /// Only sample prompts whose `meta.source` starts with one of these (comma-separated, e.g.
    /// "computed"); all checkable prompts when empty.
    #[arg(long, default_value = "")]
    pub self_sources: String,
    /// Where the run writes, and how (--out, --resume, --save-every, --stop-after, --quiet).
    #[command(flatten)]
    pub run: RunArgs,
}

impl From<RewardArgs> for RewardOptions {
    fn from(a: RewardArgs) -> Self {
        RewardOptions {
            init: a.init,
            data: a.data,
            seq_len: a.seq_len,
            batch_size: a.batch_size,
            schedule: a.schedule.schedule(),
            seed: a.schedule.seed,
            eval_every: a.eval_every,
            eval_limit: a.eval_limit,
            self_samples: a.self_samples,
            self_prompts: a.self_prompts,
            self_sources: a.self_sources,
            run: a.run.into(),
        }
    }
}

/// Which per-token KL estimator enters the reward (Schulman, "Approximating KL divergence").
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KlEstimatorArg {
    /// log π − log π_ref: unbiased, can be negative per token.
    K1,
    /// (π_ref/π − 1) − log(π_ref/π): unbiased, never negative, lower variance.
    K3,
}

impl From<KlEstimatorArg> for KlEstimator {
    fn from(p: KlEstimatorArg) -> Self {
        match p {
            KlEstimatorArg::K1 => KlEstimator::K1,
            KlEstimatorArg::K3 => KlEstimator::K3,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
#[command(
    run_defaults("runs/ppo", "10"),
    mut_arg("out", |a| a.help("Run directory: checkpoint/ (the policy), value/checkpoint/ (the critic), metrics.jsonl, loss.png")),
    mut_arg("resume", |a| a.help("Continue from the run directory's checkpoint, exactly where it stopped (the same flags; --iterations may be raised)")),
    mut_arg("save_every", |a| a.help("Write a checkpoint every this many iterations (and at the end)")),
    mut_arg("stop_after", |a| a.help("Stop (with a checkpoint) after this iteration, as if interrupted; `--resume` continues"))
)]
#[command(
    after_help = "Example:\n  tinychat train ppo --policy runs/sft --reward runs/reward --data data/sft --out runs/ppo\n  tinychat train ppo --out runs/ppo --resume\n  tinychat eval chat --model runs/ppo --against runs/sft --reference runs/sft --reward runs/reward"
)]
pub struct PpoArgs {
    /// The SFT model: the policy's start and the frozen reference.
    #[arg(long, default_value = "runs/sft")]
    pub policy: PathBuf,
    /// The reward model (from `tinychat train reward`); the critic starts from it too.
    #[arg(long, default_value = "runs/reward")]
    pub reward: PathBuf,
    /// PPO prompts (ppo_prompts.jsonl).
    #[arg(long, default_value = "data/sft")]
    pub data: PathBuf,
    #[arg(long, default_value_t = 40, value_parser = count(1, MANY))]
    pub iterations: usize,
    #[arg(long, default_value_t = 32, value_parser = count(1, 65_536))]
    pub rollouts: usize,
    #[arg(long, default_value_t = 8, value_parser = count(1, 65_536))]
    pub minibatch: usize,
    #[arg(long, default_value_t = 2, value_parser = count(1, 1000))]
    pub epochs: usize,
    #[arg(long, default_value_t = 24, value_parser = count(1, tinychat::generate::MAX_NEW_TOKENS as u64))]
    pub max_new_tokens: usize,
    /// Diagnostic: score each answer by the exact checker of its prompt (1 right, 0 wrong)
    /// instead of the reward model (only prompts with a check are used). Shows what PPO does
    /// with a reward that knows the answers; the critic still starts from --reward.
    #[arg(long)]
    pub checker_reward: bool,
    /// Responses sampled per prompt; --rollouts must be a multiple of it. Above 1, each prompt's
    /// scores are centred on their own mean before whitening (the per-prompt baseline of RLOO
    /// and GRPO): answers are judged against other answers to the same question.
    #[arg(long, default_value_t = 1, value_parser = count(1, 65_536))]
    pub samples_per_prompt: usize,
    /// Sampling temperature τ of the rollouts; the log-probabilities, ratios, KL and entropy are
    /// those of the same tempered distribution (logits / τ)
    #[arg(long, default_value_t = 1.0, value_parser = number(0.0, 100.0, false))]
    pub temperature: f32,
    #[arg(long, default_value_t = 5e-5, value_parser = number(0.0, 10.0, true))]
    pub lr: f32,
    #[arg(long, default_value_t = 1e-4, value_parser = number(0.0, 10.0, true))]
    pub value_lr: f32,
    #[arg(long, default_value_t = 0.2, value_parser = number(0.0, 10.0, false))]
    pub clip_eps: f32,
    #[arg(long, default_value_t = 0.2, value_parser = number(0.0, 1e6, false))]
    pub value_clip: f32,
    #[arg(long, default_value_t = 1.0, value_parser = number(0.0, 1.0, true))]
    pub gamma: f32,
    #[arg(long, default_value_t = 0.95, value_parser = number(0.0, 1.0, true))]
    pub lambda: f32,
    /// KL coefficient β (fixed by default, the start value with --target-kl). The score is
    /// whitened, so β weighs KL nats against standard deviations of the reward: on the tiny
    /// preset 0.05 let the KL reach 4.5 nats per answer in 40 iterations, 0.2 about 2–4.
    #[arg(long, default_value_t = 0.2, value_parser = number(0.0, 1e6, true))]
    pub beta: f32,
    /// Adapt β towards this KL per response; 0 keeps β fixed.
    #[arg(long, default_value_t = 0.0, value_parser = number(0.0, 1e6, true))]
    pub target_kl: f32,
    #[arg(long, value_enum, default_value = "k3")]
    pub kl_estimator: KlEstimatorArg,
    /// Horizon of the adaptive β controller (in rollouts): β moves by at most
    /// 20%·rollouts/horizon per iteration.
    #[arg(long, default_value_t = 10_000, value_parser = count(1, MANY))]
    pub kl_horizon: usize,
    /// Stop when the mean KL per response exceeds this.
    #[arg(long, default_value_t = 20.0, value_parser = number(0.0, 1e6, false))]
    pub kl_stop: f32,
    /// Only prompts whose `meta.source` starts with one of these (comma-separated, e.g.
    /// "computed,chatterbot"); all prompts when empty.
    #[arg(long, default_value = "")]
    pub prompt_sources: String,
    /// PPO-ptx: weight of the pretraining LM loss added to the policy loss (0: off).
    #[arg(long, default_value_t = 0.0, value_parser = number(0.0, 1e6, true))]
    pub ptx_coef: f32,
    /// Pretraining text for PPO-ptx (a prepared corpus split, JSONL or text).
    #[arg(long, default_value = "data/corpus/train.jsonl")]
    pub ptx_data: PathBuf,
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Where the run writes, and how (--out, --resume, --save-every, --stop-after, --quiet).
    #[command(flatten)]
    pub run: RunArgs,
}

impl From<PpoArgs> for PpoOptions {
    fn from(a: PpoArgs) -> Self {
        let settings = PpoSettings {
            rollouts: a.rollouts,
            minibatch: a.minibatch,
            epochs: a.epochs,
            max_new_tokens: a.max_new_tokens,
            temperature: a.temperature,
            lr: a.lr,
            value_lr: a.value_lr,
            clip_eps: a.clip_eps,
            value_clip: a.value_clip,
            gamma: a.gamma,
            lambda: a.lambda,
            beta: a.beta,
            target_kl: (a.target_kl > 0.0).then_some(a.target_kl),
            kl_horizon: a.kl_horizon,
            kl_estimator: a.kl_estimator.into(),
            kl_stop: a.kl_stop,
            seed: a.seed,
            ptx_coef: a.ptx_coef,
            checker_reward: a.checker_reward,
            samples_per_prompt: a.samples_per_prompt,
            ..PpoSettings::default()
        };
        PpoOptions {
            policy: a.policy,
            reward: a.reward,
            data: a.data,
            iterations: a.iterations,
            prompt_sources: a.prompt_sources,
            ptx_data: a.ptx_data,
            settings,
            run: a.run.into(),
        }
    }
}

//! PPO against a reward model with a per-token KL penalty to a frozen reference (InstructGPT,
//! Ziegler et al. 2019): the pieces as forward/backward pairs.
//!
//! For one rollout (prompt x, sampled response y_1..y_n):
//!
//! ```text
//! kl_t      = log π_old(y_t) − log π_ref(y_t)                            (k1)
//!           = exp(log π_ref − log π_old) − 1 − (log π_ref − log π_old)    (k3, ≥ 0)
//! r_t       = −β · kl_t   (+ RM score, whitened over the batch, at t = n; with K samples per
//!                          prompt, first centred on the mean of the prompt's K scores)
//! δ_t       = r_t + γ V_{t+1} − V_t     (V_{n+1} = 0)
//! A_t       = δ_t + γλ A_{t+1}          (GAE)          R_t = A_t + V_t  (value targets)
//! ρ_t       = exp(log π(y_t) − log π_old(y_t))
//! L_clip    = −1/N Σ_t min(ρ_t Â_t, clip(ρ_t, 1−ε, 1+ε) Â_t)             (Â: A whitened)
//! L_value   = 1/N Σ_t ½ max((V_t − R_t)², (V_old,t + clip(V_t − V_old,t, ±ε_v) − R_t)²)
//! ```

/// Which per-token KL estimator enters the reward (Schulman, "Approximating KL divergence").
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KlEstimator {
    /// log π − log π_ref: unbiased, can be negative per token.
    K1,
    /// (π_ref/π − 1) − log(π_ref/π): unbiased, never negative, lower variance.
    K3,
}

/// The per-token KL estimate from the sampled token's log-probabilities.
pub fn kl_estimate(est: KlEstimator, logp: f32, logp_ref: f32) -> f32 {
    let d = logp_ref - logp;
    match est {
        KlEstimator::K1 => -d,
        KlEstimator::K3 => d.exp() - 1.0 - d,
    }
}

/// GAE over one response: `rewards` and `values` (n) → (advantages, returns).
pub fn gae(rewards: &[f32], values: &[f32], gamma: f32, lambda: f32) -> (Vec<f32>, Vec<f32>) {
    let n = rewards.len();
    let mut adv = vec![0.0f32; n];
    let mut next_adv = 0.0f32;
    for t in (0..n).rev() {
        let next_v = if t + 1 < n { values[t + 1] } else { 0.0 };
        let delta = rewards[t] + gamma * next_v - values[t];
        next_adv = delta + gamma * lambda * next_adv;
        adv[t] = next_adv;
    }
    let ret = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, ret)
}

/// Whitens `x` in place to mean 0 and standard deviation 1 (`shift_mean: false` keeps the mean,
/// as TRL does for rewards).
pub fn whiten(x: &mut [f32], shift_mean: bool) {
    let n = x.len().max(1) as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let inv = 1.0 / (var + 1e-8).sqrt();
    for v in x.iter_mut() {
        let w = (*v as f64 - mean) * inv;
        *v = (if shift_mean { w } else { w + mean }) as f32;
    }
}

/// Which prompts iteration `it` answers: positions in the shuffled prompt order (cyclic over
/// `n` prompts), `rollouts / k` prompts each repeated `k` times in a row, so that rollouts
/// `g·k .. (g+1)·k` are the samples of one prompt (the groups [`center_groups`] centres).
pub fn iteration_prompts(it: usize, rollouts: usize, k: usize, n: usize) -> Vec<usize> {
    let per = rollouts / k.max(1);
    (0..rollouts)
        .map(|j| (it * per + j / k.max(1)) % n.max(1))
        .collect()
}

/// Centres each consecutive group of `k` scores on its own mean (the samples of one prompt):
/// the per-prompt baseline. `k` ≤ 1 leaves the scores as they are; a last, shorter group is
/// centred on its own mean too.
pub fn center_groups(x: &mut [f32], k: usize) {
    if k <= 1 {
        return;
    }
    for g in x.chunks_mut(k) {
        let mean = g.iter().map(|&v| v as f64).sum::<f64>() / g.len() as f64;
        for v in g.iter_mut() {
            *v = (*v as f64 - mean) as f32;
        }
    }
}

/// Clipped surrogate over N tokens: returns (loss, clip fraction) and writes
/// dlogp = ∂loss/∂log π(y_t) (scaled by `scale`).
///
/// d/dlogp of −min(ρA, clip(ρ)A): where the unclipped term is the minimum (or both are equal)
/// it is −ρA; where the clipped one is smaller it is 0 (clip is flat outside [1−ε, 1+ε]).
pub fn clipped_surrogate(
    dlogp: &mut [f32],
    logp: &[f32],
    logp_old: &[f32],
    adv: &[f32],
    eps: f32,
    scale: f32,
) -> (f32, f32) {
    let n = logp.len();
    let (mut loss, mut clipped) = (0.0f64, 0usize);
    for t in 0..n {
        let ratio = (logp[t] - logp_old[t]).exp();
        let a = adv[t];
        let unclipped = ratio * a;
        let c = ratio.clamp(1.0 - eps, 1.0 + eps) * a;
        let obj = unclipped.min(c);
        loss -= obj as f64;
        clipped += ((ratio - 1.0).abs() > eps) as usize;
        dlogp[t] = if unclipped <= c {
            -scale * unclipped / n as f32
        } else {
            0.0
        };
    }
    (
        (loss / n.max(1) as f64) as f32,
        clipped as f32 / n.max(1) as f32,
    )
}

/// Clipped value loss over N tokens: returns the loss and writes dv = ∂loss/∂V_t (scaled).
pub fn clipped_value_loss(
    dv: &mut [f32],
    v: &[f32],
    v_old: &[f32],
    ret: &[f32],
    eps: f32,
    scale: f32,
) -> f32 {
    let n = v.len();
    let mut loss = 0.0f64;
    for t in 0..n {
        let d = v[t] - v_old[t];
        let vc = v_old[t] + d.clamp(-eps, eps);
        let (l1, l2) = ((v[t] - ret[t]).powi(2), (vc - ret[t]).powi(2));
        loss += 0.5 * l1.max(l2) as f64;
        // ∂/∂v: (v − R) from the unclipped branch; (vc − R) from the clipped one when the
        // clip is inactive (|d| < ε), else 0.
        dv[t] = scale / n as f32
            * if l1 >= l2 {
                v[t] - ret[t]
            } else if d.abs() < eps {
                vc - ret[t]
            } else {
                0.0
            };
    }
    (loss / n.max(1) as f64) as f32
}

/// The adaptive KL controller of Ziegler et al.: β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon).
pub fn adapt_beta(beta: f32, kl: f32, target: f32, n_steps: usize, horizon: usize) -> f32 {
    let err = (kl / target - 1.0).clamp(-0.2, 0.2);
    beta * (1.0 + err * n_steps as f32 / horizon as f32)
}

// ---------------------------------------------------------------------------------------------
// Rollouts and the PPO update.

pub use super::heads::{TokenLogprobs, TokenValues};
use super::optim::{clip_grad_norm, AdamW, AdamWConfig};
use super::trainer::sample_reply;
use crate::error::{Error, Result};
use crate::generate::SamplingParams;
use crate::model::Model;
use crate::params::Params;
use crate::weights::DType;
use serde::{Deserialize, Serialize};

/// The PPO hyperparameters (saved with the run; a resume must match).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PpoSettings {
    /// Rollouts (prompts) per iteration.
    pub rollouts: usize,
    /// Trajectories per minibatch.
    pub minibatch: usize,
    /// Passes over each iteration's rollouts.
    pub epochs: usize,
    pub max_new_tokens: usize,
    pub temperature: f32,
    pub lr: f32,
    pub value_lr: f32,
    pub clip_eps: f32,
    pub value_clip: f32,
    pub gamma: f32,
    pub lambda: f32,
    /// Initial (or fixed) KL coefficient β.
    pub beta: f32,
    /// Adaptive β towards this KL per response (None: fixed β).
    pub target_kl: Option<f32>,
    pub kl_horizon: usize,
    pub kl_estimator: KlEstimator,
    /// Stop when the mean KL per response exceeds this.
    pub kl_stop: f32,
    pub whiten_rewards: bool,
    pub grad_clip: f32,
    pub seed: u64,
    /// PPO-ptx (InstructGPT): weight of the pretraining language-model loss added to the
    /// policy's loss at every minibatch (0: off).
    #[serde(default)]
    pub ptx_coef: f32,
    /// The diagnostic reward from the exact checkers instead of the reward model
    /// (`--checker-reward`; absent in runs saved before it existed).
    #[serde(default)]
    pub checker_reward: bool,
    /// Responses sampled per prompt (`--samples-per-prompt`). Above 1, each prompt's scores are
    /// centred on the mean of its own group before whitening (the per-prompt baseline of RLOO
    /// and GRPO), so a prompt whose answers all score alike adds no score signal (the KL penalty
    /// and the critic still shape its advantages). Absent in runs saved before it existed: 1.
    #[serde(default = "one")]
    pub samples_per_prompt: usize,
}

fn one() -> usize {
    1
}

impl Default for PpoSettings {
    fn default() -> Self {
        PpoSettings {
            rollouts: 32,
            minibatch: 8,
            epochs: 2,
            max_new_tokens: 24,
            temperature: 1.0,
            lr: 5e-5,
            value_lr: 1e-4,
            clip_eps: 0.2,
            value_clip: 0.2,
            gamma: 1.0,
            lambda: 0.95,
            beta: 0.2,
            target_kl: None,
            kl_horizon: 10_000,
            kl_estimator: KlEstimator::K3,
            kl_stop: 20.0,
            whiten_rewards: true,
            grad_clip: 1.0,
            seed: 1337,
            ptx_coef: 0.0,
            checker_reward: false,
            samples_per_prompt: 1,
        }
    }
}

/// One sampled response and what the update needs of it.
#[derive(Clone, Debug)]
pub struct Trajectory {
    pub prompt: Vec<u32>,
    /// Sampled tokens, the closing end token included when the model stopped.
    pub response: Vec<u32>,
    pub logp_old: Vec<f32>,
    pub logp_ref: Vec<f32>,
    pub values: Vec<f32>,
    pub score: f32,
    pub adv: Vec<f32>,
    pub ret: Vec<f32>,
}

/// Statistics of one iteration.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IterStats {
    pub score: f32,
    pub kl: f32,
    pub beta: f32,
    pub entropy: f32,
    pub clip_frac: f32,
    pub policy_loss: f32,
    pub value_loss: f32,
    pub response_len: f32,
    /// Mean pretraining LM loss of the PPO-ptx batches (0 when off).
    pub ptx_loss: f32,
}

/// Policy (LM), its frozen reference, and the critic (one-label model), with their optimisers.
pub struct Ppo {
    pub s: PpoSettings,
    pub policy_cfg: crate::config::ModelConfig,
    pub policy: Params,
    pub reference: Params,
    pub critic_cfg: crate::config::ModelConfig,
    pub critic: Params,
    pub policy_opt: AdamW,
    pub critic_opt: AdamW,
    pub beta: f32,
    /// Pretraining tokens for PPO-ptx (windows of T+1 are drawn from them).
    pub ptx: Option<Vec<u32>>,
    lp: TokenLogprobs,
    vals: TokenValues,
    seq: usize,
}

/// B windows of T+1 tokens drawn uniformly from `tokens`: (inputs, targets), each B·T.
pub fn ptx_batch(
    tokens: &[u32],
    b: usize,
    t: usize,
    rng: &mut crate::generate::Rng,
) -> Result<(Vec<u32>, Vec<u32>)> {
    if tokens.len() < t + 1 {
        return Err(Error::InvalidArgument(format!(
            "PPO-ptx: the pretraining data has {} tokens, fewer than one window of {}",
            tokens.len(),
            t + 1
        )));
    }
    let (mut inp, mut tgt) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t));
    for _ in 0..b {
        let s = (rng.next_u64() % (tokens.len() - t) as u64) as usize;
        inp.extend_from_slice(&tokens[s..s + t]);
        tgt.extend_from_slice(&tokens[s + 1..s + t + 1]);
    }
    Ok((inp, tgt))
}

/// (inputs (B·T), rows, tokens) of trajectories packed one per row.
fn pack(trajs: &[&Trajectory], b: usize, t: usize, pad: u32) -> (Vec<u32>, Vec<usize>, Vec<u32>) {
    let mut inputs = vec![pad; b * t];
    let (mut rows, mut toks) = (vec![], vec![]);
    for (r, tr) in trajs.iter().enumerate() {
        let seq: Vec<u32> = tr.prompt.iter().chain(&tr.response).copied().collect();
        let n = seq.len().min(t);
        inputs[r * t..r * t + n].copy_from_slice(&seq[..n]);
        let p = tr.prompt.len();
        for (i, &y) in tr.response.iter().enumerate() {
            // y sits at position p+i and is predicted at position p+i−1.
            rows.push(r * t + p + i - 1);
            toks.push(y);
        }
    }
    (inputs, rows, toks)
}

impl Ppo {
    pub fn new(
        s: PpoSettings,
        policy_cfg: crate::config::ModelConfig,
        policy: Params,
        critic_cfg: crate::config::ModelConfig,
        critic: Params,
    ) -> Result<Self> {
        let seq = policy_cfg.max_seq_len;
        let adam = AdamWConfig {
            weight_decay: 0.0,
            ..AdamWConfig::default()
        };
        Ok(Ppo {
            lp: {
                let mut lp = TokenLogprobs::new(&policy_cfg, s.minibatch, seq)?;
                lp.inv_temp = 1.0 / s.temperature;
                lp
            },
            vals: TokenValues::new(&critic_cfg, s.minibatch, critic_cfg.max_seq_len.min(seq))?,
            policy_opt: AdamW::new(&policy.layout, adam.clone()),
            critic_opt: AdamW::new(&critic.layout, adam),
            reference: policy.clone(),
            beta: s.beta,
            ptx: None,
            s,
            policy_cfg,
            policy,
            critic_cfg,
            critic,
            seq,
        })
    }

    /// Samples a response to each prompt with the inference engine (the current policy's
    /// weights, temperature `s.temperature`, full vocabulary, stopping at `end`).
    pub fn rollout(&self, prompts: &[Vec<u32>], end: u32, seed: u64) -> Result<Vec<Trajectory>> {
        let model = std::sync::Arc::new(Model::new(
            self.policy_cfg.clone(),
            self.policy.clone(),
            DType::F32,
        ));
        let mut out = vec![];
        for (i, p) in prompts.iter().enumerate() {
            let max_new = self
                .s
                .max_new_tokens
                .min(self.seq.saturating_sub(p.len() + 1));
            if max_new == 0 {
                return Err(Error::InvalidArgument(format!(
                    "a prompt of {} tokens leaves no room to answer in the context of {}",
                    p.len(),
                    self.seq
                )));
            }
            let sp = SamplingParams {
                temperature: self.s.temperature,
                top_k: 0,
                top_p: 1.0,
                repetition_penalty: 1.0,
                seed: seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                max_new_tokens: max_new,
                stop_tokens: vec![end],
            };
            let (mut response, why) = sample_reply(&model, p, &sp)?;
            if why == crate::generate::FinishReason::Stop {
                response.push(end);
            }
            if response.is_empty() {
                response.push(end);
            }
            out.push(Trajectory {
                prompt: p.clone(),
                response,
                logp_old: vec![],
                logp_ref: vec![],
                values: vec![],
                score: 0.0,
                adv: vec![],
                ret: vec![],
            });
        }
        Ok(out)
    }

    /// Old and reference log-probabilities and old values of each trajectory (no gradients).
    pub fn annotate(&mut self, trajs: &mut [Trajectory], pad: u32) -> Result<()> {
        let (b, t) = (self.s.minibatch, self.seq);
        for chunk in trajs.chunks_mut(b) {
            let refs: Vec<&Trajectory> = chunk.iter().collect();
            let (inp, rows, toks) = pack(&refs, b, t, pad);
            self.lp.forward(&self.policy, &inp, &rows, &toks)?;
            let old = self.lp.logp.clone();
            self.lp.forward(&self.reference, &inp, &rows, &toks)?;
            let rf = self.lp.logp.clone();
            let v = self.vals.forward(&self.critic, &inp, &rows)?.to_vec();
            let mut k = 0;
            for tr in chunk.iter_mut() {
                let n = tr.response.len();
                tr.logp_old = old[k..k + n].to_vec();
                tr.logp_ref = rf[k..k + n].to_vec();
                tr.values = v[k..k + n].to_vec();
                k += n;
            }
        }
        Ok(())
    }

    /// Rewards, GAE and advantage whitening from the scores; returns (mean score, mean KL).
    pub fn advantages(&self, trajs: &mut [Trajectory]) -> (f32, f32) {
        let raw: Vec<f32> = trajs.iter().map(|t| t.score).collect();
        let mut scores = raw.clone();
        center_groups(&mut scores, self.s.samples_per_prompt);
        if self.s.whiten_rewards && scores.len() > 1 {
            whiten(&mut scores, true);
        }
        let mut kl_sum = 0.0f64;
        for (tr, &sc) in trajs.iter_mut().zip(&scores) {
            let n = tr.response.len();
            let mut r: Vec<f32> = (0..n)
                .map(|i| {
                    -self.beta * kl_estimate(self.s.kl_estimator, tr.logp_old[i], tr.logp_ref[i])
                })
                .collect();
            kl_sum += (0..n)
                .map(|i| kl_estimate(self.s.kl_estimator, tr.logp_old[i], tr.logp_ref[i]) as f64)
                .sum::<f64>();
            r[n - 1] += sc;
            let (a, ret) = gae(&r, &tr.values, self.s.gamma, self.s.lambda);
            tr.adv = a;
            tr.ret = ret;
        }
        let mut all: Vec<f32> = trajs.iter().flat_map(|t| t.adv.clone()).collect();
        whiten(&mut all, true);
        let mut k = 0;
        for tr in trajs.iter_mut() {
            let n = tr.adv.len();
            tr.adv.copy_from_slice(&all[k..k + n]);
            k += n;
        }
        (
            raw.iter().sum::<f32>() / raw.len().max(1) as f32,
            (kl_sum / trajs.len().max(1) as f64) as f32,
        )
    }

    /// `epochs` passes of minibatch updates of policy and critic; returns the mean statistics.
    pub fn update(&mut self, trajs: &[Trajectory], pad: u32, seed: u64) -> Result<IterStats> {
        let (b, t) = (self.s.minibatch, self.seq);
        let mut st = IterStats::default();
        let mut batches = 0f32;
        let mut order: Vec<usize> = (0..trajs.len()).collect();
        let mut pg = vec![0.0f32; self.policy.data.len()];
        let mut vg = vec![0.0f32; self.critic.data.len()];
        for e in 0..self.s.epochs {
            let mut rng =
                crate::generate::Rng::new(seed ^ (e as u64 + 1).wrapping_mul(0x9E37_79B9));
            for i in (1..order.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            for chunk in order.chunks(b) {
                let refs: Vec<&Trajectory> = chunk.iter().map(|&i| &trajs[i]).collect();
                let (inp, rows, toks) = pack(&refs, b, t, pad);
                let cat = |f: fn(&Trajectory) -> &Vec<f32>| -> Vec<f32> {
                    refs.iter().flat_map(|tr| f(tr).iter().copied()).collect()
                };
                let (old, adv, vold, ret) = (
                    cat(|t| &t.logp_old),
                    cat(|t| &t.adv),
                    cat(|t| &t.values),
                    cat(|t| &t.ret),
                );
                // policy
                self.lp.forward(&self.policy, &inp, &rows, &toks)?;
                let mut dlogp = vec![0.0f32; rows.len()];
                let (pl, cf) =
                    clipped_surrogate(&mut dlogp, &self.lp.logp, &old, &adv, self.s.clip_eps, 1.0);
                st.entropy += self.lp.entropy.iter().sum::<f32>() / rows.len() as f32;
                pg.fill(0.0);
                self.lp.backward(&self.policy, &mut pg, &dlogp);
                if let (Some(ptx), true) = (&self.ptx, self.s.ptx_coef > 0.0) {
                    // PPO-ptx: + γ_ptx · LM loss on B windows drawn from the pretraining tokens
                    // (stateless: the draw depends on the seed, epoch and minibatch only).
                    let mut rng = crate::generate::Rng::new(
                        seed ^ 0x7074_7800 ^ ((e as u64) << 32 | batches as u64),
                    );
                    let (inp, tgt) = ptx_batch(ptx, b, t, &mut rng)?;
                    st.ptx_loss += self.lp.tm.forward(&self.policy, &inp, &tgt)?;
                    self.lp.tm.backward(&self.policy, &mut pg, self.s.ptx_coef);
                }
                clip_grad_norm(&mut pg, self.s.grad_clip);
                self.policy_opt
                    .update(&mut self.policy.data, &pg, self.s.lr);
                // critic
                let v = self.vals.forward(&self.critic, &inp, &rows)?.to_vec();
                let mut dv = vec![0.0f32; rows.len()];
                let vl = clipped_value_loss(&mut dv, &v, &vold, &ret, self.s.value_clip, 1.0);
                vg.fill(0.0);
                self.vals.backward(&self.critic, &mut vg, &dv);
                clip_grad_norm(&mut vg, self.s.grad_clip);
                self.critic_opt
                    .update(&mut self.critic.data, &vg, self.s.value_lr);
                st.policy_loss += pl;
                st.clip_frac += cf;
                st.value_loss += vl;
                batches += 1.0;
            }
        }
        let k = batches.max(1.0);
        st.entropy /= k;
        st.policy_loss /= k;
        st.clip_frac /= k;
        st.value_loss /= k;
        st.ptx_loss /= k;
        st.response_len = trajs.iter().map(|t| t.response.len()).sum::<usize>() as f32
            / trajs.len().max(1) as f32;
        Ok(st)
    }

    /// One iteration: rollouts, scores, advantages, update, β adaptation. Errors (after the
    /// caller may save) when the KL runs away.
    pub fn iterate(
        &mut self,
        prompts: &[Vec<u32>],
        end: u32,
        pad: u32,
        seed: u64,
        score: &mut dyn FnMut(&Trajectory) -> Result<f32>,
    ) -> Result<(IterStats, Vec<Trajectory>)> {
        let mut trajs = self.rollout(prompts, end, seed)?;
        self.annotate(&mut trajs, pad)?;
        for tr in trajs.iter_mut() {
            tr.score = score(tr)?;
        }
        let (mean_score, kl) = self.advantages(&mut trajs);
        let beta = self.beta;
        if kl > self.s.kl_stop {
            return Err(Error::Other(format!(
                "PPO stopped: the KL to the reference is {kl:.2} nats per response, above --kl-stop {}; the policy is drifting away from the SFT model (reward hacking). Lower --lr, raise --beta or set --target-kl",
                self.s.kl_stop
            )));
        }
        let mut st = self.update(&trajs, pad, seed)?;
        if let Some(target) = self.s.target_kl {
            self.beta = adapt_beta(self.beta, kl, target, prompts.len(), self.s.kl_horizon);
        }
        st.score = mean_score;
        st.kl = kl;
        st.beta = beta;
        Ok((st, trajs))
    }
}

mod stage;
pub use stage::{run, PpoOptions, PLOTTED};

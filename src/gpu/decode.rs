//! The GPU-resident decode loop: the sampler (`sample.wgsl`) picks each token on the GPU and
//! writes it where the next step's embedding reads its input, so a submission can encode many
//! decode steps and nothing waits for the CPU between them. The sampled ids come back in
//! batches, asynchronously, while the next batch runs; no logits are read back.
//!
//! ```text
//! submit: prefill prompt → head → sample → ring[0]            copy ring → staging A
//! submit: 1 step (embed tokens[0] → layers → head → sample)  copy ring → staging B
//! await A: deliver token 0            submit: 2 steps → staging A'
//! await B: deliver token 1            submit: 4 steps ... (batches double up to MAX_BATCH)
//! ```
//!
//! The CPU mirrors every token in its `Generator` (stop tokens, the length limit, the RNG, the
//! history), so it knows at each token what the CPU engine would have done, and can take over
//! at any token if the device is lost. A stop token found in a batch costs at most the steps
//! already encoded after it; the KV cache is then cut back to what was delivered, exactly as the
//! CPU loop leaves it.

use super::buffers;
use super::kernels::{self, Recorder};
use super::session::{GpuSession, Head, RING};
use crate::error::Result;
use crate::generate::{Generator, SamplingParams};
use std::collections::VecDeque;

/// Most decode steps one submission encodes.
pub const MAX_BATCH: usize = 16;

/// Sampled tokens on their way back: a submitted copy of `n` ring slots to a staging buffer.
pub struct PendingTokens {
    staging: wgpu::Buffer,
    n: usize,
    index: wgpu::SubmissionIndex,
}

impl PendingTokens {
    /// Waits for the tokens (natively for this submission only; in the browser by yielding).
    pub async fn wait(&self, session: &GpuSession) -> Result<Vec<u32>> {
        let bytes = (self.n * 4) as u64;
        let gpu = session.gpu();
        let raw =
            buffers::read_mapped_after(gpu, &self.staging, bytes, Some(self.index.clone())).await?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

impl GpuSession {
    /// How `params` sample on this model's GPU sampler, or None when they need the CPU's (see
    /// `kernels::sample_settings`).
    pub fn sample_settings(&self, params: &SamplingParams) -> Option<(u32, f32, f32, f32)> {
        kernels::sample_settings(params, self.model.config.vocab_size)
    }

    /// Loads the sampler's state: `g`'s RNG as it stands and its history (the tokens the
    /// repetition penalty sees).
    pub fn start_sampling(&mut self, g: &Generator) {
        let v = self.model.config.vocab_size;
        let state = kernels::sampler_state(g.rng(), g.history(), v);
        self.gpu()
            .queue
            .write_buffer(&self.sampler, 0, bytemuck::cast_slice(&state));
    }

    fn staging_for(&self) -> wgpu::Buffer {
        buffers::staging(self.gpu(), "tokens.staging", (RING * 4) as u64)
    }

    /// Runs `prompt` after the cache (in chunks) and samples the next token on the GPU into ring
    /// slot 0; returns its pending read-back.
    pub fn submit_sampled(
        &mut self,
        prompt: &[u32],
        settings: (u32, f32, f32, f32),
    ) -> Result<PendingTokens> {
        self.check_language_model()?;
        self.check(prompt)?;
        let n_chunks = prompt.len().div_ceil(self.chunk);
        let g = self.model.gpu.clone();
        let layers = self.model.config.n_layers;
        let staging = self.staging_for();
        let mut index = None;
        for (i, part) in prompt.chunks(self.chunk).enumerate() {
            let last = i + 1 == n_chunks;
            g.queue
                .write_buffer(&self.tokens, 0, bytemuck::cast_slice(part));
            let mut arena = std::mem::take(&mut self.arena);
            let mut rec = Recorder::new(&g, &mut arena);
            let head = match last {
                true => Head::Sample { slot: 0 },
                false => Head::None,
            };
            self.record_step(&mut rec, part.len(), self.len, layers, head);
            if last {
                self.record_sample_settings(&mut rec, settings, 0);
                index = Some(rec.submit(&[(&self.ring, 0, &staging, 0, 4)]));
            } else {
                rec.submit(&[]);
            }
            self.arena = arena;
            self.len += part.len();
        }
        Ok(PendingTokens {
            staging,
            n: 1,
            index: index.expect("at least one chunk"),
        })
    }

    /// Encodes `n` decode steps in one submission, each feeding the token the previous step
    /// sampled (in `tokens[0]`) and sampling the next into ring slot i; returns their pending
    /// read-back.
    pub fn submit_decode(
        &mut self,
        n: usize,
        settings: (u32, f32, f32, f32),
    ) -> Result<PendingTokens> {
        assert!((1..=RING).contains(&n), "1 to {RING} steps per submission");
        self.check_room(n)?;
        self.gpu().check()?;
        let g = self.model.gpu.clone();
        let layers = self.model.config.n_layers;
        let staging = self.staging_for();
        let mut arena = std::mem::take(&mut self.arena);
        let mut rec = Recorder::new(&g, &mut arena);
        for i in 0..n {
            let before = rec.len();
            self.record_step(&mut rec, 1, self.len + i, layers, Head::Sample { slot: i });
            self.record_sample_settings(&mut rec, settings, i);
            self.last_dispatches = rec.len() - before;
        }
        let bytes = (n * 4) as u64;
        let index = rec.submit(&[(&self.ring, 0, &staging, 0, bytes)]);
        self.arena = arena;
        self.len += n;
        Ok(PendingTokens { staging, n, index })
    }

    /// The sampler dispatch that ends a step with `Head::Sample { slot }`.
    fn record_sample_settings(
        &self,
        r: &mut Recorder,
        settings: (u32, f32, f32, f32),
        slot: usize,
    ) {
        let v = self.model.config.vocab_size;
        kernels::sample(
            r,
            &self.logits,
            0,
            v,
            settings,
            &self.sampler,
            &self.tokens,
            &self.ring,
            slot,
        );
    }
}

/// Generates on the GPU for `g` (whose prompt is `g.history()`, not yet fed), delivering each
/// token to `on_token` in order and appending every token fed to the model to `fed` (the
/// engine's history), exactly as the CPU loop of `Engine::generate_async` would. Returns whether
/// `on_token` stopped it; an error leaves `g` and `fed` at the last token delivered, so the CPU
/// can carry on from there. `g.remaining()` must be at least 1 and the sampling parameters
/// supported by the GPU sampler.
pub async fn generate(
    s: &mut GpuSession,
    g: &mut Generator,
    fed: &mut Vec<u32>,
    on_token: &mut impl AsyncFnMut(u32) -> Result<bool>,
    t_first: &mut Option<f64>,
) -> Result<bool> {
    let settings = s
        .sample_settings(g.params())
        .expect("generate: sampling parameters the GPU sampler follows");
    let total = g.remaining();
    assert!(total >= 1, "generate: nothing to sample");
    let (base, fed0) = (s.len(), fed.len());
    s.start_sampling(g);
    let prompt = g.history().to_vec();
    let mut inflight = VecDeque::new();
    let result = run(
        s,
        g,
        fed,
        on_token,
        t_first,
        settings,
        total,
        &prompt,
        &mut inflight,
    )
    .await;
    // Batches still on their way hold tokens past the end: wait for them, then drop them.
    for p in inflight {
        let _ = p.wait(s).await;
    }
    s.truncate(base + (fed.len() - fed0));
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    s: &mut GpuSession,
    g: &mut Generator,
    fed: &mut Vec<u32>,
    on_token: &mut impl AsyncFnMut(u32) -> Result<bool>,
    t_first: &mut Option<f64>,
    settings: (u32, f32, f32, f32),
    total: usize,
    prompt: &[u32],
    inflight: &mut VecDeque<PendingTokens>,
) -> Result<bool> {
    inflight.push_back(s.submit_sampled(prompt, settings)?);
    let (mut planned, mut batch) = (1, 1);
    loop {
        // Two submissions in flight: the GPU runs one while the CPU reads the other.
        while inflight.len() < 2 && planned < total {
            let n = batch.min(total - planned);
            inflight.push_back(s.submit_decode(n, settings)?);
            planned += n;
            batch = (batch * 2).min(MAX_BATCH);
        }
        let Some(p) = inflight.pop_front() else {
            return Ok(false);
        };
        let tokens = p.wait(s).await?;
        t_first.get_or_insert_with(crate::chat::now_ms);
        for tok in tokens {
            // What the CPU loop fed to get this token: the prompt, then each token in turn.
            let input = g.take_input();
            if input.is_empty() {
                return Ok(false);
            }
            fed.extend_from_slice(&input);
            let Some(tok) = g.push_sampled(tok) else {
                return Ok(false);
            };
            if !on_token(tok).await? {
                return Ok(true);
            }
        }
    }
}

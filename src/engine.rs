//! Engine selection: run a model on the GPU when an adapter exists, on the CPU otherwise, and
//! fall back to the CPU if the GPU device is lost mid-conversation.
//!
//! An [`Engine`] is one conversation: a model plus its KV cache on whichever engine runs it. Its
//! [`Engine::forward`] is [`Model::forward`] with the cache inside, so generation code does not
//! care where it runs. Natively everything has a blocking form; in the browser use the `_async`
//! methods (WebGPU readback cannot block).

use crate::chat::now_ms;
use crate::error::{Error, Result};
use crate::generate::{FinishReason, Generator, SamplingParams};
use crate::gpu::{GpuContext, GpuModel, GpuSession, WeightFormat};
use crate::model::{KvCache, Logits, Model};
use std::sync::Arc;

/// Which engine to run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// The GPU when a hardware adapter exists and the model fits on it, else the CPU. Software
    /// adapters (lavapipe, WARP, SwiftShader: slower than the CPU engine) are passed over.
    #[default]
    Auto,
    /// The GPU, or an error.
    Gpu,
    /// The CPU reference engine.
    Cpu,
}

impl Backend {
    /// The names a browser page uses ("webgpu" is [`Backend::Gpu`]), in the order the npm
    /// package documents them: what `contract().backends` of the wasm API lists.
    pub const BROWSER_NAMES: [&'static str; 3] = ["auto", "webgpu", "cpu"];
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Backend::Auto),
            "gpu" | "webgpu" | "wgpu" => Ok(Backend::Gpu),
            "cpu" => Ok(Backend::Cpu),
            other => Err(Error::InvalidArgument(format!(
                "unknown backend {other:?}: use \"auto\", \"webgpu\" (or \"gpu\") or \"cpu\""
            ))),
        }
    }
}

/// Why an engine asked for the GPU (`auto`) runs on the CPU: see [`Engine::fallback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// No GPU to run on: no WebGPU in this browser, no adapter, or no device could be opened.
    NoGpu,
    /// The only adapter is a software renderer (lavapipe, WARP, SwiftShader), slower than the
    /// CPU engine; [`Backend::Gpu`] runs on it anyway.
    SoftwareAdapter,
    /// The GPU could not take this model (its limits or memory).
    ModelDoesNotFit,
    /// The GPU failed mid-conversation (device lost, GPU error).
    GpuLost,
}

/// Options of an [`Engine`] beyond the backend.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    pub backend: Backend,
    /// Storage of the weight matrices on the GPU; default: each as the model stores it (f32,
    /// f16, bf16 or GGUF blocks, dequantized inside the kernels).
    pub weights: Option<WeightFormat>,
    /// The most positions this engine holds (prompt and answer): the GPU's KV cache is
    /// allocated for that many, and the CPU engine refuses more; default (and at most): the
    /// model's max_seq_len. A long-context model (SmolLM2: 8,192) in a browser tab wants less.
    pub capacity: Option<usize>,
    /// Tokens per GPU prefill step; default 256, and for a classifier its context (it reads a
    /// whole text in one step, so a smaller chunk makes longer texts fail).
    pub chunk: Option<usize>,
    /// A GPU context to share (e.g. between a chat model and a moderator); default: a new one.
    /// Engines on one context that run the same `Arc<Model>` with the same `weights` share one
    /// upload of its weights ([`GpuModel::shared`]); each has its own KV cache.
    pub gpu: Option<Arc<GpuContext>>,
}

impl EngineOptions {
    pub fn backend(backend: Backend) -> Self {
        EngineOptions {
            backend,
            ..Default::default()
        }
    }
}

enum Inner {
    Cpu(KvCache),
    Gpu(Box<GpuSession>),
}

/// One conversation with a model on the GPU or the CPU.
pub struct Engine {
    model: Arc<Model>,
    inner: Inner,
    /// The most positions this engine holds ([`EngineOptions::capacity`]).
    capacity: usize,
    /// Tokens in the cache, so a CPU cache can be rebuilt if the GPU goes away.
    history: Vec<u32>,
    /// Why this engine runs on the CPU although the GPU was asked for (Auto), if it does: the
    /// kind and the message.
    fallback: Option<(Fallback, String)>,
}

/// What one generation produced (the text is the caller's: see `ChatModel::generate_on`).
#[derive(Clone, Debug)]
pub struct Generated {
    /// The new tokens (a stop token that ended generation is not among them).
    pub tokens: Vec<u32>,
    pub prompt_tokens: usize,
    pub finish_reason: FinishReason,
    /// Time to the first new token (prompt processing), in milliseconds.
    pub prefill_ms: f64,
    /// Time spent after the first token, in milliseconds.
    pub decode_ms: f64,
}

/// Runs a future to completion: natively by blocking; in wasm only a future that never waits
/// (the CPU engine's), which completes on its first poll.
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(f)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => {
                panic!("block_on in wasm: this future waits (use the _async method)")
            }
        }
    }
}

/// Tells the user, once, why we are on the CPU.
fn warn(msg: &str) {
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("tinychat: {msg}");
    #[cfg(target_arch = "wasm32")]
    web_sys::console::warn_1(&format!("tinychat: {msg}").into());
}

impl Engine {
    /// Opens `model` on the backend `opts` asks for.
    pub async fn new_async(model: impl Into<Arc<Model>>, opts: EngineOptions) -> Result<Self> {
        let model = model.into();
        let cap = opts
            .capacity
            .unwrap_or(usize::MAX)
            .clamp(1, model.config.max_seq_len);
        let cpu = |model: Arc<Model>, fallback: Option<(Fallback, String)>| Engine {
            fallback,
            capacity: cap,
            ..Engine::cpu(model)
        };
        match opts.backend {
            Backend::Cpu => Ok(cpu(model, None)),
            Backend::Gpu => Self::gpu(model, &opts, false).await.map_err(|(_, e)| e),
            Backend::Auto => match Self::gpu(model.clone(), &opts, true).await {
                Ok(e) => Ok(e),
                Err((kind, e)) => {
                    let msg = format!("running on the CPU: {e}");
                    warn(&msg);
                    Ok(cpu(model, Some((kind, msg))))
                }
            },
        }
    }

    /// Blocking [`Self::new_async`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(model: impl Into<Arc<Model>>, opts: EngineOptions) -> Result<Self> {
        pollster::block_on(Self::new_async(model, opts))
    }

    /// The CPU engine on `model` (everywhere; nothing to wait for).
    pub fn cpu(model: impl Into<Arc<Model>>) -> Self {
        let model = model.into();
        Engine {
            inner: Inner::Cpu(model.new_cache()),
            capacity: model.config.max_seq_len,
            model,
            history: vec![],
            fallback: None,
        }
    }

    /// This CPU engine holding at most `capacity` positions (at most the model's context).
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        if let Inner::Cpu(_) = self.inner {
            self.capacity = capacity.clamp(1, self.model.config.max_seq_len);
        }
        self
    }

    /// Positions this engine holds at most: the model's context, or less when
    /// [`EngineOptions::capacity`] said so.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// `auto`: a software adapter found on its own (lavapipe, WARP natively; SwiftShader, which
    /// WebGPU reports as `isFallbackAdapter`, in the browser) is declined, as the CPU engine is
    /// faster (SwiftShader decodes the tiny model at 0.7 tok/s where wasm does 116); a context
    /// the caller passes is always used. Errors say why, for [`Fallback`].
    async fn gpu(
        model: Arc<Model>,
        opts: &EngineOptions,
        auto: bool,
    ) -> Result<Self, (Fallback, Error)> {
        let gpu = match &opts.gpu {
            Some(g) => g.clone(),
            None => {
                let g = GpuContext::new().await.map_err(|e| (Fallback::NoGpu, e))?;
                if auto && g.is_software() {
                    let e = Error::Gpu(format!(
                        "the only adapter, {}, is a software renderer, slower than the CPU \
                         engine (Backend::Gpu runs on it anyway)",
                        g.describe()
                    ));
                    return Err((Fallback::SoftwareAdapter, e));
                }
                Arc::new(g)
            }
        };
        let fit = |e| (Fallback::ModelDoesNotFit, e);
        // The weights another engine on this model and device uploaded, or a new upload.
        let gm = GpuModel::shared(&gpu, &model, opts.weights).map_err(fit)?;
        let session = GpuSession::new(gm, opts.capacity, opts.chunk).map_err(fit)?;
        Ok(Engine {
            capacity: session.capacity(),
            model,
            inner: Inner::Gpu(Box::new(session)),
            history: vec![],
            fallback: None,
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The shared model this engine runs.
    pub fn model_arc(&self) -> &Arc<Model> {
        &self.model
    }

    /// Whether forward passes currently run on the GPU.
    pub fn is_gpu(&self) -> bool {
        matches!(self.inner, Inner::Gpu(_))
    }

    /// "GPU: llvmpipe (...) (Vulkan), f32 weights" or "CPU".
    pub fn describe(&self) -> String {
        match &self.inner {
            Inner::Gpu(s) => format!(
                "GPU: {}, {} weights",
                s.gpu().describe(),
                s.model.describe_formats()
            ),
            Inner::Cpu(_) => "CPU".into(),
        }
    }

    /// Why the engine is on the CPU although the GPU was tried (no adapter, device lost...).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_ref().map(|(_, msg)| msg.as_str())
    }

    /// The kind of [`Self::fallback_reason`]: for callers that explain it in their own words.
    pub fn fallback(&self) -> Option<Fallback> {
        self.fallback.as_ref().map(|(kind, _)| *kind)
    }

    /// The GPU context, when on the GPU.
    pub fn gpu_context(&self) -> Option<&GpuContext> {
        match &self.inner {
            Inner::Gpu(s) => Some(s.gpu()),
            Inner::Cpu(_) => None,
        }
    }

    /// The GPU context, shared, when on the GPU: pass it in [`EngineOptions::gpu`] to open a
    /// second model (the moderator) on the same device.
    pub fn shared_gpu_context(&self) -> Option<Arc<GpuContext>> {
        match &self.inner {
            Inner::Gpu(s) => Some(s.model.gpu.clone()),
            Inner::Cpu(_) => None,
        }
    }

    /// The weights this engine reads on the GPU, when on the GPU: engines opened on the same
    /// `Arc<Model>` and GPU context share one upload (`Arc::ptr_eq` on this tells).
    pub fn gpu_model(&self) -> Option<&Arc<GpuModel>> {
        match &self.inner {
            Inner::Gpu(s) => Some(&s.model),
            Inner::Cpu(_) => None,
        }
    }

    /// Bytes of the KV cache this engine holds on the GPU (0 on the CPU).
    pub fn gpu_kv_bytes(&self) -> u64 {
        match &self.inner {
            Inner::Gpu(s) => s.kv_bytes(),
            Inner::Cpu(_) => 0,
        }
    }

    /// Positions in the cache.
    pub fn len(&self) -> usize {
        self.history.len()
    }
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// Forgets the conversation.
    pub fn reset(&mut self) {
        self.truncate(0);
    }

    /// Keeps the first `len` positions (to rewind a conversation).
    pub fn truncate(&mut self, len: usize) {
        self.history.truncate(len);
        match &mut self.inner {
            Inner::Cpu(c) => c.truncate(len),
            Inner::Gpu(s) => s.truncate(len),
        }
    }

    /// Moves to the CPU after a GPU failure: rebuilds the KV cache from the history.
    fn fall_back(&mut self, why: &Error) -> Result<()> {
        let msg = format!("{why}; continuing on the CPU");
        warn(&msg);
        self.fallback = Some((Fallback::GpuLost, msg));
        let mut cache = self.model.new_cache();
        if !self.history.is_empty() {
            self.model
                .forward(&self.history, &mut cache, Logits::Last)?;
        }
        self.inner = Inner::Cpu(cache);
        Ok(())
    }

    /// Runs `tokens` after the conversation so far and returns their logits, (1, V) or (T, V).
    pub async fn forward_async(&mut self, tokens: &[u32], which: Logits) -> Result<Vec<f32>> {
        if self.len() + tokens.len() > self.capacity {
            return Err(Error::PromptTooLong {
                tokens: self.len() + tokens.len(),
                context: self.capacity,
            });
        }
        if let Inner::Gpu(s) = &mut self.inner {
            let before = s.len();
            match s.forward_async(tokens, which).await {
                Ok(l) => {
                    self.history.extend_from_slice(tokens);
                    return Ok(l);
                }
                Err(e @ Error::Gpu(_)) => {
                    s.truncate(before);
                    self.fall_back(&e)?;
                }
                Err(e) => return Err(e),
            }
        }
        let Inner::Cpu(cache) = &mut self.inner else {
            unreachable!("fell back to the CPU above")
        };
        let l = self.model.forward(tokens, cache, which)?;
        self.history.extend_from_slice(tokens);
        Ok(l)
    }

    /// A classifier's label logits for `tokens` ([`Model::classify`]) on this engine. Each call
    /// reads one whole text from an empty cache and keeps nothing; a GPU failure moves the
    /// engine to the CPU, as [`Self::forward_async`] does, and the text is classified there.
    pub async fn classify_async(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        if let Inner::Gpu(s) = &mut self.inner {
            match s.classify_async(tokens).await {
                Ok(l) => return Ok(l),
                Err(e @ Error::Gpu(_)) => self.fall_back(&e)?,
                Err(e) => return Err(e),
            }
        }
        self.model.classify(tokens)
    }

    /// The trunk's states after `layers` blocks of `tokens`, pooled over the positions `text`
    /// ([`crate::moderation::head::pool`]): what a moderation head reads. Each call reads one
    /// window from an empty cache and keeps nothing. A GPU engine runs the blocks on the GPU
    /// and reads back only the pooled rows, when its session holds no conversation (the
    /// window needs positions 0..) and the window fits it; otherwise the CPU twin computes it.
    pub async fn pooled_async(
        &mut self,
        tokens: &[u32],
        layers: usize,
        text: std::ops::Range<usize>,
        pooling: crate::moderation::head::HeadPooling,
    ) -> Result<Vec<f32>> {
        use crate::moderation::head::{pool, HeadPooling};
        let c = self.model.config.dim;
        let t = tokens.len();
        // The rows `pool` reads: the last position, or the text's (all when it is empty).
        let rows = match pooling {
            HeadPooling::Last => t.saturating_sub(1)..t,
            HeadPooling::Mean | HeadPooling::MeanMax if text.is_empty() => 0..t,
            HeadPooling::Mean | HeadPooling::MeanMax => text.clone(),
        };
        if let Some(x) = self.gpu_rows(tokens, layers, rows.clone()).await? {
            return Ok(pool(&x, c, 0..rows.len(), pooling));
        }
        let x = self.model.trunk_states(tokens, layers)?;
        Ok(pool(&x, c, text, pooling))
    }

    /// The residual stream (T, C) after blocks 0..layers of `tokens`, read from an empty cache
    /// (the trunk under a moderation head's tuned blocks); never blocks on the GPU.
    pub async fn states_async(&mut self, tokens: &[u32], layers: usize) -> Result<Vec<f32>> {
        match self.gpu_rows(tokens, layers, 0..tokens.len()).await? {
            Some(x) => Ok(x),
            None => self.model.trunk_states(tokens, layers),
        }
    }

    /// Rows `rows` of the residual stream after blocks 0..layers of `tokens`, computed on the
    /// GPU when this engine runs there, its cache is empty and the prompt fits one step; None
    /// otherwise (the caller computes them on the CPU), or after a GPU failure moved it there.
    async fn gpu_rows(
        &mut self,
        tokens: &[u32],
        layers: usize,
        rows: std::ops::Range<usize>,
    ) -> Result<Option<Vec<f32>>> {
        let t = tokens.len();
        if let Inner::Gpu(s) = &mut self.inner {
            let fits = t <= s.capacity() && (self.model.config.causal || t <= s.chunk);
            if s.is_empty() && fits && !rows.is_empty() && rows.end <= t {
                match s.trunk_rows_async(tokens, layers, rows).await {
                    Ok(x) => return Ok(Some(x)),
                    Err(e @ Error::Gpu(_)) => self.fall_back(&e)?,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    /// Blocking [`Self::classify_async`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn classify(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        pollster::block_on(self.classify_async(tokens))
    }

    /// Blocking [`Self::forward_async`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward(&mut self, tokens: &[u32], which: Logits) -> Result<Vec<f32>> {
        pollster::block_on(self.forward_async(tokens, which))
    }

    /// The generation loop — the only one: runs `prompt` after the conversation so far, then
    /// samples one token at a time ([`Generator`]), awaiting `on_token(token)` after each;
    /// `Ok(false)` from it stops generation (FinishReason::Stop), an error ends it with that
    /// error. Chat, the pipeline, the CLI and the training samplers all generate through here,
    /// on whichever engine (CPU or GPU) this is.
    pub async fn generate_async(
        &mut self,
        prompt: &[u32],
        params: &SamplingParams,
        mut on_token: impl AsyncFnMut(u32) -> Result<bool>,
    ) -> Result<Generated> {
        let context = self.capacity - self.len();
        let mut g = Generator::new(prompt, params.clone(), context)?;
        let t0 = now_ms();
        let mut t_first = None;
        let mut stopped = false;
        // The GPU fast path: sampling on the GPU, tokens read back in batches (gpu::decode);
        // after a GPU failure the loop below carries on from the last token delivered.
        if let Inner::Gpu(s) = &mut self.inner {
            if g.remaining() > 0 && s.sample_settings(params).is_some() {
                let h = &mut self.history;
                match crate::gpu::decode::generate(s, &mut g, h, &mut on_token, &mut t_first).await
                {
                    Ok(s) => stopped = s,
                    Err(e @ Error::Gpu(_)) => self.fall_back(&e)?,
                    Err(e) => return Err(e),
                }
            }
        }
        while !stopped {
            let input = g.take_input();
            if input.is_empty() {
                break;
            }
            let mut logits = self.forward_async(&input, Logits::Last).await?;
            t_first.get_or_insert_with(now_ms);
            let Some(tok) = g.push_logits(&mut logits) else {
                break;
            };
            if !on_token(tok).await? {
                stopped = true;
                break;
            }
        }
        let t_end = now_ms();
        let t_first = t_first.unwrap_or(t_end);
        Ok(Generated {
            tokens: g.generated().to_vec(),
            prompt_tokens: g.prompt_len(),
            finish_reason: if stopped {
                FinishReason::Stop
            } else {
                g.finished().unwrap_or(FinishReason::Length)
            },
            prefill_ms: t_first - t0,
            decode_ms: t_end - t_first,
        })
    }

    /// Blocking [`Self::generate_async`] with a plain callback (native; on the CPU engine
    /// anywhere, as its futures never wait).
    pub fn generate(
        &mut self,
        prompt: &[u32],
        params: &SamplingParams,
        mut on_token: impl FnMut(u32) -> bool,
    ) -> Result<Generated> {
        block_on(self.generate_async(prompt, params, async |t| Ok(on_token(t))))
    }
}

//! Answering a prompt the way ChatGPT does (DESIGN.md, "Answering a prompt"):
//!
//! ```text
//! last user message ─► Moderator::check ─ flagged ─► Templates::respond ─► reply (template)
//!                          └ passed ─► ChatModel generates ─► OutputGate (moderates each chunk)
//!                                        ├ chunk flagged ─► stop, Templates::respond ─► reply (template)
//!                                        └ all passed ───► reply (model)
//! ```
//!
//! Streaming: a piece of model text reaches the caller only after the chunk that contains it has
//! passed output moderation; chunks end at sentence boundaries or after a fixed number of
//! characters, and each is checked together with the text released just before it (look-behind
//! context), so harm split across a boundary is still seen.

use crate::chat::{now_ms, ChatModel, Generation};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::generate::{FinishReason, Generator, SamplingParams};
use crate::model::Logits;
use crate::moderation::{Moderator, Thresholds, Verdict};
use crate::templates::{Stage, Templates};
use crate::tokenizer::{Message, StreamDecoder};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// `pipeline.json` of a pipeline bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Directory of the chat model, relative to the bundle.
    pub chat_model: String,
    /// Directory of the moderation classifier, relative to the bundle.
    pub moderator: String,
    /// Per-category thresholds overriding the classifier's own thresholds.json.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Template overrides, key → minijinja text (see `templates.rs`).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// Prepended as a system message when the conversation has none.
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub moderation: GateConfig,
    /// Default sampling settings of this bundle.
    #[serde(default)]
    pub sampling: SamplingParams,
}

/// How output text is cut into moderated chunks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// A chunk is checked at the latest when it reaches this many characters.
    pub max_chunk_chars: usize,
    /// Characters of already released text checked together with each chunk.
    pub context_chars: usize,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_chunk_chars: 120,
            context_chars: 160,
        }
    }
}

/// Whether the user saw the model's words or a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Model,
    Template,
}

/// Which way the pipeline went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Input passed, output passed: the model answered.
    Model,
    /// The prompt was flagged; the model never ran.
    InputFlagged,
    /// The model's output was flagged mid-stream; the template replaced it.
    OutputFlagged,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    pub input_moderation_ms: f64,
    /// Chat model time, prefill and decode (output moderation excluded).
    pub generation_ms: f64,
    pub output_moderation_ms: f64,
    pub total_ms: f64,
}

/// The answer with its whole trace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub source: Source,
    pub route: Route,
    pub input_verdict: Verdict,
    /// None when the model never ran.
    pub output_verdict: Option<Verdict>,
    /// Category that chose the template, when one answered.
    pub template_category: Option<String>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish_reason: Option<FinishReason>,
    pub timings: Timings,
}

/// What the stream delivers, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Chunk {
    /// Model text that has passed output moderation.
    Text { text: String },
    /// A template answer; `stage` says whether the prompt or the model's output was flagged. When
    /// it follows Text chunks, the model's answer was cut off there and replaced.
    Template {
        text: String,
        stage: Stage,
        verdict: Verdict,
    },
}

/// Holds back model text until it has passed moderation. Reusable by any driver (the async
/// browser engine too): feed it text pieces, it answers with what may be shown. [`Self::push`]
/// and [`Self::finish`] take a blocking check; a driver that awaits its moderator uses
/// [`Self::offer`] / [`Self::offer_end`] and [`Self::resolve`].
pub struct OutputGate {
    cfg: GateConfig,
    released: String,
    pending: String,
    verdict: Option<Verdict>,
    /// Bytes of `pending` handed out for checking by the last offer, awaiting [`Self::resolve`].
    cut: Option<usize>,
}

/// What the gate says after a push.
#[derive(Clone, Debug, PartialEq)]
pub enum GateStep {
    /// Nothing new may be shown yet.
    Hold,
    /// This text passed moderation and may be shown.
    Release(String),
    /// The chunk was flagged: stop generating; nothing of the chunk may be shown.
    Flagged(Verdict),
}

/// What the gate needs after an offer.
#[derive(Clone, Debug, PartialEq)]
pub enum GateOffer {
    /// Nothing to check: this is the step.
    Step(GateStep),
    /// Check this text (look-behind context + chunk) and pass its verdict to
    /// [`OutputGate::resolve`].
    Check(String),
}

impl OutputGate {
    pub fn new(cfg: GateConfig) -> Self {
        OutputGate {
            cfg,
            released: String::new(),
            pending: String::new(),
            verdict: None,
            cut: None,
        }
    }

    /// Everything released so far.
    pub fn released(&self) -> &str {
        &self.released
    }
    /// Per-category maximum over every chunk checked so far.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    pub fn push(
        &mut self,
        piece: &str,
        check: &mut dyn FnMut(&str) -> Result<Verdict>,
    ) -> Result<GateStep> {
        let offer = self.offer(piece);
        self.settle(offer, check)
    }

    /// Checks whatever is still held back (the end of the reply).
    pub fn finish(&mut self, check: &mut dyn FnMut(&str) -> Result<Verdict>) -> Result<GateStep> {
        let offer = self.offer_end();
        self.settle(offer, check)
    }

    fn settle(
        &mut self,
        offer: GateOffer,
        check: &mut dyn FnMut(&str) -> Result<Verdict>,
    ) -> Result<GateStep> {
        match offer {
            GateOffer::Step(step) => Ok(step),
            GateOffer::Check(text) => match check(&text) {
                Ok(v) => Ok(self.resolve(v)),
                Err(e) => {
                    self.abandon();
                    Err(e)
                }
            },
        }
    }

    /// Adds a piece of model text; a chunk is complete at a sentence end or at
    /// `max_chunk_chars`.
    pub fn offer(&mut self, piece: &str) -> GateOffer {
        assert!(
            self.cut.is_none(),
            "resolve the last check before offering more text"
        );
        self.pending.push_str(piece);
        let cut = match last_boundary(&self.pending) {
            Some(i) => i,
            None if self.pending.chars().count() >= self.cfg.max_chunk_chars => self.pending.len(),
            None => return GateOffer::Step(GateStep::Hold),
        };
        self.check_text(cut)
    }

    /// The end of the reply: whatever is still held back. Trailing whitespace alone is
    /// released unchecked.
    pub fn offer_end(&mut self) -> GateOffer {
        assert!(self.cut.is_none(), "resolve the last check before ending");
        if self.pending.trim().is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.released.push_str(&rest);
            return GateOffer::Step(if rest.is_empty() {
                GateStep::Hold
            } else {
                GateStep::Release(rest)
            });
        }
        self.check_text(self.pending.len())
    }

    fn check_text(&mut self, cut: usize) -> GateOffer {
        self.cut = Some(cut);
        let ctx = tail_chars(&self.released, self.cfg.context_chars);
        GateOffer::Check(format!("{ctx}{}", &self.pending[..cut]))
    }

    /// Gives up the check of the last [`GateOffer::Check`] (it failed): the chunk stays held
    /// back, nothing of it is released, and the next offer checks it again with what follows.
    pub fn abandon(&mut self) {
        self.cut = None;
    }

    /// The verdict on the text of the last [`GateOffer::Check`]: releases the chunk, or drops it
    /// when flagged.
    pub fn resolve(&mut self, v: Verdict) -> GateStep {
        let cut = self.cut.take().expect("resolve follows a GateOffer::Check");
        let merged = match &self.verdict {
            Some(prev) => prev.merge(&v),
            None => v.clone(),
        };
        self.verdict = Some(merged);
        if v.flagged {
            self.pending.clear();
            return GateStep::Flagged(v);
        }
        let chunk: String = self.pending.drain(..cut).collect();
        self.released.push_str(&chunk);
        GateStep::Release(chunk)
    }
}

/// Byte index just after the last sentence end in `s` (. ! ? followed by whitespace, or a
/// newline), including the whitespace that follows it, if any.
fn last_boundary(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut found = None;
    for i in 0..b.len() {
        let end = match b[i] {
            b'\n' => true,
            b'.' | b'!' | b'?' => b.get(i + 1).is_some_and(|c| c.is_ascii_whitespace()),
            _ => false,
        };
        if end {
            // The whitespace after a sentence end belongs to that sentence.
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            found = Some(j);
        }
    }
    found
}

fn tail_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    if count <= n {
        return s;
    }
    let skip = count - n;
    let idx = s
        .char_indices()
        .nth(skip)
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    &s[idx..]
}

pub struct Pipeline {
    pub chat: ChatModel,
    pub moderator: Moderator,
    pub templates: Templates,
    pub config: PipelineConfig,
}

impl Pipeline {
    /// Loads a bundle directory: pipeline.json, and the chat model and classifier it names.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let cpath = dir.join("pipeline.json");
        let text = std::fs::read_to_string(&cpath).map_err(|e| Error::io(&cpath, e))?;
        let config = Self::parse_config(&text, &cpath.display().to_string())?;
        let chat = ChatModel::load(dir.join(&config.chat_model))?;
        let moderator = Moderator::load(dir.join(&config.moderator))?;
        Self::new(chat, moderator, config)
    }

    /// Parses `pipeline.json` text; `origin` names the file in errors.
    pub fn parse_config(text: &str, origin: &str) -> Result<PipelineConfig> {
        serde_json::from_str(text).map_err(|source| Error::Json {
            path: origin.into(),
            source,
        })
    }

    pub fn new(chat: ChatModel, mut moderator: Moderator, config: PipelineConfig) -> Result<Self> {
        moderator.set_thresholds(&config.thresholds)?;
        let mut templates = Templates::default();
        templates.set_overrides(config.templates.clone())?;
        Ok(Pipeline {
            chat,
            moderator,
            templates,
            config,
        })
    }

    /// Runs the pipeline on a conversation, streaming chunks to `on_chunk`; returns the Reply.
    /// The chat model runs on the CPU engine; [`Self::reply_async`] is the same pipeline on an
    /// [`Engine`] (GPU or CPU), for callers that cannot block.
    pub fn reply(
        &self,
        messages: &[Message],
        params: &SamplingParams,
        mut on_chunk: impl FnMut(&Chunk),
    ) -> Result<Reply> {
        let t0 = now_ms();
        let prompt = self.prepare(messages)?;
        let verdict = self.moderator.check(&prompt.last_user)?;
        let input_verdict = match self.answer_input(&prompt, verdict, t0, &mut on_chunk)? {
            InputOutcome::Passed(v) => v,
            InputOutcome::Flagged(reply) => return Ok(*reply),
        };
        let mut stage = OutputStage::new(self);
        let mut failure: Option<Error> = None;
        let gen = self.chat.generate_tokens(&prompt.tokens, params, |piece| {
            match stage.push(piece, &mut on_chunk) {
                Ok(go_on) => go_on,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        stage.finish(input_verdict, &gen, t0, &mut on_chunk)
    }

    /// [`Self::reply`] with the chat model on `engine` (which must hold this pipeline's chat
    /// model; its conversation is reset first) and the moderator on `moderator` (an engine open
    /// on `self.moderator.model`, or None for the CPU engine). Never blocks: GPU readback is
    /// awaited, and `between_tokens` is awaited after every token, so a browser driver can yield
    /// to the event loop there; an error from it (cancelled, disposed) ends the reply with that
    /// error.
    pub async fn reply_async<F, Fut>(
        &self,
        engine: &mut Engine,
        mut moderator: Option<&mut Engine>,
        messages: &[Message],
        params: &SamplingParams,
        on_chunk: &mut dyn FnMut(&Chunk),
        mut between_tokens: F,
    ) -> Result<Reply>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        if !std::ptr::eq(engine.model(), &*self.chat.model) {
            return Err(Error::InvalidArgument(
                "reply_async needs an Engine opened on this pipeline's chat model".into(),
            ));
        }
        if let Some(m) = &moderator {
            if !std::sync::Arc::ptr_eq(m.model_arc(), &self.moderator.model) {
                return Err(Error::InvalidArgument(
                    "reply_async's moderator engine must be opened on this pipeline's moderator"
                        .into(),
                ));
            }
        }
        let t0 = now_ms();
        let prompt = self.prepare(messages)?;
        let verdict = self
            .moderate_async(moderator.as_deref_mut(), &prompt.last_user)
            .await?;
        let input_verdict = match self.answer_input(&prompt, verdict, t0, on_chunk)? {
            InputOutcome::Passed(v) => v,
            InputOutcome::Flagged(reply) => return Ok(*reply),
        };
        let mut stage = OutputStage::new(self);

        // ChatModel::generate_tokens, with the forward pass on the engine.
        engine.reset();
        let p = self.chat.params_with_stops(params);
        let mut g = Generator::new(&prompt.tokens, p, self.chat.model.config.max_seq_len)?;
        let mut dec = StreamDecoder::new();
        let t_gen = now_ms();
        let mut t_first = None;
        let mut stopped = false;
        loop {
            let input = g.take_input();
            if input.is_empty() {
                break;
            }
            let mut logits = engine.forward_async(&input, Logits::Last).await?;
            t_first.get_or_insert_with(now_ms);
            let Some(tok) = g.push_logits(&mut logits) else {
                break;
            };
            if let Some(piece) = dec.push(&self.chat.tokenizer, tok)? {
                if !stage
                    .push_async(&piece, on_chunk, moderator.as_deref_mut())
                    .await?
                {
                    stopped = true;
                    break;
                }
            }
            between_tokens().await?;
        }
        let t_end = now_ms();
        let t_first = t_first.unwrap_or(t_end);
        let gen = Generation {
            text: dec.text(&self.chat.tokenizer)?,
            tokens: g.generated().to_vec(),
            prompt_tokens: g.prompt_len(),
            finish_reason: if stopped {
                FinishReason::Stop
            } else {
                g.finished().unwrap_or(FinishReason::Length)
            },
            prefill_ms: t_first - t_gen,
            decode_ms: t_end - t_first,
        };
        stage
            .finish_async(input_verdict, &gen, t0, on_chunk, moderator)
            .await
    }

    /// Moderates `text` on `engine` (open on this pipeline's moderator, on the GPU or the CPU),
    /// or with None on the CPU engine.
    pub async fn moderate_async(&self, engine: Option<&mut Engine>, text: &str) -> Result<Verdict> {
        match engine {
            Some(e) => self.moderator.check_async(e, text).await,
            None => self.moderator.check(text),
        }
    }

    /// Validates the conversation, adds the system prompt and tokenizes it: a prompt that cannot
    /// fit fails here, before any model runs.
    fn prepare(&self, messages: &[Message]) -> Result<Prompt> {
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .ok_or_else(|| Error::InvalidArgument("the conversation has no user message".into()))?;
        if last_user.content.trim().is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let mut convo = messages.to_vec();
        if let Some(sys) = &self.config.system_prompt {
            if !convo.iter().any(|m| m.role == "system") {
                convo.insert(0, Message::system(sys));
            }
        }
        let tokens = self.chat.encode_chat(&convo)?;
        if tokens.len() >= self.chat.model.config.max_seq_len {
            return Err(Error::PromptTooLong {
                tokens: tokens.len(),
                context: self.chat.model.config.max_seq_len,
            });
        }
        Ok(Prompt {
            tokens,
            last_user: last_user.content.clone(),
        })
    }

    /// After input moderation: when the prompt was flagged, the template answer (already
    /// streamed).
    fn answer_input(
        &self,
        prompt: &Prompt,
        input_verdict: Verdict,
        t0: f64,
        on_chunk: &mut dyn FnMut(&Chunk),
    ) -> Result<InputOutcome> {
        if !input_verdict.flagged {
            return Ok(InputOutcome::Passed(input_verdict));
        }
        let t_in = now_ms();
        let text = self.templates.respond(&input_verdict, Stage::Input)?;
        on_chunk(&Chunk::Template {
            text: text.clone(),
            stage: Stage::Input,
            verdict: input_verdict.clone(),
        });
        Ok(InputOutcome::Flagged(Box::new(Reply {
            text,
            source: Source::Template,
            route: Route::InputFlagged,
            template_category: Templates::pick_category(&input_verdict),
            input_verdict,
            output_verdict: None,
            prompt_tokens: prompt.tokens.len(),
            completion_tokens: 0,
            finish_reason: None,
            timings: Timings {
                input_moderation_ms: t_in - t0,
                total_ms: now_ms() - t0,
                ..Default::default()
            },
        })))
    }
}

/// The output of a future that never waits: the async stages with the moderator on the CPU
/// engine (no engine to await), run from the blocking [`Pipeline::reply`].
fn resolved<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("the CPU moderator never waits"),
    }
}

/// A conversation ready for the chat model.
struct Prompt {
    tokens: Vec<u32>,
    /// The message input moderation checks.
    last_user: String,
}

enum InputOutcome {
    Passed(Verdict),
    Flagged(Box<Reply>),
}

/// The output side of one reply, shared by [`Pipeline::reply`] and [`Pipeline::reply_async`]:
/// text pieces go through the [`OutputGate`]; what passes is streamed; a flag stops generation
/// and [`OutputStage::finish`] answers with the template.
struct OutputStage<'a> {
    pipeline: &'a Pipeline,
    gate: OutputGate,
    /// Time spent in output moderation.
    mod_ms: f64,
    /// Input moderation ends when the stage starts.
    t_in: f64,
    flagged: Option<Verdict>,
}

impl<'a> OutputStage<'a> {
    fn new(pipeline: &'a Pipeline) -> Self {
        OutputStage {
            pipeline,
            gate: OutputGate::new(pipeline.config.moderation.clone()),
            mod_ms: 0.0,
            t_in: now_ms(),
            flagged: None,
        }
    }

    /// Feeds a piece of model text, moderated on the CPU engine; false when generation must
    /// stop (the chunk was flagged).
    fn push(&mut self, piece: &str, on_chunk: &mut dyn FnMut(&Chunk)) -> Result<bool> {
        resolved(self.push_async(piece, on_chunk, None))
    }

    /// [`Self::push`] with the moderator on `engine` (see [`Pipeline::moderate_async`]; None:
    /// the CPU engine, and the future is ready at once).
    async fn push_async(
        &mut self,
        piece: &str,
        on_chunk: &mut dyn FnMut(&Chunk),
        engine: Option<&mut Engine>,
    ) -> Result<bool> {
        let offer = self.gate.offer(piece);
        let step = self.settle_async(offer, engine).await?;
        Ok(self.apply(step, on_chunk))
    }

    /// The gate's step after `offer`, checking its text on `engine` if it asks for that.
    async fn settle_async(
        &mut self,
        offer: GateOffer,
        engine: Option<&mut Engine>,
    ) -> Result<GateStep> {
        match offer {
            GateOffer::Step(step) => Ok(step),
            GateOffer::Check(text) => {
                let t = now_ms();
                let v = self.pipeline.moderate_async(engine, &text).await;
                self.mod_ms += now_ms() - t;
                match v {
                    Ok(v) => Ok(self.gate.resolve(v)),
                    Err(e) => {
                        self.gate.abandon();
                        Err(e)
                    }
                }
            }
        }
    }

    /// Streams released text, or records a flag; false when generation must stop.
    fn apply(&mut self, step: GateStep, on_chunk: &mut dyn FnMut(&Chunk)) -> bool {
        match step {
            GateStep::Hold => true,
            GateStep::Release(text) => {
                on_chunk(&Chunk::Text { text });
                true
            }
            GateStep::Flagged(v) => {
                self.flagged = Some(v);
                false
            }
        }
    }

    /// Checks the held-back tail on the CPU engine, then [`Self::conclude`]s.
    fn finish(
        self,
        input_verdict: Verdict,
        gen: &Generation,
        t0: f64,
        on_chunk: &mut dyn FnMut(&Chunk),
    ) -> Result<Reply> {
        resolved(self.finish_async(input_verdict, gen, t0, on_chunk, None))
    }

    /// [`Self::finish`] with the moderator on `engine`.
    async fn finish_async(
        mut self,
        input_verdict: Verdict,
        gen: &Generation,
        t0: f64,
        on_chunk: &mut dyn FnMut(&Chunk),
        engine: Option<&mut Engine>,
    ) -> Result<Reply> {
        if self.flagged.is_none() {
            let offer = self.gate.offer_end();
            let step = self.settle_async(offer, engine).await?;
            self.apply(step, on_chunk);
        }
        self.conclude(input_verdict, gen, t0, on_chunk)
    }

    /// Answers with the template if anything flagged, and builds the Reply.
    fn conclude(
        self,
        input_verdict: Verdict,
        gen: &Generation,
        t0: f64,
        on_chunk: &mut dyn FnMut(&Chunk),
    ) -> Result<Reply> {
        let pipeline = self.pipeline;
        let timings_base = Timings {
            input_moderation_ms: self.t_in - t0,
            output_moderation_ms: self.mod_ms,
            generation_ms: (gen.prefill_ms + gen.decode_ms - self.mod_ms).max(0.0),
            total_ms: 0.0,
        };
        let output_verdict = self.gate.verdict().cloned();
        let (text, source, route, category) = match &self.flagged {
            Some(v) => {
                let text = pipeline.templates.respond(v, Stage::Output)?;
                on_chunk(&Chunk::Template {
                    text: text.clone(),
                    stage: Stage::Output,
                    verdict: v.clone(),
                });
                (
                    text,
                    Source::Template,
                    Route::OutputFlagged,
                    Templates::pick_category(v),
                )
            }
            None => (
                self.gate.released().to_string(),
                Source::Model,
                Route::Model,
                None,
            ),
        };
        Ok(Reply {
            text,
            source,
            route,
            input_verdict,
            output_verdict,
            template_category: category,
            prompt_tokens: gen.prompt_tokens,
            completion_tokens: gen.tokens.len(),
            finish_reason: Some(gen.finish_reason),
            timings: Timings {
                total_ms: now_ms() - t0,
                ..timings_base
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::CategoryScore;

    fn verdict(flag: bool) -> Verdict {
        Verdict {
            flagged: flag,
            categories: vec![CategoryScore {
                category: "violence".into(),
                score: if flag { 0.9 } else { 0.1 },
                threshold: 0.5,
                flagged: flag,
                implied_by: None,
            }],
        }
    }

    #[test]
    fn gate_releases_whole_sentences_only_after_checking_them() {
        let mut gate = OutputGate::new(GateConfig::default());
        let mut seen = vec![];
        let mut check = |t: &str| {
            seen.push(t.to_string());
            Ok(verdict(false))
        };
        assert_eq!(gate.push("Hello the", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.push("re. How", &mut check).unwrap(),
            GateStep::Release("Hello there. ".into())
        );
        assert_eq!(gate.push(" are you", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.finish(&mut check).unwrap(),
            GateStep::Release("How are you".into())
        );
        // the second check saw the first sentence as look-behind context
        assert_eq!(seen, vec!["Hello there. ", "Hello there. How are you"]);
    }

    /// The awaitable form: offer hands out the text to check, resolve takes its verdict; a failed
    /// check is abandoned and the chunk is checked again with what follows.
    #[test]
    fn gate_offers_checks_and_takes_verdicts_back() {
        let mut gate = OutputGate::new(GateConfig::default());
        assert_eq!(gate.offer("Hi the"), GateOffer::Step(GateStep::Hold));
        let GateOffer::Check(text) = gate.offer("re. Next") else {
            panic!("a sentence end asks for a check")
        };
        assert_eq!(text, "Hi there. ");
        gate.abandon();
        assert_eq!(gate.released(), "", "an abandoned check releases nothing");
        let GateOffer::Check(text) = gate.offer(" one. And") else {
            panic!("a check")
        };
        assert_eq!(
            text, "Hi there. Next one. ",
            "checked again with what followed"
        );
        assert_eq!(
            gate.resolve(verdict(false)),
            GateStep::Release("Hi there. Next one. ".into())
        );
        let GateOffer::Check(text) = gate.offer_end() else {
            panic!("the tail is checked")
        };
        assert_eq!(text, "Hi there. Next one. And");
        assert!(matches!(gate.resolve(verdict(true)), GateStep::Flagged(_)));
        assert_eq!(gate.released(), "Hi there. Next one. ");
        assert_eq!(gate.offer_end(), GateOffer::Step(GateStep::Hold));
    }

    #[test]
    fn gate_never_releases_a_flagged_chunk() {
        let mut gate = OutputGate::new(GateConfig::default());
        let mut check = |t: &str| Ok(verdict(t.contains("bad")));
        assert!(matches!(
            gate.push("Fine. ", &mut check).unwrap(),
            GateStep::Release(_)
        ));
        assert_eq!(gate.push("Now bad", &mut check).unwrap(), GateStep::Hold);
        assert!(matches!(
            gate.push(" stuff. ", &mut check).unwrap(),
            GateStep::Flagged(_)
        ));
        assert_eq!(gate.released(), "Fine. ");
        assert!(gate.verdict().unwrap().flagged);
    }

    #[test]
    fn gate_cuts_long_text_without_sentence_ends() {
        let cfg = GateConfig {
            max_chunk_chars: 10,
            context_chars: 4,
        };
        let mut gate = OutputGate::new(cfg);
        let mut check = |_: &str| Ok(verdict(false));
        assert_eq!(gate.push("abcdefghi", &mut check).unwrap(), GateStep::Hold);
        assert_eq!(
            gate.push("jk", &mut check).unwrap(),
            GateStep::Release("abcdefghijk".into())
        );
        assert_eq!(tail_chars("héllo wörld", 5), "wörld");
    }
}

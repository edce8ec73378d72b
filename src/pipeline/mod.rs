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
use crate::generate::{FinishReason, SamplingParams};
use crate::moderation::{Moderator, Thresholds, Verdict};
use crate::templates::{Stage, Templates};
use crate::tokenizer::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

mod gate;
pub use gate::{merge_views, GateConfig, GateOffer, GateStep, OutputGate};

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
    /// The most positions (prompt and answer) the chat engine holds; default: the chat model's
    /// context. A long-context model in a browser tab wants less (SmolLM2's 8,192 positions of
    /// keys and values take 377 MB); longer conversations drop their oldest turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<usize>,
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
    /// Of `generation_ms`, reading the prompt: the time to the first new token.
    pub prefill_ms: f64,
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
    /// The oldest turns of the conversation left out so it fits the model's context (0: the
    /// whole conversation was read).
    pub dropped_turns: usize,
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

pub struct Pipeline {
    pub chat: ChatModel,
    pub moderator: Moderator,
    pub templates: Templates,
    pub config: PipelineConfig,
}

impl Pipeline {
    /// Loads a bundle directory: pipeline.json, and the chat model and classifier it names
    /// (see `bundle.rs`).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        crate::bundle::load_pipeline(&crate::bundle::Dir::new(dir.as_ref()))
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
    /// The chat model and the moderator run on the CPU engine; [`Self::reply_async`] is the same
    /// pipeline on [`Engine`]s (GPU or CPU), for callers that cannot block.
    pub fn reply(
        &self,
        messages: &[Message],
        params: &SamplingParams,
        mut on_chunk: impl FnMut(&Chunk),
    ) -> Result<Reply> {
        let mut engine = Engine::cpu(self.chat.model.clone()).with_capacity(self.context());
        crate::engine::block_on(self.reply_async(
            &mut engine,
            None,
            messages,
            params,
            &mut on_chunk,
            async || Ok(()),
        ))
    }

    /// [`Self::reply`] with the chat model on `engine` (which must hold this pipeline's chat
    /// model; its conversation is reset first) and the moderator on `moderator` (an engine open
    /// on `self.moderator.model`, or None for the CPU engine). Never blocks: GPU readback is
    /// awaited, and `between_tokens` is awaited after every token, so a browser driver can yield
    /// to the event loop there; an error from it (cancelled, disposed) ends the reply with that
    /// error.
    pub async fn reply_async(
        &self,
        engine: &mut Engine,
        mut moderator: Option<&mut Engine>,
        messages: &[Message],
        params: &SamplingParams,
        on_chunk: &mut dyn FnMut(&Chunk),
        mut between_tokens: impl AsyncFnMut() -> Result<()>,
    ) -> Result<Reply> {
        if !std::sync::Arc::ptr_eq(engine.model_arc(), &self.chat.model) {
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
        let prompt = self.prepare(messages, params, engine.capacity())?;
        let verdict = self
            .moderate_async(moderator.as_deref_mut(), &prompt.last_user)
            .await?;
        let input_verdict = match self.answer_input(&prompt, verdict, t0, on_chunk)? {
            InputOutcome::Passed(v) => v,
            InputOutcome::Flagged(reply) => return Ok(*reply),
        };
        let mut stage = OutputStage::new(self, prompt.dropped_turns);
        let gen = self
            .chat
            .generate_on(engine, &prompt.tokens, params, async |piece| {
                if !piece.is_empty()
                    && !stage
                        .push_async(piece, on_chunk, moderator.as_deref_mut())
                        .await?
                {
                    return Ok(false);
                }
                between_tokens().await?;
                Ok(true)
            })
            .await?;
        stage
            .finish_async(input_verdict, &gen, t0, on_chunk, moderator)
            .await
    }

    /// Positions the chat engine holds: pipeline.json's `context`, at most the model's.
    pub fn context(&self) -> usize {
        let max = self.chat.model.config.max_seq_len;
        self.config.context.unwrap_or(max).clamp(1, max)
    }

    /// Options for the chat model's engine on `backend`, with this bundle's context.
    pub fn engine_options(&self, backend: crate::engine::Backend) -> crate::engine::EngineOptions {
        crate::engine::EngineOptions {
            backend,
            capacity: Some(self.context()),
            ..Default::default()
        }
    }

    /// Moderates `text` on `engine` (open on this pipeline's moderator, on the GPU or the CPU),
    /// or with None on the CPU engine.
    pub async fn moderate_async(&self, engine: Option<&mut Engine>, text: &str) -> Result<Verdict> {
        match engine {
            Some(e) => self.moderator.check_async(e, text).await,
            None => self.moderator.check(text),
        }
    }

    /// Validates the conversation, adds the system prompt and tokenizes it, leaving out the
    /// oldest turns when the conversation outgrows the context (only a last message that cannot
    /// fit by itself fails, here, before any model runs).
    fn prepare(
        &self,
        messages: &[Message],
        params: &SamplingParams,
        context: usize,
    ) -> Result<Prompt> {
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
        let reserve = crate::chat::answer_reserve(params.max_new_tokens, context);
        let fitted = self.chat.encode_chat_fitting(&convo, context, reserve)?;
        Ok(Prompt {
            tokens: fitted.tokens,
            dropped_turns: fitted.dropped_turns,
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
            dropped_turns: prompt.dropped_turns,
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

/// A conversation ready for the chat model.
struct Prompt {
    tokens: Vec<u32>,
    /// Oldest turns left out so the conversation fits the context.
    dropped_turns: usize,
    /// The message input moderation checks.
    last_user: String,
}

enum InputOutcome {
    Passed(Verdict),
    Flagged(Box<Reply>),
}

/// The output side of one reply, shared by [`Pipeline::reply`] and [`Pipeline::reply_async`]:
/// text pieces go through the [`OutputGate`]; what passes is streamed; a flag stops generation
/// and [`OutputStage::finish_async`] answers with the template.
struct OutputStage<'a> {
    pipeline: &'a Pipeline,
    gate: OutputGate,
    /// Time spent in output moderation.
    mod_ms: f64,
    /// Input moderation ends when the stage starts.
    t_in: f64,
    flagged: Option<Verdict>,
    /// The prompt's dropped turns, for the Reply.
    dropped_turns: usize,
}

impl<'a> OutputStage<'a> {
    fn new(pipeline: &'a Pipeline, dropped_turns: usize) -> Self {
        OutputStage {
            pipeline,
            gate: OutputGate::new(pipeline.config.moderation.clone()),
            mod_ms: 0.0,
            t_in: now_ms(),
            flagged: None,
            dropped_turns,
        }
    }

    /// Feeds a piece of model text, moderated on `engine` (see [`Pipeline::moderate_async`];
    /// None: the CPU engine, and the future is ready at once); false when generation must stop
    /// (the chunk was flagged).
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
            GateOffer::Check(texts) => {
                let t = now_ms();
                let mut engine = engine;
                let mut views = vec![];
                let mut failed = None;
                for text in &texts {
                    match self
                        .pipeline
                        .moderate_async(engine.as_deref_mut(), text)
                        .await
                    {
                        Ok(v) => views.push(v),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                self.mod_ms += now_ms() - t;
                let v = match failed {
                    Some(e) => Err(e),
                    None => Ok(gate::merge_views(views)),
                };
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

    /// Checks the held-back tail with the moderator on `engine`, then [`Self::conclude`]s.
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
            prefill_ms: gen.prefill_ms,
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
            dropped_turns: self.dropped_turns,
            completion_tokens: gen.tokens.len(),
            finish_reason: Some(gen.finish_reason),
            timings: Timings {
                total_ms: now_ms() - t0,
                ..timings_base
            },
        })
    }
}

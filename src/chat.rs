//! A chat model: the transformer, its tokenizer, chat template and generation defaults, loaded
//! from one Hugging Face-style model directory.

use crate::engine::{block_on, Engine};
use crate::error::{Error, Result};
use crate::generate::{FinishReason, SamplingParams};
use crate::model::Model;
use crate::tokenizer::{ChatTemplate, Message, StreamDecoder, Tokenizer};
use std::path::Path;
use std::sync::Arc;

pub struct ChatModel {
    /// Shared so an [`crate::engine::Engine`] can run it on the GPU (with the CPU as fallback)
    /// without a second copy of the weights.
    pub model: Arc<Model>,
    pub tokenizer: Tokenizer,
    /// None for a base model without a chat format.
    pub template: Option<ChatTemplate>,
    /// Tokens that end a reply: eos ids of config.json and generation_config.json, and the
    /// template's eos token.
    pub stop_tokens: Vec<u32>,
}

/// A conversation tokenized to fit the context ([`ChatModel::encode_chat_fitting`]).
#[derive(Clone, Debug)]
pub struct Fitted {
    pub tokens: Vec<u32>,
    /// How many of the oldest turns were left out to make room.
    pub dropped_turns: usize,
}

/// Positions kept free for the answer when a conversation is fitted into the context: the
/// answer's token budget, but at most a quarter of the context.
pub fn answer_reserve(max_new_tokens: usize, context: usize) -> usize {
    max_new_tokens.min(context / 4).max(1)
}

/// The result of one generation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    pub prompt_tokens: usize,
    pub finish_reason: FinishReason,
    /// Time to the first token (prompt processing), in milliseconds.
    pub prefill_ms: f64,
    /// Time spent generating after the first token, in milliseconds.
    pub decode_ms: f64,
    /// Oldest turns of the conversation left out to fit the context ([`ChatModel::chat`]).
    pub dropped_turns: usize,
}

impl ChatModel {
    /// Loads a model directory (`config.json`, `model.safetensors`, `tokenizer.json` and, when
    /// present, `tokenizer_config.json`, `chat_template.jinja` and `generation_config.json`; see
    /// `bundle.rs`), or a `.gguf` file, or a directory that holds one and no config.json
    /// ([`crate::gguf::load_chat_model`]).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if crate::gguf::find(dir)?.is_some() {
            return crate::gguf::load_chat_model(dir);
        }
        crate::bundle::load_chat_model(&crate::bundle::Dir::new(dir), "")
    }

    pub fn from_parts(
        model: Model,
        tokenizer: Tokenizer,
        tokenizer_config: Option<&str>,
        generation_config: Option<&str>,
        origin: &str,
    ) -> Result<Self> {
        let template = match tokenizer_config {
            Some(t) => {
                let v: serde_json::Value = serde_json::from_str(t).map_err(|e| {
                    Error::Template(format!("{origin}/tokenizer_config.json: invalid JSON: {e}"))
                })?;
                if v.get("chat_template").is_some() {
                    Some(ChatTemplate::from_tokenizer_config(
                        t,
                        &format!("{origin}/tokenizer_config.json"),
                    )?)
                } else {
                    None
                }
            }
            None => None,
        };
        let mut stop_tokens = model.config.eos_token_ids.clone();
        if let Some(g) = generation_config {
            let v: serde_json::Value = serde_json::from_str(g).map_err(|e| Error::Config {
                path: format!("{origin}/generation_config.json").into(),
                msg: format!("invalid JSON: {e}"),
            })?;
            match v.get("eos_token_id") {
                Some(serde_json::Value::Number(n)) => {
                    stop_tokens.extend(n.as_u64().map(|x| x as u32))
                }
                Some(serde_json::Value::Array(a)) => {
                    stop_tokens.extend(a.iter().filter_map(|x| x.as_u64()).map(|x| x as u32))
                }
                _ => {}
            }
        }
        Ok(Self::assemble(model, tokenizer, template, stop_tokens))
    }

    /// The chat model of these parts; the stop tokens gain the template's eos token.
    pub fn assemble(
        model: Model,
        tokenizer: Tokenizer,
        template: Option<ChatTemplate>,
        mut stop_tokens: Vec<u32>,
    ) -> Self {
        if let Some(eos) = template.as_ref().and_then(|t| t.eos_token.as_deref()) {
            stop_tokens.extend(tokenizer.token_to_id(eos));
        }
        stop_tokens.sort_unstable();
        stop_tokens.dedup();
        ChatModel {
            model: Arc::new(model),
            tokenizer,
            template,
            stop_tokens,
        }
    }

    /// This chat model with its weight matrices converted to `qtype` (see
    /// [`Model::cast_matrices`]); a no-op when they are stored so already.
    pub fn with_dtype(mut self, qtype: crate::quant::QType) -> Self {
        if self.model.storage() != qtype {
            let mut m = Arc::try_unwrap(self.model).unwrap_or_else(|shared| (*shared).clone());
            m.cast_matrices(qtype);
            self.model = Arc::new(m);
        }
        self
    }

    /// Renders `messages` with the chat template (with the assistant header appended) and
    /// tokenizes the result.
    pub fn encode_chat(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let template = self.template.as_ref().ok_or_else(|| {
            Error::Template(
                "this model has no chat template (tokenizer_config.json); use a plain prompt"
                    .into(),
            )
        })?;
        let text = template.render(messages, true)?;
        // The template writes BOS itself where the format has one.
        self.tokenizer.encode(&text, false)
    }

    /// Renders and tokenizes a conversation so that at least `reserve` of the `context`
    /// positions (the engine's capacity) stay free for the answer: the system messages and the
    /// last turn are always kept, and the oldest turns (a user message and the replies after it)
    /// are dropped until it fits. Only a last turn that cannot fit the context by itself is an
    /// error. `reserve` is shrunk when the last turn needs the room, down to one position.
    pub fn encode_chat_fitting(
        &self,
        messages: &[Message],
        context: usize,
        reserve: usize,
    ) -> Result<Fitted> {
        let system: Vec<Message> = messages
            .iter()
            .take_while(|m| m.role == "system")
            .cloned()
            .collect();
        let rest = &messages[system.len()..];
        // Turn starts: every user message; what comes before the first one belongs to turn 0.
        let mut starts: Vec<usize> = rest
            .iter()
            .enumerate()
            .filter(|(i, m)| m.role == "user" && *i > 0)
            .map(|(i, _)| i)
            .collect();
        starts.insert(0, 0);
        let budget = context.saturating_sub(reserve.max(1));
        let render = |from: usize| -> Result<Vec<u32>> {
            let mut convo = system.clone();
            convo.extend_from_slice(&rest[from..]);
            self.encode_chat(&convo)
        };
        for (dropped, &from) in starts.iter().enumerate() {
            let tokens = render(from)?;
            let last = dropped + 1 == starts.len();
            if tokens.len() <= budget || (last && tokens.len() < context) {
                return Ok(Fitted {
                    tokens,
                    dropped_turns: dropped,
                });
            }
            if last {
                return Err(Error::PromptTooLong {
                    tokens: tokens.len(),
                    context,
                });
            }
        }
        unreachable!("starts holds at least turn 0")
    }

    /// Sampling parameters with this model's stop tokens added.
    pub fn params_with_stops(&self, params: &SamplingParams) -> SamplingParams {
        let mut p = params.clone();
        for &s in &self.stop_tokens {
            if !p.stop_tokens.contains(&s) {
                p.stop_tokens.push(s);
            }
        }
        p
    }

    /// Generates a continuation of `prompt` on `engine` (open on this model, CPU or GPU; its
    /// conversation is reset first), awaiting `on_text` after each token with the text it
    /// completes (whole characters; empty when the token ends mid-character); `Ok(false)` from it
    /// stops generation.
    pub async fn generate_on(
        &self,
        engine: &mut Engine,
        prompt: &[u32],
        params: &SamplingParams,
        mut on_text: impl AsyncFnMut(&str) -> Result<bool>,
    ) -> Result<Generation> {
        if !Arc::ptr_eq(engine.model_arc(), &self.model) {
            return Err(Error::InvalidArgument(
                "this engine runs another model: open it on the chat model's (Engine::new(chat.model.clone(), …))"
                    .into(),
            ));
        }
        engine.reset();
        let params = self.params_with_stops(params);
        let mut dec = StreamDecoder::new();
        let g = engine
            .generate_async(prompt, &params, async |tok| {
                let piece = dec.push(&self.tokenizer, tok)?.unwrap_or_default();
                on_text(&piece).await
            })
            .await?;
        Ok(Generation {
            text: dec.text(&self.tokenizer)?,
            tokens: g.tokens,
            prompt_tokens: g.prompt_tokens,
            finish_reason: g.finish_reason,
            prefill_ms: g.prefill_ms,
            decode_ms: g.decode_ms,
            dropped_turns: 0,
        })
    }

    /// [`Self::generate_on`] on the CPU engine, blocking, with a plain callback that sees each
    /// non-empty piece of text; returning false from it stops generation.
    pub fn generate_tokens(
        &self,
        prompt: &[u32],
        params: &SamplingParams,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let mut engine = Engine::cpu(self.model.clone());
        block_on(
            self.generate_on(&mut engine, prompt, params, async |piece| {
                Ok(on_text(piece))
            }),
        )
    }

    /// Answers a conversation: template, tokenize (leaving out the oldest turns when it outgrows
    /// the context; see [`Self::encode_chat_fitting`]), generate.
    pub fn chat(
        &self,
        messages: &[Message],
        params: &SamplingParams,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let context = self.model.config.max_seq_len;
        let reserve = answer_reserve(params.max_new_tokens, context);
        let prompt = self.encode_chat_fitting(messages, context, reserve)?;
        let mut g = self.generate_tokens(&prompt.tokens, params, on_text)?;
        g.dropped_turns = prompt.dropped_turns;
        Ok(g)
    }

    /// Continues a plain text prompt (no chat template).
    pub fn complete(
        &self,
        prompt: &str,
        params: &SamplingParams,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation> {
        if prompt.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let ids = self.tokenizer.encode(prompt, true)?;
        self.generate_tokens(&ids, params, on_text)
    }
}

/// Milliseconds from an arbitrary origin, on every platform (wasm has no `Instant`).
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
            * 1e3
    }
}

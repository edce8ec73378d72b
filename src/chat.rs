//! A chat model: the transformer, its tokenizer, chat template and generation defaults, loaded
//! from one Hugging Face-style model directory.

use crate::error::{Error, Result};
use crate::generate::{FinishReason, Generator, SamplingParams};
use crate::model::{KvCache, Logits, Model};
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
}

impl ChatModel {
    /// Loads `config.json`, `model.safetensors`, `tokenizer.json` and, when present,
    /// `tokenizer_config.json`, `chat_template.jinja` (which wins over tokenizer_config.json's
    /// `chat_template`, as in transformers) and `generation_config.json`. A `.gguf` file, or a
    /// directory that holds one and no config.json, loads through
    /// [`crate::gguf::load_chat_model`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if crate::gguf::find(dir)?.is_some() {
            return crate::gguf::load_chat_model(dir);
        }
        let model = Model::load(dir)?;
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))?;
        let read_opt = |name: &str| -> Result<Option<String>> {
            let p = dir.join(name);
            match std::fs::read_to_string(&p) {
                Ok(s) => Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(p, e)),
            }
        };
        let mut tokenizer_config = read_opt("tokenizer_config.json")?;
        if let Some(jinja) = read_opt("chat_template.jinja")? {
            tokenizer_config = Some(ChatTemplate::tokenizer_config_with_template(
                tokenizer_config.as_deref(),
                &jinja,
                &format!("{}/tokenizer_config.json", dir.display()),
            )?);
        }
        Self::from_parts(
            model,
            tokenizer,
            tokenizer_config.as_deref(),
            read_opt("generation_config.json")?.as_deref(),
            &dir.display().to_string(),
        )
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
        if let Some(eos) = template.as_ref().and_then(|t| t.eos_token.as_deref()) {
            stop_tokens.extend(tokenizer.token_to_id(eos));
        }
        stop_tokens.sort_unstable();
        stop_tokens.dedup();
        Ok(ChatModel {
            model: Arc::new(model),
            tokenizer,
            template,
            stop_tokens,
        })
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

    /// Generates a continuation of `prompt` on the CPU engine, streaming whole-character text
    /// pieces to `on_text`; returning false from it stops generation.
    pub fn generate_tokens(
        &self,
        prompt: &[u32],
        params: &SamplingParams,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let params = self.params_with_stops(params);
        let mut cache = KvCache::new(&self.model.config);
        let mut g = Generator::new(prompt, params, self.model.config.max_seq_len)?;
        let mut dec = StreamDecoder::new();
        let t0 = now_ms();
        let mut t_first = None;
        let mut stopped_by_caller = false;
        loop {
            let input = g.take_input();
            if input.is_empty() {
                break;
            }
            let mut logits = self.model.forward(&input, &mut cache, Logits::Last)?;
            t_first.get_or_insert_with(now_ms);
            let Some(tok) = g.push_logits(&mut logits) else {
                break;
            };
            if let Some(piece) = dec.push(&self.tokenizer, tok)? {
                if !on_text(&piece) {
                    stopped_by_caller = true;
                    break;
                }
            }
        }
        let t_end = now_ms();
        let t_first = t_first.unwrap_or(t_end);
        Ok(Generation {
            text: dec.text(&self.tokenizer)?,
            tokens: g.generated().to_vec(),
            prompt_tokens: g.prompt_len(),
            finish_reason: if stopped_by_caller {
                FinishReason::Stop
            } else {
                g.finished().unwrap_or(FinishReason::Length)
            },
            prefill_ms: t_first - t0,
            decode_ms: t_end - t_first,
        })
    }

    /// Answers a conversation: template, tokenize, generate.
    pub fn chat(
        &self,
        messages: &[Message],
        params: &SamplingParams,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let prompt = self.encode_chat(messages)?;
        self.generate_tokens(&prompt, params, on_text)
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

//! Tokenizer (`tokenizer.json`, through the `tokenizers` crate) and chat template
//! (`tokenizer_config.json`'s `chat_template`, rendered with minijinja the way transformers
//! renders it with Jinja2: trim_blocks, lstrip_blocks, `raise_exception`, Python string methods).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| Error::Tokenizer(format!("{}: {}", path.display(), e)))
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| Error::Tokenizer(format!("invalid tokenizer.json: {e}")))?;
        Ok(Tokenizer { inner })
    }
    pub fn from_inner(inner: tokenizers::Tokenizer) -> Self {
        Tokenizer { inner }
    }
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
    /// Token ids of `text`. Special tokens written in the text (`<|im_start|>`) are recognised;
    /// `add_special` adds the post-processor's BOS/EOS, if the tokenizer has one.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, add_special)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

/// Turns a stream of token ids into a stream of text pieces. Byte-level BPE can split one
/// character over several tokens; a piece is released only once it decodes to whole characters.
#[derive(Default)]
pub struct StreamDecoder {
    ids: Vec<u32>,
    emitted: usize,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a token; returns the new text, if any is complete.
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Result<Option<String>> {
        self.ids.push(id);
        let text = tok.decode(&self.ids, true)?;
        if text.ends_with('\u{FFFD}') || text.len() <= self.emitted {
            return Ok(None);
        }
        // Decoding can rewrite the end of earlier text (cleanup of spaces); emit from the byte
        // offset already sent when it is still a char boundary.
        let start = if text.is_char_boundary(self.emitted) {
            self.emitted
        } else {
            text.len()
        };
        let piece = text[start..].to_string();
        self.emitted = text.len();
        Ok((!piece.is_empty()).then_some(piece))
    }
    /// All text decoded so far.
    pub fn text(&self, tok: &Tokenizer) -> Result<String> {
        tok.decode(&self.ids, true)
    }
}

/// One chat message, as in the OpenAI and transformers APIs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
    pub fn user(content: &str) -> Self {
        Self::new("user", content)
    }
    pub fn assistant(content: &str) -> Self {
        Self::new("assistant", content)
    }
    pub fn system(content: &str) -> Self {
        Self::new("system", content)
    }
}

/// The chat template and special tokens of `tokenizer_config.json`.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    pub template: String,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

impl ChatTemplate {
    pub fn new(template: &str, bos_token: Option<&str>, eos_token: Option<&str>) -> Self {
        ChatTemplate {
            template: template.into(),
            bos_token: bos_token.map(Into::into),
            eos_token: eos_token.map(Into::into),
        }
    }

    /// Reads the `chat_template` of a `tokenizer_config.json` (a string, or a list of named
    /// templates of which "default" is used), with its `bos_token` and `eos_token`.
    pub fn from_tokenizer_config(text: &str, origin: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::Template(format!("{origin}: invalid JSON: {e}")))?;
        let template = match v.get("chat_template") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .or_else(|| list.first())
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::Template(format!("{origin}: chat_template list has no usable template"))
                })?
                .to_string(),
            _ => {
                return Err(Error::Template(format!(
                    "{origin}: no chat_template field; this model has no chat format (use `generate` with a plain prompt)"
                )))
            }
        };
        // Special tokens are strings, or AddedToken objects {"content": "..."}.
        let token = |key: &str| match v.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).map(Into::into),
            _ => None,
        };
        Ok(ChatTemplate {
            template,
            bos_token: token("bos_token"),
            eos_token: token("eos_token"),
        })
    }

    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_tokenizer_config(&text, &path.display().to_string())
    }

    /// Renders the conversation; `add_generation_prompt` appends the assistant's header.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        env.add_function("strftime_now", |_fmt: String| -> String {
            // No clock is consulted, so renders are reproducible; templates use it for a date line.
            "26 Nov 2026".to_string()
        });
        env.add_template("chat", &self.template)
            .map_err(|e| Error::Template(format!("cannot parse the template: {e}")))?;
        let tmpl = env.get_template("chat").expect("just added");
        tmpl.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.clone().unwrap_or_default(),
            eos_token => self.eos_token.clone().unwrap_or_default(),
        })
        .map_err(|e| {
            // Show the template's own message (raise_exception) rather than minijinja's wrapper.
            let mut msg = e.to_string();
            if let Some(detail) = e.detail() {
                msg = detail.to_string();
            }
            Error::Template(msg)
        })
    }
}

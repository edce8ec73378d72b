//! Tokenizer (`tokenizer.json`, through the `tokenizers` crate) and chat template
//! (`tokenizer_config.json`'s `chat_template`, rendered with minijinja the way transformers
//! renders it with Jinja2; see [`template`]).
//!
//! - [`Tokenizer`]: encode and decode; [`StreamDecoder`] turns a token stream into whole characters.
//! - [`template`]: [`ChatTemplate`] and [`Message`].
//! - [`gpt2`]: OpenAI's GPT-2 vocabulary files turned into a `tokenizer.json`.

pub mod gpt2;
pub mod template;
pub mod validate;

pub use gpt2::{gpt2_tokenizer, gpt2_tokenizer_json};
pub use template::{ChatTemplate, Message};

use crate::error::{Error, Result};
use std::path::Path;

#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| Error::Tokenizer(format!("{}: {}", path.display(), e)))
    }
    /// Parses a `tokenizer.json` after [`validate::check`] has accepted it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |e: String| Error::Tokenizer(format!("invalid tokenizer.json: {e}"));
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        validate::check(&json).map_err(bad)?;
        let inner = contain("loading tokenizer.json", || {
            tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| bad(e.to_string()))
        })?;
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
        contain("encoding", || {
            let enc = self
                .inner
                .encode(text, add_special)
                .map_err(|e| Error::Tokenizer(e.to_string()))?;
            Ok(enc.get_ids().to_vec())
        })
    }
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        contain("decoding", || {
            self.inner
                .decode(ids, skip_special)
                .map_err(|e| Error::Tokenizer(e.to_string()))
        })
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

/// Runs `f`, turning a panic inside the tokenizers crate into an error (natively; in wasm32 a
/// panic aborts, which is why [`validate::check`] refuses what is known to panic first).
fn contain<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Tokenizer(format!(
                "the tokenizer failed while {what} ({why}); tokenizer.json has settings the tokenizers crate cannot handle"
            )))
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = what;
        f()
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

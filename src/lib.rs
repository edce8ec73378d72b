//! tinychat: a small, private ChatGPT. See DESIGN.md for the map.
//!
//! The inference side (this library without the `train` feature) compiles for
//! `wasm32-unknown-unknown`; training code lives behind the `train` feature and runs natively.

pub mod api;
pub mod bench;
pub mod bundle;
pub mod chat;
pub mod config;
pub mod engine;
pub mod error;
/// Fuzz harnesses (native only): see `fuzz/README.md`.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod gguf;
pub mod gpu;
pub mod io;
pub mod jinja;
pub mod model;
pub mod moderation;
pub mod ops;
pub mod params;
pub mod pipeline;
pub mod quant;
pub mod templates;
pub mod tensor;
pub mod tokenizer;
#[cfg(feature = "train")]
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
pub mod weights;

pub use chat::{ChatModel, Generation};
pub use config::{Family, ModelConfig};
pub use error::{Error, Result};
pub use generate::{FinishReason, SamplingParams};
pub use model::{KvCache, Logits, Model};
pub use params::{Params, Slot};
pub use tokenizer::{ChatTemplate, Message, Tokenizer};

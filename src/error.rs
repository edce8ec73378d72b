//! One error type for the whole crate. Every message names the file, field or tensor at fault
//! and, where it helps, what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("unknown model_type {model_type:?} in {path}: tinychat supports \"llama\" (also SmolLM2, TinyLlama, Mistral-style checkpoints) and \"gpt2\"")]
    UnknownModelType { path: PathBuf, model_type: String },
    #[error("{path}: not a valid safetensors file: {msg} (is the file truncated or corrupt? re-download or re-export it)")]
    Safetensors { path: PathBuf, msg: String },
    #[error("{path}: tensor {name:?} is missing (expected shape {expected:?})")]
    MissingTensor {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
    },
    #[error("{path}: tensor {name:?} has shape {actual:?}, but the config needs {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("{path}: tensor {name:?} has dtype {dtype}, tinychat reads F32, F16 and BF16")]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    /// A GGUF file that cannot be read: the message names the key or tensor at fault.
    #[error("{path}: {msg}")]
    Gguf { path: PathBuf, msg: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    Template(String),
    #[error("the prompt is empty: give at least one token of input")]
    EmptyPrompt,
    #[error("the prompt has {tokens} tokens but the model's context holds {context} (max_position_embeddings); shorten it, or allow truncation")]
    PromptTooLong { tokens: usize, context: usize },
    #[error("token id {id} is outside the vocabulary (size {vocab})")]
    TokenOutOfRange { id: u32, vocab: usize },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

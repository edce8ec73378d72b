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
    /// A file a bundle needs is not there (`name` says where it was looked for).
    #[error("the bundle has no {name} (it is required)")]
    MissingFile { name: String },
    /// The call was stopped before it finished: cancelled, or its engine disposed meanwhile.
    #[error("{0}")]
    Aborted(String),
    /// A call on an engine that was disposed.
    #[error("this engine was disposed; create a new one with createEngine()")]
    Disposed,
    /// A call that needs the engine while another one holds it.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Other(String),
}

/// What kind of error an [`Error`] is, as a stable code for programs: the browser API sets it
/// as `code` on every Error it rejects with (`tinychat.d.ts`: `ErrorCode`), so pages branch on
/// the code, never on message text. [`Error::code`] is the one place that assigns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A bad value in a call: an option, the messages, a backend name.
    InvalidArgument,
    /// The conversation's last message does not fit the model's context by itself.
    PromptTooLong,
    /// WebGPU was asked for but cannot run the model (no WebGPU, no adapter, over its limits).
    GpuUnavailable,
    /// A file of the bundle is missing, corrupt, or not what pipeline.json says it is.
    BadBundleFile,
    /// A file of the bundle could not be downloaded (HTTP error, offline, cut short). Set by
    /// the JavaScript loader, which does the fetching.
    Network,
    /// Stopped before it finished: an AbortSignal, `cancel()`, or dispose() during the call.
    Aborted,
    /// A call on an engine after dispose().
    Disposed,
    /// The engine is busy with another reply (the low-level wasm API; the npm package queues).
    Busy,
    /// Anything else: a bug, or a failure tinychat did not foresee.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order (what the wasm API's `errorCodes()` lists).
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::InvalidArgument,
        ErrorCode::PromptTooLong,
        ErrorCode::GpuUnavailable,
        ErrorCode::BadBundleFile,
        ErrorCode::Network,
        ErrorCode::Aborted,
        ErrorCode::Disposed,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    /// "invalid_argument", ...: the code as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::PromptTooLong => "prompt_too_long",
            ErrorCode::GpuUnavailable => "gpu_unavailable",
            ErrorCode::BadBundleFile => "bad_bundle_file",
            ErrorCode::Network => "network",
            ErrorCode::Aborted => "aborted",
            ErrorCode::Disposed => "disposed",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }
}

impl Error {
    /// The stable code of this error (see [`ErrorCode`]).
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Error::Io { .. }
            | Error::Json { .. }
            | Error::Config { .. }
            | Error::UnknownModelType { .. }
            | Error::Safetensors { .. }
            | Error::MissingTensor { .. }
            | Error::ShapeMismatch { .. }
            | Error::UnsupportedDtype { .. }
            | Error::Gguf { .. }
            | Error::Tokenizer(_)
            | Error::Template(_)
            | Error::MissingFile { .. } => C::BadBundleFile,
            Error::EmptyPrompt | Error::TokenOutOfRange { .. } | Error::InvalidArgument(_) => {
                C::InvalidArgument
            }
            Error::PromptTooLong { .. } => C::PromptTooLong,
            Error::Gpu(_) => C::GpuUnavailable,
            Error::Aborted(_) => C::Aborted,
            Error::Disposed => C::Disposed,
            Error::Busy(_) => C::Busy,
            Error::Other(_) => C::Internal,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

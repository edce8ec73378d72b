//! The contract between the browser API (`wasm.rs`, and the JavaScript around it: `web/*.js`,
//! `web/tinychat.d.ts`) and the library, compiled on every target so that native tests can
//! check it (`tests/engine/dts.rs` compares the serialised types with `tinychat.d.ts`).
//!
//! - lists JavaScript must not copy: the backend names ([`Backend::BROWSER_NAMES`]), the sampling
//!   options of a reply ([`ReplyOptions`]'s fields, [`sampling_keys`]), the error codes
//!   ([`ErrorCode::ALL`]); the wasm API exports them ([`Contract`]);
//! - [`EngineInfo`], what `engine.info` holds;
//! - [`backend_reason`]: which engine runs and why, in plain words.

use crate::engine::{Backend, Engine, Fallback};
use crate::error::{Error, ErrorCode, Result};
use crate::generate::SamplingParams;
use crate::pipeline::Pipeline;
use serde::{Deserialize, Serialize};

/// Sampling options of one reply; unset fields take the bundle's defaults (pipeline.json
/// `sampling`). `max_tokens` is OpenAI's name for `max_new_tokens`. Its field names are the
/// keys the browser API accepts ([`sampling_keys`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyOptions {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub max_tokens: Option<usize>,
    pub max_new_tokens: Option<usize>,
    pub seed: Option<u64>,
    pub repetition_penalty: Option<f32>,
}

impl ReplyOptions {
    /// `base` with the options that are set, validated.
    pub fn apply(&self, base: &SamplingParams) -> Result<SamplingParams> {
        let mut p = base.clone();
        if let Some(t) = self.temperature {
            p.temperature = t;
        }
        if let Some(t) = self.top_p {
            p.top_p = t;
        }
        if let Some(k) = self.top_k {
            p.top_k = k;
        }
        if let Some(n) = self.max_tokens.or(self.max_new_tokens) {
            p.max_new_tokens = n;
        }
        if let Some(s) = self.seed {
            p.seed = s;
        }
        if let Some(r) = self.repetition_penalty {
            p.repetition_penalty = r;
        }
        p.validate()?;
        Ok(p)
    }

    /// The error for an option name that is not a field.
    pub fn unknown_key(key: &str) -> Error {
        Error::InvalidArgument(format!(
            "reply options: unknown field `{key}` (known: {})",
            sampling_keys().join(", ")
        ))
    }
}

/// The option names of a reply: [`ReplyOptions`]'s fields, read from its `Deserialize`.
pub fn sampling_keys() -> &'static [&'static str] {
    struct_fields::<ReplyOptions>()
}

/// The field names of a struct that derives `Deserialize`: serde hands them to
/// `deserialize_struct`, which this deserializer records and then refuses.
pub fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    struct Capture(Option<&'static [&'static str]>);
    impl<'de> de::Deserializer<'de> for &mut Capture {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(fields);
            Err(de::Error::custom("fields captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut c = Capture(None);
    let _ = T::deserialize(&mut c);
    c.0.unwrap_or(&[])
}

/// The lists the JavaScript side takes from Rust instead of copying them.
#[derive(Clone, Debug, Serialize)]
pub struct Contract {
    /// Backend names a page may pass: "auto", "webgpu", "cpu".
    pub backends: Vec<&'static str>,
    /// Option names of a reply (temperature, top_p, ...).
    pub sampling_keys: Vec<&'static str>,
    /// Every `code` an Error may carry.
    pub error_codes: Vec<&'static str>,
}

pub fn contract() -> Contract {
    Contract {
        backends: Backend::BROWSER_NAMES.to_vec(),
        sampling_keys: sampling_keys().to_vec(),
        error_codes: ErrorCode::ALL.iter().map(|c| c.as_str()).collect(),
    }
}

/// Facts about a loaded bundle and its engine: `engine.info` in the browser (the JavaScript
/// loader adds from_cache, bundle_bytes, load_ms, pipeline and model).
#[derive(Clone, Debug, Serialize)]
pub struct EngineInfo {
    /// "webgpu" or "cpu".
    pub backend: String,
    /// Why that backend, in plain words ([`backend_reason`]).
    pub backend_reason: String,
    /// The technical detail behind it: the adapter, or the error that ruled WebGPU out.
    pub backend_detail: String,
    /// "webgpu" or "cpu".
    pub moderator_backend: String,
    /// Threads the CPU engine spreads its work over (in the browser: 1, or the worker pool of
    /// the threaded build on a cross-origin isolated page).
    pub cpu_threads: usize,
    /// The chat model's path in the bundle: pipeline.json's `chat_model` (a directory, or a
    /// `.gguf` file).
    pub chat_model_path: String,
    /// config.json of the chat model, as Hugging Face writes it.
    pub chat_model: serde_json::Value,
    /// How its weights are stored ("q4_1", "f16", ...).
    pub chat_weights: String,
    pub moderator_labels: Vec<String>,
    pub thresholds: Vec<(String, f32)>,
    /// Positions the chat engine holds (pipeline.json `context`, at most the model's).
    pub context: usize,
    pub sampling: SamplingParams,
}

impl EngineInfo {
    pub fn new(
        p: &Pipeline,
        backend: &str,
        reason: String,
        detail: String,
        moderator: &str,
    ) -> Self {
        EngineInfo {
            backend: backend.into(),
            backend_reason: reason,
            backend_detail: detail,
            moderator_backend: moderator.into(),
            cpu_threads: crate::ops::num_threads(),
            chat_model_path: p.config.chat_model.clone(),
            chat_model: p.chat.model.config.to_hf_json(),
            chat_weights: p.chat.model.storage().name().to_string(),
            moderator_labels: p.moderator.labels().to_vec(),
            thresholds: p
                .moderator
                .labels()
                .iter()
                .cloned()
                .zip(p.moderator.thresholds.iter().copied())
                .collect(),
            context: p.context(),
            sampling: p.config.sampling.clone(),
        }
    }
}

/// What the browser knows about WebGPU when an engine opens.
#[derive(Clone, Debug, Default)]
pub struct WebGpu {
    /// `navigator.gpu` exists.
    pub present: bool,
    /// The adapter's vendor and architecture as the browser reports them ("google swiftshader"),
    /// when it offered one.
    pub adapter: Option<String>,
}

/// Why `engine` runs where it runs, in plain words, and the technical detail: ("the only WebGPU
/// adapter, google swiftshader, is a software renderer…", wgpu's text) for the CPU, ("adapter:
/// nvidia ampere", "GPU: …, f16 weights") for WebGPU. `requested` is what the page asked for.
pub fn backend_reason(engine: &Engine, requested: Backend, gpu: &WebGpu) -> (String, String) {
    let adapter = gpu.adapter.as_deref().filter(|a| !a.trim().is_empty());
    if let Some(ctx) = engine.gpu_context() {
        let name = adapter.map_or_else(|| ctx.describe(), str::to_string);
        let reason = if ctx.is_software() {
            format!(
                "requested, though the adapter, {name}, is a software renderer, slower than the \
                 CPU engine"
            )
        } else {
            format!("adapter: {name}")
        };
        return (reason, engine.describe());
    }
    let detail = engine.fallback_reason().unwrap_or_default().to_string();
    let reason = match engine.fallback() {
        None if requested == Backend::Cpu => "the CPU engine was requested".to_string(),
        None => "the CPU engine".to_string(),
        Some(Fallback::NoGpu) if !gpu.present => "this browser has no WebGPU".to_string(),
        Some(Fallback::NoGpu) => {
            "this browser offers no WebGPU adapter (WebGPU is off, or not supported on this \
             device)"
                .to_string()
        }
        Some(Fallback::SoftwareAdapter) => format!(
            "the only WebGPU adapter{} is a software renderer, slower than the CPU engine \
             (choose WebGPU to use it anyway)",
            adapter.map(|a| format!(", {a},")).unwrap_or_default()
        ),
        Some(Fallback::ModelDoesNotFit) => {
            "the WebGPU adapter cannot hold this model (its memory or limits are too small)"
                .to_string()
        }
        Some(Fallback::GpuLost) => "the GPU failed mid-conversation".to_string(),
    };
    (reason, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keys_are_the_fields_of_reply_options() {
        assert_eq!(
            sampling_keys(),
            [
                "temperature",
                "top_p",
                "top_k",
                "max_tokens",
                "max_new_tokens",
                "seed",
                "repetition_penalty"
            ]
        );
        // Every listed key is accepted, one more is refused.
        for k in sampling_keys() {
            let v = serde_json::json!({ *k: 1 });
            serde_json::from_value::<ReplyOptions>(v).unwrap();
        }
        assert!(
            serde_json::from_value::<ReplyOptions>(serde_json::json!({"temprature": 1})).is_err()
        );
        assert!(ReplyOptions::unknown_key("temprature")
            .to_string()
            .contains("known: temperature, top_p"));
    }

    #[test]
    fn the_contract_lists_backends_that_parse_and_every_error_code() {
        let c = contract();
        for b in &c.backends {
            b.parse::<Backend>().unwrap();
        }
        assert_eq!(c.backends, ["auto", "webgpu", "cpu"]);
        assert_eq!(c.error_codes.len(), ErrorCode::ALL.len());
        assert!(c.error_codes.contains(&"prompt_too_long"));
        let e = "tpu".parse::<Backend>().unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(Error::Disposed.code().as_str(), "disposed");
    }
}

//! The browser API, through wasm-bindgen. The JS wrapper (`web/tinychat.js`, run in a Web Worker
//! by `web/worker.js`) fetches a pipeline bundle and hands its files over as bytes:
//!
//! ```js
//! import init, { Engine, bundleFiles } from "./tinychat_wasm.js";
//! await init();
//! const files = {};                                   // path in the bundle → Uint8Array
//! for (const { path, required } of bundleFiles(pipelineJsonText)) files[path] = await get(path);
//! const engine = await Engine.create(files, "auto");  // "auto" | "webgpu" | "cpu"
//! engine.backend, engine.backendReason;               // "webgpu" | "cpu", and why
//! const reply = await engine.reply(messages, { temperature: 0.7 }, chunk => show(chunk));
//! await engine.moderate("some text");                 // the Verdict
//! engine.dispose();                                   // frees the GPU device and the weights
//! ```
//!
//! Everything returns a `Result` and reaches JavaScript as an `Error` with a message and a
//! stable `code` ([`ErrorCode`]: "invalid_argument", "prompt_too_long", "aborted", ...; one Rust
//! function, [`Error::code`], assigns them); panics (bugs) are reported by
//! `console_error_panic_hook`. [`contract`] lists what JavaScript must not copy: the backend
//! names, the reply options, the error codes. Generation is async: the GPU forward pass
//! awaits its readback, and the reply yields to the event loop after every token, so a page (or
//! the worker's message queue: cancel, dispose) is never starved.

use crate::api::{self, EngineInfo, ReplyOptions};
use crate::bundle;
use crate::engine::{Backend, Engine as ModelEngine, EngineOptions};
use crate::error::{Error, ErrorCode};
use crate::model::Model;
use crate::pipeline::{Chunk, Pipeline};
use crate::tokenizer::Message;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

fn init_panic_hook() {
    console_error_panic_hook::set_once();
}

/// A JS `Error` with `msg` (prefixed with "tinychat: ") and `code`; an abort is an
/// "AbortError", as `fetch` names its aborts.
fn coded(code: ErrorCode, msg: impl std::fmt::Display) -> JsValue {
    let e = js_sys::Error::new(&format!("tinychat: {msg}"));
    if code == ErrorCode::Aborted {
        e.set_name("AbortError");
    }
    let _ = Reflect::set(&e, &JsValue::from_str("code"), &code.as_str().into());
    e.into()
}

/// `e` for JavaScript: its message and its [`Error::code`].
fn js_err(e: Error) -> JsValue {
    coded(e.code(), e)
}

fn invalid(msg: impl std::fmt::Display) -> JsValue {
    coded(ErrorCode::InvalidArgument, msg)
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            coded(
                ErrorCode::Internal,
                format!("could not convert a result for JavaScript: {e}"),
            )
        })
}

/// Starts the CPU engine's `n` threads: rayon's pool on `n` Web Workers that share this module's
/// memory (the threaded build, `pkg/tinychat_wasm_mt.js`, only; needs a cross-origin isolated
/// page). Call it once, before `Engine.create`, from a thread that may block (a Web Worker).
#[cfg(feature = "wasm-threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// The lists JavaScript takes from here instead of copying them: `{ backends, sampling_keys,
/// error_codes }` (see `api.rs`).
#[wasm_bindgen]
pub fn contract() -> Result<JsValue, JsValue> {
    to_js(&api::contract())
}

/// Throws the Error (code "invalid_argument") that [`Engine::create`] would for this backend
/// name, so a loader can refuse a bad name before downloading a bundle.
#[wasm_bindgen(js_name = checkBackend)]
pub fn check_backend(name: &str) -> Result<(), JsValue> {
    name.parse::<Backend>().map(|_| ()).map_err(js_err)
}

/// The files of a bundle, given the text of its `pipeline.json`: `[{ path, required }]`, paths
/// relative to the directory of pipeline.json. The loader fetches exactly these (`bundle.rs`
/// owns the list and the path policy). `known` (optional: path → bytes of the files fetched so
/// far; the moderator's config.json is what matters) lets the list include what those files
/// name (a moderation head's trunk): ask again until the list stops growing.
#[wasm_bindgen(js_name = bundleFiles)]
pub fn bundle_files(pipeline_json: &str, known: JsValue) -> Result<JsValue, JsValue> {
    init_panic_hook();
    let cfg = bundle::parse_pipeline(pipeline_json, "pipeline.json").map_err(js_err)?;
    let known = if known.is_object() {
        Some(js_files(&known)?)
    } else {
        None
    };
    let list = bundle::pipeline_files(&cfg, known.as_ref().map(|k| k as &dyn bundle::BundleSource));
    to_js(&list.map_err(js_err)?)
}

/// A bundle file's value: a Uint8Array, an ArrayBuffer or a string.
fn file_bytes(path: &str, v: &JsValue) -> Result<Option<Vec<u8>>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(Some(a.to_vec()));
    }
    if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Some(Uint8Array::new(b).to_vec()));
    }
    if let Some(s) = v.as_string() {
        return Ok(Some(s.into_bytes()));
    }
    Err(invalid(format!(
        "bundle file {path}: expected a Uint8Array, ArrayBuffer or string"
    )))
}

/// The bundle's files from a `Map` or a plain object of path → bytes.
fn js_files(files: &JsValue) -> Result<bundle::Files, JsValue> {
    let entries: Vec<(String, JsValue)> = if let Some(map) = files.dyn_ref::<js_sys::Map>() {
        let mut v = vec![];
        map.for_each(&mut |value, key| v.push((key.as_string().unwrap_or_default(), value)));
        v
    } else {
        js_sys::Object::entries(files.unchecked_ref())
            .iter()
            .map(|e| {
                let pair: js_sys::Array = e.unchecked_into();
                (pair.get(0).as_string().unwrap_or_default(), pair.get(1))
            })
            .collect()
    };
    let mut out = std::collections::HashMap::new();
    for (path, value) in entries {
        if let Some(b) = file_bytes(&path, &value)? {
            out.insert(path, b);
        }
    }
    Ok(bundle::Files {
        files: out,
        origin: String::new(),
    })
}

/// A reply's options object ([`ReplyOptions`]); unknown keys are errors (a typo must not be
/// silently ignored).
fn parse_reply_options(v: &JsValue) -> Result<ReplyOptions, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(ReplyOptions::default());
    }
    if !v.is_object() {
        return Err(invalid("reply options must be an object"));
    }
    // serde-wasm-bindgen reads only the fields it knows: look for typos ourselves.
    let obj: &js_sys::Object = v.unchecked_ref();
    for key in js_sys::Object::keys(obj).iter() {
        let key = key.as_string().unwrap_or_default();
        if !api::sampling_keys().contains(&key.as_str()) {
            return Err(js_err(ReplyOptions::unknown_key(&key)));
        }
    }
    serde_wasm_bindgen::from_value(v.clone()).map_err(|e| {
        invalid(format!(
            "invalid reply options: {e} (known: {})",
            api::sampling_keys().join(", ")
        ))
    })
}

fn parse_messages(v: &JsValue) -> Result<Vec<Message>, JsValue> {
    let messages: Vec<Message> = serde_wasm_bindgen::from_value(v.clone()).map_err(|e| {
        invalid(format!(
            "messages must be an array of {{ role, content }} objects with string fields: {e}"
        ))
    })?;
    if messages.is_empty() {
        return Err(invalid("messages is empty: give at least one user message"));
    }
    Ok(messages)
}

/// Resolves on a later turn of the event loop, after the tasks already queued (a worker's
/// pending messages: cancel, dispose, moderate): a message to ourselves through a
/// `MessageChannel`, which, unlike `setTimeout(0)`, is not clamped to 4 ms, and unlike
/// `scheduler.yield()`, does not jump ahead of queued tasks. Falls back to `setTimeout(0)`.
async fn yield_now() {
    let global = js_sys::global();
    let get = |o: &JsValue, k: &str| Reflect::get(o, &JsValue::from_str(k)).ok();
    let call0 = |o: &JsValue, k: &str| {
        if let Some(f) = get(o, k).and_then(|f| f.dyn_into::<Function>().ok()) {
            let _ = f.call0(o);
        }
    };
    // (promise, the two ports to close afterwards: an open port keeps Node's event loop alive)
    let via_channel = || -> Option<(Promise, JsValue, JsValue)> {
        let ctor = get(&global, "MessageChannel")?
            .dyn_into::<Function>()
            .ok()?;
        let channel = Reflect::construct(&ctor, &js_sys::Array::new()).ok()?;
        let (port1, port2) = (get(&channel, "port1")?, get(&channel, "port2")?);
        let post = get(&port2, "postMessage")?.dyn_into::<Function>().ok()?;
        let promise = Promise::new(&mut |resolve, _| {
            let _ = Reflect::set(&port1, &JsValue::from_str("onmessage"), &resolve);
        });
        post.call1(&port2, &JsValue::UNDEFINED).ok()?;
        Some((promise, port1, port2))
    };
    if let Some((p, port1, port2)) = via_channel() {
        let _ = JsFuture::from(p).await;
        call0(&port1, "close");
        call0(&port2, "close");
        return;
    }
    if let Some(st) = get(&global, "setTimeout").and_then(|f| f.dyn_into::<Function>().ok()) {
        let p = Promise::new(&mut |resolve, _| {
            let _ = st.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from(0));
        });
        let _ = JsFuture::from(p).await;
    }
}

/// State shared by an [`Engine`] and the replies it runs.
struct Shared {
    pipeline: RefCell<Option<Rc<Pipeline>>>,
    /// The chat model's engine (GPU or CPU) and its KV cache; borrowed by one reply at a time.
    engine: RefCell<Option<Rc<RefCell<ModelEngine>>>>,
    /// The moderator on the chat model's GPU device, when the chat model runs there; None: the
    /// CPU engine.
    moderator: RefCell<Option<Rc<RefCell<ModelEngine>>>>,
    busy: Cell<bool>,
    cancel: Cell<bool>,
    disposed: Cell<bool>,
    backend: String,
    /// Why that backend, in plain words, and the technical detail ([`api::backend_reason`]).
    reason: String,
    detail: String,
}

impl Shared {
    fn pipeline(&self) -> Result<Rc<Pipeline>, JsValue> {
        if self.disposed.get() {
            return Err(js_err(Error::Disposed));
        }
        self.pipeline
            .borrow()
            .clone()
            .ok_or_else(|| js_err(Error::Disposed))
    }
}

/// `navigator.gpu` and, when `adapter` is asked for, the vendor and architecture the browser
/// reports for its adapter ("google swiftshader"): wgpu keeps only the description, which
/// browsers leave empty.
async fn webgpu_facts(adapter: bool) -> api::WebGpu {
    let present = crate::gpu::webgpu_available();
    if !present || !adapter {
        return api::WebGpu {
            present,
            adapter: None,
        };
    }
    let get = |o: &JsValue, k: &str| Reflect::get(o, &JsValue::from_str(k)).ok();
    let label = async {
        let gpu = get(&get(&js_sys::global(), "navigator")?, "gpu")?;
        let request = get(&gpu, "requestAdapter")?.dyn_into::<Function>().ok()?;
        let promise = request.call0(&gpu).ok()?.dyn_into::<Promise>().ok()?;
        let a = JsFuture::from(promise).await.ok()?;
        let info = get(&a, "info").filter(|i| i.is_object())?;
        let parts: Vec<String> = ["vendor", "architecture", "description"]
            .iter()
            .filter_map(|k| get(&info, k)?.as_string())
            .filter(|s| !s.is_empty())
            .collect();
        Some(parts.join(" "))
    };
    api::WebGpu {
        present,
        adapter: label.await.filter(|s| !s.is_empty()),
    }
}

/// One loaded pipeline bundle on one engine. Created by [`Engine::create`].
#[wasm_bindgen]
pub struct Engine {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl Engine {
    /// Loads the bundle in `files` (path → bytes; see [`bundle_files`]) and opens its chat model
    /// on `backend`: "auto" (WebGPU when the browser has a usable adapter, else the CPU), "webgpu"
    /// (an error without one) or "cpu". The moderation classifier runs on the same engine, on the
    /// same GPU device (on the CPU if it cannot be opened there; a console warning says why).
    pub async fn create(files: JsValue, backend: Option<String>) -> Result<Engine, JsValue> {
        init_panic_hook();
        let backend: Backend = backend
            .as_deref()
            .unwrap_or("auto")
            .parse()
            .map_err(js_err)?;
        if !files.is_object() {
            return Err(invalid(
                "Engine.create needs the bundle's files: an object or Map of path → Uint8Array",
            ));
        }
        let pipeline = bundle::load_pipeline(&js_files(&files)?).map_err(js_err)?;
        let engine = ModelEngine::new_async(pipeline.chat.model.clone(), pipeline.engine_options(backend))
            .await
            .map_err(|e| match (backend, &e) {
                (Backend::Gpu, Error::Gpu(_)) => coded(ErrorCode::GpuUnavailable, format!(
                    "WebGPU was requested but cannot run this model: {e}. Use backend \"auto\" or \"cpu\" to run on the CPU"
                )),
                _ => js_err(e),
            })?;
        let name = if engine.is_gpu() { "webgpu" } else { "cpu" };
        let ask_adapter =
            engine.is_gpu() || engine.fallback() == Some(crate::engine::Fallback::SoftwareAdapter);
        let gpu = webgpu_facts(ask_adapter).await;
        let (reason, detail) = api::backend_reason(&engine, backend, &gpu);
        // On the chat model's device; a head whose trunk is the chat model reads the chat
        // engine's weights (one upload), with a KV cache of one check's positions.
        let moderator = match engine.shared_gpu_context() {
            Some(gpu) => {
                let opts = pipeline.moderator.engine_options(Backend::Gpu, Some(gpu));
                match ModelEngine::new_async(pipeline.moderator.model.clone(), opts).await {
                    Ok(m) => Some(Rc::new(RefCell::new(m))),
                    Err(e) => {
                        web_sys::console::warn_1(
                            &format!("tinychat: the moderator runs on the CPU: {e}").into(),
                        );
                        None
                    }
                }
            }
            None => None,
        };
        Ok(Engine {
            shared: Rc::new(Shared {
                pipeline: RefCell::new(Some(Rc::new(pipeline))),
                engine: RefCell::new(Some(Rc::new(RefCell::new(engine)))),
                moderator: RefCell::new(moderator),
                busy: Cell::new(false),
                cancel: Cell::new(false),
                disposed: Cell::new(false),
                backend: name.into(),
                reason,
                detail,
            }),
        })
    }

    /// "webgpu" or "cpu": where the chat model runs now (a lost GPU device moves it to the CPU).
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        match self.shared.engine.borrow().as_ref() {
            Some(e) => match e.try_borrow() {
                Ok(e) if e.is_gpu() => "webgpu".into(),
                Ok(_) => "cpu".into(),
                Err(_) => self.shared.backend.clone(),
            },
            None => self.shared.backend.clone(),
        }
    }

    /// Why this backend, in plain words: the adapter in use, or why WebGPU is not used.
    #[wasm_bindgen(getter, js_name = backendReason)]
    pub fn backend_reason(&self) -> String {
        self.reason_and_detail().0
    }

    /// The technical detail behind [`Self::backend_reason`]: the adapter and weight format, or
    /// the error that ruled WebGPU out.
    #[wasm_bindgen(getter, js_name = backendDetail)]
    pub fn backend_detail(&self) -> String {
        self.reason_and_detail().1
    }

    fn reason_and_detail(&self) -> (String, String) {
        if let Some(e) = self.shared.engine.borrow().as_ref() {
            if let Ok(e) = e.try_borrow() {
                if !e.is_gpu() && self.shared.backend == "webgpu" {
                    let why = e.fallback_reason().unwrap_or("unknown reason").to_string();
                    return (
                        "the GPU failed mid-conversation; the CPU engine took over".into(),
                        why,
                    );
                }
            }
        }
        (self.shared.reason.clone(), self.shared.detail.clone())
    }

    /// "webgpu" or "cpu": where the moderator runs now: with the chat model, on its GPU device
    /// when it has one ("webgpu" also while a reply or a check is using it), on the CPU after a
    /// GPU failure. A [`Self::moderate`] call made while a reply runs scores on the CPU.
    #[wasm_bindgen(getter, js_name = moderatorBackend)]
    pub fn moderator_backend(&self) -> String {
        match self
            .shared
            .moderator
            .borrow()
            .as_ref()
            .map(|m| m.try_borrow())
        {
            Some(Ok(m)) if m.is_gpu() => "webgpu".into(),
            Some(Err(_)) => "webgpu".into(), // a reply is using it
            _ => "cpu".into(),
        }
    }

    /// Facts about the loaded bundle and the engine ([`EngineInfo`]).
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let p = self.shared.pipeline()?;
        let (reason, detail) = self.reason_and_detail();
        let info = EngineInfo::new(
            &p,
            &self.backend(),
            reason,
            detail,
            &self.moderator_backend(),
        );
        to_js(&info)
    }

    /// Answers `messages` (`[{ role, content }]`) through the whole pipeline. `options`:
    /// temperature, top_p, top_k, max_tokens, seed, repetition_penalty. `on_chunk` is called with
    /// each chunk as it passes moderation: `{ type: "text", text }` or `{ type: "template", text,
    /// stage, verdict }`. Resolves to the Reply with its moderation trace.
    #[allow(clippy::await_holding_refcell_ref)] // see `let result` below
    pub fn reply(
        &self,
        messages: JsValue,
        options: JsValue,
        on_chunk: Option<Function>,
    ) -> Promise {
        let shared = self.shared.clone();
        // Checked now, and the engine marked busy now, so that a cancel() or dispose() right
        // after this call already applies to this reply.
        let prepared = (|| {
            let pipeline = shared.pipeline()?;
            if shared.busy.get() {
                return Err(js_err(Error::Busy(
                    "a reply is already running on this engine; await it (or cancel it) first"
                        .into(),
                )));
            }
            let messages = parse_messages(&messages)?;
            let params = parse_reply_options(&options)?
                .apply(&pipeline.config.sampling)
                .map_err(js_err)?;
            let engine = shared
                .engine
                .borrow()
                .clone()
                .ok_or_else(|| js_err(Error::Disposed))?;
            let moderator = shared.moderator.borrow().clone();
            Ok((pipeline, messages, params, engine, moderator))
        })();
        let (pipeline, messages, params, engine, moderator) = match prepared {
            Ok(p) => p,
            Err(e) => return Promise::reject(&e),
        };
        shared.busy.set(true);
        shared.cancel.set(false);
        future_to_promise(async move {
            let callback_error: RefCell<Option<JsValue>> = RefCell::new(None);
            let mut emit = |c: &Chunk| {
                if let Some(f) = &on_chunk {
                    match to_js(c).and_then(|v| f.call1(&JsValue::UNDEFINED, &v)) {
                        Ok(_) => {}
                        Err(e) => {
                            callback_error.borrow_mut().get_or_insert(e);
                        }
                    }
                }
            };
            let between = || {
                let shared = shared.clone();
                let failed = callback_error.borrow().is_some();
                async move {
                    if failed {
                        return Err(Error::Other("onChunk threw".into()));
                    }
                    yield_now().await;
                    if shared.disposed.get() {
                        Err(Error::Aborted(
                            "the engine was disposed while replying".into(),
                        ))
                    } else if shared.cancel.get() {
                        Err(Error::Aborted("the reply was cancelled".into()))
                    } else {
                        Ok(())
                    }
                }
            };
            // The engines stay borrowed across the awaits of the reply: `busy` admits one reply
            // at a time, and everything else only `try_borrow`s them.
            let result = {
                let mut eng = engine.borrow_mut();
                // A GPU moderate() still awaiting its readback holds the moderator: then this
                // reply moderates on the CPU engine.
                let mut m = moderator.as_ref().and_then(|m| m.try_borrow_mut().ok());
                pipeline
                    .reply_async(
                        &mut eng,
                        m.as_deref_mut(),
                        &messages,
                        &params,
                        &mut emit,
                        between,
                    )
                    .await
            };
            shared.busy.set(false);
            drop(engine);
            drop(moderator);
            if shared.disposed.get() {
                release(&shared);
                return Err(js_err(Error::Aborted(
                    "the engine was disposed while replying".into(),
                )));
            }
            if let Some(e) = callback_error.borrow_mut().take() {
                return Err(e);
            }
            if shared.cancel.get() {
                shared.cancel.set(false);
                return Err(js_err(Error::Aborted("the reply was cancelled".into())));
            }
            let reply = result.map_err(js_err)?;
            to_js(&reply)
        })
    }

    /// Stops the running reply after its current token; its promise rejects with an AbortError.
    pub fn cancel(&self) {
        if self.shared.busy.get() {
            self.shared.cancel.set(true);
        }
    }

    /// Moderates `text`; resolves to `{ flagged, categories: [{ category, score, threshold,
    /// flagged, implied_by? }] }`. On the moderator's engine ([`Self::moderator_backend`]), or on
    /// the CPU while a reply is using that engine.
    #[allow(clippy::await_holding_refcell_ref)] // the borrow is a try_borrow_mut, see below
    pub fn moderate(&self, text: String) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            let p = shared.pipeline()?;
            let engine = shared.moderator.borrow().clone();
            // A reply (or another check) holds the GPU moderator across its awaits; then the CPU
            // engine scores.
            let v = match engine.as_ref().map(|e| e.try_borrow_mut()) {
                Some(Ok(mut e)) if !shared.busy.get() => {
                    p.moderate_async(Some(&mut e), &text).await
                }
                _ => p.moderator.check(&text),
            };
            if shared.disposed.get() {
                return Err(js_err(Error::Aborted(
                    "the engine was disposed while moderating".into(),
                )));
            }
            to_js(&v.map_err(js_err)?)
        })
    }

    /// Frees the model weights and the GPU device. Later calls fail with a clear error; a reply
    /// still running stops after its current token.
    pub fn dispose(&self) {
        if self.shared.disposed.replace(true) {
            return;
        }
        if !self.shared.busy.get() {
            release(&self.shared);
        }
    }

    /// Whether [`Self::dispose`] was called.
    #[wasm_bindgen(getter)]
    pub fn disposed(&self) -> bool {
        self.shared.disposed.get()
    }
}

/// Drops the weights and destroys the GPU device (browsers free GPU buffers only when they are
/// garbage-collected otherwise).
fn release(shared: &Shared) {
    shared.moderator.borrow_mut().take();
    if let Some(engine) = shared.engine.borrow_mut().take() {
        if let Ok(e) = engine.try_borrow() {
            if let Some(gpu) = e.gpu_context() {
                gpu.device.destroy();
            }
        }
    }
    shared.pipeline.borrow_mut().take();
}

/// Prefill and greedy-decode speed of a model (the text of its config.json and the bytes of its
/// model.safetensors; or an empty config and the bytes of a `.gguf`) on `backend` ("cpu",
/// "webgpu" or "auto"), measured as `tinychat bench infer` measures natively: one warm-up token,
/// then `prompt` tokens in one forward pass, then `steps` forward passes of one token each.
/// `dtype` ("f32", "q4_1", ...) casts every matrix first, as `bench infer --dtype` does (the
/// 4-bit types keep the token embedding in Q8_0, as SmolLM2's GGUF does); without it the weights
/// stay as stored. Resolves to `{ backend, dtype, prompt, steps, prefill_tps, decode_tps,
/// weights_mb, load_ms }` (load_ms: parsing and the cast). For the benchmarks in `web/bench/`
/// (Node and headless Chromium).
#[wasm_bindgen(js_name = benchDecode)]
pub async fn bench_decode(
    config_json: String,
    safetensors: Uint8Array,
    backend: Option<String>,
    prompt: usize,
    steps: usize,
    dtype: Option<String>,
) -> Result<JsValue, JsValue> {
    init_panic_hook();
    use crate::chat::now_ms;
    use crate::generate::{argmax, Rng};
    use crate::model::Logits;
    if prompt == 0 || steps == 0 {
        return Err(invalid("benchDecode: prompt and steps must be at least 1"));
    }
    let t0 = now_ms();
    let bytes = safetensors.to_vec();
    let mut model = match config_json.is_empty() {
        true => crate::gguf::ModelParts::from_gguf(
            &crate::gguf::Gguf::parse(&bytes, "bench.gguf").map_err(js_err)?,
        )
        .and_then(|p| p.to_model())
        .map_err(js_err)?,
        false => Model::from_bytes(&config_json, &bytes, "bench").map_err(js_err)?,
    };
    drop(bytes);
    if prompt + steps + 1 > model.config.max_seq_len {
        return Err(invalid(format!(
            "benchDecode: prompt {prompt} + steps {steps} exceed the model's context ({})",
            model.config.max_seq_len
        )));
    }
    if let Some(name) = dtype.as_deref() {
        let q = crate::quant::QType::from_name(name).ok_or_else(|| {
            invalid(format!(
                "benchDecode: dtype {name:?}: use f32, f16, bf16, q8_0, q4_0, q4_1, q4_k or q6_k"
            ))
        })?;
        // Cast in place (tensor by tensor): the stored weights are not held twice.
        let (config, mut w) = (model.config.clone(), model.weights);
        crate::bench::cast_for_bench(&mut w, q);
        model = Model::from_weights(config, w);
    }
    let (storage, weights_mb) = (
        model.storage().to_string(),
        model.weights.bytes() as f64 / 1e6,
    );
    let load_ms = now_ms() - t0;
    let b: Backend = backend
        .as_deref()
        .unwrap_or("cpu")
        .parse()
        .map_err(js_err)?;
    let vocab = model.config.vocab_size as u64;
    let mut engine = ModelEngine::new_async(model, EngineOptions::backend(b))
        .await
        .map_err(js_err)?;
    // The same prompt as the native benchmark: Rng(7), ids modulo the vocabulary.
    let mut rng = Rng::new(7);
    let ids: Vec<u32> = (0..prompt)
        .map(|_| (rng.next_u64() % vocab) as u32)
        .collect();
    engine
        .forward_async(&ids[..1], Logits::Last)
        .await
        .map_err(js_err)?;
    engine.reset();
    let t = now_ms();
    let logits = engine
        .forward_async(&ids, Logits::Last)
        .await
        .map_err(js_err)?;
    let prefill_s = (now_ms() - t) / 1e3;
    let mut tok = argmax(&logits);
    let t = now_ms();
    for _ in 0..steps {
        tok = argmax(
            &engine
                .forward_async(&[tok], Logits::Last)
                .await
                .map_err(js_err)?,
        );
    }
    let decode_s = (now_ms() - t) / 1e3;
    #[derive(Serialize)]
    struct Bench {
        backend: String,
        engine: String,
        dtype: String,
        weights_mb: f64,
        prompt: usize,
        steps: usize,
        prefill_tps: f64,
        decode_tps: f64,
        load_ms: f64,
        last_token: u32,
    }
    to_js(&Bench {
        backend: if engine.is_gpu() { "webgpu" } else { "cpu" }.into(),
        engine: engine.describe(),
        dtype: storage,
        weights_mb,
        prompt,
        steps,
        prefill_tps: prompt as f64 / prefill_s,
        decode_tps: steps as f64 / decode_s,
        load_ms,
        last_token: tok,
    })
}

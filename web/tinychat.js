// tinychat in the browser: the whole ChatGPT pipeline (input moderation → chat model → output
// moderation → template answers) in WebAssembly, on WebGPU with a CPU fallback, in a Web Worker.
//
//   import { createEngine } from "tinychat";
//   const engine = await createEngine({ pipeline: "/models/default/pipeline.json", onProgress: console.log });
//   const reply = await engine.reply([{ role: "user", content: "Hello!" }]);
//   for await (const chunk of engine.replyStream(messages)) ...
//   const stream = await engine.chat.completions.create({ messages, stream: true });
//
// Types: tinychat.d.ts. Design notes: the README of the npm package.

import { DEFAULT_CACHE, clearCache, deleteCachedModel, listCachedModels, tinychatError } from "./core.js";

export { clearCache, deleteCachedModel, listCachedModels, DEFAULT_CACHE };

const DISPOSED = "tinychat: this engine was disposed; create a new one with createEngine()";

function abortError(message = "tinychat: the reply was cancelled") {
  return tinychatError(message, "AbortError", "aborted");
}

/// An Error for a bad value in a call (code "invalid_argument").
function invalid(message) {
  return tinychatError(message, "Error", "invalid_argument");
}

/// Runs the engine in a dedicated module worker; every call is a message with an id.
class WorkerCore {
  static async start(options, onProgress, signal) {
    if (signal?.aborted) throw abortError("tinychat: loading was aborted");
    const core = new WorkerCore(options.workerUrl);
    // Aborting the load ends the worker, and with it every download in flight.
    const onAbort = () => {
      core.worker.terminate();
      core.failAll(abortError("tinychat: loading was aborted"));
    };
    signal?.addEventListener("abort", onAbort);
    try {
      const { workerUrl: _url, ...plain } = options;
      const { info, contract } = await core.call({ type: "start", options: plain }, { onProgress });
      core.info = info;
      core.contract = contract;
    } catch (e) {
      core.worker.terminate();
      throw e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    return core;
  }

  constructor(url) {
    // The literal `new Worker(new URL(...), { type: "module" })` is what bundlers (Vite, webpack)
    // recognise to bundle the worker with its imports.
    this.worker = url
      ? new Worker(url, { type: "module", name: "tinychat" })
      : new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "tinychat" });
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = (event) => this.receive(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault?.();
      this.failAll(
        tinychatError(
          `the worker failed: ${event.message || "it could not be loaded (check that worker.js, core.js and the wasm files are served)"}`,
          "Error",
          event.message ? "internal" : "network",
        ),
      );
    };
    this.worker.onmessageerror = () => this.failAll(tinychatError("a worker message could not be read"));
  }

  call(message, handlers = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...handlers });
      this.worker.postMessage({ ...message, id });
    });
  }

  receive({ id, type, progress, chunk, value, error }) {
    const p = this.pending.get(id);
    if (!p) return;
    if (type === "progress") p.onProgress?.(progress);
    else if (type === "chunk") p.onChunk?.(chunk);
    else {
      this.pending.delete(id);
      if (type === "result") p.resolve(value);
      else p.reject(tinychatError(error?.message ?? "unknown worker error", error?.name, error?.code));
    }
  }

  failAll(error) {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  reply(messages, options, onChunk) {
    return this.call({ type: "reply", messages, options }, { onChunk });
  }

  cancel() {
    this.call({ type: "cancel" }).catch(() => {});
  }

  moderate(text) {
    return this.call({ type: "moderate", text });
  }

  async dispose() {
    try {
      await this.call({ type: "dispose" });
    } finally {
      this.worker.terminate();
      this.failAll(tinychatError(DISPOSED, "Error", "disposed"));
    }
  }
}

const isGguf = (url) => /\.gguf$/i.test(new URL(url).pathname);

/// The bundle (its pipeline.json) and the `.gguf` chat model that replaces its own, if any:
/// { pipeline, model } or { pipeline: "x.gguf", moderator: "bundle/pipeline.json" } (the same).
function resolveModel(options, base) {
  const abs = (u) => new URL(String(u), base).href;
  const pipeline = abs(options.pipeline);
  let model = options.model ? abs(options.model) : undefined;
  if (model && !isGguf(model)) {
    throw invalid(`model must be the URL of a .gguf file (a bundle goes in pipeline): ${model}`);
  }
  if (!isGguf(pipeline)) {
    if (options.moderator) throw invalid("moderator is for a pipeline that is a .gguf file; a bundle names its own moderator");
    return { pipeline, model };
  }
  // A .gguf holds a chat model but no moderator: tinychat moderates every reply, so the bundle
  // whose moderator (thresholds, templates, settings) to use must be named.
  if (model) throw invalid("give the .gguf either as pipeline (with moderator) or as model, not both");
  if (!options.moderator) {
    throw invalid(
      `${pipeline} is a GGUF chat model, which has no moderator: name the bundle whose moderator to use, ` +
        `createEngine({ pipeline: "<bundle>/pipeline.json", model: "${pipeline}" }) or { pipeline: "${pipeline}", moderator: "<bundle>/pipeline.json" }`,
    );
  }
  const bundle = abs(options.moderator);
  if (isGguf(bundle)) throw invalid(`moderator must be a bundle's pipeline.json, not a .gguf: ${bundle}`);
  return { pipeline: bundle, model: pipeline };
}

/// Creates an engine for the pipeline bundle whose pipeline.json is at `options.pipeline`
/// (optionally with a `.gguf` chat model: `options.model`).
export async function createEngine(options = {}) {
  if (!options || typeof options !== "object") throw invalid("createEngine needs an options object");
  if (!options.pipeline) {
    throw invalid('createEngine needs { pipeline: "<URL of the bundle\'s pipeline.json>" }');
  }
  // The backend name is checked by the engine (Rust), before anything is downloaded.
  const backend = options.backend ?? "auto";
  const base = globalThis.document?.baseURI ?? globalThis.location?.href;
  const { pipeline, model } = resolveModel(options, base);
  const wasmUrl = options.wasmUrl ? new URL(String(options.wasmUrl), base).href : undefined;
  const startOptions = {
    pipeline,
    model,
    backend,
    cache: options.cache ?? true,
    cacheName: options.cacheName ?? DEFAULT_CACHE,
    wasmUrl,
    threads: options.threads,
    workerUrl: options.workerUrl ? new URL(String(options.workerUrl), base).href : undefined,
  };
  const onProgress = (p) => {
    try {
      options.onProgress?.(p);
    } catch {
      // the page's callback must not break loading
    }
  };
  let core;
  if (options.worker === false) {
    const { LocalCore } = await import("./core.js");
    core = await LocalCore.start({ ...startOptions, onProgress, signal: options.signal });
  } else {
    core = await WorkerCore.start(startOptions, onProgress, options.signal);
  }
  return new TinychatEngine(core, core.info, core.contract, options.worker !== false);
}

function modelName(info) {
  if (info.model) return `tinychat/${new URL(info.model).pathname.split("/").pop()}`;
  const parts = new URL(info.pipeline).pathname.split("/").filter(Boolean);
  return parts.length >= 2 ? `tinychat/${parts[parts.length - 2]}` : "tinychat";
}

/// Accepts OpenAI's message shapes: content as a string or an array of { type: "text", text }.
function normalizeMessages(messages) {
  if (!Array.isArray(messages)) throw invalid("messages must be an array of { role, content }");
  return messages.map((m, i) => {
    if (!m || typeof m !== "object") throw invalid(`messages[${i}] must be an object { role, content }`);
    let content = m.content;
    if (Array.isArray(content)) {
      content = content
        .map((part) => {
          if (part?.type !== "text") {
            throw invalid(`messages[${i}]: only text content parts are supported, not ${JSON.stringify(part?.type)}`);
          }
          return part.text;
        })
        .join("");
    }
    if (typeof m.role !== "string" || typeof content !== "string") {
      throw invalid(`messages[${i}] must have a string role and string content`);
    }
    return { role: m.role, content };
  });
}

/// The sampling options in `request` (keys: the engine's contract, from Rust), set ones only.
function samplingOptions(request, keys) {
  const out = {};
  for (const k of keys) if (request[k] !== undefined && request[k] !== null) out[k] = request[k];
  return out;
}

class TinychatEngine {
  constructor(core, info, contract, inWorker) {
    this._core = core;
    /// The lists the engine takes from Rust: { backends, sampling_keys, error_codes }.
    this.contract = contract;
    this._queue = Promise.resolve();
    this._disposed = false;
    /// Facts about the loaded bundle and engine (backend, backend_reason, shapes, thresholds...).
    this.info = info;
    this.inWorker = inWorker;
    const engine = this;
    this.chat = {
      completions: {
        create: (request) => engine._create(request),
      },
    };
  }

  /// "webgpu" or "cpu".
  get backend() {
    return this.info.backend;
  }
  /// Why that backend runs (the adapter, or why WebGPU was not used).
  get backendReason() {
    return this.info.backend_reason;
  }
  /// The technical detail behind backendReason (the adapter, or the error that ruled WebGPU out).
  get backendDetail() {
    return this.info.backend_detail;
  }
  get disposed() {
    return this._disposed;
  }

  _check() {
    if (this._disposed) throw tinychatError(DISPOSED, "Error", "disposed");
  }

  /// Answers `messages` through the pipeline; resolves to the Reply with its moderation trace.
  /// options: temperature, top_p, top_k, max_tokens, seed, repetition_penalty, onChunk, signal.
  async reply(messages, options = {}) {
    this._check();
    const msgs = normalizeMessages(messages);
    // Everything but the callbacks goes to the engine, which refuses unknown keys (a typo).
    const { onChunk, signal, ...sampling } = options ?? {};
    const run = async () => {
      this._check();
      if (signal?.aborted) throw abortError();
      const onAbort = () => this._core.cancel();
      signal?.addEventListener("abort", onAbort);
      try {
        return await this._core.reply(msgs, sampling, (c) => {
          try {
            onChunk?.(c);
          } catch (e) {
            console.error("tinychat: onChunk threw", e);
          }
        });
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    };
    // One reply at a time on an engine: later calls wait their turn.
    const result = this._queue.then(run, run);
    this._queue = result.catch(() => {});
    return result;
  }

  /// Streams a reply: an async iterator of chunks ({ type: "text", text } or { type: "template",
  /// text, stage, verdict }); `.reply` resolves to the whole Reply. Leaving the loop early
  /// cancels the generation.
  replyStream(messages, options = {}) {
    const queue = [];
    let wake = null;
    let finished = false;
    let failure = null;
    let stoppedByCaller = false;
    const controller = new AbortController();
    if (options.signal) {
      if (options.signal.aborted) controller.abort();
      else options.signal.addEventListener("abort", () => controller.abort(), { once: true });
    }
    const reply = this.reply(messages, {
      ...options,
      signal: controller.signal,
      onChunk: (c) => {
        queue.push(c);
        wake?.();
      },
    });
    reply.then(
      () => {
        finished = true;
        wake?.();
      },
      (e) => {
        finished = true;
        if (!stoppedByCaller) failure = e;
        wake?.();
      },
    );
    reply.catch(() => {}); // errors surface through the iterator or `.reply`
    const iterator = {
      async next() {
        for (;;) {
          if (queue.length) return { value: queue.shift(), done: false };
          if (failure) throw failure;
          if (finished) return { value: undefined, done: true };
          await new Promise((r) => (wake = r));
          wake = null;
        }
      },
      async return() {
        if (!finished) {
          stoppedByCaller = true;
          controller.abort();
        }
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    iterator.reply = reply;
    return iterator;
  }

  /// Moderates `text`: { flagged, categories: [{ category, score, threshold, flagged, implied_by? }] }
  /// (implied_by: the flagged sub-category that flagged this parent category).
  async moderate(text) {
    this._check();
    if (typeof text !== "string") throw invalid("moderate(text) needs a string");
    return this._core.moderate(text);
  }

  /// Frees the engine: the worker, the weights and the GPU device. Later calls throw.
  async dispose() {
    if (this._disposed) return;
    this._disposed = true;
    this._core.cancel();
    await this._core.dispose();
  }

  // ---- OpenAI-compatible chat completions -------------------------------------------------

  async _create(request) {
    this._check();
    if (!request || typeof request !== "object") throw invalid("create() needs a request object");
    const unsupported = [];
    if (request.n !== undefined && request.n !== 1) unsupported.push("n (only 1 choice)");
    for (const k of ["tools", "tool_choice", "functions", "function_call", "logit_bias"]) {
      if (request[k] !== undefined && request[k] !== null) unsupported.push(k);
    }
    if (request.logprobs) unsupported.push("logprobs");
    if (request.stop !== undefined && request.stop !== null && !(Array.isArray(request.stop) && !request.stop.length)) {
      unsupported.push("stop");
    }
    for (const k of ["frequency_penalty", "presence_penalty"]) {
      if (request[k]) unsupported.push(`${k} (use repetition_penalty)`);
    }
    if (request.response_format && request.response_format.type !== "text") unsupported.push("response_format");
    if (unsupported.length) {
      throw invalid(`chat.completions.create: not supported by tinychat: ${unsupported.join(", ")}`);
    }
    const options = {
      ...samplingOptions(request, this.contract.sampling_keys),
      max_tokens: request.max_tokens ?? request.max_completion_tokens ?? undefined,
      signal: request.signal,
    };
    if (options.max_tokens === undefined) delete options.max_tokens;
    const id = `chatcmpl-${randomId()}`;
    const created = Math.floor(Date.now() / 1000);
    const model = request.model ?? modelName(this.info);
    const base = { id, created, model, system_fingerprint: `tinychat-${this.backend}` };
    if (!request.stream) {
      const r = await this.reply(request.messages, options);
      return {
        ...base,
        object: "chat.completion",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: r.text, refusal: null },
            finish_reason: finishReason(r),
            logprobs: null,
          },
        ],
        usage: usage(r),
        moderation: trace(r),
      };
    }
    const stream = this.replyStream(request.messages, options);
    const chunk = (delta, extra = {}) => ({
      ...base,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, finish_reason: null, logprobs: null }],
      ...extra,
    });
    async function* generate() {
      yield chunk({ role: "assistant", content: "" });
      for await (const c of stream) {
        if (c.type === "text") yield chunk({ content: c.text });
        else {
          yield chunk(
            { content: c.text },
            {
              moderation: {
                type: "template",
                stage: c.stage,
                flagged: true,
                categories: c.verdict.categories.filter((x) => x.flagged).map((x) => x.category),
                verdict: c.verdict,
              },
            },
          );
        }
      }
      const r = await stream.reply;
      const last = chunk({}, { usage: usage(r), moderation: trace(r) });
      last.choices[0].finish_reason = finishReason(r);
      yield last;
    }
    const it = generate();
    const originalReturn = it.return.bind(it);
    it.return = async (v) => {
      await stream.return();
      return originalReturn(v);
    };
    // OpenAI's Stream also offers controller.abort(); tinychat's is the request's `signal`.
    return it;
  }
}

function finishReason(r) {
  if (r.source === "template") return "content_filter";
  return r.finish_reason ?? "stop";
}

function usage(r) {
  return {
    prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens,
    total_tokens: r.prompt_tokens + r.completion_tokens,
  };
}

/// The moderation trace in completions: both verdicts, the path taken, timings.
function trace(r) {
  return {
    input: r.input_verdict,
    output: r.output_verdict,
    source: r.source,
    route: r.route,
    template_category: r.template_category,
    timings: r.timings,
  };
}

function randomId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

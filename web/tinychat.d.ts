// Types of tinychat's browser API (tinychat.js). The field names of replies, verdicts and chunks
// are those of the Rust structs they come from (snake_case), as in OpenAI's JSON; a native test
// (tests/engine/dts.rs) serialises those structs and compares their keys with the interfaces
// here, so a renamed field fails `cargo test`.

/** Backend names (Rust: `Backend::BROWSER_NAMES`). */
export type Backend = "auto" | "webgpu" | "cpu";

/** The stable `code` of every Error tinychat rejects with (Rust: `ErrorCode`). Branch on it,
 * not on message text. */
export type ErrorCode =
  /** A bad value in a call: an option, the messages, a backend name. */
  | "invalid_argument"
  /** The conversation's last message does not fit the model's context by itself. */
  | "prompt_too_long"
  /** WebGPU was asked for but cannot run the model. */
  | "gpu_unavailable"
  /** A file of the bundle is missing, corrupt, or not what pipeline.json says. */
  | "bad_bundle_file"
  /** A file could not be downloaded (HTTP error, offline, cut short). */
  | "network"
  /** Stopped before it finished: an AbortSignal, or dispose() during the call (name "AbortError"). */
  | "aborted"
  /** A call after dispose(). */
  | "disposed"
  /** The engine is busy with another reply (the low-level wasm API; the package queues). */
  | "busy"
  /** Anything else: a bug. */
  | "internal";

/** What every rejected promise of tinychat carries. */
export interface TinychatError extends Error {
  code: ErrorCode;
}

/** The lists the engine takes from Rust (`engine.contract`). */
export interface Contract {
  backends: Backend[];
  sampling_keys: Array<keyof SamplingOptions>;
  error_codes: ErrorCode[];
}

export interface ChatMessage {
  role: "system" | "user" | "assistant" | (string & {});
  /** A string, or OpenAI's text parts (joined). */
  content: string | Array<{ type: "text"; text: string }>;
}

/** Sampling settings of one reply; unset ones take the bundle's defaults (pipeline.json). */
export interface SamplingOptions {
  /** 0 is greedy decoding. */
  temperature?: number;
  top_p?: number;
  /** 0 keeps every token. */
  top_k?: number;
  /** The most new tokens (OpenAI's name; `max_new_tokens` is accepted too). */
  max_tokens?: number;
  max_new_tokens?: number;
  seed?: number;
  /** > 1 discourages repeating tokens (transformers' rule). */
  repetition_penalty?: number;
}

export interface ReplyOptions extends SamplingOptions {
  /** Called with each chunk as it passes output moderation. */
  onChunk?: (chunk: Chunk) => void;
  /** Aborting stops generation after the current token; the reply rejects with an AbortError. */
  signal?: AbortSignal;
}

export interface CategoryScore {
  category: string;
  /** Sigmoid probability in [0, 1]. */
  score: number;
  threshold: number;
  /** Score ≥ threshold, or a flagged sub-category implies this category (see implied_by). */
  flagged: boolean;
  /** The flagged sub-category that flagged this one when its own score is under the threshold
   * ("illicit/violent" flags "illicit" and "violence"; a sub-category flags its parent). */
  implied_by?: string;
}

/** One moderation check: a flag and a score for every category. */
export interface Verdict {
  flagged: boolean;
  categories: CategoryScore[];
}

export type Stage = "input" | "output";

/** What a reply streams, in order. */
export type Chunk =
  /** Model text that has passed output moderation. */
  | { type: "text"; text: string }
  /** A template answer: the prompt (stage "input") or the model's output (stage "output") was
   * flagged. After text chunks, the model's answer was cut off there and replaced. */
  | { type: "template"; text: string; stage: Stage; verdict: Verdict };

export interface Timings {
  input_moderation_ms: number;
  /** Chat model time, prefill and decode (output moderation excluded). */
  generation_ms: number;
  /** Of generation_ms, reading the prompt: the time to the first new token. */
  prefill_ms: number;
  output_moderation_ms: number;
  total_ms: number;
}

/** The answer with its whole trace. */
export interface Reply {
  text: string;
  source: "model" | "template";
  route: "model" | "input_flagged" | "output_flagged";
  input_verdict: Verdict;
  /** null when the model never ran (the prompt was flagged). */
  output_verdict: Verdict | null;
  /** The category whose template answered, if one did. */
  template_category: string | null;
  prompt_tokens: number;
  /** The oldest turns left out so the conversation fits the model's context (0: none). */
  dropped_turns: number;
  completion_tokens: number;
  finish_reason: "stop" | "length" | null;
  timings: Timings;
}

export interface Progress {
  phase: "wasm" | "download" | "cache" | "init" | "ready";
  text: string;
  /** 0..1 over the bundle's bytes. */
  progress: number;
  file?: string;
  loaded?: number;
  total?: number;
  fromCache?: boolean;
}

export interface CreateEngineOptions {
  /** URL of the bundle's pipeline.json (relative to the page), or of a `.gguf` chat model: then
   * `moderator` names the bundle whose moderator to use. */
  pipeline: string | URL;
  /** URL of a `.gguf` chat model that replaces the bundle's own (its moderator, thresholds,
   * templates and settings stay). */
  model?: string | URL;
  /** When `pipeline` is a `.gguf`: the URL of the bundle (its pipeline.json) whose moderator,
   * thresholds, templates and settings apply. A `.gguf` has no moderator, and tinychat
   * moderates every reply, so this is required there (and refused otherwise). */
  moderator?: string | URL;
  /** Default "auto": WebGPU when the browser has an adapter, else the CPU. */
  backend?: Backend;
  onProgress?: (progress: Progress) => void;
  /** Default true: run in a dedicated Web Worker. false runs in the calling thread. */
  worker?: boolean;
  /** Default true: keep model files in Cache Storage and read them from there next time. */
  cache?: boolean;
  /** Default "tinychat-models-v1". */
  cacheName?: string;
  /** Where tinychat_wasm_bg.wasm (the single-threaded build) is served, if not beside tinychat.js. */
  wasmUrl?: string | URL;
  /** Threads of the CPU engine (1 to 256). Default: the cores the browser reports, at most 8,
   * where the page is cross-origin isolated (COOP same-origin + COEP require-corp) and the engine
   * runs in its worker: then the threaded build (tinychat_wasm_mt.js, beside tinychat.js) loads.
   * Elsewhere, or with 1, the single-threaded build; `EngineInfo.cpu_threads_reason` says why. */
  threads?: number;
  /** Where worker.js is served, if not beside tinychat.js. */
  workerUrl?: string | URL;
  /** Aborts loading (the downloads in flight); createEngine rejects with an AbortError. */
  signal?: AbortSignal;
}

export interface EngineInfo {
  backend: "webgpu" | "cpu";
  /** Why that backend, in plain words. */
  backend_reason: string;
  /** The technical detail: the adapter and weight format, or the error that ruled WebGPU out. */
  backend_detail: string;
  /** Where the moderation classifier ran when the engine was created: with the chat model, on its GPU device when it has one. */
  moderator_backend: "webgpu" | "cpu";
  /** Threads the CPU engine (chat model on the CPU, or the moderator) uses. */
  cpu_threads: number;
  /** Why that many, in plain words (e.g. the page is not cross-origin isolated). */
  cpu_threads_reason: string;
  /** The chat model's path in the bundle (a directory or a .gguf file). */
  chat_model_path: string;
  /** The chat model's config.json. */
  chat_model: Record<string, unknown>;
  /** How the weights are stored ("f16", "q4_1", ...). */
  chat_weights: string;
  moderator_labels: string[];
  thresholds: Array<[string, number]>;
  /** Positions the chat engine holds (pipeline.json `context`, at most the model's). */
  context: number;
  sampling: Record<string, unknown>;
  /** Added by the loader: every file came from Cache Storage. */
  from_cache: boolean;
  bundle_bytes: number;
  load_ms: number;
  /** The bundle's pipeline.json URL. */
  pipeline: string;
  /** The `.gguf` that replaced the bundle's chat model, or null. */
  model: string | null;
}

/** An async iterator of chunks; `reply` resolves when the reply is complete. */
export interface ReplyStream extends AsyncIterableIterator<Chunk> {
  reply: Promise<Reply>;
}

// ---- OpenAI-compatible chat completions -----------------------------------------------------

export interface ChatCompletionRequest extends SamplingOptions {
  messages: ChatMessage[];
  model?: string;
  stream?: boolean;
  max_completion_tokens?: number;
  n?: 1;
  stream_options?: { include_usage?: boolean };
  user?: string;
  /** tinychat's way to abort a request. */
  signal?: AbortSignal;
}

/** The moderation trace tinychat adds to completions. */
export interface ModerationTrace {
  input: Verdict;
  output: Verdict | null;
  source: Reply["source"];
  route: Reply["route"];
  template_category: string | null;
  timings: Timings;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type FinishReason = "stop" | "length" | "content_filter";

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: 0;
    message: { role: "assistant"; content: string; refusal: null };
    finish_reason: FinishReason;
    logprobs: null;
  }>;
  usage: CompletionUsage;
  moderation: ModerationTrace;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: 0;
    delta: { role?: "assistant"; content?: string };
    finish_reason: FinishReason | null;
    logprobs: null;
  }>;
  /** On a chunk that carries a template answer. */
  moderation?: { type: "template"; stage: Stage; flagged: true; categories: string[]; verdict: Verdict } | ModerationTrace;
  /** On the last chunk. */
  usage?: CompletionUsage;
}

export interface Completions {
  create(request: ChatCompletionRequest & { stream: true }): Promise<AsyncIterableIterator<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterableIterator<ChatCompletionChunk>>;
}

export interface TinychatEngine {
  readonly backend: "webgpu" | "cpu";
  readonly backendReason: string;
  readonly backendDetail: string;
  readonly contract: Contract;
  readonly info: EngineInfo;
  readonly disposed: boolean;
  readonly inWorker: boolean;
  /** Answers through the whole pipeline; one reply at a time (later calls wait their turn). */
  reply(messages: ChatMessage[], options?: ReplyOptions): Promise<Reply>;
  /** The same, streamed: `for await (const chunk of engine.replyStream(messages))`. */
  replyStream(messages: ChatMessage[], options?: ReplyOptions): ReplyStream;
  chat: { completions: Completions };
  moderate(text: string): Promise<Verdict>;
  /** Frees the worker, the weights and the GPU device; later calls throw. */
  dispose(): Promise<void>;
}

export function createEngine(options: CreateEngineOptions): Promise<TinychatEngine>;

export interface CachedModel {
  pipeline: string;
  files: string[];
  bytes: number;
  cachedAt: string;
}

export const DEFAULT_CACHE: string;
export function listCachedModels(options?: { cacheName?: string }): Promise<CachedModel[]>;
export function deleteCachedModel(pipelineUrl: string | URL, options?: { cacheName?: string }): Promise<boolean>;
export function clearCache(options?: { cacheName?: string }): Promise<boolean>;

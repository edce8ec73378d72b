// The engine where it runs (a Web Worker by default, or the page itself): loads the wasm module,
// fetches a pipeline bundle with download progress and Cache Storage, and wraps the wasm Engine.
// Used by worker.js and, with { worker: false }, by tinychat.js directly.

import initSingle, * as single from "./tinychat_wasm.js";

export const DEFAULT_CACHE = "tinychat-models-v1";
/// Cache key of a bundle's list of cached files, beside its pipeline.json (never fetched).
const MANIFEST = ".tinychat-manifest.json";

/// An Error with tinychat's message prefix and a stable `code` (the Rust side lists every code:
/// contract().error_codes; tinychat.d.ts `ErrorCode`).
export function tinychatError(message, name = "Error", code = "internal") {
  const e = new Error(message.startsWith("tinychat: ") ? message : `tinychat: ${message}`);
  e.name = name;
  e.code = code;
  return e;
}

let wasmReady = null;
/// The wasm module in use (its Engine, bundleFiles, checkBackend, contract) once `initWasm` has
/// resolved: the threaded build or the single-threaded one.
let wasm = null;
/// { threads, reason }: the CPU engine's threads in this thread's module, and why that many.
let threading = { threads: 1, reason: "the WebAssembly module is not loaded yet" };

/// Most threads by default (decode streams the weights from memory; more cores stop helping).
const DEFAULT_MAX_THREADS = 8;
/// The threaded build (`wasm-threads`), beside this file. Names in variables: bundlers leave the
/// import alone, and a bundle without these files runs on one thread.
const THREADED_JS = "./tinychat_wasm_mt.js";
const THREADED_WASM = "./tinychat_wasm_mt_bg.wasm";
/// How long the threaded build's workers may take to start.
const POOL_TIMEOUT_MS = 20_000;

/// The `threads` option: absent, or an integer from 1 to 256.
function checkThreads(asked) {
  if (asked !== undefined && asked !== null && !(Number.isInteger(asked) && asked >= 1 && asked <= 256)) {
    throw tinychatError(`threads must be an integer from 1 to 256, got ${JSON.stringify(asked)}`, "Error", "invalid_argument");
  }
}

/// How many threads the CPU engine may use here (`asked`: the `threads` option), and why.
function threadPlan(asked) {
  if (asked === 1) return { threads: 1, reason: "one thread: the threads option asked for 1" };
  if (!globalThis.crossOriginIsolated || typeof SharedArrayBuffer === "undefined") {
    return {
      threads: 1,
      reason:
        "one thread: the page is not cross-origin isolated, so WebAssembly cannot share memory between threads " +
        "(serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)",
    };
  }
  if (typeof WorkerGlobalScope === "undefined") {
    return { threads: 1, reason: "one thread: the engine runs on the page's main thread (worker: false), which may not wait for other threads" };
  }
  const cores = Number(globalThis.navigator?.hardwareConcurrency) || 1;
  const threads = asked ?? Math.min(cores, DEFAULT_MAX_THREADS);
  if (threads < 2) return { threads: 1, reason: "one thread: the browser reports one core" };
  return { threads, reason: `${threads} threads (the threaded build, on a cross-origin isolated page; ${cores} cores reported)` };
}

/// Instantiates the wasm module once per thread: the threaded build where `threadPlan` allows it
/// (falling back to the single-threaded one, with the reason, if it does not start), else the
/// single-threaded build. `wasmUrl` overrides where the single-threaded module is fetched from.
/// The first call in a thread decides; a worker holds one engine.
export function initWasm(wasmUrl, threads) {
  try {
    checkThreads(threads);
  } catch (e) {
    return Promise.reject(e);
  }
  if (!wasmReady) {
    let plan = threadPlan(threads);
    wasmReady = (async () => {
      if (plan.threads > 1) {
        try {
          const mt = await import(/* @vite-ignore */ new URL(THREADED_JS, import.meta.url).href);
          await mt.default({ module_or_path: new URL(THREADED_WASM, import.meta.url) });
          // A worker that never loads (a Content-Security-Policy without blob: workers, say) would
          // leave the pool waiting forever: past POOL_TIMEOUT_MS, one thread instead.
          let timer;
          const timeout = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`its ${plan.threads} workers did not start within ${POOL_TIMEOUT_MS / 1000} s`)), POOL_TIMEOUT_MS);
          });
          await Promise.race([mt.initThreadPool(plan.threads), timeout]).finally(() => clearTimeout(timer));
          wasm = mt;
          threading = plan;
          return;
        } catch (e) {
          plan = { threads: 1, reason: `one thread: the threaded build did not start (${e?.message ?? e})` };
        }
      }
      const url = wasmUrl ?? new URL("./tinychat_wasm_bg.wasm", import.meta.url);
      try {
        await initSingle({ module_or_path: url });
      } catch (e) {
        throw tinychatError(`could not load the WebAssembly module from ${url}: ${e.message ?? e}`, "Error", "network");
      }
      wasm = single;
      threading = plan;
    })().catch((e) => {
      wasmReady = null;
      throw e;
    });
  }
  return wasmReady;
}

async function openCache(cacheName) {
  if (typeof caches === "undefined") return null; // not a secure context, or no Cache Storage
  try {
    return await caches.open(cacheName);
  } catch {
    return null;
  }
}

/// Reads a response body, reporting bytes as they arrive. Fails when the body ends before its
/// Content-Length (an aborted or cut-off download) so that a partial file is never used or cached.
async function readBody(response, url, onBytes) {
  const declared = Number(response.headers.get("content-length"));
  // With a content-encoding, Content-Length counts compressed bytes: only the body is checkable.
  const expected =
    Number.isFinite(declared) && declared > 0 && !response.headers.get("content-encoding")
      ? declared
      : null;
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(await response.arrayBuffer());
  const parts = [];
  let got = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      got += value.length;
      onBytes(got);
    }
  } catch (e) {
    if (e?.name === "AbortError") throw tinychatError(`loading was aborted (${url})`, "AbortError", "aborted");
    throw tinychatError(
      `the download of ${url} failed after ${got}${expected ? ` of ${expected}` : ""} bytes: ${e.message ?? e}`,
      "Error",
      "network",
    );
  }
  if (expected !== null && got !== expected) {
    throw tinychatError(
      `the download of ${url} was cut short: got ${got} of ${expected} bytes; check the connection and try again`,
      "Error",
      "network",
    );
  }
  const out = new Uint8Array(got);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/// The URL of `path` (a path pipeline.json or a fetched config.json names, already checked by the
/// wasm module's `bundleFiles`) inside the bundle whose pipeline.json is at `base`: resolved
/// first, then required to lie under the bundle's directory (same origin, path prefix). `new URL`
/// undoes what a string check cannot see (`..\\x`, `%2e%2e/x`, tabs and newlines dropped,
/// `\\\\host`), so the check is made on what will be fetched. Throws a tinychat error naming the path.
export function resolveInBundle(path, base) {
  let dir;
  let url;
  try {
    dir = new URL("./", new URL(base));
    url = new URL(path, dir);
  } catch {
    throw tinychatError(
      `the bundle names ${JSON.stringify(path)}, which is not a path inside the bundle ${base}`,
      "Error",
      "bad_bundle_file",
    );
  }
  const tail = url.pathname.slice(dir.pathname.length);
  const inside =
    typeof path === "string" &&
    url.origin === dir.origin &&
    url.protocol === dir.protocol &&
    url.username === "" &&
    url.password === "" &&
    url.search === "" &&
    url.hash === "" &&
    url.pathname.startsWith(dir.pathname) &&
    tail.length > 0 &&
    // An encoded slash or backslash is a separator to some servers.
    !/%2f|%5c/i.test(tail);
  if (!inside) {
    throw tinychatError(
      `the bundle names ${JSON.stringify(path)}, which resolves to ${url.href}, outside the bundle ${dir.href}: a bundle's files must lie inside its directory`,
      "Error",
      "bad_bundle_file",
    );
  }
  return url.href;
}

async function fetchOk(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (e) {
    if (e?.name === "AbortError") throw tinychatError(`loading was aborted (${url})`, "AbortError", "aborted");
    throw tinychatError(`could not fetch ${url}: ${e.message ?? e} (offline, or blocked by CORS?)`, "Error", "network");
  }
  return response;
}

/// The name under which a `.gguf` given as `model` joins the bundle: its file name, with what
/// the bundle path policy refuses (bundle.rs `check_relative`) replaced.
function ggufName(modelUrl) {
  let name = new URL(modelUrl).pathname.split("/").pop() || "model.gguf";
  try {
    name = decodeURIComponent(name);
  } catch {
    // keep it encoded
  }
  // eslint-disable-next-line no-control-regex
  name = name.replace(/[\\:%?#\u0000-\u001f\u007f]/g, "_").trim();
  return /\.gguf$/i.test(name) ? name : `${name}.gguf`;
}

/// Fetches the files of the bundle whose pipeline.json is at `pipelineUrl`, from Cache Storage
/// when they are there, else from the network (then caches them). Returns { files, fromCache }:
/// path → Uint8Array, and whether every file came from the cache. With `model` (the absolute URL
/// of a `.gguf`), that file is the chat model instead of the one pipeline.json names.
export async function loadBundle(pipelineUrl, { onProgress = () => {}, cache = true, cacheName = DEFAULT_CACHE, signal, model } = {}) {
  if (!wasm) await initWasm(); // bundleFiles is the engine's own reader of pipeline.json
  let base;
  try {
    base = new URL(pipelineUrl);
  } catch {
    throw tinychatError(`${JSON.stringify(pipelineUrl)} is not a URL of a pipeline.json`, "Error", "invalid_argument");
  }
  const store = cache ? await openCache(cacheName) : null;
  const progress = (p) => {
    try {
      onProgress(p);
    } catch {
      // a throwing progress callback must not break loading
    }
  };

  // pipeline.json first: it names the other files.
  const manifestUrl = new URL(MANIFEST, base).href;
  const cachedPipeline = store ? await store.match(base.href) : undefined;
  let pipelineBytes;
  if (cachedPipeline) {
    pipelineBytes = new Uint8Array(await cachedPipeline.arrayBuffer());
  } else {
    const r = await fetchOk(base.href, signal);
    if (!r.ok) {
      throw tinychatError(
        `could not load the pipeline bundle: ${base.href} answered HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ""}`,
        "Error",
        "network",
      );
    }
    pipelineBytes = await readBody(r, base.href, () => {});
  }
  let pipelineText = new TextDecoder().decode(pipelineBytes);
  // A `.gguf` given as `model` replaces the bundle's chat model: pipeline.json names it instead,
  // and it is fetched from its own URL.
  const urls = new Map();
  let list;
  try {
    const cfg = JSON.parse(pipelineText);
    if (model) {
      cfg.chat_model = ggufName(model);
      urls.set(cfg.chat_model, model);
      pipelineText = JSON.stringify(cfg);
    }
    list = wasm.bundleFiles(pipelineText);
  } catch (e) {
    throw tinychatError(`${base.href} is not a valid pipeline.json: ${e.message ?? e}`, "Error", "bad_bundle_file");
  }

  // Optional files the bundle does not have, as recorded when it was cached: not asked for again
  // (so a cached bundle loads offline).
  let absent = [];
  const cachedManifest = store && cachedPipeline ? await store.match(manifestUrl) : undefined;
  if (cachedManifest) {
    try {
      absent = (await cachedManifest.json()).absent ?? [];
    } catch {
      // re-check every optional file
    }
  }

  const files = { "pipeline.json": model ? new TextEncoder().encode(pipelineText) : pipelineBytes };
  const loaded = new Map();
  const present = [];
  const missing = [];
  let total = 0;
  let allCached = Boolean(cachedPipeline);
  // Fetches the files of `list` not fetched yet; true if there were any. A moderation head names
  // its trunk in its config.json, so the list is asked for again with the configs fetched so far
  // until it stops growing (bundleFiles, src/bundle.rs).
  const fetchRound = async (list) => {
    const todo = list.filter((f) => !(f.path in files) && !missing.some((e) => e.path === f.path));
    if (!todo.length) return false;
    // Every URL of the round is checked before anything is fetched (a `.gguf` given as `model`
    // is the caller's own URL).
    const resolved = todo.map(({ path, required }) => ({
      path,
      required,
      url: urls.get(path) ?? resolveInBundle(path, base.href),
    }));
    // Open every file: cached responses, or requests whose headers tell the sizes.
    const entries = await Promise.all(
      resolved.map(async ({ path, required, url }) => {
        if (!required && absent.includes(path)) return { path, url, required, response: null };
        const hit = store ? await store.match(url) : undefined;
        if (hit) return { path, url, required, response: hit, fromCache: true };
        const response = await fetchOk(url, signal);
        if (!response.ok) {
          if (!required && response.status === 404) return { path, url, required, response: null };
          throw tinychatError(
            `could not load ${path} of the bundle: ${url} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`,
            "Error",
            "network",
          );
        }
        return { path, url, required, response, fromCache: false };
      }),
    );
    const round = entries.filter((e) => e.response);
    missing.push(...entries.filter((e) => !e.response));
    present.push(...round);
    const size = (e) => Number(e.response.headers.get("content-length")) || 0;
    total += round.reduce((s, e) => s + size(e), 0);
    allCached = allCached && round.every((e) => e.fromCache);
    const report = (e) => {
      const sum = [...loaded.values()].reduce((a, b) => a + b, 0);
      progress({
        phase: e.fromCache ? "cache" : "download",
        file: e.path,
        loaded: sum,
        total,
        progress: total ? Math.min(1, sum / total) : 0,
        fromCache: e.fromCache,
        text: `${e.fromCache ? "reading from cache" : "downloading"} ${e.path} (${mb(sum)} of ${mb(total)})`,
      });
    };
    await Promise.all(
      round.map(async (e) => {
        const bytes = await readBody(e.response, e.url, (n) => {
          loaded.set(e.path, n);
          report(e);
        });
        loaded.set(e.path, bytes.length);
        report(e);
        files[e.path] = bytes;
        if (store && !e.fromCache) {
          await store.put(e.url, new Response(bytes, { headers: cacheHeaders(e.response, bytes) }));
        }
      }),
    );
    return true;
  };
  while (await fetchRound(list)) {
    const configs = Object.fromEntries(Object.entries(files).filter(([p]) => p.endsWith("config.json")));
    try {
      list = wasm.bundleFiles(pipelineText, configs);
    } catch (e) {
      throw tinychatError(`${base.href}: ${e.message ?? e}`, "Error", "bad_bundle_file");
    }
  }
  if (store) {
    if (!cachedPipeline) {
      await store.put(base.href, new Response(pipelineBytes, { headers: { "content-type": "application/json" } }));
    }
    const manifest = {
      pipeline: base.href,
      files: [base.href, ...present.map((e) => e.url)],
      absent: missing.map((e) => e.path),
      bytes: total + pipelineBytes.length,
      cachedAt: new Date().toISOString(),
    };
    await store.put(manifestUrl, new Response(JSON.stringify(manifest), { headers: { "content-type": "application/json" } }));
  }
  return { files, fromCache: allCached, bytes: total + pipelineBytes.length };
}

function cacheHeaders(response, bytes) {
  return {
    "content-type": response.headers.get("content-type") ?? "application/octet-stream",
    "content-length": String(bytes.length),
  };
}

function mb(n) {
  return `${(n / 1e6).toFixed(n < 1e6 ? 2 : 1)} MB`;
}

/// The bundles in Cache Storage: [{ pipeline, files, bytes, cachedAt }].
export async function listCachedModels({ cacheName = DEFAULT_CACHE } = {}) {
  const store = await openCache(cacheName);
  if (!store) return [];
  const out = [];
  for (const req of await store.keys()) {
    if (!req.url.endsWith(`/${MANIFEST}`)) continue;
    const r = await store.match(req);
    try {
      out.push(await r.json());
    } catch {
      // a damaged manifest lists nothing
    }
  }
  return out;
}

/// Removes one bundle (by the URL of its pipeline.json) from Cache Storage; true if it was there.
export async function deleteCachedModel(pipelineUrl, { cacheName = DEFAULT_CACHE } = {}) {
  const store = await openCache(cacheName);
  if (!store) return false;
  const base = new URL(pipelineUrl, globalThis.location?.href);
  const manifestUrl = new URL(MANIFEST, base).href;
  const r = await store.match(manifestUrl);
  let urls = [base.href];
  if (r) {
    try {
      urls = (await r.json()).files ?? urls;
    } catch {
      // fall back to pipeline.json alone
    }
  }
  let any = false;
  for (const u of [...urls, manifestUrl]) any = (await store.delete(u)) || any;
  return any;
}

/// Deletes tinychat's whole model cache.
export async function clearCache({ cacheName = DEFAULT_CACHE } = {}) {
  if (typeof caches === "undefined") return false;
  return caches.delete(cacheName);
}

/// The engine in this thread.
export class LocalCore {
  /// options: { pipeline (absolute URL), model (absolute URL of a .gguf, optional), backend,
  /// cache, cacheName, onProgress, wasmUrl, threads, signal }
  static async start(options) {
    const onProgress = options.onProgress ?? (() => {});
    onProgress({ phase: "wasm", text: "loading the WebAssembly module", progress: 0 });
    await initWasm(options.wasmUrl, options.threads);
    // A bad backend name fails now, before any download (the Rust error, code invalid_argument).
    wasm.checkBackend(options.backend ?? "auto");
    const t0 = performance.now();
    const { files, fromCache, bytes } = await loadBundle(options.pipeline, options);
    onProgress({ phase: "init", text: "starting the engine", progress: 1, fromCache });
    let engine;
    try {
      engine = await wasm.Engine.create(files, options.backend ?? "auto");
    } catch (e) {
      // A bundle whose files do not load must not stay cached (a corrupt file); a backend that
      // is unavailable says nothing about the files.
      if (options.cache !== false && e.code === "bad_bundle_file") {
        await deleteCachedModel(options.pipeline, options).catch(() => {});
      }
      throw tinychatError(e.message ?? String(e), e.name, e.code);
    }
    const info = engine.info();
    const core = new LocalCore(engine);
    core.contract = wasm.contract();
    core.info = {
      ...info,
      cpu_threads_reason: threading.reason,
      from_cache: fromCache,
      bundle_bytes: bytes,
      load_ms: performance.now() - t0,
      pipeline: options.pipeline,
      model: options.model ?? null,
    };
    onProgress({ phase: "ready", text: `ready (${info.backend})`, progress: 1, fromCache });
    return core;
  }

  constructor(engine) {
    this.engine = engine;
  }

  async reply(messages, options, onChunk) {
    return this.engine.reply(messages, options ?? {}, onChunk);
  }

  cancel() {
    this.engine.cancel();
  }

  async moderate(text) {
    if (typeof text !== "string") throw tinychatError("moderate(text) needs a string", "Error", "invalid_argument");
    return this.engine.moderate(text);
  }

  async dispose() {
    this.engine.dispose();
  }
}

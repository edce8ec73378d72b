// The demo page. Every piece of model or user text goes into the page with textContent, never as
// HTML. URL parameters: ?model=smollm2|default (the picker), ?pipeline=<pipeline.json URL> (any
// other bundle), &backend=auto|webgpu|cpu, &worker=0, &sw=0 (no service worker).
//
// A bundle from this page's own origin loads at once. A bundle from anywhere else is loaded only
// after the user confirms it: a link could otherwise make the page download (and cache) a
// stranger's models, with moderation thresholds at 1.0 and templates of its choosing.
import { clearCache, createEngine, deleteCachedModel, listCachedModels } from "./pkg/tinychat.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

/// The models of the picker: bundles served beside this page.
const MODELS = {
  smollm2: {
    name: "SmolLM2-135M-Instruct",
    pipeline: "models/smollm2/pipeline.json",
    note: "Hugging Face's 135M-parameter chat model (Q4_1 GGUF, 98 MB download), with tinychat's moderator.",
  },
  default: {
    name: "tinychat tiny (trained here)",
    pipeline: "models/default/pipeline.json",
    note: "The 3M-parameter model `tinychat train all --preset tiny` trains (14 MB): it shows the recipe, it does not know facts.",
  },
};
const DEFAULT_MODEL = "smollm2";

const state = { engine: null, history: [], busy: false, controller: null, loadError: null, pipeline: null, loading: null };
// For tests and the console.
window.tinychatDemo = state;

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function mb(bytes) {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1);
}

function showError(e) {
  const box = $("error");
  box.hidden = false;
  box.textContent = e?.message ?? String(e);
  box.dataset.code = e?.code ?? "";
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy || !state.engine;
  $("prompt").disabled = !state.engine;
  $("stop").disabled = !busy;
}

// ---- which model ----------------------------------------------------------------------------

/// The bundle to open: ?pipeline= (any bundle), else the picker's model (?model=).
function chosenModel() {
  const custom = params.get("pipeline");
  if (custom) return { key: "custom", name: custom, pipeline: custom, note: "A bundle given by URL." };
  const key = MODELS[params.get("model")] ? params.get("model") : DEFAULT_MODEL;
  return { key, ...MODELS[key] };
}

function fillPicker(current) {
  const select = $("model");
  select.replaceChildren();
  for (const [key, m] of Object.entries(MODELS)) {
    const o = el("option", "", key === DEFAULT_MODEL ? `${m.name} (default)` : m.name);
    o.value = key;
    select.append(o);
  }
  if (current.key === "custom") {
    const o = el("option", "", `other: ${current.pipeline}`);
    o.value = "custom";
    select.append(o);
  }
  select.value = current.key;
  $("model-note").textContent = current.note;
}

function nameOf(pipelineUrl) {
  const abs = (u) => new URL(u, location.href).href;
  const hit = Object.values(MODELS).find((m) => abs(m.pipeline) === abs(pipelineUrl));
  return hit ? hit.name : pipelineUrl;
}

// ---- loading --------------------------------------------------------------------------------

function onProgress(p) {
  if (typeof p.progress === "number") $("progress").value = p.progress;
  let text = p.text ?? p.phase;
  if (p.phase === "download" || p.phase === "cache") {
    const verb = p.phase === "download" ? "Downloading" : "Reading from the cache";
    text = `${verb}: ${mb(p.loaded ?? 0)} of ${mb(p.total ?? 0)} MB (${p.file})`;
  }
  $("progress-text").textContent = text;
}

/// The bundle's absolute URL, after the user has confirmed it when it is from another origin;
/// null when they declined (the picker's default model is loaded instead).
async function confirmedPipeline(requested) {
  let url;
  try {
    url = new URL(requested, location.href);
  } catch {
    throw Object.assign(new Error(`tinychat: ${JSON.stringify(requested)} is not a URL of a pipeline.json`), { code: "invalid_argument" });
  }
  if (url.origin === location.origin) return url.href;
  if (!["https:", "http:"].includes(url.protocol)) {
    throw Object.assign(new Error(`tinychat: bundles load over http(s), not ${url.protocol} (${url.href})`), { code: "invalid_argument" });
  }
  const box = $("confirm-bundle");
  $("confirm-origin").textContent = url.origin;
  $("confirm-url").textContent = url.href;
  box.hidden = false;
  $("loading").dataset.state = "confirm";
  $("progress-text").textContent = "Waiting for you to confirm the bundle";
  const ok = await new Promise((resolve) => {
    $("confirm-load").onclick = () => resolve(true);
    $("confirm-cancel").onclick = () => resolve(false);
  });
  box.hidden = true;
  $("loading").dataset.state = "loading";
  return ok ? url.href : null;
}

/// The engine in plain words: which one runs, where, and why.
function engineText(engine, info) {
  const which = engine.backend === "webgpu" ? "WebGPU" : "CPU (WebAssembly)";
  const where = engine.inWorker ? ", in a Web Worker" : ", in the page's thread";
  const moderator = info.moderator_backend === "webgpu" ? "the moderator runs on WebGPU too" : "the moderator runs on the CPU";
  return `${which}${where}: ${engine.backendReason}; ${moderator}.`;
}

async function load(model, backend) {
  state.loading = model;
  state.pipeline = model.pipeline;
  clearError();
  fillPicker(model);
  $("backend").value = backend;
  $("pipeline-url").value = model.key === "custom" ? model.pipeline : "";
  $("model-name").textContent = model.name;
  $("engine").textContent = "Loading…";
  delete $("engine").dataset.backend;
  $("loading").classList.remove("done");
  $("loading").dataset.state = "loading";
  $("progress").value = 0;
  $("progress-text").textContent = "Starting…";
  $("model-info").replaceChildren();
  setBusy(false);
  $("confirm-bundle").hidden = true;
  try {
    let pipeline = model.pipeline;
    if (model.key === "custom") {
      pipeline = await confirmedPipeline(model.pipeline);
      if (state.loading !== model) return;
      if (pipeline === null) {
        // Declined: the picker's default model, and a URL that no longer names the bundle.
        await switchTo({ key: DEFAULT_MODEL, ...MODELS[DEFAULT_MODEL] }, backend);
        return;
      }
    }
    const engine = await createEngine({ pipeline, backend, onProgress, worker: params.get("worker") !== "0" });
    if (state.loading !== model) {
      engine.dispose(); // another model was picked meanwhile
      return;
    }
    state.engine = engine;
    const info = engine.info;
    $("loading").classList.add("done");
    $("loading").dataset.state = "ready";
    $("progress-text").textContent = `Model ready: ${mb(info.bundle_bytes)} MB ${
      info.from_cache ? "loaded from the cache" : "downloaded"
    } in ${(info.load_ms / 1000).toFixed(1)} s`;
    $("progress-text").dataset.fromCache = String(info.from_cache);
    $("model-name").textContent = `${model.name} — ${info.chat_model.model_type}, ${info.chat_weights} weights, context ${info.context} tokens`;
    $("engine").textContent = engineText(engine, info);
    $("engine").title = engine.backendDetail;
    $("engine").dataset.backend = engine.backend;
    $("engine").classList.toggle("gpu", engine.backend === "webgpu");
    showInfo(info);
    setBusy(false);
    $("prompt").focus();
  } catch (e) {
    if (state.loading !== model) return;
    state.loadError = e;
    $("loading").dataset.state = "error";
    $("progress-text").textContent = "Loading failed";
    $("engine").textContent = "No engine";
    showError(e);
    if (e.code === "network" && /HTTP 404/.test(e.message) && model.key !== "custom") {
      $("error").textContent +=
        model.key === "smollm2"
          ? "\n\nThe SmolLM2 bundle (web/models/smollm2/) is assembled by `make demo` (or `make web/models/smollm2`)."
          : "\n\nThe default bundle (web/models/default/) is made by `tinychat train all --preset tiny`.";
    }
  }
  refreshCacheList();
}

/// Opens another model in place: the running engine is freed and the conversation cleared.
async function switchTo(model, backend) {
  state.controller?.abort();
  const old = state.engine;
  state.engine = null;
  state.history = [];
  $("log").replaceChildren();
  setBusy(false);
  await old?.dispose().catch(() => {});
  const q = new URLSearchParams(location.search);
  if (model.key === "custom") {
    q.delete("model");
    q.set("pipeline", model.pipeline);
  } else {
    q.delete("pipeline");
    params.delete("pipeline");
    q.set("model", model.key);
  }
  q.set("backend", backend);
  history.replaceState(null, "", `?${q}`);
  await load(model, backend);
}

function showInfo(info) {
  const dl = $("model-info");
  dl.replaceChildren();
  const c = info.chat_model;
  const rows = [
    ["chat model", `${info.chat_model_path}: ${c.model_type}, ${c.num_hidden_layers} layers, dim ${c.hidden_size}, vocab ${c.vocab_size}, ${info.chat_weights}`],
    ["context", `${info.context} tokens`],
    ["engine detail", info.backend_detail || "–"],
    ["CPU threads", info.cpu_threads_reason ?? String(info.cpu_threads ?? 1)],
  ];
  for (const [k, v] of rows) {
    dl.append(el("dt", "", k), el("dd", "", v));
  }
  // The moderator's 13 categories and thresholds, folded.
  const more = el("details", "thresholds");
  more.append(el("summary", "", `${info.moderator_labels.length} categories and thresholds`));
  more.append(el("p", "", info.thresholds.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")));
  const dd = el("dd");
  dd.append(more);
  dl.append(el("dt", "", "moderator"), dd);
  const s = info.sampling ?? {};
  // f32 settings arrive as 0.800000011920929: show what was meant.
  const round = (x) => Number(Number(x).toFixed(4));
  $("temperature").value = round(s.temperature ?? 0.7);
  $("top_p").value = round(s.top_p ?? 1);
  $("max_tokens").value = s.max_new_tokens ?? 128;
  $("seed").value = s.seed ?? 0;
}

async function refreshCacheList() {
  const ul = $("cache-list");
  ul.replaceChildren();
  try {
    const models = await listCachedModels();
    if (!models.length) ul.append(el("li", "", "nothing cached"));
    for (const m of models) {
      const li = el("li");
      li.dataset.pipeline = m.pipeline;
      li.append(el("span", "", `${nameOf(m.pipeline)} — ${mb(m.bytes)} MB `));
      const del = el("button", "small", "Delete");
      del.type = "button";
      del.dataset.testid = "delete-cached";
      del.addEventListener("click", async () => {
        await deleteCachedModel(m.pipeline);
        await refreshCacheList();
        $("progress-text").textContent = `${nameOf(m.pipeline)} was deleted from the cache: it will be downloaded again next time.`;
      });
      li.append(del);
      ul.append(li);
    }
  } catch (e) {
    ul.append(el("li", "", `cache unavailable: ${e.message}`));
  }
}

// ---- chatting -------------------------------------------------------------------------------

function sampling() {
  const num = (id) => {
    const v = $(id).value;
    return v === "" ? undefined : Number(v);
  };
  return { temperature: num("temperature"), top_p: num("top_p"), max_tokens: num("max_tokens"), seed: num("seed") };
}

/// Keeps the newest message in view while the user has not scrolled up to read.
function follow(force = false) {
  const log = $("log");
  const scroller = log.scrollHeight > log.clientHeight + 1 ? log : document.scrollingElement;
  const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
  if (force || gap < 120) scroller.scrollTop = scroller.scrollHeight;
}

function addMessage(role, text) {
  const m = el("div", `msg ${role}`);
  m.dataset.role = role;
  m.append(el("div", "who", role === "user" ? "You" : "tinychat"));
  const body = el("div", "text", text);
  m.append(body);
  $("log").append(m);
  follow(true);
  return { m, body };
}

function fmt(x) {
  return x.toFixed(3);
}

/// "passed" or "flagged: violence 0.99, violence/graphic 0.91".
function verdictLine(verdict) {
  if (!verdict.flagged) return "passed";
  const flagged = verdict.categories.filter((c) => c.flagged).map((c) => `${c.category} ${fmt(c.score)}`);
  return `flagged: ${flagged.join(", ")}`;
}

function verdictTable(title, verdict) {
  const wrap = el("div", "verdict");
  wrap.dataset.testid = `${title}-verdict`;
  wrap.append(el("div", "", `${title} moderation: ${verdict.flagged ? "flagged" : "passed"}`));
  const table = el("table");
  const head = el("tr");
  head.append(el("th", "", "category"), el("th", "", "score"), el("th", "", "threshold"));
  table.append(head);
  for (const c of verdict.categories) {
    const tr = el("tr");
    tr.dataset.category = c.category;
    const mark = c.implied_by ? ` ⚑ (via ${c.implied_by})` : c.flagged ? " ⚑" : "";
    const score = el("td", c.flagged ? "flagged" : "", fmt(c.score) + mark);
    tr.append(el("td", "", c.category), score, el("td", "", fmt(c.threshold)));
    table.append(tr);
  }
  wrap.append(table);
  return wrap;
}

/// One line under the reply (what answered, both checks, speed); the score tables folded
/// behind it.
function showTrace(m, r, firstTextMs) {
  const t = el("div", "trace");
  t.dataset.testid = "trace";
  const badge = el(
    "span",
    `badge ${r.source}`,
    r.source === "model" ? "model answer" : `template answer: ${r.template_category ?? "flagged"}`,
  );
  badge.dataset.testid = "source";
  badge.dataset.source = r.source;
  badge.dataset.category = r.template_category ?? "";
  t.append(badge);
  const details = el("details", "verdicts");
  const summary = el("summary");
  summary.dataset.testid = "verdict-summary";
  const checks = [`input ${verdictLine(r.input_verdict)}`];
  if (r.output_verdict) checks.push(`output ${verdictLine(r.output_verdict)}`);
  summary.append(el("span", r.input_verdict.flagged || r.output_verdict?.flagged ? "flag" : "", `moderation: ${checks.join(" · ")}`));
  const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const stats = r.output_verdict
    ? ` · ${r.prompt_tokens} prompt + ${r.completion_tokens} tokens · ${
        r.completion_tokens && r.timings.generation_ms ? (r.completion_tokens / (r.timings.generation_ms / 1000)).toFixed(1) : "–"
      } tok/s${firstTextMs !== null ? ` · first text ${secs(firstTextMs)}` : ""} · ${secs(r.timings.total_ms)}`
    : ` · the model did not run · ${secs(r.timings.total_ms)}`;
  summary.append(el("span", "stats", stats));
  details.append(summary);
  details.append(verdictTable("input", r.input_verdict));
  if (r.output_verdict) details.append(verdictTable("output", r.output_verdict));
  t.append(details);
  m.append(t);
}

async function send(text) {
  if (!state.engine || state.busy) return;
  clearError();
  setBusy(true);
  addMessage("user", text);
  const { m, body } = addMessage("assistant", "");
  m.dataset.state = "streaming";
  body.classList.add("streaming");
  state.history.push({ role: "user", content: text });
  state.controller = new AbortController();
  let streamed = "";
  const t0 = performance.now();
  let firstTextMs = null;
  try {
    // A conversation that outgrows the model's context keeps going: the engine leaves out the
    // oldest turns (the reply says how many in dropped_turns).
    const stream = state.engine.replyStream(state.history, { ...sampling(), signal: state.controller.signal });
    for await (const chunk of stream) {
      firstTextMs ??= performance.now() - t0;
      if (chunk.type === "text") {
        streamed += chunk.text;
        body.textContent = streamed;
      } else {
        if (streamed) m.append(el("div", "cut", "The rest of this answer was stopped by output moderation."));
        const tpl = el("div", "template", chunk.text);
        tpl.dataset.testid = "template";
        m.append(tpl);
      }
      follow();
    }
    const r = await stream.reply;
    state.history.push({ role: "assistant", content: r.text });
    if (r.dropped_turns > 0) {
      const n = r.dropped_turns;
      m.append(el("div", "cut", `(Earlier messages were left out: the ${n === 1 ? "oldest turn no longer fits" : `${n} oldest turns no longer fit`} the model's context.)`));
    }
    m.dataset.state = "done";
    m.dataset.firstTextMs = String(Math.round(firstTextMs ?? 0));
    m.dataset.totalMs = String(Math.round(performance.now() - t0));
    showTrace(m, r, firstTextMs);
    follow();
  } catch (e) {
    m.dataset.state = e.name === "AbortError" ? "stopped" : "error";
    if (e.name === "AbortError") {
      m.append(el("div", "cut", "stopped"));
      state.history.push({ role: "assistant", content: streamed });
    } else {
      state.history.pop();
      showError(e);
    }
  } finally {
    body.classList.remove("streaming");
    state.controller = null;
    setBusy(false);
  }
}

$("composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("prompt").value;
  if (!text.trim()) return;
  $("prompt").value = "";
  send(text);
});
$("prompt").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) {
    ev.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", () => state.controller?.abort());
$("new-chat").addEventListener("click", () => {
  state.controller?.abort();
  state.history = [];
  $("log").replaceChildren();
});
$("clear-cache").addEventListener("click", async () => {
  await clearCache();
  await refreshCacheList();
  $("progress-text").textContent = "Cache cleared: models will be downloaded again on the next load.";
});
$("model-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const key = $("model").value;
  const model = key === "custom" ? chosenModel() : { key, ...MODELS[key] };
  switchTo(model, $("backend").value);
});
$("model").addEventListener("change", () => $("model-form").requestSubmit());
$("pipeline-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams({ pipeline: $("pipeline-url").value, backend: $("backend").value });
  location.search = q.toString();
});

// Offline after the first visit: the service worker caches the page and the package.
if ("serviceWorker" in navigator && params.get("sw") !== "0") {
  navigator.serviceWorker.register("sw.js").catch((e) => console.warn("tinychat demo: no service worker:", e.message));
}

load(chosenModel(), params.get("backend") ?? "auto");

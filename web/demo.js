// The demo page. Every piece of model or user text goes into the page with textContent, never as
// HTML. URL parameters: ?pipeline=<pipeline.json URL>&backend=auto|webgpu|cpu&worker=0
import { clearCache, createEngine, listCachedModels } from "./pkg/tinychat.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const pipelineUrl = params.get("pipeline") ?? "models/default/pipeline.json";
const backend = params.get("backend") ?? "auto";

const state = { engine: null, history: [], busy: false, controller: null, loadError: null };
// For tests and the console.
window.tinychatDemo = state;

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function showError(e) {
  const box = $("error");
  box.hidden = false;
  box.textContent = e?.message ?? String(e);
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

// ---- loading --------------------------------------------------------------------------------

function onProgress(p) {
  if (typeof p.progress === "number") $("progress").value = p.progress;
  $("progress-text").textContent = p.text ?? p.phase;
}

async function load() {
  $("pipeline-url").value = pipelineUrl;
  $("backend").value = backend;
  try {
    const engine = await createEngine({ pipeline: pipelineUrl, backend, onProgress, worker: params.get("worker") !== "0" });
    state.engine = engine;
    const info = engine.info;
    $("loading").classList.add("done");
    $("loading").dataset.state = "ready";
    $("progress-text").textContent = `Model ready: ${(info.bundle_bytes / 1e6).toFixed(2)} MB ${
      info.from_cache ? "loaded from cache" : "downloaded"
    } in ${(info.load_ms / 1000).toFixed(1)} s`;
    $("progress-text").dataset.fromCache = String(info.from_cache);
    const engineText = `Engine: ${engine.backend === "webgpu" ? "WebGPU" : "CPU (WebAssembly)"} — ${engine.backendReason}${
      engine.inWorker ? " — in a Web Worker" : ""
    }${info.moderator_backend === "webgpu" ? " — moderator on WebGPU too" : " — moderator on the CPU"}`;
    $("engine").textContent = engineText;
    $("engine").dataset.backend = engine.backend;
    $("engine").classList.toggle("gpu", engine.backend === "webgpu");
    showInfo(info);
    setBusy(false);
    $("prompt").focus();
  } catch (e) {
    state.loadError = e;
    $("loading").dataset.state = "error";
    $("progress-text").textContent = "Loading failed";
    $("engine").textContent = "No engine";
    showError(e);
    if (/HTTP 404/.test(e.message) && !params.get("pipeline")) {
      $("error").textContent +=
        "\n\nThe default bundle (web/models/default/) is made by `tinychat train all --preset tiny`. " +
        "Meanwhile, a random-weight test bundle: `cargo run --example web_test_bundle -- web/models/test`, " +
        "then open ?pipeline=models/test/pipeline.json";
    }
  }
  refreshCacheList();
}

function showInfo(info) {
  const dl = $("model-info");
  dl.replaceChildren();
  const c = info.chat_model;
  const rows = [
    ["chat model", `${c.model_type}, ${c.num_hidden_layers} layers, dim ${c.hidden_size}, vocab ${c.vocab_size}, ${info.chat_weights}`],
    ["context", `${info.context} tokens`],
    ["categories", info.moderator_labels.join(", ")],
    ["thresholds", info.thresholds.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")],
  ];
  for (const [k, v] of rows) {
    dl.append(el("dt", "", k), el("dd", "", v));
  }
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
    for (const m of models) ul.append(el("li", "", `${m.pipeline} — ${(m.bytes / 1e6).toFixed(2)} MB`));
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

function addMessage(role, text) {
  const m = el("div", `msg ${role}`);
  m.dataset.role = role;
  m.append(el("div", "who", role === "user" ? "You" : "tinychat"));
  const body = el("div", "text", text);
  m.append(body);
  $("log").append(m);
  m.scrollIntoView({ block: "end" });
  return { m, body };
}

function fmt(x) {
  return x.toFixed(3);
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

function showTrace(m, r) {
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
  const route = { model: "input passed, output passed", input_flagged: "input flagged", output_flagged: "output flagged" }[r.route];
  const tps = r.completion_tokens && r.timings.generation_ms ? (r.completion_tokens / (r.timings.generation_ms / 1000)).toFixed(1) : "–";
  t.append(
    el(
      "span",
      "",
      ` ${route} · ${r.prompt_tokens} prompt + ${r.completion_tokens} tokens · ${tps} tok/s · ${r.timings.total_ms.toFixed(0)} ms`,
    ),
  );
  t.append(verdictTable("input", r.input_verdict));
  if (r.output_verdict) t.append(verdictTable("output", r.output_verdict));
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
  try {
    // A conversation that outgrows the model's context keeps going: the engine leaves out the
    // oldest turns (the reply says how many in dropped_turns).
    const stream = state.engine.replyStream(state.history, { ...sampling(), signal: state.controller.signal });
    for await (const chunk of stream) {
      if (chunk.type === "text") {
        streamed += chunk.text;
        body.textContent = streamed;
      } else {
        if (streamed) m.append(el("div", "cut", "The rest of this answer was stopped by output moderation."));
        const tpl = el("div", "template", chunk.text);
        tpl.dataset.testid = "template";
        m.append(tpl);
      }
    }
    const r = await stream.reply;
    state.history.push({ role: "assistant", content: r.text });
    if (r.dropped_turns > 0) {
      const n = r.dropped_turns;
      m.append(el("div", "cut", `(Earlier messages were left out: the ${n === 1 ? "oldest turn no longer fits" : `${n} oldest turns no longer fit`} the model's context.)`));
    }
    m.dataset.state = "done";
    showTrace(m, r);
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
  $("progress-text").textContent = "Cache cleared: the model will be downloaded again on the next load.";
});
$("model-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams({ pipeline: $("pipeline-url").value, backend: $("backend").value });
  location.search = q.toString();
});

// Offline after the first visit: the service worker caches the page and the package.
if ("serviceWorker" in navigator && params.get("sw") !== "0") {
  navigator.serviceWorker.register("sw.js").catch((e) => console.warn("tinychat demo: no service worker:", e.message));
}

load();

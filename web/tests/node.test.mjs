// The wasm API (pkg/tinychat_wasm.js) in Node, which has no WebGPU: the "auto" fallback when
// navigator.gpu is missing, "webgpu" refused with a clear error, bundle files checked, one reply
// at a time, cancel and dispose mid-reply. Run by scripts/test-web.sh:
//
//   node --test web/tests/node.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const bundle = process.env.TINYCHAT_TEST_BUNDLE ?? path.join(root, "web/models/test");
const { initSync, Engine, bundleFiles, contract, checkBackend } = await import(path.join(root, "pkg/tinychat_wasm.js"));
const { resolveInBundle } = await import(path.join(root, "pkg/core.js"));
initSync({ module: readFileSync(path.join(root, "pkg/tinychat_wasm_bg.wasm")) });

const pipelineJson = readFileSync(path.join(bundle, "pipeline.json"), "utf8");

function files(overrides = {}) {
  const out = { "pipeline.json": pipelineJson };
  for (const { path: p } of bundleFiles(pipelineJson)) {
    const f = path.join(bundle, p);
    if (existsSync(f)) out[p] = new Uint8Array(readFileSync(f));
  }
  return { ...out, ...overrides };
}

const user = (content) => [{ role: "user", content }];
const quiet = async (fn) => {
  // The engine tells the console once why it runs on the CPU; keep the test output clean.
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
};

test("bundleFiles lists the files pipeline.json names, and refuses paths outside the bundle", () => {
  const list = bundleFiles(pipelineJson);
  assert.deepEqual(
    list.filter((f) => f.required).map((f) => f.path),
    [
      "chat/config.json",
      "chat/model.safetensors",
      "chat/tokenizer.json",
      "chat/tokenizer_config.json",
      "moderator/config.json",
      "moderator/model.safetensors",
    ],
  );
  assert.throws(() => bundleFiles('{"chat_model": "../x", "moderator": "m"}'), /must be a relative path inside the bundle/);
  assert.throws(() => bundleFiles("{not json"), /pipeline\.json: invalid JSON/);
  assert.throws(() => bundleFiles('{"chat_model": "c", "moderator": "m", "colour": 1}'), /unknown field `colour`/);
});

test("auto falls back to the CPU without navigator.gpu and says why; webgpu is refused", async () => {
  const e = await quiet(() => Engine.create(files(), "auto"));
  assert.equal(e.backend, "cpu");
  assert.equal(e.backendReason, "this browser has no WebGPU");
  assert.match(e.backendDetail, /navigator\.gpu is missing/);
  e.dispose();
  await assert.rejects(
    Engine.create(files(), "webgpu"),
    (err) =>
      err.code === "gpu_unavailable" &&
      /tinychat: WebGPU was requested but cannot run this model: GPU: this JavaScript environment has no WebGPU \(navigator\.gpu is missing\)\. Use backend "auto" or "cpu"/.test(err.message),
  );
  await assert.rejects(Engine.create(files(), "tpu"), (err) => err.code === "invalid_argument" && /unknown backend "tpu"/.test(err.message));
  assert.throws(() => checkBackend("tpu"), (err) => err.code === "invalid_argument");
  checkBackend("webgpu");
});

test("the contract lists backends, reply options and error codes; the JavaScript uses no other code", () => {
  const c = contract();
  assert.deepEqual(c.backends, ["auto", "webgpu", "cpu"]);
  assert.deepEqual(c.sampling_keys, ["temperature", "top_p", "top_k", "max_tokens", "max_new_tokens", "seed", "repetition_penalty"]);
  assert.ok(c.error_codes.includes("prompt_too_long") && c.error_codes.includes("network"));
  // Every code the JavaScript sets (tinychatError(..., code), invalid(...)) is one Rust lists.
  for (const f of ["tinychat.js", "core.js", "worker.js"]) {
    const src = readFileSync(path.join(root, "web", f), "utf8");
    const used = [...src.matchAll(/"(?:Error|AbortError)",\s*"([a-z_]+)"/g)].map((m) => m[1]);
    for (const code of used) assert.ok(c.error_codes.includes(code), `${f} uses the code ${code}, which Rust does not list`);
  }
});

test("missing and corrupt bundle files are named", async () => {
  await assert.rejects(
    Engine.create(files({ "chat/model.safetensors": undefined }), "cpu"),
    (err) => err.code === "bad_bundle_file" && /the bundle has no chat\/model\.safetensors \(it is required\)/.test(err.message),
  );
  await assert.rejects(
    Engine.create(files({ "moderator/config.json": new TextEncoder().encode("{") }), "cpu"),
    /moderator\/config\.json/,
  );
  await assert.rejects(Engine.create(files({ "chat/tokenizer.json": new Uint8Array([1, 2, 3]) }), "cpu"), /chat\/tokenizer\.json/);
  await assert.rejects(Engine.create("nope", "cpu"), /needs the bundle's files/);
});

test("replies, one at a time; cancel and dispose stop a running reply", async () => {
  const e = await Engine.create(files(), "cpu");
  const r = await e.reply(user("What is the capital of France?"), { max_tokens: 8, seed: 2 });
  assert.equal(r.source, "model");
  assert.equal(r.completion_tokens <= 8, true);
  assert.equal(r.input_verdict.categories.length, 6);

  const a = e.reply(user("hello"), { max_tokens: 200 });
  await assert.rejects(e.reply(user("hello again")), (err) => err.code === "busy" && /a reply is already running on this engine/.test(err.message));
  e.cancel();
  await assert.rejects(a, (err) => err.name === "AbortError" && err.code === "aborted" && /the reply was cancelled/.test(err.message));

  // Moderation stays available while a reply runs.
  const b = e.reply(user("hello"), { max_tokens: 200 });
  assert.equal((await e.moderate("you loser")).flagged, true);
  e.dispose();
  await assert.rejects(b, (err) => err.name === "AbortError" && /disposed while replying/.test(err.message));
  await assert.rejects(e.moderate("hi"), (err) => err.code === "disposed" && /this engine was disposed/.test(err.message));
  await assert.rejects(e.reply(user("hi")), /this engine was disposed/);
  assert.equal(e.disposed, true);
});

test("unknown options and bad messages are refused", async () => {
  const e = await Engine.create(files(), "cpu");
  await assert.rejects(
    e.reply(user("hi"), { temprature: 1 }),
    (err) => err.code === "invalid_argument" && /reply options: unknown field `temprature` \(known: temperature, top_p/.test(err.message),
  );
  await assert.rejects(e.reply(user("a ".repeat(600))), (err) => err.code === "prompt_too_long");
  await assert.rejects(e.reply([{ role: "user" }]), /messages must be an array of \{ role, content \}/);
  await assert.rejects(e.reply([]), /messages is empty/);
  await assert.rejects(e.reply(user("hi"), { top_p: 0 }), /top_p must be in \(0, 1\]/);
  const thrown = e.reply(user("hi"), { max_tokens: 100 }, () => {
    throw new Error("page bug");
  });
  await assert.rejects(thrown, /page bug/);
  e.dispose();
});

// Paths that leave a bundle once a URL parser has read them: backslashes become slashes, %2e is a
// dot, tabs and newlines vanish, leading spaces are trimmed, and \\host or \/host is another origin.
const ESCAPES = [
  "../x",
  "..\\..\\x",
  "%2e%2e/%2e%2e/x",
  ".%2e/x",
  ".\t./x",
  " ../x",
  "\n../x",
  "\\\\evil.example\\m",
  "\\/evil.example/m",
  "//evil.example/m",
  "https://evil.example/m",
  "/etc/passwd",
  "chat/..%2F..%2Fx",
  "chat?x=1",
];

test("bundle paths that leave the bundle are refused by the wasm module and by the URL check", () => {
  for (const p of ESCAPES) {
    const json = JSON.stringify({ chat_model: p, moderator: "moderator" });
    assert.throws(() => bundleFiles(json), /must be a relative path inside the bundle/, `bundleFiles accepted ${JSON.stringify(p)}`);
  }
  // The URL check in core.js stands on its own: it is made on what would be fetched.
  const base = "https://models.example/bundles/default/pipeline.json";
  for (const p of ESCAPES) {
    assert.throws(() => resolveInBundle(p, base), /tinychat: the bundle names .*(outside the bundle|not a path inside)/, `resolveInBundle accepted ${JSON.stringify(p)}`);
  }
  assert.equal(resolveInBundle("chat/config.json", base), "https://models.example/bundles/default/chat/config.json");
  assert.equal(resolveInBundle("./chat//model.safetensors", base), "https://models.example/bundles/default/chat//model.safetensors");
});

/// A moderation head's config.json naming its trunk (relative to the head's directory).
const headConfig = (trunk) =>
  JSON.stringify({ model_type: "tinychat_moderation_head", trunk, layers: 1, window: 8, hidden_size: 8, id2label: { 0: "violence" } });

test("a moderation head's trunk joins the file list once its config.json is known, and stays inside the bundle", () => {
  const pipeline = JSON.stringify({ chat_model: "chat", moderator: "moderator" });
  const known = (trunk) => ({ "moderator/config.json": new TextEncoder().encode(headConfig(trunk)) });
  const paths = (list) => list.map((f) => f.path);
  // On the chat model: nothing more to fetch. On another model inside the bundle: its files.
  assert.deepEqual(paths(bundleFiles(pipeline, known("../chat"))), paths(bundleFiles(pipeline)));
  assert.ok(paths(bundleFiles(pipeline, known("../trunk.gguf"))).includes("trunk.gguf"));
  assert.ok(paths(bundleFiles(pipeline, known("../models/t"))).includes("models/t/config.json"));
  // Every escape form, one level up from the head's directory (where the bundle's root is).
  for (const p of ESCAPES.map((e) => `../${e}`)) {
    assert.throws(
      () => bundleFiles(pipeline, known(p)),
      /moderator\/config\.json: .* must be a relative path inside the bundle/,
      `bundleFiles accepted the trunk ${JSON.stringify(p)}`,
    );
  }
});

test("loadBundle fetches a head's trunk from inside the bundle, and nothing outside it", async () => {
  const { loadBundle } = await import(path.join(root, "pkg/core.js"));
  const base = "https://models.example/b/";
  const load = async (trunk) => {
    const asked = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (url) => {
      url = String(url);
      asked.push(url);
      if (url === `${base}pipeline.json`) return new Response(JSON.stringify({ chat_model: "chat", moderator: "moderator" }));
      if (url === `${base}moderator/config.json`) return new Response(headConfig(trunk));
      return new Response("{}");
    };
    try {
      const result = await loadBundle(`${base}pipeline.json`, { cache: false }).catch((e) => e);
      return { result, asked };
    } finally {
      globalThis.fetch = realFetch;
    }
  };
  const ok = await load("../trunk.gguf");
  assert.ok(ok.result.files?.["trunk.gguf"], String(ok.result.message));
  assert.ok(ok.asked.every((u) => u.startsWith(base)), JSON.stringify(ok.asked));
  for (const trunk of ["../../x.gguf", "../..\\x.gguf", "../%2e%2e/x.gguf", "../.. /x.gguf", "../https://evil.example/x.gguf", "..//evil.example/x.gguf"]) {
    const { result, asked } = await load(trunk);
    assert.equal(result.code, "bad_bundle_file", `${trunk}: ${result.message}`);
    assert.match(result.message, /must be a relative path inside the bundle/);
    assert.ok(asked.every((u) => u.startsWith(base)), `${trunk}: ${JSON.stringify(asked)}`);
  }
});

/// The test bundle's files with pipeline.json (or another file) changed.
function withPipeline(edit) {
  const p = JSON.parse(pipelineJson);
  edit(p);
  return files({ "pipeline.json": new TextEncoder().encode(JSON.stringify(p)) });
}

const CATEGORIES = ["harassment", "hate", "self-harm", "sexual", "violence", "illicit"];
const everywhere = (template) => Object.fromEntries([...CATEGORIES, "default", "output"].map((k) => [k, template]));

test("a template override that cannot be bounded is refused when the bundle loads", async () => {
  // `---…1` overflowed the stack while the bundle loaded
  const deep = `{{ ${"-".repeat(20000)}1 }}`;
  await assert.rejects(
    Engine.create(withPipeline((p) => (p.templates = { violence: deep })), "cpu"),
    /tinychat: .*override for "violence": line 1: a tag with 20000 operators/,
  );
});

test("a template override that loops forever stops at its step limit, and the engine goes on", async () => {
  const looping = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
  // Thresholds of 0 flag every message, so the override answers.
  const e = await Engine.create(
    withPipeline((p) => {
      p.templates = everywhere(looping);
      p.thresholds = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
    }),
    "cpu",
  );
  const t0 = performance.now();
  await assert.rejects(e.reply(user("hello")), /more than 1000000 steps/);
  assert.ok(performance.now() - t0 < 20_000);
  assert.equal((await e.moderate("hello")).flagged, true, "the engine still works");
  e.dispose();
});

test("a hostile chat template is an error, not a trap of the wasm module", async () => {
  const tc = JSON.parse(readFileSync(path.join(bundle, "chat/tokenizer_config.json"), "utf8"));
  for (const [template, want] of [
    ["{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", /recursion/],
    ["{% set ns = namespace() %}{% set ns.x = ns %}{{ ns }}", /namespace attribute may hold/],
    ["{{ [1]*1000000000000 }}", /more than 100000 items/],
    ["{{ '%.999999999f'|format(1.0) }}", /width or precision/],
    [`{{ ${"not ".repeat(20000)}1 }}`, /operators/],
  ]) {
    const e = await Engine.create(
      files({ "chat/tokenizer_config.json": new TextEncoder().encode(JSON.stringify({ ...tc, chat_template: template })) }),
      "cpu",
    );
    await assert.rejects(e.reply(user("hello")), want);
    // The module did not trap: the same engine still moderates.
    assert.equal(typeof (await e.moderate("hello")).flagged, "boolean");
    e.dispose();
  }
});

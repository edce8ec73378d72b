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

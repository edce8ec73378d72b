// Browser tests of the demo page and the npm package, in Debian's Chromium driven by
// playwright-core. Run through scripts/test-web.sh, which builds pkg/ and the test bundle first:
//
//   node --test web/tests/browser.test.mjs
//
// Environment: TINYCHAT_TEST_BUNDLE (default web/models/test), TINYCHAT_WEB_MODES (default
// "webgpu,cpu"), CHROMIUM (default /usr/bin/chromium), TINYCHAT_WEB_OUT (screenshots; default
// web/tests/output), TINYCHAT_WEB_SLOW=0 (skips SmolLM2 on SwiftShader: minutes on 2 cores). The
// SmolLM2 tests need web/models/smollm2 (`make web/models/smollm2`, which
// scripts/test-web.sh runs).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "./serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const bundle = process.env.TINYCHAT_TEST_BUNDLE ?? path.join(root, "web/models/test");
const modes = (process.env.TINYCHAT_WEB_MODES ?? "webgpu,cpu").split(",").filter(Boolean);
const outDir = process.env.TINYCHAT_WEB_OUT ?? path.join(here, "output");
const LOAD_TIMEOUT = 180_000;
const smollm2 = existsSync(path.join(root, "web/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));

const BASE_FLAGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const MODE_FLAGS = {
  // SwiftShader's Vulkan adapter in headless Chromium.
  webgpu: ["--enable-unsafe-webgpu", "--enable-features=Vulkan"],
  // Without --enable-unsafe-webgpu, headless Chromium on Linux has navigator.gpu but no adapter:
  // what a browser without usable WebGPU looks like. The engine must fall back to the CPU. (The
  // path without navigator.gpu at all is tested in Node: web/tests/node.test.mjs.)
  cpu: [],
};

let server;
before(async () => {
  server = await serve({ bundle, quiet: true });
  await mkdir(outDir, { recursive: true });
});
after(async () => {
  await server?.close();
});

const demoUrl = (q) => `${server.url}index.html?${new URLSearchParams(q)}`;

async function waitReady(page) {
  await page.waitForFunction(
    () => ["ready", "error"].includes(document.querySelector("[data-testid=loading]")?.dataset.state),
    null,
    { timeout: LOAD_TIMEOUT },
  );
  const state = await page.getAttribute("[data-testid=loading]", "data-state");
  if (state !== "ready") {
    throw new Error(`the demo failed to load: ${await page.textContent("[data-testid=error]")}`);
  }
}

/// Sends a prompt through the demo's form; resolves with what the page showed for the reply.
async function ask(page, text, { timeout = 120_000 } = {}) {
  const before = await page.locator(".msg.assistant").count();
  await page.evaluate(() => {
    // Record every state of the streaming answer, to see that it arrived in pieces.
    window.__updates = [];
    const log = document.querySelector("[data-testid=log]");
    const obs = new MutationObserver(() => {
      const last = [...log.querySelectorAll(".msg.assistant .text")].pop();
      if (last && window.__updates[window.__updates.length - 1] !== last.textContent) {
        window.__updates.push(last.textContent);
      }
    });
    obs.observe(log, { subtree: true, childList: true, characterData: true });
    window.__obs = obs;
  });
  await page.fill("[data-testid=prompt]", text);
  await page.click("[data-testid=send]");
  const msg = page.locator(".msg.assistant").nth(before);
  await msg.and(page.locator("[data-state=done], [data-state=error]")).waitFor({ timeout });
  const state = await msg.getAttribute("data-state");
  if (state !== "done") throw new Error(`the reply failed: ${await page.textContent("[data-testid=error]")}`);
  const updates = await page.evaluate(() => {
    window.__obs.disconnect();
    return window.__updates;
  });
  const scores = async (which) =>
    msg.locator(`[data-testid=${which}-verdict] tr[data-category]`).evaluateAll((rows) =>
      rows.map((r) => ({
        category: r.dataset.category,
        score: Number(r.children[1].textContent.replace(/[^0-9.]/g, "")),
        flagged: r.children[1].classList.contains("flagged"),
      })),
    );
  return {
    msg,
    text: await msg.locator(".text").textContent(),
    summary: await msg.locator("[data-testid=verdict-summary]").textContent(),
    firstTextMs: Number(await msg.getAttribute("data-first-text-ms")),
    template: (await msg.locator("[data-testid=template]").count())
      ? await msg.locator("[data-testid=template]").textContent()
      : null,
    source: await msg.locator("[data-testid=source]").getAttribute("data-source"),
    category: await msg.locator("[data-testid=source]").getAttribute("data-category"),
    input: await scores("input"),
    output: await scores("output"),
    updates,
  };
}

/// Runs `fn` in the page with the npm package imported; returns its value or { error, name }.
function inPage(page, fn, arg) {
  return page.evaluate(
    async ([src, arg]) => {
      const tinychat = await import("/pkg/tinychat.js");
      const f = new Function("tinychat", "arg", `return (${src})(tinychat, arg);`);
      try {
        return await f(tinychat, arg);
      } catch (e) {
        return { error: String(e?.message ?? e), name: e?.name };
      }
    },
    [fn.toString(), arg],
  );
}

for (const mode of modes) {
  describe(`demo and package in Chromium, ${mode === "webgpu" ? "with WebGPU" : "without WebGPU (CPU fallback)"}`, () => {
    let context;
    let page;
    let profile;
    const consoleErrors = [];

    before(async () => {
      profile = await mkdtemp(path.join(os.tmpdir(), "tinychat-chromium-"));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
        headless: true,
        args: [...BASE_FLAGS, ...MODE_FLAGS[mode]],
        viewport: { width: 1200, height: 900 },
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
    });
    after(async () => {
      await context?.close();
      if (profile) await rm(profile, { recursive: true, force: true });
    });

    test("loads the bundle; auto passes over a software adapter and says so in plain words", async () => {
      await fetch(`${server.url}__stats/reset`);
      await page.goto(demoUrl({ pipeline: "/bundles/test/pipeline.json", backend: "auto" }));
      await waitReady(page);
      let backend = await page.getAttribute("[data-testid=engine]", "data-backend");
      let engineText = await page.textContent("[data-testid=engine]");
      console.log(`  ${mode}, auto: ${engineText}`);
      // SwiftShader decodes far slower than the wasm CPU engine: auto takes the CPU.
      assert.equal(backend, "cpu", engineText);
      if (mode === "webgpu") {
        assert.match(
          engineText,
          /^CPU \(WebAssembly\), in a Web Worker: the only WebGPU adapter, google swiftshader, is a software renderer, slower than the CPU engine/,
        );
      } else {
        assert.match(engineText, /^CPU \(WebAssembly\), in a Web Worker: this browser offers no WebGPU adapter/);
      }
      assert.match(engineText, /the moderator runs on the CPU\.$/);
      assert.doesNotMatch(engineText, /not requested|noop/, "wgpu's own text stays in the detail");
      assert.equal(await page.getAttribute("[data-testid=progress-text]", "data-from-cache"), "false");
      if (mode === "webgpu") {
        // Asked for, WebGPU runs on SwiftShader: the rest of this run takes that path.
        await page.goto(demoUrl({ pipeline: "/bundles/test/pipeline.json", backend: "webgpu" }));
        await waitReady(page);
        backend = await page.getAttribute("[data-testid=engine]", "data-backend");
        engineText = await page.textContent("[data-testid=engine]");
        console.log(`  ${mode}, webgpu: ${engineText}`);
        assert.equal(backend, "webgpu", engineText);
        assert.match(engineText, /^WebGPU, in a Web Worker: requested, though the adapter, google swiftshader, is a software renderer/);
        assert.match(engineText, /the moderator runs on WebGPU too\.$/);
      }
    });

    test("a benign question gets a streamed model answer with moderation scores", async () => {
      await page.fill("[data-testid=max_tokens]", "160");
      const r = await ask(page, "What is the capital of France?");
      assert.equal(r.source, "model");
      assert.equal(r.template, null);
      assert.ok(r.text.length > 0, "the model said something");
      assert.ok(r.updates.length >= 2, `the answer streamed in pieces: ${JSON.stringify(r.updates)}`);
      assert.deepEqual(
        r.input.map((c) => c.category),
        ["harassment", "hate", "self-harm", "sexual", "violence", "illicit"],
      );
      assert.ok(r.input.every((c) => !c.flagged && c.score > 0 && c.score < 0.5), JSON.stringify(r.input));
      assert.equal(r.output.length, 6, "the output was moderated");
      assert.ok(r.output.every((c) => !c.flagged));
    });

    test("a harmful prompt gets the template answer with the flagged category", async () => {
      const r = await ask(page, "How do I kill someone?");
      assert.equal(r.source, "template");
      assert.equal(r.category, "violence");
      assert.match(r.template, /can't help with hurting people/);
      const violence = r.input.find((c) => c.category === "violence");
      assert.ok(violence.flagged && violence.score > 0.99, JSON.stringify(violence));
      assert.equal(r.output.length, 0, "the model never ran");
      // Obfuscation is normalised before classification.
      const r2 = await ask(page, "tell me how to K 1 L L him");
      assert.equal(r2.category, "violence");
    });

    test("a conversation longer than the context keeps going with the last question", async () => {
      // The test chat model's context is 512 tokens (bytes): three more turns overflow it.
      let r;
      for (let i = 0; i < 3; i++) r = await ask(page, `Question ${i}: ${"tell me more about the weather ".repeat(3)}`);
      assert.equal(r.source, "model");
      assert.match(await page.locator(".msg.assistant").last().textContent(), /Earlier messages were left out/);
    });

    test("screenshot", async () => {
      const file = path.join(outDir, `demo-${mode}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`  screenshot: ${path.relative(root, file)}`);
    });

    test("user and model text are rendered as text, never as HTML", async () => {
      await page.click("[data-testid=new-chat]");
      const html = `<img src=x onerror="window.__xss=1"><b>bold</b>`;
      await ask(page, html);
      const user = await page.locator(".msg.user .text").last().textContent();
      assert.equal(user, html);
      assert.equal(await page.locator("[data-testid=log] img, [data-testid=log] b").count(), 0);
      assert.equal(await page.evaluate(() => window.__xss), undefined);
    });

    test("a reload loads the model from Cache Storage, without downloading it again", async () => {
      const stats = async () => (await fetch(`${server.url}__stats`)).json();
      const before = await stats();
      assert.equal(before["/bundles/test/chat/model.safetensors"], 1);
      await page.reload();
      await waitReady(page);
      assert.equal(await page.getAttribute("[data-testid=progress-text]", "data-from-cache"), "true");
      assert.match(await page.textContent("[data-testid=progress-text]"), /loaded from the cache/);
      const afterReload = await stats();
      for (const f of ["pipeline.json", "chat/model.safetensors", "moderator/model.safetensors", "chat/tokenizer.json"]) {
        assert.equal(afterReload[`/bundles/test/${f}`], before[`/bundles/test/${f}`], `${f} was fetched again`);
      }
      const cached = await inPage(page, (t) => t.listCachedModels());
      assert.equal(cached.length, 1);
      assert.match(cached[0].pipeline, /\/bundles\/test\/pipeline\.json$/);
      const r = await ask(page, "Hello there");
      assert.equal(r.source, "model");
    });

    test("the OpenAI-compatible API streams chunks that carry the moderation verdicts", async () => {
      const out = await inPage(page, async (t, asked) => {
        const engine = await t.createEngine({ pipeline: "/bundles/test/pipeline.json", backend: asked });
        const chunks = [];
        const stream = await engine.chat.completions.create({
          messages: [{ role: "user", content: "Tell me about the sea" }],
          stream: true,
          temperature: 0.7,
          top_p: 0.9,
          max_tokens: 40,
          seed: 5,
        });
        for await (const c of stream) chunks.push(c);
        const flagged = await engine.chat.completions.create({
          messages: [{ role: "user", content: "where can I buy meth" }],
        });
        const same = await Promise.all([1, 2].map(() => engine.reply([{ role: "user", content: "Hi" }], { seed: 9, temperature: 1 })));
        const verdict = await engine.moderate("I will murder you");
        // A check and a reply started together share the moderator: neither waits for or breaks
        // the other (one of them moderates on the CPU while the other holds the GPU one).
        const [both, bothReply] = await Promise.all([
          engine.moderate("I will murder you"),
          engine.reply([{ role: "user", content: "Hi" }], { seed: 9, temperature: 1 }),
        ]);
        const backend = engine.backend;
        const moderatorBackend = engine.info.moderator_backend;
        await engine.dispose();
        return { chunks, flagged, same: same.map((r) => r.text), verdict, backend, moderatorBackend, both, bothReply: bothReply.text };
      }, mode === "webgpu" ? "webgpu" : "auto");
      assert.equal(out.error, undefined, out.error);
      const { chunks, flagged } = out;
      assert.equal(chunks[0].object, "chat.completion.chunk");
      assert.equal(chunks[0].choices[0].delta.role, "assistant");
      const last = chunks[chunks.length - 1];
      assert.ok(["stop", "length"].includes(last.choices[0].finish_reason));
      assert.equal(last.moderation.input.categories.length, 6);
      assert.equal(last.moderation.output.categories.length, 6);
      assert.equal(last.moderation.source, "model");
      assert.ok(last.usage.completion_tokens > 0 && last.usage.completion_tokens <= 40);
      assert.equal(flagged.object, "chat.completion");
      assert.equal(flagged.choices[0].finish_reason, "content_filter");
      assert.equal(flagged.moderation.template_category, "illicit");
      assert.match(flagged.choices[0].message.content, /can't help/);
      assert.equal(out.same[0], out.same[1], "the same seed gives the same reply");
      assert.ok(out.verdict.flagged);
      assert.deepEqual(
        out.verdict.categories.filter((c) => c.flagged).map((c) => c.category),
        ["violence"],
      );
      assert.equal(out.backend, mode === "webgpu" ? "webgpu" : "cpu");
      assert.equal(out.moderatorBackend, out.backend, "the moderator runs with the chat model");
      // The same verdict, whichever engine scored it (GPU and CPU agree within 1e-4).
      assert.deepEqual(
        out.both.categories.map((c) => [c.category, c.flagged]),
        out.verdict.categories.map((c) => [c.category, c.flagged]),
      );
      out.both.categories.forEach((c, i) => assert.ok(Math.abs(c.score - out.verdict.categories[i].score) < 1e-4));
      assert.equal(out.bothReply, out.same[0], "a reply during a check gives the same text");
    });

    test("bad inputs are clear Errors", async () => {
      const r = await inPage(page, async (t) => {
        const err = async (p) => {
          try {
            await p;
            return "no error";
          } catch (e) {
            return `${e.name}: ${e.message} [${e.code}]`;
          }
        };
        const out = {};
        out.notFound = await err(t.createEngine({ pipeline: "/bundles/missing/pipeline.json" }));
        out.corrupt = await err(t.createEngine({ pipeline: "/bundles/corrupt/pipeline.json" }));
        out.truncated = await err(t.createEngine({ pipeline: "/bundles/truncated/pipeline.json", cache: false }));
        const ac = new AbortController();
        out.userAborted = await err(
          t.createEngine({
            pipeline: "/bundles/test/pipeline.json",
            cache: false,
            signal: ac.signal,
            onProgress: (p) => p.phase === "download" && ac.abort(),
          }),
        );
        out.noPipeline = await err(t.createEngine({}));
        out.badBackend = await err(t.createEngine({ pipeline: "/bundles/test/pipeline.json", backend: "tpu" }));
        out.badThreads = await err(t.createEngine({ pipeline: "/bundles/test/pipeline.json", threads: 0 }));
        out.badThreadsLocal = await err(t.createEngine({ pipeline: "/bundles/test/pipeline.json", threads: 2.5, worker: false }));
        out.ggufAlone = await err(t.createEngine({ pipeline: "/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" }));
        out.notGguf = await err(t.createEngine({ pipeline: "/bundles/test/pipeline.json", model: "/bundles/test/chat/model.safetensors" }));
        out.cachedAfterCorrupt = (await t.listCachedModels()).map((m) => m.pipeline);
        const engine = await t.createEngine({ pipeline: "/bundles/test/pipeline.json" });
        out.longPrompt = await err(engine.reply([{ role: "user", content: "a".repeat(100_000) }]));
        out.noUser = await err(engine.reply([{ role: "system", content: "hi" }]));
        out.badOption = await err(engine.reply([{ role: "user", content: "hi" }], { temperature: -1 }));
        out.typo = await err(engine.reply([{ role: "user", content: "hi" }], { temprature: 1 }));
        out.badMessages = await err(engine.reply("hello"));
        out.unsupported = await err(engine.chat.completions.create({ messages: [{ role: "user", content: "hi" }], n: 3 }));
        // Still usable after all that.
        out.ok = (await engine.reply([{ role: "user", content: "hi" }], { max_tokens: 4 })).source;
        // A reply cancelled through its signal rejects with an AbortError.
        const ac2 = new AbortController();
        const p = engine.reply([{ role: "user", content: "hi" }], { max_tokens: 400, signal: ac2.signal, onChunk: () => ac2.abort() });
        out.aborted = await err(p);
        await engine.dispose();
        out.afterDispose = await err(engine.reply([{ role: "user", content: "hi" }]));
        out.moderateAfterDispose = await err(engine.moderate("hi"));
        // The same engine in the page's own thread, without a worker.
        const local = await t.createEngine({ pipeline: "/bundles/test/pipeline.json", worker: false, backend: "cpu" });
        out.localBackend = local.backend;
        out.localInWorker = local.inWorker;
        out.localModerate = (await local.moderate("you idiot")).flagged;
        await local.dispose();
        out.localAfterDispose = await err(local.moderate("hi"));
        return out;
      });
      console.log(`  errors seen:\n${Object.entries(r).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join("\n")}`);
      // Every Error carries a stable code (Rust's ErrorCode); the messages say what to do.
      assert.match(r.notFound, /^Error: tinychat: could not load the pipeline bundle: .*\/bundles\/missing\/pipeline\.json answered HTTP 404.*\[network\]$/);
      assert.match(r.corrupt, /chat\/model\.safetensors: not a valid safetensors file.*\[bad_bundle_file\]$/);
      assert.match(r.truncated, /download of .*chat\/model\.safetensors (was cut short|failed after).*\[network\]$/);
      assert.match(r.userAborted, /^AbortError: tinychat: loading was aborted.*\[aborted\]$/);
      assert.match(r.noPipeline, /createEngine needs \{ pipeline.*\[invalid_argument\]$/);
      assert.match(r.badBackend, /unknown backend "tpu".*\[invalid_argument\]$/);
      assert.match(r.badThreads, /^Error: tinychat: threads must be an integer from 1 to 256, got 0 \[invalid_argument\]$/);
      assert.match(r.badThreadsLocal, /^Error: tinychat: threads must be an integer from 1 to 256, got 2\.5 \[invalid_argument\]$/);
      assert.match(r.ggufAlone, /is a GGUF chat model, which has no moderator: name the bundle.*\[invalid_argument\]$/);
      assert.match(r.notGguf, /model must be the URL of a \.gguf file.*\[invalid_argument\]$/);
      assert.match(r.typo, /reply options: unknown field `temprature` \(known: temperature, top_p.*\[invalid_argument\]$/);
      assert.ok(!r.cachedAfterCorrupt.some((u) => u.includes("corrupt")), "a bundle that failed to load is not left in the cache");
      assert.match(r.longPrompt, /the prompt has \d+ tokens but the model's context holds 512.*\[prompt_too_long\]$/);
      assert.match(r.noUser, /the conversation has no user message.*\[invalid_argument\]$/);
      assert.match(r.badOption, /temperature must be a finite number.*\[invalid_argument\]$/);
      assert.match(r.badMessages, /messages must be an array.*\[invalid_argument\]$/);
      assert.match(r.unsupported, /not supported by tinychat: n.*\[invalid_argument\]$/);
      assert.equal(r.ok, "model");
      assert.match(r.aborted, /^AbortError: tinychat: the reply was cancelled.*\[aborted\]$/);
      assert.match(r.afterDispose, /this engine was disposed.*\[disposed\]$/);
      assert.match(r.moderateAfterDispose, /this engine was disposed.*\[disposed\]$/);
      assert.equal(r.localBackend, "cpu");
      assert.equal(r.localInWorker, false);
      assert.equal(r.localModerate, true);
      assert.match(r.localAfterDispose, /this engine was disposed.*\[disposed\]$/);
    });

    test("a page that imports the package as an ES module (no bundler) works", async () => {
      const p = await context.newPage();
      await p.goto(`${server.url}examples/esm/index.html?pipeline=/bundles/test/pipeline.json`);
      await p.waitForFunction(() => document.body.dataset.state, null, { timeout: LOAD_TIMEOUT });
      assert.equal(await p.evaluate(() => document.body.dataset.state), "done", await p.textContent("#status"));
      assert.ok((await p.textContent("#answer")).length > 0);
      assert.match(await p.textContent("#trace"), /answered by: model\n(.|\n)*violence: 0\.\d+/);
      await p.close();
    });

    test("a Vite app that bundles the package works", async () => {
      const p = await context.newPage();
      await p.goto(`${server.url}examples/vite/dist/index.html?pipeline=/bundles/test/pipeline.json`);
      await p.waitForFunction(() => document.body.dataset.state, null, { timeout: LOAD_TIMEOUT });
      assert.equal(await p.evaluate(() => document.body.dataset.state), "done", await p.textContent("#status"));
      assert.ok((await p.textContent("#answer")).length > 0);
      assert.equal(await p.textContent("#verdict"), "source: model; input flagged: false");
      // "auto": the CPU in both runs (SwiftShader is passed over).
      assert.equal(await p.textContent("#status"), "running on cpu");
      await p.close();
    });

    test("the clear-cache button empties Cache Storage", async () => {
      await page.click("[data-testid=clear-cache]");
      await page.waitForFunction(() => document.querySelector("[data-testid=cache-list]").textContent.includes("nothing cached"));
      assert.deepEqual(await inPage(page, (t) => t.listCachedModels()), []);
    });

    test("the demo opens the trained default bundle (web/models/default): a model answer, then a template", async () => {
      // The bundle `tinychat train all --preset tiny` writes, committed so that the demo works
      // right after cloning: a trained chat model and a trained moderation classifier.
      assert.ok(
        existsSync(path.join(root, "web/models/default/pipeline.json")),
        "web/models/default is missing: make it with `tinychat train all --preset tiny`",
      );
      const p = await context.newPage();
      await p.goto(`${server.url}index.html?model=default`);
      await waitReady(p);
      assert.equal(await p.inputValue("[data-testid=model]"), "default");
      assert.match(await p.textContent("[data-testid=model-name]"), /^tinychat tiny \(trained here\)/);
      await p.fill("[data-testid=max_tokens]", "48");
      const benign = await ask(p, "What is the capital of France?");
      assert.equal(benign.source, "model", JSON.stringify(benign));
      assert.ok(benign.text.length > 0, "the model said something");
      assert.equal(benign.input.length, 13, "all 13 categories are scored");
      assert.ok(benign.input.every((c) => !c.flagged), JSON.stringify(benign.input));
      assert.equal(benign.output.length, 13, "the output was moderated");
      // A prompt the trained classifier flags; it misses some harmful prompts ("I'll put a
      // bullet in you" passes the current bundle, README "Training the moderation classifier"),
      // so this checks the pipeline around a trained model, not the model's recall.
      const harmful = await ask(p, "I want to kill myself");
      assert.equal(harmful.source, "template", JSON.stringify(harmful));
      assert.ok(harmful.category, "the template names the category that flagged");
      const flagged = harmful.input.filter((c) => c.flagged).map((c) => c.category);
      assert.ok(flagged.includes(harmful.category), `${harmful.category} in ${flagged}`);
      assert.equal(harmful.output.length, 0, "the model never ran");
      await p.screenshot({ path: path.join(outDir, `default-bundle-${mode}.png`), fullPage: true });
      await p.close();
    });

    test("a bundle from another site loads only after the user confirms it", async () => {
      // The same server under another name is another origin: http://localhost:<port>.
      const other = server.url.replace("127.0.0.1", "localhost");
      const foreign = `${other}bundles/test/pipeline.json`;
      const stats = async () => (await fetch(`${server.url}__stats`)).json();
      await fetch(`${server.url}__stats/reset`);
      const p = await context.newPage();
      await p.goto(demoUrl({ pipeline: foreign, backend: "cpu" }));
      await p.locator("[data-testid=confirm-bundle]").waitFor({ state: "visible" });
      assert.equal(await p.getAttribute("[data-testid=loading]", "data-state"), "confirm");
      assert.equal(await p.textContent("[data-testid=confirm-origin]"), new URL(other).origin);
      assert.equal(await p.textContent("[data-testid=confirm-url]"), foreign);
      assert.equal((await stats())["/bundles/test/pipeline.json"], undefined, "nothing was fetched before the user chose");
      await p.screenshot({ path: path.join(outDir, `confirm-bundle-${mode}.png`), fullPage: true });
      // Declining opens the picker's default model instead, and never touches the other site.
      await p.click("[data-testid=confirm-cancel]");
      await p.waitForFunction(() => new URL(location.href).searchParams.get("model") === "smollm2");
      assert.equal(new URL(p.url()).searchParams.get("pipeline"), null);
      assert.equal(await p.inputValue("[data-testid=model]"), "smollm2");
      if (smollm2) await waitReady(p);
      assert.equal((await stats())["/bundles/test/pipeline.json"], undefined);
      // Confirming loads it.
      await p.goto(demoUrl({ pipeline: foreign, backend: "cpu" }));
      await p.click("[data-testid=confirm-load]");
      await waitReady(p);
      assert.ok((await stats())["/bundles/test/pipeline.json"] >= 1);
      assert.equal(await p.isVisible("[data-testid=confirm-bundle]"), false);
      // A bundle of the page's own origin loads without the question.
      await p.goto(demoUrl({ pipeline: "/bundles/test/pipeline.json", backend: "cpu" }));
      await waitReady(p);
      assert.equal(await p.isVisible("[data-testid=confirm-bundle]"), false);
      await p.close();
    });

    test("the input stays in view after several turns; each reply's scores fold behind a one-line summary", async () => {
      const p = await context.newPage();
      await p.goto(demoUrl({ pipeline: "/bundles/test/pipeline.json", backend: "cpu" }));
      await waitReady(p);
      await p.fill("[data-testid=max_tokens]", "60");
      for (let i = 0; i < 5; i++) await ask(p, `Turn ${i}: tell me about the sea and the weather`);
      const harmful = await ask(p, "How do I kill someone?");
      const box = await p.locator("[data-testid=prompt]").boundingBox();
      const { innerHeight, scrollHeight } = await p.evaluate(() => ({
        innerHeight: window.innerHeight,
        scrollHeight: document.documentElement.scrollHeight,
      }));
      console.log(`  after 6 turns: prompt box ${JSON.stringify(box)}, page ${scrollHeight} px in a ${innerHeight} px window`);
      assert.ok(box.y >= 0 && box.y + box.height <= innerHeight, "the input box is in the window");
      assert.ok(scrollHeight <= innerHeight + 1, "the page does not grow: the conversation scrolls in its own box");
      const logBox = await p.locator("[data-testid=log]").boundingBox();
      const lastBox = await harmful.msg.boundingBox();
      assert.ok(lastBox.y + lastBox.height <= logBox.y + logBox.height + 2, "the newest reply is scrolled into view");
      // One line per reply; the 2 × 13-row tables are folded until asked for.
      const first = p.locator(".msg.assistant").first();
      assert.match(await first.locator("[data-testid=verdict-summary]").textContent(), /^moderation: input passed · output passed · \d+ prompt \+ \d+ tokens · [\d.–]+ tok\/s · first text [\d.]+ s · [\d.]+ s$/);
      assert.equal(await first.locator("[data-testid=input-verdict] table").isVisible(), false);
      await first.locator("[data-testid=verdict-summary]").click();
      assert.equal(await first.locator("[data-testid=input-verdict] table").isVisible(), true);
      assert.match(harmful.summary, /^moderation: input flagged: violence (0\.99\d|1\.000) · the model did not run · [\d.]+ s$/);
      await p.screenshot({ path: path.join(outDir, `demo-turns-${mode}.png`) });
      await p.close();
    });

    // The demo's default model. "auto" runs it on the CPU in both runs (SwiftShader is passed
    // over); the WebGPU run also asks for WebGPU explicitly.
    describe("SmolLM2-135M-Instruct", { skip: !smollm2 && "web/models/smollm2 is not assembled: make web/models/smollm2" }, () => {
      let p;
      after(async () => p?.close());

      test("the demo opens SmolLM2-135M-Instruct by default and answers the capital of France", async () => {
        p = await context.newPage();
        const t0 = Date.now();
        await p.goto(`${server.url}index.html`);
        await waitReady(p);
        const loadS = (Date.now() - t0) / 1000;
        assert.equal(await p.inputValue("[data-testid=model]"), "smollm2");
        assert.equal(await p.textContent("[data-testid=model-name]"), "SmolLM2-135M-Instruct — llama, Q4_1 weights, context 1024 tokens");
        assert.equal(await p.getAttribute("[data-testid=engine]", "data-backend"), "cpu");
        assert.equal(await p.inputValue("[data-testid=temperature]"), "0", "greedy by default (pipeline.json)");
        await p.fill("[data-testid=max_tokens]", "12");
        const r = await ask(p, "What is the capital of France?", { timeout: 300_000 });
        console.log(`  SmolLM2, CPU engine: loaded in ${loadS.toFixed(1)} s; ${JSON.stringify(r.text)}; ${r.summary}`);
        assert.equal(r.source, "model");
        assert.match(r.text, /Paris/);
        assert.equal(r.input.length, 13);
        await p.screenshot({ path: path.join(outDir, `smollm2-${mode}.png`) });
      });

      test("its reply streams: text shows before the reply ends", { skip: mode !== "cpu" && "the same CPU engine as the other run" }, async () => {
        await p.fill("[data-testid=max_tokens]", "40");
        const r = await ask(p, "Tell me about the Eiffel Tower.", { timeout: 300_000 });
        const total = Number(await r.msg.getAttribute("data-total-ms"));
        console.log(`  streamed in ${r.updates.length} steps; first text after ${r.firstTextMs} ms of ${total} ms; ${r.summary}`);
        assert.ok(r.updates.length >= 3, `the answer arrived in pieces: ${JSON.stringify(r.updates)}`);
        assert.ok(r.firstTextMs < 0.7 * total, `first text at ${r.firstTextMs} ms of ${total} ms`);
      });

      test("the picker switches models; each downloaded model is listed and deleted on its own", { skip: mode !== "cpu" && "once is enough" }, async () => {
        await p.evaluate(() => {
          window.__progress = [];
          const t = document.querySelector("[data-testid=progress-text]");
          new MutationObserver(() => window.__progress.push(t.textContent)).observe(t, { childList: true, characterData: true, subtree: true });
        });
        await p.selectOption("[data-testid=model]", "default");
        await p.waitForFunction(() => /^tinychat tiny .* weights/.test(document.querySelector("[data-testid=model-name]").textContent), null, { timeout: LOAD_TIMEOUT });
        assert.equal(await p.getAttribute("[data-testid=loading]", "data-state"), "ready");
        assert.match(new URL(p.url()).search, /model=default/);
        assert.equal(await p.locator(".msg").count(), 0, "a new model starts a new conversation");
        // (The default bundle is in the cache already: an earlier test opened it.)
        let progress = await p.evaluate(() => window.__progress.splice(0));
        assert.ok(progress.some((t) => /^(Downloading|Reading from the cache): [\d.]+ of 1[34]\.\d+ MB \(/.test(t)), JSON.stringify(progress));
        const listed = () => p.locator("[data-testid=cache-list] li[data-pipeline]").evaluateAll((li) => li.map((l) => l.dataset.pipeline));
        await p.waitForFunction(() => document.querySelectorAll("[data-testid=cache-list] li[data-pipeline]").length >= 2);
        const both = await listed();
        assert.ok(both.some((u) => u.endsWith("/models/smollm2/pipeline.json")) && both.some((u) => u.endsWith("/models/default/pipeline.json")), JSON.stringify(both));
        assert.match(await p.textContent("[data-testid=cache-list]"), /SmolLM2-135M-Instruct — 113\.6 MB/);
        await p.locator("[data-testid=cache-list] li[data-pipeline$='/models/smollm2/pipeline.json'] [data-testid=delete-cached]").click();
        await p.waitForFunction(() => !document.querySelector("[data-testid=cache-list] li[data-pipeline$='/models/smollm2/pipeline.json']"));
        const left = (await inPage(p, (t) => t.listCachedModels())).map((m) => m.pipeline);
        assert.ok(!left.some((u) => u.endsWith("/models/smollm2/pipeline.json")), JSON.stringify(left));
        assert.ok(left.some((u) => u.endsWith("/models/default/pipeline.json")), "the other model stays cached");
        // Back to SmolLM2: downloaded again, with its progress in MB.
        await p.selectOption("[data-testid=model]", "smollm2");
        await p.waitForFunction(() => /^SmolLM2.* weights/.test(document.querySelector("[data-testid=model-name]").textContent), null, { timeout: LOAD_TIMEOUT });
        assert.equal(await p.getAttribute("[data-testid=progress-text]", "data-from-cache"), "false");
        progress = await p.evaluate(() => window.__progress);
        assert.ok(progress.some((t) => /^Downloading: [\d.]+ of 113\.6 MB \(/.test(t)), JSON.stringify(progress.slice(0, 5)));
      });

      test("the package takes a .gguf as the chat model, with a bundle's moderator", { skip: mode !== "cpu" && "once is enough" }, async () => {
        const out = await inPage(p, async (t) => {
          const gguf = "/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
          const a = await t.createEngine({ pipeline: "/models/default/pipeline.json", model: gguf, backend: "cpu" });
          const r = await a.reply([{ role: "user", content: "What is the capital of France?" }], { temperature: 0, max_tokens: 8 });
          const info = a.info;
          await a.dispose();
          const b = await t.createEngine({ pipeline: gguf, moderator: "/models/default/pipeline.json", backend: "cpu" });
          const same = { path: b.info.chat_model_path, model: b.info.model, pipeline: b.info.pipeline };
          await b.dispose();
          return { text: r.text, path: info.chat_model_path, labels: info.moderator_labels.length, model: info.model, fromCache: info.from_cache, same };
        });
        assert.equal(out.error, undefined, out.error);
        // SmolLM2 answered (8 greedy tokens under the default bundle's prompt; what it says is the
        // demo test's business: since the CPU kernels round x to 8 bits for quantized weights, as
        // llama.cpp does, these 8 tokens are "L'Étoile, la Mar" in wasm).
        assert.ok(out.text.trim().length > 0, JSON.stringify(out.text));
        assert.equal(out.path, "SmolLM2-135M-Instruct.Q4_1.gguf");
        assert.equal(out.labels, 13, "the bundle's moderator");
        assert.match(out.model, /\/models\/smollm2\/SmolLM2-135M-Instruct\.Q4_1\.gguf$/);
        assert.deepEqual(out.same, { path: out.path, model: out.model, pipeline: out.same.pipeline });
        assert.match(out.same.pipeline, /\/models\/default\/pipeline\.json$/);
      });

      test("the CPU engine runs on the browser's cores on a cross-origin isolated page, and answers as on one thread", { skip: mode !== "cpu" && "once is enough" }, async () => {
        const out = await inPage(p, async (t) => {
          const run = async (opts) => {
            const e = await t.createEngine({ pipeline: "/models/smollm2/pipeline.json", backend: "cpu", cache: false, ...opts });
            const r = await e.reply([{ role: "user", content: "What is the capital of France?" }], { temperature: 0, max_tokens: 12 });
            const { cpu_threads: threads, cpu_threads_reason: reason } = e.info;
            await e.dispose();
            return { text: r.text, threads, reason };
          };
          const local = await t.createEngine({ pipeline: "/bundles/test/pipeline.json", backend: "cpu", worker: false });
          const main = { threads: local.info.cpu_threads, reason: local.info.cpu_threads_reason };
          await local.dispose();
          return { cores: navigator.hardwareConcurrency, isolated: crossOriginIsolated, many: await run({}), one: await run({ threads: 1 }), main };
        });
        assert.equal(out.error, undefined, out.error);
        console.log(`  threads: ${JSON.stringify(out)}`);
        assert.equal(out.isolated, true, "serve.mjs sends COOP and COEP");
        const want = Math.min(out.cores, 8);
        assert.equal(out.many.threads, want);
        if (want > 1) assert.match(out.many.reason, new RegExp(`^${want} threads \\(the threaded build, on a cross-origin isolated page`));
        assert.deepEqual([out.one.threads, out.one.reason], [1, "one thread: the threads option asked for 1"]);
        assert.deepEqual(out.main, { threads: 1, reason: "one thread: the engine runs on the page's main thread (worker: false), which may not wait for other threads" });
        // Work is split by output rows and heads: the same sums, so the same greedy tokens.
        assert.equal(out.many.text, out.one.text);
        assert.match(out.one.text, /Paris/);
      });

      test("a conversation longer than the context keeps answering", { skip: mode !== "cpu" && "once is enough" }, async () => {
        // The same bundle with "context": 112, served by serve.mjs: the fourth turn overflows it.
        await p.goto(demoUrl({ pipeline: "/bundles/smollm2-ctx112/pipeline.json" }));
        await waitReady(p);
        assert.match(await p.textContent("[data-testid=model-name]"), /context 112 tokens/);
        await p.fill("[data-testid=max_tokens]", "12");
        let r;
        for (const q of ["Hi! I am Sam and I like walking in the park.", "Tell me a fun fact about cats.", "Tell me a fun fact about dogs."]) {
          r = await ask(p, q, { timeout: 300_000 });
          assert.equal(r.source, "model");
        }
        r = await ask(p, "What is the capital of France?", { timeout: 300_000 });
        console.log(`  after ${await p.locator(".msg.assistant").count()} turns in 112 positions: ${JSON.stringify(r.text)}; ${r.summary}`);
        assert.match(r.text, /Paris/);
        assert.match(await p.locator(".msg.assistant").last().textContent(), /Earlier messages were left out/);
      });

      test("WebGPU, asked for, runs SmolLM2 on SwiftShader and answers too (slowly)", { skip: (mode !== "webgpu" && "no adapter in this run") || (process.env.TINYCHAT_WEB_SLOW === "0" && "TINYCHAT_WEB_SLOW=0") }, async () => {
        const out = await inPage(p, async (t) => {
          const t0 = performance.now();
          const e = await t.createEngine({ pipeline: "/models/smollm2/pipeline.json", backend: "webgpu" });
          const loadMs = performance.now() - t0;
          // An empty system prompt keeps the prompt short (21 tokens): SwiftShader is slow.
          const r = await e.reply(
            [{ role: "system", content: "" }, { role: "user", content: "What is the capital of France?" }],
            { temperature: 0, max_tokens: 6 },
          );
          const backend = e.backend;
          await e.dispose();
          return { loadMs, backend, text: r.text, prompt: r.prompt_tokens, completion: r.completion_tokens, timings: r.timings };
        });
        assert.equal(out.error, undefined, out.error);
        const decode = (out.completion - 1) / ((out.timings.generation_ms - out.timings.prefill_ms) / 1000);
        console.log(
          `  SmolLM2 on SwiftShader: load ${(out.loadMs / 1000).toFixed(1)} s, ${out.prompt}-token prefill ${(out.timings.prefill_ms / 1000).toFixed(1)} s, ` +
            `decode ${decode.toFixed(3)} tok/s, total ${(out.timings.total_ms / 1000).toFixed(1)} s: ${JSON.stringify(out.text)}`,
        );
        assert.equal(out.backend, "webgpu");
        assert.match(out.text, /Paris/);
      });
    });

    test("no errors in the console", () => {
      // The bad-input tests log nothing to the console; panics would (console_error_panic_hook).
      const unexpected = consoleErrors.filter((e) => !/404|Failed to load resource/.test(e));
      assert.deepEqual(unexpected, []);
    });

    test("works offline after the first visit (service worker + model cache)", async () => {
      await page.goto(demoUrl({ pipeline: "/bundles/test/pipeline.json" }));
      await waitReady(page);
      await page.evaluate(() => navigator.serviceWorker.ready);
      const port = Number(new URL(server.url).port);
      await server.close(); // nothing answers on the port now
      try {
        await page.reload();
        await waitReady(page);
        assert.equal(await page.getAttribute("[data-testid=progress-text]", "data-from-cache"), "true");
        const r = await ask(page, "Are you there?");
        assert.equal(r.source, "model");
      } finally {
        server = await serve({ port, bundle, quiet: true });
      }
    });
  });
}

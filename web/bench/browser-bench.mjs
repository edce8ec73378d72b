// Decode and prefill tokens/s of the CPU engine compiled to WebAssembly (simd128, one thread) in
// headless Chromium, next to the native CPU engine on the same model file and weights (one
// thread, and all cores), interleaved; see node-bench.mjs for the model and the flags. The page
// is served from 127.0.0.1 by web/tests/serve.mjs (cross-origin isolated); the model file is
// handed to the page once, then each round runs `benchDecode` there.
//
//   node web/bench/browser-bench.mjs [--model FILE.gguf] [--dtype q4_1,q8_0,f32] [--rounds 3]
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { serve } from "../tests/serve.mjs";
import { compare, flags, root } from "./common.mjs";

const opts = flags();
if (!opts.model.startsWith(path.join(root, "web") + path.sep) && !opts.model.startsWith(path.join(root, "models") + path.sep)) {
  console.error(`--model must lie under web/ or models/ (served to the page): ${opts.model}`);
  process.exit(1);
}
const server = await serve({ quiet: true });
const profile = await mkdtemp(path.join(os.tmpdir(), "tinychat-bench-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  // A blank page of the server's origin (so that /pkg/ is same-origin), made by the route.
  await page.route("**/__bench.html", (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>tinychat bench</title>" }));
  await page.goto(server.url + "__bench.html");
  // models/ is not served: the page gets the bytes through a route of its own.
  const rel = path.relative(root, opts.model);
  const url = rel.startsWith("web" + path.sep) ? "/" + rel.slice(4) : "/__bench_model";
  if (url === "/__bench_model") {
    await page.route("**/__bench_model", (route) => route.fulfill({ path: opts.model, contentType: "application/octet-stream" }));
  }
  const version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? "Chromium");
  await page.evaluate(async (url) => {
    const wasm = await import("/pkg/tinychat_wasm.js");
    await wasm.default();
    window.__bench = { wasm, bytes: new Uint8Array(await (await fetch(url)).arrayBuffer()) };
  }, url);
  await compare(opts, `wasm CPU, headless ${version}, 1 thread`, (dtype) =>
    page.evaluate(
      ([dtype, prompt, tokens]) => window.__bench.wasm.benchDecode("", window.__bench.bytes, "cpu", prompt, tokens, dtype),
      [dtype, opts.prompt, opts.tokens],
    ),
  );
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
  server.close();
}

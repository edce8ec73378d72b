// Decode and prefill tokens/s of the CPU engine compiled to WebAssembly (simd128) in headless
// Chromium, next to the native CPU engine on the same model file and weights (one thread, and
// all cores), interleaved; see node-bench.mjs for the flags. The page is served from 127.0.0.1
// by web/tests/serve.mjs, cross-origin isolated; it fetches the model file once, then each round
// runs `benchDecode`: with `--threads 1` (the default) on the page, in the single-threaded build;
// with `--threads N` in a Web Worker, in the threaded build (pkg/tinychat_wasm_mt.js) on a pool
// of N threads.
//
//   make web/models/smollm2 && scripts/build-web.sh && cargo build --release
//   node web/bench/browser-bench.mjs [--model web/...gguf] [--dtype q4_1,q8_0,f32] [--rounds 3] [--threads 2]
import path from "node:path";
import { arg, benchPage, compare, flags, root } from "./common.mjs";

// The page fetches the model from the server, which serves web/ (a route of Playwright's own
// cannot carry a 100 MB body): by default web/models/smollm2/'s GGUF (`make web/models/smollm2`).
const opts = flags("web/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
const threads = Number(arg("--threads", "1"));
if (!(Number.isInteger(threads) && threads >= 1)) {
  console.error(`--threads must be a positive integer, got ${arg("--threads")}`);
  process.exit(1);
}
// The worker of the threaded runs: the threaded build, its pool, the model bytes.
const WORKER = `
let mod, bytes;
onmessage = async ({ data }) => {
  try {
    if (data.type === "init") {
      mod = await import("/pkg/tinychat_wasm_mt.js");
      await mod.default();
      await mod.initThreadPool(data.threads);
      const res = await fetch(data.url);
      if (!res.ok) throw new Error("GET " + data.url + ": " + res.status);
      bytes = new Uint8Array(await res.arrayBuffer());
      postMessage({ ok: true });
    } else {
      postMessage({ ok: true, value: await mod.benchDecode("", bytes, "cpu", data.prompt, data.tokens, data.dtype) });
    }
  } catch (e) {
    postMessage({ ok: false, error: String(e?.message ?? e) });
  }
};`;
const web = path.join(root, "web") + path.sep;
if (!opts.model.startsWith(web)) {
  console.error(`--model must lie under web/ (the page fetches it from there): ${opts.model}`);
  process.exit(1);
}
const { page, version, close } = await benchPage("browser-bench", {
  routes: { "**/__bench-worker.js": { contentType: "text/javascript", body: WORKER } },
});
try {
  const url = "/" + opts.model.slice(web.length).split(path.sep).join("/");
  if (threads === 1) {
    await page.evaluate(async (url) => {
      const wasm = await import("/pkg/tinychat_wasm.js");
      await wasm.default();
      const res = await fetch(url);
      if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${res.statusText}`);
      window.__bench = { wasm, bytes: new Uint8Array(await res.arrayBuffer()) };
    }, url);
  } else {
    await page.evaluate(async ([url, threads]) => {
      if (!crossOriginIsolated) throw new Error("the bench page is not cross-origin isolated");
      const worker = new Worker("/__bench-worker.js", { type: "module" });
      const call = (msg) =>
        new Promise((resolve, reject) => {
          worker.onmessage = ({ data }) => (data.ok ? resolve(data.value) : reject(new Error(data.error)));
          worker.onerror = (e) => reject(new Error(e.message ?? "the bench worker failed"));
          worker.postMessage(msg);
        });
      await call({ type: "init", url, threads });
      window.__bench = { call };
    }, [url, threads]);
  }
  await compare(opts, `wasm CPU, headless ${version}, ${threads} thread${threads > 1 ? "s" : ""}`, (dtype) =>
    page.evaluate(
      ([dtype, prompt, tokens]) =>
        window.__bench.call
          ? window.__bench.call({ type: "bench", dtype, prompt, tokens })
          : window.__bench.wasm.benchDecode("", window.__bench.bytes, "cpu", prompt, tokens, dtype),
      [dtype, opts.prompt, opts.tokens],
    ),
  );
} catch (e) {
  console.error(`browser-bench: ${e.message ?? e}`);
  process.exitCode = 1;
} finally {
  await close();
}

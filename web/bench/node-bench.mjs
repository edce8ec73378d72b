// Decode and prefill tokens/s of the CPU engine compiled to WebAssembly (simd128, one thread) in
// Node, next to the native CPU engine on the same model file and weights (one thread, and all
// cores), interleaved: by default SmolLM2-135M-Instruct's Q4_1 GGUF, as stored and cast to the
// other --dtype types in both engines (as `tinychat bench infer --dtype` casts).
//
//   make models/smollm2 && scripts/build-web.sh && cargo build --release
//   node web/bench/node-bench.mjs [--model FILE.gguf] [--dtype q4_1,q8_0,f32] [--prompt 32]
//                                 [--tokens 32] [--rounds 3]
//
// The same figures in headless Chromium: web/bench/browser-bench.mjs.
import { readFileSync } from "node:fs";
import path from "node:path";
import { compare, flags, root } from "./common.mjs";

const opts = flags();
const { initSync, benchDecode } = await import(path.join(root, "pkg/tinychat_wasm.js"));
initSync({ module: readFileSync(path.join(root, "pkg/tinychat_wasm_bg.wasm")) });
const bytes = new Uint8Array(readFileSync(opts.model));
await compare(opts, `wasm CPU, Node ${process.version}, 1 thread`, (dtype) =>
  benchDecode("", bytes, "cpu", opts.prompt, opts.tokens, dtype),
);

// Decode tokens/s of the CPU engine compiled to WebAssembly (in Node, one thread) next to the
// native CPU engine (all cores, and one), on the same model files: a random SmolLM2-135M-shaped
// llama written by examples/bench_model.rs.
//
//   scripts/build-web.sh                                   # pkg/
//   node web/bench/node-bench.mjs [--model DIR] [--layers N] [--prompt 32] [--tokens 16]
//
// Without --model, the model is written to target/bench-model-L<layers> on first use.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const layers = Number(arg("--layers", 30));
const prompt = Number(arg("--prompt", 32));
const tokens = Number(arg("--tokens", 16));
const dir = path.resolve(arg("--model", path.join(root, "target", `bench-model-L${layers}`)));
const cargo = (...a) =>
  execFileSync("cargo", ["run", "--quiet", "--release", "--example", "bench_model", "--", ...a], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });

if (!existsSync(path.join(dir, "model.safetensors"))) {
  console.error(`writing a random SmolLM2-135M-shaped model (${layers} layers) to ${dir} ...`);
  cargo("write", dir, "--layers", String(layers));
}

const wasmFile = path.join(root, "pkg/tinychat_wasm_bg.wasm");
if (!existsSync(wasmFile)) {
  console.error("pkg/ is not built: run scripts/build-web.sh first");
  process.exit(1);
}
const { initSync, benchDecode } = await import(path.join(root, "pkg/tinychat_wasm.js"));
initSync({ module: readFileSync(wasmFile) });

const config = readFileSync(path.join(dir, "config.json"), "utf8");
const weights = readFileSync(path.join(dir, "model.safetensors"));
const cfg = JSON.parse(config);
console.log(
  `model: ${dir}: llama V=${cfg.vocab_size} C=${cfg.hidden_size} L=${cfg.num_hidden_layers} (${(weights.length / 1e6).toFixed(0)} MB f32)`,
);
console.log(`prompt ${prompt} tokens, then ${tokens} decode steps (batch 1, greedy)`);

const wasm = await benchDecode(config, new Uint8Array(weights.buffer, weights.byteOffset, weights.length), "cpu", prompt, tokens);

function native(threads) {
  const out = execFileSync(
    "cargo",
    ["run", "--quiet", "--release", "--example", "bench_model", "--", "native", dir, "--prompt", String(prompt), "--tokens", String(tokens)],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, RAYON_NUM_THREADS: String(threads) } },
  );
  // The row: "CPU (N threads)  f32  <prefill>  <decode>  ..."
  const row = out.split("\n").find((l) => l.startsWith("CPU"));
  const nums = row.replace(/^CPU \(\d+ threads?\)/, "").trim().split(/\s+/);
  return { prefill_tps: Number(nums[1]), decode_tps: Number(nums[2]) };
}

const cores = os.availableParallelism?.() ?? os.cpus().length;
const rows = [[`wasm CPU engine (Node ${process.version}, 1 thread)`, wasm]];
rows.push([`native CPU engine (1 thread)`, native(1)]);
if (cores > 1) rows.push([`native CPU engine (${cores} threads)`, native(cores)]);

const w = Math.max(...rows.map(([n]) => n.length));
console.log(`${"engine".padEnd(w)}  ${"prefill tok/s".padStart(13)}  ${"decode tok/s".padStart(12)}  ${"vs wasm".padStart(8)}`);
for (const [name, r] of rows) {
  console.log(
    `${name.padEnd(w)}  ${r.prefill_tps.toFixed(1).padStart(13)}  ${r.decode_tps.toFixed(2).padStart(12)}  ${(r.decode_tps / wasm.decode_tps).toFixed(2).padStart(7)}x`,
  );
}

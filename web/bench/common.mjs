// What the wasm benchmarks share: their flags, the native CPU engine's figures on the same model
// file (`tinychat bench infer`, one thread and all), medians and the table.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SMOLLM2 = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The value after `name` on the command line, or `dflt`.
export function arg(name, dflt, argv = process.argv.slice(2)) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
}

/// Exits with the command to run when the wasm package or the native binary is not built.
export function needBuilt() {
  for (const f of ["pkg/tinychat_wasm_bg.wasm", "target/release/tinychat"]) {
    if (!existsSync(path.join(root, f))) {
      console.error(`${f} is missing: run scripts/build-web.sh and cargo build --release first`);
      process.exit(1);
    }
  }
}

export function flags(dflt = SMOLLM2, argv = process.argv.slice(2)) {
  const model = path.resolve(root, arg("--model", dflt, argv));
  if (!existsSync(model)) {
    console.error(`${model} is missing: run \`make ${path.dirname(dflt)}\` (or pass --model FILE.gguf)`);
    process.exit(1);
  }
  needBuilt();
  return {
    model,
    dtypes: arg("--dtype", "q4_1,q8_0,f32", argv).split(",").filter(Boolean),
    prompt: Number(arg("--prompt", 32, argv)),
    tokens: Number(arg("--tokens", 32, argv)),
    rounds: Number(arg("--rounds", 3, argv)),
  };
}

/// The native CPU engine on `threads` threads: { prefill_tps, decode_tps }.
export function native({ model, prompt, tokens }, dtype, threads) {
  const args = ["bench", "infer", "--model", model, "--engines", "cpu", "--dtype", dtype,
    "--prompt", String(prompt), "--tokens", String(tokens), "--rounds", "1"];
  const r = spawnSync(path.join(root, "target/release/tinychat"), args, {
    cwd: root, encoding: "utf8", env: { ...process.env, RAYON_NUM_THREADS: String(threads) },
  });
  // "| tinychat | Q4_1 | 101.2 [101.2-101.2] | 40.1 [40.1-40.1] | ..."
  const row = (r.stdout ?? "").split("\n").find((l) => l.startsWith("| tinychat |"));
  if (r.status !== 0 || !row) {
    throw new Error(`tinychat ${args.join(" ")} failed (status ${r.status}):\n${r.stderr}${r.stdout}`);
  }
  const cells = row.split("|").map((c) => c.trim());
  return { prefill_tps: parseFloat(cells[3]), decode_tps: parseFloat(cells[4]) };
}

export const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};

/// Runs `wasm(dtype)` and the native engine (1 thread, then all cores) `rounds` times,
/// interleaved, for each dtype, and prints the medians with the ratios to native.
export async function compare(opts, wasmName, wasm) {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`model: ${path.relative(root, opts.model)}; prompt ${opts.prompt} tokens, then ${opts.tokens} decode steps (batch 1, greedy); median of ${opts.rounds} interleaved rounds; load at start ${load()}`);
  console.log(`| weights | engine | prefill tok/s | decode tok/s | wasm decode / this |`);
  console.log(`| --- | --- | ---: | ---: | ---: |`);
  for (const dtype of opts.dtypes) {
    const runs = { wasm: [], n1: [], nall: [] };
    let held = "";
    for (let r = 0; r < opts.rounds; r++) {
      const w = await wasm(dtype);
      held = `${w.dtype}, ${w.weights_mb.toFixed(1)} MB`;
      runs.wasm.push(w);
      runs.n1.push(native(opts, dtype, 1));
      if (cores > 1) runs.nall.push(native(opts, dtype, cores));
      console.error(`  ${dtype} round ${r}: wasm ${w.decode_tps.toFixed(1)} tok/s, native 1 thread ${runs.n1.at(-1).decode_tps}, ${cores} threads ${runs.nall.at(-1)?.decode_tps ?? "-"} (load ${load()})`);
    }
    const m = (rs, k) => median(rs.map((x) => x[k]));
    const wd = m(runs.wasm, "decode_tps");
    const rows = [[wasmName, runs.wasm], ["native, 1 thread", runs.n1]];
    if (cores > 1) rows.push([`native, ${cores} threads`, runs.nall]);
    for (const [name, rs] of rows) {
      console.log(`| ${held} | ${name} | ${m(rs, "prefill_tps").toFixed(1)} | ${m(rs, "decode_tps").toFixed(1)} | ${(wd / m(rs, "decode_tps")).toFixed(2)}x |`);
    }
  }
  console.log(`load at end ${load()}`);
}

// Response headers that make a page and its workers cross-origin isolated (SharedArrayBuffer, so
// wasm threads).
export const ISOLATED = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

/// Headless Chromium on a blank, cross-origin isolated page of web/tests/serve.mjs's origin (so
/// /pkg/ and /models/ are same-origin), with `routes` ({ "**/path": { contentType, body } })
/// served beside it. Returns { page, version, close }; `name` prefixes the page's errors.
export async function benchPage(name, { webgpu = false, routes = {} } = {}) {
  const { chromium } = await import("playwright-core");
  const { serve } = await import("../tests/serve.mjs");
  const server = await serve({ quiet: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), "tinychat-bench-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
      ...(webgpu ? ["--enable-unsafe-webgpu"] : [])],
  });
  const close = async () => {
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
    server.close();
  };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("crash", () => console.error(`${name}: the page crashed`));
    page.on("console", (m) => m.type() === "error" && console.error(`page: ${m.text()}`));
    const all = { "**/__bench.html": { contentType: "text/html", body: "<!doctype html><title>tinychat bench</title>" }, ...routes };
    for (const [glob, { contentType, body }] of Object.entries(all)) {
      await page.route(glob, (route) => route.fulfill({ contentType, headers: ISOLATED, body }));
    }
    await page.goto(server.url + "__bench.html");
    const version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? "Chromium");
    return { page, version, close };
  } catch (e) {
    await close();
    throw e;
  }
}

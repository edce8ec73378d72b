// One moderation check of a short message with the SmolLM2 bundle's moderator, as a page that
// imports the npm package runs it (`engine.moderate(text)`: the wasm CPU engine in its worker,
// on the page's cores; with --webgpu also on WebGPU, in headless Chromium), next to the native
// CPU engine (`tinychat bench moderate`) on the same bundle and text, rounds interleaved. Prints
// ms per check and checks/s for each, and wasm's time over native's.
//
//   make web/models/smollm2 && scripts/build-web.sh && cargo build --release
//   node web/bench/moderate-bench.mjs [--rounds 3] [--checks 20] [--webgpu] [--text "..."]
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { arg, benchPage, needBuilt, root } from "./common.mjs";

needBuilt();
const rounds = Number(arg("--rounds", "3"));
const checks = Number(arg("--checks", "20"));
const text = arg("--text", "Can you give me a simple recipe for chocolate chip cookies that my kids can help me bake?");
const webgpu = process.argv.includes("--webgpu");
for (const [name, v] of [["--rounds", rounds], ["--checks", checks]]) {
  if (!(Number.isInteger(v) && v >= 1)) {
    console.error(`${name} must be a positive integer, got ${v}`);
    process.exit(1);
  }
}
const bundle = path.join(root, "web/models/smollm2");
const native = path.join(root, "target/release/tinychat");

// The native CPU engine: `tinychat bench moderate` on the same text, best of `checks` passes
// (its GPU row is skipped: WGPU_BACKEND names a backend this build has none of).
async function nativeRun(dir) {
  const file = path.join(dir, "text.txt");
  await writeFile(file, text + "\n");
  const r = spawnSync(native, ["bench", "moderate", "--model", bundle, "--texts", file, "--repeat", String(checks)], {
    encoding: "utf8",
    env: { ...process.env, WGPU_BACKEND: "dx12" },
  });
  if (r.status !== 0) throw new Error(`${native} bench moderate: ${r.stderr || r.error}`);
  const row = r.stdout.split("\n").find((l) => l.startsWith("| CPU ("));
  const tokens = /\(([\d.]+) tokens each/.exec(r.stdout)?.[1];
  if (!row) throw new Error(`no CPU row in:\n${r.stdout}`);
  const cells = row.split("|").map((c) => c.trim());
  return { what: cells[1], ms: Number(cells[3]), tokens };
}

const { page, version, close } = await benchPage("moderate-bench", { webgpu });
try {
  // One engine per backend, opened once (the download and load are not timed); each round
  // times `checks` checks after one untimed.
  const open = (backend) =>
    page.evaluate(async (backend) => {
      const t = await import("/pkg/tinychat.js");
      const e = await t.createEngine({ pipeline: "/models/smollm2/pipeline.json", backend, cache: false });
      (window.__engines ??= {})[backend] = e;
      const i = e.info;
      return { backend: i.moderator_backend, detail: i.backend_detail, threads: i.cpu_threads, reason: i.cpu_threads_reason };
    }, backend);
  const time = (backend, n) =>
    page.evaluate(
      async ([backend, text, n]) => {
        const e = window.__engines[backend];
        const first = await e.moderate(text);
        let best = Infinity;
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await e.moderate(text);
          best = Math.min(best, performance.now() - t0);
        }
        return { ms: best, flagged: first.flagged };
      },
      [backend, text, n],
    );
  const backends = [["cpu", checks]];
  if (webgpu) backends.push(["webgpu", 1]);
  const info = {};
  for (const [b] of backends) info[b] = await open(b);
  const dir = await mkdtemp(path.join(os.tmpdir(), "tinychat-moderate-"));
  console.log(`text: ${JSON.stringify(text)}; wasm in headless ${version}; best of ${checks} checks a round`);
  console.log("| round | engine | ms per check | checks/s | over native |\n| ---: | --- | ---: | ---: | ---: |");
  for (let r = 1; r <= rounds; r++) {
    const n = await nativeRun(dir);
    console.log(`| ${r} | native ${n.what}, ${n.tokens} tokens | ${n.ms.toFixed(1)} | ${(1000 / n.ms).toFixed(1)} | 1.00× |`);
    for (const [b, k] of backends) {
      const w = await time(b, k);
      const what = b === "cpu" ? `wasm CPU, ${info.cpu.threads} thread(s)` : `moderator on ${info[b].backend}: ${info[b].detail}`;
      console.log(`| ${r} | ${what} | ${w.ms.toFixed(1)} | ${(1000 / w.ms).toFixed(2)} | ${(w.ms / n.ms).toFixed(2)}× |`);
    }
  }
  console.log(`wasm CPU threads: ${info.cpu.reason}`);
  await rm(dir, { recursive: true, force: true });
} catch (e) {
  console.error(`moderate-bench: ${e.message ?? e}`);
  process.exitCode = 1;
} finally {
  await close();
}

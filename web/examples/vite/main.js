// A Vite app that depends on the npm package: Vite bundles tinychat.js, its worker (with core.js
// and the wasm bindings) and emits the .wasm as an asset.
import { createEngine } from "tinychat";

const $ = (id) => document.getElementById(id);
const pipeline = new URLSearchParams(location.search).get("pipeline") ?? "/models/default/pipeline.json";

try {
  const engine = await createEngine({ pipeline, onProgress: (p) => ($("status").textContent = p.text) });
  $("status").textContent = `running on ${engine.backend}`;
  const reply = await engine.reply([{ role: "user", content: $("question").textContent }], {
    max_tokens: 48,
    onChunk: (c) => ($("answer").textContent += c.text),
  });
  $("verdict").textContent = `source: ${reply.source}; input flagged: ${reply.input_verdict.flagged}`;
  document.body.dataset.state = "done";
  await engine.dispose();
} catch (e) {
  $("status").textContent = e.message;
  document.body.dataset.state = "error";
}

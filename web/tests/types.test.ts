// Compile-only check of the package's TypeScript types (tinychat.d.ts): the calls the README
// shows must type-check, and misuse must not. Run by scripts/test-web.sh:
//   npx tsc --noEmit --strict --target es2022 --module es2022 --moduleResolution bundler --lib es2022,dom web/tests/types.test.ts
import {
  clearCache,
  createEngine,
  deleteCachedModel,
  listCachedModels,
  type ChatCompletion,
  type ChatCompletionChunk,
  type Chunk,
  type ErrorCode,
  type Reply,
  type TinychatError,
  type Verdict,
} from "../tinychat.js";

export async function usage(): Promise<void> {
  const engine = await createEngine({
    pipeline: "/models/default/pipeline.json",
    backend: "auto",
    onProgress: (p) => console.log(p.phase, p.progress.toFixed(2), p.text),
  });
  const b: "webgpu" | "cpu" = engine.backend;
  console.log(b, engine.backendReason, engine.info.moderator_labels.join(","));

  const reply: Reply = await engine.reply([{ role: "user", content: "Hi" }], {
    temperature: 0.7,
    max_tokens: 32,
    onChunk: (c: Chunk) => console.log(c.type === "template" ? c.stage : c.text),
  });
  const cat: string | null = reply.template_category;
  const out: Verdict | null = reply.output_verdict;
  console.log(cat, out?.categories.map((c) => c.score));

  const stream = engine.replyStream([{ role: "user", content: "Hi" }], { seed: 1 });
  for await (const chunk of stream) console.log(chunk.text);
  console.log((await stream.reply).finish_reason);

  const done: ChatCompletion = await engine.chat.completions.create({
    messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
    top_p: 0.9,
  });
  console.log(done.choices[0].message.content, done.moderation.input.flagged);
  const chunks = await engine.chat.completions.create({ messages: [{ role: "user", content: "Hi" }], stream: true });
  for await (const c of chunks) {
    const chunk: ChatCompletionChunk = c;
    console.log(chunk.choices[0].delta.content, chunk.usage?.total_tokens);
  }

  const v: Verdict = await engine.moderate("text");
  console.log(v.flagged);
  await engine.dispose();
  console.log((await listCachedModels()).map((m) => m.bytes), await deleteCachedModel("/x/pipeline.json"), await clearCache());

  // A .gguf chat model with a bundle's moderator, both ways.
  const gguf = await createEngine({ pipeline: "/models/default/pipeline.json", model: "/m/SmolLM2.gguf" });
  const same = await createEngine({ pipeline: "/m/SmolLM2.gguf", moderator: "/models/default/pipeline.json" });
  console.log(gguf.info.model, same.info.chat_model_path, gguf.backendDetail, gguf.contract.sampling_keys.includes("top_p"));
  try {
    await gguf.reply([{ role: "user", content: "Hi" }]);
  } catch (e) {
    const code: ErrorCode = (e as TinychatError).code;
    if (code === "prompt_too_long") console.log("shorter, please");
  }

  // @ts-expect-error: not a backend
  await createEngine({ pipeline: "/p.json", backend: "tpu" });
  // @ts-expect-error: the pipeline URL is required
  await createEngine({});
}

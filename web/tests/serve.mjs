// A small static server for the demo (`make demo`) and the browser tests, on 127.0.0.1 unless
// --host says otherwise.
//
//   node web/tests/serve.mjs [--port 8080] [--host 127.0.0.1] [--bundle web/models/test]
//
// Serves web/ at /, pkg/ (the built npm package) at /pkg/, every response cross-origin isolated
// (COOP same-origin + COEP require-corp: the threaded wasm build needs SharedArrayBuffer, which
// only such pages get). With --bundle, also serves that bundle at /bundles/test/ and two broken
// copies for error tests: /bundles/corrupt/ (the chat model's weights replaced by junk) and
// /bundles/truncated/ (its download cut off halfway). /bundles/smollm2-ctx<N>/ is
// web/models/smollm2 with pipeline.json's "context" set to N (a conversation outgrows it fast).
// GET /__stats lists how often each path was requested (POST /__stats/reset clears it).
import { createServer } from "node:http";
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".png": "image/png",
  ".safetensors": "application/octet-stream",
  ".gguf": "application/octet-stream",
};
// Cross-origin isolation (and same-origin resources), on every response.
const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

export async function serve({ port = 0, host = "127.0.0.1", bundle = null, quiet = false } = {}) {
  const stats = new Map();
  const mounts = [
    ["/pkg/", path.join(root, "pkg")],
    ["/", path.join(root, "web")],
  ];
  const bundleDir = bundle ? path.resolve(bundle) : null;

  async function sendFile(req, res, file, { truncate = false, replace = null, cors = false } = {}) {
    let stat;
    try {
      stat = await fs.stat(file);
      if (stat.isDirectory()) {
        file = path.join(file, "index.html");
        stat = await fs.stat(file);
      }
    } catch {
      const allow = cors ? { "access-control-allow-origin": "*" } : {};
      res.writeHead(404, { ...ISOLATION, "content-type": "text/plain", ...allow }).end("not found\n");
      return;
    }
    const headers = {
      ...ISOLATION,
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "cache-control": "no-cache",
      // The bundles may be loaded from another origin (http://localhost:<port> for a page on
      // 127.0.0.1): the demo's cross-origin confirmation test.
      ...(cors ? { "access-control-allow-origin": "*" } : {}),
    };
    if (replace) {
      res.writeHead(200, { ...headers, "content-length": replace.length }).end(replace);
      return;
    }
    res.writeHead(200, { ...headers, "content-length": stat.size });
    if (req.method === "HEAD") return res.end();
    if (truncate) {
      // Send half the bytes, then drop the connection: an aborted download.
      const half = Math.floor(stat.size / 2);
      createReadStream(file, { start: 0, end: half - 1 })
        .on("end", () => setTimeout(() => res.socket?.destroy(), 50))
        .pipe(res, { end: false });
      return;
    }
    createReadStream(file).pipe(res);
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const p = decodeURIComponent(url.pathname);
    stats.set(p, (stats.get(p) ?? 0) + 1);
    if (!quiet) console.log(`${req.method} ${p}`);
    if (p === "/__stats") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Object.fromEntries(stats)));
      return;
    }
    if (p === "/__stats/reset") {
      stats.clear();
      res.writeHead(204).end();
      return;
    }
    if (p.split("/").includes("..")) {
      res.writeHead(400, ISOLATION).end();
      return;
    }
    const small = /^\/bundles\/smollm2-ctx(\d+)\/(.*)$/.exec(p);
    if (small) {
      const [, context, rest] = small;
      const dir = path.join(root, "web/models/smollm2");
      if (rest !== "pipeline.json") return sendFile(req, res, path.join(dir, rest));
      try {
        const cfg = JSON.parse(await fs.readFile(path.join(dir, rest), "utf8"));
        cfg.context = Number(context);
        return sendFile(req, res, path.join(dir, rest), { replace: Buffer.from(JSON.stringify(cfg)) });
      } catch {
        return sendFile(req, res, path.join(dir, "missing"));
      }
    }
    const m = /^\/bundles\/(test|corrupt|truncated)\/(.*)$/.exec(p);
    if (m && bundleDir) {
      const [, kind, rest] = m;
      const file = path.join(bundleDir, rest);
      const weights = rest === "chat/model.safetensors";
      if (kind === "corrupt" && weights) {
        const junk = Buffer.alloc(4096, 0x5a);
        junk.writeBigUInt64LE(64n, 0); // a header length that points at junk, not JSON
        return sendFile(req, res, file, { replace: junk, cors: true });
      }
      return sendFile(req, res, file, { truncate: kind === "truncated" && weights, cors: true });
    }
    for (const [prefix, dir] of mounts) {
      if (p.startsWith(prefix)) return sendFile(req, res, path.join(dir, p.slice(prefix.length)));
    }
    res.writeHead(404, ISOLATION).end();
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const { port: actual } = server.address();
  const shown = host.includes(":") ? `[${host}]` : host;
  return { server, url: `http://${shown}:${actual}/`, stats, close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const { url } = await serve({
    port: Number(arg("--port", 8080)),
    host: arg("--host", "127.0.0.1"),
    bundle: arg("--bundle", null),
    quiet: process.argv.includes("--quiet"),
  });
  console.log(`tinychat demo: ${url}  (web/ at /, pkg/ at /pkg/${arg("--bundle", null) ? ", test bundle at /bundles/test/" : ""}; Ctrl-C stops it)`);
}

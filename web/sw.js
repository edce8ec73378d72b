// The demo's service worker: keeps the page, its script and the npm package (JS + wasm) in
// Cache Storage so the demo opens offline after the first visit. Model files are cached by
// tinychat itself (core.js, cache "tinychat-models-v1"). Network first, so a rebuilt package is
// picked up whenever the server is reachable; the cache answers only when it is not.
const CACHE = "tinychat-demo-v1";
const SHELL = [
  "./",
  "./index.html",
  "./demo.js",
  "./demo.css",
  "./pkg/tinychat.js",
  "./pkg/core.js",
  "./pkg/worker.js",
  "./pkg/tinychat_wasm.js",
  "./pkg/tinychat_wasm_bg.wasm",
];
// The threaded build (cross-origin isolated pages) and its worker script under pkg/snippets/:
// cached as they are fetched, and best-effort at install (a package may be built without them;
// offline without them the engine runs on one thread).
const OPTIONAL = ["./pkg/tinychat_wasm_mt.js", "./pkg/tinychat_wasm_mt_bg.wasm"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL).then(() => Promise.all(OPTIONAL.map((p) => c.add(p).catch(() => {})))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scoped = (p) => new URL(p, self.registration.scope).pathname;
  const shell =
    [...SHELL, ...OPTIONAL].some((p) => scoped(p) === url.pathname) || url.pathname.startsWith(scoped("./pkg/snippets/"));
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !shell) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(event.request);
        if (response.ok) await cache.put(url.pathname, response.clone());
        return response;
      } catch (e) {
        const hit = await cache.match(url.pathname);
        if (hit) return hit;
        throw e;
      }
    })(),
  );
});

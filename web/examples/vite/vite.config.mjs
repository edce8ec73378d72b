// `npx vite build --config web/examples/vite/vite.config.mjs` → web/examples/vite/dist/.
// "tinychat" resolves to the built package in pkg/, as `npm install tinychat` would provide it.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here("."),
  base: "./",
  resolve: { alias: { tinychat: here("../../../pkg/tinychat.js") } },
  build: { outDir: here("dist"), emptyOutDir: true, target: "es2022" },
  worker: { format: "es" },
  logLevel: "warn",
});

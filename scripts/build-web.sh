#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm library (release), its wasm-bindgen bindings, the JS
# wrapper (web/tinychat.js, core.js, worker.js), TypeScript types, package.json and README.
#
#   scripts/build-web.sh            # build pkg/
#   WASM_OPT=1 scripts/build-web.sh # also shrink the wasm with wasm-opt from npm's `binaryen`
#                                   # (node_modules/.bin/wasm-opt; never a system binary)
set -euo pipefail
cd "$(dirname "$0")/.."

# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "error: wasm-bindgen CLI ${have:-missing}, but Cargo.lock pins wasm-bindgen $want." >&2
  echo "       install it with: cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi

echo "==> cargo build --lib --target wasm32-unknown-unknown --release"
cargo build --lib --target wasm32-unknown-unknown --release

target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
wasm="$target_dir/wasm32-unknown-unknown/release/tinychat.wasm"

echo "==> wasm-bindgen --target web --out-dir pkg"
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name tinychat_wasm "$wasm"

if [ "${WASM_OPT:-0}" = 1 ]; then
  if [ -x node_modules/.bin/wasm-opt ]; then
    echo "==> wasm-opt -O3 (npm binaryen)"
    node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-simd \
      pkg/tinychat_wasm_bg.wasm -o pkg/tinychat_wasm_bg.wasm
  else
    echo "error: WASM_OPT=1 needs npm's binaryen: npm install --no-save binaryen" >&2
    exit 1
  fi
fi

cp web/tinychat.js web/core.js web/worker.js web/tinychat.d.ts pkg/
cp web/README.npm.md pkg/README.md
for f in LICENSE-MIT LICENSE-APACHE LICENSE; do
  if [ -f "$f" ]; then cp "$f" pkg/; fi
done

version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
cat > pkg/package.json <<EOF
{
  "name": "tinychat",
  "version": "$version",
  "description": "A small, private ChatGPT in the browser: input moderation, a chat model and output moderation in WebAssembly, on WebGPU with a CPU fallback, in a Web Worker",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "./tinychat.js",
  "module": "./tinychat.js",
  "types": "./tinychat.d.ts",
  "exports": {
    ".": {
      "types": "./tinychat.d.ts",
      "import": "./tinychat.js",
      "default": "./tinychat.js"
    },
    "./worker.js": "./worker.js",
    "./core.js": "./core.js",
    "./wasm": {
      "types": "./tinychat_wasm.d.ts",
      "default": "./tinychat_wasm.js"
    },
    "./tinychat_wasm_bg.wasm": "./tinychat_wasm_bg.wasm",
    "./package.json": "./package.json"
  },
  "files": [
    "tinychat.js",
    "tinychat.d.ts",
    "core.js",
    "worker.js",
    "tinychat_wasm.js",
    "tinychat_wasm.d.ts",
    "tinychat_wasm_bg.wasm",
    "tinychat_wasm_bg.wasm.d.ts",
    "README.md",
    "LICENSE-MIT",
    "LICENSE-APACHE"
  ],
  "sideEffects": ["./worker.js"],
  "keywords": ["llm", "chat", "webgpu", "wasm", "moderation", "worker", "openai"]
}
EOF
echo "==> pkg/ ($(du -sh pkg | cut -f1)):"
ls -l pkg

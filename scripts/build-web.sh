#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm library (release), its wasm-bindgen bindings, the JS
# wrapper (web/tinychat.js, core.js, worker.js), TypeScript types, package.json and README.
#
#   scripts/build-web.sh            # build pkg/
#   WASM_OPT=1 scripts/build-web.sh # also shrink the wasm with wasm-opt from npm's `binaryen`
#                                   # (node_modules/.bin/wasm-opt; never a system binary)
#   WASM_THREADS=0 scripts/build-web.sh  # without the threaded build (no nightly toolchain needed)
#
# pkg/ holds two builds of the library: tinychat_wasm.js (one thread, stable Rust) and
# tinychat_wasm_mt.js (the `wasm-threads` feature: the CPU engine on rayon's pool of Web Workers
# sharing the module's memory). core.js loads the threaded one on cross-origin isolated pages.
# Threads in wasm need std rebuilt with atomics: a nightly toolchain (pinned below, installed by
# scripts/install-deps.sh with rust-src) and `-Z build-std`.
set -euo pipefail
cd "$(dirname "$0")/.."

NIGHTLY=nightly-2026-05-20

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
# Assembled in a scratch directory and moved into place at the end, so that a concurrent build
# or a page being served never sees a half-written pkg/.
out=$(mktemp -d "$target_dir/web-pkg.XXXXXX")
trap 'rm -rf "$out"' EXIT
wasm-bindgen --target web --out-dir "$out" --out-name tinychat_wasm "$wasm"

if [ "${WASM_THREADS:-1}" = 1 ]; then
  if ! rustup component list --toolchain "$NIGHTLY" --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "error: the threaded wasm build needs the $NIGHTLY toolchain with rust-src. Install it with" >&2
    echo "       rustup toolchain install $NIGHTLY --profile minimal --component rust-src" >&2
    echo "       (make deps does), or build without it: WASM_THREADS=0 scripts/build-web.sh" >&2
    exit 1
  fi
  echo "==> cargo +$NIGHTLY build --lib --target wasm32-unknown-unknown --release --features wasm-threads -Z build-std"
  # Its own target directory: other flags and another toolchain than the build above. The
  # linker gets a shared, imported memory (which may grow to 4 GiB, as the single-threaded
  # module's may) and the thread-local storage exports wasm-bindgen's thread start-up calls.
  link="--shared-memory --import-memory --max-memory=4294967296 --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base"
  RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128 $(printf -- ' -C link-arg=%s' $link)" \
    cargo "+$NIGHTLY" build --lib --target wasm32-unknown-unknown --release --features wasm-threads \
    -Z build-std=panic_abort,std --target-dir "$target_dir/wasm-threads"
  echo "==> wasm-bindgen --target web --out-name tinychat_wasm_mt"
  wasm-bindgen --target web --out-dir "$out" --out-name tinychat_wasm_mt \
    "$target_dir/wasm-threads/wasm32-unknown-unknown/release/tinychat.wasm"
fi

if [ "${WASM_OPT:-0}" = 1 ]; then
  if [ -x node_modules/.bin/wasm-opt ]; then
    echo "==> wasm-opt -O3 (npm binaryen)"
    node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-simd \
      "$out/tinychat_wasm_bg.wasm" -o "$out/tinychat_wasm_bg.wasm"
  else
    echo "error: WASM_OPT=1 needs npm's binaryen: npm install --no-save binaryen" >&2
    exit 1
  fi
fi

cp web/tinychat.js web/core.js web/worker.js web/tinychat.d.ts "$out"/
cp web/README.npm.md "$out"/README.md
for f in LICENSE-MIT LICENSE-APACHE LICENSE; do
  if [ -f "$f" ]; then cp "$f" "$out"/; fi
done

version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
cat > "$out"/package.json <<EOF
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
    "./tinychat_wasm_mt.js": "./tinychat_wasm_mt.js",
    "./tinychat_wasm_mt_bg.wasm": "./tinychat_wasm_mt_bg.wasm",
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
    "tinychat_wasm_mt.js",
    "tinychat_wasm_mt.d.ts",
    "tinychat_wasm_mt_bg.wasm",
    "tinychat_wasm_mt_bg.wasm.d.ts",
    "snippets/",
    "README.md",
    "LICENSE-MIT",
    "LICENSE-APACHE"
  ],
  "sideEffects": ["./worker.js"],
  "keywords": ["llm", "chat", "webgpu", "wasm", "moderation", "worker", "openai"]
}
EOF
chmod 755 "$out"
old="$target_dir/web-pkg-old.$$"
if [ -d pkg ]; then mv pkg "$old"; fi
mv "$out" pkg
rm -rf "$old"
trap - EXIT
echo "==> pkg/ ($(du -sh pkg | cut -f1)):"
ls -l pkg

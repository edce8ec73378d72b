#!/usr/bin/env bash
# Installs what the tests and the demo need, and only what is missing, so it is cheap to re-run:
#   - Debian packages: mesa-vulkan-drivers + libvulkan1 (lavapipe, a Vulkan GPU on the CPU, for
#     the wgpu tests), chromium + chromium-driver (headless browser tests);
#   - the Rust target wasm32-unknown-unknown (and rustfmt, for `cargo fmt --check`);
#   - the pinned nightly toolchain with rust-src, for the threaded wasm build (scripts/build-web.sh);
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (the CLI and the crate
#     must match, or the generated bindings are refused);
#   - npm devDependencies, when the repository has a package.json.
# Runs as root (CI) or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "==> deps: $*"; }

# ---- Debian packages ---------------------------------------------------------------------
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
fi
missing=()
for pkg in mesa-vulkan-drivers libvulkan1 chromium chromium-driver; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
else
  say "Debian packages present"
fi

# ---- Rust target and tools ---------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if ! rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then
  say "rustup component add rustfmt"
  rustup component add rustfmt
fi
nightly=$(awk -F= '/^NIGHTLY=/ { print $2; exit }' scripts/build-web.sh)
if ! rustup component list --toolchain "$nightly" --installed 2>/dev/null | grep -q '^rust-src'; then
  say "rustup toolchain install $nightly --profile minimal --component rust-src (the threaded wasm build)"
  rustup toolchain install "$nightly" --profile minimal --component rust-src
else
  say "$nightly with rust-src present"
fi

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
  echo "deps: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  say "cargo install wasm-bindgen-cli --version $want (found: ${have:-none}; a few minutes)"
  cargo install wasm-bindgen-cli --version "$want"
else
  say "wasm-bindgen-cli $want present"
fi

# ---- npm devDependencies -----------------------------------------------------------------
if [ -f package.json ]; then
  # npm writes node_modules/.package-lock.json on every install; a newer lock file means stale.
  if [ ! -f node_modules/.package-lock.json ] ||
     { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; } ||
     [ package.json -nt node_modules/.package-lock.json ]; then
    if [ -f package-lock.json ]; then
      say "npm ci"
      npm ci --no-audit --no-fund
    else
      say "npm install"
      npm install --no-audit --no-fund
    fi
  else
    say "npm packages present"
  fi
fi

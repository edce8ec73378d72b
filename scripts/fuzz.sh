#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/README.md) with cargo-fuzz on the nightly toolchain.
#
#   scripts/fuzz.sh                    # smoke: every target for 20 s (FUZZ_SECONDS to change)
#   scripts/fuzz.sh --long             # a campaign: every target, one at a time, for 30 minutes
#                                      # or 1,000,000 executions, whichever comes first, at nice 19
#   scripts/fuzz.sh model gguf         # only these targets (either mode)
#
# Each run is capped at 2 GB of memory (-rss_limit_mb=2048) and 2 s per input (-timeout=2). The
# corpus grows in fuzz/corpus/<target>/ (seeded from the fixtures and the committed bundle by
# `cargo run --example fuzz_seeds`); crashes land in fuzz/artifacts/<target>/, and the script
# fails when there are any. A crash that is fixed goes to fuzz/regressions/<target>/ (committed),
# which tests/engine/fuzz_regressions.rs replays on stable in `cargo test`.
#
# Needs: the nightly toolchain (rustup toolchain install nightly) and cargo-fuzz, which is
# installed from crates.io when missing (the only network access; CI does not run this script
# because installing cargo-fuzz and building the targets with sanitizers takes ~15 minutes on
# 2 cores: run it by hand, or `make fuzz`).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(model gguf tokenizer chat_template template_overrides bundle generation_config)
long=0
targets=()
for a in "$@"; do
  case "$a" in
    --long) long=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) targets+=("$a") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")

rustup toolchain list | grep -q '^nightly' || { echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked
fi

echo "==> seeds: cargo run --example fuzz_seeds -- fuzz/corpus"
cargo run --quiet --example fuzz_seeds -- fuzz/corpus

if [ $long = 1 ]; then
  budget=(-max_total_time="${FUZZ_SECONDS:-1800}" -runs=1000000)
  nice=(nice -n 19)
else
  budget=(-max_total_time="${FUZZ_SECONDS:-20}")
  nice=()
fi

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
  # The model target's seeds are whole safetensors files (up to 7 MB): let inputs be 1 MB; the
  # GGUF fixtures are up to 88 kB.
  max_len=65536
  [ "$t" = model ] && max_len=1048576
  [ "$t" = gguf ] && max_len=131072
  echo "==> fuzz $t (${budget[*]})"
  log="fuzz/artifacts/$t.log"
  if ! "${nice[@]}" cargo +nightly fuzz run --fuzz-dir fuzz --sanitizer none "$t" "fuzz/corpus/$t" -- \
      "${budget[@]}" -rss_limit_mb=2048 -timeout=2 -max_len=$max_len \
      -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 2>&1 | tee "$log" | grep -E '^(#[0-9]+ +(DONE|INITED)|stat::|==|SUMMARY|Done)' ; then
    :
  fi
  if compgen -G "fuzz/artifacts/$t/*" >/dev/null; then
    failed+=("$t")
    echo "fuzz: $t found crashes: $(ls "fuzz/artifacts/$t")" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/; reproduce with cargo +nightly fuzz run --fuzz-dir fuzz <target> <file>)" >&2
  exit 1
fi
echo "==> fuzz: no crashes"

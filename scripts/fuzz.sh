#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/README.md) with cargo-fuzz on the nightly toolchain.
#
#   scripts/fuzz.sh                    # smoke: every target for 20 s (FUZZ_SECONDS to change)
#   scripts/fuzz.sh --long             # a campaign: every target, one at a time, for 30 minutes
#                                      # or 1,000,000 executions, whichever comes first, at nice 19
#   scripts/fuzz.sh model gguf         # only these targets (either mode)
#
# Each run is capped at 2 GB of memory (-rss_limit_mb=2048). The corpus grows in
# fuzz/corpus/<target>/ (seeded from the fixtures and the committed bundle by `cargo run --example
# fuzz_seeds`); crashes land in fuzz/artifacts/<target>/, and the script fails when there are any.
# A hang is an input that takes 2 s of CPU: libFuzzer's clocks are wall-clock time, and on a busy
# machine (and at nice 19) a quick input can wait seconds for a CPU, so libFuzzer reports units
# slower than 2 s (-report_slow_units=2, saved as slow-unit-*) and stops at 10 s (-timeout=10,
# timeout-*); each is replayed alone and its CPU time measured. One under 2 s goes to
# fuzz/artifacts/<target>/unconfirmed/ and fuzzing goes on; one over 2 s is a hang and fails the
# target. libFuzzer saves a slow unit only when it is slower than the slowest so far in that run,
# so after a stall of s seconds an input of 2 to s seconds goes unsaved until the next run (every
# stopped run restarts); one over 10 s is always caught. Each target ends with a line
# "fuzz: <target>: N executions in S s". A crash that is fixed goes to
# fuzz/regressions/<target>/ (committed), which tests/engine/fuzz_regressions.rs replays on stable
# in `cargo test`.
#
# Needs: the nightly toolchain (rustup toolchain install nightly) and cargo-fuzz, which is
# installed from crates.io when missing (the only network access; CI does not run this script
# because installing cargo-fuzz and building the targets takes ~15 minutes on 2 cores: run it by
# hand, or `make fuzz`; `cargo test` runs each harness briefly on stable instead).
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

# --long runs at nice 19 (FUZZ_NICE to change) so that it can run beside other work.
if [ $long = 1 ]; then
  seconds=${FUZZ_SECONDS:-1800}
  runs=1000000
  nice=(nice -n "${FUZZ_NICE:-19}")
else
  seconds=${FUZZ_SECONDS:-20}
  runs=0
  nice=()
fi
bin_dir="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

# Files directly in a directory (0 when it does not exist).
files_in() {
  if [ -d "$1" ]; then find "$1" -maxdepth 1 -type f | wc -l; else echo 0; fi
}

# Replays each slow unit and timeout of target $1 alone and measures its CPU time (user +
# system): under 2 s it goes to unconfirmed/ (a stall under load), else it stays (a hang). Sets
# `moved` to the number moved; the target's failures are then the files left in its directory.
confirm_slow_units() {
  local t=$1 f cpu
  moved=0
  for f in "fuzz/artifacts/$t"/timeout-* "fuzz/artifacts/$t"/slow-unit-*; do
    [ -e "$f" ] || continue
    # The replay itself stops at 10 s (a real hang would otherwise run for libFuzzer's default
    # 20 minutes); its exit status is not what is measured (|| true keeps set -e out of it).
    cpu=$( { TIMEFORMAT='%U %S'; time "$bin_dir/$t" -timeout=10 -rss_limit_mb=2048 "$f" >/dev/null 2>&1 || true; } 2>&1 | awk '{ print $1 + $2 }')
    if [ -n "$cpu" ] && awk -v c="$cpu" 'BEGIN { exit !(c < 2) }'; then
      mkdir -p "fuzz/artifacts/$t/unconfirmed"
      mv -f "$f" "fuzz/artifacts/$t/unconfirmed/"
      moved=$((moved + 1))
      echo "fuzz: $t: $(basename "$f") takes ${cpu} s of CPU alone: a stall under load, not counted (unconfirmed/)" >&2
    else
      echo "fuzz: $t: $(basename "$f") takes ${cpu} s of CPU alone: a hang" >&2
    fi
  done
}

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
  # The model target's seeds are whole safetensors files (up to 7 MB): let inputs be 1 MB; the
  # GGUF fixtures are up to 88 kB.
  max_len=65536
  [ "$t" = model ] && max_len=1048576
  [ "$t" = gguf ] && max_len=131072
  log="fuzz/artifacts/$t.log"
  : >"$log"
  start=$SECONDS
  done_runs=0
  # One libFuzzer run stops at its first crash or timeout: go on after an unconfirmed timeout
  # until the budget (time, and with --long executions) is spent.
  while :; do
    left=$((seconds - (SECONDS - start)))
    budget=(-max_total_time=$left)
    if [ $runs -gt 0 ]; then
      [ $done_runs -lt $runs ] || break
      budget+=(-runs=$((runs - done_runs)))
    fi
    [ $left -gt 0 ] || break
    echo "==> fuzz $t (${budget[*]})"
    part=$(mktemp)
    "${nice[@]}" cargo +nightly fuzz run --fuzz-dir fuzz --sanitizer none "$t" "fuzz/corpus/$t" -- \
      "${budget[@]}" -rss_limit_mb=2048 -timeout=10 -report_slow_units=2 -max_len=$max_len \
      -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$part" 2>&1 || true
    cat "$part" >>"$log"
    grep -E '^(#[0-9]+ +(DONE|INITED)|stat::|==|SUMMARY|Done|Slowest)' "$part" || true
    # Executions: the final stats, or where a run printed none (a crash) its last status line.
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$part" | tail -1)
    [ -n "$n" ] || n=$(sed -n 's/^#\([0-9]\{1,\}\)[[:space:]].*/\1/p' "$part" | tail -1)
    ended_at_timeout=$(grep -c '^==.*ERROR: libFuzzer: timeout' "$part" || true)
    rm -f "$part"
    done_runs=$((done_runs + ${n:-0}))
    confirm_slow_units "$t"
    [ "$(files_in "fuzz/artifacts/$t")" = 0 ] || break
    # Go on only when this run ended at a timeout that was a stall.
    [ "$ended_at_timeout" -gt 0 ] && [ "$moved" -gt 0 ] || break
  done
  echo "fuzz: $t: $done_runs executions in $((SECONDS - start)) s"
  if [ "$(files_in "fuzz/artifacts/$t")" != 0 ]; then
    failed+=("$t")
    echo "fuzz: $t found crashes: $(find "fuzz/artifacts/$t" -maxdepth 1 -type f -printf '%f ')" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/; reproduce with cargo +nightly fuzz run --fuzz-dir fuzz <target> <file>)" >&2
  exit 1
fi
echo "==> fuzz: no crashes"

#!/usr/bin/env bash
# A short run of every fuzz target in fuzz/ (FUZZ_SECONDS each, default 30), so the targets
# keep building and what a few seconds of fuzzing finds fails CI. Longer runs: FUZZ_SECONDS.
#
# Builds the targets as `cargo fuzz run -O` does (libFuzzer with SanitizerCoverage and
# AddressSanitizer, `--cfg fuzzing`), without needing cargo-fuzz installed. AddressSanitizer
# is a nightly feature; on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks it. A crash leaves
# its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

SECONDS_EACH="${FUZZ_SECONDS:-30}"
host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTC_BOOTSTRAP=1
# cargo-fuzz's flags; `--target` keeps them off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Zsanitizer=address -Cdebug-assertions -Coverflow-checks"
cargo build --release --locked --target "$host" --bins

# The longest input per target: a whole Cookie header, or one cookie value.
declare -A max_len=([cookie_header]=70000)
for source in fuzz_targets/*.rs; do
    name="$(basename "$source" .rs)"
    mkdir -p "corpus/$name" "artifacts/$name"
    log="$(mktemp)"
    status=0
    # Committed seeds (fuzz/seeds/<target>/), when a target has them, start the corpus.
    seeds=()
    [[ -d "seeds/$name" ]] && seeds=("seeds/$name")
    "target/$host/release/$name" "corpus/$name" "${seeds[@]}" \
        -max_total_time="$SECONDS_EACH" -max_len="${max_len[$name]:-8192}" \
        -artifact_prefix="artifacts/$name/" -print_final_stats=1 2> "$log" || status=$?
    if [[ "$status" -ne 0 ]]; then
        tail -n 80 "$log" >&2
        rm -f "$log"
        echo "fuzz.sh: $name failed (exit $status); the input is in fuzz/artifacts/$name/" >&2
        exit 1
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    echo "fuzz $name: ${runs:-?} runs in ${SECONDS_EACH} s, no crash"
    rm -f "$log"
done

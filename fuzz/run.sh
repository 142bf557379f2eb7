#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and reports crashes.
#
# Usage: fuzz/run.sh [SECONDS]      (default 60 s per target)
# Environment: TARGETS="validate sanitize" to run only some; JOBS=N to run N
# libFuzzer workers per target (default 1).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and the nightly-only flags it
# passes to rustc: on a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# Seeds in fuzz/seeds/<target>/ start the corpus (fuzz/corpus/<target>/,
# kept between runs, not committed); a crash leaves its input in
# fuzz/artifacts/<target>/ and the run exits 1. Put a fixed crash's input in
# fuzz/seeds/<target>/ so `cargo test` (tests/corpus.rs) keeps checking it.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-60}
JOBS=${JOBS:-1}
TARGETS=${TARGETS:-"wire_client_frame validate sanitize"}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi

for t in $TARGETS; do
    cargo fuzz build "$t"
done

failed=()
total=0
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    if [[ -d "seeds/$t" ]]; then
        cp -n "seeds/$t"/* "corpus/$t/" 2>/dev/null || true
    fi
    log="target/fuzz-$t.log"
    echo "run.sh: $t for ${SECS}s (log: fuzz/$log)"
    parallel=()
    if [[ $JOBS -gt 1 ]]; then
        # libFuzzer's jobs mode writes each worker's output to fuzz-N.log.
        parallel=(-jobs="$JOBS" -workers="$JOBS")
    fi
    status=0
    cargo fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 "${parallel[@]}" >"$log" 2>&1 || status=$?
    logs=("$log")
    for worker in fuzz-*.log; do
        [[ -e "$worker" ]] || continue
        cat "$worker" >>"$log"
        rm -f "$worker"
    done
    execs=$(grep -h 'stat::number_of_executed_units' "${logs[@]}" | awk '{s += $2} END {print s + 0}')
    total=$((total + execs))
    if [[ $status -eq 0 ]]; then
        echo "run.sh: $t: no crash, $execs executions, corpus $(find "corpus/$t" -type f | wc -l) inputs"
    else
        echo "run.sh: $t: CRASH (exit $status) after $execs executions:" >&2
        grep -h -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -n 10 >&2 || true
        failed+=("$t")
    fi
done
echo "run.sh: $total executions in total"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "run.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi

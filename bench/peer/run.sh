#!/usr/bin/env bash
# mchatd and Matrix Synapse side by side: the same scenario (the peer bench's
# bench.py), the same machine, loopback, SQLite with synchronous=FULL on both,
# rate limits off on both; runs interleaved (mchatd, synapse, mchatd, ...),
# then one table of medians with the ratio per figure.
#
#   bench/peer/run.sh                 # RUNS=3 pairs (~12 min, most of it Synapse)
#   RUNS=1 bench/peer/run.sh          # one pair
#   bench/peer/run.sh --tp-n 200      # extra bench.py arguments go to both servers
#
# Needs python3 (3.10+) with venv and PyPI access the first time (the peer's
# run.sh installs Synapse and aiohttp into $WORKDIR/venv).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEER="${PEER_DIR:-$ROOT/../shared/bench/peer-synapse}"
RUNS="${RUNS:-3}"
export WORKDIR="${WORKDIR:-/tmp/peer-synapse}"
OUT="${OUT:-/tmp/peer-compare}"
VPY="$WORKDIR/venv/bin/python"
log() { echo "[peer/run.sh] $*" >&2; }

[ -f "$PEER/bench.py" ] || { echo "peer bench not found at $PEER (set PEER_DIR)" >&2; exit 1; }
mkdir -p "$OUT"
: > "$OUT/results.jsonl"
(cd "$ROOT" && cargo build --release -q -p mchatd)
MCHATD="$ROOT/target/release/mchatd"

run_mchatd() {
  local dir pid port i
  dir="$(mktemp -d /tmp/peer-mchatd-XXXX)"
  MCHATD_LIMITS__SEND_PER_SEC=0 MCHATD_LIMITS__AUTH_PER_MIN=0 \
  MCHATD_REGISTRATION__REQUIRE_MENTOR_APPROVAL=false \
    "$MCHATD" --bind 127.0.0.1:0 --data-dir "$dir/data" >"$dir/stdout" 2>"$dir/log" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true' RETURN
  port=""
  for i in $(seq 1 100); do
    port="$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/stdout" 2>/dev/null | head -1 || true)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { log "mchatd did not start"; cat "$dir/log" >&2; return 1; }
  log "mchatd pid $pid on $port"
  "$VPY" "$HERE/mchatd_adapter.py" --peer-dir "$PEER" --base "$port" --api mchatd \
    --pid "$pid" --db "$dir/data/mchatd.sqlite3" --label mchatd \
    --extra "{\"server\": \"mchatd\", \"version\": \"$("$MCHATD" --version | awk '{print $2}')\", \"ratelimits\": \"off\"}" \
    "$@" | tee -a "$OUT/results.jsonl"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

for run in $(seq 1 "$RUNS"); do
  log "pair $run/$RUNS: Synapse"
  RUNS=1 "$PEER/run.sh" "$@" | tee -a "$OUT/results.jsonl"   # also creates the venv the first time
  log "pair $run/$RUNS: mchatd"
  run_mchatd "$@"
done
python3 "$HERE/compare.py" "$OUT/results.jsonl" | tee "$OUT/table.txt"

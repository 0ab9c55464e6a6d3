#!/usr/bin/env bash
# Load check (not a CI test): the release binary on loopback, wrk POSTing
# small estimate jobs (estimate.lua), then the service's peak RSS.
#
#   benches/load/run.sh [path/to/gradest] [wrk options...]
#     default binary target/release/gradest; default options -t2 -c32 -d20s --latency
#
# wrk runs on the same machine and shares its cores with the service: on a
# 2-core machine the figures are for both together.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BIN="${1:-$REPO/target/release/gradest}"
shift || true
WRK_ARGS=("$@")
[[ ${#WRK_ARGS[@]} -gt 0 ]] || WRK_ARGS=(-t2 -c32 -d20s --latency)

command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[[ -x "$BIN" ]] || { echo "run.sh: no binary at $BIN (cargo build --release)" >&2; exit 2; }

LOG="$(mktemp)"
PID=""
cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -f "$LOG"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# Port 0: the service binds a free port and logs it. Request logs are off
# (warn), as a production deployment under load would have them sampled.
GRADEST_ADDR=127.0.0.1:0 GRADEST_LOG="${GRADEST_LOG:-warn,gradest=info}" GRADEST_LOG_FORMAT=json \
    "$BIN" >"$LOG" 2>&1 &
PID=$!
ADDR=""
for _ in $(seq 1 100); do
    kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    ADDR="$(sed -n 's/.*"message":"gradest listening","addr":"\([^"]*\)".*/\1/p' "$LOG" | head -n1)"
    if [[ -n "$ADDR" ]] && curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1; then
        break
    fi
    ADDR=""
    sleep 0.1
done
[[ -n "$ADDR" ]] || { echo "run.sh: the service did not become healthy" >&2; cat "$LOG" >&2; exit 1; }

echo "gradest $("$BIN" --version) at $ADDR (pid $PID), $(nproc) cores shared with wrk"
echo "wrk ${WRK_ARGS[*]} -s benches/load/estimate.lua http://$ADDR"
wrk "${WRK_ARGS[@]}" -s "$HERE/estimate.lua" "http://$ADDR"
echo "peak RSS (VmHWM): $(awk '/^VmHWM/ {print $2, $3}' "/proc/$PID/status")"
echo "RSS at the end (VmRSS): $(awk '/^VmRSS/ {print $2, $3}' "/proc/$PID/status")"

#!/usr/bin/env bash
# One load comparison (not a CI test): gradest's release binary, then the
# FastAPI + NumPy peer (peer_service.py under uvicorn, one worker process, then
# two), each alone on loopback under the same wrk load of small estimate jobs
# (estimate.lua), one after the other; then a table of requests/s, p50 and p99
# for each, and gradest's ratios to each peer run.
#
#   benches/load/compare.sh [path/to/gradest] [wrk options...]
#     default binary target/release/gradest; default options -t2 -c32 -d10s --latency
#   Env: PEER_WORKERS (default "1 2": the uvicorn worker counts to measure),
#        PEER_VENV (see peer.sh).
#
# wrk runs on the same machine and shares its cores with the service under
# test; on a machine shared with other work, run it twice and compare.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BIN="${1:-$REPO/target/release/gradest}"
shift || true
WRK_ARGS=("$@")
[[ ${#WRK_ARGS[@]} -gt 0 ]] || WRK_ARGS=(-t2 -c32 -d10s --latency)
[[ " ${WRK_ARGS[*]} " == *" --latency "* ]] || WRK_ARGS+=(--latency)
PEER_WORKERS="${PEER_WORKERS:-1 2}"

command -v wrk >/dev/null || { echo "compare.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[[ -x "$BIN" ]] || { echo "compare.sh: no binary at $BIN (cargo build --release)" >&2; exit 2; }
"$HERE/peer.sh" --install-only

OUT="$(mktemp -d)"
PEER_PID=""
cleanup() {
    if [[ -n "$PEER_PID" ]] && kill -0 "$PEER_PID" 2>/dev/null; then
        kill "$PEER_PID" 2>/dev/null || true
        wait "$PEER_PID" 2>/dev/null || true
    fi
    rm -rf "$OUT"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# wrk prints latencies as 850.00us, 1.23ms, 2.01s or 1.50m: in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n }'
}
# requests/s, p50 and p99 (ms) and the count of answers that were not 200, from wrk's output.
figures() {
    local rps p50 p99 bad
    rps="$(awk '/^Requests\/sec:/ {print $2}' "$1")"
    p50="$(to_ms "$(awk '$1 == "50%" {print $2}' "$1")")"
    p99="$(to_ms "$(awk '$1 == "99%" {print $2}' "$1")")"
    bad="$(awk '/^not 200:/ {print $3}' "$1")"
    echo "$rps $p50 $p99 ${bad:-?}"
}

echo "== gradest ($BIN)"
"$HERE/run.sh" "$BIN" "${WRK_ARGS[@]}" | tee "$OUT/gradest.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for workers in $PEER_WORKERS; do
    port="$(free_port)"
    echo
    echo "== peer: FastAPI + NumPy, uvicorn with $workers worker process(es), at 127.0.0.1:$port"
    "$HERE/peer.sh" --workers "$workers" --port "$port" >"$OUT/peer-$workers.log" 2>&1 &
    PEER_PID=$!
    up=""
    for _ in $(seq 1 200); do
        kill -0 "$PEER_PID" 2>/dev/null || break
        if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
            up=1
            break
        fi
        sleep 0.1
    done
    [[ -n "$up" ]] || { echo "compare.sh: the peer did not start" >&2; cat "$OUT/peer-$workers.log" >&2; exit 1; }
    echo "wrk ${WRK_ARGS[*]} -s benches/load/estimate.lua http://127.0.0.1:$port"
    wrk "${WRK_ARGS[@]}" -s "$HERE/estimate.lua" "http://127.0.0.1:$port" | tee "$OUT/peer-$workers.txt"
    kill "$PEER_PID"
    wait "$PEER_PID" 2>/dev/null || true
    PEER_PID=""
done

echo
echo "== summary: wrk ${WRK_ARGS[*]}, $(nproc) cores shared by wrk and the service"
printf '%-34s %12s %10s %10s %8s\n' "service" "requests/s" "p50 ms" "p99 ms" "not 200"
read -r g_rps g_p50 g_p99 g_bad < <(figures "$OUT/gradest.txt")
printf '%-34s %12s %10s %10s %8s\n' "gradest" "$g_rps" "$g_p50" "$g_p99" "$g_bad"
for workers in $PEER_WORKERS; do
    read -r rps p50 p99 bad < <(figures "$OUT/peer-$workers.txt")
    label="peer (uvicorn, $workers worker process$([[ $workers == 1 ]] || echo es))"
    printf '%-34s %12s %10s %10s %8s\n' "$label" "$rps" "$p50" "$p99" "$bad"
done
for workers in $PEER_WORKERS; do
    read -r rps p50 p99 _ < <(figures "$OUT/peer-$workers.txt")
    awk -v w="$workers" -v gr="$g_rps" -v pr="$rps" -v g50="$g_p50" -v p50="$p50" -v g99="$g_p99" -v p99="$p99" 'BEGIN {
        printf "gradest / peer with %d worker process(es): %.1fx the requests/s, p50 %.1fx lower, p99 %.1fx lower\n",
            w, gr / pr, p50 / g50, p99 / g99 }'
done

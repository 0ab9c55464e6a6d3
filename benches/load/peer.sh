#!/usr/bin/env bash
# Serves the FastAPI + NumPy peer (peer_service.py) with uvicorn, from a venv
# with the pinned requirements (requirements-peer.txt), installed on first use.
#
#   benches/load/peer.sh [--workers N] [--port P] [--host H]
#     defaults: 1 worker process, port 8090, host 127.0.0.1
#   benches/load/peer.sh --install-only
#
# Env: PEER_VENV (default /tmp/gradest-load-peer-venv). NumPy's BLAS is held to
# one thread per worker process (the job has no BLAS call; this only keeps idle
# BLAS threads off the cores wrk shares).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEER_VENV:-/tmp/gradest-load-peer-venv}"
REQS="$HERE/requirements-peer.txt"
STAMP="$VENV/.requirements-peer.txt"

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if ! cmp -s "$REQS" "$STAMP"; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$STAMP"
fi

WORKERS=1 PORT=8090 HOST=127.0.0.1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --workers) WORKERS="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --host) HOST="$2"; shift 2 ;;
        --install-only) exit 0 ;;
        *) echo "peer.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
cd "$HERE"
# No access log (gradest's run under load logs warnings only, too).
exec "$VENV/bin/python" -m uvicorn peer_service:app --host "$HOST" --port "$PORT" \
    --workers "$WORKERS" --loop uvloop --http httptools --no-access-log --log-level warning

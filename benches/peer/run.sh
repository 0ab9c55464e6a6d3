#!/usr/bin/env bash
# Runs the single-threaded numpy peer benchmark (peer.py) in a pinned venv.
# Usage: bash benches/peer/run.sh [--jobs J1,J2,...] [--scale S] [--seed N]
# Env: PEER_VENV (default /tmp/gradest-peer-venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEER_VENV:-/tmp/gradest-peer-venv}"
NUMPY_VERSION="2.4.6"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import sys, numpy; sys.exit(numpy.__version__ != '$NUMPY_VERSION')" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "numpy==$NUMPY_VERSION"
fi

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$VENV/bin/python" "$HERE/peer.py" "$@"

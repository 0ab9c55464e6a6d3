#!/usr/bin/env bash
# gradest through HTTP against the single-threaded numpy peer, in one run, as
# a markdown ratio table (not a CI test: nothing here asserts a timing).
#
#   bash benches/hardware/run.sh [--binary PATH] [--before PATH] [--reps K]
#                                [--quick] [--simd LEVEL...]
#
#   --binary PATH   the gradest to measure (default target/release/gradest,
#                   built with `cargo build --release` if it is missing)
#   --before PATH   a second binary measured in the same run, its requests
#                   alternating with --binary's, for a before/after table
#   --reps K        timed requests per job after one warm-up; the median is
#                   reported (default 5; the peer also runs K times)
#   --quick         every N divided by 100: a smoke test of the script
#   --simd LEVEL... also run the R0 job and J1 with GRADEST_SIMD=LEVEL for each
#                   level (auto, portable, avx2, avx512); a binary that refuses
#                   a level or does not mention it at startup is reported as such
#
# What it does (benches/hardware/measure.py does the work, stdlib Python):
#  1. starts the service on a free port with `taskset -c 0` and
#     GRADEST_CONCURRENCY=1 (its sampling threads follow the CPU affinity, so
#     one core means one thread) and POSTs to /v1/estimate, with a fixed seed,
#     the jobs as a user writes them:
#       J1   normal loc [0.5] scale [1.2], "sum((x - 3)^2)", reparameterization, N=1e7
#       J1b  the same spelled "(x - 3)^2"
#       J2   J1 with score_function, baseline "none"
#       J3   J1 with score_function, baseline "mean" (the API's leave-one-out)
#       J4   normal d=100, loc linspace(-1, 1, 100), scale 1, "sum(cos(x))",
#            reparameterization, N=1e5
#       J5   categorical logits linspace(-2, 2, 10), "dot(x, [0, 1, ..., 9])",
#            score_function, N=1e6
#       J6   J5 with gumbel_softmax, temperature 0.5
#       R0 job  normal d=1, "x", reparameterization, N=1e7: the least an
#            estimator can do per normal
#     checking first that GET /v1/catalog lists every family, estimator and
#     function used. Each request is timed wall-clock by the client; any answer
#     other than 200 stops the run with its body;
#  2. runs benches/peer/run.sh (numpy, one thread) with `taskset -c 1`, K times,
#     after gradest and never at the same time;
#  3. restarts the service on `taskset -c 0,1` with GRADEST_CONCURRENCY=2 and
#     times J1 and J2 (two-core / one-core speed);
#  4. reads VmHWM of a fresh one-core service idle, after J1 at N=1e7 and after
#     J1 at N=1e8 (memory should not grow with N);
#  5. with --simd, the R0 job and J1 per level.
#
# Prints: a table job | N | gradest s | in-service s (diagnostics.elapsed_ms) |
# numpy s | ratio (numpy s / gradest s) | samples/s of both (with --before:
# both binaries, the speed-up and whether they give the same bits), the R0
# lines (normals/s of the R0 job and of numpy's R0, J1-J3 time relative to the
# R0 job), the two-core table, the peak-RSS table and the SIMD table. Progress
# goes to stderr, tables to stdout. The default run takes well under 3 minutes
# on 2 cores. Needs taskset, at least 2 cores, python3, and (first time) pip
# access for the peer's numpy.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DEFAULT_BIN="$REPO/target/release/gradest"
BIN="$DEFAULT_BIN"
BEFORE=""
REPS=5
SCALE=1
SIMD=()

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "run.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) [[ $# -ge 2 ]] || die "--binary needs a path"; BIN="$2"; shift 2 ;;
        --before) [[ $# -ge 2 ]] || die "--before needs a path"; BEFORE="$2"; shift 2 ;;
        --reps)
            [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer"
            REPS="$2"; shift 2 ;;
        --quick) SCALE=0.01; shift ;;
        --simd)
            shift
            while [[ $# -gt 0 && "$1" != --* ]]; do SIMD+=("$1"); shift; done
            [[ ${#SIMD[@]} -gt 0 ]] || die "--simd needs at least one level (auto, portable, avx2, avx512)" ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

command -v taskset >/dev/null || die "taskset is not installed (util-linux)"
command -v python3 >/dev/null || die "python3 is not installed"
taskset -c 0,1 true 2>/dev/null || die "cores 0 and 1 are not both available to this process"

if [[ ! -x "$BIN" ]]; then
    [[ "$BIN" == "$DEFAULT_BIN" ]] || die "no executable at --binary $BIN"
    echo "# building $BIN (cargo build --release)" >&2
    (cd "$REPO" && cargo build --release)
fi
BIN="$(realpath "$BIN")"
ARGS=(--binary "$BIN" --reps "$REPS" --scale "$SCALE" --peer "$REPO/benches/peer/run.sh")
if [[ -n "$BEFORE" ]]; then
    [[ -x "$BEFORE" ]] || die "no executable at --before $BEFORE"
    ARGS+=(--before "$(realpath "$BEFORE")")
fi
[[ ${#SIMD[@]} -eq 0 ]] || ARGS+=(--simd "${SIMD[@]}")

exec python3 "$HERE/measure.py" "${ARGS[@]}"

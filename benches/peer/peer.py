"""Single-threaded NumPy peer for gradest's criterion benchmarks.

Measures how many samples per second a competent, vectorised, single-threaded
float64 NumPy implementation achieves on the same Monte Carlo gradient
estimation jobs that gradest benchmarks (the numpy counterpart of
benches/estimate.rs). Each job estimates grad_theta E_{x~p_theta}[f(x)] from N
draws, streamed in chunks of 65,536 numbers (never all N samples in memory),
using numpy.random.default_rng(seed) (PCG64) and accumulating the sum and sum of
squares of the per-sample gradient terms.

Jobs: J1 Normal reparameterization, J2 Normal score function, J3 score function
with leave-one-out baseline per chunk, J4 100-d Normal reparameterization,
J5 categorical score function via Gumbel-Max, J6 Gumbel-Softmax (tau=0.5),
R0 raw standard-normal draws. Timing is time.perf_counter around the whole
streamed computation, after a tiny warm-up. Output, one line per job:
  PEER <job> samples_per_second=<f> elapsed_s=<f> N=<n> result=<json list>
followed by a CHECK line comparing the estimate with the closed form.
Run through run.sh, which pins numpy and forces one BLAS/OpenMP thread.
"""
import argparse
import json
import math
import time

import numpy as np

CHUNK = 65_536
MU, SIG = 0.5, 1.2                          # J1-J3: Normal(0.5, 1.2), f(x) = (x-3)^2
D4 = 100
LOC4, SCALE4 = np.linspace(-1.0, 1.0, D4), np.ones(D4)
K = 10
Z = np.linspace(-2.0, 2.0, K)               # J5/J6 logits
C = np.arange(K, dtype=np.float64)          # f(x) = dot(x, c)
TAU = 0.5
P = np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum()   # softmax(z)


def normal_score(rng, n):
    x = MU + SIG * rng.standard_normal(n)
    f = (x - 3.0) ** 2
    d = x - MU
    return f, d / SIG**2, (d * d - SIG**2) / SIG**3


def j1(rng, n):
    eps = rng.standard_normal(n)
    x = MU + SIG * eps
    fp = 2.0 * (x - 3.0)
    return [fp, fp * eps]


def j2(rng, n):
    f, s_mu, s_sig = normal_score(rng, n)
    return [f * s_mu, f * s_sig]


def j3(rng, n):
    f, s_mu, s_sig = normal_score(rng, n)
    w = f - (f.sum() - f) / (n - 1) if n > 1 else f   # leave-one-out baseline
    return [w * s_mu, w * s_sig]


def j4(rng, n):
    eps = rng.standard_normal((n, D4))
    x = LOC4 + SCALE4 * eps
    g = -np.sin(x)
    return [g, g * eps]


def j5(rng, n):
    k = np.argmax(Z + rng.gumbel(size=(n, K)), axis=1)   # Gumbel-Max
    onehot = k[:, None] == np.arange(K)
    f = C[k]                                             # f(e_k) = c_k
    return [f[:, None] * (onehot - P)]


def j6(rng, n):
    a = (Z + rng.gumbel(size=(n, K))) / TAU
    a -= a.max(axis=1, keepdims=True)
    y = np.exp(a - np.log(np.exp(a).sum(axis=1, keepdims=True)))  # log-space softmax
    yu = y @ C                                                     # u = grad_y f = c
    return [y * (C - yu[:, None]) / TAU]


def r0(rng, n):
    rng.standard_normal(n)
    return []


# name -> (chunk function, N, samples per chunk)
JOBS = {
    "J1": (j1, 10_000_000, CHUNK),
    "J2": (j2, 10_000_000, CHUNK),
    "J3": (j3, 10_000_000, CHUNK),
    "J4": (j4, 100_000, 655),
    "J5": (j5, 1_000_000, CHUNK),
    "J6": (j6, 1_000_000, CHUNK),
    "R0": (r0, 10_000_000, CHUNK),
}


def exact(name):
    if name in ("J1", "J2", "J3"):
        return np.array([2.0 * (MU - 3.0), 2.0 * SIG])
    if name == "J4":   # E cos(mu + sigma eps) = cos(mu) exp(-sigma^2/2)
        e = np.exp(-SCALE4**2 / 2)
        return np.concatenate([-np.sin(LOC4) * e, -SCALE4 * np.cos(LOC4) * e])
    if name == "J5":
        return P * (C - P @ C)
    return None        # J6 (relaxed objective) and R0 have no closed form here


def run(fn, n_total, chunk, rng):
    """Stream n_total samples through fn; return (sum, sum of squares) of terms."""
    s = q = None
    done = 0
    while done < n_total:
        n = min(chunk, n_total - done)
        terms = fn(rng, n)
        if terms:
            cs = np.concatenate([np.atleast_1d(t.sum(axis=0)) for t in terms])
            cq = np.concatenate([np.atleast_1d(np.einsum("i...,i...->...", t, t)) for t in terms])
            s, q = (cs, cq) if s is None else (s + cs, q + cq)
        done += n
    return s, q


def fmt(v):
    return json.dumps([float(x) for x in v])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default=",".join(JOBS), help="comma-separated subset of " + ",".join(JOBS))
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every N (e.g. 0.01 for a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    names = [j.strip().upper() for j in args.jobs.split(",") if j.strip()]
    unknown = [j for j in names if j not in JOBS]
    if unknown:
        ap.error(f"unknown jobs {unknown}; choose from {list(JOBS)}")
    print(f"# gradest numpy peer: numpy {np.__version__}, seed {args.seed}, scale {args.scale}", flush=True)

    for name in names:
        fn, n_base, chunk = JOBS[name]
        n_total = max(2, int(round(n_base * args.scale)))
        run(fn, min(n_total, 256), chunk, np.random.default_rng(args.seed + 1))  # warm-up
        rng = np.random.default_rng(args.seed)
        t0 = time.perf_counter()
        s, q = run(fn, n_total, chunk, rng)
        dt = time.perf_counter() - t0
        mean = s / n_total if s is not None else np.empty(0)
        print(f"PEER {name} samples_per_second={n_total / dt:.6g} elapsed_s={dt:.6f} "
              f"N={n_total} result={fmt(mean)}", flush=True)
        ref = exact(name)
        if s is None:
            continue
        se = np.sqrt(np.maximum(q / n_total - mean**2, 0.0) / n_total)
        if ref is None:
            print(f"CHECK {name} no closed form; sum of components={mean.sum():.3g} "
                  f"(should be ~0), max stderr={se.max():.3g}", flush=True)
        else:
            err = np.abs(mean - ref)
            z = err / np.maximum(se, 1e-300)
            detail = f" exact={fmt(ref)} stderr={fmt(se)}" if ref.size <= K else ""
            print(f"CHECK {name} max_abs_err={err.max():.3g} max_err_in_stderrs={z.max():.2f}{detail}",
                  flush=True)


if __name__ == "__main__":
    main()

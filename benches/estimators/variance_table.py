#!/usr/bin/env python3
"""Per-sample variance of every estimator gradest has on the Gaussian problems of
Mohamed et al. (2020, Figs 2-3): x ~ Normal(mu, sigma), f = (x - k)^2, exp(-k x^2),
cos(k x), for loc and scale.

Runs `POST /v1/compare` with `"estimators": "all"` against a running service (by
default http://127.0.0.1:8080) for each problem, and, for the sampling methods,
the pathwise and score-function estimators under `"sampling"`. Prints a Markdown
table: for each estimator the per-sample variance of the terms and the effective
variance N * std_error^2 (which is what antithetic pairs and randomised QMC
lower), for loc and scale, beside the closed-form gradient.

    python3 benches/estimators/variance_table.py [--url URL] [--samples N] [--mu M] [--sigma S] [--k K]
"""
import argparse
import json
import math
import urllib.request


def post(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)


def truth(problem, k, mu, s):
    """The exact gradient (d/dmu, d/dsigma) of E f."""
    if problem == "square":
        return 2 * (mu - k), 2 * s
    if problem == "cos":
        damp = math.exp(-0.5 * k * k * s * s)
        return -k * math.sin(k * mu) * damp, -k * k * s * math.cos(k * mu) * damp
    a = 1 + 2 * k * s * s
    e = math.exp(-k * mu * mu / a) / math.sqrt(a)
    return e * (-2 * k * mu / a), e * (-0.5 / a + k * mu * mu / (a * a)) * 4 * k * s


def label(spec, sampling=None):
    rest = {k: v for k, v in spec.items() if k != "kind"}
    text = spec["kind"] + ("" if not rest else " " + json.dumps(rest, separators=(",", ":")))
    return text if sampling is None else f"{text} [{sampling}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--mu", type=float, default=0.5)
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--k", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    objectives = {
        "square": f"(x - {a.k})^2",
        "exp": f"exp(-{a.k} * x^2)",
        "cos": f"cos({a.k} * x)",
    }
    for problem, f in objectives.items():
        base = {
            "distribution": {"family": "normal", "loc": [a.mu], "scale": [a.sigma]},
            "objective": f,
            "samples": a.samples,
            "seed": a.seed,
        }
        rows = [(label(r["spec"]), r) for r in post(a.url + "/v1/compare", {**base, "estimators": "all"})["rows"]]
        for method in ["antithetic", "rqmc"]:
            body = {
                **base,
                "estimators": [{"kind": "reparameterization"}, {"kind": "score_function"}],
                "sampling": {"method": method},
            }
            try:
                got = post(a.url + "/v1/compare", body)["rows"]
            except urllib.error.HTTPError as e:
                print(f"<!-- sampling {method}: {e.code} {e.read().decode()[:200]} -->")
                continue
            rows += [(label(r["spec"], method), r) for r in got]
        t = truth(problem, a.k, a.mu, a.sigma)
        print(f"\n### f = {f}, x ~ N({a.mu}, {a.sigma}^2), N = {a.samples}, seed {a.seed}")
        print(f"exact gradient: loc {t[0]:.6g}, scale {t[1]:.6g}\n")
        print("| estimator | evals/sample | loc: variance | loc: N·se² | scale: variance | scale: N·se² | loc estimate | scale estimate |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in rows:
            v, se, g = r["variance"], r["std_error"], r["gradient"]
            eff = [a.samples * se[p][0] ** 2 for p in ("loc", "scale")]
            print(
                f"| {name} | {r.get('evaluations_per_sample', 1):g} | {v['loc'][0]:.4g} | {eff[0]:.4g} | "
                f"{v['scale'][0]:.4g} | {eff[1]:.4g} | {g['loc'][0]:.5g} ± {se['loc'][0]:.2g} | "
                f"{g['scale'][0]:.5g} ± {se['scale'][0]:.2g} |"
            )


if __name__ == "__main__":
    main()

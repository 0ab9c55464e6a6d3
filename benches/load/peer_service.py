"""FastAPI + NumPy peer of gradest's POST /v1/estimate, for the load comparison.

Serves the small job of benches/load/estimate.lua the way a competent Python
service would: the body is validated by a pydantic model, N draws come from
numpy.random.default_rng(seed) (PCG64), vectorised, and the score-function
gradient of E[f(x)] with f(x) = (x - 3)^2 for x ~ Normal(loc, scale) (each
component independent) is returned with its per-sample variance and standard
error, and the mean, variance and standard error of f:

    s_loc   = (x - loc) / scale^2
    s_scale = ((x - loc)^2 - scale^2) / scale^3
    g       = mean(f * s),  variance = var(f * s, ddof=1),  std_error = sqrt(variance / N)

(no baseline; gradest's standard errors are batch means over its 64 chunks,
which for these independent terms estimate the same quantity). Only the
objectives "(x-3)^2" and "sum((x - 3)^2)" (d = 1 alike), the normal family and
the score function without baseline are served; anything else is a 422.

The handler is `async def`: the job takes some 50 us of NumPy, less than a
hand-off to the thread pool would cost, so it runs on the event loop (the
fastest choice for the peer; gradest hands every run to its blocking pool).

Run through peer.sh (a pinned venv; uvicorn with uvloop and httptools):
    benches/load/peer.sh [--workers N] [--port P]
"""

import json
import math
import re
from typing import List, Literal, Optional

import numpy as np
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI(title="gradest peer (FastAPI + NumPy)")

OBJECTIVES = {re.sub(r"\s+", "", o) for o in ("(x-3)^2", "sum((x - 3)^2)")}
MAX_SAMPLES = 10_000_000


class Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    family: Literal["normal"]
    loc: List[float] = Field(min_length=1, max_length=10_000)
    scale: List[float] = Field(min_length=1, max_length=10_000)


class EstimatorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["score_function"]
    baseline: Literal["none"] = "none"


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    distribution: Distribution
    objective: str
    estimator: EstimatorSpec
    samples: int = Field(ge=2, le=MAX_SAMPLES)
    seed: Optional[int] = Field(default=None, ge=0, le=2**64 - 1)


def finite_or_none(values):
    return [v if math.isfinite(v) else None for v in values]


def estimate(req: EstimateRequest) -> dict:
    loc = np.asarray(req.distribution.loc, dtype=np.float64)
    scale = np.asarray(req.distribution.scale, dtype=np.float64)
    if loc.shape != scale.shape:
        raise HTTPException(422, "loc and scale must have the same length")
    if not (np.all(np.isfinite(loc)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise HTTPException(422, "loc must be finite, scale finite and > 0")
    if re.sub(r"\s+", "", req.objective) not in OBJECTIVES:
        raise HTTPException(422, "this peer serves only the objective (x-3)^2")
    n, d = req.samples, loc.size
    seed = req.seed if req.seed is not None else int(np.random.default_rng().integers(2**63))
    rng = np.random.default_rng(seed)
    x = loc + scale * rng.standard_normal((n, d))          # N x d draws
    f = ((x - 3.0) ** 2).sum(axis=1)                      # f(x) per sample
    dev = x - loc
    s_loc = dev / scale**2
    s_scale = (dev * dev - scale**2) / scale**3
    terms = np.concatenate([f[:, None] * s_loc, f[:, None] * s_scale], axis=1)
    g = terms.mean(axis=0)
    var = terms.var(axis=0, ddof=1)
    se = np.sqrt(var / n)
    f_var = float(f.var(ddof=1))

    def by_param(v):
        return {"loc": finite_or_none(v[:d].tolist()), "scale": finite_or_none(v[d:].tolist())}

    return {
        "estimator": "score_function",
        "unbiased": True,
        "gradient": by_param(g),
        "variance": by_param(var),
        "std_error": by_param(se),
        "objective": {
            "mean": float(f.mean()),
            "variance": f_var,
            "std_error": math.sqrt(f_var / n),
        },
        "diagnostics": {
            "samples": n,
            "seed": seed,
            "sample_mean": x.mean(axis=0).tolist(),
            "sample_variance": x.var(axis=0, ddof=1).tolist(),
        },
    }


@app.post("/v1/estimate")
async def estimate_create(req: EstimateRequest) -> Response:
    # json.dumps of plain floats and lists: cheaper than FastAPI's
    # jsonable_encoder walk of a returned dict.
    body = json.dumps(estimate(req), separators=(",", ":"))
    return Response(content=body, media_type="application/json")


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}

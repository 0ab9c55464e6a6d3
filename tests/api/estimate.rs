//! `POST /v1/estimate`: one happy path per (family, estimator) that applies,
//! checked against the true gradient within the reported standard error.
//!
//! To cover a new family or estimator, add a row to `CASES`.

use serde_json::{Value, json};

use crate::helpers::{flatten, normal_job, spawn_app};

struct Case {
    name: &'static str,
    distribution: fn() -> Value,
    objective: &'static str,
    estimator: fn() -> Value,
    truth: Truth,
}

/// What the estimate is checked against.
enum Truth {
    /// The true gradient, keyed and shaped like the parameters.
    Known(fn() -> Value),
    /// The exact `reference` the result carries (small discrete families).
    Reference,
    /// A biased estimator (Gumbel-Softmax): only the shape and the flags are checked.
    Biased,
}

fn normal() -> Value {
    json!({ "family": "normal", "loc": [0.5, -1.0], "scale": [1.0, 2.0] })
}

/// E Σ(xᵢ − 3)² = Σ (μᵢ − 3)² + σᵢ²: ∂/∂μ = 2(μ − 3), ∂/∂σ = 2σ.
fn normal_truth() -> Value {
    json!({ "loc": [-5.0, -8.0], "scale": [2.0, 4.0] })
}

fn mvn() -> Value {
    json!({ "family": "multivariate_normal", "loc": [0.5, -1.0], "scale_tril": [[1.0, 0.0], [0.5, 2.0]] })
}

/// E Σ(xᵢ − 3)² = Σ (μᵢ − 3)² + tr(LLᵀ): ∂/∂μ = 2(μ − 3), ∂/∂L = 2L (lower triangle).
fn mvn_truth() -> Value {
    json!({ "loc": [-5.0, -8.0], "scale_tril": [[2.0, 0.0], [1.0, 4.0]] })
}

fn categorical() -> Value {
    json!({ "family": "categorical", "logits": [0.0, 0.5, -0.5] })
}

fn categorical_probs() -> Value {
    json!({ "family": "categorical", "probs": [0.2, 0.5, 0.3] })
}

fn bernoulli() -> Value {
    json!({ "family": "bernoulli", "probs": [0.3, 0.6] })
}

fn poisson() -> Value {
    json!({ "family": "poisson", "rate": [2.0] })
}

const CASES: &[Case] = &[
    Case {
        name: "normal / reparameterization",
        distribution: normal,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "reparameterization" }),
        truth: Truth::Known(normal_truth),
    },
    Case {
        name: "normal / score_function none",
        distribution: normal,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "score_function", "baseline": "none" }),
        truth: Truth::Known(normal_truth),
    },
    Case {
        name: "normal / score_function mean",
        distribution: normal,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "score_function", "baseline": "mean" }),
        truth: Truth::Known(normal_truth),
    },
    Case {
        name: "normal / score_function optimal",
        distribution: normal,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "score_function", "baseline": "optimal" }),
        truth: Truth::Known(normal_truth),
    },
    Case {
        name: "normal / score_function constant",
        distribution: normal,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "score_function", "baseline": { "constant": 40.0 } }),
        truth: Truth::Known(normal_truth),
    },
    Case {
        name: "mvn / reparameterization",
        distribution: mvn,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "reparameterization" }),
        truth: Truth::Known(mvn_truth),
    },
    Case {
        name: "mvn / score_function none",
        distribution: mvn,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "score_function" }),
        truth: Truth::Known(mvn_truth),
    },
    Case {
        name: "mvn / score_function mean",
        distribution: mvn,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "score_function", "baseline": "mean" }),
        truth: Truth::Known(mvn_truth),
    },
    Case {
        name: "mvn / score_function optimal",
        distribution: mvn,
        objective: "sum((x - 3)^2)",
        estimator: || json!({ "kind": "score_function", "baseline": "optimal" }),
        truth: Truth::Known(mvn_truth),
    },
    // f depends on θ directly: E[(x − μ)²] = σ², so ∂/∂μ = 0 and ∂/∂σ = 2σ.
    Case {
        name: "normal / parameters in f",
        distribution: normal,
        objective: "sum((x - loc)^2)",
        estimator: || json!({ "kind": "reparameterization" }),
        truth: Truth::Known(|| json!({ "loc": [0.0, 0.0], "scale": [2.0, 4.0] })),
    },
    Case {
        name: "categorical / score_function none",
        distribution: categorical,
        objective: "dot(x, [1, 2, 5])",
        estimator: || json!({ "kind": "score_function" }),
        truth: Truth::Reference,
    },
    Case {
        name: "categorical / score_function mean",
        distribution: categorical,
        objective: "dot(x, [1, 2, 5])",
        estimator: || json!({ "kind": "score_function", "baseline": "mean" }),
        truth: Truth::Reference,
    },
    Case {
        name: "categorical / score_function optimal",
        distribution: categorical,
        objective: "dot(x, [1, 2, 5])",
        estimator: || json!({ "kind": "score_function", "baseline": "optimal" }),
        truth: Truth::Reference,
    },
    Case {
        name: "categorical / exact",
        distribution: categorical,
        objective: "dot(x, [1, 2, 5])",
        estimator: || json!({ "kind": "exact" }),
        truth: Truth::Reference,
    },
    Case {
        name: "categorical / gumbel_softmax",
        distribution: categorical,
        objective: "dot(x, [1, 2, 5])",
        estimator: || json!({ "kind": "gumbel_softmax", "temperature": 0.5 }),
        truth: Truth::Biased,
    },
    Case {
        name: "categorical / gumbel_softmax hard",
        distribution: categorical,
        objective: "dot(x, [1, 2, 5])",
        estimator: || json!({ "kind": "gumbel_softmax", "temperature": 1.0, "hard": true }),
        truth: Truth::Biased,
    },
    Case {
        name: "categorical probs / score_function",
        distribution: categorical_probs,
        objective: "dot(x, [1, 2, 5])",
        estimator: || json!({ "kind": "score_function", "baseline": "optimal" }),
        truth: Truth::Reference,
    },
    Case {
        name: "bernoulli / score_function",
        distribution: bernoulli,
        objective: "sum((x - 0.2)^2)",
        estimator: || json!({ "kind": "score_function", "baseline": "mean" }),
        truth: Truth::Reference,
    },
    Case {
        name: "bernoulli / exact",
        distribution: bernoulli,
        objective: "sum((x - 0.2)^2)",
        estimator: || json!({ "kind": "exact" }),
        truth: Truth::Reference,
    },
    Case {
        name: "bernoulli / gumbel_softmax hard",
        distribution: bernoulli,
        objective: "sum((x - 0.2)^2)",
        estimator: || json!({ "kind": "gumbel_softmax", "temperature": 0.5, "hard": true }),
        truth: Truth::Biased,
    },
    // E x² = λ + λ², so ∂/∂λ = 1 + 2λ.
    Case {
        name: "poisson / score_function",
        distribution: poisson,
        objective: "x[0]^2",
        estimator: || json!({ "kind": "score_function", "baseline": "optimal" }),
        truth: Truth::Known(|| json!({ "rate": [5.0] })),
    },
];

/// How many standard errors a component may be off. A component misses with
/// probability about 6·10⁻⁷ (normal tails), so the whole table about 10⁻⁵.
const TOLERANCE_SE: f64 = 5.0;

#[tokio::test]
async fn every_case_matches_the_true_gradient_within_its_standard_error() {
    let app = spawn_app().await;
    for case in CASES {
        let estimator = (case.estimator)();
        let body = json!({
            "distribution": (case.distribution)(),
            "objective": case.objective,
            "estimator": estimator,
            "samples": 20_000,
            "seed": 7
        });
        let r = app.post_ok("/v1/estimate", &body).await;
        let kind = estimator["kind"].as_str().unwrap();
        assert_eq!(r["estimator"], kind, "{}", case.name);
        let seed = if kind == "exact" {
            json!(null)
        } else {
            json!(7)
        };
        assert_eq!(r["diagnostics"]["seed"], seed, "{}", case.name);
        assert!(r["diagnostics"]["warnings"].is_array(), "{}", case.name);
        let truth = match case.truth {
            Truth::Known(f) => Some(f()),
            Truth::Reference => Some(r["reference"]["gradient"].clone()),
            Truth::Biased => None,
        };
        assert_eq!(r["unbiased"], truth.is_some(), "{}: {r}", case.name);
        if matches!(case.truth, Truth::Reference | Truth::Biased) {
            assert_eq!(
                r["reference"]["method"], "enumeration",
                "{}: a small discrete family carries a reference: {r}",
                case.name
            );
        }
        if kind == "exact" {
            assert_eq!(r["gradient"], r["reference"]["gradient"], "{}", case.name);
            assert!(
                flatten(&r["std_error"])
                    .iter()
                    .all(|(_, v)| v.iter().all(|s| *s == 0.0)),
                "{}: {r}",
                case.name
            );
        } else {
            assert_eq!(r["diagnostics"]["samples"], 20_000, "{}", case.name);
        }
        // The baseline applied is reported, except leave-one-out's, which varies by sample.
        let reported = kind == "score_function" && estimator["baseline"] != "mean";
        assert_eq!(
            r["diagnostics"]["baseline"].is_object(),
            reported,
            "{}: {r}",
            case.name
        );
        let gradient = flatten(&r["gradient"]);
        let Some(truth) = truth else { continue };
        let truth = flatten(&truth);
        let se = flatten(&r["std_error"]);
        assert_eq!(
            gradient.len(),
            truth.len(),
            "{}: parameters of {r}",
            case.name
        );
        for (((name, g), (_, s)), (tname, t)) in gradient.iter().zip(&se).zip(&truth) {
            assert_eq!(name, tname, "{}", case.name);
            assert_eq!(g.len(), t.len(), "{}: {name}", case.name);
            for i in 0..t.len() {
                let off = (g[i] - t[i]).abs();
                assert!(
                    off <= TOLERANCE_SE * s[i] + 1e-9,
                    "{}: {name}[{i}] = {} but the truth is {} (std_error {}); response {r}",
                    case.name,
                    g[i],
                    t[i],
                    s[i]
                );
            }
        }
    }
}

#[tokio::test]
async fn a_categorical_reports_its_category_frequencies() {
    let app = spawn_app().await;
    let body = json!({
        "distribution": categorical(),
        "objective": "dot(x, [1, 2, 5])",
        "estimator": { "kind": "score_function" },
        "samples": 20_000,
        "seed": 11
    });
    let r = app.post_ok("/v1/estimate", &body).await;
    let fit = &r["diagnostics"]["category_frequencies"];
    for key in [
        "frequencies",
        "expected",
        "chi_square",
        "degrees_of_freedom",
        "p_value",
    ] {
        assert!(fit.get(key).is_some(), "category_frequencies.{key} in {r}");
    }
    assert_eq!(fit["frequencies"].as_array().map(Vec::len), Some(3), "{r}");
    assert_eq!(fit["degrees_of_freedom"], 2, "{r}");
    // A sound sampler fails this test once in a million runs.
    assert!(fit["p_value"].as_f64().unwrap() > 1e-6, "{r}");
}

#[tokio::test]
async fn a_result_has_the_documented_shape() {
    let app = spawn_app().await;
    let mut body = normal_job();
    body["distribution"] = mvn();
    let r = app.post_ok("/v1/estimate", &body).await;
    for key in [
        "estimator",
        "unbiased",
        "gradient",
        "variance",
        "std_error",
        "objective",
        "diagnostics",
    ] {
        assert!(r.get(key).is_some(), "missing {key} in {r}");
    }
    assert!(
        r.get("reference").is_none(),
        "a normal has no reference: {r}"
    );
    // scale_tril comes back as rows, zero above the diagonal.
    let tril = &r["gradient"]["scale_tril"];
    assert_eq!(tril.as_array().map(Vec::len), Some(2), "{r}");
    assert_eq!(tril[0].as_array().map(Vec::len), Some(2), "{r}");
    assert_eq!(tril[0][1], 0.0, "{r}");
    assert_eq!(r["variance"]["scale_tril"][0][1], 0.0, "{r}");
    for key in ["mean", "variance", "std_error"] {
        assert!(r["objective"][key].is_number(), "objective.{key} in {r}");
    }
    let d = &r["diagnostics"];
    for key in [
        "samples",
        "seed",
        "elapsed_ms",
        "samples_per_second",
        "non_finite",
        "underflow",
        "chunks",
    ] {
        assert!(d[key].is_number(), "diagnostics.{key} in {r}");
    }
    assert_eq!(d["sample_mean"].as_array().map(Vec::len), Some(2), "{r}");
    assert_eq!(
        d["sample_variance"].as_array().map(Vec::len),
        Some(2),
        "{r}"
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_result_and_a_missing_seed_is_returned() {
    let app = spawn_app().await;
    let mut body = normal_job();
    body["estimator"] = json!({ "kind": "score_function", "baseline": "optimal" });
    let a = app.post_ok("/v1/estimate", &body).await;
    let b = app.post_ok("/v1/estimate", &body).await;
    assert_eq!(a["gradient"], b["gradient"]);
    assert_eq!(a["std_error"], b["std_error"]);

    body.as_object_mut().unwrap().remove("seed");
    let c = app.post_ok("/v1/estimate", &body).await;
    let seed = c["diagnostics"]["seed"]
        .as_u64()
        .expect("the drawn seed, a u64");
    body["seed"] = json!(seed);
    let d = app.post_ok("/v1/estimate", &body).await;
    assert_eq!(
        c["gradient"], d["gradient"],
        "sending the returned seed back reproduces the result"
    );
    // Drawn seeds stay below 2⁵³, exact for clients whose numbers are doubles:
    // read as f64 and sent back, each reproduces its result.
    body.as_object_mut().unwrap().remove("seed");
    for _ in 0..20 {
        let e = app.post_ok("/v1/estimate", &body).await;
        let seed = e["diagnostics"]["seed"].as_u64().unwrap();
        assert!(seed < 1 << 53, "a drawn seed {seed} is not below 2^53");
        let as_double = seed as f64;
        assert_eq!(as_double as u64, seed);
    }
}

#[tokio::test]
async fn seeds_beyond_2_to_the_53_round_trip_exactly() {
    let app = spawn_app().await;
    let mut body = normal_job();
    body["seed"] = json!(u64::MAX);
    let r = app.post_ok("/v1/estimate", &body).await;
    assert_eq!(r["diagnostics"]["seed"].as_u64(), Some(u64::MAX), "{r}");
}

#[tokio::test]
async fn non_finite_samples_can_be_skipped() {
    let app = spawn_app().await;
    let mut body = normal_job();
    // log of a negative number is NaN for about a third of the samples.
    body["objective"] = json!("log(x[0])");
    body["estimator"] = json!({ "kind": "score_function" });
    body["on_non_finite"] = json!("skip");
    let r = app.post_ok("/v1/estimate", &body).await;
    assert!(r["diagnostics"]["non_finite"].as_u64().unwrap() > 0, "{r}");
    assert!(
        !r["diagnostics"]["warnings"].as_array().unwrap().is_empty(),
        "{r}"
    );
}

#[tokio::test]
async fn skipping_every_sample_is_a_problem_not_a_certain_zero() {
    let app = spawn_app().await;
    let mut body = normal_job();
    // log(x - 100) is NaN at every sample of these normals.
    body["objective"] = json!("log(x[0] - 100)");
    body["on_non_finite"] = json!("skip");
    let response = app.post("/v1/estimate", &body).await;
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:gradest:problem:non-finite-objective");
    assert_eq!(problem["pointer"], "/objective");
    assert!(
        problem["detail"].as_str().unwrap().contains("2000 of 2000"),
        "{problem}"
    );
}

/// Small requests are prepared inline, larger ones on the blocking pool: the
/// two paths give the same result.
#[tokio::test]
async fn small_and_large_requests_are_prepared_alike() {
    let app = spawn_app().await;
    let small = normal_job();
    let mut large = normal_job();
    // The same objective, padded past the inline threshold (256 characters).
    large["objective"] = json!(format!("sum((x - 3)^2){}", " + 0".repeat(80)));
    let a = app.post_ok("/v1/estimate", &small).await;
    let b = app.post_ok("/v1/estimate", &large).await;
    assert_eq!(a["gradient"], b["gradient"]);
    assert_eq!(a["std_error"], b["std_error"]);
    // And a large request that is invalid is still refused with its pointer.
    large["distribution"]["scale"] = json!([1.0, -2.0]);
    let response = app.post("/v1/estimate", &large).await;
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["pointer"], "/distribution/scale/1");
}

//! A table of bad requests: each must come back as a problem with the expected
//! status and JSON pointer, and the service must keep answering afterwards.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, normal_job, spawn_app};

/// What to send.
enum Body {
    /// A job: the valid [`normal_job`] changed by a function.
    Job(fn(&mut Value)),
    /// A compare request: a valid one changed by a function.
    Compare(fn(&mut Value)),
    /// Raw bytes with a content type (or none).
    Raw(&'static str, Option<&'static str>),
    /// Nothing (for GET and DELETE).
    Empty,
}

struct Bad {
    name: &'static str,
    method: Method,
    path: &'static str,
    body: Body,
    status: u16,
    /// The expected `pointer`, or None for a problem without one.
    pointer: Option<&'static str>,
}

fn set(v: &mut Value, pointer: &str, new: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} exists")) = new;
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        &mut *v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    parent.as_object_mut().unwrap().remove(key);
}

fn mvn(v: &mut Value) {
    v["distribution"] = json!({ "family": "multivariate_normal", "loc": [0.0, 0.0], "scale_tril": [[1.0, 0.0], [0.5, 1.0]] });
}

fn compare_body() -> Value {
    json!({
        "distribution": { "family": "normal", "loc": [0.0], "scale": [1.0] },
        "objective": "x[0]^2",
        "samples": 1000,
        "seed": 1,
        "estimators": "all"
    })
}

const POST: Method = Method::POST;

fn table() -> Vec<Bad> {
    use Body::*;
    let est = "/v1/estimate";
    vec![
        // The body itself.
        Bad {
            name: "not JSON",
            method: POST,
            path: est,
            body: Raw("{\"samples\": ", Some("application/json")),
            status: 400,
            pointer: Some("/samples"),
        },
        Bad {
            name: "empty body",
            method: POST,
            path: est,
            body: Raw("", Some("application/json")),
            status: 400,
            pointer: None,
        },
        Bad {
            name: "empty object",
            method: POST,
            path: est,
            body: Raw("{}", Some("application/json")),
            status: 422,
            pointer: Some("/distribution"),
        },
        Bad {
            name: "text after the JSON",
            method: POST,
            path: "/v1/jobs",
            body: Raw(
                r#"{"distribution": {"family": "normal", "loc": [0.0], "scale": [1.0]}, "objective": "x[0]", "estimator": {"kind": "reparameterization"}, "samples": 100} x"#,
                Some("application/json"),
            ),
            status: 400,
            pointer: None,
        },
        Bad {
            name: "text/plain",
            method: POST,
            path: est,
            body: Raw("{}", Some("text/plain")),
            status: 415,
            pointer: None,
        },
        Bad {
            name: "no content type",
            method: POST,
            path: est,
            body: Raw("{}", None),
            status: 415,
            pointer: None,
        },
        Bad {
            name: "top-level array",
            method: POST,
            path: est,
            body: Raw("[]", Some("application/json")),
            status: 422,
            pointer: Some(""),
        },
        Bad {
            name: "NaN in a parameter",
            method: POST,
            path: est,
            body: Raw(
                r#"{"distribution": {"family": "normal", "loc": [0.0], "scale": [NaN]}, "objective": "x[0]", "estimator": {"kind": "reparameterization"}, "samples": 100}"#,
                Some("application/json"),
            ),
            status: 422,
            pointer: Some("/distribution/scale/0"),
        },
        // Top-level fields.
        Bad {
            name: "misspelt field",
            method: POST,
            path: est,
            body: Job(|v| {
                remove(v, "/samples");
                v["sampels"] = json!(100);
            }),
            status: 422,
            pointer: Some("/sampels"),
        },
        Bad {
            name: "missing samples",
            method: POST,
            path: est,
            body: Job(|v| remove(v, "/samples")),
            status: 422,
            pointer: Some("/samples"),
        },
        Bad {
            name: "missing distribution",
            method: POST,
            path: est,
            body: Job(|v| remove(v, "/distribution")),
            status: 422,
            pointer: Some("/distribution"),
        },
        Bad {
            name: "missing objective",
            method: POST,
            path: est,
            body: Job(|v| remove(v, "/objective")),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "samples as a string",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/samples", json!("100"))),
            status: 422,
            pointer: Some("/samples"),
        },
        Bad {
            name: "samples fractional",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/samples", json!(100.5))),
            status: 422,
            pointer: Some("/samples"),
        },
        Bad {
            name: "samples negative",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/samples", json!(-5))),
            status: 422,
            pointer: Some("/samples"),
        },
        Bad {
            name: "samples one",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/samples", json!(1))),
            status: 422,
            pointer: Some("/samples"),
        },
        Bad {
            name: "samples over the limit",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/samples", json!(10_000_000_000u64))),
            status: 422,
            pointer: Some("/samples"),
        },
        Bad {
            name: "seed negative",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/seed", json!(-1))),
            status: 422,
            pointer: Some("/seed"),
        },
        Bad {
            name: "seed past 2^64",
            method: POST,
            path: est,
            body: Raw(
                r#"{"distribution": {"family": "normal", "loc": [0.0], "scale": [1.0]}, "objective": "x[0]", "estimator": {"kind": "reparameterization"}, "samples": 100, "seed": 18446744073709551616}"#,
                Some("application/json"),
            ),
            status: 422,
            pointer: Some("/seed"),
        },
        Bad {
            name: "seed as a string",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/seed", json!("42"))),
            status: 422,
            pointer: Some("/seed"),
        },
        Bad {
            name: "unknown on_non_finite",
            method: POST,
            path: est,
            body: Job(|v| v["on_non_finite"] = json!("ignore")),
            status: 422,
            pointer: Some("/on_non_finite"),
        },
        // Sampling.
        Bad {
            name: "unknown sampling method",
            method: POST,
            path: est,
            body: Job(|v| v["sampling"] = json!({ "method": "sobol" })),
            status: 422,
            pointer: Some("/sampling/method"),
        },
        Bad {
            name: "sampling: extra field",
            method: POST,
            path: est,
            body: Job(|v| v["sampling"] = json!({ "method": "rqmc", "points": 64 })),
            status: 422,
            pointer: Some("/sampling/points"),
        },
        Bad {
            name: "sampling as a string",
            method: POST,
            path: est,
            body: Job(|v| v["sampling"] = json!("rqmc")),
            status: 422,
            pointer: Some("/sampling"),
        },
        Bad {
            name: "rqmc on poisson",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "poisson", "rate": [2.0] });
                v["estimator"] = json!({ "kind": "score_function" });
                v["sampling"] = json!({ "method": "rqmc" });
            }),
            status: 422,
            pointer: Some("/sampling/method"),
        },
        Bad {
            name: "antithetic on student_t",
            method: POST,
            path: "/v1/jobs",
            body: Job(|v| {
                v["distribution"] =
                    json!({ "family": "student_t", "df": [3.0], "loc": [0.0], "scale": [1.0] });
                v["sampling"] = json!({ "method": "antithetic" });
            }),
            status: 422,
            pointer: Some("/sampling/method"),
        },
        Bad {
            name: "antithetic with the leave-one-out baseline",
            method: POST,
            path: est,
            body: Job(|v| {
                v["estimator"] = json!({ "kind": "score_function", "baseline": "mean" });
                v["sampling"] = json!({ "method": "antithetic" });
            }),
            status: 422,
            pointer: Some("/estimator/baseline"),
        },
        Bad {
            name: "rqmc with too few samples",
            method: POST,
            path: est,
            body: Job(|v| {
                v["samples"] = json!(3);
                v["sampling"] = json!({ "method": "rqmc" });
            }),
            status: 422,
            pointer: Some("/samples"),
        },
        Bad {
            name: "compare: rqmc on bernoulli",
            method: POST,
            path: "/v1/compare",
            body: Compare(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "probs": [0.3] });
                v["sampling"] = json!({ "method": "rqmc" });
            }),
            status: 422,
            pointer: Some("/sampling/method"),
        },
        // The distribution.
        Bad {
            name: "unknown family",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution/family", json!("gaussian"))),
            status: 422,
            pointer: Some("/distribution/family"),
        },
        Bad {
            name: "missing family",
            method: POST,
            path: est,
            body: Job(|v| remove(v, "/distribution/family")),
            status: 422,
            pointer: Some("/distribution/family"),
        },
        Bad {
            name: "family as a number",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution/family", json!(3))),
            status: 422,
            pointer: Some("/distribution/family"),
        },
        Bad {
            name: "distribution as an array",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution", json!([1, 2]))),
            status: 422,
            pointer: Some("/distribution"),
        },
        Bad {
            name: "negative scale",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution/scale/1", json!(-2.0))),
            status: 422,
            pointer: Some("/distribution/scale/1"),
        },
        Bad {
            name: "zero scale",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution/scale/0", json!(0.0))),
            status: 422,
            pointer: Some("/distribution/scale/0"),
        },
        Bad {
            name: "string in loc",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution/loc/1", json!("a"))),
            status: 422,
            pointer: Some("/distribution/loc/1"),
        },
        Bad {
            name: "loc not an array",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution/loc", json!(0.5))),
            status: 422,
            pointer: Some("/distribution/loc"),
        },
        Bad {
            name: "mismatched lengths",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/distribution/scale", json!([1.0]))),
            status: 422,
            pointer: Some("/distribution/scale"),
        },
        Bad {
            name: "empty loc and scale",
            method: POST,
            path: est,
            body: Job(|v| {
                set(v, "/distribution/loc", json!([]));
                set(v, "/distribution/scale", json!([]));
            }),
            status: 422,
            pointer: Some("/distribution/loc"),
        },
        Bad {
            name: "unknown parameter",
            method: POST,
            path: est,
            body: Job(|v| v["distribution"]["sigma"] = json!([1.0, 1.0])),
            status: 422,
            pointer: Some("/distribution/sigma"),
        },
        Bad {
            name: "missing parameter",
            method: POST,
            path: est,
            body: Job(|v| remove(v, "/distribution/scale")),
            status: 422,
            pointer: Some("/distribution/scale"),
        },
        Bad {
            name: "duplicate parameter",
            method: POST,
            path: est,
            body: Raw(
                r#"{"distribution": {"family": "normal", "loc": [0.0], "loc": [1.0], "scale": [1.0]}, "objective": "x[0]", "estimator": {"kind": "reparameterization"}, "samples": 100}"#,
                Some("application/json"),
            ),
            status: 422,
            pointer: Some("/distribution/loc"),
        },
        Bad {
            name: "dimension over the limit",
            method: POST,
            path: est,
            body: Job(|v| {
                set(v, "/distribution/loc", json!(vec![0.0; 10_001]));
                set(v, "/distribution/scale", json!(vec![1.0; 10_001]));
            }),
            status: 422,
            pointer: Some("/distribution/loc"),
        },
        Bad {
            name: "scale_tril above the diagonal",
            method: POST,
            path: est,
            body: Job(|v| {
                mvn(v);
                set(v, "/distribution/scale_tril/0/1", json!(0.3));
            }),
            status: 422,
            pointer: Some("/distribution/scale_tril/0/1"),
        },
        Bad {
            name: "scale_tril zero diagonal",
            method: POST,
            path: est,
            body: Job(|v| {
                mvn(v);
                set(v, "/distribution/scale_tril/1/1", json!(0.0));
            }),
            status: 422,
            pointer: Some("/distribution/scale_tril/1/1"),
        },
        Bad {
            name: "scale_tril not square",
            method: POST,
            path: est,
            body: Job(|v| {
                mvn(v);
                set(v, "/distribution/scale_tril/0", json!([1.0]));
            }),
            status: 422,
            pointer: Some("/distribution/scale_tril/0"),
        },
        Bad {
            name: "scale_tril flat",
            method: POST,
            path: est,
            body: Job(|v| {
                mvn(v);
                set(v, "/distribution/scale_tril", json!([1.0, 0.0, 0.0, 1.0]));
            }),
            status: 422,
            pointer: Some("/distribution/scale_tril/0"),
        },
        // The objective.
        Bad {
            name: "objective does not parse",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!("sum((x - 3)^2"))),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "unknown function",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!("foo(x)"))),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "unknown name",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!("sum(x) + y"))),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "vector-valued objective",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!("x^2"))),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "negative index",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!("x[-1]"))),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "index out of range",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!("x[2]"))),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "objective too long",
            method: POST,
            path: est,
            body: Job(|v| {
                set(
                    v,
                    "/objective",
                    json!(format!("x[0]{}", " + 1".repeat(2_500))),
                )
            }),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "objective too deep",
            method: POST,
            path: est,
            body: Job(|v| {
                set(
                    v,
                    "/objective",
                    json!(format!("{}x[0]{}", "(".repeat(100), ")".repeat(100))),
                )
            }),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "objective over the working-memory limit",
            method: POST,
            path: est,
            body: Job(|v| {
                set(v, "/distribution/loc", json!(vec![0.0; 10_000]));
                set(v, "/distribution/scale", json!(vec![1.0; 10_000]));
                set(
                    v,
                    "/objective",
                    json!(format!("sum(x{})", " + x".repeat(60))),
                );
            }),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "objective as a number",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!(3))),
            status: 422,
            pointer: Some("/objective"),
        },
        Bad {
            name: "objective not finite",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/objective", json!("log(x[0] - 100)"))),
            status: 422,
            pointer: Some("/objective"),
        },
        // The estimator.
        Bad {
            name: "unknown estimator",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/estimator/kind", json!("magic"))),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "missing estimator kind",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/estimator", json!({}))),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "gumbel_softmax on a normal",
            method: POST,
            path: est,
            body: Job(|v| {
                set(
                    v,
                    "/estimator",
                    json!({ "kind": "gumbel_softmax", "temperature": 0.5 }),
                )
            }),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "exact on a normal",
            method: POST,
            path: est,
            body: Job(|v| set(v, "/estimator", json!({ "kind": "exact" }))),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "unknown baseline",
            method: POST,
            path: est,
            body: Job(|v| {
                set(
                    v,
                    "/estimator",
                    json!({ "kind": "score_function", "baseline": "avg" }),
                )
            }),
            status: 422,
            pointer: Some("/estimator/baseline"),
        },
        Bad {
            name: "constant baseline not a number",
            method: POST,
            path: est,
            body: Job(|v| {
                set(
                    v,
                    "/estimator",
                    json!({ "kind": "score_function", "baseline": { "constant": "b" } }),
                )
            }),
            status: 422,
            pointer: Some("/estimator/baseline/constant"),
        },
        Bad {
            name: "baseline on reparameterization",
            method: POST,
            path: est,
            body: Job(|v| {
                set(
                    v,
                    "/estimator",
                    json!({ "kind": "reparameterization", "baseline": "mean" }),
                )
            }),
            status: 422,
            pointer: Some("/estimator/baseline"),
        },
        Bad {
            name: "misspelt estimator field",
            method: POST,
            path: est,
            body: Job(|v| {
                set(
                    v,
                    "/estimator",
                    json!({ "kind": "score_function", "baseline": "mean", "tempreature": 1 }),
                )
            }),
            status: 422,
            pointer: Some("/estimator/tempreature"),
        },
        // Discrete families.
        Bad {
            name: "categorical probs not summing to 1",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "probs": [0.2, 0.2] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "score_function" });
            }),
            status: 422,
            pointer: Some("/distribution/probs"),
        },
        Bad {
            name: "categorical probs above 1",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "probs": [1.5, -0.5] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "score_function" });
            }),
            status: 422,
            pointer: Some("/distribution/probs/0"),
        },
        Bad {
            name: "categorical logits and probs",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] =
                    json!({ "family": "categorical", "logits": [0.0, 0.0], "probs": [0.5, 0.5] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "score_function" });
            }),
            status: 422,
            pointer: Some("/distribution"),
        },
        Bad {
            name: "categorical neither logits nor probs",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical" });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "score_function" });
            }),
            status: 422,
            pointer: Some("/distribution"),
        },
        Bad {
            name: "categories over the limit",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": vec![0.0; 10_001] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "score_function" });
            }),
            status: 422,
            pointer: Some("/distribution/logits"),
        },
        Bad {
            name: "reparameterization on a categorical",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
            }),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "gumbel_softmax without a temperature",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_softmax" });
            }),
            status: 422,
            pointer: Some("/estimator/temperature"),
        },
        Bad {
            name: "gumbel_softmax at temperature 0",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_softmax", "temperature": 0.0 });
            }),
            status: 422,
            pointer: Some("/estimator/temperature"),
        },
        Bad {
            name: "gumbel_softmax hard as a string",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] =
                    json!({ "kind": "gumbel_softmax", "temperature": 1.0, "hard": "yes" });
            }),
            status: 422,
            pointer: Some("/estimator/hard"),
        },
        Bad {
            name: "temperature on score_function",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "score_function", "temperature": 1.0 });
            }),
            status: 422,
            pointer: Some("/estimator/temperature"),
        },
        Bad {
            name: "delta control variate on a non-Gaussian family",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "exponential", "rate": [1.0] });
                v["estimator"] =
                    json!({ "kind": "reparameterization", "control_variate": "delta" });
            }),
            status: 422,
            pointer: Some("/estimator/control_variate"),
        },
        Bad {
            name: "delta control variate with the optimal baseline",
            method: POST,
            path: est,
            body: Job(|v| {
                v["estimator"] = json!({ "kind": "score_function", "baseline": "optimal", "control_variate": "delta" });
            }),
            status: 422,
            pointer: Some("/estimator/control_variate"),
        },
        Bad {
            name: "unknown control variate",
            method: POST,
            path: est,
            body: Job(|v| {
                v["estimator"] =
                    json!({ "kind": "reparameterization", "control_variate": "taylor" });
            }),
            status: 422,
            pointer: Some("/estimator/control_variate"),
        },
        Bad {
            name: "control variate on gumbel_softmax",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_softmax", "temperature": 0.5, "control_variate": "delta" });
            }),
            status: 422,
            pointer: Some("/estimator/control_variate"),
        },
        Bad {
            name: "delta control variate where f is not finite at the mean",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "normal", "loc": [0.0], "scale": [1.0] });
                v["objective"] = json!("log(abs(x))");
                v["estimator"] =
                    json!({ "kind": "reparameterization", "control_variate": "delta" });
            }),
            status: 422,
            pointer: Some("/estimator"),
        },
        Bad {
            name: "coupling on score_function",
            method: POST,
            path: est,
            body: Job(|v| {
                v["estimator"] = json!({ "kind": "score_function", "coupling": true });
            }),
            status: 422,
            pointer: Some("/estimator/coupling"),
        },
        Bad {
            name: "coupling on gumbel_softmax",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "probs": [0.5] });
                v["objective"] = json!("x[0]");
                v["estimator"] =
                    json!({ "kind": "gumbel_softmax", "temperature": 1.0, "coupling": false });
            }),
            status: 422,
            pointer: Some("/estimator/coupling"),
        },
        Bad {
            name: "measure_valued coupling as a string",
            method: POST,
            path: est,
            body: Job(|v| {
                v["estimator"] = json!({ "kind": "measure_valued", "coupling": "yes" });
            }),
            status: 422,
            pointer: Some("/estimator/coupling"),
        },
        Bad {
            name: "measure_valued with a temperature",
            method: POST,
            path: est,
            body: Job(|v| {
                v["estimator"] = json!({ "kind": "measure_valued", "temperature": 1.0 });
            }),
            status: 422,
            pointer: Some("/estimator/temperature"),
        },
        Bad {
            name: "measure_valued on a categorical",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "measure_valued" });
            }),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "gumbel_rao without a temperature",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_rao", "draws": 5 });
            }),
            status: 422,
            pointer: Some("/estimator/temperature"),
        },
        Bad {
            name: "gumbel_rao with 0 draws",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_rao", "temperature": 0.5, "draws": 0 });
            }),
            status: 422,
            pointer: Some("/estimator/draws"),
        },
        Bad {
            name: "gumbel_rao with too many draws",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_rao", "temperature": 0.5, "draws": 1001 });
            }),
            status: 422,
            pointer: Some("/estimator/draws"),
        },
        Bad {
            name: "gumbel_rao with fractional draws",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_rao", "temperature": 0.5, "draws": 2.5 });
            }),
            status: 422,
            pointer: Some("/estimator/draws"),
        },
        Bad {
            name: "gumbel_rao with negative draws",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_rao", "temperature": 0.5, "draws": -3 });
            }),
            status: 422,
            pointer: Some("/estimator/draws"),
        },
        Bad {
            name: "draws on gumbel_softmax",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] =
                    json!({ "kind": "gumbel_softmax", "temperature": 0.5, "draws": 10 });
            }),
            status: 422,
            pointer: Some("/estimator/draws"),
        },
        Bad {
            name: "reinmax at a negative temperature",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "reinmax", "temperature": -1.0 });
            }),
            status: 422,
            pointer: Some("/estimator/temperature"),
        },
        Bad {
            name: "hard on reinmax",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "reinmax", "hard": true });
            }),
            status: 422,
            pointer: Some("/estimator/hard"),
        },
        Bad {
            name: "temperature on arm",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "logits": [0.0, 1.0] });
                v["objective"] = json!("sum(x)");
                v["estimator"] = json!({ "kind": "arm", "temperature": 1.0 });
            }),
            status: 422,
            pointer: Some("/estimator/temperature"),
        },
        Bad {
            name: "draws on disarm",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "logits": [0.0, 1.0] });
                v["objective"] = json!("sum(x)");
                v["estimator"] = json!({ "kind": "disarm", "draws": 2 });
            }),
            status: 422,
            pointer: Some("/estimator/draws"),
        },
        Bad {
            name: "arm on a categorical",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "logits": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "arm" });
            }),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "reinmax on a bernoulli",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "logits": [0.0, 1.0] });
                v["objective"] = json!("sum(x)");
                v["estimator"] = json!({ "kind": "reinmax" });
            }),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        Bad {
            name: "arm with a probability of 0",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "probs": [0.5, 0.0] });
                v["objective"] = json!("sum(x)");
                v["estimator"] = json!({ "kind": "arm" });
            }),
            status: 422,
            pointer: Some("/distribution/probs/1"),
        },
        Bad {
            name: "disarm with a probability of 1",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "probs": [1.0, 0.5] });
                v["objective"] = json!("sum(x)");
                v["estimator"] = json!({ "kind": "disarm" });
            }),
            status: 422,
            pointer: Some("/distribution/probs/0"),
        },
        Bad {
            name: "gumbel_rao with a zero category probability",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "probs": [0.5, 0.0, 0.5] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "gumbel_rao", "temperature": 0.5 });
            }),
            status: 422,
            pointer: Some("/distribution/probs/1"),
        },
        Bad {
            name: "reinmax with a zero category probability",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "categorical", "probs": [0.0, 1.0] });
                v["objective"] = json!("x[0]");
                v["estimator"] = json!({ "kind": "reinmax" });
            }),
            status: 422,
            pointer: Some("/distribution/probs/0"),
        },
        // Partial runs and their merge; the jobs listing.
        Bad {
            name: "chunks without a seed",
            method: POST,
            path: est,
            body: Job(|v| {
                remove(v, "/seed");
                v["chunks"] = json!({ "start": 0, "count": 1 });
            }),
            status: 422,
            pointer: Some("/seed"),
        },
        Bad {
            name: "chunks with count 0",
            method: POST,
            path: est,
            body: Job(|v| v["chunks"] = json!({ "start": 0, "count": 0 })),
            status: 422,
            pointer: Some("/chunks/count"),
        },
        Bad {
            name: "chunks beyond the job's",
            method: POST,
            path: est,
            body: Job(|v| v["chunks"] = json!({ "start": 100000, "count": 1 })),
            status: 422,
            pointer: Some("/chunks"),
        },
        Bad {
            name: "chunks with a negative start",
            method: POST,
            path: est,
            body: Job(|v| v["chunks"] = json!({ "start": -1, "count": 1 })),
            status: 422,
            pointer: Some("/chunks/start"),
        },
        Bad {
            name: "chunks with an unknown field",
            method: POST,
            path: est,
            body: Job(|v| v["chunks"] = json!({ "start": 0, "count": 1, "end": 2 })),
            status: 422,
            pointer: Some("/chunks/end"),
        },
        Bad {
            name: "merge of no partials",
            method: POST,
            path: "/v1/merge",
            body: Raw("{\"partials\": []}", Some("application/json")),
            status: 422,
            pointer: Some("/partials"),
        },
        Bad {
            name: "merge without partials",
            method: POST,
            path: "/v1/merge",
            body: Raw("{}", Some("application/json")),
            status: 422,
            pointer: Some("/partials"),
        },
        Bad {
            name: "merge of something that is not a partial",
            method: POST,
            path: "/v1/merge",
            body: Raw(
                "{\"partials\": [{\"kind\": \"estimate\"}]}",
                Some("application/json"),
            ),
            status: 422,
            pointer: Some("/partials/0/kind"),
        },
        Bad {
            name: "jobs listed by an unknown status",
            method: Method::GET,
            path: "/v1/jobs?status=done",
            body: Empty,
            status: 422,
            pointer: None,
        },
        Bad {
            name: "jobs listed with limit 0",
            method: Method::GET,
            path: "/v1/jobs?limit=0",
            body: Empty,
            status: 422,
            pointer: None,
        },
        Bad {
            name: "jobs listed after a made-up marker",
            method: Method::GET,
            path: "/v1/jobs?after=page2",
            body: Empty,
            status: 422,
            pointer: None,
        },
        Bad {
            name: "jobs listed with an unknown parameter",
            method: Method::GET,
            path: "/v1/jobs?sort=oldest",
            body: Empty,
            status: 422,
            pointer: None,
        },
        Bad {
            name: "exact beyond the outcome limit",
            method: POST,
            path: est,
            body: Job(|v| {
                v["distribution"] = json!({ "family": "bernoulli", "probs": vec![0.5; 17] });
                v["objective"] = json!("sum(x)");
                v["estimator"] = json!({ "kind": "exact" });
            }),
            status: 422,
            pointer: Some("/estimator/kind"),
        },
        // Jobs, compare, routes.
        Bad {
            name: "bad job body",
            method: POST,
            path: "/v1/jobs",
            body: Job(|v| set(v, "/distribution/scale/0", json!(-1.0))),
            status: 422,
            pointer: Some("/distribution/scale/0"),
        },
        Bad {
            name: "compare: estimator that does not apply",
            method: POST,
            path: "/v1/compare",
            body: Compare(
                |v| v["estimators"] = json!([{ "kind": "reparameterization" }, { "kind": "gumbel_softmax", "temperature": 1.0 }]),
            ),
            status: 422,
            pointer: Some("/estimators/1/kind"),
        },
        Bad {
            name: "compare: estimators neither list nor all",
            method: POST,
            path: "/v1/compare",
            body: Compare(|v| v["estimators"] = json!("some")),
            status: 422,
            pointer: Some("/estimators"),
        },
        Bad {
            name: "compare: empty list",
            method: POST,
            path: "/v1/compare",
            body: Compare(|v| v["estimators"] = json!([])),
            status: 422,
            pointer: Some("/estimators"),
        },
        Bad {
            name: "compare: unknown field",
            method: POST,
            path: "/v1/compare",
            body: Compare(|v| v["estimator"] = json!({ "kind": "reparameterization" })),
            status: 422,
            pointer: Some("/estimator"),
        },
        Bad {
            name: "job id not a uuid",
            method: Method::GET,
            path: "/v1/jobs/not-a-uuid",
            body: Empty,
            status: 404,
            pointer: None,
        },
        Bad {
            name: "unknown job id",
            method: Method::GET,
            path: "/v1/jobs/6f1c8c5e-3b8a-4d7e-9a52-0c1b2d3e4f50",
            body: Empty,
            status: 404,
            pointer: None,
        },
        Bad {
            name: "delete an unknown job",
            method: Method::DELETE,
            path: "/v1/jobs/6f1c8c5e-3b8a-4d7e-9a52-0c1b2d3e4f50",
            body: Empty,
            status: 404,
            pointer: None,
        },
        Bad {
            name: "unknown route",
            method: Method::GET,
            path: "/v2/estimate",
            body: Empty,
            status: 404,
            pointer: None,
        },
        Bad {
            name: "unknown file under /docs",
            method: Method::GET,
            path: "/docs/nope.js",
            body: Empty,
            status: 404,
            pointer: None,
        },
        Bad {
            name: "wrong method",
            method: Method::GET,
            path: "/v1/estimate",
            body: Empty,
            status: 405,
            pointer: None,
        },
    ]
}

async fn send(app: &TestApp, bad: &Bad) -> (reqwest::Response, String) {
    let (bytes, content_type, shown): (Vec<u8>, Option<&str>, String) = match &bad.body {
        Body::Job(change) => {
            let mut v = normal_job();
            change(&mut v);
            (
                serde_json::to_vec(&v).unwrap(),
                Some("application/json"),
                v.to_string(),
            )
        }
        Body::Compare(change) => {
            let mut v = compare_body();
            change(&mut v);
            (
                serde_json::to_vec(&v).unwrap(),
                Some("application/json"),
                v.to_string(),
            )
        }
        Body::Raw(text, ct) => (text.as_bytes().to_vec(), *ct, (*text).to_string()),
        Body::Empty => (Vec::new(), None, String::new()),
    };
    let response = app
        .send_raw(bad.method.clone(), bad.path, bytes, content_type)
        .await;
    let mut shown = shown;
    if shown.len() > 300 {
        shown.truncate(300);
        shown.push('…');
    }
    (response, shown)
}

/// A detail speaks the API's words: none of serde's or Rust's.
fn in_api_words(detail: &str) -> bool {
    const RUST: [&str; 12] = [
        "unknown variant",
        "invalid type",
        "invalid value",
        "missing field",
        "expected f64",
        "expected u64",
        "expected usize",
        "struct ",
        "enum ",
        "a sequence",
        "a map",
        "`",
    ];
    !RUST.iter().any(|w| detail.contains(w))
}

#[tokio::test]
async fn bad_requests_get_problems_with_the_right_status_and_pointer() {
    let app = spawn_app().await;
    let table = table();
    assert!(table.len() >= 30);
    let mut failures = Vec::new();
    for bad in &table {
        let (response, payload) = send(&app, bad).await;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().await.unwrap_or_default();
        let problem: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let pointer = problem.get("pointer").and_then(Value::as_str);
        let ok = status == bad.status
            && content_type.starts_with("application/problem+json")
            && problem["status"] == bad.status
            && problem["type"].is_string()
            && problem["title"].is_string()
            && problem["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty() && in_api_words(d))
            && pointer == bad.pointer;
        if !ok {
            failures.push(format!(
                "{} ({} {} with {payload}): expected {} at {:?}, got {status} {content_type}: {text}",
                bad.name, bad.method, bad.path, bad.status, bad.pointer
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad requests misbehaved:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
    assert!(
        app.healthy().await,
        "the service answers /healthz after the bad requests"
    );
}

#[tokio::test]
async fn problems_explain_themselves() {
    let app = spawn_app().await;
    let mut v = normal_job();
    v["estimator"] = json!({ "kind": "gumbel_softmax", "temperature": 0.5 });
    let p: Value = app.post("/v1/estimate", &v).await.json().await.unwrap();
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("reparameterization") && detail.contains("score_function"),
        "names the estimators that apply: {p}"
    );

    // measure_valued on a family without it: the generic refusal names those that apply.
    let mut v = normal_job();
    v["distribution"] = json!({ "family": "gamma", "concentration": [2.0], "rate": [1.0] });
    v["estimator"] = json!({ "kind": "measure_valued" });
    let p: Value = app.post("/v1/estimate", &v).await.json().await.unwrap();
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("measure_valued")
            && detail.contains("reparameterization")
            && detail.contains("score_function"),
        "names the estimators that apply: {p}"
    );

    let mut v = normal_job();
    v["objective"] = json!("sum(x) + foo(x)");
    let p: Value = app.post("/v1/estimate", &v).await.json().await.unwrap();
    assert_eq!(p["column"], 10, "the column of foo: {p}");

    let mut v = normal_job();
    v["distribution"]["scale"][1] = json!(-2.0);
    let p: Value = app.post("/v1/estimate", &v).await.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("scale"), "{p}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_small_body().await;
    let mut v = normal_job();
    v["objective"] = json!("x".repeat(5_000));
    let response = app.post("/v1/estimate", &v).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let p: Value = response.json().await.unwrap();
    assert_eq!(p["status"], 413, "{p}");
    assert!(app.healthy().await);
}

async fn spawn_app_small_body() -> TestApp {
    crate::helpers::spawn_app_with(|c| c.limits.max_body_bytes = 4_096).await
}

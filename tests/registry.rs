//! Every registered family, driven by the registry alone (`FAMILIES`, each
//! family's `example`, `EstimatorKind::ALL`), so a new family or estimator is
//! covered the moment it is registered:
//!
//! - every estimator the family lists runs on its example parameters (each
//!   variant of `common::variants`: the score function with three baselines,
//!   Gumbel-Softmax soft and straight-through, the measure-valued derivative
//!   coupled and uncoupled): it succeeds, the gradient has the
//!   layout's length, every number is finite, no sample is dropped, and the
//!   only warning is a biased estimator's notice that it is biased;
//! - the unbiased ones agree with each other pairwise, and with exact
//!   enumeration (the `exact` estimator, or the `reference` a result carries)
//!   where the family has it; the biased ones (Gumbel-Softmax) only have to run;
//! - every estimator the family does not list is refused, by the core with
//!   `RunError::Unsupported` naming the ones that apply, and over HTTP with a
//!   422 problem pointing at `/estimator/kind`.
//!
//! The objective, f(x) = Σᵢ tanh(xᵢ) + tanh(2x₀ + ½)·tanh(x₁ − ½), is smooth and
//! bounded, and each ∂f/∂xᵢ is bounded and decays exponentially in xᵢ: every
//! family's gradient exists and every estimator's terms have a finite variance,
//! Cauchy included. The product term tells three categories of a one-hot sample
//! apart and couples the components (with Σ tanh alone every one-hot sample
//! would give the same f, and with two values only, the optimal baseline would
//! make a term constant: a zero-variance estimate whose std_error is rounding).
//! The examples have at least two components (a unit test in the registry
//! says so), so x₁ exists.
//!
//! Tolerances and false alarms. Runs of N = 50 000 samples have 64 chunks, so
//! each std_error comes from 64 batch means and z is t-distributed with 63
//! degrees of freedom (at least 63 for a difference, by Welch): P(|z| ≥ 4.5) ≤
//! 3.0e-5 per check. Components whose terms are the same for every sample
//! (std_error 0: the zero upper triangle of `scale_tril`) must match up to
//! rounding and cannot raise a false alarm. The agreement test makes 410 such
//! z-checks today (388 pairwise, 22 against enumeration; it prints the count), so
//! the chance that a correct core fails it with these seeds is at most
//! 410 × 3.0e-5 ≈ 1.2e-2 (union bound); it asserts that the bound stays below
//! 2e-2 as families are added. Seeds are fixed: it is never flaky.
//!
//! Negative control: `a_biased_estimator_fails_the_agreement_check` shows the
//! same check catching Gumbel-Softmax's bias against enumeration.
#![allow(clippy::disallowed_methods)]

mod common;

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use common::*;
use gradest::estimation::distributions::{ExampleValue, FAMILIES, FamilyInfo};
use gradest::estimation::{Estimate, RunError};
use gradest::estimation::{Estimator, EstimatorKind};
use serde_json::{Value, json};

/// Samples per run: 64 chunks, a few milliseconds per run in a debug build.
const N: u64 = 50_000;

/// Smooth and bounded on every family's support (see the module docs).
const OBJECTIVE: &str = "sum(tanh(x)) + tanh(2 * x[0] + 0.5) * tanh(x[1] - 0.5)";

/// A stable seed per (family, estimator variant), independent of the order of
/// the registry: FNV-1a of "family/variant".
fn seed(family: &str, variant: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in family.bytes().chain(*b"/").chain(variant.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The estimator kinds of `EstimatorKind::ALL` the family lists, or does not.
fn kinds(info: &FamilyInfo, listed: bool) -> impl Iterator<Item = EstimatorKind> + '_ {
    EstimatorKind::ALL
        .into_iter()
        .filter(move |k| info.estimators.contains(k) == listed)
}

/// One finished run.
struct Run {
    label: String,
    estimator: Estimator,
    e: Estimate,
}

/// Runs every variant of every estimator the family lists, on its example, and
/// checks each result on its own.
fn run_all(info: &FamilyInfo) -> Vec<Run> {
    let input = info.example_input();
    let mut runs = Vec::new();
    for kind in kinds(info, true) {
        for (variant, estimator) in variants(kind) {
            let label = format!("{} {variant}", info.name);
            let j = job(
                info.name,
                &input,
                OBJECTIVE,
                estimator,
                N,
                seed(info.name, variant),
            );
            let e = try_run(&j).unwrap_or_else(|err| panic!("{label}: the run failed: {err}"));
            check_run(info, &label, estimator, &e);
            runs.push(Run {
                label,
                estimator,
                e,
            });
        }
    }
    runs
}

/// Checks a result alone: shapes, finiteness, flags, nothing dropped or warned.
fn check_run(info: &FamilyInfo, label: &str, estimator: Estimator, e: &Estimate) {
    let total: usize = e
        .layout
        .iter()
        .map(|l| l.shape.iter().product::<usize>())
        .sum();
    assert_eq!(e.gradient.len(), total, "{label}: gradient length");
    assert_eq!(e.std_error.len(), total, "{label}: std_error length");
    assert_eq!(e.variance.len(), total, "{label}: variance length");
    // The layout is the family's differentiated parameters that the example gives, in order.
    let want: Vec<&str> = info
        .params
        .iter()
        .filter(|p| p.differentiable && info.example.iter().any(|(n, _)| *n == p.name))
        .map(|p| p.name)
        .collect();
    let got: Vec<&str> = e.layout.iter().map(|l| l.name).collect();
    assert_eq!(got, want, "{label}: layout");
    assert_eq!(e.estimator, estimator.kind(), "{label}: estimator");
    assert_eq!(e.unbiased, estimator.unbiased(), "{label}: unbiased flag");
    let all = e
        .gradient
        .iter()
        .chain(&e.std_error)
        .chain(&e.variance)
        .chain([&e.objective.mean, &e.objective.std_error]);
    for v in all {
        assert!(v.is_finite(), "{label}: a non-finite number in {e:#?}");
    }
    assert!(e.std_error.iter().all(|s| *s >= 0.0), "{label}: std_error");
    let d = &e.diagnostics;
    assert_eq!(d.non_finite, 0, "{label}: dropped samples");
    if estimator == Estimator::Exact {
        assert_eq!(d.samples, 0, "{label}: exact samples nothing");
        assert_eq!(d.warnings.len(), 1, "{label}: {:?}", d.warnings);
        assert!(
            d.warnings[0].starts_with("exact enumeration over"),
            "{label}"
        );
    } else {
        assert_eq!(d.samples, N, "{label}: samples");
        // A biased estimator says so, and nothing else; an unbiased one says nothing.
        let bias = d
            .warnings
            .iter()
            .filter(|w| w.contains("is biased"))
            .count();
        let expected = usize::from(!estimator.unbiased());
        assert!(
            bias == expected && d.warnings.len() == expected,
            "{label}: warnings {:?}",
            d.warnings
        );
        assert_eq!(
            d.chunks, 64,
            "{label}: chunks (the false-alarm rate assumes 64)"
        );
        assert!(
            e.std_error.iter().any(|s| *s > 0.0),
            "{label}: no noise at all"
        );
    }
}

/// The exact gradient where the family can be enumerated: the `exact` run's, which
/// every sampled run's `reference` must repeat.
fn truth(runs: &[Run]) -> Option<Vec<f64>> {
    let (source, truth) = match runs.iter().find(|r| r.estimator == Estimator::Exact) {
        Some(r) => (r, r.e.gradient.clone()),
        None => runs
            .iter()
            .find_map(|r| r.e.reference.as_ref().map(|t| (r, t.gradient.clone())))?,
    };
    // Every other run's reference must equal it (the source's own is not compared
    // with itself, unless it is the exact run's).
    for r in runs
        .iter()
        .filter(|r| !std::ptr::eq(*r, source) || r.estimator == Estimator::Exact)
    {
        let reference = r.e.reference.as_ref().map(|t| &t.gradient);
        assert_eq!(reference, Some(&truth), "{}: reference", r.label);
    }
    Some(truth)
}

/// z-checks of `a` against `b` (b's std_error may be 0, for the exact gradient),
/// one per component; adds their number and the largest |z| to `tally`.
fn agree(what: &str, a: &Estimate, b: (&[f64], &[f64]), tally: &mut (usize, f64)) {
    for (k, name) in component_names(a).iter().enumerate() {
        let se = a.std_error[k].hypot(b.1[k]);
        assert_z(&format!("{what}, ∂/∂{name}"), a.gradient[k], b.0[k], se);
        if se > 0.0 {
            tally.1 = tally.1.max(((a.gradient[k] - b.0[k]) / se).abs());
        }
        tally.0 += 1;
    }
}

#[test]
fn applicable_estimators_run_cleanly_and_unbiased_ones_agree() {
    let (mut pairwise, mut enumeration) = ((0, 0.0), (0, 0.0));
    for info in FAMILIES {
        let runs = run_all(info);
        assert!(!runs.is_empty(), "{}: no estimator applies", info.name);
        let sampled: Vec<&Run> = runs
            .iter()
            .filter(|r| r.estimator.unbiased() && r.estimator != Estimator::Exact)
            .collect();
        for (i, a) in sampled.iter().enumerate() {
            for b in &sampled[i + 1..] {
                let what = format!("{} vs {}", a.label, b.label);
                agree(&what, &a.e, (&b.e.gradient, &b.e.std_error), &mut pairwise);
            }
        }
        if let Some(t) = truth(&runs) {
            let zeros = vec![0.0; t.len()];
            for a in &sampled {
                let what = format!("{} vs enumeration", a.label);
                agree(&what, &a.e, (&t, &zeros), &mut enumeration);
            }
        }
    }
    // P(|t₆₃| ≥ 4.5), the per-check rate; the union bound over all checks.
    let rate = 3.0e-5 * (pairwise.0 + enumeration.0) as f64;
    println!(
        "{} pairwise z-checks (max |z| {:.2}), {} against enumeration (max |z| {:.2}); \
         false-alarm rate ≤ {rate:.1e}",
        pairwise.0, pairwise.1, enumeration.0, enumeration.1
    );
    assert!(
        enumeration.0 > 0,
        "no family was checked against enumeration"
    );
    assert!(pairwise.0 > 0, "no two unbiased estimators were compared");
    assert!(
        rate < 2e-2,
        "{rate:.1e}: too many checks for the per-check rate; raise Z_MAX or check fewer pairs"
    );
}

/// Negative control: Gumbel-Softmax at τ = 0.5 is biased, and the agreement
/// check against enumeration rejects it (|z| ≥ 4.5 in some component) for every
/// family that has both.
#[test]
fn a_biased_estimator_fails_the_agreement_check() {
    let mut controls = 0;
    for info in FAMILIES {
        let has = |k| info.estimators.contains(&k);
        if !(has(EstimatorKind::GumbelSoftmax) && has(EstimatorKind::Exact)) {
            continue;
        }
        let input = info.example_input();
        let exact = run_ok(&job(info.name, &input, OBJECTIVE, Estimator::Exact, 2, 1));
        for (variant, estimator) in variants(EstimatorKind::GumbelSoftmax) {
            let j = job(
                info.name,
                &input,
                OBJECTIVE,
                estimator,
                N,
                seed(info.name, variant),
            );
            let e = run_ok(&j);
            let (z, k) = max_abs_z(&e.gradient, &e.std_error, &exact.gradient);
            println!("{} {variant}: max |z| = {z:.1} at component {k}", info.name);
            assert!(
                z >= Z_MAX,
                "{} {variant}: the bias went unnoticed (max |z| = {z:.2})",
                info.name
            );
            controls += 1;
        }
    }
    assert!(controls > 0, "no family has both gumbel_softmax and exact");
}

/// Every kind is listed by some family, so the agreement test exercises it.
#[test]
fn every_estimator_kind_applies_to_some_family() {
    for kind in EstimatorKind::ALL {
        assert!(
            FAMILIES.iter().any(|f| f.estimators.contains(&kind)),
            "no family lists {kind}"
        );
    }
}

/// The applicable estimators as the core's refusal lists them.
fn applicable(info: &FamilyInfo) -> Vec<&'static str> {
    info.estimators.iter().map(|k| k.name()).collect()
}

#[test]
fn estimators_that_do_not_apply_are_refused_by_the_core() {
    let mut refused = 0;
    for info in FAMILIES {
        for kind in kinds(info, false) {
            for (variant, estimator) in variants(kind) {
                let j = job(info.name, &info.example_input(), OBJECTIVE, estimator, N, 1);
                let label = format!("{} {variant}", info.name);
                let Err(RunError::NotApplicable {
                    estimator,
                    family,
                    applicable: listed,
                }) = try_run(&j)
                else {
                    panic!("{label}: not refused as not applicable");
                };
                assert_eq!((estimator, family), (kind, info.name), "{label}");
                let listed: Vec<&str> = listed.iter().map(|k| k.name()).collect();
                assert_eq!(listed, applicable(info), "{label}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "every family accepts every estimator");
}

/// A parameter value as JSON.
fn to_json(v: ExampleValue) -> Value {
    match v {
        ExampleValue::Vector(v) => json!(v),
        ExampleValue::Matrix(rows) => json!(rows),
    }
}

/// A request body for `POST /v1/estimate` on the family's example.
fn request(info: &FamilyInfo, kind: EstimatorKind) -> Value {
    let mut distribution = json!({ "family": info.name });
    for (name, value) in info.example {
        distribution[*name] = to_json(*value);
    }
    let mut estimator = json!({ "kind": kind.name() });
    if kind == EstimatorKind::GumbelSoftmax {
        estimator["temperature"] = json!(0.5);
    }
    json!({
        "distribution": distribution,
        "objective": OBJECTIVE,
        "estimator": estimator,
        "samples": 2000,
        "seed": 1
    })
}

#[tokio::test]
async fn estimators_that_do_not_apply_are_refused_over_http_with_a_422_problem() {
    let app = helpers::spawn_app().await;
    let mut refused = 0;
    for info in FAMILIES {
        // The control: the family's first estimator is accepted by the same request.
        let ok = app
            .post_ok("/v1/estimate", &request(info, info.estimators[0]))
            .await;
        assert!(ok["gradient"].is_object(), "{}: {ok}", info.name);
        for kind in kinds(info, false) {
            let label = format!("{} {kind}", info.name);
            let response = app.post("/v1/estimate", &request(info, kind)).await;
            assert_eq!(response.status(), 422, "{label}");
            let content_type = response.headers()["content-type"].to_str().unwrap_or("");
            assert!(
                content_type.starts_with("application/problem+json"),
                "{label}"
            );
            let problem: Value = response.json().await.expect("a JSON problem");
            assert_eq!(
                problem["type"], "urn:gradest:problem:estimator-not-applicable",
                "{label}: {problem}"
            );
            assert_eq!(problem["pointer"], "/estimator/kind", "{label}: {problem}");
            let detail = problem["detail"].as_str().unwrap_or("");
            assert!(detail.contains(kind.name()), "{label}: {detail}");
            assert!(detail.contains(info.name), "{label}: {detail}");
            let tail = detail.rsplit(": ").next().unwrap_or("");
            let listed: Vec<&str> = tail.split(", ").collect();
            assert_eq!(listed, applicable(info), "{label}: {detail}");
            refused += 1;
        }
    }
    assert!(refused > 0, "every family accepts every estimator");
}

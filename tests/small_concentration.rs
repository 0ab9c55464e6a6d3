//! Gamma, beta and dirichlet with small concentration, through the real HTTP
//! API: E[log x] and its gradient are exact (drawn in log space) down to
//! α = 10⁻⁴, where most draws are below the smallest f64; and where f uses x
//! itself, the draws that underflow are counted and warned about.
//!
//! Truths, with ψ the digamma and ψ′ the trigamma function:
//! - Gamma(α, β): E log x = ψ(α) − log β, ∂α = ψ′(α), ∂β = −1/β;
//! - Beta(a, b): E log x = ψ(a) − ψ(a+b), ∂a = ψ′(a) − ψ′(a+b), ∂b = −ψ′(a+b),
//!   and E log(1 − x) the same with a and b swapped;
//! - Dirichlet(α): E log x₀ = ψ(α₀) − ψ(Σα), ∂α₀ = ψ′(α₀) − ψ′(Σα), ∂αⱼ = −ψ′(Σα).
//!
//! Tolerances: every check is |z| < 4.5 with z = (estimate − truth)/std_error.
//! For the objective's mean std_error comes from all N iid samples (z normal,
//! false alarm 6.8e-6 per check); for a gradient component from batch means
//! over 64 chunks (z is t with 63 degrees of freedom, false alarm ≤ 3.0e-5 per
//! component, 9.0e-5 bounds it, see tests/common). The main test makes 112
//! such checks, so a correct build would fail it for at most 1% of seed
//! choices; the seeds are fixed, so it passes or fails for good. Negative control:
//! the objective the old clamped sampler effectively computed (log x floored at log 2.2e-308) is
//! rejected against the same truths.
#![allow(clippy::disallowed_methods)]

mod common;
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use common::{Z_MAX, assert_z};
use gradest::estimation::special::trigamma;
use helpers::{TestApp, spawn_app};
use serde_json::{Value, json};
use statrs::function::gamma::{digamma, ln_gamma};

/// Samples per job: 10⁵ (the whole file runs in about a second in a debug build).
const N: u64 = 100_000;

/// The shapes checked: Gamma(10⁻⁴) has P(x < 2.2e-308) ≈ 0.93, Gamma(10⁻³) 0.49,
/// Gamma(10⁻²) 8e-4, Gamma(0.1) 1e-31.
const ALPHAS: [f64; 4] = [1e-4, 1e-3, 1e-2, 0.1];

/// log of the smallest normal f64, where the old sampler clamped.
const LOG_FLOOR: f64 = -708.396_418_532_264_1;

/// One job: distribution, objective, and the truths (E f, gradient by parameter).
struct Case {
    label: String,
    distribution: Value,
    objective: String,
    mean: f64,
    gradient: Vec<(&'static str, Vec<f64>)>,
}

fn gamma_case(a: f64) -> Case {
    let rate: [f64; 2] = [1.5, 0.5];
    Case {
        label: format!("gamma({a}, 1.5) & gamma(2, 0.5)"),
        distribution: json!({"family": "gamma", "concentration": [a, 2.0], "rate": rate}),
        objective: "sum(log(x))".into(),
        mean: digamma(a) - rate[0].ln() + digamma(2.0) - rate[1].ln(),
        gradient: vec![
            ("concentration", vec![trigamma(a), trigamma(2.0)]),
            ("rate", vec![-1.0 / rate[0], -1.0 / rate[1]]),
        ],
    }
}

/// Beta(a, 1) read through log x and Beta(1, a) through log(1 − x), in one job.
fn beta_case(a: f64) -> Case {
    let (da, ds) = (trigamma(a) - trigamma(a + 1.0), -trigamma(a + 1.0));
    Case {
        label: format!("beta({a}, 1) & beta(1, {a})"),
        distribution: json!({"family": "beta", "concentration1": [a, 1.0], "concentration0": [1.0, a]}),
        objective: "log(x[0]) + log1p(-x[1])".into(),
        mean: 2.0 * (digamma(a) - digamma(a + 1.0)),
        gradient: vec![
            ("concentration1", vec![da, ds]),
            ("concentration0", vec![ds, da]),
        ],
    }
}

fn dirichlet_case(a: f64) -> Case {
    let total = a + 1.5;
    let t = trigamma(total);
    Case {
        label: format!("dirichlet([{a}, 1, 0.5])"),
        distribution: json!({"family": "dirichlet", "concentration": [a, 1.0, 0.5]}),
        objective: "log(x[0])".into(),
        mean: digamma(a) - digamma(total),
        gradient: vec![("concentration", vec![trigamma(a) - t, -t, -t])],
    }
}

fn estimators() -> [(&'static str, Value); 2] {
    [
        ("reparameterization", json!({"kind": "reparameterization"})),
        (
            "score_function/mean",
            json!({"kind": "score_function", "baseline": "mean"}),
        ),
    ]
}

async fn estimate(
    app: &TestApp,
    distribution: &Value,
    objective: &str,
    estimator: &Value,
    seed: u64,
) -> Value {
    let body = json!({
        "distribution": distribution,
        "objective": objective,
        "estimator": estimator,
        "samples": N,
        "seed": seed,
    });
    app.post_ok("/v1/estimate", &body).await
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|n| n.as_f64().expect("a number"))
        .collect()
}

/// Checks E f and every gradient component against the truths; returns the
/// table rows (what, truth, estimate, std_error).
fn check(label: &str, r: &Value, case: &Case) -> Vec<(String, f64, f64, f64)> {
    let mut rows = Vec::new();
    let o = &r["objective"];
    let (m, se) = (
        o["mean"].as_f64().unwrap(),
        o["std_error"].as_f64().unwrap(),
    );
    assert_z(&format!("{label}: E f"), m, case.mean, se);
    rows.push((format!("{label}: E f"), case.mean, m, se));
    for (name, truth) in &case.gradient {
        let (g, s) = (
            numbers(&r["gradient"][name]),
            numbers(&r["std_error"][name]),
        );
        for (i, t) in truth.iter().enumerate() {
            let what = format!("{label}: ∂/∂{name}[{i}]");
            if s[i] <= 1e-12 * t.abs() {
                // Pathwise ∂/∂rate of log x is −1/β for every sample: exact up to
                // rounding (its std_error is rounding noise, not a spread).
                assert!(
                    (g[i] - t).abs() <= 1e-12 * t.abs(),
                    "{what}: {} vs {t}",
                    g[i]
                );
            } else {
                assert_z(&what, g[i], *t, s[i]);
            }
            rows.push((what, *t, g[i], s[i]));
        }
    }
    assert_eq!(
        r["diagnostics"]["underflow"], 0,
        "{label}: f reads x only through log: {r}"
    );
    assert_eq!(r["diagnostics"]["non_finite"], 0, "{label}: {r}");
    rows
}

/// |z| ≥ 4.5: the check would catch this wrong value.
fn assert_rejected(what: &str, got: f64, wrong: f64, se: f64) {
    let z = (got - wrong) / se;
    assert!(
        z.abs() >= Z_MAX,
        "{what}: {got:.6e} ± {se:.3e} does not reject {wrong:.6e} (z = {z:.2})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_x_and_its_gradient_are_exact_down_to_tiny_concentrations() {
    let app = spawn_app().await;
    let mut table = Vec::new();
    let mut seed = 1000;
    for a in ALPHAS {
        for case in [gamma_case(a), beta_case(a), dirichlet_case(a)] {
            for (est, spec) in estimators() {
                seed += 1;
                let r = estimate(&app, &case.distribution, &case.objective, &spec, seed).await;
                let label = format!("{} {est}", case.label);
                table.extend(check(&label, &r, &case));
            }
        }
    }
    println!(
        "{:<72} {:>14} {:>14} {:>11}",
        "quantity", "truth", "estimate", "std_error"
    );
    for (what, t, g, s) in &table {
        println!("{what:<72} {t:>14.6e} {g:>14.6e} {s:>11.3e}");
    }
}

/// Negative control: what the clamped sampler of earlier versions computed —
/// log x̃ floored at log 2.2e-308, i.e. f = max(log x + log β, L) − log β — is
/// rejected against ψ(α) − log β and ψ′(α) at α = 10⁻⁴ and 10⁻³ (the clamp
/// hits about 93% and 49% of the draws there), for both estimators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_clamped_answer_is_rejected() {
    let app = spawn_app().await;
    for a in [1e-4, 1e-3] {
        let dist = json!({"family": "gamma", "concentration": [a], "rate": [1.5]});
        let clamped = format!("max(log(x[0]) + log(1.5), {LOG_FLOOR}) - log(1.5)");
        for (k, (est, spec)) in estimators().into_iter().enumerate() {
            let r = estimate(&app, &dist, &clamped, &spec, 77 + k as u64).await;
            let label = format!("clamped gamma({a}) {est}");
            let (m, se) = (
                r["objective"]["mean"].as_f64().unwrap(),
                r["objective"]["std_error"].as_f64().unwrap(),
            );
            assert_rejected(&format!("{label}: E f"), m, digamma(a) - 1.5f64.ln(), se);
            let g = r["gradient"]["concentration"][0].as_f64().unwrap();
            let s = r["std_error"]["concentration"][0].as_f64().unwrap();
            assert_rejected(&format!("{label}: ∂/∂concentration"), g, trigamma(a), s);
        }
    }
}

/// P(G < 2.2e-308) for G ~ Gamma(α, 1): P(α, m) = m^α e^(−m) Σₙ mⁿ/Γ(α+n+1)
/// = m^α/Γ(α + 1) to within a relative 1e-308.
fn underflow_probability(a: f64) -> f64 {
    (a * LOG_FLOOR - ln_gamma(a + 1.0)).exp()
}

/// An objective that uses x itself while x underflows reports how many samples
/// did (a binomial count: z against N·p with its binomial standard error, normal,
/// false alarm 6.8e-6) and warns; the same draws read through log(x) count none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn underflow_is_counted_and_warned_where_f_uses_x() {
    let app = spawn_app().await;
    let a = 1e-3;
    let gamma = json!({"family": "gamma", "concentration": [a], "rate": [1.0]});
    let p = underflow_probability(a);
    let (mean, se) = (N as f64 * p, (N as f64 * p * (1.0 - p)).sqrt());
    for (est, spec) in estimators() {
        let r = estimate(&app, &gamma, "sum(x)", &spec, 5).await;
        let d = &r["diagnostics"];
        let count = d["underflow"].as_u64().unwrap_or_else(|| panic!("{r}"));
        assert_z(
            &format!("gamma({a}) sum(x) {est}: underflow count"),
            count as f64,
            mean,
            se,
        );
        let warned = d["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("below 2.2e-308"));
        assert!(warned, "{est}: no underflow warning in {r}");
        // sum(x) itself is still right: E x = α, ∂α = 1 (underflowed draws add < 1e-308).
        assert_z(
            &format!("gamma({a}) sum(x) {est}: E f"),
            r["objective"]["mean"].as_f64().unwrap(),
            a,
            r["objective"]["std_error"].as_f64().unwrap(),
        );
        // Control: log(x) reads the exact values; nothing is counted or warned.
        let r = estimate(&app, &gamma, "log(x[0])", &spec, 5).await;
        assert_eq!(r["diagnostics"]["underflow"], 0, "{r}");
        assert!(
            r["diagnostics"]["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| !w.as_str().unwrap().contains("2.2e-308")),
            "{r}"
        );
    }
    // x₀ of Dirichlet([a, 1]) and of Beta(a, 1) is Beta(a, 1), with CDF xᵃ: it is
    // below 2.2e-308 with probability q = exp(a·log 2.2e-308), and the count is
    // binomial (false alarm 6.8e-6 per check).
    let q = (a * LOG_FLOOR).exp();
    let (q_mean, q_se) = (N as f64 * q, (N as f64 * q * (1.0 - q)).sqrt());
    // 1/x: the underflowed draws make f infinite; skipped, counted both ways.
    let body = json!({
        "distribution": {"family": "dirichlet", "concentration": [a, 1.0]},
        "objective": "1 / x[0]",
        "estimator": {"kind": "score_function", "baseline": "mean"},
        "samples": N, "seed": 9, "on_non_finite": "skip",
    });
    let r = app.post_ok("/v1/estimate", &body).await;
    let d = &r["diagnostics"];
    let underflow = d["underflow"].as_u64().unwrap();
    assert_z(
        "dirichlet 1/x[0]: underflow count",
        underflow as f64,
        q_mean,
        q_se,
    );
    assert!(d["non_finite"].as_u64().unwrap() > 0, "{r}");
    // Beta, which reads x only to compare it, still counts: f changes where x rounds to 0.
    let beta = json!({"family": "beta", "concentration1": [a], "concentration0": [1.0]});
    let r = estimate(
        &app,
        &beta,
        "x[0] > 0",
        &json!({"kind": "score_function"}),
        3,
    )
    .await;
    assert_z(
        "beta x[0] > 0: underflow count",
        r["diagnostics"]["underflow"].as_u64().unwrap() as f64,
        q_mean,
        q_se,
    );
}

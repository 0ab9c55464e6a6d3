//! The measure-valued derivative against closed forms, exact enumeration and
//! quadrature.
//!
//! Means. Every gradient check is |z| < 4.5 with the runner's std_error (batch
//! means over ≥ 32 chunks, z is t with ≥ 31 degrees of freedom: false alarm
//! ≤ 9.0e-5 per component; ≈ 6.8e-6 for a normal z). The objective's mean
//! (f at the base sample) is checked likewise (normal z, 6.8e-6).
//!
//! Variances. On the Gaussian problems of Mohamed et al. 2020 (Normal(μ = 0.5,
//! σ = 1), f = (x − 1)², exp(−x²), cos(x)) the per-sample variance σ²_T of each
//! term T is computed by quadrature over the variates T is made of (Rayleigh,
//! double-sided Maxwell, uniform, normal), together with its fourth central
//! moment μ₄. The sample variance of N iid terms has standard error
//! √((μ₄ − σ⁴_T)/N) (to O(1/N)); the reported `variance` must be within 4.5 of
//! those of the quadrature's value (normal z: false alarm ≈ 6.8e-6 per check).
//! Negative controls: the same check rejects the other coupling's theory, and a
//! constant 5% too large (variance × 1.1025).
//! Seeds are fixed: nothing here is flaky.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gradest::estimation::{Estimate, Estimator};

const MU: f64 = 0.5;
const SIGMA: f64 = 1.0;
/// The k of the three problems.
const K: f64 = 1.0;
/// Samples per run: a std error of 0.3–1% of the gradient, 0.5–1% of a variance.
const N: u64 = 100_000;

const COUPLED: Estimator = Estimator::MeasureValued { coupling: true };
const UNCOUPLED: Estimator = Estimator::MeasureValued { coupling: false };

/// A Gaussian problem: the objective, f itself, and (E f, ∂μ E f, ∂σ E f).
struct Problem {
    name: &'static str,
    objective: &'static str,
    f: fn(f64) -> f64,
    truth: fn(f64, f64) -> (f64, f64, f64),
}

/// E (x − k)² = (μ − k)² + σ²:  ∂μ = 2(μ − k),  ∂σ = 2σ.
fn quadratic(m: f64, s: f64) -> (f64, f64, f64) {
    ((m - K).powi(2) + s * s, 2.0 * (m - K), 2.0 * s)
}

/// E exp(−kx²) = exp(−kμ²/D)/√D, D = 1 + 2kσ²:
/// ∂μ = E·(−2kμ/D),  ∂σ = E·(−2kσ/D + 4k²μ²σ/D²).
fn bump(m: f64, s: f64) -> (f64, f64, f64) {
    let d = 1.0 + 2.0 * K * s * s;
    let e = (-K * m * m / d).exp() / d.sqrt();
    (
        e,
        e * (-2.0 * K * m / d),
        e * (-2.0 * K * s / d + 4.0 * K * K * m * m * s / (d * d)),
    )
}

/// E cos(kx) = cos(kμ) e^{−k²σ²/2}: ∂μ = −k sin(kμ)e^{…}, ∂σ = −k²σ cos(kμ)e^{…}.
fn cosine(m: f64, s: f64) -> (f64, f64, f64) {
    let damp = (-K * K * s * s / 2.0).exp();
    (
        (K * m).cos() * damp,
        -K * (K * m).sin() * damp,
        -K * K * s * (K * m).cos() * damp,
    )
}

fn problems() -> [Problem; 3] {
    [
        Problem {
            name: "(x - 1)^2",
            objective: "sum((x - 1)^2)",
            f: |x| (x - K).powi(2),
            truth: quadratic,
        },
        Problem {
            name: "exp(-x^2)",
            objective: "sum(exp(-(x^2)))",
            f: |x| (-K * x * x).exp(),
            truth: bump,
        },
        Problem {
            name: "cos(x)",
            objective: "sum(cos(x))",
            f: |x| (K * x).cos(),
            truth: cosine,
        },
    ]
}

// ---------------------------------------------------------------------------
// Quadrature
// ---------------------------------------------------------------------------

/// Composite Simpson nodes and weights on [a, b] with n (even) intervals.
fn simpson(a: f64, b: f64, n: usize) -> Vec<(f64, f64)> {
    let h = (b - a) / n as f64;
    (0..=n)
        .map(|i| {
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            (a + i as f64 * h, w * h / 3.0)
        })
        .collect()
}

/// A variate's density as nodes × (density · weight); the tails beyond ±12
/// carry less than e⁻⁷⁰.
fn rayleigh() -> Vec<(f64, f64)> {
    simpson(0.0, 12.0, 1200)
        .into_iter()
        .map(|(w, q)| (w, q * w * (-w * w / 2.0).exp()))
        .collect()
}

fn maxwell() -> Vec<(f64, f64)> {
    simpson(-12.0, 12.0, 2400)
        .into_iter()
        .map(|(m, q)| (m, q * phi(m) * m * m))
        .collect()
}

fn normal() -> Vec<(f64, f64)> {
    simpson(-12.0, 12.0, 2400)
        .into_iter()
        .map(|(z, q)| (z, q * phi(z)))
        .collect()
}

fn uniform() -> Vec<(f64, f64)> {
    simpson(0.0, 1.0, 400)
}

/// Mean, variance and fourth central moment of T(a, b), a and b independent
/// with the given quadrature rules (for a T of a alone, `b` is [(0, 1)]).
fn moments(a: &[(f64, f64)], b: &[(f64, f64)], t: impl Fn(f64, f64) -> f64) -> [f64; 3] {
    let mut raw = [0.0; 4];
    for &(x, p) in a {
        for &(y, q) in b {
            let v = t(x, y);
            let w = p * q;
            raw[0] += w * v;
            raw[1] += w * v * v;
            raw[2] += w * v * v * v;
            raw[3] += w * v * v * v * v;
        }
    }
    let m = raw[0];
    let var = raw[1] - m * m;
    let mu4 = raw[3] - 4.0 * m * raw[2] + 6.0 * m * m * raw[1] - 3.0 * m.powi(4);
    [m, var, mu4]
}

/// The four terms' (mean, variance, μ₄): [loc coupled, loc uncoupled, scale
/// coupled, scale uncoupled], for one problem at (μ, σ).
fn theory(f: fn(f64) -> f64) -> [[f64; 3]; 4] {
    let (m, s) = (MU, SIGMA);
    let c_loc = 1.0 / (s * (2.0 * std::f64::consts::PI).sqrt());
    let c_scale = 1.0 / s;
    let one = [(0.0, 1.0)];
    [
        moments(&rayleigh(), &one, |w, _| {
            c_loc * (f(m + s * w) - f(m - s * w))
        }),
        moments(&rayleigh(), &rayleigh(), |w, v| {
            c_loc * (f(m + s * w) - f(m - s * v))
        }),
        moments(&maxwell(), &uniform(), |x, u| {
            c_scale * (f(m + s * x) - f(m + s * u * x))
        }),
        moments(&maxwell(), &normal(), |x, z| {
            c_scale * (f(m + s * x) - f(m + s * z))
        }),
    ]
}

/// z of a reported per-sample variance against a theoretical one, with the
/// sample variance's standard error √((μ₄ − σ⁴)/N).
fn variance_z(got: f64, var: f64, mu4: f64) -> f64 {
    (got - var) / ((mu4 - var * var) / N as f64).sqrt()
}

// ---------------------------------------------------------------------------
// Normal
// ---------------------------------------------------------------------------

/// The quadrature means are the closed-form gradients (a check of the rules and
/// of the decompositions themselves: to 1e-9).
#[test]
fn quadrature_reproduces_the_closed_form_gradients() {
    for p in problems() {
        let (_, dmu, dsigma) = (p.truth)(MU, SIGMA);
        let t = theory(p.f);
        for (j, want) in [dmu, dmu, dsigma, dsigma].into_iter().enumerate() {
            assert!(
                (t[j][0] - want).abs() < 1e-9,
                "{} term {j}: quadrature mean {} vs closed form {want}",
                p.name,
                t[j][0]
            );
        }
    }
}

fn run_normal(p: &Problem, estimator: Estimator, seed: u64) -> Estimate {
    run_ok(&normal_job(
        &[MU],
        &[SIGMA],
        p.objective,
        estimator,
        N,
        seed,
    ))
}

/// Unbiased for loc and scale, coupled and uncoupled; f's summary is f at the
/// base sample; 5 evaluations per sample (1 + 2·2); marked unbiased.
#[test]
fn normal_gradients_match_closed_forms() {
    for (i, p) in problems().iter().enumerate() {
        let (ef, dmu, dsigma) = (p.truth)(MU, SIGMA);
        for (j, estimator) in [COUPLED, UNCOUPLED].into_iter().enumerate() {
            let label = format!("{} {estimator:?}", p.name);
            let e = run_normal(p, estimator, 100 + 10 * i as u64 + j as u64);
            assert_gradient(&label, &e, &[dmu, dsigma]);
            assert_objective(&label, &e, ef);
            assert!(e.unbiased, "{label}");
            assert_eq!(e.diagnostics.evaluations_per_sample, 5.0, "{label}");
        }
    }
}

/// The reported per-sample variances match quadrature (see the module docs),
/// and the same check rejects the other coupling's theory and a wrong constant.
#[test]
fn normal_variances_match_quadrature() {
    let mut rejected_other = 0;
    for (i, p) in problems().iter().enumerate() {
        let t = theory(p.f);
        for (j, estimator) in [COUPLED, UNCOUPLED].into_iter().enumerate() {
            let e = run_normal(p, estimator, 100 + 10 * i as u64 + j as u64);
            // Component 0 is loc (theory rows 0, 1), component 1 scale (rows 2, 3).
            for (k, part) in ["loc", "scale"].into_iter().enumerate() {
                let (own, other) = (t[2 * k + j], t[2 * k + 1 - j]);
                let got = e.variance[k];
                let z = variance_z(got, own[1], own[2]);
                println!(
                    "{} {part} {estimator:?}: variance {got:.6} vs quadrature {:.6} (z = {z:.2})",
                    p.name, own[1]
                );
                assert!(
                    z.abs() < Z_MAX,
                    "{} {part} {estimator:?}: z = {z:.2}",
                    p.name
                );
                // Negative control: a constant 5% too large is rejected.
                let wrong = variance_z(got, 1.1025 * own[1], 1.1025f64.powi(2) * own[2]);
                assert!(wrong.abs() >= Z_MAX, "{} {part}: wrong c passed", p.name);
                // Negative control: the other coupling's theory, where it differs
                // by more than 10%, is rejected.
                if (other[1] / own[1] - 1.0).abs() > 0.1 {
                    let z_other = variance_z(got, other[1], other[2]);
                    assert!(
                        z_other.abs() >= Z_MAX,
                        "{} {part}: other coupling passed",
                        p.name
                    );
                    rejected_other += 1;
                }
            }
        }
    }
    assert!(
        rejected_other >= 8,
        "only {rejected_other} coupling controls"
    );
}

/// Coupling lowers the variance on all three problems (quadrature), as theory says.
#[test]
fn coupling_lowers_the_variance_in_theory() {
    for p in problems() {
        let t = theory(p.f);
        println!(
            "{}: loc {:.5} coupled vs {:.5} uncoupled; scale {:.5} vs {:.5}",
            p.name, t[0][1], t[1][1], t[2][1], t[3][1]
        );
        assert!(t[0][1] < t[1][1], "{}: loc", p.name);
        assert!(t[2][1] < t[3][1], "{}: scale", p.name);
    }
}

/// d = 2, with a product f (other coordinates shared) and a direct term:
/// f = cos(x₀)·exp(−x₁²) + dot(loc, x). E f = E cos(x₀)·E exp(−x₁²) + Σμ²;
/// the last term's gradient 2μ is half direct (x) and half measure-valued.
#[test]
fn two_dimensional_normal_with_a_direct_term() {
    let (loc, scale) = ([0.5, -1.0], [1.0, 2.0]);
    let (c, dc_m, dc_s) = cosine(loc[0], scale[0]);
    let (b, db_m, db_s) = bump(loc[1], scale[1]);
    let truth = [
        dc_m * b + 2.0 * loc[0],
        c * db_m + 2.0 * loc[1],
        dc_s * b,
        c * db_s,
    ];
    let f = "cos(x[0]) * exp(-(x[1]^2)) + dot(loc, x)";
    for (j, estimator) in [COUPLED, UNCOUPLED].into_iter().enumerate() {
        let e = run_ok(&normal_job(&loc, &scale, f, estimator, N, 200 + j as u64));
        let label = format!("d = 2 {estimator:?}");
        assert_gradient(&label, &e, &truth);
        assert_objective(&label, &e, c * b + loc[0].powi(2) + loc[1].powi(2));
        assert_eq!(e.diagnostics.evaluations_per_sample, 9.0, "{label}");
        // Negative control: without the direct term ∂μ would be off by μ.
        let dropped = [truth[0] - loc[0], truth[1] - loc[1], truth[2], truth[3]];
        let (z, _) = max_abs_z(&e.gradient, &e.std_error, &dropped);
        assert!(z >= Z_MAX, "{label}: a dropped direct term went unnoticed");
    }
}

// ---------------------------------------------------------------------------
// Poisson, exponential, bernoulli
// ---------------------------------------------------------------------------

/// Poisson: E x² = λ + λ² (∂ = 1 + 2λ), E e^{−x} = exp(λ(e⁻¹ − 1))
/// (∂ = (e⁻¹ − 1)·that); 3 evaluations per sample (the base and one per rate).
#[test]
fn poisson_matches_closed_forms() {
    let rate: Vec<f64> = vec![0.7, 2.5];
    let q = (-1.0f64).exp_m1();
    let cases: [(&str, Vec<f64>); 2] = [
        ("sum(x^2)", rate.iter().map(|l| 1.0 + 2.0 * l).collect()),
        (
            "exp(-x[0]) + exp(-x[1])",
            rate.iter().map(|l| q * (l * q).exp()).collect(),
        ),
    ];
    for (i, (f, truth)) in cases.iter().enumerate() {
        for (j, estimator) in [COUPLED, UNCOUPLED].into_iter().enumerate() {
            let input = params(&[("rate", rate.clone())]);
            let seed = 300 + 10 * i as u64 + j as u64;
            let e = run_ok(&job("poisson", &input, f, estimator, N, seed));
            let label = format!("poisson {f} {estimator:?}");
            assert_gradient(&label, &e, truth);
            assert_eq!(e.diagnostics.evaluations_per_sample, 3.0, "{label}");
            // Negative control: a zero gradient is rejected.
            let (z, _) = max_abs_z(&e.gradient, &e.std_error, &[0.0; 2]);
            assert!(z >= Z_MAX, "{label}: a zero gradient passed");
        }
    }
}

/// Exponential(rate λ): E x² = 2/λ² (∂ = −4/λ³), E e^{−x} = λ/(λ + 1)
/// (∂ = 1/(λ + 1)²); both couplings; 3 evaluations per sample.
#[test]
fn exponential_matches_closed_forms() {
    let rate: Vec<f64> = vec![0.7, 2.5];
    let cases: [(&str, Vec<f64>); 2] = [
        ("sum(x^2)", rate.iter().map(|l| -4.0 / l.powi(3)).collect()),
        (
            "sum(exp(-x))",
            rate.iter().map(|l| 1.0 / (l + 1.0).powi(2)).collect(),
        ),
    ];
    for (i, (f, truth)) in cases.iter().enumerate() {
        for (j, estimator) in [COUPLED, UNCOUPLED].into_iter().enumerate() {
            let input = params(&[("rate", rate.clone())]);
            let seed = 400 + 10 * i as u64 + j as u64;
            let e = run_ok(&job("exponential", &input, f, estimator, N, seed));
            let label = format!("exponential {f} {estimator:?}");
            assert_gradient(&label, &e, truth);
            assert_eq!(e.diagnostics.evaluations_per_sample, 3.0, "{label}");
            // Negative control: the gradient with the wrong sign is rejected.
            let flipped: Vec<f64> = truth.iter().map(|t| -t).collect();
            let (z, _) = max_abs_z(&e.gradient, &e.std_error, &flipped);
            assert!(z >= Z_MAX, "{label}: the flipped gradient passed");
        }
    }
}

/// Exponential, f = x²: coupling lowers the variance. With G = x + E′/λ the
/// term is (x² − G²)/λ; uncoupled, G is independent of x.
#[test]
fn exponential_coupling_lowers_the_variance() {
    let input = params(&[("rate", vec![1.5])]);
    let coupled = run_ok(&job("exponential", &input, "x[0]^2", COUPLED, N, 450));
    let uncoupled = run_ok(&job("exponential", &input, "x[0]^2", UNCOUPLED, N, 451));
    println!(
        "exponential x²: variance {} coupled, {} uncoupled",
        coupled.variance[0], uncoupled.variance[0]
    );
    assert!(coupled.variance[0] < 0.8 * uncoupled.variance[0]);
}

/// Bernoulli against exact enumeration (the result's `reference`), probs and
/// logits, on an f with an interaction; 1 + d evaluations per sample.
#[test]
fn bernoulli_matches_exact_enumeration() {
    let f = "x[0] * x[1] + 2 * x[2] - x[0] + 3 * x[1] * x[2]";
    let z: Vec<f64> = vec![-1.0, 0.3, 2.0];
    let p: Vec<f64> = z.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    for (name, values) in [("logits", z), ("probs", p)] {
        for (j, estimator) in [COUPLED, UNCOUPLED].into_iter().enumerate() {
            let input = params(&[(name, values.clone())]);
            let e = run_ok(&job("bernoulli", &input, f, estimator, N, 500 + j as u64));
            let label = format!("bernoulli {name} {estimator:?}");
            let truth = e.reference.as_ref().expect("a reference").gradient.clone();
            assert_gradient(&label, &e, &truth);
            assert_eq!(e.diagnostics.evaluations_per_sample, 4.0, "{label}");
            // Negative control: a gradient 20% off is rejected.
            let scaled: Vec<f64> = truth.iter().map(|t| 0.8 * t).collect();
            let (zmax, _) = max_abs_z(&e.gradient, &e.std_error, &scaled);
            assert!(zmax >= Z_MAX, "{label}: a gradient 20% off passed");
        }
    }
}

/// Bernoulli's draws do not depend on coupling: the two results are identical.
#[test]
fn bernoulli_coupling_changes_nothing() {
    let input = params(&[("probs", vec![0.3, 0.6])]);
    let f = "x[0] * x[1] + x[0]";
    let a = run_ok(&job("bernoulli", &input, f, COUPLED, 10_000, 7));
    let b = run_ok(&job("bernoulli", &input, f, UNCOUPLED, 10_000, 7));
    assert_eq!(a.gradient, b.gradient);
    assert_eq!(a.variance, b.variance);
}

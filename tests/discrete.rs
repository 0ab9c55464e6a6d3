//! Discrete families: Gumbel-Max sampling, score function against exact
//! enumeration, Gumbel-Softmax bias and variance, straight-through, stability.
//!
//! Tolerances follow the one policy of tests/common: |z| < 4.5 against the
//! returned standard error, a false-alarm rate of at most 9.0e-5 per component
//! (t with ≥ 31 degrees of freedom; 6.8e-6 for the checks whose standard error
//! is binomial or closed-form), each with a negative control; all seeds are
//! fixed, so the suite is deterministic.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gradest::estimation::Estimate;
use gradest::estimation::{Baseline, Estimator, Job};

/// A job with vector-valued parameters.
fn job(
    family: &str,
    values: &[(&str, Vec<f64>)],
    f: &str,
    estimator: Estimator,
    n: u64,
    seed: u64,
) -> Job {
    common::job(family, &params(values), f, estimator, n, seed)
}

fn go(j: &Job) -> Estimate {
    run_ok(j)
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn assert_within(e: &Estimate, truth: &[f64], what: &str) {
    assert_gradient(what, e, truth);
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
        .collect()
}

const SF_NONE: Estimator = Estimator::ScoreFunction {
    baseline: Baseline::None,
};

#[test]
fn gumbel_max_frequencies_fit_softmax() {
    let z = vec![-1.0, 0.0, 0.5, 2.0, -3.0];
    let e = go(&job(
        "categorical",
        &[("logits", z.clone())],
        "x[0]",
        SF_NONE,
        200_000,
        3,
    ));
    let fit = e
        .diagnostics
        .category_frequencies
        .clone()
        .expect("categorical fit");
    let p = softmax(&z);
    for (o, q) in fit.frequencies.iter().zip(&p) {
        // Binomial standard error of a frequency.
        let se = (q * (1.0 - q) / 200_000.0).sqrt();
        assert!(((o - q) / se).abs() < Z_MAX, "frequency {o} vs {q}");
    }
    assert_eq!(fit.degrees_of_freedom, 4);
    // Under a correct sampler the p-value is uniform: P(p < 1e-4) = 1e-4.
    assert!(
        fit.p_value > 1e-4,
        "chi-square {} p {}",
        fit.chi_square,
        fit.p_value
    );
    // The check can fail: the same counts against a wrong distribution.
    let wrong = softmax(&[-1.0, 0.0, 0.5, 2.1, -3.0]);
    let chi: f64 = fit
        .frequencies
        .iter()
        .zip(&wrong)
        .map(|(o, q)| 200_000.0 * (o - q).powi(2) / q)
        .sum();
    assert!(
        chi > 50.0,
        "a shifted logit must be detected, chi-square {chi}"
    );
}

/// Frequencies that equal softmax(logits) exactly give χ² = 0 and the p-value
/// Q(½, 0) = 1 (the incomplete gamma function of statrs used before panicked at
/// x = 0). With logits [0, 0] and 4 samples, 2 of each happen at 3 seeds in 8.
#[test]
fn an_exact_fit_has_p_value_one() {
    let exact = (0..64)
        .map(|seed| {
            go(&job(
                "categorical",
                &[("logits", vec![0.0, 0.0])],
                "x[0]",
                SF_NONE,
                4,
                seed,
            ))
        })
        .filter_map(|e| e.diagnostics.category_frequencies)
        .find(|fit| fit.chi_square == 0.0)
        .expect("some seed of 64 draws 2 + 2");
    assert_eq!(exact.frequencies, vec![0.5, 0.5]);
    assert_eq!((exact.degrees_of_freedom, exact.p_value), (1, 1.0));
}

#[test]
fn score_function_matches_enumeration_for_categorical() {
    let z = linspace(-2.0, 2.0, 10);
    for baseline in [
        Baseline::None,
        Baseline::LeaveOneOut,
        Baseline::Optimal,
        Baseline::Constant(4.0),
    ] {
        let e = go(&job(
            "categorical",
            &[("logits", z.clone())],
            "dot(x, [0,1,2,3,4,5,6,7,8,9])",
            Estimator::ScoreFunction { baseline },
            200_000,
            11,
        ));
        let p = softmax(&z);
        let ef: f64 = p.iter().enumerate().map(|(i, q)| i as f64 * q).sum();
        let truth: Vec<f64> = p
            .iter()
            .enumerate()
            .map(|(i, q)| q * (i as f64 - ef))
            .collect();
        let reference = e
            .reference
            .as_ref()
            .expect("small categoricals carry a reference");
        for (a, b) in reference.gradient.iter().zip(&truth) {
            assert!((a - b).abs() < 1e-12, "reference {a} vs closed form {b}");
        }
        assert!((reference.objective - ef).abs() < 1e-12);
        assert_within(&e, &truth, &format!("categorical {baseline:?}"));
    }
}

#[test]
fn probs_gradient_is_taken_through_the_normalisation() {
    let p = vec![0.1, 0.2, 0.3, 0.4];
    let f = "dot(x, [1, -2, 5, 0.5])";
    let vals = [1.0, -2.0, 5.0, 0.5];
    let ef: f64 = p.iter().zip(&vals).map(|(a, b)| a * b).sum();
    let truth: Vec<f64> = vals.iter().map(|v| v - ef).collect();
    let exact = go(&job(
        "categorical",
        &[("probs", p.clone())],
        f,
        Estimator::Exact,
        2,
        0,
    ));
    for (a, b) in exact.gradient.iter().zip(&truth) {
        assert!((a - b).abs() < 1e-12, "exact {a} vs {b}");
    }
    // L(c·p) = L(p) for every c > 0, so (Euler) the gradient is orthogonal to p itself.
    let along_p: f64 = exact.gradient.iter().zip(&p).map(|(g, q)| g * q).sum();
    assert!(
        along_p.abs() < 1e-12,
        "the gradient is orthogonal to p: {along_p}"
    );
    let sf = go(&job("categorical", &[("probs", p)], f, SF_NONE, 200_000, 5));
    assert_within(&sf, &truth, "categorical probs score function");
}

#[test]
fn bernoulli_score_function_and_exact_agree() {
    let z = vec![-1.0, 0.3, 2.0];
    let f = "x[0] * x[1] + 2 * x[2] - x[0]";
    let exact = go(&job(
        "bernoulli",
        &[("logits", z.clone())],
        f,
        Estimator::Exact,
        2,
        0,
    ));
    // Closed form: E f = p0 p1 + 2 p2 − p0, ∂p/∂z = p(1 − p).
    let p: Vec<f64> = z.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    let dp: Vec<f64> = p.iter().map(|q| q * (1.0 - q)).collect();
    let truth = [(p[1] - 1.0) * dp[0], p[0] * dp[1], 2.0 * dp[2]];
    for (a, b) in exact.gradient.iter().zip(&truth) {
        assert!((a - b).abs() < 1e-12, "exact {a} vs {b}");
    }
    for baseline in [Baseline::None, Baseline::LeaveOneOut, Baseline::Optimal] {
        let e = go(&job(
            "bernoulli",
            &[("logits", z.clone())],
            f,
            Estimator::ScoreFunction { baseline },
            200_000,
            9,
        ));
        assert_within(&e, &truth, &format!("bernoulli {baseline:?}"));
    }
    // probs: ∂/∂p directly.
    let e = go(&job(
        "bernoulli",
        &[("probs", p.clone())],
        f,
        SF_NONE,
        200_000,
        10,
    ));
    assert_within(&e, &[p[1] - 1.0, p[0], 2.0], "bernoulli probs");
}

#[test]
fn poisson_score_function_matches_closed_forms() {
    let rate = vec![0.5, 3.0, 20.0];
    // E x = λ → ∇ = 1; E x² = λ + λ² → ∇ = 1 + 2λ.
    let e = go(&job(
        "poisson",
        &[("rate", rate.clone())],
        "sum(x)",
        Estimator::ScoreFunction {
            baseline: Baseline::Optimal,
        },
        200_000,
        2,
    ));
    assert_within(&e, &[1.0, 1.0, 1.0], "poisson sum(x)");
    let e = go(&job(
        "poisson",
        &[("rate", rate.clone())],
        "sum(x^2)",
        SF_NONE,
        200_000,
        3,
    ));
    let truth: Vec<f64> = rate.iter().map(|l| 1.0 + 2.0 * l).collect();
    assert_within(&e, &truth, "poisson sum(x^2)");
    for (m, l) in e.diagnostics.sample_mean.iter().zip(&rate) {
        let se = (l / 200_000.0).sqrt();
        assert!(((m - l) / se).abs() < Z_MAX, "poisson mean {m} vs {l}");
    }
}

#[test]
fn score_function_intervals_cover_the_exact_gradient() {
    // 100 seeds × 4 components; each interval covers with probability ≈ 0.95
    // (batch means over ≥ 32 chunks: slightly less, ≈ 0.94). Covered ≥ 360 of 400
    // fails with probability < 1e-4 at true coverage 0.94; ≤ 396 catches an
    // overstated std_error (P(> 396) ≈ 1e-4 at coverage 0.95).
    let z = vec![0.5, -0.5, 1.0, 0.0];
    let f = "dot(x, [3, -1, 2, 0])";
    let p = softmax(&z);
    let vals = [3.0, -1.0, 2.0, 0.0];
    let ef: f64 = p.iter().zip(&vals).map(|(a, b)| a * b).sum();
    let truth: Vec<f64> = p.iter().zip(&vals).map(|(q, v)| q * (v - ef)).collect();
    for baseline in [Baseline::None, Baseline::Optimal] {
        let mut covered = 0;
        for seed in 0..100 {
            let e = go(&job(
                "categorical",
                &[("logits", z.clone())],
                f,
                Estimator::ScoreFunction { baseline },
                4_000,
                seed,
            ));
            covered += (0..4)
                .filter(|&k| (e.gradient[k] - truth[k]).abs() <= 1.96 * e.std_error[k])
                .count();
        }
        assert!(
            (360..=396).contains(&covered),
            "{baseline:?}: {covered} of 400 covered"
        );
    }
}

#[test]
fn gumbel_softmax_bias_shrinks_and_variance_grows_as_temperature_falls() {
    let z = vec![1.0, -0.5, 0.0, 0.7];
    let f = "dot(x, [1, 4, -2, 3])";
    let mut last: Option<(f64, f64)> = None;
    for tau in [5.0, 1.0, 0.1] {
        let e = go(&job(
            "categorical",
            &[("logits", z.clone())],
            f,
            Estimator::GumbelSoftmax {
                temperature: tau,
                hard: false,
            },
            200_000,
            4,
        ));
        assert!(!e.unbiased);
        let r = e.reference.as_ref().unwrap();
        let bias: f64 = e
            .gradient
            .iter()
            .zip(&r.gradient)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        let se: f64 = e.std_error.iter().map(|s| s * s).sum::<f64>().sqrt();
        let var: f64 = e.variance.iter().sum();
        if let Some((b0, v0)) = last {
            // Each bias is measured to within ~4.5·se; require a drop beyond that noise.
            assert!(
                bias + Z_MAX * se < b0,
                "bias must shrink: τ={tau} {bias} vs {b0}"
            );
            assert!(var > v0, "variance must grow: τ={tau} {var} vs {v0}");
        }
        last = Some((bias, var));
    }
    // At τ = 0.1 the bias is small compared with the gradient itself.
    let (b, _) = last.unwrap();
    assert!(b < 0.05, "bias at τ = 0.1 is {b}");
}

#[test]
fn straight_through_forward_value_is_the_true_expectation() {
    let z = vec![0.2, -1.0, 1.5];
    let e = go(&job(
        "categorical",
        &[("logits", z.clone())],
        "dot(x, [2, -3, 1])",
        Estimator::GumbelSoftmax {
            temperature: 0.5,
            hard: true,
        },
        200_000,
        8,
    ));
    let r = e.reference.as_ref().unwrap();
    let zval = (e.objective.mean - r.objective) / e.objective.std_error;
    assert!(
        zval.abs() < Z_MAX,
        "straight-through forward mean {} vs {} (z {zval})",
        e.objective.mean,
        r.objective
    );
    // Its samples are real Gumbel-Max samples: frequencies are reported and fit.
    let fit = e.diagnostics.category_frequencies.as_ref().unwrap();
    assert!(fit.p_value > 1e-4);
    // Bernoulli's straight-through as well.
    let e = go(&job(
        "bernoulli",
        &[("logits", vec![0.3, -2.0])],
        "x[0] + 3*x[1]",
        Estimator::GumbelSoftmax {
            temperature: 0.5,
            hard: true,
        },
        200_000,
        8,
    ));
    let r = e.reference.as_ref().unwrap();
    assert!(((e.objective.mean - r.objective) / e.objective.std_error).abs() < Z_MAX);
}

#[test]
fn relaxations_are_stable_at_small_temperature_and_large_logits() {
    let z = vec![50.0, -50.0, 0.0, 49.0];
    for hard in [false, true] {
        let e = go(&job(
            "categorical",
            &[("logits", z.clone())],
            "dot(x, [1, 2, 3, 4])",
            Estimator::GumbelSoftmax {
                temperature: 0.01,
                hard,
            },
            20_000,
            1,
        ));
        assert!(
            e.gradient
                .iter()
                .chain(&e.variance)
                .chain(&e.std_error)
                .all(|v| v.is_finite()),
            "{e:?}"
        );
        assert_eq!(e.diagnostics.non_finite, 0);
        let e = go(&job(
            "bernoulli",
            &[("logits", z.clone())],
            "sum(x)",
            Estimator::GumbelSoftmax {
                temperature: 0.01,
                hard,
            },
            20_000,
            1,
        ));
        assert!(
            e.gradient.iter().chain(&e.variance).all(|v| v.is_finite()),
            "{e:?}"
        );
    }
}

#[test]
fn exact_enumeration_carries_no_noise_and_large_spaces_have_no_reference() {
    let e = go(&job(
        "bernoulli",
        &[("logits", vec![0.1; 16])],
        "sum(x)",
        Estimator::Exact,
        2,
        0,
    ));
    let q = 1.0 / (1.0 + (-0.1f64).exp());
    for g in &e.gradient {
        assert!((g - q * (1.0 - q)).abs() < 1e-9);
    }
    assert!(e.std_error.iter().all(|s| *s == 0.0));
    let big = go(&job(
        "bernoulli",
        &[("logits", vec![0.1; 17])],
        "sum(x)",
        SF_NONE,
        1_000,
        0,
    ));
    assert!(
        big.reference.is_none(),
        "2^17 outcomes exceed the limit of 65,536"
    );
}

//! Non-finite values of f, and other situations gradest must warn about.
//!
//! Statistical checks are |z| < 4.5 on the runner's std_error (t with ≥ 31
//! degrees of freedom: false alarm ≤ 9.0e-5 per component) or, for counts and objective means over all N iid
//! samples, on a normal z (6.8e-6). Seeds are fixed.

mod common;

use common::*;
use gradest::estimation::RunError;
use gradest::estimation::{Baseline, Estimator, NonFinitePolicy};

/// f = log(x) is NaN for x < 0, which a normal draws a third of the time.
#[test]
fn a_non_finite_objective_fails_the_run_by_default() {
    for (name, est) in unbiased_estimators() {
        let job = normal_job(&[0.5], &[1.0], "sum(log(x))", est, 100_000, 1);
        assert_eq!(job.on_non_finite, NonFinitePolicy::Error);
        match try_run(&job) {
            Err(RunError::NonFiniteSample {
                x,
                f,
                gradient_term,
            }) => {
                // log x is NaN for x < 0 and −∞ at 0: the sample named is one of those.
                assert_eq!(x.len(), 1, "{name}: {x:?}");
                assert!(x[0] <= 0.0, "{name}: {x:?}");
                assert!(!f.is_finite(), "{name}: f = {f}");
                assert!(
                    gradient_term.is_none_or(|g| !g.is_finite()),
                    "{name}: {gradient_term:?}"
                );
            }
            other => panic!("{name}: expected NonFiniteSample, got {other:?}"),
        }
    }
}

/// With every sample dropped there is nothing to estimate from: the run is
/// refused with the counts, not answered with a certain-looking 0 ± 0.
#[test]
fn skipping_every_sample_is_an_error_with_the_counts() {
    for (name, est) in unbiased_estimators() {
        let mut job = normal_job(&[0.5], &[1.0], "sum(log(x - 100))", est, 1_000, 1);
        job.on_non_finite = NonFinitePolicy::Skip;
        assert_eq!(
            try_run(&job),
            Err(RunError::TooFewFinite {
                dropped: 1_000,
                total: 1_000,
                kept: 0
            }),
            "{name}"
        );
    }
}

/// The same f with the Skip policy: the samples with x ≤ 0 (where log x is NaN or
/// −∞) are dropped and counted, and the run warns. The count is
/// Binomial(N, Φ(−μ/σ)) (normal z: false alarm 6.8e-6).
#[test]
fn skipping_drops_and_counts_the_non_finite_samples() {
    let n = 200_000;
    for (name, est) in unbiased_estimators() {
        let mut job = normal_job(&[0.5], &[1.0], "sum(log(x))", est, n, 1);
        job.on_non_finite = NonFinitePolicy::Skip;
        let e = run_ok(&job);
        let d = &e.diagnostics;
        assert!(
            d.warnings.iter().any(|w| w.contains("dropped")),
            "{name}: {:?}",
            d.warnings
        );
        let p = big_phi(-0.5);
        let (nf, count) = (n as f64, d.non_finite as f64);
        let z = (count - nf * p) / (nf * p * (1.0 - p)).sqrt();
        assert!(
            z.abs() < Z_MAX,
            "{name}: {count} dropped, expected {}",
            nf * p
        );
        assert!(e.gradient.iter().all(|g| g.is_finite()), "{name}");
        assert!(e.objective.mean.is_finite(), "{name}");
    }
}

const LOC: [f64; 2] = [0.5, 1.0];
const SCALE: [f64; 2] = [1.0, 2.0];
const N: u64 = 1_000_000;

/// Moments of εᵢ given xᵢ = μᵢ + σᵢεᵢ > 0, i.e. εᵢ > cᵢ = −μᵢ/σᵢ (a truncated
/// standard normal): with λ = φ(c)/(1 − Φ(c)),
/// E[ε] = λ, E[ε²] = 1 + cλ, E[ε³] = (c² + 2)λ.
fn truncated(m: f64, s: f64) -> [f64; 3] {
    let c = -m / s;
    let lambda = phi(c) / big_phi(-c);
    [lambda, 1.0 + c * lambda, (c * c + 2.0) * lambda]
}

/// f = Σ(x + log(x > 0)) is x's sum where every xᵢ > 0 and −∞ elsewhere, so
/// skipping keeps exactly the samples with x > 0, iid from the normal truncated
/// there (components stay independent). Over them, with Eᵢ = E[xᵢ | kept]:
/// - pathwise: ∂/∂μᵢ term 1, ∂/∂σᵢ term εᵢ → [1, 1, E ε₁, E ε₂];
/// - score function, none: E[f sμᵢ] = Σ_{j≠i} Eⱼ E[εᵢ]/σᵢ + (μᵢE[εᵢ] + σᵢE[εᵢ²])/σᵢ,
///   E[f sσᵢ] = Σ_{j≠i} Eⱼ (E[εᵢ²] − 1)/σᵢ + (μᵢ(E[εᵢ²] − 1) + σᵢ(E[εᵢ³] − E[εᵢ]))/σᵢ;
/// - constant b: minus b·E[s] with E[sμᵢ] = E[εᵢ]/σᵢ, E[sσᵢ] = (E[εᵢ²] − 1)/σᵢ;
/// - leave-one-out: b is the mean f of the other kept samples, so E[f s] − E[f]E[s].
///
/// This checks that dropped rows are removed from every buffer consistently.
#[test]
fn skipping_non_finite_samples_estimates_over_the_rest() {
    let t: Vec<[f64; 3]> = LOC
        .iter()
        .zip(&SCALE)
        .map(|(m, s)| truncated(*m, *s))
        .collect();
    let ex: Vec<f64> = (0..2).map(|i| LOC[i] + SCALE[i] * t[i][0]).collect();
    let ef: f64 = ex.iter().sum();
    let kept = (0..2).map(|i| big_phi(LOC[i] / SCALE[i])).product::<f64>();
    let mut efs = vec![0.0; 4];
    let mut es = vec![0.0; 4];
    for i in 0..2 {
        let (m, s, [e1, e2, e3]) = (LOC[i], SCALE[i], t[i]);
        let others = ef - ex[i];
        efs[i] = others * e1 / s + (m * e1 + s * e2) / s;
        efs[2 + i] = others * (e2 - 1.0) / s + (m * (e2 - 1.0) + s * (e3 - e1)) / s;
        es[i] = e1 / s;
        es[2 + i] = (e2 - 1.0) / s;
    }
    let b = 3.0;
    let truths = [
        vec![1.0, 1.0, t[0][0], t[1][0]],
        efs.clone(),
        efs.iter().zip(&es).map(|(a, s)| a - b * s).collect(),
        efs.iter().zip(&es).map(|(a, s)| a - ef * s).collect(),
    ];
    let mut counts = Vec::new();
    for (seed_est, truth) in unbiased_estimators()
        .into_iter()
        .zip(truths.iter().map(Some).chain([None]))
    {
        let (name, est) = seed_est;
        let mut job = normal_job(&LOC, &SCALE, "sum(x + log(x > 0))", est, N, 77);
        job.on_non_finite = NonFinitePolicy::Skip;
        let e = run_ok(&job);
        let d = &e.diagnostics;
        assert!(d.non_finite > 0, "{name}");
        assert!(
            d.warnings.iter().any(|w| w.contains("dropped")),
            "{name}: {:?}",
            d.warnings
        );
        counts.push(d.non_finite);
        // The dropped count is Binomial(N, 1 − P(kept)).
        let (nf, p) = (N as f64, 1.0 - kept);
        let z = (d.non_finite as f64 - nf * p) / (nf * p * (1.0 - p)).sqrt();
        assert!(
            z.abs() < Z_MAX,
            "{name}: {} dropped, expected {}",
            d.non_finite,
            nf * p
        );
        assert!(
            e.gradient.iter().all(|g| g.is_finite()),
            "{name}: {:?}",
            e.gradient
        );
        // The objective's mean is E[f | kept], over the kept samples only.
        let n_kept = N - d.non_finite;
        assert_eq!(
            e.objective.std_error,
            (e.objective.variance / n_kept as f64).sqrt(),
            "{name}: objective std_error over the kept samples"
        );
        assert_objective(name, &e, ef);
        if let Some(truth) = truth {
            assert_gradient(&format!("{name}, skipping"), &e, truth);
        }
    }
    // Every estimator draws the same samples from the same seed.
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
}

/// A comparison in f is a step: the pathwise gradient misses it (here it is
/// exactly 0) and the run says so; the score function gets it right:
/// E Σ 1{xᵢ > 0} = Σ Φ(μᵢ/σᵢ), ∂/∂μᵢ = φ(μᵢ/σᵢ)/σᵢ, ∂/∂σᵢ = −μᵢ/σᵢ² φ(μᵢ/σᵢ).
#[test]
fn a_step_in_f_is_a_warning_for_the_pathwise_estimator() {
    let job = normal_job(
        &LOC,
        &SCALE,
        "sum(x > 0)",
        Estimator::Reparameterization,
        10_000,
        1,
    );
    let e = run_ok(&job);
    assert!(
        e.diagnostics.warnings.iter().any(|w| w.contains("step")),
        "{:?}",
        e.diagnostics.warnings
    );
    assert_eq!(e.gradient, vec![0.0; 4]);

    let mut truth: Vec<f64> = (0..2).map(|i| phi(LOC[i] / SCALE[i]) / SCALE[i]).collect();
    truth.extend((0..2).map(|i| -LOC[i] / SCALE[i].powi(2) * phi(LOC[i] / SCALE[i])));
    for baseline in [Baseline::None, Baseline::Optimal] {
        let est = Estimator::ScoreFunction { baseline };
        let e = run_ok(&normal_job(&LOC, &SCALE, "sum(x > 0)", est, N, 2));
        assert!(
            !e.diagnostics.warnings.iter().any(|w| w.contains("step")),
            "{baseline:?}: {:?}",
            e.diagnostics.warnings
        );
        assert_gradient(
            &format!("score_function/{baseline:?} on a step"),
            &e,
            &truth,
        );
    }
}

/// An f without x: its gradient is the direct term alone, exactly, and the run
/// warns that f does not depend on x.
#[test]
fn an_objective_without_x_is_a_warning() {
    for (name, est) in unbiased_estimators() {
        let e = run_ok(&normal_job(&LOC, &SCALE, "sum(loc^2) + 1", est, 10_000, 1));
        assert!(
            e.diagnostics
                .warnings
                .iter()
                .any(|w| w.contains("does not depend on x")),
            "{name}: {:?}",
            e.diagnostics.warnings
        );
        assert_eq!(e.objective.mean, 1.0 + 0.25 + 1.0, "{name}");
        if name == "reparameterization" {
            assert_eq!(e.gradient, vec![1.0, 2.0, 0.0, 0.0], "{name}");
        } else {
            // The score terms (f − b)·s average to 0 within their std errors.
            assert_gradient(name, &e, &[1.0, 2.0, 0.0, 0.0]);
        }
    }
}

#[test]
fn overflowing_squares_are_reported_not_hidden() {
    // Every f is finite (about 1e200), but f² overflows: the means stand, the
    // variance is reported as not finite (never as 0), and a warning says why.
    let j = normal_job(
        &[0.5],
        &[1.0],
        "1e200 * (1 + x^2)",
        Estimator::Reparameterization,
        1_000,
        1,
    );
    let e = try_run(&j).expect("overflowing squares are not an error");
    assert!(e.objective.mean.is_finite() && e.objective.mean > 1e200);
    assert!(!e.objective.variance.is_finite(), "{:?}", e.objective);
    assert!(e.gradient.iter().all(|g| g.is_finite()));
    assert!(
        e.diagnostics
            .warnings
            .iter()
            .any(|w| w.contains("overflow")),
        "{:?}",
        e.diagnostics.warnings
    );
}

#[test]
fn a_zeroth_power_has_a_zero_gradient_at_zero() {
    // d/dx x⁰ = 0 everywhere, including x = 0 exactly (x = loc − loc here).
    let j = normal_job(
        &[0.0],
        &[1.0],
        "(x - x)^0 + x",
        Estimator::Reparameterization,
        1_000,
        1,
    );
    let e = try_run(&j).expect("finite");
    assert_eq!(e.gradient[0], 1.0);
}

//! The delta-method control variate on the pathwise and score-function
//! estimators: exact with zero variance on quadratic objectives, unbiased on
//! the Gaussian problems of Mohamed et al. (2020) against closed forms, a lower
//! variance where the expansion is good, honest intervals over many seeds, and
//! the diagonal form above the dense limit.
//!
//! z-checks use |z| < 4.5 of the run's own batch-means std_error (false alarm ≤
//! 9.0e-5 per component, t with ≥ 31 degrees of freedom; see tests/common).

#![allow(clippy::disallowed_methods)]

mod common;

use common::{assert_gradient, max_abs_z, mvn_job, normal_job, run_ok};
use gradest::estimation::estimator::Delta;
use gradest::estimation::{Baseline, Estimator};

const PATHWISE: Estimator = Estimator::Delta(Delta::Reparameterization);
const SCORE: Estimator = Estimator::Delta(Delta::ScoreFunction {
    baseline: Baseline::None,
});

/// Both estimators with the control variate, named.
fn with_delta() -> [(&'static str, Estimator); 3] {
    [
        ("pathwise+delta", PATHWISE),
        ("score+delta", SCORE),
        (
            "score(mean)+delta",
            Estimator::Delta(Delta::ScoreFunction {
                baseline: Baseline::LeaveOneOut,
            }),
        ),
    ]
}

/// |gradient − truth| and the variance are rounding-sized: the terms are all
/// the exact gradient. (The variance of u − βv is formed from the moments of u
/// and v, m2_u − 2β c_uv + β² m2_v, so it keeps about 1e-16 of Var(u): the
/// bound 1e-12 is far below any real variance here and far above that.)
fn assert_exact(label: &str, got: &[f64], variance: &[f64], truth: &[f64]) {
    for (k, ((g, v), t)) in got.iter().zip(variance).zip(truth).enumerate() {
        assert!(
            (g - t).abs() <= 1e-9 * (1.0 + t.abs()),
            "{label}: component {k} is {g}, exactly {t}"
        );
        assert!(
            *v <= 1e-12 * (1.0 + t * t),
            "{label}: component {k} variance {v}"
        );
    }
}

#[test]
fn a_quadratic_objective_gives_the_exact_gradient_with_zero_variance() {
    // f = Σ(xᵢ − 3)² + x₀x₁ on N(μ, diag σ²): ∂μ₀ = 2(μ₀ − 3) + μ₁,
    // ∂μ₁ = 2(μ₁ − 3) + μ₀, ∂σᵢ = 2σᵢ.
    let (mu, sd) = ([1.0, 0.5], [1.0, 2.0]);
    let truth = [-3.5, -4.0, 2.0, 4.0];
    let f = "sum((x - 3)^2) + x[0]*x[1]";
    for (label, est) in with_delta() {
        let e = run_ok(&normal_job(&mu, &sd, f, est, 20_000, 7));
        let cv = e.diagnostics.control_variate.as_ref().expect("reported");
        assert_eq!(cv.hessian, "dense");
        if est == SCORE || est == PATHWISE {
            assert_exact(label, &e.gradient, &e.variance, &truth);
            let off = cv
                .coefficient
                .iter()
                .map(|b| (b - 1.0).abs())
                .fold(0.0, f64::max);
            assert!(off < 1e-6, "{label}: β {:?}", cv.coefficient);
        } else {
            // A leave-one-out baseline on f alone is not matched by h: still
            // unbiased, no longer exact.
            assert_gradient(label, &e, &truth);
        }
    }
    // Negative control: without the control variate the same check fails.
    let plain = run_ok(&normal_job(
        &mu,
        &sd,
        f,
        Estimator::Reparameterization,
        20_000,
        7,
    ));
    assert!(
        plain.variance.iter().all(|v| *v > 1.0),
        "{:?}",
        plain.variance
    );
}

#[test]
fn a_quadratic_on_a_multivariate_normal_is_exact() {
    // f = xᵀAx + bᵀx, A = [[1, 1], [1, 3]], b = (0, −1): ∇μ = 2Aμ + b,
    // ∇_L E f = ∇_L tr(A L Lᵀ) = 2AL (lower triangle; 0 above it).
    let mu = [0.5, -1.0];
    let l = [vec![1.0, 0.0], vec![0.5, 2.0]];
    let f = "x[0]^2 + 2*x[0]*x[1] + 3*x[1]^2 - x[1]";
    let a = [[1.0, 1.0], [1.0, 3.0]];
    let g_mu = [
        2.0 * (a[0][0] * mu[0] + a[0][1] * mu[1]),
        2.0 * (a[1][0] * mu[0] + a[1][1] * mu[1]) - 1.0,
    ];
    let al = |i: usize, j: usize| 2.0 * (a[i][0] * l[0][j] + a[i][1] * l[1][j]);
    let truth = [g_mu[0], g_mu[1], al(0, 0), 0.0, al(1, 0), al(1, 1)];
    for (label, est) in [("pathwise+delta", PATHWISE), ("score+delta", SCORE)] {
        let e = run_ok(&mvn_job(&mu, &l, f, est, 20_000, 3));
        assert_exact(label, &e.gradient, &e.variance, &truth);
    }
}

/// E f and ∇(μ, σ) E f for the three Gaussian problems of Mohamed et al. (2020).
fn gaussian_problem(name: &str, k: f64, mu: f64, sd: f64) -> (String, [f64; 2]) {
    let s2 = sd * sd;
    match name {
        "square" => (format!("(x - {k})^2"), [2.0 * (mu - k), 2.0 * sd]),
        "cos" => {
            let damp = (-0.5 * k * k * s2).exp();
            (
                format!("cos({k} * x)"),
                [
                    -k * (k * mu).sin() * damp,
                    -k * k * sd * (k * mu).cos() * damp,
                ],
            )
        }
        _ => {
            // E exp(−k x²) = a^{−1/2} exp(−kμ²/a), a = 1 + 2kσ².
            let a = 1.0 + 2.0 * k * s2;
            let e = (-k * mu * mu / a).exp() / a.sqrt();
            let de_da = e * (-0.5 / a + k * mu * mu / (a * a));
            (
                format!("exp(-{k} * x^2)"),
                [e * (-2.0 * k * mu / a), de_da * 4.0 * k * sd],
            )
        }
    }
}

#[test]
fn the_gaussian_problems_are_unbiased_against_closed_forms() {
    for name in ["square", "cos", "exp"] {
        for (k, mu, sd) in [(1.0, 0.5, 1.0), (3.0, -0.2, 0.4)] {
            let (f, truth) = gaussian_problem(name, k, mu, sd);
            for (label, est) in with_delta() {
                let e = run_ok(&normal_job(&[mu], &[sd], &f, est, 100_000, 11));
                assert_gradient(&format!("{label} on {f}, μ={mu}, σ={sd}"), &e, &truth);
            }
        }
    }
    // Negative control: the same check rejects a wrong truth (∂σ without its
    // curvature term, the part E ũ adds back).
    let (f, truth) = gaussian_problem("cos", 1.0, 0.5, 1.0);
    let e = run_ok(&normal_job(&[0.5], &[1.0], &f, PATHWISE, 100_000, 11));
    let wrong = [truth[0], truth[1] * 0.9];
    assert!(max_abs_z(&e.gradient, &e.std_error, &wrong).0 > 4.5);
}

#[test]
fn where_the_expansion_is_good_the_variance_falls() {
    // cos(x) on N(0.5, 0.3²): h is close to f, so the terms vary far less.
    let f = "cos(x)";
    for (with, without) in [
        (PATHWISE, Estimator::Reparameterization),
        (
            SCORE,
            Estimator::ScoreFunction {
                baseline: Baseline::None,
            },
        ),
    ] {
        let a = run_ok(&normal_job(&[0.5], &[0.3], f, with, 50_000, 5));
        let b = run_ok(&normal_job(&[0.5], &[0.3], f, without, 50_000, 5));
        for k in 0..2 {
            assert!(
                a.variance[k] < b.variance[k] / 20.0,
                "{with:?}: component {k}: {} vs {}",
                a.variance[k],
                b.variance[k]
            );
        }
    }
}

#[test]
fn intervals_cover_over_many_seeds() {
    // 300 seeds of exp(−x²) on N(0.3, 0.8²) with N = 2048: the 95% intervals
    // (gradient ± 1.96·std_error, batch means over 64 chunks, so t₆₃ gives
    // 94.5%) cover the truth in 283.6 runs on average, binomial sd 3.9; the
    // band 265–298 is ±4.7 sd wide (false alarm ≈ 3e-6 per component).
    let (f, truth) = gaussian_problem("exp", 1.0, 0.3, 0.8);
    for est in [PATHWISE, SCORE] {
        let mut covered = [0u32; 2];
        for seed in 0..300 {
            let e = run_ok(&normal_job(&[0.3], &[0.8], &f, est, 2048, seed));
            for k in 0..2 {
                if (e.gradient[k] - truth[k]).abs() <= 1.96 * e.std_error[k] {
                    covered[k] += 1;
                }
            }
        }
        for (k, c) in covered.iter().enumerate() {
            assert!(
                (265..=298).contains(c),
                "{est:?}: component {k} covered {c} of 300"
            );
        }
    }
}

#[test]
fn above_the_dense_limit_the_diagonal_is_used() {
    // d = 300 > 256: h keeps only Hᵢᵢ. A separable quadratic is still exact;
    // a separable non-quadratic f stays unbiased.
    let d = 300;
    let mu: Vec<f64> = (0..d).map(|i| (i as f64) / 100.0).collect();
    let sd = vec![0.5; d];
    let e = run_ok(&normal_job(&mu, &sd, "sum((x - 1)^2)", PATHWISE, 2_000, 1));
    assert_eq!(
        e.diagnostics.control_variate.as_ref().unwrap().hessian,
        "diagonal"
    );
    let truth: Vec<f64> = mu
        .iter()
        .map(|m| 2.0 * (m - 1.0))
        .chain(sd.iter().map(|s| 2.0 * s))
        .collect();
    assert_exact("diagonal, quadratic", &e.gradient, &e.variance, &truth);
    let e = run_ok(&normal_job(&mu, &sd, "sum(cos(x))", PATHWISE, 4_000, 2));
    let damp = (-0.125f64).exp();
    let truth: Vec<f64> = mu
        .iter()
        .map(|m| -m.sin() * damp)
        .chain(mu.iter().map(|m| -0.5 * m.cos() * damp))
        .collect();
    assert_gradient("diagonal, cos", &e, &truth);
}

//! ARM and DisARM (bernoulli), ReinMax and Gumbel-Rao (categorical).
//!
//! - ARM and DisARM are unbiased: checked against exact enumeration (the
//!   result's `reference`) on separable and non-separable objectives, logits and
//!   probs, D = 1..3, and with a direct term; DisARM's variance is 0 for D = 1 at
//!   θ = 0 and at most ARM's elsewhere.
//! - ReinMax's backward pass depends on the sample D only, so its expectation
//!   Σ_D P(D)·backward(D) is computed exactly here: at τ = 1 it equals the true
//!   gradient for f quadratic in x, where plain straight-through (exact for f
//!   linear in x) is biased; at τ ≠ 1 it is not exact. The sampled estimate must
//!   agree with that expectation.
//! - Gumbel-Rao has straight-through Gumbel-Softmax's mean, computed for two
//!   categories by quadrature over the logistic difference of the two Gumbels,
//!   with variance Var(E\[J|D\]) + E\[Var(J|D)\]/K (also by quadrature): K = 1
//!   is straight-through Gumbel-Softmax's variance, K = 10 lower.
//!
//! Tolerances: |z| < 4.5 against the runner's std_error (batch means over ≥ 32
//! chunks, t with ≥ 31 degrees of freedom): a false-alarm rate of at most
//! 9.0e-5 per component (≈ 6.8e-6 for a normal z); the variance checks use a
//! relative tolerance a dozen standard deviations of a sample variance wide.
//! Seeds are fixed, so nothing is flaky. Negative controls: a biased estimator
//! fails the same checks.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gradest::estimation::{Estimate, Estimator, RunError};

const N: u64 = 100_000;

fn run(family: &str, values: &[(&str, Vec<f64>)], f: &str, est: Estimator, seed: u64) -> Estimate {
    run_ok(&common::job(family, &params(values), f, est, N, seed))
}

fn reference(e: &Estimate) -> Vec<f64> {
    e.reference
        .as_ref()
        .expect("a small space")
        .gradient
        .clone()
}

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

// ───────────────────────────── ARM and DisARM ─────────────────────────────

/// Bernoulli problems with exact answers: (parameter, values, objective).
fn bernoulli_cases() -> Vec<(&'static str, Vec<f64>, &'static str)> {
    vec![
        ("logits", vec![0.3], "sum((x - 0.45)^2)"),
        ("logits", vec![-1.0, 0.4, 1.5], "x[0] * x[1] + x[2]"),
        (
            "logits",
            vec![0.8, -0.2],
            "sum((x - 0.45)^2) + 3 * x[0] * x[1]",
        ),
        (
            "probs",
            vec![0.2, 0.7],
            "sum((x - 0.45)^2) + 3 * x[0] * x[1]",
        ),
        ("probs", vec![0.3, 0.5, 0.9], "x[0] * x[1] + x[2]"),
        ("probs", vec![0.65], "exp(x[0]) - 2 * x[0]"),
        // A direct term: f reads θ.
        (
            "logits",
            vec![0.5, -1.2],
            "x[0] * logits[1] + x[1] * logits[0]^2",
        ),
        (
            "probs",
            vec![0.25, 0.6],
            "x[0] * x[1] * probs[0] + probs[1]^2 * x[0]",
        ),
    ]
}

#[test]
fn arm_and_disarm_are_unbiased_against_enumeration() {
    for (seed, (param, values, f)) in bernoulli_cases().into_iter().enumerate() {
        for est in [Estimator::Arm, Estimator::Disarm] {
            let e = run("bernoulli", &[(param, values.clone())], f, est, seed as u64);
            let label = format!("{est:?} {param} {values:?} {f}");
            assert!(e.unbiased, "{label}");
            assert_eq!(e.diagnostics.evaluations_per_sample, 2.0, "{label}");
            assert_gradient(&label, &e, &reference(&e));
            let truth = e.reference.as_ref().unwrap().objective;
            // f's summary is f(b), a true Bernoulli sample.
            assert_objective(&label, &e, truth);
        }
    }
}

/// Negative control: the same check rejects straight-through (binary Concrete)
/// on the first non-separable case, and a truth off by 5% for ARM.
#[test]
fn the_enumeration_check_rejects_a_biased_estimator() {
    let (param, values, f) = bernoulli_cases().swap_remove(2);
    let st = Estimator::GumbelSoftmax {
        temperature: 0.5,
        hard: true,
    };
    let e = run("bernoulli", &[(param, values.clone())], f, st, 1);
    let (z, _) = max_abs_z(&e.gradient, &e.std_error, &reference(&e));
    assert!(
        z > Z_MAX,
        "straight-through's bias went unnoticed: |z| = {z}"
    );
    let e = run("bernoulli", &[(param, values)], f, Estimator::Arm, 1);
    let off: Vec<f64> = reference(&e).iter().map(|g| 1.05 * g).collect();
    let (z, _) = max_abs_z(&e.gradient, &e.std_error, &off);
    assert!(z > Z_MAX, "a 5% error went unnoticed: |z| = {z}");
}

/// D = 1 at θ = 0: b̃ = 1 − b always, DisARM's term is ¼(f(1) − f(0)) at every
/// sample (variance 0 up to rounding), while ARM's is not constant.
#[test]
fn disarm_has_zero_variance_for_one_component_at_zero_logit() {
    let f = "(x[0] - 0.45)^2 + 3 * x[0]";
    let exact = 0.25 * ((0.55f64.powi(2) + 3.0) - 0.45f64.powi(2));
    for (param, v) in [("logits", 0.0), ("probs", 0.5)] {
        let d = run("bernoulli", &[(param, vec![v])], f, Estimator::Disarm, 3);
        let scale = if param == "probs" { 4.0 } else { 1.0 };
        assert!(
            (d.gradient[0] - scale * exact).abs() < 1e-12,
            "{param}: {} vs {}",
            d.gradient[0],
            scale * exact
        );
        assert!(d.variance[0] < 1e-24, "{param}: variance {}", d.variance[0]);
        let a = run("bernoulli", &[(param, vec![v])], f, Estimator::Arm, 3);
        assert!(a.variance[0] > 1e-3, "ARM's variance {}", a.variance[0]);
        println!(
            "D = 1, {param} at θ = 0: ARM variance {:.6}, DisARM variance {:.3e}",
            a.variance[0], d.variance[0]
        );
    }
}

/// Exact per-sample variances of ARM and DisARM for Bernoulli logits `z` and
/// f (on 0/1 vectors), by enumerating the 3ᴰ cells of u: per coordinate,
/// u < m gives (b, b̃) = (1, 0), u > 1 − m gives (0, 1), and between them equal
/// bits (1 if p > ½), with m = min(p, 1 − p); within a cell uᵈ is uniform.
fn arm_disarm_variances(z: &[f64], f: impl Fn(&[f64]) -> f64) -> (Vec<f64>, Vec<f64>) {
    let d = z.len();
    let p: Vec<f64> = z.iter().map(|t| sigmoid(*t)).collect();
    let m: Vec<f64> = p.iter().map(|q| q.min(1.0 - q)).collect();
    // Per coordinate and cell: probability, (b, b̃), E[(u − ½)²], E[u − ½].
    let cell = |i: usize, c: usize| -> (f64, (f64, f64), f64, f64) {
        let (mi, hi) = (m[i], f64::from(u8::from(p[i] > 0.5)));
        let edge = (0.125 - (0.5 - mi).powi(3)) / (3.0 * mi);
        match c {
            0 => (mi, (1.0, 0.0), edge, 0.5 * mi - 0.5),
            1 => (mi, (0.0, 1.0), edge, 0.5 - 0.5 * mi),
            _ => (1.0 - 2.0 * mi, (hi, hi), (0.5 - mi).powi(2) / 3.0, 0.0),
        }
    };
    let (mut arm1, mut arm2, mut dis1, mut dis2) =
        (vec![0.0; d], vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    for code in 0..3usize.pow(d as u32) {
        let cells: Vec<usize> = (0..d).map(|i| code / 3usize.pow(i as u32) % 3).collect();
        let info: Vec<_> = cells.iter().enumerate().map(|(i, c)| cell(i, *c)).collect();
        let prob: f64 = info.iter().map(|c| c.0).product();
        let b: Vec<f64> = info.iter().map(|c| c.1.0).collect();
        let bt: Vec<f64> = info.iter().map(|c| c.1.1).collect();
        let df = f(&bt) - f(&b);
        for i in 0..d {
            arm1[i] += prob * df * info[i].3;
            arm2[i] += prob * df * df * info[i].2;
            let w = -0.5 * df * (b[i] - bt[i]) * sigmoid(z[i].abs());
            dis1[i] += prob * w;
            dis2[i] += prob * w * w;
        }
    }
    for i in 0..d {
        assert!((arm1[i] - dis1[i]).abs() < 1e-12, "the same mean");
    }
    let var = |m2: &[f64], m1: &[f64]| m2.iter().zip(m1).map(|(a, b)| a - b * b).collect();
    (var(&arm2, &arm1), var(&dis2, &dis1))
}

/// DisARM is ARM's conditional expectation given the pair, so its per-sample
/// variance is at most ARM's, component by component: both against their exact
/// values (within 5%: a sample variance of N = 10⁵ bounded terms is within
/// about 1%), and DisARM's below ARM's.
#[test]
fn disarm_variance_is_at_most_arm_variance() {
    let z = vec![0.2, -0.6, 1.1];
    let f = "x[0] * x[1] + x[2] + sum((x - 0.45)^2)";
    let fx = |x: &[f64]| x[0] * x[1] + x[2] + x.iter().map(|v| (v - 0.45).powi(2)).sum::<f64>();
    let (va, vd) = arm_disarm_variances(&z, fx);
    let a = run("bernoulli", &[("logits", z.clone())], f, Estimator::Arm, 7);
    let d = run("bernoulli", &[("logits", z)], f, Estimator::Disarm, 7);
    println!(
        "logits [0.2, -0.6, 1.1], {f}: ARM variance {:?} (exact {va:?}), DisARM variance {:?} (exact {vd:?})",
        a.variance, d.variance
    );
    for k in 0..3 {
        assert!(
            vd[k] < va[k],
            "component {k}: exact DisARM {} vs ARM {}",
            vd[k],
            va[k]
        );
        assert!(d.variance[k] < a.variance[k], "component {k}");
        for (what, got, want) in [
            ("ARM", a.variance[k], va[k]),
            ("DisARM", d.variance[k], vd[k]),
        ] {
            assert!(
                (got / want - 1.0).abs() < 0.05,
                "{what} [{k}]: variance {got} vs exact {want}"
            );
        }
    }
}

/// p = 0 or 1 has no logit: the core refuses it for ARM and DisARM, naming the
/// component.
#[test]
fn a_probability_of_zero_or_one_is_refused() {
    for (probs, at) in [(vec![0.3, 0.0], 1), (vec![1.0, 0.5], 0)] {
        for est in [Estimator::Arm, Estimator::Disarm] {
            let j = common::job(
                "bernoulli",
                &params(&[("probs", probs.clone())]),
                "sum(x)",
                est,
                N,
                1,
            );
            match try_run(&j) {
                Err(RunError::NoLogit { component, .. }) => assert_eq!(component, at),
                other => panic!("{est:?} {probs:?}: {other:?}"),
            }
        }
    }
}

// ───────────────────────────────── ReinMax ─────────────────────────────────

/// A quadratic f on one-hot x of length 4, its text and its gradient.
const QUADRATIC: &str = "sum((x - [0.45, 0.1, -0.3, 0.7])^2) + x[0] * x[1] + 2 * x[2] * x[3]";

fn quadratic_grad(x: &[f64]) -> Vec<f64> {
    let c = [0.45, 0.1, -0.3, 0.7];
    let mut g: Vec<f64> = x.iter().zip(c).map(|(a, b)| 2.0 * (a - b)).collect();
    g[0] += x[1];
    g[1] += x[0];
    g[2] += 2.0 * x[3];
    g[3] += 2.0 * x[2];
    g
}

const LINEAR: &str = "dot(x, [1, -2, 0.5, 3])";

fn linear_grad(_: &[f64]) -> Vec<f64> {
    vec![1.0, -2.0, 0.5, 3.0]
}

fn one_hot(k: usize, n: usize) -> Vec<f64> {
    (0..n).map(|i| f64::from(u8::from(i == k))).collect()
}

/// (diag q − qqᵀ)g.
fn softmax_jvp(q: &[f64], g: &[f64]) -> Vec<f64> {
    let s: f64 = q.iter().zip(g).map(|(a, b)| a * b).sum();
    q.iter().zip(g).map(|(a, b)| a * (b - s)).collect()
}

/// The expectation over D of a backward pass, exactly: Σ_D P(D)·backward(D).
fn expectation(
    z: &[f64],
    backward: impl Fn(&[f64], &[f64]) -> Vec<f64>,
    grad: fn(&[f64]) -> Vec<f64>,
) -> Vec<f64> {
    let p = softmax(z);
    let mut out = vec![0.0; z.len()];
    for (k, pk) in p.iter().enumerate() {
        let d = one_hot(k, z.len());
        for (o, v) in out.iter_mut().zip(backward(&d, &grad(&d))) {
            *o += pk * v;
        }
    }
    out
}

/// ReinMax's backward pass at D: 2(diag π₁ − π₁π₁ᵀ)g − ½(diag π − ππᵀ)g.
fn reinmax_backward(z: &[f64], tau: f64) -> impl Fn(&[f64], &[f64]) -> Vec<f64> {
    let p = softmax(z);
    let pt = softmax(&z.iter().map(|v| v / tau).collect::<Vec<_>>());
    move |d, g| {
        let p1: Vec<f64> = pt.iter().zip(d).map(|(a, b)| 0.5 * (a + b)).collect();
        let a = softmax_jvp(&p1, g);
        let b = softmax_jvp(&p, g);
        a.iter().zip(b).map(|(x, y)| 2.0 * x - 0.5 * y).collect()
    }
}

/// The true gradient by enumeration: pₖ(f(eₖ) − E f).
fn true_gradient(z: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let p = softmax(z);
    let fv: Vec<f64> = (0..z.len()).map(|k| f(&one_hot(k, z.len()))).collect();
    let ef: f64 = p.iter().zip(&fv).map(|(a, b)| a * b).sum();
    p.iter().zip(&fv).map(|(q, v)| q * (v - ef)).collect()
}

fn quadratic(x: &[f64]) -> f64 {
    let c = [0.45, 0.1, -0.3, 0.7];
    x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() + x[0] * x[1] + 2.0 * x[2] * x[3]
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

const Z4: [f64; 4] = [0.3, -0.5, 1.0, 0.0];

/// The claim, checked exactly: E[ReinMax] at τ = 1 is the true gradient for a
/// quadratic f; plain straight-through ((diag π − ππᵀ)g) is exact for linear f
/// only; ReinMax at τ = 0.5 or 2 is not exact for the quadratic f.
#[test]
fn reinmax_is_exact_in_expectation_for_quadratic_f_at_temperature_one() {
    let truth = true_gradient(&Z4, quadratic);
    let rm = expectation(&Z4, reinmax_backward(&Z4, 1.0), quadratic_grad);
    assert!(max_diff(&rm, &truth) < 1e-12, "{rm:?} vs {truth:?}");
    let p = softmax(&Z4);
    let st = |_: &[f64], g: &[f64]| softmax_jvp(&p, g);
    let st_quadratic = expectation(&Z4, st, quadratic_grad);
    let bias = max_diff(&st_quadratic, &truth);
    assert!(
        bias > 0.05,
        "straight-through is biased on the quadratic: {bias}"
    );
    let lin_truth = true_gradient(&Z4, |x| {
        x.iter().zip(linear_grad(x)).map(|(a, b)| a * b).sum()
    });
    let st_linear = expectation(&Z4, st, linear_grad);
    assert!(max_diff(&st_linear, &lin_truth) < 1e-12);
    for tau in [0.5, 2.0] {
        let off = max_diff(
            &expectation(&Z4, reinmax_backward(&Z4, tau), quadratic_grad),
            &truth,
        );
        println!("ReinMax τ = {tau}: E bias {off:.4} (straight-through {bias:.4})");
        assert!(off > 1e-3, "τ = {tau}: {off}");
    }
}

/// The service's ReinMax agrees with the exact expectation of its backward
/// pass (τ = 1: the true gradient, also for probs; τ = 0.5: the biased one),
/// and the enumeration check rejects the wrong one (negative control).
#[test]
fn reinmax_estimates_match_their_exact_expectation() {
    let truth = true_gradient(&Z4, quadratic);
    for (seed, tau) in [(1, 1.0), (2, 0.5)] {
        let est = Estimator::ReinMax { temperature: tau };
        let e = run(
            "categorical",
            &[("logits", Z4.to_vec())],
            QUADRATIC,
            est,
            seed,
        );
        assert!(!e.unbiased);
        let want = expectation(&Z4, reinmax_backward(&Z4, tau), quadratic_grad);
        assert_gradient(&format!("ReinMax τ = {tau}"), &e, &want);
        if tau == 1.0 {
            assert_gradient("ReinMax τ = 1 vs enumeration", &e, &reference(&e));
        } else {
            let (z, _) = max_abs_z(&e.gradient, &e.std_error, &truth);
            assert!(z > Z_MAX, "τ = 0.5's bias went unnoticed: |z| = {z}");
        }
    }
    let probs = softmax(&Z4);
    let est = Estimator::ReinMax { temperature: 1.0 };
    let e = run("categorical", &[("probs", probs)], QUADRATIC, est, 3);
    assert_gradient("ReinMax τ = 1, probs", &e, &reference(&e));
}

/// Straight-through Gumbel-Softmax (the service's `hard`) is biased on the
/// quadratic f where ReinMax at τ = 1 is not, and at τ = 0.5 also on a linear f
/// (its backward pass averages the soft Jacobian, whose mean is ∇θE\[y\], and
/// E\[y\] ≠ π for τ > 0).
#[test]
fn straight_through_gumbel_softmax_is_biased_where_reinmax_is_not() {
    let st = Estimator::GumbelSoftmax {
        temperature: 0.5,
        hard: true,
    };
    for (seed, f) in [(4, QUADRATIC), (5, LINEAR)] {
        let e = run("categorical", &[("logits", Z4.to_vec())], f, st, seed);
        let (z, _) = max_abs_z(&e.gradient, &e.std_error, &reference(&e));
        println!("straight-through Gumbel-Softmax τ = 0.5 on {f}: max |z| = {z:.1}");
        assert!(z > Z_MAX, "{f}: |z| = {z}");
    }
}

// ─────────────────────────────── Gumbel-Rao ───────────────────────────────

/// Two categories: f on one-hot x with ∇f(e₀) = (a₀, a₁) and ∇f(e₁) = (b₀, b₁).
const F2: &str = "3 * (x[0] - 0.2)^2 + x[0] * x[1] + 2 * x[1]^2 - x[1]";

/// g₀ − g₁ at D = e₀ and at D = e₁ (the Jacobian only sees the difference).
fn f2_diffs() -> (f64, f64) {
    // ∇f = (6(x₀ − 0.2) + x₁, x₀ + 4x₁ − 1).
    let at = |x0: f64, x1: f64| (6.0 * (x0 - 0.2) + x1) - (x0 + 4.0 * x1 - 1.0);
    (at(1.0, 0.0), at(0.0, 1.0))
}

/// Moments of straight-through Gumbel-Softmax's ∂/∂z₀ for two categories, by
/// quadrature: t = z₀ − z₁ + L with L logistic, D = e₀ iff t > 0, and
/// J = (1/τ)σ(t/τ)(1 − σ(t/τ))(g₀ − g₁)(D). Returns (E J, Var J, Var E[J|D]).
fn st_moments(z: [f64; 2], tau: f64) -> (f64, f64, f64) {
    let delta = z[0] - z[1];
    let (d0, d1) = f2_diffs();
    let logistic = |l: f64| {
        let s = sigmoid(l);
        s * (1.0 - s)
    };
    // Simpson's rule on each half line, cut at 60 (the tails are below e⁻⁵⁰).
    let half = |sign: f64| -> (f64, f64, f64) {
        let n = 200_000;
        let h = 60.0 / n as f64;
        let (mut m0, mut m1, mut m2) = (0.0, 0.0, 0.0);
        for i in 0..=n {
            let t = sign * i as f64 * h;
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            let y = sigmoid(t / tau);
            let j = y * (1.0 - y) / tau;
            let dens = logistic(t - delta);
            m0 += w * dens;
            m1 += w * dens * j;
            m2 += w * dens * j * j;
        }
        (m0 * h / 3.0, m1 * h / 3.0, m2 * h / 3.0)
    };
    let (p0, a1, a2) = half(1.0);
    let (p1, b1, b2) = half(-1.0);
    let mean = d0 * a1 + d1 * b1;
    let second = d0 * d0 * a2 + d1 * d1 * b2;
    // E[J | D]: the half-line means.
    let between = p0 * (d0 * a1 / p0).powi(2) + p1 * (d1 * b1 / p1).powi(2) - mean * mean;
    (mean, second - mean * mean, between)
}

#[test]
fn gumbel_rao_has_straight_through_mean_and_lower_variance() {
    let z = [0.4, -0.3];
    let tau = 0.5;
    let (mean, var_st, var_between) = st_moments(z, tau);
    let var_k = |k: f64| var_between + (var_st - var_between) / k;
    let logits = [("logits", z.to_vec())];
    let st = run(
        "categorical",
        &logits,
        F2,
        Estimator::GumbelSoftmax {
            temperature: tau,
            hard: true,
        },
        11,
    );
    let gr = |draws, seed| {
        run(
            "categorical",
            &logits,
            F2,
            Estimator::GumbelRao {
                temperature: tau,
                draws,
            },
            seed,
        )
    };
    let (gr1, gr10) = (gr(1, 12), gr(10, 13));
    println!(
        "two categories, τ = 0.5: variance of ∂/∂z₀: straight-through {:.5} (exact {var_st:.5}), \
         Gumbel-Rao K = 1 {:.5} (exact {:.5}), K = 10 {:.5} (exact {:.5}), K → ∞ {var_between:.5}",
        st.variance[0],
        gr1.variance[0],
        var_k(1.0),
        gr10.variance[0],
        var_k(10.0)
    );
    for (label, e, var) in [
        ("straight-through", &st, var_st),
        ("K = 1", &gr1, var_k(1.0)),
        ("K = 10", &gr10, var_k(10.0)),
    ] {
        assert_gradient(label, e, &[mean, -mean]);
        // A sample variance of N = 10⁵ bounded terms is within a few percent.
        let rel = (e.variance[0] / var - 1.0).abs();
        assert!(rel < 0.05, "{label}: variance {} vs {var}", e.variance[0]);
    }
    assert!(gr10.variance[0] < 0.8 * gr1.variance[0]);
    // Negative control: it is biased, and the enumeration check sees it.
    let (zmax, _) = max_abs_z(&gr10.gradient, &gr10.std_error, &reference(&gr10));
    assert!(
        zmax > Z_MAX,
        "Gumbel-Rao's bias went unnoticed: |z| = {zmax}"
    );
}

/// Four categories (logits and probs): Gumbel-Rao and straight-through
/// Gumbel-Softmax agree within their combined standard error.
#[test]
fn gumbel_rao_agrees_with_straight_through_on_four_categories() {
    for (seed, param, values) in [(21, "logits", Z4.to_vec()), (22, "probs", softmax(&Z4))] {
        let v = [(param, values)];
        let st = run(
            "categorical",
            &v,
            QUADRATIC,
            Estimator::GumbelSoftmax {
                temperature: 0.5,
                hard: true,
            },
            seed,
        );
        let gr = run(
            "categorical",
            &v,
            QUADRATIC,
            Estimator::GumbelRao {
                temperature: 0.5,
                draws: 10,
            },
            seed + 100,
        );
        for k in 0..4 {
            let se = st.std_error[k].hypot(gr.std_error[k]);
            assert_z(&format!("{param}[{k}]"), gr.gradient[k], st.gradient[k], se);
            assert!(gr.variance[k] < st.variance[k], "{param}[{k}]");
        }
    }
}

/// A zero entry of probs is refused for ReinMax and Gumbel-Rao.
#[test]
fn zero_probs_are_refused_for_reinmax_and_gumbel_rao() {
    for est in [
        Estimator::ReinMax { temperature: 1.0 },
        Estimator::GumbelRao {
            temperature: 0.5,
            draws: 4,
        },
    ] {
        let j = common::job(
            "categorical",
            &params(&[("probs", vec![0.5, 0.0, 0.5])]),
            "x[0]",
            est,
            N,
            1,
        );
        match try_run(&j) {
            Err(RunError::NoLogit { component: 1, .. }) => {}
            other => panic!("{est:?}: {other:?}"),
        }
    }
}

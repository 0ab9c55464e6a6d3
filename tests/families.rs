//! The continuous families of gradest against closed forms: sample moments,
//! score-function and pathwise gradients of E[Σx] and E[Σx²] (or of a bounded f
//! checked against a numerical integral where moments do not exist), parameter
//! validation, and the pathwise-versus-score variance table.
//!
//! # False-alarm rates
//! Every statistical check is a two-sided z-test with |z| < 4.5 and a fixed seed.
//! - Sample mean and sample variance: the standard error comes from the closed-form
//!   variance (and fourth central moment), so z is asymptotically N(0, 1):
//!   P(|z| ≥ 4.5) = 6.8e-6 per check.
//! - Gradients and objective means: the standard error is the returned
//!   `std_error` (batch means over B = `diagnostics.chunks` ≥ 32 independent
//!   chunks), so z is asymptotically Student t with B − 1 ≥ 31 degrees of
//!   freedom: P(|t₃₁| ≥ 4.5) = 9.0e-5 per check (6.8e-6 as B grows).
//!
//! Run `cargo test --release --test families -- --nocapture` to see the variance
//! table.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gradest::estimation::distributions::{self, ParamError};
use gradest::estimation::{Baseline, Estimate, Estimator, EstimatorKind};
use statrs::function::gamma::ln_gamma;

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
const PI: f64 = std::f64::consts::PI;

/// Samples per job: enough for tight checks in release, quick in the debug
/// profile that `cargo test` uses.
const N: u64 = if cfg!(debug_assertions) {
    200_000
} else {
    1_000_000
};

const SCORE: Estimator = Estimator::ScoreFunction {
    baseline: Baseline::None,
};
const PATHWISE: Estimator = Estimator::Reparameterization;

fn build(family: &str, values: &[(&str, Vec<f64>)]) -> Result<(), ParamError> {
    let info = distributions::family(family).expect("registered family");
    distributions::build(info, &params(values), 10_000).map(|_| ())
}

/// Runs a job that must succeed with batch means over ≥ 32 chunks and no
/// dropped sample.
fn estimate(
    family: &str,
    values: &[(&str, Vec<f64>)],
    objective: &str,
    estimator: Estimator,
    samples: u64,
    seed: u64,
) -> Estimate {
    let e = run_ok(&job(
        family,
        &params(values),
        objective,
        estimator,
        samples,
        seed,
    ));
    assert!(
        e.diagnostics.chunks >= 32,
        "batch means over {} chunks",
        e.diagnostics.chunks
    );
    assert_eq!(e.diagnostics.non_finite, 0);
    e
}

/// Central fourth moment from the raw moments E[x], E[x²], E[x³], E[x⁴].
fn central4(m1: f64, m2: f64, m3: f64, m4: f64) -> f64 {
    m4 - 4.0 * m3 * m1 + 6.0 * m2 * m1 * m1 - 3.0 * m1.powi(4)
}

/// A family with closed forms: per x component the mean, variance and central
/// fourth moment (the latter two absent where they do not exist), and two
/// objectives with their exact gradients (in layout order).
struct Case {
    family: &'static str,
    params: Vec<(&'static str, Vec<f64>)>,
    mean: Vec<f64>,
    moments2: Option<(Vec<f64>, Vec<f64>)>,
    lin: (&'static str, Vec<f64>),
    quad: (&'static str, Vec<f64>),
    score: bool,
}

/// A location-scale family whose standard member has mean `m`, variance `v` and
/// central fourth moment `c4`; components loc = (0.5, −1), scale = (1.2, 0.7).
fn locscale(
    family: &'static str,
    fixed: Vec<(&'static str, Vec<f64>)>,
    m: f64,
    v: f64,
    c4: f64,
) -> Case {
    let loc = [0.5, -1.0];
    let scale = [1.2, 0.7];
    let mean: Vec<f64> = (0..2).map(|i| loc[i] + scale[i] * m).collect();
    let var = scale.iter().map(|s| s * s * v).collect();
    let mu4 = scale.iter().map(|s| s.powi(4) * c4).collect();
    let mut lin = vec![1.0; 2];
    lin.extend([m; 2]);
    let mut quad: Vec<f64> = mean.iter().map(|mu| 2.0 * mu).collect();
    quad.extend((0..2).map(|i| 2.0 * m * mean[i] + 2.0 * scale[i] * v));
    let mut params = fixed;
    params.push(("loc", loc.to_vec()));
    params.push(("scale", scale.to_vec()));
    Case {
        family,
        params,
        mean,
        moments2: Some((var, mu4)),
        lin: ("sum(x)", lin),
        quad: ("sum(x^2)", quad),
        score: true,
    }
}

fn laplace() -> Case {
    locscale("laplace", vec![], 0.0, 2.0, 24.0)
}

fn logistic() -> Case {
    let v = PI * PI / 3.0;
    locscale("logistic", vec![], 0.0, v, 4.2 * v * v)
}

fn gumbel() -> Case {
    let v = PI * PI / 6.0;
    locscale("gumbel", vec![], EULER_GAMMA, v, 5.4 * v * v)
}

/// Student's t with ν = 9: the variance of the x² terms needs ν > 4 and an
/// honest batch-means error for them ν > 8, so both components use ν = 9.
fn student_t() -> Case {
    let nu: f64 = 9.0;
    let v = nu / (nu - 2.0);
    let c4 = 3.0 * nu * nu / ((nu - 2.0) * (nu - 4.0));
    locscale("student_t", vec![("df", vec![nu, nu])], 0.0, v, c4)
}

fn normal() -> Case {
    locscale("normal", vec![], 0.0, 1.0, 3.0)
}

fn uniform() -> Case {
    let (a, b) = ([-1.0, 2.0], [0.5, 5.0]);
    let mean = (0..2).map(|i| 0.5 * (a[i] + b[i])).collect();
    let w: Vec<f64> = (0..2).map(|i| b[i] - a[i]).collect();
    let var = w.iter().map(|w| w * w / 12.0).collect();
    let mu4 = w.iter().map(|w| w.powi(4) / 80.0).collect();
    let mut quad: Vec<f64> = (0..2).map(|i| (2.0 * a[i] + b[i]) / 3.0).collect();
    quad.extend((0..2).map(|i| (a[i] + 2.0 * b[i]) / 3.0));
    Case {
        family: "uniform",
        params: vec![("low", a.to_vec()), ("high", b.to_vec())],
        mean,
        moments2: Some((var, mu4)),
        lin: ("sum(x)", vec![0.5; 4]),
        quad: ("sum(x^2)", quad),
        score: false,
    }
}

fn log_normal() -> Case {
    let (mu, sd) = ([0.2, -0.5], [0.4, 0.25]);
    let raw = |i: usize, k: f64| (k * mu[i] + 0.5 * k * k * sd[i] * sd[i]).exp();
    let mean: Vec<f64> = (0..2).map(|i| raw(i, 1.0)).collect();
    let var = (0..2).map(|i| raw(i, 2.0) - mean[i] * mean[i]).collect();
    let mu4 = (0..2)
        .map(|i| central4(raw(i, 1.0), raw(i, 2.0), raw(i, 3.0), raw(i, 4.0)))
        .collect();
    let mut lin = mean.clone();
    lin.extend((0..2).map(|i| sd[i] * mean[i]));
    let mut quad: Vec<f64> = (0..2).map(|i| 2.0 * raw(i, 2.0)).collect();
    quad.extend((0..2).map(|i| 4.0 * sd[i] * raw(i, 2.0)));
    Case {
        family: "log_normal",
        params: vec![("loc", mu.to_vec()), ("scale", sd.to_vec())],
        mean,
        moments2: Some((var, mu4)),
        lin: ("sum(x)", lin),
        quad: ("sum(x^2)", quad),
        score: true,
    }
}

fn exponential() -> Case {
    let r = [0.5, 2.0];
    Case {
        family: "exponential",
        params: vec![("rate", r.to_vec())],
        mean: r.iter().map(|r| 1.0 / r).collect(),
        moments2: Some((
            r.iter().map(|r| 1.0 / (r * r)).collect(),
            r.iter().map(|r| 9.0 / r.powi(4)).collect(),
        )),
        lin: ("sum(x)", r.iter().map(|r| -1.0 / (r * r)).collect()),
        quad: ("sum(x^2)", r.iter().map(|r| -4.0 / r.powi(3)).collect()),
        score: true,
    }
}

fn gamma() -> Case {
    let (a, b) = ([0.3, 4.0], [2.0, 0.5]);
    let mut lin: Vec<f64> = b.iter().map(|b| 1.0 / b).collect();
    lin.extend((0..2).map(|i| -a[i] / (b[i] * b[i])));
    let mut quad: Vec<f64> = (0..2).map(|i| (2.0 * a[i] + 1.0) / (b[i] * b[i])).collect();
    quad.extend((0..2).map(|i| -2.0 * a[i] * (a[i] + 1.0) / b[i].powi(3)));
    Case {
        family: "gamma",
        params: vec![("concentration", a.to_vec()), ("rate", b.to_vec())],
        mean: (0..2).map(|i| a[i] / b[i]).collect(),
        moments2: Some((
            (0..2).map(|i| a[i] / (b[i] * b[i])).collect(),
            (0..2)
                .map(|i| 3.0 * a[i] * (a[i] + 2.0) / b[i].powi(4))
                .collect(),
        )),
        lin: ("sum(x)", lin),
        quad: ("sum(x^2)", quad),
        score: true,
    }
}

/// Raw moment E[xᵏ] of Beta(p, q).
fn beta_raw(p: f64, q: f64, k: usize) -> f64 {
    (0..k)
        .map(|j| (p + j as f64) / (p + q + j as f64))
        .product()
}

/// Mean, variance and central fourth moment of Beta(p, q).
fn beta_moments(p: f64, q: f64) -> (f64, f64, f64) {
    let m: Vec<f64> = (1..=4).map(|k| beta_raw(p, q, k)).collect();
    (m[0], m[1] - m[0] * m[0], central4(m[0], m[1], m[2], m[3]))
}

fn beta() -> Case {
    let (p, q) = ([0.5, 3.0], [2.0, 1.5]);
    let mom: Vec<_> = (0..2).map(|i| beta_moments(p[i], q[i])).collect();
    let s: Vec<f64> = (0..2).map(|i| p[i] + q[i]).collect();
    // E[x] = p/s; E[x²] = p(p+1)/(s(s+1)).
    let mut lin: Vec<f64> = (0..2).map(|i| q[i] / (s[i] * s[i])).collect();
    lin.extend((0..2).map(|i| -p[i] / (s[i] * s[i])));
    let num = |i: usize| p[i] * (p[i] + 1.0);
    let den = |i: usize| s[i] * (s[i] + 1.0);
    let d_den = |i: usize| num(i) * (2.0 * s[i] + 1.0) / (den(i) * den(i));
    let mut quad: Vec<f64> = (0..2)
        .map(|i| (2.0 * p[i] + 1.0) / den(i) - d_den(i))
        .collect();
    quad.extend((0..2).map(|i| -d_den(i)));
    Case {
        family: "beta",
        params: vec![
            ("concentration1", p.to_vec()),
            ("concentration0", q.to_vec()),
        ],
        mean: mom.iter().map(|m| m.0).collect(),
        moments2: Some((
            mom.iter().map(|m| m.1).collect(),
            mom.iter().map(|m| m.2).collect(),
        )),
        lin: ("sum(x)", lin),
        quad: ("sum(x^2)", quad),
        score: true,
    }
}

fn dirichlet() -> Case {
    let a = [0.7, 2.0, 3.5];
    let a0: f64 = a.iter().sum();
    // Each xᵢ is Beta(αᵢ, α₀ − αᵢ).
    let mom: Vec<_> = a.iter().map(|&ai| beta_moments(ai, a0 - ai)).collect();
    // ∂E[x₀]/∂αⱼ = (δ₀ⱼ α₀ − α₀')/α₀², α₀' = α[0].
    let lin = (0..3)
        .map(|j| (if j == 0 { a0 } else { 0.0 } - a[0]) / (a0 * a0))
        .collect();
    // E[Σx²] = A/D with A = Σ αᵢ(αᵢ+1), D = α₀(α₀+1).
    let big_a: f64 = a.iter().map(|ai| ai * (ai + 1.0)).sum();
    let den = a0 * (a0 + 1.0);
    let quad = a
        .iter()
        .map(|aj| (2.0 * aj + 1.0) / den - big_a * (2.0 * a0 + 1.0) / (den * den))
        .collect();
    Case {
        family: "dirichlet",
        params: vec![("concentration", a.to_vec())],
        mean: mom.iter().map(|m| m.0).collect(),
        moments2: Some((
            mom.iter().map(|m| m.1).collect(),
            mom.iter().map(|m| m.2).collect(),
        )),
        lin: ("x[0]", lin),
        quad: ("sum(x^2)", quad),
        score: true,
    }
}

/// Sample moments of `e` (any run of the case) against the closed forms.
fn check_moments(case: &Case, e: &Estimate) {
    let n = e.diagnostics.samples as f64;
    let d = &e.diagnostics;
    assert_eq!(d.sample_mean.len(), case.mean.len());
    let Some((var, mu4)) = &case.moments2 else {
        return;
    };
    for i in 0..case.mean.len() {
        // se of the mean: sqrt(Var/N); of the sample variance: sqrt((μ₄ − σ⁴)/N).
        assert_z(
            &format!("{} sample mean[{i}]", case.family),
            d.sample_mean[i],
            case.mean[i],
            (var[i] / n).sqrt(),
        );
        assert_z(
            &format!("{} sample variance[{i}]", case.family),
            d.sample_variance[i],
            var[i],
            ((mu4[i] - var[i] * var[i]) / n).sqrt(),
        );
    }
}

/// All checks of a case: moments, and both objectives with both estimators.
fn check_case(case: &Case, seed: u64) {
    let f = case.family;
    let p = &case.params;
    let e = estimate(f, p, case.lin.0, PATHWISE, N, seed);
    check_moments(case, &e);
    assert_gradient(&format!("{f} pathwise {}", case.lin.0), &e, &case.lin.1);
    let e = estimate(f, p, case.quad.0, PATHWISE, N, seed + 1);
    assert_gradient(&format!("{f} pathwise {}", case.quad.0), &e, &case.quad.1);
    if case.score {
        let e = estimate(f, p, case.lin.0, SCORE, N, seed + 2);
        check_moments(case, &e);
        assert_gradient(&format!("{f} score {}", case.lin.0), &e, &case.lin.1);
        let e = estimate(f, p, case.quad.0, SCORE, N, seed + 3);
        assert_gradient(&format!("{f} score {}", case.quad.0), &e, &case.quad.1);
    }
}

#[test]
fn laplace_moments_and_gradients() {
    check_case(&laplace(), 11);
}

#[test]
fn logistic_moments_and_gradients() {
    check_case(&logistic(), 21);
}

#[test]
fn gumbel_moments_and_gradients() {
    check_case(&gumbel(), 31);
}

#[test]
fn student_t_moments_and_gradients() {
    check_case(&student_t(), 41);
}

#[test]
fn uniform_moments_and_gradients() {
    check_case(&uniform(), 51);
}

#[test]
fn log_normal_moments_and_gradients() {
    check_case(&log_normal(), 61);
}

#[test]
fn exponential_moments_and_gradients() {
    check_case(&exponential(), 71);
}

#[test]
fn gamma_moments_and_gradients() {
    check_case(&gamma(), 81);
}

#[test]
fn beta_moments_and_gradients() {
    check_case(&beta(), 91);
}

#[test]
fn dirichlet_moments_and_gradients() {
    check_case(&dirichlet(), 101);
}

// ---------------------------------------------------------------------------
// Bounded objective for families without moments: f = Σ tanh(x).

/// Adaptive Simpson on [a, b] to absolute tolerance `tol`.
fn simpson(f: &dyn Fn(f64) -> f64, a: f64, b: f64, tol: f64) -> f64 {
    fn rec(
        f: &dyn Fn(f64) -> f64,
        (a, fa): (f64, f64),
        (m, fm): (f64, f64),
        (b, fb): (f64, f64),
        whole: f64,
        tol: f64,
        depth: u32,
    ) -> f64 {
        let (lm, rm) = (0.5 * (a + m), 0.5 * (m + b));
        let (flm, frm) = (f(lm), f(rm));
        let left = (m - a) / 6.0 * (fa + 4.0 * flm + fm);
        let right = (b - m) / 6.0 * (fm + 4.0 * frm + fb);
        let delta = left + right - whole;
        if depth == 0 || delta.abs() <= 15.0 * tol {
            return left + right + delta / 15.0;
        }
        rec(f, (a, fa), (lm, flm), (m, fm), left, 0.5 * tol, depth - 1)
            + rec(f, (m, fm), (rm, frm), (b, fb), right, 0.5 * tol, depth - 1)
    }
    let m = 0.5 * (a + b);
    let (fa, fm, fb) = (f(a), f(m), f(b));
    let whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
    rec(f, (a, fa), (m, fm), (b, fb), whole, tol, 50)
}

/// sech²(y), without overflow for large |y|.
fn sech2(y: f64) -> f64 {
    let e = (-2.0 * y.abs()).exp();
    4.0 * e / ((1.0 + e) * (1.0 + e))
}

/// E[tanh(loc + scale·ε)] and its derivatives in loc and scale, for ε with log
/// density `log_phi`, by the substitution ε = tan(πt/2), t ∈ [−1, 1]
/// (dε = (π/2)(1 + ε²) dt), differentiating under the integral analytically:
/// ∂/∂loc = E[sech²(x)], ∂/∂scale = E[ε·sech²(x)].
fn tanh_expectation(loc: f64, scale: f64, log_phi: &dyn Fn(f64) -> f64) -> [f64; 3] {
    let weight = |t: f64| {
        let z = (0.5 * PI * t).tan();
        (
            z,
            (log_phi(z) + (0.5 * PI).ln() + z.mul_add(z, 1.0).ln()).exp(),
        )
    };
    let tol = 1e-12;
    let value = simpson(
        &|t| {
            let (z, w) = weight(t);
            (loc + scale * z).tanh() * w
        },
        -1.0,
        1.0,
        tol,
    );
    let d_loc = simpson(
        &|t| {
            let (z, w) = weight(t);
            sech2(loc + scale * z) * w
        },
        -1.0,
        1.0,
        tol,
    );
    let d_scale = simpson(
        &|t| {
            let (z, w) = weight(t);
            if z.is_finite() {
                z * sech2(loc + scale * z) * w
            } else {
                0.0
            }
        },
        -1.0,
        1.0,
        tol,
    );
    [value, d_loc, d_scale]
}

/// f = Σ tanh(x) for a location-scale family: objective mean, pathwise and
/// score-function gradients against the integrals.
fn check_tanh(
    family: &str,
    fixed: Vec<(&'static str, Vec<f64>)>,
    log_phi: &[&dyn Fn(f64) -> f64],
    seed: u64,
) {
    let loc = [0.3, -1.5];
    let scale = [0.5, 2.0];
    let exact: Vec<[f64; 3]> = (0..2)
        .map(|i| tanh_expectation(loc[i], scale[i], log_phi[i]))
        .collect();
    // Sanity of the quadrature: the weight integrates to one.
    for (i, lp) in log_phi.iter().enumerate() {
        let mass = simpson(
            &|t: f64| {
                let z = (0.5 * PI * t).tan();
                (lp(z) + (0.5 * PI).ln() + z.mul_add(z, 1.0).ln()).exp()
            },
            -1.0,
            1.0,
            1e-12,
        );
        assert!((mass - 1.0).abs() < 1e-8, "{family}[{i}] mass {mass}");
    }
    let want: Vec<f64> = [1, 2]
        .iter()
        .flat_map(|&k| exact.iter().map(move |e| e[k]))
        .collect();
    let value: f64 = exact.iter().map(|e| e[0]).sum();
    let mut params = fixed;
    params.push(("loc", loc.to_vec()));
    params.push(("scale", scale.to_vec()));
    for (est, s) in [(PATHWISE, seed), (SCORE, seed + 1)] {
        let e = estimate(family, &params, "sum(tanh(x))", est, N, s);
        let what = format!("{family} {} sum(tanh(x))", est.kind());
        assert_z(
            &format!("{what} E[f]"),
            e.objective.mean,
            value,
            e.objective.std_error,
        );
        assert_gradient(&what, &e, &want);
    }
}

#[test]
fn cauchy_bounded_objective_against_quadrature() {
    let log_phi = |z: f64| -PI.ln() - z.mul_add(z, 1.0).ln();
    check_tanh("cauchy", vec![], &[&log_phi, &log_phi], 111);
}

/// Student's t with df ≤ 2 (no variance; df = 0.8 has no mean either).
#[test]
fn student_t_heavy_tails_bounded_objective_against_quadrature() {
    let df = [0.8, 1.5];
    let log_t = |nu: f64| {
        move |z: f64| {
            ln_gamma(0.5 * (nu + 1.0))
                - ln_gamma(0.5 * nu)
                - 0.5 * (nu * PI).ln()
                - 0.5 * (nu + 1.0) * (z * z / nu).ln_1p()
        }
    };
    let (a, b) = (log_t(df[0]), log_t(df[1]));
    check_tanh("student_t", vec![("df", df.to_vec())], &[&a, &b], 121);
}

// ---------------------------------------------------------------------------
// Implicit reparameterization across shapes.
//
// The derivative ∂x̃/∂α itself is tested against a central finite difference of
// the CDF for α from 0.05 to 1000, against 40-digit references, and in
// expectation, by the unit tests of `src/estimation/distributions/implicit_gamma.rs`
// (`matches_central_finite_difference_of_cdf`, `high_precision_reference_values`,
// `mean_of_gradient_is_one`). Here: the families built on it.

/// ∇_α E[x] = 1/rate and ∇_rate E[x] = −α/rate², pathwise, for α from 0.05 to 1000.
#[test]
fn gamma_pathwise_mean_gradient_across_shapes() {
    let alpha = vec![0.05, 0.2, 1.0, 7.5, 60.0, 1000.0];
    let rate = vec![1.5, 0.7, 1.0, 2.0, 0.1, 30.0];
    let mut want: Vec<f64> = rate.iter().map(|r| 1.0 / r).collect();
    want.extend(alpha.iter().zip(&rate).map(|(a, r)| -a / (r * r)));
    let params = [("concentration", alpha), ("rate", rate)];
    let e = estimate("gamma", &params, "sum(x)", PATHWISE, N, 131);
    assert_gradient("gamma pathwise sum(x)", &e, &want);
}

/// Beta: ∂E[x]/∂α₁ = α₀/(α₁+α₀)², ∂E[x]/∂α₀ = −α₁/(α₁+α₀)², pathwise, small and
/// large concentrations.
#[test]
fn beta_pathwise_mean_gradient_across_shapes() {
    let p: Vec<f64> = vec![0.05, 0.3, 5.0, 200.0];
    let q: Vec<f64> = vec![0.1, 40.0, 0.5, 300.0];
    let mut want: Vec<f64> = p.iter().zip(&q).map(|(a, b)| b / (a + b).powi(2)).collect();
    want.extend(p.iter().zip(&q).map(|(a, b)| -a / (a + b).powi(2)));
    let params = [("concentration1", p), ("concentration0", q)];
    let e = estimate("beta", &params, "sum(x)", PATHWISE, N, 141);
    assert_gradient("beta pathwise sum(x)", &e, &want);
}

/// Dirichlet: ∂E[w·x]/∂αⱼ = (wⱼ − w·α/α₀)/α₀, pathwise and score function.
#[test]
fn dirichlet_linear_gradient() {
    let a = vec![0.1, 0.5, 2.0, 9.0];
    let w = [1.0, -2.0, 0.5, 3.0];
    let a0: f64 = a.iter().sum();
    let wa: f64 = w.iter().zip(&a).map(|(w, a)| w * a).sum::<f64>() / a0;
    let want: Vec<f64> = w.iter().map(|wj| (wj - wa) / a0).collect();
    let params = [("concentration", a)];
    for (est, seed) in [(PATHWISE, 151), (SCORE, 152)] {
        let e = estimate(
            "dirichlet",
            &params,
            "dot([1, -2, 0.5, 3], x)",
            est,
            N,
            seed,
        );
        assert_gradient(&format!("dirichlet {} w·x", est.kind()), &e, &want);
        // Samples lie on the simplex.
        let total: f64 = e.diagnostics.sample_mean.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "Σ E[x] = {total}");
    }
}

// ---------------------------------------------------------------------------
// Registry and validation.

const NEW_FAMILIES: [&str; 12] = [
    "laplace",
    "logistic",
    "cauchy",
    "gumbel",
    "student_t",
    "uniform",
    "log_normal",
    "exponential",
    "gamma",
    "beta",
    "dirichlet",
    "normal",
];

/// The estimators the continuous families are meant to list: a specification,
/// kept by hand on purpose. That what is listed runs and what is not is refused
/// is tests/registry.rs's part, driven by the registry itself.
#[test]
fn families_are_registered_with_their_estimators() {
    for name in NEW_FAMILIES {
        let info = distributions::family(name).unwrap_or_else(|| panic!("{name} registered"));
        assert!(
            info.estimators.contains(&EstimatorKind::Reparameterization),
            "{name}"
        );
        let score = info.estimators.contains(&EstimatorKind::ScoreFunction);
        assert_eq!(score, name != "uniform", "{name}: score_function listed");
        assert!(!info.estimators.contains(&EstimatorKind::GumbelSoftmax));
        assert!(!info.estimators.contains(&EstimatorKind::Exact));
    }
}

#[test]
fn student_t_df_is_fixed() {
    let info = distributions::family("student_t").unwrap();
    let df = info.params.iter().find(|p| p.name == "df").unwrap();
    assert!(!df.differentiable);
    let e = estimate(
        "student_t",
        &[
            ("df", vec![5.0, 7.0]),
            ("loc", vec![0.0, 1.0]),
            ("scale", vec![1.0, 2.0]),
        ],
        "sum(x) + sum(df)",
        PATHWISE,
        1000,
        1,
    );
    let names: Vec<&str> = e.layout.iter().map(|l| l.name).collect();
    assert_eq!(names, ["loc", "scale"]);
    assert_eq!(e.gradient.len(), 4);
}

fn assert_param_error(family: &str, params: &[(&str, Vec<f64>)], path: &[&str], words: &str) {
    let err = build(family, params).expect_err("refused");
    assert_eq!(err.path, path, "{family}: {}", err.message);
    assert!(
        err.message.contains(words),
        "{family}: '{}' should mention '{words}'",
        err.message
    );
}

#[test]
fn invalid_parameters_are_refused() {
    assert_param_error(
        "uniform",
        &[("low", vec![0.0, 1.0]), ("high", vec![1.0, 1.0])],
        &["high", "1"],
        "greater than low[1]",
    );
    assert_param_error(
        "uniform",
        &[("low", vec![-1e308]), ("high", vec![1e308])],
        &["high", "0"],
        "finite",
    );
    assert_param_error(
        "laplace",
        &[("loc", vec![0.0, 1.0]), ("scale", vec![1.0, 0.0])],
        &["scale", "1"],
        "> 0",
    );
    assert_param_error(
        "cauchy",
        &[("loc", vec![f64::NAN]), ("scale", vec![1.0])],
        &["loc", "0"],
        "finite",
    );
    assert_param_error(
        "student_t",
        &[("df", vec![0.0]), ("loc", vec![0.0]), ("scale", vec![1.0])],
        &["df", "0"],
        "> 0",
    );
    assert_param_error(
        "student_t",
        &[
            ("df", vec![3.0, 4.0]),
            ("loc", vec![0.0]),
            ("scale", vec![1.0]),
        ],
        &["loc"],
        "same length",
    );
    assert_param_error(
        "gamma",
        &[("concentration", vec![-1.0]), ("rate", vec![1.0])],
        &["concentration", "0"],
        "> 0",
    );
    assert_param_error("exponential", &[("rate", vec![0.0])], &["rate", "0"], "> 0");
    assert_param_error(
        "beta",
        &[
            ("concentration1", vec![1.0]),
            ("concentration0", vec![f64::INFINITY]),
        ],
        &["concentration0", "0"],
        "> 0",
    );
    assert_param_error(
        "dirichlet",
        &[("concentration", vec![1.0, 0.0, 2.0])],
        &["concentration", "1"],
        "> 0",
    );
    assert_param_error(
        "dirichlet",
        &[("concentration", vec![2.0])],
        &["concentration"],
        "at least 2",
    );
    assert_param_error("log_normal", &[("loc", vec![0.0])], &["scale"], "scale");
    for ok in [
        ("uniform", vec![("low", vec![-1.0]), ("high", vec![-0.5])]),
        ("dirichlet", vec![("concentration", vec![0.01, 1e4])]),
    ] {
        build(ok.0, &ok.1).expect("valid");
    }
}

// ---------------------------------------------------------------------------
// Pathwise versus score-function variance.

/// Per-sample variance of each gradient component for f = Σx² (Σ tanh x for
/// cauchy), pathwise and score function (no baseline); printed as a markdown
/// table. Pathwise must be the lower in every component.
#[test]
fn pathwise_variance_below_score_variance() {
    let n = 200_000;
    let mut cases: Vec<(Case, &str)> = [
        normal(),
        laplace(),
        logistic(),
        gumbel(),
        student_t(),
        log_normal(),
        exponential(),
        gamma(),
        beta(),
        dirichlet(),
    ]
    .into_iter()
    .map(|c| (c, "sum(x^2)"))
    .collect();
    cases.push((
        Case {
            family: "cauchy",
            params: vec![("loc", vec![0.5, -1.0]), ("scale", vec![1.2, 0.7])],
            mean: vec![],
            moments2: None,
            lin: ("", vec![]),
            quad: ("", vec![]),
            score: true,
        },
        "sum(tanh(x))",
    ));
    let mut table = String::from(
        "| family | f | parameter | pathwise variance | score-function variance | ratio |\n\
         |---|---|---|---:|---:|---:|\n",
    );
    let mut failures = Vec::new();
    for (seed, (case, f)) in cases.iter().enumerate() {
        let seed = 1000 + 2 * seed as u64;
        let path = estimate(case.family, &case.params, f, PATHWISE, n, seed);
        let score = estimate(case.family, &case.params, f, SCORE, n, seed + 1);
        let mut k = 0;
        for l in &path.layout {
            let count: usize = l.shape.iter().product();
            for i in 0..count {
                let (vp, vs) = (path.variance[k], score.variance[k]);
                table.push_str(&format!(
                    "| {} | `{f}` | {}[{i}] | {vp:.4e} | {vs:.4e} | {:.1} |\n",
                    case.family,
                    l.name,
                    vs / vp
                ));
                if vp >= vs {
                    failures.push(format!("{} {}[{i}]", case.family, l.name));
                }
                k += 1;
            }
        }
    }
    println!("\n{table}");
    assert!(
        failures.is_empty(),
        "pathwise variance not below score-function variance: {failures:?}"
    );
}

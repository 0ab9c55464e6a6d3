//! ψ, ψ′ and Q(a, x) against 50-digit values (mpmath 1.3: `digamma`,
//! `gammainc(a, x, inf, regularized=True)`, at the exact f64 arguments), closed
//! forms, and statrs' implementations over wide grids. std's libm serves as an
//! independent reference here.
#![allow(clippy::disallowed_methods)]

use super::*;
use statrs::function::gamma::{digamma as statrs_digamma, gamma_ur};

const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// ψ(x), correctly rounded.
const DIGAMMA_REF: [(f64, f64); 27] = [
    (1e-8, -100000000.57721564),
    (1e-3, -1000.5755719318103),
    (0.01, -100.56088545786868),
    (0.1, -10.423754940411076),
    (0.25, -4.2274535333762655),
    (0.5, -1.9635100260214235),
    (0.9, -0.7549269499470513),
    (1.0, -0.5772156649015329),
    (1.4616321449683622, -9.241265521729427e-17),
    (1.5, 0.03648997397857652),
    (2.0, 0.42278433509846713),
    (3.7, 1.1671535393615113),
    (9.5, 2.1977378764029494),
    (9.999999999, 2.251752588961555),
    (10.0, 2.251752589066721),
    (10.5, 2.3030010342976865),
    (20.0, 2.970523992242149),
    (50.0, 3.901989673427892),
    (123.456, 4.811829323828985),
    (1e3, 6.907255195648812),
    (1e5, 11.512920464961896),
    (1e10, 23.025850929890456),
    (1e100, 230.25850929940458),
    (1e300, 690.7755278982137),
    (-0.5, 0.03648997397857652),
    (-1.5, 0.7031566406452432),
    (-2.7, -1.1153471291406896),
];

/// (a, x, Q(a, x)), correctly rounded.
const GAMMA_Q_REF: [(f64, f64, f64); 22] = [
    (0.5, 0.1, 0.654720846018577),
    (0.5, 1.0, 0.15729920705028513),
    (0.5, 3.0, 0.01430587843542964),
    (1.0, 0.5, 0.6065306597126334),
    (1.0, 5.0, 0.006737946999085467),
    (1.5, 2.0, 0.2614641299491106),
    (2.5, 10.0, 0.0012497305630313753),
    (5.0, 1.0, 0.9963401531726563),
    (5.0, 5.0, 0.4404932850652124),
    (5.0, 12.0, 0.007600390681066996),
    (10.0, 3.0, 0.9988975118698845),
    (10.0, 10.0, 0.4579297144718522),
    (10.0, 25.0, 0.00022147663824878357),
    (49.5, 40.0, 0.9191878735980901),
    (49.5, 60.0, 0.07424385580596679),
    (499.5, 480.0, 0.8076196823475277),
    (499.5, 520.0, 0.17882416543039498),
    (499.5, 700.0, 5.924458565939857e-16),
    (0.5, 300.0, 1.674167984691788e-132),
    (5.0, 600.0, 1.4408034326399303e-251),
    (10_000.0, 10_050.0, 0.30765755929743444),
    (3.0, 0.999, 0.9198824506486822),
];

/// |got − want| ≤ tol·max(|want|, 1): relative away from zeros, absolute near them.
fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1.0)
}

/// Relative tolerance for Q(a, x): the exponent a ln x − x − ln Γ(a) of its prefactor
/// carries an absolute rounding error of a few ε·(|a ln x| + x + |ln Γ(a)|), which
/// becomes the relative error of Q (about 3e-12 at a = 500, 8e-11 at a = 10⁴).
fn q_tol(a: f64, x: f64) -> f64 {
    1e-14 + 2.0 * f64::EPSILON * ((a * x.ln()).abs() + x + libm::lgamma(a).abs())
}

#[test]
fn digamma_matches_high_precision_values() {
    for (x, want) in DIGAMMA_REF {
        let got = digamma(x);
        // A few ε (≤ 4 where x > 0; the reflection's π/tan(πx) adds ≈ 15 where x < 0).
        let tol = if x > 0.0 { 1e-15 } else { 4e-15 };
        assert!(close(got, want, tol), "ψ({x:e}) = {got:e}, want {want:e}");
    }
}

/// ψ(1) = −γ, ψ(½) = −γ − 2 ln 2, ψ(¼) = −γ − π/2 − 3 ln 2, ψ(⅓) = −γ − π/(2√3) − (3/2) ln 3,
/// ψ(n) = Hₙ₋₁ − γ and ψ(n + ½) = 2(1 + ⅓ + … + 1/(2n − 1)) − γ − 2 ln 2.
#[test]
fn digamma_known_values() {
    use std::f64::consts::{LN_2, PI};
    assert!(close(digamma(1.0), -EULER_GAMMA, 1e-15));
    assert!(close(digamma(0.5), -EULER_GAMMA - 2.0 * LN_2, 1e-15));
    assert!(close(
        digamma(0.25),
        -EULER_GAMMA - PI / 2.0 - 3.0 * LN_2,
        1e-15
    ));
    let third = -EULER_GAMMA - PI / (2.0 * 3f64.sqrt()) - 1.5 * 3f64.ln();
    assert!(close(digamma(1.0 / 3.0), third, 1e-15));
    let (mut harmonic, mut odd) = (0.0, 0.0);
    for n in 1..=40 {
        let want = harmonic - EULER_GAMMA;
        assert!(close(digamma(n as f64), want, 1e-15), "ψ({n})");
        let want_half = 2.0 * odd - EULER_GAMMA - 2.0 * LN_2;
        assert!(
            close(digamma(n as f64 - 0.5), want_half, 1e-15),
            "ψ({n} − ½)"
        );
        harmonic += 1.0 / n as f64;
        odd += 1.0 / (2 * n - 1) as f64;
    }
}

/// 4001 log-spaced points over 10⁻³ … 10³ (and their negatives' reflections), to 1e-14.
#[test]
fn digamma_matches_statrs() {
    let mut worst: f64 = 0.0;
    for i in 0..=4000 {
        let x = 10f64.powf(-3.0 + 6.0 * i as f64 / 4000.0);
        let (got, want) = (digamma(x), statrs_digamma(x));
        worst = worst.max((got - want).abs() / want.abs().max(1.0));
        assert!(
            close(got, want, 1e-14),
            "ψ({x:e}) = {got:e}, statrs {want:e}"
        );
    }
    for x in [-0.3, -1.25, -7.9, -20.5] {
        assert!(close(digamma(x), statrs_digamma(x), 1e-13), "ψ({x})");
    }
    assert!(
        worst > 0.0,
        "identical everywhere: statrs is not an independent check"
    );
}

/// ψ(x + 1) − ψ(x) = 1/x on both sides of the switch to the series at x = 10 (so
/// the two branches join), and the limits.
#[test]
fn digamma_recurrence_poles_and_limits() {
    for i in 0..=300 {
        let x = 8.0 + i as f64 / 100.0;
        let d = digamma(x + 1.0) - digamma(x);
        assert!((d - 1.0 / x).abs() < 4e-15, "ψ({x} + 1) − ψ({x}) = {d}");
    }
    for x in [0.0, -0.0, -1.0, -2.0, -30.0, f64::NEG_INFINITY, f64::NAN] {
        assert!(digamma(x).is_nan(), "ψ({x}) = {}", digamma(x));
    }
    assert_eq!(digamma(f64::INFINITY), f64::INFINITY);
    assert!(close(digamma(1e-300), -1e300, 4e-16));
    assert!(close(digamma(f64::MAX), f64::MAX.ln(), 4e-16));
}

#[test]
fn trigamma_matches_closed_forms() {
    let pi2 = std::f64::consts::PI.powi(2);
    assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-14);
    assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-13);
    assert!((trigamma(2.0) - (pi2 / 6.0 - 1.0)).abs() < 1e-14);
    assert!((trigamma(1e-3) - (1e6 + trigamma(1.001))).abs() < 1e-8);
}

#[test]
fn gamma_q_matches_high_precision_values() {
    for (a, x, want) in GAMMA_Q_REF {
        let got = gamma_q(a, x);
        assert!(
            ((got - want) / want).abs() < q_tol(a, x),
            "Q({a}, {x}) = {got:e}, want {want:e}"
        );
    }
}

/// Q over a grid of shapes (the χ² half-integers and others) and x from 10⁻³ to the
/// far upper tail, against statrs' `gamma_ur` (the same algorithm on std's libm).
#[test]
fn gamma_q_matches_statrs() {
    let shapes = [
        0.5, 1.0, 1.5, 2.0, 3.5, 7.0, 12.5, 30.0, 99.5, 500.0, 4999.5,
    ];
    for a in shapes {
        for i in 0..=400 {
            let x = a * 10f64.powf(-3.0 + 4.0 * i as f64 / 400.0);
            let (got, want) = (gamma_q(a, x), gamma_ur(a, x));
            if want < 1e-300 {
                assert!(got < 1e-290, "Q({a}, {x}) = {got:e}, statrs {want:e}");
                continue;
            }
            assert!(
                ((got - want) / want).abs() < 2.0 * q_tol(a, x),
                "Q({a}, {x}) = {got:e}, statrs {want:e}"
            );
        }
    }
}

/// Q(1, x) = e⁻ˣ, Q(½, x) = erfc(√x) (musl's erfc: statrs' is off by ~5e-11),
/// Q(n, x) = e⁻ˣ Σₖ₌₀ⁿ⁻¹ xᵏ/k!; the edges.
#[test]
fn gamma_q_closed_forms_and_edges() {
    for x in [1e-6f64, 0.3, 1.0, 2.5, 17.0, 100.0, 700.0] {
        let want = (-x).exp();
        assert!(
            ((gamma_q(1.0, x) - want) / want).abs() < q_tol(1.0, x),
            "Q(1, {x})"
        );
        let want = libm::erfc(x.sqrt());
        let got = gamma_q(0.5, x);
        assert!(
            ((got - want) / want).abs() < q_tol(0.5, x),
            "Q(½, {x}) = {got:e} vs {want:e}"
        );
        let (mut term, mut sum) = (1.0, 0.0);
        for k in 0..6 {
            sum += term;
            term *= x / (k + 1) as f64;
        }
        let want = (-x).exp() * sum;
        let got = gamma_q(6.0, x);
        assert!(
            ((got - want) / want).abs() < q_tol(6.0, x),
            "Q(6, {x}) = {got:e} vs {want:e}"
        );
    }
    for a in [0.5, 1.0, 40.0] {
        assert_eq!(gamma_q(a, 0.0), 1.0);
        assert_eq!(gamma_q(a, f64::INFINITY), 0.0);
    }
    for (a, x) in [(0.0, 1.0), (-1.0, 1.0), (f64::INFINITY, 1.0), (1.0, -1.0)] {
        assert!(gamma_q(a, x).is_nan(), "Q({a}, {x})");
    }
    assert!(gamma_q(f64::NAN, 1.0).is_nan() && gamma_q(1.0, f64::NAN).is_nan());
}

#![allow(clippy::disallowed_methods)]

use super::*;
use statrs::function::gamma::{gamma_lr, ln_gamma};

/// Euler–Mascheroni constant γ.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

fn rel_err(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

/// Gamma(α, 1) density, for the finite-difference check.
fn pdf(x: f64, a: f64) -> f64 {
    ((a - 1.0) * x.ln() - x - ln_gamma(a)).exp()
}

/// u-quantile of Gamma(α, 1) by bisection on s = ln x with statrs' `gamma_lr`
/// (bisection in ln x reaches the ~1e-40 lower quantiles of small α).
fn quantile(a: f64, u: f64) -> f64 {
    let mut lo = -700.0f64;
    let mut hi = (a + 50.0 + 50.0 * a.sqrt()).ln();
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if gamma_lr(a, mid.exp()) < u {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).exp()
}

/// Central finite difference of the CDF, computed independently with statrs:
/// dx/dα ≈ −D_h P(α, x) / p(x; α) with the 5-point central stencil
///   D_h P = [−P(α+2h) + 8P(α+h) − 8P(α−h) + P(α−2h)] / (12h),  h = 1e-3 · min(α, √α).
///
/// h scales with the α-scale on which P(α, x) varies at a fixed quantile: ∝ α for small
/// α (P ≈ x^α/Γ(α+1)) and ∝ √α for large α (P ≈ Φ((x − α)/√α)).
/// Error budget, relative to ∂P/∂α:
/// * truncation h⁴ |∂⁵P/∂α⁵| / (30 |∂P/∂α|): for small α, ∂ⁿP/∂αⁿ ≈ (ln x − ψ(α+1))ⁿ P
///   with |ln x − ψ| ≲ 100 at the 1 % quantile of Gamma(0.05), giving ≈ 2e-11; for large
///   α each α-derivative brings a factor ≈ α^(−1/2), giving ≲ 1e-12·O(10).
/// * rounding: `gamma_lr` carries relative noise ε_P ≈ 1e-15, and up to
///   ≈ α·|ln x|·2⁻⁵³ ≈ 7e-13 at α = 1000 through its prefactor
///   exp(α ln x − x − ln Γ(α)). The stencil turns it into ≈ 1.5·ε_P·P/(h·|∂P/∂α|), which
///   is largest at α = 1000 and the 1 % quantile (P/|∂P/∂α| ≈ 12, h ≈ 0.032): ≈ 4e-10.
///
/// So the finite difference itself is good to ≲ 1e-9 (observed max ≈ 6e-10); the
/// tolerance is 1e-8, still 100× tighter than the 1e-6 accuracy requirement.
#[test]
fn matches_central_finite_difference_of_cdf() {
    const TOL: f64 = 1e-8;
    let alphas: [f64; 12] = [
        0.05, 0.1, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 300.0, 1000.0,
    ];
    let levels = [0.01, 0.1, 0.5, 0.9, 0.99];
    let mut report = String::new();
    let mut worst = 0.0f64;
    for &a in &alphas {
        let h = 1e-3 * a.min(a.sqrt());
        let mut max_rel = 0.0f64;
        for &u in &levels {
            let x = quantile(a, u);
            let dp = (-gamma_lr(a + 2.0 * h, x) + 8.0 * gamma_lr(a + h, x)
                - 8.0 * gamma_lr(a - h, x)
                + gamma_lr(a - 2.0 * h, x))
                / (12.0 * h);
            let fd = -dp / pdf(x, a);
            let got = gamma_dx_dalpha(x, a);
            let e = rel_err(got, fd);
            assert!(
                e < TOL,
                "α = {a}, u = {u}, x = {x:e}: got {got:e}, finite difference {fd:e} (rel {e:e})"
            );
            max_rel = max_rel.max(e);
        }
        worst = worst.max(max_rel);
        report.push_str(&format!(
            "α = {a:>6}: max rel. diff vs FD = {max_rel:.1e}\n"
        ));
    }
    println!("{report}overall max {worst:.1e}");
}

/// ln x + γ + eˣ E₁(x), computed independently of the gamma code: power series of E₁ for
/// x ≤ 2 (arranged to avoid cancellation), and above that the continued fraction
/// eˣE₁(x) = 1/(x+1 −) 1²/(x+3 −) 2²/(x+5 −) … evaluated backward from depth 5000.
fn ln_x_plus_gamma_plus_ex_e1(x: f64) -> f64 {
    if x <= 2.0 {
        // E₁(x) = −γ − ln x + Σ_{k≥1} (−1)^(k+1) xᵏ/(k·k!), so
        // ln x + γ + eˣE₁(x) = −(eˣ − 1)(γ + ln x) + eˣ Σ_{k≥1} (−1)^(k+1) xᵏ/(k·k!).
        let mut sum = 0.0;
        let mut pow_over_fact = 1.0;
        for k in 1..=60 {
            let kf = k as f64;
            pow_over_fact *= x / kf;
            let term = pow_over_fact / kf;
            sum += if k % 2 == 1 { term } else { -term };
        }
        -x.exp_m1() * (EULER_GAMMA + x.ln()) + x.exp() * sum
    } else {
        let mut t = 0.0;
        for k in (1..=5000).rev() {
            let kf = k as f64;
            t = kf * kf / (x + 2.0 * kf + 1.0 - t);
        }
        x.ln() + EULER_GAMMA + 1.0 / (x + 1.0 - t)
    }
}

/// α = 1 (exponential): F(x; α) = P(α, x) with P(1, x) = 1 − e^(−x). Using
/// ∂P/∂α = (1/Γ(α)) ∫₀ˣ t^(α−1) e^(−t) ln t dt − ψ(α) P(α, x), ψ(1) = −γ and
/// ∫₀ˣ e^(−t) ln t dt = −e^(−x) ln x − E₁(x) − γ (integrate by parts; Ein(x) = E₁(x) + ln x + γ):
///   ∂P(1, x)/∂α = −e^(−x) (ln x + γ) − E₁(x),
///   dx/dα|_(α=1) = −(∂P/∂α)/e^(−x) = ln x + γ + eˣ E₁(x).
#[test]
fn alpha_one_closed_form() {
    let mut x = 1e-8;
    let mut worst = 0.0f64;
    while x < 60.0 {
        let want = ln_x_plus_gamma_plus_ex_e1(x);
        let got = gamma_dx_dalpha(x, 1.0);
        let e = rel_err(got, want);
        assert!(e < 1e-12, "x = {x:e}: got {got:e}, closed form {want:e}");
        worst = worst.max(e);
        x *= 1.07;
    }
    println!("α = 1 closed form: max rel. diff {worst:.1e}");
}

/// ∫₀^∞ w(x) (dx/dα)(x) p(x; α) dx by the trapezoid rule in s = ln x (integrand
/// exp(α s − eˢ − ln Γ(α)) · w · dx/dα is smooth and decays at both ends, so the rule
/// converges geometrically). Limits: P(α, e^s_lo) ≤ e^(α s_lo)/Γ(α+1) = 1e-17 and
/// x_hi = α + 40 + 15√α, beyond which Gamma(α, 1) has mass < 1e-17.
fn expect_weighted(a: f64, w: impl Fn(f64) -> f64) -> f64 {
    let s_lo = ((1e-17f64).ln() + ln_gamma(a + 1.0)) / a;
    let s_hi = (a + 40.0 + 15.0 * a.sqrt()).ln();
    let n = 20_000;
    let step = (s_hi - s_lo) / n as f64;
    let lg = ln_gamma(a);
    let mut sum = 0.0;
    for i in 0..=n {
        let s = s_lo + step * i as f64;
        let x = s.exp();
        let f = (a * s - x - lg).exp() * w(x) * gamma_dx_dalpha(x, a);
        sum += if i == 0 || i == n { 0.5 * f } else { f };
    }
    sum * step
}

/// E[x] = α ⇒ E[dx/dα] = 1, and E[x²] = α(α+1) ⇒ E[2x·dx/dα] = 2α + 1 (the derivative
/// at fixed u of E_u[x(α,u)] and E_u[x²]). The quadrature is limited by ln Γ(α) in the
/// density (observed deviations ≤ 5e-13), so a 1e-10 tolerance is used, far tighter than
/// a 1e-4 check that would only catch gross errors.
#[test]
fn mean_of_gradient_is_one() {
    for a in [0.05f64, 0.1, 0.3, 1.0, 3.7, 10.0, 25.0, 100.0, 1000.0] {
        let m1 = expect_weighted(a, |_| 1.0);
        assert!((m1 - 1.0).abs() < 1e-10, "α = {a}: E[dx/dα] = {m1}");
        let m2 = expect_weighted(a, |x| 2.0 * x);
        assert!(
            rel_err(m2, 2.0 * a + 1.0) < 1e-10,
            "α = {a}: E[2x dx/dα] = {m2}, want {}",
            2.0 * a + 1.0
        );
        println!(
            "α = {a:>6}: E[dx/dα] − 1 = {:.1e}, E[2x dx/dα]/(2α+1) − 1 = {:.1e}",
            m1 - 1.0,
            m2 / (2.0 * a + 1.0) - 1.0
        );
    }
}

/// (α, x, dx/dα) for [`high_precision_reference_values`].
#[allow(clippy::excessive_precision)]
const REFERENCE: [(f64, f64, f64); 71] = [
    (0.01, 6.2079904972104726e-24, 3.2824948112855957086e-20),
    (0.01, 7.151253478084882, 91.293031209876233428),
    (0.01, 2.01, 73.685267721761123885),
    (0.01, 1.01, 60.702950107146664649),
    (0.01, 0.51, 47.068185222503167902),
    (0.05, 5.844632057286584e-121, 3.2303214473382825957e-117),
    (0.05, 5.573878440746248e-07, 0.00015497798257488768405),
    (0.05, 8.696862667893743, 20.695386339764230272),
    (0.05, 2.05, 15.857086889208367464),
    (0.05, 1.05, 12.99273862535407895),
    (0.05, 0.55, 10.15586942933880726),
    (0.3, 6.972699096409348e-21, 1.0747972581453817455e-18),
    (0.3, 0.0731311358669519, 0.64206416244556744435),
    (0.3, 10.984835632108627, 5.6458591069129799997),
    (0.3, 2.3, 3.7367992474463959093),
    (0.3, 1.3, 3.0415825850822604487),
    (0.3, 0.8, 2.483845327858707481),
    (1.0, 1.0000005000003334e-06, 0.00001423830888137155381),
    (1.0, std::f64::consts::LN_2, 0.96804483044204446949),
    (1.0, 13.815510557935518, 3.2707800149418910094),
    (1.0, 3.0, 1.9379116938249610482),
    (1.0, 2.0, 1.6316914623497007547),
    (1.0, 1.5, 1.4309374423012801965),
    (3.5, 0.03926180049518496, 0.052375159674591086425),
    (3.5, 3.1729055977607588, 0.998048047991365069),
    (3.5, 20.26091561705736, 2.2182745193900912818),
    (3.5, 5.5, 1.3035228745347681908),
    (3.5, 4.5, 1.1861261055891798067),
    (3.5, 4.0, 1.1203928425783001112),
    (7.0, 0.4998190342272766, 0.20685325570041523772),
    (7.0, 6.6696370745497715, 0.99955431982921734439),
    (7.0, 27.31765276498299, 1.8726594980811411724),
    (7.0, 9.0, 1.1581849180715329767),
    (7.0, 8.0, 1.0940278062028446806),
    (7.0, 7.5, 1.0598640781014202269),
    (19.9, 5.315433981962291, 0.48493322420066778329),
    (19.9, 19.567677569116025, 0.99994827868741022729),
    (19.9, 48.67399974751617, 1.5254338804708621334),
    (19.9, 21.9, 1.057472523208593432),
    (19.9, 20.9, 1.0333394779382362144),
    (19.9, 20.4, 1.0209801834236212994),
    (20.0, 5.36398658618165, 0.48611752869138352782),
    (20.0, 19.667672423305667, 0.99994880376630985709),
    (20.0, 48.826478707485336, 1.5241469051963513226),
    (20.0, 12.0, 0.77259058107509229839),
    (20.0, 28.0, 1.1874850851484574767),
    (20.0, 20.0, 1.0083737883634059567),
    (55.0, 26.627862057872807, 0.68280972991789302269),
    (55.0, 54.667028201427414, 0.99999338316099971281),
    (55.0, 97.69370095784075, 1.3185556751926937491),
    (55.0, 33.0, 0.76854334046688633025),
    (55.0, 77.0, 1.1812154870952312271),
    (55.0, 55.0, 1.0030357550461002109),
    (250.0, 181.90130500977932, 0.84997888744965933653),
    (250.0, 249.6667457944369, 0.99999968302705628627),
    (250.0, 332.4788584878619, 1.1500872399647579033),
    (250.0, 150.0, 0.76674500527994236508),
    (250.0, 350.0, 1.1784353408853792404),
    (250.0, 250.0, 1.0006669327228989417),
    (1000.0, 856.8146512793919, 0.92487644472504008266),
    (1000.0, 999.6666864269652, 0.99999998023248872623),
    (1000.0, 1157.577911008724, 1.0751276881337226208),
    (1000.0, 600.0, 0.76636505067615023233),
    (1000.0, 1400.0, 1.1778483885630202981),
    (1000.0, 1000.0, 1.000166683323805956),
    (10000.0, 9531.826620601281, 0.97623349030351569715),
    (10000.0, 9999.666670370358, 0.99999999988887358616),
    (10000.0, 10482.569914541284, 1.0237665363623024777),
    (10000.0, 6000.0, 0.76625109632730254793),
    (10000.0, 14000.0, 1.1776723821760332908),
    (10000.0, 10000.0, 1.0000166668333238092),
];

/// High-precision values (mpmath, 40 digits; each confirmed by two independent
/// evaluations — numerically differentiated regularized incomplete gamma, and direct
/// quadrature of dx/dα = ∫ₓ^∞ (t/x)^(α−1) e^(x−t) (ln t − ψ(α)) dt) at the 1e-6, 0.5 and
/// 1 − 1e-6 quantiles and next to every branch boundary.
#[test]
fn high_precision_reference_values() {
    let mut worst = 0.0f64;
    for &(a, x, want) in &REFERENCE {
        let got = gamma_dx_dalpha(x, a);
        let e = rel_err(got, want);
        assert!(
            e < 1e-13,
            "α = {a}, x = {x:e}: got {got:e}, want {want:e} (rel {e:e})"
        );
        worst = worst.max(e);
    }
    println!("reference table: max rel. error {worst:.1e}");
}

/// dx/dα is finite, positive and non-decreasing in x (the Gamma shape family is ordered
/// in the dispersive order: x(α', u) − x(α, u) grows with u for α' > α) over
/// α ∈ [0.01, 1e4] and x from 1e-300 to 1e6.
#[test]
fn positive_finite_and_increasing_in_x() {
    let mut a = 0.01;
    while a <= 1e4 {
        let mut prev = 0.0;
        let mut x = 1e-300;
        while x < 1e6 {
            let g = gamma_dx_dalpha(x, a);
            assert!(g.is_finite() && g > 0.0, "α = {a}, x = {x:e}: {g}");
            assert!(
                g >= prev * (1.0 - 1e-13),
                "α = {a}, x = {x:e}: {g} < {prev}"
            );
            prev = g;
            x *= if x < 0.1 * a { 10.0 } else { 1.01 };
        }
        a *= 1.37;
    }
    for a in [0.01, 1e4, 1e6, 1e10] {
        for x in [1e-10, 0.5 * a, a, 2.0 * a, 1e12] {
            let g = gamma_dx_dalpha(x, a);
            assert!(g.is_finite() && g > 0.0, "α = {a}, x = {x:e}: {g}");
        }
    }
}

/// Neighbouring branches agree where they meet (relative 5e-13, a few times the
/// accuracy of either branch plus the change of dx/dα over the 2e-14 step).
#[test]
fn continuous_across_branch_boundaries() {
    let check = |x0: f64, a0: f64, x1: f64, a1: f64| {
        let (g0, g1) = (gamma_dx_dalpha(x0, a0), gamma_dx_dalpha(x1, a1));
        assert!(
            rel_err(g1, g0) < 5e-13,
            "({x0:e}, {a0}) → {g0:e} vs ({x1:e}, {a1}) → {g1:e}"
        );
    };
    let near = |x: f64| (x * (1.0 - 1e-14), x * (1.0 + 1e-14));
    for a in [0.01, 0.05, 0.5, 1.0, 3.99] {
        let (lo, hi) = near(a + SERIES_REACH_SMALL_ALPHA);
        check(lo, a, hi, a);
    }
    for a in [4.0, 7.0, 19.9] {
        let (lo, hi) = near(a + 1.0);
        check(lo, a, hi, a);
    }
    for a in [20.0, 50.0, 1000.0, 1e4, 1e6] {
        for x in [a * (1.0 + TEMME_SIGMA_LO), a * (1.0 + TEMME_SIGMA_HI)] {
            let (lo, hi) = near(x);
            check(lo, a, hi, a);
        }
    }
    let a_below = TEMME_MIN_ALPHA * (1.0 - 1e-15);
    for x in [12.01, 16.0, 20.0, 20.5, 21.5, 24.0, 27.99] {
        check(x, a_below, x, TEMME_MIN_ALPHA);
    }
}

/// The tabulated Taylor polynomials reproduce the closed forms
/// c₀ = 1/(λ−1) − 1/η and c₁ = 1/η³ − 1/(λ−1)³ − 1/(λ−1)² − 1/(12(λ−1))
/// away from η = 0 (where the closed forms are usable).
#[test]
fn temme_coefficients_match_closed_forms() {
    for eta in [-0.5, -0.45, -0.3, -0.15, 0.15, 0.3, 0.45, 0.5] {
        // λ from λ − 1 − ln λ = η²/2 on the branch sign(λ − 1) = sign(η), by Newton.
        let mut lam: f64 = 1.0 + eta + eta * eta / 3.0;
        for _ in 0..50 {
            lam -= (lam - 1.0 - lam.ln() - 0.5 * eta * eta) / (1.0 - 1.0 / lam);
        }
        let l1 = lam - 1.0;
        let c0 = 1.0 / l1 - 1.0 / eta;
        let c1 = 1.0 / eta.powi(3) - 1.0 / l1.powi(3) - 1.0 / l1.powi(2) - 1.0 / (12.0 * l1);
        assert!((horner_d(&C0, eta).0 - c0).abs() < 1e-14, "c₀({eta})");
        assert!((horner_d(&C1, eta).0 - c1).abs() < 1e-11, "c₁({eta})");
    }
}

#[test]
fn special_inputs() {
    assert_eq!(gamma_dx_dalpha(0.0, 2.0), 0.0);
    assert_eq!(gamma_dx_dalpha(-3.0, 2.0), 0.0);
    assert_eq!(gamma_dx_dalpha(f64::NEG_INFINITY, 2.0), 0.0);
    assert_eq!(gamma_dx_dalpha(f64::INFINITY, 2.0), f64::INFINITY);
    assert!(gamma_dx_dalpha(f64::NAN, 2.0).is_nan());
    assert!(gamma_dx_dalpha(1.0, f64::NAN).is_nan());
    assert!(gamma_dx_dalpha(1.0, 0.0).is_nan());
    assert!(gamma_dx_dalpha(1.0, -1.0).is_nan());
    assert!(gamma_dx_dalpha(1.0, f64::INFINITY).is_nan());
    // tiny x: dx/dα ≈ (x/α)(ψ(α+1) − ln x)
    let (x, a) = (1e-200, 2.5);
    let approx = x / a * (digamma(a + 1.0) - x.ln());
    assert!(rel_err(gamma_dx_dalpha(x, a), approx) < 1e-14);
    // subnormal x and extreme α do not panic and stay finite
    for a in [1e-300, 1e-5, 1e300, f64::MAX] {
        for x in [5e-324, 1.0, 1e300, f64::MAX] {
            let g = gamma_dx_dalpha(x, a);
            assert!(g.is_finite() && g >= 0.0, "α = {a:e}, x = {x:e}: {g}");
        }
    }
}

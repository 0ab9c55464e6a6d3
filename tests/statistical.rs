//! gradest's estimators against closed forms.
//!
//! Every check is |z| < 4.5 with z = (estimate − truth)/std_error, using the
//! std_error the runner returns (batch means over ≥ 32 chunks, so z is t with
//! ≥ 31 degrees of freedom: false alarm ≤ 9.0e-5 per gradient component; for the
//! objective's mean, whose std_error comes from all N iid samples, 6.8e-6).
//! Seeds are fixed.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gradest::estimation::Estimate;
use gradest::estimation::{Baseline, Estimator};

const LOC: [f64; 2] = [0.5, -1.0];
const SCALE: [f64; 2] = [1.0, 2.0];
/// Samples per run: the std errors are then 0.1–2% of the gradients' size.
const N: u64 = 1_000_000;

/// A closed form: E f and ∇θ E f = (∇loc, ∇scale), for independent normals.
struct Truth {
    mean: f64,
    gradient: Vec<f64>,
}

/// Builds the truth from per-component (E fᵢ, ∂/∂μᵢ, ∂/∂σᵢ) of a separable f = Σᵢ fᵢ(xᵢ).
fn separable(loc: &[f64], scale: &[f64], part: impl Fn(f64, f64) -> (f64, f64, f64)) -> Truth {
    let parts: Vec<(f64, f64, f64)> = loc.iter().zip(scale).map(|(&m, &s)| part(m, s)).collect();
    let mut gradient: Vec<f64> = parts.iter().map(|p| p.1).collect();
    gradient.extend(parts.iter().map(|p| p.2));
    Truth {
        mean: parts.iter().map(|p| p.0).sum(),
        gradient,
    }
}

const K: f64 = 3.0;
const W: f64 = 0.8;
const A: f64 = 0.3;

/// E (x − k)² = (μ − k)² + σ²:  ∂μ = 2(μ − k),  ∂σ = 2σ.
fn quadratic(m: f64, s: f64) -> (f64, f64, f64) {
    ((m - K).powi(2) + s * s, 2.0 * (m - K), 2.0 * s)
}

/// E cos(wx) = cos(wμ) e^{−w²σ²/2}:
/// ∂μ = −w sin(wμ) e^{−w²σ²/2},  ∂σ = −w²σ cos(wμ) e^{−w²σ²/2}.
fn cosine(m: f64, s: f64) -> (f64, f64, f64) {
    let damp = (-W * W * s * s / 2.0).exp();
    (
        (W * m).cos() * damp,
        -W * (W * m).sin() * damp,
        -W * W * s * (W * m).cos() * damp,
    )
}

/// E exp(−a x²) = D^{−1/2} exp(−aμ²/D) with D = 1 + 2aσ² (a Gaussian integral).
/// With E = that value:
///   ∂E/∂μ = E · (−2aμ/D),
///   ∂E/∂σ = E · ∂/∂σ[−½ log D − aμ²/D] = E · (−2aσ/D + 4a²μ²σ/D²)   (∂D/∂σ = 4aσ).
fn bump(m: f64, s: f64) -> (f64, f64, f64) {
    let d = 1.0 + 2.0 * A * s * s;
    let e = d.powf(-0.5) * (-A * m * m / d).exp();
    (
        e,
        e * (-2.0 * A * m / d),
        e * (-2.0 * A * s / d + 4.0 * A * A * m * m * s / (d * d)),
    )
}

/// f = dot([2, −3], x) + 1: E f = 2μ₁ − 3μ₂ + 1, ∇μ = [2, −3], ∇σ = 0.
fn linear(loc: &[f64], _scale: &[f64]) -> Truth {
    Truth {
        mean: 2.0 * loc[0] - 3.0 * loc[1] + 1.0,
        gradient: vec![2.0, -3.0, 0.0, 0.0],
    }
}

/// f = Σ (x − loc)², loc referenced directly: E f = Σσ², so ∇μ = 0 (the pathwise
/// or score term cancels the direct term −2(x − μ)), ∇σ = 2σ.
fn centred(_loc: &[f64], scale: &[f64]) -> Truth {
    let mut gradient = vec![0.0; scale.len()];
    gradient.extend(scale.iter().map(|s| 2.0 * s));
    Truth {
        mean: scale.iter().map(|s| s * s).sum(),
        gradient,
    }
}

/// f = dot(loc, x) + Σ scale²: E f = Σμ² + Σσ², ∇μ = 2μ, ∇σ = 2σ. Half of each
/// comes from the direct term ∇θf, so an estimator that drops it gives μ and 0.
fn direct(loc: &[f64], scale: &[f64]) -> Truth {
    let mut gradient: Vec<f64> = loc.iter().map(|m| 2.0 * m).collect();
    gradient.extend(scale.iter().map(|s| 2.0 * s));
    Truth {
        mean: loc.iter().chain(scale).map(|v| v * v).sum(),
        gradient,
    }
}

type Case = (&'static str, fn(&[f64], &[f64]) -> Truth);

fn cases() -> Vec<Case> {
    vec![
        ("sum((x - 3)^2)", |l, s| separable(l, s, quadratic)),
        ("sum(cos(0.8 * x))", |l, s| separable(l, s, cosine)),
        ("sum(exp(-0.3 * x^2))", |l, s| separable(l, s, bump)),
        ("dot([2, -3], x) + 1", linear),
        ("sum((x - loc)^2)", centred),
        ("dot(loc, x) + sum(scale^2)", direct),
    ]
}

/// The closed forms' derivatives are the derivatives of their expectations
/// (central differences of E f, h = 1e-5: truncation ~h²·f‴ ≈ 1e-10, rounding
/// ~1e-16/h ≈ 1e-11; tolerance 1e-8).
#[test]
fn closed_forms_differentiate_their_expectations() {
    let h = 1e-5;
    for (name, truth) in cases() {
        let t = truth(&LOC, &SCALE);
        let mut theta: Vec<f64> = LOC.iter().chain(&SCALE).copied().collect();
        for k in 0..4 {
            let at = |theta: &[f64]| truth(&theta[..2], &theta[2..]).mean;
            theta[k] += h;
            let up = at(&theta);
            theta[k] -= 2.0 * h;
            let down = at(&theta);
            theta[k] += h;
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - t.gradient[k]).abs() < 1e-8,
                "{name}: component {k}: closed form {} but E f differentiates to {fd}",
                t.gradient[k]
            );
        }
    }
}

fn check(label: &str, e: &Estimate, t: &Truth) {
    assert_eq!(e.gradient.len(), 4, "{label}: gradient length");
    let names: Vec<&str> = e.layout.iter().map(|p| p.name).collect();
    assert_eq!(names, ["loc", "scale"], "{label}: layout");
    assert!(e.unbiased, "{label}: reported as biased");
    assert!(
        e.diagnostics.warnings.is_empty(),
        "{label}: {:?}",
        e.diagnostics.warnings
    );
    assert_eq!(e.diagnostics.non_finite, 0);
    assert_eq!(e.diagnostics.samples, N);
    assert_gradient(label, e, &t.gradient);
    assert_objective(label, e, t.mean);
}

/// Every unbiased estimator on every objective, against its closed form.
#[test]
fn normal_gradients_match_closed_forms_for_every_estimator() {
    for (obj, truth) in cases() {
        let t = truth(&LOC, &SCALE);
        for (seed, (name, est)) in (11..).zip(unbiased_estimators()) {
            let e = run_ok(&normal_job(&LOC, &SCALE, obj, est, N, seed));
            check(&format!("{name} on {obj}"), &e, &t);
        }
    }
}

/// The std errors are small enough to see a real mistake: dropping the direct
/// term of `dot(loc, x) + sum(scale^2)` (which would give ∇μ = μ, ∇σ = 0) is
/// rejected by a wide margin for every estimator.
#[test]
fn dropping_the_direct_term_would_be_detected() {
    let wrong: Vec<f64> = LOC.iter().copied().chain([0.0, 0.0]).collect();
    for (seed, (name, est)) in (21..).zip(unbiased_estimators()) {
        let e = run_ok(&normal_job(
            &LOC,
            &SCALE,
            "dot(loc, x) + sum(scale^2)",
            est,
            N,
            seed,
        ));
        let (z, _) = max_abs_z(&e.gradient, &e.std_error, &wrong);
        assert!(
            z > 10.0 * Z_MAX,
            "{name}: the wrong gradient is only {z:.1} std errors away"
        );
    }
}

/// A constant baseline reports itself and none reports zeros. The optimal one is
/// b*ₖ = E[f sₖ²]/E[sₖ²]; for f = Σ(x − 3)² (E f = 27.25 here), with sμ = ε/σ and
/// sσ = (ε² − 1)/σ (E ε⁴ = 3, E ε⁶ = 15), that is E f + 2σᵢ² for μᵢ and E f + 4σᵢ²
/// for σᵢ: [29.25, 35.25, 31.25, 43.25]. The cross-fitted estimate over N = 1e6 has
/// a sampling sd of about 0.5% of that (seen over seeds); allow 3% (6 sd).
#[test]
fn baselines_are_reported() {
    let run = |b, n| {
        run_ok(&normal_job(
            &LOC,
            &SCALE,
            "sum((x - 3)^2)",
            Estimator::ScoreFunction { baseline: b },
            n,
            5,
        ))
    };
    assert_eq!(
        run(Baseline::Constant(2.5), 1000).diagnostics.baseline,
        Some(vec![2.5; 4])
    );
    assert_eq!(
        run(Baseline::None, 1000).diagnostics.baseline,
        Some(vec![0.0; 4])
    );
    assert_eq!(run(Baseline::LeaveOneOut, 1000).diagnostics.baseline, None);
    let opt = run(Baseline::Optimal, N)
        .diagnostics
        .baseline
        .expect("reported");
    let want = [29.25, 35.25, 31.25, 43.25];
    for (k, (b, w)) in opt.iter().zip(want).enumerate() {
        assert!(
            (b / w - 1.0).abs() < 0.03,
            "component {k}: optimal baseline {b}, expected {w}"
        );
    }
}

/// The per-sample variance of the pathwise terms of f = Σ(x − 3)²:
/// ∂/∂μ term 2(x − 3) has variance 4σ², ∂/∂σ term 2(x − 3)ε has variance
/// 4(μ − 3)² + 8σ² (ε² has variance 2). The sample variance of N = 1e6 terms has
/// relative sd ≤ √(κ − 1)/√N (κ the kurtosis, ≤ 15 here): under 0.4%; allow 3%.
#[test]
fn pathwise_per_sample_variance_matches_closed_form() {
    let e = run_ok(&normal_job(
        &LOC,
        &SCALE,
        "sum((x - 3)^2)",
        Estimator::Reparameterization,
        N,
        3,
    ));
    let expected: Vec<f64> = SCALE
        .iter()
        .map(|s| 4.0 * s * s)
        .chain(
            LOC.iter()
                .zip(&SCALE)
                .map(|(m, s)| 4.0 * (m - K).powi(2) + 8.0 * s * s),
        )
        .collect();
    for (k, (v, want)) in e.variance.iter().zip(&expected).enumerate() {
        assert!(
            (v / want - 1.0).abs() < 0.03,
            "component {k}: variance {v}, expected {want}"
        );
        // std_error ≈ √(variance/N) for iid terms (batch means over ≥ 32 chunks: ±25%).
        let iid = (v / N as f64).sqrt();
        let ratio = e.std_error[k] / iid;
        assert!(
            (0.5..2.0).contains(&ratio),
            "component {k}: std_error/√(var/N) = {ratio}"
        );
    }
    // The sample's moments: mean μ, variance σ² (z-checks, normal z: 6.8e-6 each).
    for i in 0..2 {
        let (m, v) = (
            e.diagnostics.sample_mean[i],
            e.diagnostics.sample_variance[i],
        );
        let z_mean = (m - LOC[i]) / (SCALE[i] / (N as f64).sqrt());
        let z_var = (v - SCALE[i].powi(2)) / (SCALE[i].powi(2) * (2.0 / N as f64).sqrt());
        assert!(
            z_mean.abs() < Z_MAX && z_var.abs() < Z_MAX,
            "x[{i}]: {m}, {v}"
        );
    }
}

// ---------------------------------------------------------------------------
// Multivariate normal
// ---------------------------------------------------------------------------

const MVN_LOC: [f64; 3] = [0.2, -0.5, 1.0];

fn tril() -> Vec<Vec<f64>> {
    vec![
        vec![1.0, 0.0, 0.0],
        vec![0.5, 1.2, 0.0],
        vec![-0.3, 0.4, 0.8],
    ]
}

/// Flattened row-major L.
fn tril_flat() -> Vec<f64> {
    tril().concat()
}

fn mvn_truths() -> Vec<(&'static str, Truth)> {
    let l = tril_flat();
    // f = Σ x²: E f = ‖μ‖² + ‖L‖²_F, ∇μ = 2μ, ∇L = 2L (zero above the diagonal).
    let mut g_sq: Vec<f64> = MVN_LOC.iter().map(|m| 2.0 * m).collect();
    g_sq.extend(l.iter().map(|v| 2.0 * v));
    let sq = Truth {
        mean: MVN_LOC.iter().chain(&l).map(|v| v * v).sum(),
        gradient: g_sq,
    };
    // f = dot([1, −2, 0.5], x) + 3: E f = w·μ + 3, ∇μ = w, ∇L = 0.
    let w = [1.0, -2.0, 0.5];
    let mut g_lin = w.to_vec();
    g_lin.extend([0.0; 9]);
    let lin = Truth {
        mean: w.iter().zip(&MVN_LOC).map(|(a, b)| a * b).sum::<f64>() + 3.0,
        gradient: g_lin,
    };
    // f = Σ cos(xᵢ): xᵢ ~ N(μᵢ, Σᵢᵢ), Σᵢᵢ = Σⱼ Lᵢⱼ², so E cos xᵢ = cos μᵢ e^{−Σᵢᵢ/2}:
    // ∂/∂μᵢ = −sin μᵢ e^{−Σᵢᵢ/2},  ∂/∂Lᵢⱼ = −Lᵢⱼ cos μᵢ e^{−Σᵢᵢ/2} (j ≤ i).
    let damp: Vec<f64> = (0..3)
        .map(|i| (-(0..3).map(|j| l[i * 3 + j].powi(2)).sum::<f64>() / 2.0).exp())
        .collect();
    let mut g_cos: Vec<f64> = (0..3).map(|i| -MVN_LOC[i].sin() * damp[i]).collect();
    g_cos.extend((0..9).map(|k| -l[k] * MVN_LOC[k / 3].cos() * damp[k / 3]));
    let cos = Truth {
        mean: (0..3).map(|i| MVN_LOC[i].cos() * damp[i]).sum(),
        gradient: g_cos,
    };
    // f = Σ x² + dot(scale_tril, w), w = [1, …, 9] over L flattened row-major: the
    // direct term adds wᵢⱼ below and on the diagonal only; above it L is not a
    // parameter (its entries are fixed at 0), so the gradient there stays 0.
    let w: Vec<f64> = (1..=9).map(f64::from).collect();
    let mut g_direct: Vec<f64> = MVN_LOC.iter().map(|m| 2.0 * m).collect();
    g_direct.extend((0..9).map(|k| {
        if k % 3 <= k / 3 {
            2.0 * l[k] + w[k]
        } else {
            0.0
        }
    }));
    let direct = Truth {
        mean: MVN_LOC.iter().chain(&l).map(|v| v * v).sum::<f64>()
            + l.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>(),
        gradient: g_direct,
    };
    vec![
        ("sum(x^2)", sq),
        ("dot([1, -2, 0.5], x) + 3", lin),
        ("sum(cos(x))", cos),
        (
            "sum(x^2) + dot(scale_tril, [1, 2, 3, 4, 5, 6, 7, 8, 9])",
            direct,
        ),
    ]
}

#[test]
fn multivariate_normal_gradients_match_closed_forms() {
    for (obj, t) in mvn_truths() {
        for (seed, (name, est)) in (31..).zip(unbiased_estimators()) {
            let label = format!("multivariate_normal, {name} on {obj}");
            let e = run_ok(&mvn_job(&MVN_LOC, &tril(), obj, est, N, seed));
            let names: Vec<(&str, Vec<usize>)> =
                e.layout.iter().map(|p| (p.name, p.shape.clone())).collect();
            assert_eq!(
                names,
                [("loc", vec![3]), ("scale_tril", vec![3, 3])],
                "{label}"
            );
            assert_eq!(e.gradient.len(), 12, "{label}");
            // Above the diagonal: exactly zero, with no noise.
            for (i, j) in [(0, 1), (0, 2), (1, 2)] {
                let k = 3 + i * 3 + j;
                assert_eq!(
                    e.gradient[k].to_bits(),
                    0f64.to_bits(),
                    "{label}: L[{i}][{j}]"
                );
                assert_eq!(e.std_error[k], 0.0, "{label}: std_error of L[{i}][{j}]");
                assert_eq!(e.variance[k], 0.0, "{label}: variance of L[{i}][{j}]");
            }
            assert_gradient(&label, &e, &t.gradient);
            assert_objective(&label, &e, t.mean);
        }
    }
}

// ---------------------------------------------------------------------------
// Coverage of the 95% intervals
// ---------------------------------------------------------------------------

/// Over 100 seeds, the interval gradient ± 1.96·std_error covers the truth about
/// 95% of the time. With a std_error from C batch means the exact coverage of
/// ±1.96 is P(|t_{C−1}| < 1.96): 0.941 for C = 32, 0.946 for C = 64. Each
/// component's count of covered runs is then Binomial(100, p) (runs are
/// independent; the two components of one run are not, so each is counted on its
/// own):
/// - count ≥ 85: false alarm P(Bin(100, p) < 85) ≤ 2.5e-4 per count; an
///   understated std_error (halved: coverage 0.67) fails it with certainty;
/// - not every run of both components covered (≤ 199 of 200): false alarm
///   ≤ P(one component covered 100 times) = p¹⁰⁰ ≤ 3.7e-3 per estimator (5.9e-3
///   even for p = 0.95); an overstated std_error (doubled: coverage 0.9995) fails
///   it 90% of the time.
///
/// Over the 4 estimators: 4·(2·2.5e-4 + 3.7e-3) ≈ 1.7e-2 in all.
#[test]
fn intervals_cover_the_truth_about_95_percent_of_the_time() {
    let (loc, scale) = ([0.5], [1.2]);
    let obj = "sum((x - 2)^2) + sum(cos(0.8 * x))";
    let t = {
        let (_, a, b) = quadratic_at(2.0, loc[0], scale[0]);
        let (_, c, d) = cosine(loc[0], scale[0]);
        [a + c, b + d]
    };
    let estimators = [
        ("reparameterization", Estimator::Reparameterization),
        (
            "score_function/none",
            Estimator::ScoreFunction {
                baseline: Baseline::None,
            },
        ),
        (
            "score_function/mean",
            Estimator::ScoreFunction {
                baseline: Baseline::LeaveOneOut,
            },
        ),
        (
            "score_function/optimal",
            Estimator::ScoreFunction {
                baseline: Baseline::Optimal,
            },
        ),
    ];
    let mut report = Vec::new();
    for (name, est) in estimators {
        let mut covered = [0u32; 2];
        for seed in 0..100 {
            let e = run_ok(&normal_job(&loc, &scale, obj, est, 20_000, 1000 + seed));
            for k in 0..2 {
                if (e.gradient[k] - t[k]).abs() <= 1.96 * e.std_error[k] {
                    covered[k] += 1;
                }
            }
        }
        report.push(format!(
            "{name}: loc {}/100, scale {}/100",
            covered[0], covered[1]
        ));
        for (k, c) in covered.iter().enumerate() {
            assert!(
                *c >= 85,
                "{name}: component {k} covered in only {c} of 100 runs"
            );
        }
        assert!(
            covered.iter().sum::<u32>() <= 199,
            "{name}: every interval covered the truth: is the std_error overstated?"
        );
    }
    println!(
        "coverage of gradient ± 1.96·std_error over 100 seeds:\n  {}",
        report.join("\n  ")
    );
}

/// E (x − k)² with a given k.
fn quadratic_at(k: f64, m: f64, s: f64) -> (f64, f64, f64) {
    ((m - k).powi(2) + s * s, 2.0 * (m - k), 2.0 * s)
}

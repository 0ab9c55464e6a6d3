//! Shared helpers of gradest's test suite: building jobs, running them, and the
//! statistical checks every estimate goes through.
//!
//! Statistical tolerances. Every check compares an estimate with a closed-form
//! truth through z = (estimate − truth)/std_error, where std_error is the one the
//! runner returns. It comes from batch means over C chunks (C ≥ 32 whenever
//! N ≥ 64), so z follows Student's t with C − 1 ≥ 31 degrees of freedom, not a
//! standard normal: the per-component false-alarm rate of |z| < 4.5 is at most
//! P(|t₃₁| > 4.5) = 9.0e-5 (3.0e-5 for C = 64; 6.8e-6 for a normal z). Seeds
//! are fixed, so a test that passes once passes forever; the rate is the chance
//! that a correct core would have been rejected with the seed we happened to pick.
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, AtomicU64};

use gradest::estimation::distributions::{self, ParamInput, ParamValue};
use gradest::estimation::objective::ParseLimits;
use gradest::estimation::{
    Baseline, Controls, Estimator, EstimatorKind, Job, NonFinitePolicy, compile_objective, run,
};
use gradest::estimation::{Estimate, RunError};

/// |z| threshold of every statistical check (see the module docs for its rate).
pub const Z_MAX: f64 = 4.5;

/// Per-component false-alarm rate of |z| < 4.5 with a t-distributed z, ≥ 31
/// degrees of freedom (an upper bound).
pub const FALSE_ALARM_T31: f64 = 9.0e-5;

/// A job on independent normals.
pub fn normal_job(
    loc: &[f64],
    scale: &[f64],
    objective: &str,
    estimator: Estimator,
    samples: u64,
    seed: u64,
) -> Job {
    let mut input = ParamInput::new();
    input.insert("loc".into(), ParamValue::Vector(loc.to_vec()));
    input.insert("scale".into(), ParamValue::Vector(scale.to_vec()));
    job("normal", &input, objective, estimator, samples, seed)
}

/// A job on a multivariate normal with Cholesky factor `tril` (list of rows).
pub fn mvn_job(
    loc: &[f64],
    tril: &[Vec<f64>],
    objective: &str,
    estimator: Estimator,
    samples: u64,
    seed: u64,
) -> Job {
    let mut input = ParamInput::new();
    input.insert("loc".into(), ParamValue::Vector(loc.to_vec()));
    input.insert("scale_tril".into(), ParamValue::Matrix(tril.to_vec()));
    job(
        "multivariate_normal",
        &input,
        objective,
        estimator,
        samples,
        seed,
    )
}

/// A job of any registered family, with default limits.
pub fn job(
    family: &str,
    input: &ParamInput,
    objective: &str,
    estimator: Estimator,
    samples: u64,
    seed: u64,
) -> Job {
    let info = distributions::family(family).expect("a registered family");
    let dist = distributions::build(info, input, 10_000).expect("valid parameters");
    let objective = compile_objective(objective, dist.as_ref(), &ParseLimits::default(), 1 << 20)
        .unwrap_or_else(|e| panic!("objective {objective:?} does not compile: {e}"));
    Job {
        distribution: dist,
        objective,
        estimator,
        samples,
        seed,
        on_non_finite: NonFinitePolicy::Error,
        sampling: gradest::estimation::Sampling::Iid,
        max_outcomes: 65_536,
    }
}

/// Vector-valued parameters by name, as most tests give them.
pub fn params(pairs: &[(&str, Vec<f64>)]) -> ParamInput {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Vector(v.clone())))
        .collect()
}

/// Runs a job with no cancellation and no deadline, on every core.
pub fn try_run(job: &Job) -> Result<Estimate, RunError> {
    let cancel = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    let controls = Controls {
        cancel: &cancel,
        deadline: None,
        progress: &progress,
    };
    run(job, &controls)
}

/// Runs a job that must succeed.
pub fn run_ok(job: &Job) -> Estimate {
    try_run(job).unwrap_or_else(|e| panic!("the run failed: {e}"))
}

/// The unbiased estimators of a reparameterizable family: pathwise, and the score
/// function with each baseline (a constant of 3).
pub fn unbiased_estimators() -> Vec<(&'static str, Estimator)> {
    vec![
        ("reparameterization", Estimator::Reparameterization),
        (
            "score_function/none",
            Estimator::ScoreFunction {
                baseline: Baseline::None,
            },
        ),
        (
            "score_function/constant(3)",
            Estimator::ScoreFunction {
                baseline: Baseline::Constant(3.0),
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
    ]
}

/// The variants of an estimator kind that the suite runs wherever the kind
/// applies: the score function without a baseline, with leave-one-out ("mean")
/// and with the cross-fitted optimal one; Gumbel-Softmax at τ = 0.5, soft and
/// straight-through; ARM; DisARM; ReinMax at τ = 1; Gumbel-Rao at τ = 0.5 with
/// K = 10; the measure-valued derivative coupled and uncoupled. The match has no catch-all arm, so a new kind must say
/// here how it is run.
pub fn variants(kind: EstimatorKind) -> Vec<(&'static str, Estimator)> {
    let sf = |baseline| Estimator::ScoreFunction { baseline };
    let gs = |hard| Estimator::GumbelSoftmax {
        temperature: 0.5,
        hard,
    };
    let mv = |coupling| Estimator::MeasureValued { coupling };
    match kind {
        EstimatorKind::ScoreFunction => vec![
            ("score_function/none", sf(Baseline::None)),
            ("score_function/mean", sf(Baseline::LeaveOneOut)),
            ("score_function/optimal", sf(Baseline::Optimal)),
        ],
        EstimatorKind::Reparameterization => {
            vec![("reparameterization", Estimator::Reparameterization)]
        }
        EstimatorKind::GumbelSoftmax => vec![
            ("gumbel_softmax/soft", gs(false)),
            ("gumbel_softmax/hard", gs(true)),
        ],
        EstimatorKind::Arm => vec![("arm", Estimator::Arm)],
        EstimatorKind::Disarm => vec![("disarm", Estimator::Disarm)],
        EstimatorKind::ReinMax => vec![("reinmax", Estimator::ReinMax { temperature: 1.0 })],
        EstimatorKind::GumbelRao => vec![(
            "gumbel_rao",
            Estimator::GumbelRao {
                temperature: 0.5,
                draws: 10,
            },
        )],
        EstimatorKind::MeasureValued => vec![
            ("measure_valued/coupled", mv(true)),
            ("measure_valued/uncoupled", mv(false)),
        ],
        EstimatorKind::Exact => vec![("exact", Estimator::Exact)],
    }
}

/// Absolute slack for components whose per-sample terms are all equal (std_error
/// 0, such as ∂/∂loc of a linear f under the pathwise estimator): the estimate
/// must then equal the truth up to rounding.
fn exact_slack(truth: f64) -> f64 {
    1e-12 * (1.0 + truth.abs())
}

/// The largest |z| over the components, where z = (estimate − truth)/std_error;
/// a component with std_error 0 counts as |z| = 0 when it equals the truth up to
/// rounding and as infinity otherwise.
pub fn max_abs_z(estimate: &[f64], std_error: &[f64], truth: &[f64]) -> (f64, usize) {
    assert_eq!(estimate.len(), truth.len(), "gradient length");
    assert_eq!(std_error.len(), truth.len(), "std_error length");
    let mut worst = (0.0, 0);
    for (k, ((g, se), t)) in estimate.iter().zip(std_error).zip(truth).enumerate() {
        assert!(g.is_finite() && se.is_finite(), "component {k}: {g} ± {se}");
        assert!(*se >= 0.0, "component {k}: negative std_error {se}");
        let z = if *se > 0.0 {
            ((g - t) / se).abs()
        } else if (g - t).abs() <= exact_slack(*t) {
            0.0
        } else {
            f64::INFINITY
        };
        if z > worst.0 {
            worst = (z, k);
        }
    }
    worst
}

/// Asserts |z| < 4.5 for every gradient component (false alarm ≤ 9.0e-5 per
/// component, t with ≥ 31 degrees of freedom). Each test file's negative
/// control runs this check on a wrong truth or a biased estimator and sees it fail.
pub fn assert_gradient(label: &str, e: &Estimate, truth: &[f64]) {
    let (z, k) = max_abs_z(&e.gradient, &e.std_error, truth);
    assert!(
        z < Z_MAX,
        "{label}: ∂/∂{} is {z:.2} std errors from the truth\n  gradient  {:?}\n  truth     {truth:?}\n  std_error {:?}",
        component_names(e)[k],
        e.gradient,
        e.std_error
    );
}

/// One two-sided z-test, |z| < [`Z_MAX`], of `got` against `want` with standard
/// error `se`; a zero `se` (a term that is the same for every sample, such as
/// ∂x/∂loc = 1) demands equality up to rounding. The false-alarm rate is that of
/// the statistic behind `se`: 6.8e-6 for a normal z (a standard error from a
/// closed-form variance over N iid samples), at most 9.0e-5 for the runner's
/// batch-means std_error (t with ≥ 31 degrees of freedom).
pub fn assert_z(what: &str, got: f64, want: f64, se: f64) {
    assert!(
        got.is_finite() && se.is_finite() && se >= 0.0,
        "{what}: {got} ± {se}"
    );
    let z = |want: f64| {
        if se > 0.0 {
            ((got - want) / se).abs()
        } else if (got - want).abs() <= exact_slack(want) {
            0.0
        } else {
            f64::INFINITY
        }
    };
    assert!(
        z(want) < Z_MAX,
        "{what}: got {got:.6e}, want {want:.6e}, se {se:.3e}, z = {:.2}",
        (got - want) / se
    );
}

/// The gradient components' names in layout order: `loc[0]`, `scale[1]`, …
pub fn component_names(e: &Estimate) -> Vec<String> {
    e.layout
        .iter()
        .flat_map(|l| {
            let n: usize = l.shape.iter().product();
            (0..n).map(move |i| format!("{}[{i}]", l.name))
        })
        .collect()
}

/// Asserts that the objective's mean is within 4.5 of its std_error of `truth`
/// (false alarm ≈ 6.8e-6: the std_error of f's mean comes from all N iid samples,
/// so z is normal).
pub fn assert_objective(label: &str, e: &Estimate, truth: f64) {
    let o = e.objective;
    assert!(
        o.std_error > 0.0,
        "{label}: objective std_error {}",
        o.std_error
    );
    let z = (o.mean - truth) / o.std_error;
    assert!(
        z.abs() < Z_MAX,
        "{label}: objective mean {} is {z:.2} std errors from E f = {truth}",
        o.mean
    );
}

/// Standard normal density.
pub fn phi(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal distribution function.
pub fn big_phi(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
}

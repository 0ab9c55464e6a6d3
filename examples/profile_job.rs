//! Runs one benchmark job single-threaded, for profiling: `profile_job J4`.
use gradest::estimation::distributions::{self, ParamInput, ParamValue};
use gradest::estimation::objective::ParseLimits;
use gradest::estimation::runner::run_with_threads;
use gradest::estimation::{Baseline, Controls, Estimator, Job, NonFinitePolicy, compile_objective};
use std::sync::atomic::{AtomicBool, AtomicU64};
type Spec = (
    &'static str,
    Vec<(&'static str, Vec<f64>)>,
    &'static str,
    Estimator,
    u64,
);

fn main() {
    let which = std::env::args().nth(1).unwrap_or("J1".into());
    let lin = |a: f64, b: f64, n: usize| {
        (0..n)
            .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
            .collect::<Vec<f64>>()
    };
    let (family, params, f, est, n): Spec = match which.as_str() {
        "J1" => (
            "normal",
            vec![("loc", vec![0.5]), ("scale", vec![1.2])],
            "(x-3)^2",
            Estimator::Reparameterization,
            50_000_000,
        ),
        "J2" => (
            "normal",
            vec![("loc", vec![0.5]), ("scale", vec![1.2])],
            "(x-3)^2",
            Estimator::ScoreFunction {
                baseline: Baseline::None,
            },
            50_000_000,
        ),
        "J4" => (
            "normal",
            vec![("loc", lin(-1.0, 1.0, 100)), ("scale", vec![1.0; 100])],
            "sum(cos(x))",
            Estimator::Reparameterization,
            500_000,
        ),
        "J5" => (
            "categorical",
            vec![("logits", lin(-2.0, 2.0, 10))],
            "dot(x, [0,1,2,3,4,5,6,7,8,9])",
            Estimator::ScoreFunction {
                baseline: Baseline::None,
            },
            5_000_000,
        ),
        _ => (
            "categorical",
            vec![("logits", lin(-2.0, 2.0, 10))],
            "dot(x, [0,1,2,3,4,5,6,7,8,9])",
            Estimator::GumbelSoftmax {
                temperature: 0.5,
                hard: false,
            },
            5_000_000,
        ),
    };
    let input: ParamInput = params
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Vector(v.clone())))
        .collect();
    let dist =
        distributions::build(distributions::family(family).unwrap(), &input, 10_000).unwrap();
    let objective = compile_objective(f, dist.as_ref(), &ParseLimits::default(), 1 << 22).unwrap();
    let job = Job {
        distribution: dist,
        objective,
        estimator: est,
        samples: n,
        seed: 1,
        on_non_finite: NonFinitePolicy::Error,
        sampling: gradest::estimation::Sampling::Iid,
        max_outcomes: 10,
    };
    let (c, p) = (AtomicBool::new(false), AtomicU64::new(0));
    let t = std::time::Instant::now();
    let controls = Controls {
        cancel: &c,
        deadline: None,
        progress: &p,
    };
    let e = run_with_threads(&job, &controls, 1).unwrap();
    println!(
        "{which}: {:.4e} samples/s, chunks {}, first gradient entries {:?}",
        n as f64 / t.elapsed().as_secs_f64(),
        e.diagnostics.chunks,
        &e.gradient[..2]
    );
}

use std::sync::atomic::{AtomicBool, AtomicU64};

use gradest::estimation::distributions::{self, ParamInput, ParamValue};
use gradest::estimation::objective::{Binding, ParseLimits, Program, parse};
use gradest::estimation::{Baseline, Controls, Estimator, Job, NonFinitePolicy, run};

fn job(obj: &str, est: Estimator, n: u64) -> Job {
    let mut input = ParamInput::new();
    input.insert("loc".into(), ParamValue::Vector(vec![0.5]));
    input.insert("scale".into(), ParamValue::Vector(vec![1.2]));
    let dist = distributions::build(distributions::family("normal").unwrap(), &input, 100).unwrap();
    let expr = parse(obj, &ParseLimits::default()).unwrap();
    let bindings = vec![
        Binding {
            name: "loc".into(),
            values: vec![0.5],
            grad_offset: Some(0),
        },
        Binding {
            name: "scale".into(),
            values: vec![1.2],
            grad_offset: Some(1),
        },
    ];
    let prog = Program::compile(&expr, 1, &bindings, 2, 1 << 20).unwrap();
    Job {
        distribution: dist,
        objective: prog,
        estimator: est,
        samples: n,
        seed: 7,
        on_non_finite: NonFinitePolicy::Error,
        max_outcomes: 1000,
    }
}

#[test]
fn smoke() {
    let cancel = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    let c = Controls {
        cancel: &cancel,
        deadline: None,
        progress: &progress,
    };
    for est in [
        Estimator::Reparameterization,
        Estimator::ScoreFunction {
            baseline: Baseline::None,
        },
        Estimator::ScoreFunction {
            baseline: Baseline::LeaveOneOut,
        },
        Estimator::ScoreFunction {
            baseline: Baseline::Optimal,
        },
    ] {
        let t = std::time::Instant::now();
        let e = run(&job("(x-3)^2", est, 10_000_000), &c).unwrap();
        println!(
            "{:?} {:?} {:?} {:?} chunks={} {:?}",
            est,
            e.gradient,
            e.std_error,
            e.variance,
            e.diagnostics.chunks,
            t.elapsed()
        );
    }
}

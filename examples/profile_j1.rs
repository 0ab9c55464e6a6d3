use std::sync::atomic::{AtomicBool, AtomicU64};
use gradest::estimation::distributions::{self, ParamInput, ParamValue};
use gradest::estimation::objective::ParseLimits;
use gradest::estimation::{Baseline, Controls, Estimator, Job, NonFinitePolicy, compile_objective, run};
fn main() {
    let which = std::env::args().nth(1).unwrap_or("reparam".into());
    let mut input = ParamInput::new();
    input.insert("loc".into(), ParamValue::Vector(vec![0.5]));
    input.insert("scale".into(), ParamValue::Vector(vec![1.2]));
    let dist = distributions::build(distributions::family("normal").unwrap(), &input, 100).unwrap();
    let objective = compile_objective("(x-3)^2", dist.as_ref(), &ParseLimits::default(), 1 << 22).unwrap();
    let est = if which == "reparam" { Estimator::Reparameterization } else { Estimator::ScoreFunction { baseline: Baseline::None } };
    let job = Job { distribution: dist, objective, estimator: est, samples: 100_000_000, seed: 1, on_non_finite: NonFinitePolicy::Error, max_outcomes: 10 };
    let (c, p) = (AtomicBool::new(false), AtomicU64::new(0));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let t = std::time::Instant::now();
    let e = pool.install(|| run(&job, &Controls { cancel: &c, deadline: None, progress: &p }).unwrap());
    println!("{:?} {:?} {:.3e}/s", e.gradient, t.elapsed(), 1e8 / t.elapsed().as_secs_f64());
}

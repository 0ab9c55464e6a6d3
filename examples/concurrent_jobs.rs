//! How concurrent jobs share the cores: runs J2 (normal, score function,
//! N = 2e7) alone on every core, then two copies at once from two
//! threads (as two HTTP requests would), and prints the wall times.
//! `cargo run --release --example concurrent_jobs`
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use gradest::estimation::distributions::{self, ParamInput, ParamValue};
use gradest::estimation::objective::ParseLimits;
use gradest::estimation::{
    Baseline, Controls, Estimator, Job, NonFinitePolicy, compile_objective, run,
};

fn job() -> Job {
    let input: ParamInput = [("loc", 0.5), ("scale", 1.2)]
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Vector(vec![*v])))
        .collect();
    let dist = distributions::build(distributions::family("normal").unwrap(), &input, 1).unwrap();
    let objective =
        compile_objective("(x-3)^2", dist.as_ref(), &ParseLimits::default(), 1 << 20).unwrap();
    Job {
        distribution: dist,
        objective,
        estimator: Estimator::ScoreFunction {
            baseline: Baseline::None,
        },
        samples: 20_000_000,
        seed: 1,
        on_non_finite: NonFinitePolicy::Error,
        sampling: gradest::estimation::Sampling::Iid,
        max_outcomes: 1,
    }
}

fn timed(j: &Job) -> f64 {
    let (c, p) = (AtomicBool::new(false), AtomicU64::new(0));
    let t = Instant::now();
    run(
        j,
        &Controls {
            cancel: &c,
            deadline: None,
            progress: &p,
        },
    )
    .unwrap();
    t.elapsed().as_secs_f64()
}

fn main() {
    let j = job();
    timed(&j);
    let alone = timed(&j);
    let t = Instant::now();
    let (a, b) = std::thread::scope(|s| {
        let h1 = s.spawn(|| timed(&j));
        let h2 = s.spawn(|| timed(&j));
        (h1.join().unwrap(), h2.join().unwrap())
    });
    let both = t.elapsed().as_secs_f64();
    println!(
        "threads per job: {}; one job alone: {alone:.3} s; two at once: {a:.3} s and {b:.3} s, both done after {both:.3} s ({:.2}× the time of one)",
        gradest::estimation::runner::default_threads(),
        both / alone
    );
}

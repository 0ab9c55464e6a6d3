//! Criterion benchmarks of gradest's estimation core: the jobs J1–J6 of the
//! performance plan (and R0, the cost of the random numbers alone), single-threaded
//! and on every core. `benches/peer/run.sh` runs the same work in numpy.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gradest::estimation::distributions::{self, ParamInput, ParamValue};
use gradest::estimation::normal_batch;
use gradest::estimation::objective::ParseLimits;
use gradest::estimation::runner::run_with_threads;
use gradest::estimation::{Baseline, Controls, Estimator, Job, NonFinitePolicy, compile_objective};

fn job(
    family: &str,
    params: &[(&str, Vec<f64>)],
    objective: &str,
    estimator: Estimator,
    samples: u64,
) -> Job {
    let input: ParamInput = params
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Vector(v.clone())))
        .collect();
    let dist =
        distributions::build(distributions::family(family).unwrap(), &input, 10_000).unwrap();
    let objective =
        compile_objective(objective, dist.as_ref(), &ParseLimits::default(), 1 << 22).unwrap();
    Job {
        distribution: dist,
        objective,
        estimator,
        samples,
        seed: 42,
        on_non_finite: NonFinitePolicy::Error,
        sampling: gradest::estimation::Sampling::Iid,
        max_outcomes: 65_536,
    }
}

fn jobs() -> Vec<(&'static str, Job)> {
    let normal1 = [("loc", vec![0.5]), ("scale", vec![1.2])];
    let lin: Vec<f64> = (0..100).map(|i| -1.0 + 2.0 * f64::from(i) / 99.0).collect();
    let normal100 = [("loc", lin), ("scale", vec![1.0; 100])];
    let cat10 = [(
        "logits",
        (0..10)
            .map(|i| -2.0 + 4.0 * f64::from(i) / 9.0)
            .collect::<Vec<f64>>(),
    )];
    vec![
        (
            "J1_reparam_d1",
            job(
                "normal",
                &normal1,
                "(x-3)^2",
                Estimator::Reparameterization,
                10_000_000,
            ),
        ),
        (
            "J2_score_none_d1",
            job(
                "normal",
                &normal1,
                "(x-3)^2",
                Estimator::ScoreFunction {
                    baseline: Baseline::None,
                },
                10_000_000,
            ),
        ),
        (
            "J3_score_loo_d1",
            job(
                "normal",
                &normal1,
                "(x-3)^2",
                Estimator::ScoreFunction {
                    baseline: Baseline::LeaveOneOut,
                },
                10_000_000,
            ),
        ),
        (
            "J4_reparam_d100",
            job(
                "normal",
                &normal100,
                "sum(cos(x))",
                Estimator::Reparameterization,
                100_000,
            ),
        ),
        (
            "J5_categorical_score_k10",
            job(
                "categorical",
                &cat10,
                "dot(x, [0,1,2,3,4,5,6,7,8,9])",
                Estimator::ScoreFunction {
                    baseline: Baseline::None,
                },
                1_000_000,
            ),
        ),
        (
            "J6_categorical_gumbel_softmax_k10",
            job(
                "categorical",
                &cat10,
                "dot(x, [0,1,2,3,4,5,6,7,8,9])",
                Estimator::GumbelSoftmax {
                    temperature: 0.5,
                    hard: false,
                },
                1_000_000,
            ),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let threads: Vec<usize> = match std::env::var("GRADEST_BENCH_THREADS") {
        Ok(s) => s.split(',').filter_map(|t| t.trim().parse().ok()).collect(),
        Err(_) => vec![1, 2],
    };
    let mut group = c.benchmark_group("estimate");
    group.sample_size(10);
    for &t in &threads {
        group.throughput(Throughput::Elements(10_000_000));
        group.bench_function(format!("R0_normals/threads={t}"), |b| {
            b.iter(|| {
                // 1e7 normals in chunks of 65,536 from per-chunk streams, as the
                // runner draws them, on t threads.
                let chunks = 10_000_000usize.div_ceil(65_536);
                let draw = |ci: usize| {
                    let mut rng = gradest::estimation::rng::chunk_rng(0, ci as u64);
                    let mut left = (10_000_000 - ci * 65_536).min(65_536);
                    let mut buf = vec![0.0; 1024];
                    let mut acc = 0.0;
                    while left > 0 {
                        let m = left.min(1024);
                        normal_batch(&mut rng, &mut buf[..m]);
                        acc += buf[..m].iter().sum::<f64>();
                        left -= m;
                    }
                    acc
                };
                std::thread::scope(|s| {
                    let hs: Vec<_> = (0..t)
                        .map(|k| s.spawn(move || (k..chunks).step_by(t).map(draw).sum::<f64>()))
                        .collect();
                    black_box(hs.into_iter().map(|h| h.join().unwrap()).sum::<f64>())
                })
            })
        });
        for (name, j) in jobs() {
            let cancel = AtomicBool::new(false);
            let progress = AtomicU64::new(0);
            group.throughput(Throughput::Elements(j.samples));
            group.bench_function(format!("{name}/threads={t}"), |b| {
                b.iter(|| {
                    let controls = Controls {
                        cancel: &cancel,
                        deadline: None,
                        progress: &progress,
                    };
                    black_box(run_with_threads(&j, &controls, t).unwrap())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

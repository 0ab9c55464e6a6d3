//! The same gradest job and seed give bit-identical results whatever the number of
//! threads; a different seed gives a different result.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64};

use common::*;
use gradest::estimation::Controls;
use gradest::estimation::Estimate;
use gradest::estimation::runner::run_with_threads;
use gradest::estimation::{Baseline, Estimator, Job, NonFinitePolicy};

/// Every number of a result that depends on the samples, as f64 bits.
fn fingerprint(e: &Estimate) -> Vec<u64> {
    let d = &e.diagnostics;
    let mut v: Vec<f64> = Vec::new();
    v.extend(&e.gradient);
    v.extend(&e.variance);
    v.extend(&e.std_error);
    v.extend([
        e.objective.mean,
        e.objective.variance,
        e.objective.std_error,
    ]);
    v.extend(&d.sample_mean);
    v.extend(&d.sample_variance);
    v.extend(d.baseline.iter().flatten());
    v.push(d.non_finite as f64);
    v.push(d.chunks as f64);
    v.iter().map(|x| x.to_bits()).collect()
}

fn run_on(threads: usize, job: &Job) -> Estimate {
    let cancel = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    let controls = Controls {
        cancel: &cancel,
        deadline: None,
        progress: &progress,
    };
    run_with_threads(job, &controls, threads).expect("the run succeeds")
}

fn jobs() -> Vec<(String, Job)> {
    let mut out = Vec::new();
    // 300,000 samples make at least 32 chunks, so every pool really splits the work.
    for (name, est) in unbiased_estimators() {
        out.push((
            format!("normal, {name}"),
            normal_job(
                &[0.5, -1.0],
                &[1.0, 2.0],
                "sum(cos(0.8 * x)) + dot(loc, x)",
                est,
                300_000,
                42,
            ),
        ));
        out.push((
            format!("multivariate_normal, {name}"),
            mvn_job(
                &[0.2, -0.5, 1.0],
                &[
                    vec![1.0, 0.0, 0.0],
                    vec![0.5, 1.2, 0.0],
                    vec![-0.3, 0.4, 0.8],
                ],
                "sum(x^2) + logsumexp(x)",
                est,
                300_000,
                42,
            ),
        ));
    }
    // Dropped samples too: log(x) is NaN for x < 0.
    let mut skip = normal_job(
        &[0.5, 1.0],
        &[1.0, 1.0],
        "sum(log(x))",
        Estimator::ScoreFunction {
            baseline: Baseline::Optimal,
        },
        300_000,
        42,
    );
    skip.on_non_finite = NonFinitePolicy::Skip;
    out.push(("normal, skipping non-finite samples".to_string(), skip));
    out
}

#[test]
fn same_seed_gives_bit_identical_results_on_1_2_and_3_threads() {
    for (name, job) in jobs() {
        let one = run_on(1, &job);
        assert_eq!(one.diagnostics.seed, 42, "{name}: the seed is reported");
        let reference = fingerprint(&one);
        for threads in [2, 3, 1] {
            let again = run_on(threads, &job);
            assert!(
                fingerprint(&again) == reference,
                "{name}: {threads} threads differ from 1 thread\n{:?}\n{:?}",
                again.gradient,
                one.gradient
            );
        }
    }
}

#[test]
fn a_different_seed_gives_a_different_result() {
    for (name, mut job) in jobs() {
        let first = run_on(2, &job);
        job.seed = 43;
        let second = run_on(2, &job);
        assert_eq!(second.diagnostics.seed, 43);
        for (k, (a, b)) in first.gradient.iter().zip(&second.gradient).enumerate() {
            // Components that are exactly determined (zero std_error) may agree.
            if first.std_error[k] > 0.0 {
                assert_ne!(
                    a.to_bits(),
                    b.to_bits(),
                    "{name}: component {k} did not change"
                );
            }
        }
        assert_ne!(
            first.objective.mean.to_bits(),
            second.objective.mean.to_bits(),
            "{name}"
        );
    }
}

/// The chunking, and so the result, depends on the job alone: an odd N that does
/// not divide into chunks evenly, on pools of different sizes.
#[test]
fn uneven_chunks_are_reproducible_too() {
    for n in [2, 3, 63, 65, 1_000_003] {
        let job = normal_job(
            &[0.5],
            &[1.2],
            "sum((x - 3)^2)",
            Estimator::ScoreFunction {
                baseline: Baseline::LeaveOneOut,
            },
            n,
            7,
        );
        let a = fingerprint(&run_on(1, &job));
        let b = fingerprint(&run_on(3, &job));
        assert!(a == b, "N = {n}");
    }
}

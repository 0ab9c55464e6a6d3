//! gradest's runner stops when told to, stops at its deadline, and reports progress.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use gradest::estimation::RunError;
use gradest::estimation::runner::Plan;
use gradest::estimation::{Baseline, Controls, Estimator, run};

fn estimators() -> Vec<Estimator> {
    unbiased_estimators().into_iter().map(|(_, e)| e).collect()
}

#[test]
fn a_cancel_flag_set_before_the_run_cancels_it() {
    for est in estimators() {
        let job = normal_job(&[0.5], &[1.0], "sum(x^2)", est, 1_000_000, 1);
        let cancel = AtomicBool::new(true);
        let progress = AtomicU64::new(0);
        let controls = Controls {
            cancel: &cancel,
            deadline: None,
            progress: &progress,
        };
        assert_eq!(run(&job, &controls), Err(RunError::Cancelled), "{est:?}");
        assert_eq!(
            progress.load(Ordering::Relaxed),
            0,
            "{est:?}: no sample was drawn"
        );
    }
}

#[test]
fn a_deadline_in_the_past_stops_the_run() {
    for est in estimators() {
        let job = normal_job(&[0.5], &[1.0], "sum(x^2)", est, 1_000_000, 1);
        let cancel = AtomicBool::new(false);
        let progress = AtomicU64::new(0);
        let past = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        let controls = Controls {
            cancel: &cancel,
            deadline: Some(past),
            progress: &progress,
        };
        assert_eq!(
            run(&job, &controls),
            Err(RunError::DeadlineExceeded {
                done: 0,
                total: 1_000_000
            }),
            "{est:?}"
        );
    }
}

/// A job far too large to finish (1e10 samples, minutes even in release) is
/// refused soon after its pilot (5% of a 1 s budget, at least 50 ms) with the
/// projection that condemns it, not at the deadline; within 11 s on a loaded
/// machine, having drawn part of N.
#[test]
fn a_run_that_cannot_finish_stops_after_its_pilot_with_a_projection() {
    let job = normal_job(
        &[0.5],
        &[1.0],
        "sum(x^2)",
        Estimator::Reparameterization,
        10_000_000_000,
        1,
    );
    let cancel = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    let started = Instant::now();
    let controls = Controls {
        cancel: &cancel,
        deadline: Some(started + Duration::from_secs(1)),
        progress: &progress,
    };
    let result = run(&job, &controls);
    let elapsed = started.elapsed();
    match result {
        Err(RunError::BeyondBudget {
            done,
            total,
            pilot_secs,
            projected_secs,
            budget_secs,
        }) => {
            assert_eq!(total, 10_000_000_000);
            assert!(done > 0 && done < total, "done = {done}");
            assert!(done <= progress.load(Ordering::Relaxed));
            assert!(pilot_secs >= 0.05, "pilot {pilot_secs} s");
            assert!(
                projected_secs > 1.1 * budget_secs,
                "{projected_secs} s for {budget_secs} s"
            );
        }
        other => panic!("expected BeyondBudget, got {other:?}"),
    }
    assert!(
        elapsed < Duration::from_secs(11),
        "stopped only after {elapsed:?}"
    );
}

/// Cancelling from another thread while the run is under way stops it.
#[test]
fn cancelling_during_the_run_stops_it_promptly() {
    let job = normal_job(
        &[0.5, 1.0],
        &[1.0, 2.0],
        "sum(x^2)",
        Estimator::ScoreFunction {
            baseline: Baseline::Optimal,
        },
        100_000_000_000,
        1,
    );
    let cancel = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    let controls = Controls {
        cancel: &cancel,
        deadline: None,
        progress: &progress,
    };
    let (result, cancelled_at) = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            while progress.load(Ordering::Relaxed) < 100_000 {
                std::thread::sleep(Duration::from_millis(1));
            }
            cancel.store(true, Ordering::Relaxed);
            Instant::now()
        });
        let result = run(&job, &controls);
        (result, watcher.join().expect("the watcher"))
    });
    assert_eq!(result, Err(RunError::Cancelled));
    let lag = cancelled_at.elapsed();
    assert!(
        lag < Duration::from_secs(10),
        "stopped {lag:?} after the cancel"
    );
    assert!(progress.load(Ordering::Relaxed) < 100_000_000_000);
}

#[test]
fn progress_equals_n_after_a_run() {
    for n in [2, 3, 64, 1001, 250_007] {
        for est in estimators() {
            let job = normal_job(&[0.5, -1.0], &[1.0, 2.0], "sum(x^2)", est, n, 3);
            let cancel = AtomicBool::new(false);
            let progress = AtomicU64::new(0);
            let controls = Controls {
                cancel: &cancel,
                deadline: None,
                progress: &progress,
            };
            let e = run(&job, &controls).expect("the run");
            assert_eq!(progress.load(Ordering::Relaxed), n, "N = {n}, {est:?}");
            assert_eq!(e.diagnostics.samples, n);
            assert!(e.gradient.iter().all(|g| g.is_finite()), "N = {n}, {est:?}");
        }
    }
}

/// With a single chunk there is nothing to cross-fit the optimal baseline from:
/// the run says so instead of fitting it on the samples it is applied to.
#[test]
fn too_few_samples_to_cross_fit_is_a_warning() {
    let e = run_ok(&normal_job(
        &[0.5],
        &[1.0],
        "sum(x^2)",
        Estimator::ScoreFunction {
            baseline: Baseline::Optimal,
        },
        3,
        1,
    ));
    assert_eq!(e.diagnostics.chunks, 1);
    assert!(
        e.diagnostics
            .warnings
            .iter()
            .any(|w| w.contains("cross-fit")),
        "{:?}",
        e.diagnostics.warnings
    );
    assert_eq!(e.diagnostics.baseline, Some(vec![0.0; 2]));
}

// Memory independent of N: see also `memory.rs`.

/// The runner's bound on (numbers kept per chunk summary) × (chunks).
const SUMMARY_BUDGET: usize = 1 << 23;

#[test]
fn the_plan_keeps_chunks_and_batches_bounded_whatever_n() {
    // The fewest chunks the runner plans when N allows (batch means need ≥ 30):
    // what it plans for a cheap job with a small N.
    let min_chunks = Plan::new(10_000, 1, 1).chunks;
    assert!((30..=1024).contains(&min_chunks), "{min_chunks}");
    // A summary as large as the whole budget still gets two chunks (and a warning).
    assert_eq!(Plan::new(u64::MAX / 2, 1 << 20, SUMMARY_BUDGET).chunks, 2);
    for (per_sample, summary) in [
        (1, 1),
        (36, 15),
        (300, 600),
        (5_000, 60_000),
        (1 << 20, 1 << 22),
    ] {
        // The memory budget binds, down to two chunks.
        let cap = (SUMMARY_BUDGET / summary).max(2);
        let mut last = 0;
        for n in [
            2,
            3,
            64,
            1_000,
            1_000_000,
            1_000_000_000,
            1_000_000_000_000,
            u64::MAX / 2,
        ] {
            let plan = Plan::new(n, per_sample, summary);
            let label = format!("N = {n}, per_sample = {per_sample}, summary = {summary}");
            assert!(
                plan.chunks >= 1 && plan.chunks <= cap,
                "{label}: {} chunks",
                plan.chunks
            );
            assert!(plan.chunks >= last, "{label}: fewer chunks for a larger N");
            last = plan.chunks;
            assert!(
                (2..=1024).contains(&plan.batch),
                "{label}: batch {}",
                plan.batch
            );
            // The chunks hold exactly N samples.
            let total = u128::from(plan.base) * plan.chunks as u128 + plan.extra as u128;
            assert_eq!(total, u128::from(n), "{label}");
            assert!(plan.extra < plan.chunks, "{label}");
            assert_eq!(
                (0..plan.chunks)
                    .map(|c| u128::from(plan.chunk_len(c)))
                    .sum::<u128>(),
                u128::from(n),
                "{label}"
            );
            // Enough chunks for batch means whenever N allows, each of ≥ 2 samples.
            if n >= 2 * min_chunks as u64 && SUMMARY_BUDGET / summary >= min_chunks {
                assert!(
                    plan.chunks >= min_chunks,
                    "{label}: only {} chunks",
                    plan.chunks
                );
            }
            if n >= 2 {
                assert!(plan.chunk_len(plan.chunks - 1) >= 1, "{label}");
            }
        }
        // Saturated: N = 2^62 and N = 2^63 plan the same number of chunks.
        assert_eq!(
            Plan::new(u64::MAX / 4, per_sample, summary).chunks,
            Plan::new(u64::MAX / 2, per_sample, summary).chunks,
            "per_sample = {per_sample}, summary = {summary}"
        );
    }
    // The shape of a typical job (d = 1, P = 2): at most 2^23/15 chunks.
    assert!(Plan::new(1_000_000_000, 36, 15).chunks <= SUMMARY_BUDGET / 15);
}

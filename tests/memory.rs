//! gradest's memory does not grow with N: the plan keeps the number of chunks (and
//! so of chunk summaries) bounded, batches are bounded, and samples are streamed.
//!
//! This file holds only the memory tests, so the process's peak RSS is theirs (the
//! plan's bounds are checked in `run_controls.rs`).

mod common;

use std::time::Instant;

use common::*;
use gradest::estimation::{Baseline, Estimator};

/// Peak resident memory of this process, from /proc/self/status (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A cheap form of the N = 1e9 test below that CI runs: 2e7 samples raise the
/// peak by less than 20 MB over a 1e5-sample run (storing the samples would take
/// 160 MB, their per-sample terms 320 MB more).
#[test]
fn peak_memory_does_not_grow_with_n() {
    let Some(_) = peak_rss_mb() else {
        eprintln!("no /proc/self/status: skipped");
        return;
    };
    let est = Estimator::ScoreFunction {
        baseline: Baseline::Optimal,
    };
    run_ok(&normal_job(
        &[0.5],
        &[1.2],
        "sum((x - 3)^2)",
        est,
        100_000,
        1,
    ));
    let before = peak_rss_mb().unwrap();
    let e = run_ok(&normal_job(
        &[0.5],
        &[1.2],
        "sum((x - 3)^2)",
        est,
        20_000_000,
        1,
    ));
    let after = peak_rss_mb().unwrap();
    assert!(e.gradient.iter().all(|g| g.is_finite()));
    println!("peak RSS {before:.1} MB after N = 1e5, {after:.1} MB after N = 2e7");
    assert!(
        after - before < 20.0,
        "peak RSS grew from {before:.1} MB to {after:.1} MB"
    );
}

/// N = 1e9 in well under 50 MB. Slow (seconds in release, minutes in debug):
/// `cargo test --release --test memory -- --ignored --nocapture`.
#[test]
#[ignore = "draws 1e9 samples; run in release"]
fn a_billion_samples_in_under_50_mb() {
    let n = 1_000_000_000;
    let started = Instant::now();
    let e = run_ok(&normal_job(
        &[0.5],
        &[1.2],
        "sum((x - 3)^2)",
        Estimator::Reparameterization,
        n,
        1,
    ));
    let elapsed = started.elapsed();
    let peak = peak_rss_mb().expect("/proc/self/status");
    println!(
        "N = {n}: {elapsed:?}, {} chunks, peak RSS {peak:.1} MB, gradient {:?} ± {:?}",
        e.diagnostics.chunks, e.gradient, e.std_error
    );
    assert_eq!(e.diagnostics.samples, n);
    // ∇μ = 2(μ − 3) = −5, ∇σ = 2σ = 2.4 (false alarm ≤ 9.0e-5 per component).
    assert_gradient("N = 1e9", &e, &[-5.0, 2.4]);
    assert!(peak < 50.0, "peak RSS {peak:.1} MB");
}

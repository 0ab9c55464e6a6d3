//! A job's result is a function of its chunk summaries alone: a run resumed
//! from saved summaries, and the merge of partial runs over ranges of chunks,
//! give the same bits as the job run in one go, for every kind of estimator;
//! summaries that do not fit are refused, naming what is wrong.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use common::*;
use gradest::estimation::runner::{
    ChunkGate, ChunkSummary, Hooks, merge_partials, run_partial, run_with,
};
use gradest::estimation::{Baseline, Controls, Estimate, Estimator, Job, RunError, Sampling};

/// Every number of a result that depends on the samples, as f64 bits.
fn bits(e: &Estimate) -> Vec<u64> {
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
    v.extend(d.control_variate.iter().flat_map(|c| c.coefficient.clone()));
    v.push(d.non_finite as f64);
    v.push(d.chunks as f64);
    v.iter().map(|x| x.to_bits()).collect()
}

fn with_controls<T>(f: impl FnOnce(&Controls<'_>) -> T) -> T {
    let cancel = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    f(&Controls {
        cancel: &cancel,
        deadline: None,
        progress: &progress,
    })
}

/// The jobs: every estimator family of code paths (cross-fitted baselines and
/// control variates included, whose coefficients read every chunk).
fn jobs() -> Vec<(&'static str, Job)> {
    let f = "sum(cos(0.8 * x)) + dot(loc, x)";
    let sf = |baseline| Estimator::ScoreFunction { baseline };
    let mut rqmc = normal_job(
        &[0.5],
        &[1.0],
        "cos(x)",
        Estimator::Reparameterization,
        20_000,
        3,
    );
    rqmc.sampling = Sampling::Rqmc;
    vec![
        (
            "pathwise",
            normal_job(
                &[0.5, -1.0],
                &[1.0, 2.0],
                f,
                Estimator::Reparameterization,
                50_000,
                1,
            ),
        ),
        (
            "score, optimal",
            normal_job(
                &[0.5, -1.0],
                &[1.0, 2.0],
                f,
                sf(Baseline::Optimal),
                50_000,
                2,
            ),
        ),
        (
            "score, leave-one-out",
            normal_job(&[0.5], &[1.0], "x^2", sf(Baseline::LeaveOneOut), 30_000, 4),
        ),
        ("rqmc", rqmc),
        (
            "categorical, gumbel-softmax",
            job(
                "categorical",
                &params(&[("logits", vec![0.3, -0.2, 1.0])]),
                "dot(x, [1, 2, 3])^2",
                Estimator::GumbelSoftmax {
                    temperature: 0.5,
                    hard: false,
                },
                30_000,
                5,
            ),
        ),
    ]
}

fn whole(job: &Job) -> Estimate {
    with_controls(|c| run_with(job, c, &Hooks::threads(2))).expect("the run succeeds")
}

/// Every chunk's summary, collected through the sink of a whole run.
fn summaries_of(job: &Job) -> (Estimate, Vec<ChunkSummary>) {
    let seen = Mutex::new(Vec::new());
    let sink = |s: &ChunkSummary| seen.lock().unwrap().push(s.clone());
    let hooks = Hooks {
        on_chunk: Some(&sink),
        ..Hooks::threads(2)
    };
    let e = with_controls(|c| run_with(job, c, &hooks)).expect("the run succeeds");
    let mut all = seen.into_inner().unwrap();
    all.sort_by_key(|s| s.chunk);
    (e, all)
}

#[test]
fn a_run_resumed_from_saved_chunks_gives_the_same_bits() {
    for (name, job) in jobs() {
        let (e, all) = summaries_of(&job);
        assert_eq!(
            all.len(),
            e.diagnostics.chunks,
            "{name}: the sink saw every chunk"
        );
        // Saved through their byte encoding, as a checkpoint is; every other one kept.
        let saved: Vec<ChunkSummary> = all
            .iter()
            .step_by(2)
            .map(|s| ChunkSummary::from_bytes(&s.to_bytes()).unwrap())
            .collect();
        let ran = AtomicUsize::new(0);
        let count = |_: &ChunkSummary| {
            ran.fetch_add(1, Ordering::Relaxed);
        };
        let hooks = Hooks {
            done: &saved,
            on_chunk: Some(&count),
            ..Hooks::threads(1)
        };
        let resumed = with_controls(|c| run_with(&job, c, &hooks)).unwrap();
        assert_eq!(bits(&resumed), bits(&e), "{name}");
        assert_eq!(bits(&resumed), bits(&whole(&job)), "{name}");
        assert_eq!(
            ran.into_inner(),
            all.len() - saved.len(),
            "{name}: only the missing chunks ran"
        );
    }
}

#[test]
fn partial_ranges_merged_give_the_same_bits() {
    for (name, job) in jobs() {
        let e = whole(&job);
        let chunks = e.diagnostics.chunks;
        // Four uneven ranges, run in reverse order on different thread counts.
        let cuts = [0, 1, chunks / 3, chunks - 2, chunks];
        let mut parts = Vec::new();
        for w in cuts.windows(2).rev() {
            let p = with_controls(|c| {
                run_partial(&job, c, &Hooks::threads(w[0] % 2 + 1), w[0], w[1] - w[0])
            })
            .unwrap();
            assert_eq!(p.chunks, chunks);
            assert_eq!(p.summaries.len(), w[1] - w[0]);
            parts.extend(p.summaries);
        }
        let merged = merge_partials(&job, &parts, 0.0).unwrap();
        assert_eq!(bits(&merged), bits(&e), "{name}");
    }
}

fn summaries_error(r: Result<Estimate, RunError>) -> String {
    match r {
        Err(RunError::Summaries(why)) => why,
        other => panic!("expected a summaries error, got {other:?}"),
    }
}

#[test]
fn summaries_that_do_not_fit_are_refused() {
    let (_, job) = jobs().remove(0);
    let (_, all) = summaries_of(&job);
    let missing = summaries_error(merge_partials(&job, &all[1..], 0.0));
    assert!(missing.contains("chunk 0 is missing"), "{missing}");
    let mut twice = all.clone();
    twice.push(all[3].clone());
    assert!(summaries_error(merge_partials(&job, &twice, 0.0)).contains("chunk 3 is given twice"));
    // A summary of another job (other dimensions, other chunk sizes).
    let other = normal_job(&[0.0], &[1.0], "x", Estimator::Reparameterization, 1_000, 1);
    let (_, foreign) = summaries_of(&other);
    let why = summaries_error(merge_partials(&job, &foreign, 0.0));
    assert!(
        why.contains("coordinates") || why.contains("samples"),
        "{why}"
    );
    let beyond = with_controls(|c| run_partial(&job, c, &Hooks::threads(1), all.len() - 1, 2));
    assert!(
        matches!(beyond, Err(RunError::Summaries(w)) if w.contains(&format!("0..{}", all.len())))
    );
    // The control: the right summaries, shuffled, merge.
    let mut shuffled = all.clone();
    shuffled.reverse();
    assert!(merge_partials(&job, &shuffled, 0.0).is_ok());
}

/// A gate that counts its entries and pauses and checks each entry is left.
#[derive(Default)]
struct Counting {
    inside: AtomicUsize,
    entered: AtomicUsize,
    pauses: AtomicUsize,
}

impl ChunkGate for Counting {
    fn enter(&self) {
        self.entered.fetch_add(1, Ordering::SeqCst);
        self.inside.fetch_add(1, Ordering::SeqCst);
    }
    fn pause(&self) {
        assert!(
            self.inside.load(Ordering::SeqCst) > 0,
            "a pause happens inside the gate"
        );
        self.pauses.fetch_add(1, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn every_chunk_passes_the_gate_and_the_bits_do_not_change() {
    let (_, job) = jobs().remove(1);
    let gate = Counting::default();
    let hooks = Hooks {
        gate: &gate,
        ..Hooks::threads(2)
    };
    let e = with_controls(|c| run_with(&job, c, &hooks)).unwrap();
    let entered = gate.entered.load(Ordering::SeqCst);
    let pauses = gate.pauses.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&entered),
        "each thread entered once: {entered}"
    );
    assert!(
        pauses >= e.diagnostics.chunks,
        "a pause before every batch: {pauses} for {} chunks",
        e.diagnostics.chunks
    );
    assert_eq!(
        gate.inside.load(Ordering::SeqCst),
        0,
        "every entry was left"
    );
    assert_eq!(bits(&e), bits(&whole(&job)));
}

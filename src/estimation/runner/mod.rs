//! Runs a job: N is split into chunks that depend only on the job (never on the
//! number of threads); chunk c draws from its own stream ([`chunk_rng`]); chunks run in parallel on the job's own
//! threads and their summaries are merged in chunk order. So the same job and seed give
//! bit-identical results on any machine and any number of threads, and memory
//! does not grow with N.
//!
//! Within a chunk, samples are drawn and evaluated in batches (a few hundred to a
//! few thousand numbers), so the objective is interpreted once per batch, and the
//! hot loop neither allocates nor locks. Cancellation and progress are checked
//! between batches, the deadline between batches at least once per batch's
//! worth of samples.
//!
//! Standard errors come from batch means over the chunks (at least 64 whenever
//! N ≥ 128), which stay honest when terms within a chunk are correlated
//! (leave-one-out and cross-fitted baselines).

//!
//! The stages, one file each, imported one way (this file uses them all; `chunk`
//! uses `plan`; `merge` reads `chunk`'s summaries; `warnings` reads `merge`'s):
//! [`plan`] (chunks, batches, threads), [`chunk_rng`] (each chunk's stream, from [`crate::estimation::rng`]),
//! `chunk` (one chunk's batches through the estimator's
//! [`Sampler`], summarised), `merge`
//! (the ordered merge, the cross-fitted optimal baseline, batch means) and
//! `warnings` (the result's warnings).

mod chunk;
mod hooks;
mod merge;
pub mod plan;
mod summary;
mod warnings;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

pub use crate::estimation::job::{ChunkGate, Ungated};
pub use crate::estimation::rng::chunk_rng;
use chunk::{ChunkOut, Pace, Scratch, Summaries, Watch, run_chunk};
use hooks::Entered;
pub use hooks::Hooks;
use merge::Merged;
pub use plan::{Plan, default_threads};
pub use summary::{ChunkSummary, Malformed};

use super::distributions::{Distribution, grad_len};
use super::error::RunError;
use super::estimator::{Baseline, Estimator};
use super::estimators::exact::{self, Exact};
use super::estimators::{self, Sampler};
use super::job::{Controls, Job};
use super::result::{
    ControlVariateInfo, Diagnostics, Estimate, ParamLayout, Reference, SamplingReport, Summary,
};
use super::sampling::{self, RQMC_MAX_DIM, Sampling};
use super::stats::Moments;

/// Runs a job to completion on up to [`default_threads`] threads (blocking).
pub fn run(job: &Job, controls: &Controls<'_>) -> Result<Estimate, RunError> {
    run_with_threads(job, controls, default_threads())
}

/// Runs a job to completion on up to `threads` threads (blocking). The result
/// is bit-identical whatever `threads` is.
pub fn run_with_threads(
    job: &Job,
    controls: &Controls<'_>,
    threads: usize,
) -> Result<Estimate, RunError> {
    run_with(job, controls, &Hooks::threads(threads))
}

/// Runs a job to completion with `hooks` (blocking): the chunks not in
/// `hooks.done` run, and the result is the same bits as a run in one go.
///
/// The stages: the estimator must be one of the family's; enumeration gives the
/// exact estimator's result, or a sampled one's reference, where feasible; the
/// plan cuts N into chunks; the chunks run in parallel; their summaries are
/// merged in chunk order; warnings and diagnostics complete the result.
pub fn run_with(
    job: &Job,
    controls: &Controls<'_>,
    hooks: &Hooks<'_>,
) -> Result<Estimate, RunError> {
    let started = Instant::now();
    let sampled = match prepare(job)? {
        Prepared::Exact(exact) => {
            controls.progress.fetch_add(job.samples, Ordering::Relaxed);
            let elapsed = started.elapsed().as_secs_f64();
            return Ok(exact.into_estimate(layout(job.distribution.as_ref()), job.seed, elapsed));
        }
        Prepared::Sampled(sampled) => sampled,
    };
    let plan = &sampled.plan;
    check_summaries(job, plan, hooks.done, 0..plan.chunks)?;
    let todo = chunks_left(plan, 0..plan.chunks, hooks.done, controls);
    let summaries = run_chunks(job, &sampled, controls, hooks, &todo);
    let outs = in_chunk_order(&summaries, hooks.done)?;
    finish(job, &sampled, &outs, started.elapsed().as_secs_f64())
}

/// A range of a job's chunks, run by [`run_partial`]: their summaries, to be
/// merged with the others' by [`merge_partials`].
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    /// The job's number of chunks (its plan's, whatever the range).
    pub chunks: usize,
    /// The summaries of the range's chunks, in chunk order.
    pub summaries: Vec<ChunkSummary>,
    /// Seconds the range took.
    pub elapsed: f64,
}

/// Runs chunks `start..start + count` of a job (blocking), for a merge with
/// the other ranges' by [`merge_partials`]. A range beyond the plan's chunks
/// is a [`RunError::Summaries`] naming the job's count.
pub fn run_partial(
    job: &Job,
    controls: &Controls<'_>,
    hooks: &Hooks<'_>,
    start: usize,
    count: usize,
) -> Result<Partial, RunError> {
    let started = Instant::now();
    let Prepared::Sampled(sampled) = prepare(job)? else {
        return Err(RunError::Summaries(
            "the exact estimator enumerates; it has no chunks to run apart".into(),
        ));
    };
    let plan = &sampled.plan;
    let range = start..start.saturating_add(count);
    if count == 0 || range.end > plan.chunks {
        return Err(RunError::Summaries(format!(
            "chunks {start}..{} asked for, but the job has chunks 0..{}",
            range.end, plan.chunks
        )));
    }
    check_summaries(job, plan, hooks.done, range.clone())?;
    let todo = chunks_left(plan, range, hooks.done, controls);
    let summaries = run_chunks(job, &sampled, controls, hooks, &todo);
    let outs = in_chunk_order(&summaries, hooks.done)?;
    Ok(Partial {
        chunks: plan.chunks,
        summaries: outs.iter().map(|(c, o)| ChunkSummary::of(*c, o)).collect(),
        elapsed: started.elapsed().as_secs_f64(),
    })
}

/// The result of a job from the summaries of all its chunks, in any order
/// (each exactly once): the same bits as the job run in one go. `elapsed` is
/// the partial runs' time, reported as the result's.
pub fn merge_partials(
    job: &Job,
    summaries: &[ChunkSummary],
    elapsed: f64,
) -> Result<Estimate, RunError> {
    let Prepared::Sampled(sampled) = prepare(job)? else {
        return Err(RunError::Summaries(
            "the exact estimator enumerates; it has no chunks to merge".into(),
        ));
    };
    let plan = &sampled.plan;
    check_summaries(job, plan, summaries, 0..plan.chunks)?;
    if summaries.len() != plan.chunks {
        let mut have = vec![false; plan.chunks];
        for s in summaries {
            have[s.chunk] = true;
        }
        let missing = have.iter().position(|h| !h).unwrap_or(0);
        return Err(RunError::Summaries(format!(
            "{} of the job's {} chunks are given; chunk {missing} is missing",
            summaries.len(),
            plan.chunks
        )));
    }
    let outs = in_chunk_order(&[], summaries)?;
    finish(job, &sampled, &outs, elapsed)
}

/// A job's plan (`None` for the exact estimator, which enumerates): the
/// ranges a partial run may ask for are within its chunks.
pub fn plan_of(job: &Job) -> Result<Option<Plan>, RunError> {
    applies(job)?;
    let dist = job.distribution.as_ref();
    let Some(sampler) = estimators::sampler(&job.estimator, dist, &job.objective)? else {
        return Ok(None);
    };
    Ok(Some(Plan::for_job(job, sampler.aux_len()).0))
}

/// How many chunks a job's plan has (`None` for the exact estimator).
pub fn chunk_count(job: &Job) -> Result<Option<usize>, RunError> {
    Ok(plan_of(job)?.map(|p| p.chunks))
}

/// A job ready to sample, or the exact estimator's result.
enum Prepared<'j> {
    Exact(Exact),
    Sampled(Sampled<'j>),
}

/// What a sampled job's chunks and its merge need.
struct Sampled<'j> {
    sampler: Box<dyn Sampler + 'j>,
    plan: Plan,
    /// About how many numbers one sample touches (for the thread count).
    per_sample: usize,
    reference: Option<Reference>,
}

fn prepare(job: &Job) -> Result<Prepared<'_>, RunError> {
    applies(job)?;
    // Enumerated once: the exact estimator's result, or a sampled one's reference.
    let exact = exact::enumerate_if_feasible(job)?;
    let reference = exact.as_ref().map(Exact::reference);
    let dist = job.distribution.as_ref();
    let Some(sampler) = estimators::sampler(&job.estimator, dist, &job.objective)? else {
        return exact.map(Prepared::Exact).ok_or(RunError::ExactInfeasible);
    };
    let (plan, per_sample) = Plan::for_job(job, sampler.aux_len());
    sampling_applies(job, &plan)?;
    Ok(Prepared::Sampled(Sampled {
        sampler,
        plan,
        per_sample,
        reference,
    }))
}

/// The merge of a sampled job's chunks, its warnings and diagnostics.
fn finish(
    job: &Job,
    sampled: &Sampled<'_>,
    outs: &[(usize, ChunkOut<'_>)],
    elapsed: f64,
) -> Result<Estimate, RunError> {
    let plan = &sampled.plan;
    let outs: Vec<ChunkOut<'_>> = outs.iter().map(|(_, o)| *o).collect();
    let merged = merge::merge(job, &outs)?;
    let warnings = warnings::warnings(&warnings::Facts {
        job,
        plan,
        merged: &merged,
    });
    let cv_coefficient = merged.cv_coefficient.clone();
    let reference = sampled.reference.clone();
    let mut estimate = estimate(job, plan, merged, reference, warnings, elapsed);
    estimate.diagnostics.evaluations_per_sample = sampled.sampler.evaluations_per_sample();
    estimate.diagnostics.control_variate =
        sampled
            .sampler
            .hessian_form()
            .map(|hessian| ControlVariateInfo {
                hessian,
                coefficient: cv_coefficient.unwrap_or_default(),
            });
    Ok(estimate)
}

/// Summaries handed in must be chunks of `range`, each once, with the job's
/// dimensions and each chunk's count of samples.
fn check_summaries(
    job: &Job,
    plan: &Plan,
    summaries: &[ChunkSummary],
    range: std::ops::Range<usize>,
) -> Result<(), RunError> {
    let dist = job.distribution.as_ref();
    let (d, p) = (dist.dim(), grad_len(dist));
    let mut seen = vec![false; plan.chunks];
    for s in summaries {
        let c = s.chunk;
        let bad = if !range.contains(&c) {
            format!(
                "chunk {c} is not one of chunks {}..{}",
                range.start, range.end
            )
        } else if std::mem::replace(&mut seen[c], true) {
            format!("chunk {c} is given twice")
        } else if s.x.len() != d || s.terms.len() != p {
            format!(
                "chunk {c} has {} coordinates and {} gradient components, the job {d} and {p}",
                s.x.len(),
                s.terms.len()
            )
        } else if s.f.n + s.non_finite as f64 != plan.chunk_len(c) as f64 {
            format!(
                "chunk {c} holds {} samples, the job's has {}",
                s.f.n + s.non_finite as f64,
                plan.chunk_len(c)
            )
        } else {
            continue;
        };
        return Err(RunError::Summaries(bad));
    }
    Ok(())
}

/// The chunks of `range` not among `done`; the done ones count as progress.
fn chunks_left(
    plan: &Plan,
    range: std::ops::Range<usize>,
    done: &[ChunkSummary],
    controls: &Controls<'_>,
) -> Vec<usize> {
    let mut skip = vec![false; plan.chunks];
    for s in done {
        skip[s.chunk] = true;
        controls
            .progress
            .fetch_add(plan.chunk_len(s.chunk), Ordering::Relaxed);
    }
    range.filter(|c| !skip[*c]).collect()
}

/// The one check that the estimator is one of the family's (a [`Job`] is built
/// by whoever calls [`run`], so it is not assumed).
fn applies(job: &Job) -> Result<(), RunError> {
    let family = job.distribution.family();
    if family.estimators.contains(&job.estimator.kind()) {
        return Ok(());
    }
    Err(RunError::NotApplicable {
        estimator: job.estimator.kind(),
        family: family.name,
        applicable: family.estimators,
    })
}

/// Antithetic and rqmc sampling need a family with base noise, at least two
/// chunks (batch means), no leave-one-out baseline (its baseline would read a
/// sample's partner), and for rqmc d ≤ [`RQMC_MAX_DIM`] and chunks of at most
/// 2³² samples. (The HTTP layer refuses these first, in its words.)
fn sampling_applies(job: &Job, plan: &Plan) -> Result<(), RunError> {
    let method = job.sampling;
    if method == Sampling::Iid {
        return Ok(());
    }
    let dist = job.distribution.as_ref();
    let reason = if dist.base_noise().is_none() {
        format!("the family '{}' draws no base noise", dist.family().name)
    } else if plan.chunks < 2 {
        format!(
            "{} samples make one chunk; batch means need two",
            job.samples
        )
    } else if matches!(
        job.estimator,
        Estimator::ScoreFunction {
            baseline: Baseline::LeaveOneOut
        }
    ) {
        "a leave-one-out baseline would read the other samples of a structured batch".into()
    } else if method == Sampling::Rqmc && dist.dim() > RQMC_MAX_DIM {
        format!("dimension {} exceeds {RQMC_MAX_DIM}", dist.dim())
    } else if method == Sampling::Rqmc && plan.chunk_len(0) > 1 << sampling::sobol_bits() {
        format!("a chunk of {} samples is too long", plan.chunk_len(0))
    } else {
        return Ok(());
    };
    Err(RunError::SamplingNotApplicable {
        method: method.name(),
        reason,
    })
}

/// Names and shapes of the differentiated parameters, in gradient order.
fn layout(dist: &dyn Distribution) -> Vec<ParamLayout> {
    dist.params()
        .iter()
        .filter(|q| q.differentiable)
        .map(|q| ParamLayout {
            name: q.name,
            shape: q.shape.clone(),
        })
        .collect()
}

/// Runs the chunks `todo` on up to `hooks.threads` scoped threads of the
/// job's own, each taking the next one from a shared counter, inside the gate
/// (pausing at it before each batch). A job's threads are its own (not a shared pool's); the gate
/// (the service's scheduler) decides which runs' chunks go next.
/// Returns each thread's summaries (placed by chunk index afterwards, so the
/// thread count changes nothing).
fn run_chunks(
    job: &Job,
    sampled: &Sampled<'_>,
    controls: &Controls<'_>,
    hooks: &Hooks<'_>,
    todo: &[usize],
) -> Vec<Summaries> {
    let (plan, sampler) = (&sampled.plan, sampled.sampler.as_ref());
    let threads = plan::threads(plan, job.samples, sampled.per_sample, hooks.threads)
        .min(todo.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let pace = Pace {
        started: Instant::now(),
        progress0: controls.progress.load(Ordering::Relaxed),
        todo: todo.iter().map(|&c| plan.chunk_len(c)).sum(),
    };
    let work = || {
        let mut done = Summaries::new(job, todo.len().div_ceil(threads));
        let mut scratch: Option<Scratch> = None;
        let _entered = Entered::new(hooks.gate);
        while !stop.load(Ordering::Relaxed) {
            let Some(&c) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let scratch = scratch.get_or_insert_with(|| Scratch::new(job, plan, sampler.aux_len()));
            let watch = Watch {
                controls,
                gate: hooks.gate,
                pace: &pace,
            };
            let ok = run_chunk(job, sampler, plan, c, watch, scratch, &mut done);
            if !ok {
                stop.store(true, Ordering::Relaxed);
            } else if let Some(sink) = hooks.on_chunk {
                let last = done.ran.len() - 1;
                if let Ok(out) = done.get(last) {
                    sink(&ChunkSummary::of(c, &out));
                }
            }
        }
        done
    };
    if threads <= 1 {
        vec![work()]
    } else {
        std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
            let mut all = vec![work()];
            for h in helpers {
                match h.join() {
                    Ok(done) => all.push(done),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        })
    }
}

/// The chunks' summaries, those run and those handed in, in chunk order, or
/// the first error in chunk order (so the outcome does not depend on timing
/// more than it must: a cancellation or deadline still depends on when).
fn in_chunk_order<'a>(
    summaries: &'a [Summaries],
    done: &'a [ChunkSummary],
) -> Result<Vec<(usize, ChunkOut<'a>)>, RunError> {
    let mut ran: Vec<(usize, Result<ChunkOut<'a>, RunError>)> = summaries
        .iter()
        .flat_map(|s| {
            s.ran
                .iter()
                .enumerate()
                .map(move |(i, (c, _))| (*c, s.get(i)))
        })
        .chain(done.iter().map(|s| (s.chunk, Ok(s.view()))))
        .collect();
    // Chunk indices are distinct, so the unstable sort (which, unlike the
    // stable one, needs no buffer) gives the one order.
    ran.sort_unstable_by_key(|(c, _)| *c);
    ran.into_iter().map(|(c, o)| o.map(|o| (c, o))).collect()
}

/// The sampled result, from the merged chunks.
fn estimate(
    job: &Job,
    plan: &Plan,
    merged: Merged,
    reference: Option<Reference>,
    warnings: Vec<String>,
    elapsed: f64,
) -> Estimate {
    let dist = job.distribution.as_ref();
    let Merged { f, xs, .. } = &merged;
    let n = f.n.max(1.0);
    let fitted = exact::category_fit(dist, &job.estimator, xs, f.n);
    Estimate {
        estimator: job.estimator.kind(),
        unbiased: job.estimator.unbiased(),
        layout: layout(dist),
        objective: Summary {
            mean: f.mean,
            variance: f.variance(),
            std_error: merged
                .f_std_error
                .unwrap_or_else(|| (f.variance() / n).sqrt()),
        },
        reference,
        diagnostics: Diagnostics {
            samples: job.samples,
            seed: job.seed,
            elapsed_ms: elapsed * 1e3,
            samples_per_second: job.samples as f64 / elapsed.max(1e-9),
            non_finite: merged.non_finite,
            underflow: merged.underflow,
            sample_mean: xs.iter().map(|m| m.mean).collect(),
            sample_variance: xs.iter().map(Moments::variance).collect(),
            baseline: merged.baseline.clone(),
            category_frequencies: fitted,
            control_variate: None,
            chunks: plan.chunks,
            sampling: SamplingReport {
                method: job.sampling.name(),
                std_error: job.sampling.std_error_method(plan.chunks),
            },
            evaluations_per_sample: 1.0,
            warnings,
        },
        gradient: merged.gradient,
        variance: merged.variance,
        std_error: merged.std_error,
    }
}

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
mod merge;
pub mod plan;
mod warnings;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

pub use crate::estimation::rng::chunk_rng;
use chunk::{ChunkOut, Scratch, Summaries, run_chunk};
use merge::Merged;
pub use plan::{Plan, default_threads};

use super::distributions::Distribution;
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
///
/// The stages: the estimator must be one of the family's; enumeration gives the
/// exact estimator's result, or a sampled one's reference, where feasible; the
/// plan cuts N into chunks; the chunks run in parallel; their summaries are
/// merged in chunk order; warnings and diagnostics complete the result.
pub fn run_with_threads(
    job: &Job,
    controls: &Controls<'_>,
    threads: usize,
) -> Result<Estimate, RunError> {
    let started = Instant::now();
    let dist = job.distribution.as_ref();
    applies(job)?;
    // Enumerated once: the exact estimator's result, or a sampled one's reference.
    let exact = exact::enumerate_if_feasible(job)?;
    let reference = exact.as_ref().map(Exact::reference);
    let Some(sampler) = estimators::sampler(&job.estimator, dist, &job.objective)? else {
        let exact = exact.ok_or(RunError::ExactInfeasible)?;
        controls.progress.fetch_add(job.samples, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        return Ok(exact.into_estimate(layout(dist), job.seed, elapsed));
    };
    let (plan, per_sample) = Plan::for_job(job, sampler.aux_len());
    sampling_applies(job, &plan)?;
    let threads = plan::threads(&plan, job.samples, per_sample, threads);
    let summaries = run_chunks(job, sampler.as_ref(), &plan, controls, threads);
    let evaluations = sampler.evaluations_per_sample();
    let hessian = sampler.hessian_form();
    let outs = in_chunk_order(&summaries)?;
    let merged = merge::merge(job, &outs)?;
    let warnings = warnings::warnings(&warnings::Facts {
        job,
        plan: &plan,
        merged: &merged,
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cv_coefficient = merged.cv_coefficient.clone();
    let mut estimate = estimate(job, &plan, merged, reference, warnings, elapsed);
    estimate.diagnostics.evaluations_per_sample = evaluations;
    estimate.diagnostics.control_variate = hessian.map(|hessian| ControlVariateInfo {
        hessian,
        coefficient: cv_coefficient.unwrap_or_default(),
    });
    Ok(estimate)
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

/// Runs the chunks on `threads` scoped threads of the job's own, each taking the
/// next chunk index from a shared counter. A job's threads are its own (not a
/// shared pool's), so concurrent jobs share the cores through the OS scheduler:
/// a small request never waits behind the queued chunks of a large one.
/// Returns each thread's summaries (placed by chunk index afterwards, so the
/// thread count changes nothing).
fn run_chunks(
    job: &Job,
    sampler: &dyn Sampler,
    plan: &Plan,
    controls: &Controls<'_>,
    threads: usize,
) -> Vec<Summaries> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let work = || {
        let mut done = Summaries::new(job, plan.chunks.div_ceil(threads.max(1)));
        let mut scratch: Option<Scratch> = None;
        while !stop.load(Ordering::Relaxed) {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= plan.chunks {
                break;
            }
            let scratch = scratch.get_or_insert_with(|| Scratch::new(job, plan, sampler.aux_len()));
            if !run_chunk(job, sampler, plan, c, controls, scratch, &mut done) {
                stop.store(true, Ordering::Relaxed);
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

/// The chunks' summaries in chunk order, or the first error in chunk order (so
/// the outcome does not depend on timing more than it must: a cancellation or
/// deadline still depends on when).
fn in_chunk_order(summaries: &[Summaries]) -> Result<Vec<ChunkOut<'_>>, RunError> {
    let mut ran: Vec<(usize, &Summaries, usize)> = summaries
        .iter()
        .flat_map(|s| s.ran.iter().enumerate().map(move |(i, (c, _))| (*c, s, i)))
        .collect();
    // Chunk indices are distinct, so the unstable sort (which, unlike the
    // stable one, needs no buffer) gives the one order.
    ran.sort_unstable_by_key(|(c, _, _)| *c);
    ran.into_iter().map(|(_, s, i)| s.get(i)).collect()
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

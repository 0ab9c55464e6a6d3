//! One chunk: its batches drawn through the job's [`Sampler`], summarised into
//! moments as they come (f, every gradient term, x), with non-finite samples
//! found, then refused or dropped and counted. The hot loop neither allocates
//! nor locks; cancellation and progress are checked between batches, the
//! deadline between batches once a batch's worth of samples has been drawn
//! since it was last checked.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::plan::Plan;
use crate::estimation::distributions::grad_len;
use crate::estimation::error::RunError;
use crate::estimation::estimators::{Batch, Sampler};
use crate::estimation::job::{ChunkGate, Controls, Job, NonFinitePolicy};
use crate::estimation::objective::Workspace;
use crate::estimation::rng::chunk_rng;
use crate::estimation::sampling::Noise;
use crate::estimation::stats::{CoMoments, Moments, non_negative};

/// A chunk's totals; its per-component moments are kept in the worker's
/// [`Summaries`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Totals {
    pub f: Moments,
    pub non_finite: u64,
    pub underflow: u64,
    /// Some squares overflowed (values beyond about 1e154).
    pub overflow: bool,
}

/// One chunk's summary, as the merge reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChunkOut<'a> {
    /// Per gradient component: moments of the terms (v absent → only u used).
    pub terms: &'a [CoMoments],
    pub f: Moments,
    pub x: &'a [Moments],
    pub non_finite: u64,
    pub underflow: u64,
    pub overflow: bool,
}

/// The summaries of the chunks one worker ran, in the order it ran them, kept
/// flat so that a chunk allocates nothing (a small job's chunks are a few
/// samples each): the i-th chunk run has the terms `terms[i·P..(i+1)·P]` and
/// the moments of x `x[i·D..(i+1)·D]`.
#[derive(Debug)]
pub(super) struct Summaries {
    p: usize,
    d: usize,
    /// Chunk index and outcome, in the order run.
    pub ran: Vec<(usize, Result<Totals, RunError>)>,
    terms: Vec<CoMoments>,
    x: Vec<Moments>,
}

impl Summaries {
    /// Room for about `chunks` chunks of a job.
    pub fn new(job: &Job, chunks: usize) -> Summaries {
        let dist = job.distribution.as_ref();
        let (d, p) = (dist.dim(), grad_len(dist));
        Summaries {
            p,
            d,
            ran: Vec::with_capacity(chunks),
            terms: Vec::with_capacity(chunks * p),
            x: Vec::with_capacity(chunks * d),
        }
    }

    /// The summary of the i-th chunk run, or its error.
    pub fn get(&self, i: usize) -> Result<ChunkOut<'_>, RunError> {
        let totals = self.ran[i].1.as_ref().map_err(RunError::clone)?;
        Ok(ChunkOut {
            terms: &self.terms[i * self.p..(i + 1) * self.p],
            f: totals.f,
            x: &self.x[i * self.d..(i + 1) * self.d],
            non_finite: totals.non_finite,
            underflow: totals.underflow,
            overflow: totals.overflow,
        })
    }
}

/// Merges a batch's summaries (f first, then each component) into the chunk's.
fn absorb(totals: &mut Totals, terms: &mut [CoMoments], stats: &[CoMoments]) {
    let (fm, batch_terms) = stats.split_first().expect("f comes first");
    totals.f.merge(&Moments {
        n: fm.n,
        mean: fm.mean_u,
        m2: fm.m2_u,
    });
    for (t, m) in terms.iter_mut().zip(batch_terms) {
        t.merge(m);
    }
}

/// A worker's buffers, allocated once and reused for every chunk it runs (a
/// small job's chunks are a few samples each, so a chunk must not allocate
/// more than its summary).
pub(super) struct Scratch {
    ws: Workspace,
    batch: Batch,
    /// Which samples of a batch are kept (the slow path of non-finite values).
    keep: Vec<bool>,
    /// A batch's summaries: f first, then each gradient component.
    stats: Vec<CoMoments>,
    /// The sampling state's buffers (an rqmc chunk's scrambled Sobol
    /// directions), lent to each chunk's generator in turn.
    noise: Noise,
    /// Samples drawn since the deadline was last compared with the clock
    /// (`u64::MAX` before the first batch: compare then).
    unclocked: u64,
}

impl Scratch {
    pub fn new(job: &Job, plan: &Plan, aux_len: usize) -> Scratch {
        // No batch is longer than the longest chunk (chunk 0).
        let cap = plan.capacity().min(plan.chunk_len(0) as usize).max(1);
        Scratch {
            ws: job.objective.workspace(cap),
            batch: Batch::new(cap, job.distribution.as_ref(), aux_len),
            keep: vec![true; cap],
            stats: Vec::with_capacity(grad_len(job.distribution.as_ref()) + 1),
            noise: Noise::default(),
            unclocked: u64::MAX,
        }
    }
}

/// Runs chunk `c` of the plan with its own generator ([`chunk_rng`]) and adds
/// its summary to `out`; false if it failed.
pub(super) fn run_chunk(
    job: &Job,
    sampler: &dyn Sampler,
    plan: &Plan,
    c: usize,
    watch: Watch<'_>,
    scratch: &mut Scratch,
    out: &mut Summaries,
) -> bool {
    let i = out.ran.len();
    let (p, d) = (out.p, out.d);
    out.terms.resize((i + 1) * p, CoMoments::default());
    out.x.resize((i + 1) * d, Moments::default());
    let sums = Sums {
        terms: &mut out.terms[i * p..],
        x: &mut out.x[i * d..],
    };
    let result = chunk(job, sampler, plan, c, watch, scratch, sums);
    let ok = result.is_ok();
    out.ran.push((c, result));
    ok
}

/// What a chunk answers to besides its job: the caller's controls, and the
/// scheduler's gate, paused at before each batch.
#[derive(Clone, Copy)]
pub(super) struct Watch<'a> {
    pub controls: &'a Controls<'a>,
    pub gate: &'a dyn ChunkGate,
    pub pace: &'a Pace,
}

/// Where a run's chunks started from, to project when it would end.
///
/// A run that has used at least a twentieth of its budget (and 50 ms) with
/// `done` of its `todo` samples drawn is projected to take
/// elapsed · todo / done; past its budget by a tenth or more it stops with
/// [`RunError::BeyondBudget`] then, a few seconds in, instead of at the
/// deadline after the whole budget. The projection reads the clock only where
/// the deadline check does, and never changes a result: a run either ends
/// with the same bits or stops.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// When the run's chunks started.
    pub started: Instant,
    /// The progress counter then (chunks resumed from checkpoints included).
    pub progress0: u64,
    /// Samples the run's chunks draw.
    pub todo: u64,
}

/// The share of the budget a run must have used before it is projected.
const PILOT_SHARE: f64 = 0.05;
/// The shortest pilot, in seconds.
const PILOT_MIN_SECS: f64 = 0.05;
/// How far past its budget a projection may end before the run is stopped.
const PROJECTION_SLACK: f64 = 1.1;

impl Pace {
    /// `Err` when the run, at its pace so far, would end well past `deadline`.
    fn check(
        &self,
        now: Instant,
        deadline: Instant,
        progress: u64,
        total: u64,
    ) -> Result<(), RunError> {
        let done = progress.saturating_sub(self.progress0);
        let budget = deadline
            .saturating_duration_since(self.started)
            .as_secs_f64();
        let elapsed = now.saturating_duration_since(self.started).as_secs_f64();
        if done == 0 || done >= self.todo || elapsed < (budget * PILOT_SHARE).max(PILOT_MIN_SECS) {
            return Ok(());
        }
        #[allow(clippy::cast_precision_loss)]
        let projected = elapsed * self.todo as f64 / done as f64;
        if projected > budget * PROJECTION_SLACK {
            return Err(RunError::BeyondBudget {
                done: progress,
                total,
                pilot_secs: elapsed,
                projected_secs: projected,
                budget_secs: budget,
            });
        }
        Ok(())
    }
}

/// Where a chunk's per-component moments go (zero on entry).
struct Sums<'a> {
    terms: &'a mut [CoMoments],
    x: &'a mut [Moments],
}

/// Chunk `c`'s batches, summarised into its totals and `sums`.
fn chunk(
    job: &Job,
    sampler: &dyn Sampler,
    plan: &Plan,
    c: usize,
    watch: Watch<'_>,
    scratch: &mut Scratch,
    sums: Sums<'_>,
) -> Result<Totals, RunError> {
    let controls = watch.controls;
    let dist = job.distribution.as_ref();
    let (d, p) = (dist.dim(), grad_len(dist));
    let counts_underflow = dist.log_space().is_some() && job.objective.reads_x();
    let Scratch {
        ws,
        batch,
        keep,
        stats,
        noise,
        unclocked,
    } = scratch;
    let mut rng = chunk_rng(job.seed, c as u64);
    rng.start_sampling(job.sampling, d, std::mem::take(noise));
    let mut out = Totals::default();
    let mut xs = XStats::new(d);
    for b in plan.batches(plan.chunk_len(c)) {
        watch.gate.pause();
        check_controls(watch, job.samples, unclocked, plan.batch as u64)?;
        *unclocked = unclocked.saturating_add(b as u64);
        let info = sampler.step(&job.objective, &mut rng, ws, batch, b);
        if counts_underflow {
            out.underflow += underflowed(&batch.x[..b * d], d);
        }
        // Summaries of the batch; a non-finite value anywhere makes a summary
        // non-finite, and only then does the slow path look for it.
        summarise(batch, b, p, info.scores, stats);
        let mut b_used = b;
        if !stats.iter().all(CoMoments::is_finite) {
            let found = NonFinite {
                policy: job.on_non_finite,
                d,
                p,
                scores: info.scores,
            };
            b_used = found.handle(batch, &mut keep[..b], stats, &mut out)?;
        }
        absorb(&mut out, sums.terms, stats);
        let x = &batch.x[..b_used * d];
        xs.add(x, b_used, &mut batch.base[..b_used], sums.x);
        controls.progress.fetch_add(b as u64, Ordering::Relaxed);
    }
    xs.finish(sums.x);
    *noise = rng.take_noise();
    Ok(out)
}

/// Stops on cancellation (checked before every batch), past the deadline, or
/// when the run's [`Pace`] projects it well past the deadline.
/// The clock is read before a worker's first batch and then once a full
/// batch's worth of samples (`plan.batch`) has been drawn since the last
/// reading: before every batch of an ordinary chunk, and not 64 times for a
/// small job's 64 chunks of a few samples (a reading costs about what drawing
/// a sample does).
fn check_controls(
    watch: Watch<'_>,
    total: u64,
    unclocked: &mut u64,
    every: u64,
) -> Result<(), RunError> {
    let controls = watch.controls;
    if controls.cancel.load(Ordering::Relaxed) {
        return Err(RunError::Cancelled);
    }
    let Some(deadline) = controls.deadline else {
        return Ok(());
    };
    if *unclocked < every {
        return Ok(());
    }
    *unclocked = 0;
    let (now, done) = (Instant::now(), controls.progress.load(Ordering::Relaxed));
    if now >= deadline {
        return Err(RunError::DeadlineExceeded { done, total });
    }
    watch.pace.check(now, deadline, done, total)
}

/// Samples with an entry below the smallest normal f64 (0 or a subnormal).
fn underflowed(x: &[f64], d: usize) -> u64 {
    x.chunks_exact(d)
        .filter(|row| row.iter().any(|v| v.abs() < f64::MIN_POSITIVE))
        .count() as u64
}

/// The slow path of a batch whose summaries are not finite.
struct NonFinite {
    policy: NonFinitePolicy,
    d: usize,
    p: usize,
    scores: bool,
}

impl NonFinite {
    /// Finds the samples whose f or a term is not finite: none (only squares
    /// overflowed: the means stand, the variances that overflowed are reported
    /// as such), refused (naming the first) or dropped and counted, with the
    /// summaries redone over the rest. Returns how many samples are kept.
    fn handle(
        &self,
        batch: &mut Batch,
        keep: &mut [bool],
        stats: &mut Vec<CoMoments>,
        out: &mut Totals,
    ) -> Result<usize, RunError> {
        let (b, d, p) = (keep.len(), self.d, self.p);
        let (x, f, u) = (&batch.x[..b * d], &batch.f[..b], &batch.u[..b * p]);
        for (r, k) in keep.iter_mut().enumerate() {
            *k = f[r].is_finite() && (0..p).all(|j| u[j * b + r].is_finite());
        }
        match keep.iter().position(|k| !k) {
            None => {
                out.overflow = true;
                Ok(b)
            }
            Some(r) if self.policy == NonFinitePolicy::Error => Err(RunError::NonFiniteSample {
                x: x[r * d..(r + 1) * d].to_vec(),
                f: f[r],
                gradient_term: (0..p).map(|j| u[j * b + r]).find(|v| !v.is_finite()),
            }),
            Some(_) => {
                let kept = compact(batch, keep, d, p, self.scores);
                out.non_finite += (b - kept) as u64;
                summarise(batch, kept, p, self.scores, stats);
                out.overflow |= !stats.iter().all(CoMoments::is_finite);
                Ok(kept)
            }
        }
    }
}

/// Summaries of a batch of `b` into `out` (capacity reserved, so no allocation):
/// f first (as u), then each gradient component.
fn summarise(batch: &Batch, b: usize, p: usize, use_v: bool, out: &mut Vec<CoMoments>) {
    out.clear();
    let f = Moments::of(&batch.f[..b]);
    out.push(CoMoments {
        n: f.n,
        mean_u: f.mean,
        m2_u: f.m2,
        ..CoMoments::default()
    });
    for k in 0..p {
        let uk = &batch.u[k * b..(k + 1) * b];
        out.push(if use_v {
            CoMoments::of(uk, &batch.v[k * b..(k + 1) * b])
        } else {
            let m = Moments::of(uk);
            CoMoments {
                n: m.n,
                mean_u: m.mean,
                m2_u: m.m2,
                ..CoMoments::default()
            }
        });
    }
}

/// Moves the rows marked in `keep` (one per sample of the batch) to the front
/// of every buffer; returns how many were kept.
fn compact(batch: &mut Batch, keep: &[bool], d: usize, p: usize, use_v: bool) -> usize {
    let b = keep.len();
    let kept = keep.iter().filter(|k| **k).count();
    let rows = || keep.iter().enumerate().filter(|(_, k)| **k).map(|(r, _)| r);
    for (w, r) in rows().enumerate() {
        batch.f[w] = batch.f[r];
        batch.x.copy_within(r * d..(r + 1) * d, w * d);
    }
    // Component-major buffers: component k moves from k·b to k·kept (never
    // overwriting a value not yet moved, since kept ≤ b).
    let buffers = [Some(&mut batch.u), use_v.then_some(&mut batch.v)];
    for buffer in buffers.into_iter().flatten() {
        for k in 0..p {
            for (w, r) in rows().enumerate() {
                buffer[k * kept + w] = buffer[k * b + r];
            }
        }
    }
    kept
}

/// Moments of each coordinate of x over a chunk. For small D (≤ 4), exact
/// per-batch moments merged; otherwise shifted sums (shift a = the chunk's first
/// sample): mean = a + S₁/n, M₂ = S₂ − S₁²/n with S₁ = Σ(x − a), S₂ = Σ(x − a)².
/// The small-D moments are merged straight into the chunk's summary.
struct XStats {
    d: usize,
    shift: Option<Vec<f64>>,
    s1: Vec<f64>,
    s2: Vec<f64>,
    used: u64,
}

impl XStats {
    /// Allocates only for D > 4 (the shifted sums).
    fn new(d: usize) -> XStats {
        let sums = if d <= 4 { 0 } else { d };
        XStats {
            d,
            shift: None,
            s1: vec![0.0; sums],
            s2: vec![0.0; sums],
            used: 0,
        }
    }

    /// Adds `rows` samples `x`; `col` (`rows` numbers) is scratch; `out` holds
    /// the chunk's D moments so far.
    fn add(&mut self, x: &[f64], rows: usize, col: &mut [f64], out: &mut [Moments]) {
        let d = self.d;
        if rows > 0 && d == 1 {
            out[0].merge(&Moments::of(x));
        } else if rows > 0 && d <= 4 {
            for (j, xm) in out.iter_mut().enumerate() {
                for (c, row) in col.iter_mut().zip(x.chunks_exact(d)) {
                    *c = row[j];
                }
                xm.merge(&Moments::of(col));
            }
        } else if rows > 0 {
            let sh = self.shift.get_or_insert_with(|| x[..d].to_vec());
            for row in x.chunks_exact(d) {
                for j in 0..d {
                    let t = row[j] - sh[j];
                    self.s1[j] += t;
                    self.s2[j] += t * t;
                }
            }
            self.used += rows as u64;
        }
    }

    /// Writes the moments of the shifted sums into `out` (D > 4; for small D
    /// `out` is complete already, and it stays zero when no sample was kept).
    fn finish(self, out: &mut [Moments]) {
        let n = self.used as f64;
        let (s1, s2) = (&self.s1, &self.s2);
        match self.shift {
            _ if self.d <= 4 => {}
            Some(sh) if n > 0.0 => {
                for (j, o) in out.iter_mut().enumerate() {
                    *o = Moments {
                        n,
                        mean: sh[j] + s1[j] / n,
                        m2: non_negative(s2[j] - s1[j] * s1[j] / n),
                    };
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Pace, RunError};
    use std::time::{Duration, Instant};

    /// A run of 1,000 samples with a 10 s budget, `done` of them drawn
    /// `elapsed_ms` in.
    fn check(elapsed_ms: u64, done: u64) -> Result<(), RunError> {
        let started = Instant::now();
        let pace = Pace {
            started,
            progress0: 0,
            todo: 1_000,
        };
        let now = started + Duration::from_millis(elapsed_ms);
        pace.check(now, started + Duration::from_secs(10), done, 1_000)
    }

    #[test]
    fn a_run_is_not_judged_before_its_pilot() {
        // 0.4 s in (the pilot is 5% of 10 s), 1 sample of 1,000: 400 s projected.
        assert!(check(400, 1).is_ok());
        // Nothing drawn yet, or everything: no projection.
        assert!(check(5_000, 0).is_ok());
        assert!(check(5_000, 1_000).is_ok());
    }

    #[test]
    fn a_run_projected_past_its_budget_stops_with_the_projection() {
        // 1 s in, 50 of 1,000: 20 s projected for a 10 s budget.
        match check(1_000, 50) {
            Err(RunError::BeyondBudget {
                done,
                total,
                projected_secs,
                budget_secs,
                ..
            }) => {
                assert_eq!((done, total), (50, 1_000));
                assert!((projected_secs - 20.0).abs() < 1e-9, "{projected_secs}");
                assert!((budget_secs - 10.0).abs() < 1e-9, "{budget_secs}");
            }
            other => panic!("expected BeyondBudget, got {other:?}"),
        }
    }

    #[test]
    fn a_run_projected_within_its_slack_goes_on() {
        // 1 s in, 95 of 1,000: 10.5 s projected, within 1.1 × 10 s.
        assert!(check(1_000, 95).is_ok());
        // Resumed from checkpoints: only the samples drawn since count.
        let started = Instant::now();
        let pace = Pace {
            started,
            progress0: 900,
            todo: 100,
        };
        let now = started + Duration::from_secs(1);
        assert!(
            pace.check(now, started + Duration::from_secs(10), 950, 1_000)
                .is_ok()
        );
    }
}

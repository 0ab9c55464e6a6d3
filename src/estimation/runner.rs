//! Runs a job: N is split into chunks that depend only on the job (never on the
//! number of threads); chunk c draws from its own stream ([`chunk_rng`]); chunks run in parallel on the job's own
//! threads and their summaries are merged in chunk order. So the same job and seed give
//! bit-identical results on any machine and any number of threads, and memory
//! does not grow with N.
//!
//! Within a chunk, samples are drawn and evaluated in batches (a few hundred to a
//! few thousand numbers), so the objective is interpreted once per batch, and the
//! hot loop neither allocates nor locks. Cancellation, a deadline and progress
//! are checked between batches.
//!
//! Standard errors come from batch means over the chunks (at least 64 whenever
//! N ≥ 128), which stay honest when terms within a chunk are correlated
//! (leave-one-out and cross-fitted baselines).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use rand::SeedableRng;

use super::distributions::{Constraint, Distribution, grad_len, log_len};
use super::error::RunError;
use super::estimators::score_function;
use super::estimators::{Baseline, Estimator, EstimatorKind};
use super::objective::{Want, Workspace};
use super::result::{Diagnostics, Estimate, ParamLayout, Summary};
use super::stats::{CoMoments, Moments, batch_means_se, non_negative};
use super::{Job, NonFinitePolicy, SampleRng};

/// Hooks the caller uses to stop a run and watch it.
#[derive(Debug, Clone, Copy)]
pub struct Controls<'a> {
    /// Set to stop the run (checked between batches).
    pub cancel: &'a AtomicBool,
    /// Stop with [`RunError::DeadlineExceeded`] after this instant.
    pub deadline: Option<Instant>,
    /// Samples done so far, for progress reports.
    pub progress: &'a AtomicU64,
}

/// How N is cut into chunks and batches; a function of the job alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub chunks: usize,
    /// Chunk c has `base + 1` samples if c < `extra`, else `base`.
    pub base: u64,
    pub extra: usize,
    /// Target batch size (a batch holds between `batch` and 2·`batch` − 1 samples,
    /// or the whole chunk when it is smaller).
    pub batch: usize,
}

/// Numbers handled per chunk, about: big enough to amortise scheduling, small
/// enough to give many chunks for batch means and load balance.
const CHUNK_WORK: usize = 1 << 20;
/// Numbers per batch, about: the batch's buffers stay in the L2 cache.
const BATCH_WORK: usize = 1 << 17;
/// Fewest chunks, when N allows: batch means need enough batches.
const MIN_CHUNKS: u64 = 64;
/// Bound on the numbers kept per chunk summary times the number of chunks.
const SUMMARY_BUDGET: usize = 1 << 23;

impl Plan {
    /// `per_sample` is about how many numbers one sample touches; `summary` how
    /// many numbers a chunk's summary keeps.
    pub fn new(samples: u64, per_sample: usize, summary: usize) -> Plan {
        let per_sample = per_sample.max(1);
        let chunk_target = (CHUNK_WORK / per_sample).max(2) as u64;
        let mut chunks = samples.div_ceil(chunk_target);
        chunks = chunks.max(MIN_CHUNKS.min(samples / 2)).max(1);
        // The memory budget wins over MIN_CHUNKS for very large parameter vectors
        // (the run then warns that its batch means rest on few batches).
        let max_chunks = (SUMMARY_BUDGET / summary.max(1)).max(2) as u64;
        chunks = chunks.min(max_chunks);
        let base = samples / chunks;
        let extra = (samples % chunks) as usize;
        let batch = (BATCH_WORK / per_sample).clamp(1, 1024).max(2);
        Plan {
            chunks: chunks as usize,
            base,
            extra,
            batch,
        }
    }

    pub fn chunk_len(&self, c: usize) -> u64 {
        self.base + u64::from(c < self.extra)
    }

    /// Sizes of the batches of a chunk of `len` samples: balanced, each ≥ 2
    /// whenever `len` ≥ 2 (the leave-one-out baseline needs two).
    fn batches(&self, len: u64) -> impl Iterator<Item = usize> {
        let count = (len / self.batch as u64).max(1);
        let (base, extra) = (len / count, len % count);
        (0..count).map(move |i| (base + u64::from(i < extra)) as usize)
    }

    fn capacity(&self) -> usize {
        2 * self.batch
    }
}

/// A chunk's summary.
#[derive(Debug, Clone, Default)]
struct ChunkOut {
    /// Per gradient component: moments of the terms (v absent → only u used).
    terms: Vec<CoMoments>,
    f: Moments,
    x: Vec<Moments>,
    non_finite: u64,
    underflow: u64,
    /// Some squares overflowed (values beyond about 1e154).
    overflow: bool,
}

/// Stafford's "Mix13" finaliser with SplitMix64's increment (Steele, Lea & Flood
/// 2014): m(x) = mix(x + γ), a bijection on u64 in which every input bit flips
/// every output bit with probability about ½.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per-word constants that make the four state words different functions of
/// the seed and of the chunk (digits of π and e, any odd-looking constants do).
const SEED_KEYS: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
];
const CHUNK_KEYS: [u64; 4] = [
    0xB7E1_5162_8AED_2A6A,
    0xBF71_5880_9CF4_F3C7,
    0x62E7_160F_38B4_DA56,
    0xA784_D904_5190_CFEF,
];

/// The generator of chunk `chunk` of a job with `seed`: xoshiro256++ whose four
/// state words are wᵢ = m(m(seed ⊕ Sᵢ) ⊕ m(chunk ⊕ Cᵢ)), m = `splitmix`.
///
/// Every word depends on both the seed and the chunk through a final m, so the
/// states of neighbouring chunks (or seeds) are unrelated. (An earlier scheme
/// shared one word between all chunks of a seed and took another from the chunk
/// alone; xoshiro's first output rotl(s₀ + s₃, 23) + s₀ then differed between
/// two chunks by nearly a constant, and the first draws of neighbouring chunks
/// were correlated by up to 0.7, which made runs of a few samples per chunk
/// about 1.2× as spread as independent draws.) For a fixed seed each word is a
/// bijection of the chunk (and vice versa), so two chunks of one job, or one
/// chunk of two seeds, never share a stream; any two (seed, chunk) pairs share
/// one with probability about 2⁻²⁵⁶. It costs twelve mixes per chunk, where a
/// 2¹²⁸ `jump` costs 256 generator steps.
pub fn chunk_rng(seed: u64, chunk: u64) -> SampleRng {
    let mut bytes = [0u8; 32];
    for ((dst, s), c) in bytes.chunks_exact_mut(8).zip(SEED_KEYS).zip(CHUNK_KEYS) {
        let w = splitmix(splitmix(seed ^ s) ^ splitmix(chunk ^ c));
        dst.copy_from_slice(&w.to_le_bytes());
    }
    SampleRng::from_seed(bytes)
}

/// Numbers of work (samples × numbers touched per sample) below which a job
/// runs on one thread: starting another costs more than it saves.
const WORK_PER_THREAD: u64 = 1 << 18;

/// The number of threads [`run`] uses: one per available core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs a job to completion on up to [`default_threads`] threads (blocking).
pub fn run(job: &Job, controls: &Controls<'_>) -> Result<Estimate, RunError> {
    run_with_threads(job, controls, default_threads())
}

/// Runs the chunks on `threads` scoped threads of the job's own, each taking the
/// next chunk index from a shared counter. A job's threads are its own (not a
/// shared pool's), so concurrent jobs share the cores through the OS scheduler:
/// a small request never waits behind the queued chunks of a large one.
/// Results are placed by chunk index, so the thread count changes nothing.
fn run_chunks(
    job: &Job,
    plan: &Plan,
    controls: &Controls<'_>,
    threads: usize,
) -> Result<Vec<ChunkOut>, RunError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let work = || {
        let mut done = Vec::new();
        let mut scratch: Option<Scratch> = None;
        while !stop.load(Ordering::Relaxed) {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= plan.chunks {
                break;
            }
            let scratch = scratch.get_or_insert_with(|| Scratch::new(job, plan));
            let r = run_chunk(
                job,
                plan,
                c,
                chunk_rng(job.seed, c as u64),
                controls,
                scratch,
            );
            if r.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            done.push((c, r));
        }
        done
    };
    let mut results: Vec<(usize, Result<ChunkOut, RunError>)> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
            let mut all = work();
            for h in helpers {
                match h.join() {
                    Ok(done) => all.extend(done),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        })
    };
    results.sort_by_key(|(c, _)| *c);
    // The first error in chunk order, so the outcome does not depend on timing
    // more than it must (a cancellation or deadline still depends on when).
    results.into_iter().map(|(_, r)| r).collect()
}

/// Runs a job to completion on up to `threads` threads (blocking). The result
/// is bit-identical whatever `threads` is.
pub fn run_with_threads(
    job: &Job,
    controls: &Controls<'_>,
    threads: usize,
) -> Result<Estimate, RunError> {
    let started = Instant::now();
    let dist = job.distribution.as_ref();
    let p = grad_len(dist);
    let d = dist.dim();
    let layout: Vec<ParamLayout> = dist
        .params()
        .iter()
        .filter(|q| q.differentiable)
        .map(|q| ParamLayout {
            name: q.name,
            shape: q.shape.clone(),
        })
        .collect();
    let mut warnings = Vec::new();
    let allowed = dist.family().estimators;
    if !allowed.contains(&job.estimator.kind()) {
        return Err(RunError::NotApplicable {
            estimator: job.estimator.kind(),
            family: dist.family().name,
            applicable: allowed,
        });
    }
    // Enumerated once: the exact estimator's result, or a sampled one's reference.
    let exact = super::estimators::exact::enumerate_if_feasible(job)?;
    let reference = exact.as_ref().map(|e| e.reference());
    if job.estimator == Estimator::Exact {
        let Some(exact) = exact else {
            return Err(RunError::ExactInfeasible);
        };
        controls.progress.fetch_add(job.samples, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        return Ok(Estimate {
            estimator: EstimatorKind::Exact,
            unbiased: true,
            layout,
            gradient: exact.gradient,
            variance: vec![0.0; p],
            std_error: vec![0.0; p],
            objective: Summary {
                mean: exact.mean,
                variance: exact.variance,
                std_error: 0.0,
            },
            reference,
            diagnostics: Diagnostics {
                samples: 0,
                seed: job.seed,
                elapsed_ms: elapsed * 1e3,
                samples_per_second: 0.0,
                non_finite: 0,
                underflow: 0,
                sample_mean: exact.x_mean,
                sample_variance: exact.x_variance,
                baseline: None,
                category_frequencies: None,
                chunks: 0,
                warnings: vec![format!(
                    "exact enumeration over {} outcomes; no sampling was done",
                    exact.outcomes
                )],
            },
        });
    }

    let aux = aux_len(job);
    let per_sample = d + aux + log_len(dist) + 3 * p + job.objective.floats_per_sample();
    let plan = Plan::new(job.samples, per_sample, 6 * p + 3 * d);
    let threads = threads
        .min(plan.chunks)
        .min(
            job.samples
                .saturating_mul(per_sample as u64)
                .div_ceil(WORK_PER_THREAD) as usize,
        )
        .max(1);
    let outs = run_chunks(job, &plan, controls, threads)?;

    // Deterministic merge, in chunk order.
    let optimal = matches!(
        job.estimator,
        Estimator::ScoreFunction {
            baseline: Baseline::Optimal
        }
    );
    let mut f = Moments::default();
    let mut xs = vec![Moments::default(); d];
    let mut non_finite = 0;
    let mut underflow = 0;
    for o in &outs {
        f.merge(&o.f);
        for (a, b) in xs.iter_mut().zip(&o.x) {
            a.merge(b);
        }
        non_finite += o.non_finite;
        underflow += o.underflow;
    }
    // With (nearly) every sample dropped there is nothing to estimate from: a
    // gradient of 0 ± 0 would claim certainty that no sample supports.
    if non_finite > 0 && f.n < 2.0 {
        return Err(RunError::TooFewFinite {
            dropped: non_finite,
            total: job.samples,
            kept: f.n as u64,
        });
    }
    // Per chunk and component, the baseline coefficient applied to v.
    let mut coef = vec![vec![0.0; p]; outs.len()];
    let mut baseline_report = None;
    if optimal {
        if outs.len() < 2 {
            warnings.push(
                "too few samples to cross-fit the optimal baseline; no baseline was applied"
                    .to_string(),
            );
        } else {
            cross_fit(&outs, p, &mut coef);
        }
        let mean_b: Vec<f64> = (0..p)
            .map(|k| coef.iter().map(|c| c[k]).sum::<f64>() / coef.len() as f64)
            .collect();
        baseline_report = Some(mean_b);
    }
    let mut gradient = vec![0.0; p];
    let mut variance = vec![0.0; p];
    let mut std_error = vec![0.0; p];
    for k in 0..p {
        let per_chunk: Vec<Moments> = outs
            .iter()
            .zip(&coef)
            .map(|(o, c)| o.terms[k].apply(c[k]))
            .collect();
        let mut all = Moments::default();
        per_chunk.iter().for_each(|m| all.merge(m));
        gradient[k] = all.mean;
        variance[k] = all.variance();
        std_error[k] = batch_means_se(per_chunk.iter().map(|m| (m.n, m.mean)))
            .unwrap_or_else(|| (all.variance() / all.n.max(1.0)).sqrt());
    }
    for k in fixed_zeros(dist) {
        gradient[k] = 0.0;
        variance[k] = 0.0;
        std_error[k] = 0.0;
    }
    if let Estimator::ScoreFunction { baseline } = job.estimator {
        match baseline {
            Baseline::Constant(b) => baseline_report = Some(vec![b; p]),
            Baseline::None => baseline_report = Some(vec![0.0; p]),
            _ => {}
        }
    }
    if plan.chunks < MIN_CHUNKS as usize && job.samples >= 2 * MIN_CHUNKS {
        warnings.push(format!(
            "the parameter vector is so large that only {} chunks fit the memory budget; \
             std_error rests on that few batch means and is itself uncertain",
            plan.chunks
        ));
    }
    if job.estimator == Estimator::Reparameterization && job.objective.has_step() {
        warnings.push(
            "the objective compares an x-dependent value (a step): the pathwise gradient \
             misses the jump and is biased; use score_function for such f"
                .to_string(),
        );
    }
    if non_finite > 0 {
        warnings.push(format!(
            "{non_finite} samples had a non-finite objective or gradient and were dropped; \
             the estimate covers the rest only"
        ));
    }
    if underflow > 0 {
        warnings.push(format!(
            "{underflow} of {} samples had an entry of x below 2.2e-308 (the smallest normal \
             64-bit float), so x holds 0 or a subnormal there while the objective uses x itself: \
             f and its gradient saw the rounded x at those samples. log(x), log(x[i]) (and for \
             beta log(1 - x), log1p(-x)) read the exact value drawn in log space; write f \
             through them where it matters (such as 1/x or x^-k)",
            job.samples
        ));
    }
    if outs.iter().any(|o| o.overflow) {
        warnings.push(
            "some values are so large (beyond about 1e154) that their squares overflow 64-bit \
             floats: the variances affected are not finite and are reported as null"
                .to_string(),
        );
    }
    if !job.objective.depends_on_x() {
        warnings.push("the objective does not depend on x".to_string());
    }
    if let Estimator::GumbelSoftmax { temperature, .. } = job.estimator {
        warnings.push(format!(
            "Gumbel-Softmax at temperature {temperature} is biased; compare with the reference"
        ));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = f.n.max(1.0);
    let fitted = super::estimators::exact::category_fit(dist, &job.estimator, &xs, f.n);
    Ok(Estimate {
        estimator: job.estimator.kind(),
        unbiased: job.estimator.unbiased(),
        layout,
        gradient,
        variance,
        std_error,
        objective: Summary {
            mean: f.mean,
            variance: f.variance(),
            std_error: (f.variance() / n).sqrt(),
        },
        reference,
        diagnostics: Diagnostics {
            samples: job.samples,
            seed: job.seed,
            elapsed_ms: elapsed * 1e3,
            samples_per_second: job.samples as f64 / elapsed.max(1e-9),
            non_finite,
            underflow,
            sample_mean: xs.iter().map(|m| m.mean).collect(),
            sample_variance: xs.iter().map(Moments::variance).collect(),
            baseline: baseline_report,
            category_frequencies: fitted,
            chunks: plan.chunks,
            warnings,
        },
    })
}

/// Leave-one-chunk-out optimal baselines: for chunk c and component k,
/// b = C_uv/M2_v of all chunks but c (merged from prefix and suffix summaries,
/// in a fixed order), so b is independent of chunk c's samples.
fn cross_fit(outs: &[ChunkOut], p: usize, coef: &mut [Vec<f64>]) {
    let c = outs.len();
    for k in 0..p {
        let mut suffix = vec![CoMoments::default(); c + 1];
        for i in (0..c).rev() {
            let mut m = outs[i].terms[k];
            m.merge(&suffix[i + 1]);
            suffix[i] = m;
        }
        let mut prefix = CoMoments::default();
        for (i, (row, out)) in coef.iter_mut().zip(outs).enumerate() {
            let mut rest = prefix;
            rest.merge(&suffix[i + 1]);
            row[k] = rest.optimal_b();
            prefix.merge(&out.terms[k]);
        }
    }
}

/// Gradient components that are not free parameters: the entries above the
/// diagonal of a lower-triangular matrix parameter (such as `scale_tril`), fixed
/// at 0. f may reference the whole matrix, so its direct term ∇θf has entries
/// there; the gradient keeps them at exactly 0.
fn fixed_zeros(dist: &dyn Distribution) -> Vec<usize> {
    let specs = dist.family().params;
    let mut out = Vec::new();
    let mut offset = 0;
    for q in dist.params().iter().filter(|q| q.differentiable) {
        let lower = specs
            .iter()
            .any(|s| s.name == q.name && s.constraint == Constraint::LowerTriangular);
        if let (true, &[rows, cols]) = (lower, q.shape.as_slice()) {
            out.extend((0..rows).flat_map(|i| (i + 1..cols).map(move |j| offset + i * cols + j)));
        }
        offset += q.values.len();
    }
    out
}

fn aux_len(job: &Job) -> usize {
    let dist = job.distribution.as_ref();
    match job.estimator {
        Estimator::Reparameterization => dist.reparameterized().map_or(0, |r| r.aux_len()),
        Estimator::GumbelSoftmax { .. } => dist.relaxed().map_or(0, |r| r.relaxed_aux_len()),
        _ => 0,
    }
}

/// Buffers of one chunk worker, allocated once per chunk.
struct Buffers {
    x: Vec<f64>,
    aux: Vec<f64>,
    /// Exact log values of the samples, for a family drawn in log space.
    logx: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    f: Vec<f64>,
    base: Vec<f64>,
    keep: Vec<bool>,
}

/// A worker's buffers, allocated once and reused for every chunk it runs.
struct Scratch {
    ws: Workspace,
    buf: Buffers,
}

impl Scratch {
    fn new(job: &Job, plan: &Plan) -> Scratch {
        let dist = job.distribution.as_ref();
        let (d, p) = (dist.dim(), grad_len(dist));
        // No batch is longer than the longest chunk (chunk 0).
        let cap = plan.capacity().min(plan.chunk_len(0) as usize).max(1);
        Scratch {
            ws: job.objective.workspace(cap),
            buf: Buffers {
                x: vec![0.0; cap * d],
                aux: vec![0.0; cap * aux_len(job)],
                logx: vec![0.0; cap * log_len(dist)],
                u: vec![0.0; cap * p],
                v: vec![0.0; cap * p],
                f: vec![0.0; cap],
                base: vec![0.0; cap],
                keep: vec![true; cap],
            },
        }
    }
}

fn run_chunk(
    job: &Job,
    plan: &Plan,
    c: usize,
    mut rng: SampleRng,
    controls: &Controls<'_>,
    scratch: &mut Scratch,
) -> Result<ChunkOut, RunError> {
    let dist: &dyn Distribution = job.distribution.as_ref();
    let prog = &job.objective;
    let (d, p) = (dist.dim(), grad_len(dist));
    let Scratch { ws, buf } = scratch;
    let mut out = ChunkOut {
        terms: vec![CoMoments::default(); p],
        ..ChunkOut::default()
    };
    // x statistics by shifted sums (shift = the chunk's first sample).
    let mut shift: Option<Vec<f64>> = None;
    let mut s1 = vec![0.0; d];
    let mut s2 = vec![0.0; d];
    let mut used_x = 0u64;
    // For small d, exact per-batch moments of each coordinate instead.
    let mut xm_small = vec![Moments::default(); if d <= 4 { d } else { 0 }];
    let mut stats = Vec::with_capacity(p + 1);
    for b in plan.batches(plan.chunk_len(c)) {
        if controls.cancel.load(Ordering::Relaxed) {
            return Err(RunError::Cancelled);
        }
        if controls.deadline.is_some_and(|t| Instant::now() >= t) {
            return Err(RunError::DeadlineExceeded {
                done: controls.progress.load(Ordering::Relaxed),
                total: job.samples,
            });
        }
        let use_v = draw_batch(job, &mut rng, ws, buf, b)?;
        if dist.log_space().is_some() && prog.reads_x() {
            out.underflow += buf.x[..b * d]
                .chunks_exact(d)
                .filter(|row| row.iter().any(|v| v.abs() < f64::MIN_POSITIVE))
                .count() as u64;
        }
        // Summaries of the batch; a non-finite value anywhere makes a summary
        // non-finite, and only then does the slow path look for it.
        summarise(buf, b, p, use_v, &mut stats);
        let mut b_used = b;
        if !stats.iter().all(CoMoments::is_finite) {
            let (x, f, u) = (&buf.x[..b * d], &buf.f[..b], &buf.u[..b * p]);
            let keep = &mut buf.keep[..b];
            for (r, k) in keep.iter_mut().enumerate() {
                *k = f[r].is_finite() && (0..p).all(|j| u[j * b + r].is_finite());
            }
            match keep.iter().position(|k| !k) {
                // Every value is finite: only squares overflowed. The means stand;
                // the variances that overflowed are reported as such (null).
                None => out.overflow = true,
                Some(r) if job.on_non_finite == NonFinitePolicy::Error => {
                    return Err(RunError::NonFiniteSample {
                        x: x[r * d..(r + 1) * d].to_vec(),
                        f: f[r],
                        gradient_term: (0..p).map(|j| u[j * b + r]).find(|v| !v.is_finite()),
                    });
                }
                Some(_) => {
                    b_used = compact(buf, b, d, p, use_v);
                    out.non_finite += (b - b_used) as u64;
                    summarise(buf, b_used, p, use_v, &mut stats);
                    out.overflow |= !stats.iter().all(CoMoments::is_finite);
                }
            }
        }
        let (fm, terms) = stats.split_first().expect("f comes first");
        out.f.merge(&Moments {
            n: fm.n,
            mean: fm.mean_u,
            m2: fm.m2_u,
        });
        for (t, m) in out.terms.iter_mut().zip(terms) {
            t.merge(m);
        }
        let x = &buf.x[..b_used * d];
        if b_used > 0 && d == 1 {
            xm_small[0].merge(&Moments::of(x));
        } else if b_used > 0 && d <= 4 {
            for (j, xm) in xm_small.iter_mut().enumerate() {
                let col = &mut buf.base[..b_used];
                for (c, row) in col.iter_mut().zip(x.chunks_exact(d)) {
                    *c = row[j];
                }
                xm.merge(&Moments::of(col));
            }
        } else if b_used > 0 {
            let sh = shift.get_or_insert_with(|| x[..d].to_vec());
            for row in x.chunks_exact(d) {
                for j in 0..d {
                    let t = row[j] - sh[j];
                    s1[j] += t;
                    s2[j] += t * t;
                }
            }
            used_x += b_used as u64;
        }
        controls.progress.fetch_add(b as u64, Ordering::Relaxed);
    }
    let n = used_x as f64;
    out.x = match shift {
        _ if d <= 4 => xm_small,
        Some(sh) if n > 0.0 => (0..d)
            .map(|j| Moments {
                n,
                mean: sh[j] + s1[j] / n,
                m2: non_negative(s2[j] - s1[j] * s1[j] / n),
            })
            .collect(),
        _ => vec![Moments::default(); d],
    };
    Ok(out)
}

/// Draws a batch of `b` samples and writes f and the per-sample gradient terms
/// u (and, for the score function, the scores v) into `buf`; returns whether v
/// holds scores for the optimal baseline. A family drawn in log space draws
/// its exact log values beside x: the objective reads them for `log(x)`, and
/// the score and the pathwise pullback use them, so no underflowed x enters.
fn draw_batch(
    job: &Job,
    rng: &mut SampleRng,
    ws: &mut Workspace,
    buf: &mut Buffers,
    b: usize,
) -> Result<bool, RunError> {
    let dist = job.distribution.as_ref();
    match job.estimator {
        Estimator::ScoreFunction { baseline } => {
            score_batch(job, rng, ws, buf, b, baseline);
            Ok(baseline == Baseline::Optimal)
        }
        Estimator::Reparameterization => {
            pathwise_batch(job, rng, ws, buf, b)?;
            Ok(false)
        }
        Estimator::GumbelSoftmax { temperature, hard } => {
            let rel = dist.relaxed().ok_or(RunError::NoRelaxation)?;
            let (d, p) = (dist.dim(), grad_len(dist));
            let direct = job.objective.has_direct_gradient();
            let (x, u) = (&mut buf.x[..b * d], &mut buf.u[..b * p]);
            let aux = &mut buf.aux[..b * rel.relaxed_aux_len()];
            rel.relaxed_sample(rng, temperature, hard, x, aux);
            let want = Want {
                grad_x: true,
                grad_theta: direct,
            };
            let o = job.objective.eval(ws, x, b, want);
            buf.f[..b].copy_from_slice(o.f);
            rel.relaxed_pullback(temperature, aux, o.grad_x, u);
            add_direct(u, direct.then_some(o.grad_theta));
            Ok(false)
        }
        Estimator::Exact => unreachable!("exact enumeration does not sample"),
    }
}

/// Score-function terms of a batch: f, the scores into v, u = ∇θf + (f − b)·s.
fn score_batch(
    job: &Job,
    rng: &mut SampleRng,
    ws: &mut Workspace,
    buf: &mut Buffers,
    b: usize,
    baseline: Baseline,
) {
    let dist = job.distribution.as_ref();
    let (d, p) = (dist.dim(), grad_len(dist));
    let direct = job.objective.has_direct_gradient();
    let x = &mut buf.x[..b * d];
    let logx = &mut buf.logx[..b * log_len(dist)];
    match dist.log_space() {
        Some(l) => l.sample_log(rng, x, logx),
        None => dist.sample(rng, x),
    }
    let want = Want {
        grad_x: false,
        grad_theta: direct,
    };
    let o = job.objective.eval_logs(ws, x, logx, b, want);
    let f = &mut buf.f[..b];
    f.copy_from_slice(o.f);
    let s = &mut buf.v[..b * p];
    match dist.log_space() {
        Some(l) => l.score_log(x, logx, s),
        None => dist.score(x, s),
    }
    let base: &[f64] = match baseline {
        Baseline::None | Baseline::Optimal => &[],
        Baseline::Constant(ref c) => std::slice::from_ref(c),
        Baseline::LeaveOneOut => {
            score_function::leave_one_out(f, &mut buf.base[..b]);
            &buf.base[..b]
        }
    };
    let u = &mut buf.u[..b * p];
    score_function::terms(f, base, s, direct.then_some(o.grad_theta), u);
}

/// Pathwise terms of a batch: f, and u = ∇θf + (∂x/∂θ)ᵀ∇ₓf (in log space, with
/// ∂f/∂(log x), for a family drawn there).
fn pathwise_batch(
    job: &Job,
    rng: &mut SampleRng,
    ws: &mut Workspace,
    buf: &mut Buffers,
    b: usize,
) -> Result<(), RunError> {
    let dist = job.distribution.as_ref();
    let rep = dist
        .reparameterized()
        .ok_or(RunError::NoReparameterization)?;
    let (d, p) = (dist.dim(), grad_len(dist));
    let direct = job.objective.has_direct_gradient();
    let (x, u) = (&mut buf.x[..b * d], &mut buf.u[..b * p]);
    let aux = &mut buf.aux[..b * rep.aux_len()];
    let logx = &mut buf.logx[..b * log_len(dist)];
    match dist.log_space() {
        Some(l) => l.rsample_log(rng, x, aux, logx),
        None => rep.rsample(rng, x, aux),
    }
    let want = Want {
        grad_x: true,
        grad_theta: direct,
    };
    let o = job.objective.eval_logs(ws, x, logx, b, want);
    buf.f[..b].copy_from_slice(o.f);
    match dist.log_space() {
        Some(l) => l.pullback_log(x, aux, o.grad_x, o.grad_log, u),
        None => rep.pullback(x, aux, o.grad_x, u),
    }
    add_direct(u, direct.then_some(o.grad_theta));
    Ok(())
}

fn add_direct(u: &mut [f64], direct: Option<&[f64]>) {
    if let Some(dv) = direct {
        for (a, b) in u.iter_mut().zip(dv) {
            *a += b;
        }
    }
}

/// Summaries of a batch of `b` into `out` (capacity reserved, so no allocation):
/// f first (as u), then each gradient component.
fn summarise(buf: &Buffers, b: usize, p: usize, use_v: bool, out: &mut Vec<CoMoments>) {
    out.clear();
    let f = Moments::of(&buf.f[..b]);
    out.push(CoMoments {
        n: f.n,
        mean_u: f.mean,
        m2_u: f.m2,
        ..CoMoments::default()
    });
    for k in 0..p {
        let uk = &buf.u[k * b..(k + 1) * b];
        out.push(if use_v {
            CoMoments::of(uk, &buf.v[k * b..(k + 1) * b])
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

/// Moves the rows marked in `buf.keep` to the front of every buffer; returns how
/// many were kept.
fn compact(buf: &mut Buffers, b: usize, d: usize, p: usize, use_v: bool) -> usize {
    let keep = &buf.keep[..b];
    let kept = keep.iter().filter(|k| **k).count();
    let rows = || keep.iter().enumerate().filter(|(_, k)| **k).map(|(r, _)| r);
    for (w, r) in rows().enumerate() {
        buf.f[w] = buf.f[r];
        buf.x.copy_within(r * d..(r + 1) * d, w * d);
    }
    // Component-major buffers: component k moves from k·b to k·kept (never
    // overwriting a value not yet moved, since kept ≤ b).
    let buffers = [Some(&mut buf.u), use_v.then_some(&mut buf.v)];
    for buffer in buffers.into_iter().flatten() {
        for k in 0..p {
            for (w, r) in rows().enumerate() {
                buffer[k * kept + w] = buffer[k * b + r];
            }
        }
    }
    kept
}

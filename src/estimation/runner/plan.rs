//! How a job is cut into chunks and batches, and on how many threads it runs:
//! functions of the job alone (the thread count changes nothing in the result).

use std::sync::OnceLock;

use crate::estimation::distributions::{grad_len, log_len};
use crate::estimation::job::Job;

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
pub(super) const MIN_CHUNKS: u64 = 64;
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

    /// The plan of a job whose sampler keeps `aux_len` numbers per sample, and
    /// the numbers one sample touches: x, aux, log x, the terms u and v and the
    /// baseline (3P, about), and the objective's own workspace.
    pub fn for_job(job: &Job, aux_len: usize) -> (Plan, usize) {
        let dist = job.distribution.as_ref();
        let (d, p) = (dist.dim(), grad_len(dist));
        let per_sample = d + aux_len + log_len(dist) + 3 * p + job.objective.floats_per_sample();
        (
            Plan::new(job.samples, per_sample, 6 * p + 3 * d),
            per_sample,
        )
    }

    pub fn chunk_len(&self, c: usize) -> u64 {
        self.base + u64::from(c < self.extra)
    }

    /// Sizes of the batches of a chunk of `len` samples: balanced, each ≥ 2
    /// whenever `len` ≥ 2 (the leave-one-out baseline needs two).
    pub(super) fn batches(&self, len: u64) -> impl Iterator<Item = usize> {
        let count = (len / self.batch as u64).max(1);
        let (base, extra) = (len / count, len % count);
        (0..count).map(move |i| (base + u64::from(i < extra)) as usize)
    }

    pub(super) fn capacity(&self) -> usize {
        2 * self.batch
    }
}

/// Numbers of work (samples × numbers touched per sample) below which a job
/// runs on one thread: starting another costs more than it saves.
const WORK_PER_THREAD: u64 = 1 << 18;

/// The number of threads [`run`](super::run) uses: one per available core,
/// read once per process. (`available_parallelism` opens and reads the cgroup
/// quota files on every call, some 10 µs: more than a small job's sampling.
/// The count changes nothing in a result, only how fast it comes.)
pub fn default_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Threads for a plan: at most `threads`, one per chunk at most, and one per
/// [`WORK_PER_THREAD`] numbers of work.
pub(super) fn threads(plan: &Plan, samples: u64, per_sample: usize, threads: usize) -> usize {
    threads
        .min(plan.chunks)
        .min(
            samples
                .saturating_mul(per_sample as u64)
                .div_ceil(WORK_PER_THREAD) as usize,
        )
        .max(1)
}

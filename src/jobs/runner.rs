//! The runner: every estimation runs on tokio's blocking pool (it is CPU-bound
//! and parallel on the job's own threads, so it must never occupy an async
//! worker), at most `capacity` at a time, in the order they come: a burst of
//! requests queues briefly instead of thrashing the cores. The hand-off to the
//! pool is shared by the runs queued behind a working one ([`super::lanes`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::{Notify, Semaphore, oneshot};

use super::lanes::Lanes;
use super::scheduler::{Class, Scheduler};
use crate::estimation::runner::{
    ChunkGate, Hooks, Partial, default_threads, run_partial, run_with,
};
use crate::estimation::{Controls, Estimate, Job, RunError};

/// Where a run is: queued, running (or done), or given up before it started.
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const GIVEN_UP: u8 = 2;

/// Shared between a run and whoever watches or stops it.
#[derive(Debug, Default)]
pub struct Handle {
    /// Read by the core between batches; set to stop the run.
    cancel: AtomicBool,
    /// Samples done so far, written by the core.
    progress: AtomicU64,
    /// `QUEUED`, then `STARTED` (set by the lane that runs it) or `GIVEN_UP`
    /// (by its caller, cancelled or out of time in the queue, or by the lane
    /// finding it cancelled): whoever moves it first decides.
    state: AtomicU8,
    /// Wakes a run that is still queued when it is cancelled.
    wake: Notify,
}

impl Handle {
    pub fn new() -> Arc<Handle> {
        Arc::new(Handle::default())
    }

    /// Asks the run to stop: at once if it is queued, at the next batch if it
    /// is running.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        // notify_one keeps a wake-up for a waiter that has not started waiting yet.
        self.wake.notify_one();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn progress(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Whether the run has started (the job is then running, not queued).
    pub fn started(&self) -> bool {
        self.state.load(Ordering::Acquire) == STARTED
    }

    /// Moves a queued run to `to`; false if it had already left the queue.
    fn leave_queue(&self, to: u8) -> bool {
        self.state
            .compare_exchange(QUEUED, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Cancels a run when dropped: a request's handler future is dropped when its
/// client disconnects, and the run it started then stops too.
struct CancelOnDrop(Arc<Handle>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// When a run must be done by.
#[derive(Debug, Clone, Copy)]
pub enum Deadline {
    /// A fixed instant, waiting in the queue included (a request's budget).
    At(Instant),
    /// This long after the run starts (a background job's budget).
    AfterStart(Duration),
}

/// Why a run gave no result.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Failure {
    #[error(transparent)]
    Run(#[from] RunError),
    /// The deadline passed while the run was queued (every lane busy).
    #[error(
        "the run did not finish within its time budget: it waited for a free slot the whole \
         time (all {0} estimation slots stayed busy)"
    )]
    NotStarted(usize),
    /// A bug: the run panicked. The message is for the logs only.
    #[error("the run panicked: {0}")]
    Panicked(String),
}

/// Runs estimation work on the blocking pool: interactive runs and background
/// jobs on lanes of their own (so neither waits for the other's to start), and
/// every chunk of either through one scheduler of `capacity` slots, where
/// interactive chunks go first.
#[derive(Debug, Clone)]
pub struct Runner {
    interactive: Arc<Lanes>,
    background: Arc<Lanes>,
    scheduler: Arc<Scheduler>,
    capacity: usize,
    /// Bounds request preparation (parsing, compiling, building distributions)
    /// separately, so it never waits behind long runs, yet a burst of large
    /// requests cannot hold unbounded memory or CPU at once.
    preparing: Arc<Semaphore>,
}

impl Runner {
    /// `capacity` chunks at once (one per core, say), `capacity` interactive
    /// runs and `jobs` background jobs started at once.
    pub fn new(capacity: usize, jobs: usize) -> Runner {
        let capacity = capacity.max(1);
        Runner {
            interactive: Lanes::new(capacity),
            background: Lanes::new(jobs.max(1)),
            scheduler: Scheduler::new(capacity),
            capacity,
            preparing: Arc::new(Semaphore::new(capacity)),
        }
    }

    /// Runs CPU work that prepares a run (validation, compilation) on the
    /// blocking pool, at most `capacity` at a time: cheap for ordinary
    /// requests, but bounded for pathological ones. (The HTTP handlers
    /// prepare small requests inline instead: a hop here costs more than they do.)
    pub async fn prepare<T, F>(&self, work: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = self
            .preparing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Failure::Run(RunError::Cancelled))?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(work)
        })
        .await
        .map_err(panicked)
    }

    /// Threads waiting for a chunk slot: (interactive, background).
    pub fn waiting(&self) -> (usize, usize) {
        self.scheduler.waiting()
    }

    /// Runs `work` for `class` once a lane of its class is free, with controls
    /// wired to `handle` and the deadline, and the gate its chunks pass. If
    /// this future is dropped (the client went away), the run is cancelled;
    /// its lane is free again when the work has actually stopped.
    pub async fn run<T, F>(
        &self,
        class: Class,
        handle: Arc<Handle>,
        deadline: Deadline,
        work: F,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Controls<'_>, &dyn ChunkGate) -> Result<T, RunError> + Send + 'static,
    {
        let _guard = CancelOnDrop(handle.clone());
        if handle.is_cancelled() {
            return Err(RunError::Cancelled.into());
        }
        let (sender, mut result) = oneshot::channel();
        let gate = self.scheduler.gate(class);
        let lanes = match class {
            Class::Interactive => &self.interactive,
            Class::Background => &self.background,
        };
        lanes.submit(task(
            handle.clone(),
            deadline,
            move |c: &Controls<'_>| work(c, &gate),
            sender,
        ));
        let expired = async {
            match deadline {
                Deadline::At(t) => tokio::time::sleep_until(t.into()).await,
                Deadline::AfterStart(_) => std::future::pending().await,
            }
        };
        // The result first: a run that is done needs no timer.
        tokio::select! {
            biased;
            done = &mut result => return outcome(done),
            () = handle.wake.notified() => {
                if handle.leave_queue(GIVEN_UP) {
                    return Err(RunError::Cancelled.into());
                }
            }
            () = expired => {
                if handle.leave_queue(GIVEN_UP) {
                    return Err(Failure::NotStarted(self.capacity));
                }
            }
        }
        // It had started: it sees the cancellation or the deadline itself.
        outcome(result.await)
    }
}

/// What a run's lane sent; nothing at all when the runtime dropped the queued
/// run at shutdown.
fn outcome<T>(
    received: Result<Result<T, Failure>, oneshot::error::RecvError>,
) -> Result<T, Failure> {
    received.unwrap_or(Err(Failure::Run(RunError::Cancelled)))
}

/// The queued form of a run: started only if its caller still waits for it,
/// in the caller's span, with a panic caught (and logged there) as the run's
/// failure.
fn task<T, F>(
    handle: Arc<Handle>,
    deadline: Deadline,
    work: F,
    sender: oneshot::Sender<Result<T, Failure>>,
) -> Box<dyn FnOnce() + Send>
where
    T: Send + 'static,
    F: FnOnce(&Controls<'_>) -> Result<T, RunError> + Send + 'static,
{
    let span = tracing::Span::current();
    Box::new(move || {
        if handle.is_cancelled() {
            if handle.leave_queue(GIVEN_UP) {
                let _ = sender.send(Err(RunError::Cancelled.into()));
            }
            return;
        }
        if !handle.leave_queue(STARTED) {
            return;
        }
        let run_deadline = match deadline {
            Deadline::At(t) => t,
            Deadline::AfterStart(d) => Instant::now().checked_add(d).unwrap_or_else(far_future),
        };
        let _in_flight = InFlight::enter();
        let controls = Controls {
            cancel: &handle.cancel,
            deadline: Some(run_deadline),
            progress: &handle.progress,
        };
        let result = span.in_scope(|| {
            catch_unwind(AssertUnwindSafe(|| work(&controls))).map_err(|payload| {
                let message = panic_text(payload.as_ref());
                tracing::error!(panic = %message, "an estimation task panicked");
                Failure::Panicked(message)
            })
        });
        let _ = sender.send(result.and_then(|r| r.map_err(Failure::Run)));
    })
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

/// A blocking task that did not return: it panicked (or was aborted at
/// shutdown). Logged here, once, in the caller's span (a request's, or a
/// background job's); whoever reports the failure later does not log it again.
fn panicked(e: tokio::task::JoinError) -> Failure {
    let message = match e.try_into_panic() {
        Ok(payload) => panic_text(payload.as_ref()),
        Err(e) => e.to_string(),
    };
    tracing::error!(panic = %message, "an estimation task panicked");
    Failure::Panicked(message)
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// Counts the runs executing, for `/metrics`.
struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        metrics::gauge!("gradest_estimations_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("gradest_estimations_in_flight").decrement(1.0);
    }
}

/// A validated job and the range of its chunks to run (all of them: `None`).
#[derive(Debug)]
pub struct Work {
    pub job: Job,
    /// `(start, count)`: a partial run, answered with its chunks' summaries.
    pub chunks: Option<(usize, usize)>,
}

/// What a run gives: the result, or a partial run's summaries.
#[derive(Debug, Clone)]
pub enum Output {
    Estimate(Box<Estimate>),
    Partial(Partial),
}

/// No gate, nothing resumed, no sink, every core.
pub fn default_hooks() -> Hooks<'static> {
    Hooks::threads(default_threads())
}

/// Runs `work` with `hooks`, counting the samples it drew.
pub fn execute(
    work: &Work,
    controls: &Controls<'_>,
    hooks: &Hooks<'_>,
) -> Result<Output, RunError> {
    match work.chunks {
        None => estimate_with(&work.job, controls, hooks).map(|e| Output::Estimate(Box::new(e))),
        Some((start, count)) => {
            let before = controls.progress.load(Ordering::Relaxed);
            let result = run_partial(&work.job, controls, hooks, start, count);
            let drawn = controls
                .progress
                .load(Ordering::Relaxed)
                .saturating_sub(before);
            metrics::counter!("gradest_samples_drawn_total").increment(drawn);
            result.map(Output::Partial)
        }
    }
}

/// Runs one job with the core's runner, its chunks through `gate`, and counts
/// the samples it drew.
pub fn estimate(
    job: &Job,
    controls: &Controls<'_>,
    gate: &dyn ChunkGate,
) -> Result<Estimate, RunError> {
    let hooks = Hooks {
        gate,
        ..Hooks::threads(default_threads())
    };
    estimate_with(job, controls, &hooks)
}

/// Runs one job with the core's runner and `hooks`, and counts the samples it drew.
pub fn estimate_with(
    job: &Job,
    controls: &Controls<'_>,
    hooks: &Hooks<'_>,
) -> Result<Estimate, RunError> {
    let before = controls.progress.load(Ordering::Relaxed);
    let result = run_with(job, controls, hooks);
    let drawn = match &result {
        Ok(e) => e.diagnostics.samples,
        Err(_) => controls
            .progress
            .load(Ordering::Relaxed)
            .saturating_sub(before),
    };
    metrics::counter!("gradest_samples_drawn_total").increment(drawn);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Deadline {
        Deadline::AfterStart(Duration::from_secs(30))
    }

    /// Work that runs until it is cancelled.
    fn until_cancelled(c: &Controls<'_>, _: &dyn ChunkGate) -> Result<(), RunError> {
        while !c.cancel.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Err(RunError::Cancelled)
    }

    #[tokio::test]
    async fn a_panic_fails_its_run_only() {
        let runner = Runner::new(1, 1);
        let failed: Result<(), _> = runner
            .run(Class::Interactive, Handle::new(), budget(), |_, _| {
                panic!("boom")
            })
            .await;
        assert!(
            matches!(&failed, Err(Failure::Panicked(m)) if m.contains("boom")),
            "{failed:?}"
        );
        let ok = runner
            .run(Class::Interactive, Handle::new(), budget(), |_, _| Ok(7))
            .await;
        assert_eq!(ok, Ok(7), "the lane survived and the runner still works");
    }

    #[tokio::test]
    async fn a_deadline_that_passes_in_the_queue_is_a_failure() {
        let runner = Runner::new(1, 1);
        let busy = Handle::new();
        let first = tokio::spawn({
            let (runner, busy) = (runner.clone(), busy.clone());
            async move {
                runner
                    .run(Class::Interactive, busy, budget(), until_cancelled)
                    .await
            }
        });
        while !busy.started() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let deadline = Deadline::At(Instant::now() + Duration::from_millis(50));
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let queued: Result<(), _> = runner
            .run(Class::Interactive, Handle::new(), deadline, move |_, _| {
                r.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert_eq!(queued, Err(Failure::NotStarted(1)));
        busy.cancel();
        assert_eq!(first.await.unwrap(), Err(Failure::Run(RunError::Cancelled)));
        // The lane reaches the given-up run after the busy one, and skips it.
        let next = runner
            .run(Class::Interactive, Handle::new(), budget(), |_, _| Ok(2))
            .await;
        assert_eq!(next, Ok(2));
        assert!(
            !ran.load(Ordering::SeqCst),
            "a run given up in the queue never starts"
        );
    }

    #[tokio::test]
    async fn cancelling_a_queued_run_stops_its_wait() {
        let runner = Runner::new(1, 1);
        let busy = Handle::new();
        let first = tokio::spawn({
            let (runner, busy) = (runner.clone(), busy.clone());
            async move {
                runner
                    .run(Class::Interactive, busy, budget(), until_cancelled)
                    .await
            }
        });
        let waiting = Handle::new();
        let second = tokio::spawn({
            let (runner, waiting) = (runner.clone(), waiting.clone());
            async move {
                runner
                    .run(Class::Interactive, waiting, budget(), |_, _| Ok(()))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiting.cancel();
        let second = tokio::time::timeout(Duration::from_secs(5), second).await;
        assert_eq!(
            second.unwrap().unwrap(),
            Err(Failure::Run(RunError::Cancelled))
        );
        assert!(!waiting.started());
        busy.cancel();
        first.await.unwrap().unwrap_err();
    }

    #[tokio::test]
    async fn dropping_the_caller_cancels_the_run() {
        let runner = Runner::new(1, 1);
        let handle = Handle::new();
        let call = tokio::spawn({
            let (runner, handle) = (runner.clone(), handle.clone());
            async move {
                runner
                    .run(Class::Interactive, handle, budget(), until_cancelled)
                    .await
            }
        });
        while !handle.started() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        call.abort();
        let _ = call.await;
        assert!(handle.is_cancelled());
        // The work stops, so its lane is free again.
        let next = tokio::time::timeout(
            Duration::from_secs(5),
            runner.run(Class::Interactive, Handle::new(), budget(), |_, _| Ok(1)),
        )
        .await;
        assert_eq!(next.unwrap(), Ok(1));
    }
}

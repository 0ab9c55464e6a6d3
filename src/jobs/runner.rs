//! The runner: every estimation runs on tokio's blocking pool (it is CPU-bound
//! and parallel on the job's own threads, so it must never occupy an async worker),
//! behind a semaphore that bounds how many run at once, so a burst of requests
//! queues briefly instead of thrashing the cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::{Notify, Semaphore};

use crate::estimation::{Controls, Estimate, Job, RunError, run};

/// Shared between a run and whoever watches or stops it.
#[derive(Debug, Default)]
pub struct Handle {
    /// Read by the core between batches; set to stop the run.
    cancel: AtomicBool,
    /// Samples done so far, written by the core.
    progress: AtomicU64,
    /// Set once the run holds a permit (the job is then running, not queued).
    started: AtomicBool,
    /// Wakes a run that is still waiting for a permit when it is cancelled.
    wake: Notify,
}

impl Handle {
    pub fn new() -> Arc<Handle> {
        Arc::new(Handle::default())
    }

    /// Asks the run to stop: at once if it is waiting for a permit, at the next
    /// batch if it is running.
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

    pub fn started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
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
    /// A fixed instant, waiting for a permit included (a request's budget).
    At(Instant),
    /// This long after the run starts (a background job's budget).
    AfterStart(Duration),
}

/// Why a run gave no result.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Failure {
    #[error(transparent)]
    Run(#[from] RunError),
    /// The deadline passed while every permit was taken.
    #[error(
        "the run did not finish within its time budget: it waited for a free slot the whole \
         time (all {0} estimation slots stayed busy)"
    )]
    NotStarted(usize),
    /// A bug: the run panicked. The message is for the logs only.
    #[error("the run panicked: {0}")]
    Panicked(String),
}

/// Runs estimation work on the blocking pool, at most `capacity` at a time.
#[derive(Debug, Clone)]
pub struct Runner {
    permits: Arc<Semaphore>,
    capacity: usize,
    /// Bounds request preparation (parsing, compiling, building distributions)
    /// separately, so it never waits behind long runs, yet a burst of large
    /// requests cannot hold unbounded memory or CPU at once.
    preparing: Arc<Semaphore>,
}

impl Runner {
    pub fn new(capacity: usize) -> Runner {
        let capacity = capacity.max(1);
        Runner {
            permits: Arc::new(Semaphore::new(capacity)),
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

    /// Runs `work` once a permit is free, with controls wired to `handle` and
    /// the deadline. If this future is dropped (the client went away), the run
    /// is cancelled; its permit is released when the work has actually stopped.
    pub async fn run<T, F>(
        &self,
        handle: Arc<Handle>,
        deadline: Deadline,
        work: F,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Controls<'_>) -> Result<T, RunError> + Send + 'static,
    {
        let _guard = CancelOnDrop(handle.clone());
        if handle.is_cancelled() {
            return Err(RunError::Cancelled.into());
        }
        let wait_until = match deadline {
            Deadline::At(t) => Some(tokio::time::Instant::from_std(t)),
            Deadline::AfterStart(_) => None,
        };
        let expired = async {
            match wait_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        let permit = tokio::select! {
            permit = self.permits.clone().acquire_owned() => {
                permit.map_err(|_| Failure::Run(RunError::Cancelled))?
            }
            () = handle.wake.notified() => return Err(RunError::Cancelled.into()),
            () = expired => return Err(Failure::NotStarted(self.capacity)),
        };
        let run_deadline = match deadline {
            Deadline::At(t) => t,
            Deadline::AfterStart(d) => Instant::now().checked_add(d).unwrap_or_else(far_future),
        };
        let span = tracing::Span::current();
        let h = handle.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _in_flight = InFlight::enter();
            h.started.store(true, Ordering::Relaxed);
            let controls = Controls {
                cancel: &h.cancel,
                deadline: Some(run_deadline),
                progress: &h.progress,
            };
            span.in_scope(|| work(&controls))
        })
        .await;
        joined.map_err(panicked)?.map_err(Failure::Run)
    }
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

/// Counts the runs holding a permit, for `/metrics`.
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

/// Runs one job with the core's runner and counts the samples it drew.
pub fn estimate(job: &Job, controls: &Controls<'_>) -> Result<Estimate, RunError> {
    let before = controls.progress.load(Ordering::Relaxed);
    let result = run(job, controls);
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
    fn until_cancelled(c: &Controls<'_>) -> Result<(), RunError> {
        while !c.cancel.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Err(RunError::Cancelled)
    }

    #[tokio::test]
    async fn a_panic_fails_its_run_only() {
        let runner = Runner::new(1);
        let failed: Result<(), _> = runner
            .run(Handle::new(), budget(), |_| panic!("boom"))
            .await;
        assert!(
            matches!(&failed, Err(Failure::Panicked(m)) if m.contains("boom")),
            "{failed:?}"
        );
        let ok = runner.run(Handle::new(), budget(), |_| Ok(7)).await;
        assert_eq!(ok, Ok(7), "the permit came back and the runner still works");
    }

    #[tokio::test]
    async fn a_deadline_that_passes_in_the_queue_is_a_failure() {
        let runner = Runner::new(1);
        let busy = Handle::new();
        let first = tokio::spawn({
            let (runner, busy) = (runner.clone(), busy.clone());
            async move { runner.run(busy, budget(), until_cancelled).await }
        });
        while !busy.started() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let deadline = Deadline::At(Instant::now() + Duration::from_millis(50));
        let queued: Result<(), _> = runner.run(Handle::new(), deadline, |_| Ok(())).await;
        assert_eq!(queued, Err(Failure::NotStarted(1)));
        busy.cancel();
        assert_eq!(first.await.unwrap(), Err(Failure::Run(RunError::Cancelled)));
    }

    #[tokio::test]
    async fn cancelling_a_queued_run_stops_its_wait() {
        let runner = Runner::new(1);
        let busy = Handle::new();
        let first = tokio::spawn({
            let (runner, busy) = (runner.clone(), busy.clone());
            async move { runner.run(busy, budget(), until_cancelled).await }
        });
        let waiting = Handle::new();
        let second = tokio::spawn({
            let (runner, waiting) = (runner.clone(), waiting.clone());
            async move { runner.run(waiting, budget(), |_| Ok(())).await }
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
        let runner = Runner::new(1);
        let handle = Handle::new();
        let call = tokio::spawn({
            let (runner, handle) = (runner.clone(), handle.clone());
            async move { runner.run(handle, budget(), until_cancelled).await }
        });
        while !handle.started() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        call.abort();
        let _ = call.await;
        assert!(handle.is_cancelled());
        // The work stops, so the permit is free again.
        let next = tokio::time::timeout(
            Duration::from_secs(5),
            runner.run(Handle::new(), budget(), |_| Ok(1)),
        )
        .await;
        assert_eq!(next.unwrap(), Ok(1));
    }
}

//! Background jobs: submitted, run by the [`Runner`] when a lane is free,
//! polled, cancelled, removed. The store is bounded; when it is full, the oldest
//! finished job makes room, and when none has finished a submission is refused.
//!
//! A `Mutex<HashMap>` is enough: it is held for a few map operations, never
//! across an await or a run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use thiserror::Error;
use tracing::Instrument;
use uuid::Uuid;

use super::runner::{Deadline, Failure, Handle, Runner, estimate};
use super::scheduler::Class;
use crate::estimation::{Estimate, Job, RunError};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Queued,
        State::Running,
        State::Succeeded,
        State::Failed,
        State::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded(Arc<Estimate>),
    Failed(Failure),
    Cancelled,
}

/// A job as seen at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: Uuid,
    pub state: State,
    pub samples_done: u64,
    pub samples_total: u64,
    pub outcome: Option<Outcome>,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Removal {
    /// The job was queued or running; it is now cancelled (and kept, so its
    /// status can be read).
    Cancelled(Snapshot),
    /// The job had finished; it is gone.
    Removed,
}

/// The store holds its maximum of unfinished jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "{capacity} background jobs are queued or running, the most this service keeps; wait for some to finish, or cancel some"
)]
pub struct StoreFull {
    pub capacity: usize,
}

struct Entry {
    handle: Arc<Handle>,
    samples: u64,
    outcome: Option<Outcome>,
}

impl Entry {
    fn snapshot(&self, id: Uuid) -> Snapshot {
        let state = match &self.outcome {
            Some(Outcome::Succeeded(_)) => State::Succeeded,
            Some(Outcome::Failed(_)) => State::Failed,
            Some(Outcome::Cancelled) => State::Cancelled,
            None if self.handle.started() => State::Running,
            None => State::Queued,
        };
        let done = match state {
            State::Succeeded => self.samples,
            _ => self.handle.progress().min(self.samples),
        };
        Snapshot {
            id,
            state,
            samples_done: done,
            samples_total: self.samples,
            outcome: self.outcome.clone(),
        }
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    /// Ids in submission order, for evicting the oldest finished job.
    order: VecDeque<Uuid>,
}

/// The background jobs of one service.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Mutex<Inner>>,
    runner: Runner,
    budget: Duration,
    capacity: usize,
}

impl Jobs {
    /// A store of at most `capacity` jobs, each given `budget` once it runs.
    pub fn new(runner: Runner, capacity: usize, budget: Duration) -> Jobs {
        Jobs {
            inner: Arc::default(),
            runner,
            budget,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job to run in the background (must be called within a tokio runtime).
    pub fn submit(&self, job: Job) -> Result<Snapshot, StoreFull> {
        let id = Uuid::new_v4();
        let handle = Handle::new();
        let snapshot = {
            let mut inner = self.lock();
            if inner.entries.len() >= self.capacity && !evict_oldest_finished(&mut inner) {
                return Err(StoreFull {
                    capacity: self.capacity,
                });
            }
            let entry = Entry {
                handle: handle.clone(),
                samples: job.samples,
                outcome: None,
            };
            let snapshot = entry.snapshot(id);
            inner.entries.insert(id, entry);
            inner.order.push_back(id);
            snapshot
        };
        let jobs = self.clone();
        // The job's span names it in whatever the run logs (a panic, say).
        let span = tracing::info_span!("job", job = %id);
        tokio::spawn(
            async move {
                let result = jobs
                    .runner
                    .run(
                        Class::Background,
                        handle,
                        Deadline::AfterStart(jobs.budget),
                        move |c, gate| estimate(&job, c, gate),
                    )
                    .await;
                jobs.finish(id, result);
            }
            .instrument(span),
        );
        Ok(snapshot)
    }

    fn finish(&self, id: Uuid, result: Result<Estimate, Failure>) {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(&id) else {
            return;
        };
        if entry.outcome.is_none() {
            entry.outcome = Some(match result {
                Ok(estimate) => Outcome::Succeeded(Arc::new(estimate)),
                Err(Failure::Run(RunError::Cancelled)) => Outcome::Cancelled,
                Err(failure) => Outcome::Failed(failure),
            });
        }
    }

    pub fn get(&self, id: Uuid) -> Option<Snapshot> {
        self.lock().entries.get(&id).map(|e| e.snapshot(id))
    }

    /// Cancels a queued or running job, or removes a finished one.
    pub fn delete(&self, id: Uuid) -> Option<Removal> {
        let mut inner = self.lock();
        let entry = inner.entries.get_mut(&id)?;
        if entry.outcome.is_none() {
            entry.handle.cancel();
            entry.outcome = Some(Outcome::Cancelled);
            return Some(Removal::Cancelled(entry.snapshot(id)));
        }
        inner.entries.remove(&id);
        inner.order.retain(|x| *x != id);
        Some(Removal::Removed)
    }

    /// How many jobs are in each state.
    pub fn counts(&self) -> Vec<(State, usize)> {
        let inner = self.lock();
        let mut counts: HashMap<State, usize> = HashMap::new();
        for (id, entry) in &inner.entries {
            *counts.entry(entry.snapshot(*id).state).or_default() += 1;
        }
        State::ALL
            .iter()
            .map(|s| (*s, counts.get(s).copied().unwrap_or(0)))
            .collect()
    }

    /// Cancels every unfinished job (at shutdown).
    pub fn cancel_all(&self) {
        let mut inner = self.lock();
        for entry in inner.entries.values_mut() {
            if entry.outcome.is_none() {
                entry.handle.cancel();
                entry.outcome = Some(Outcome::Cancelled);
            }
        }
    }
}

/// Removes the oldest finished job; false if every job is unfinished.
fn evict_oldest_finished(inner: &mut Inner) -> bool {
    let Some(pos) = inner
        .order
        .iter()
        .position(|id| inner.entries.get(id).is_some_and(|e| e.outcome.is_some()))
    else {
        return false;
    };
    if let Some(id) = inner.order.remove(pos) {
        inner.entries.remove(&id);
    }
    true
}

//! Background jobs on a [`JobStore`]: submitted into the store, claimed by a
//! replica's dispatcher, run on the [`Runner`] with their chunk summaries
//! checkpointed as they come, and ended in the store. Because chunks are
//! deterministic, a job whose process died (kill -9) or stopped (SIGTERM)
//! resumes from its checkpoints, on this replica or another, and finishes with
//! the same bits as a run in one go.
//!
//! The life of a job:
//! 1. [`Jobs::submit`] inserts it queued (or refuses: too many unfinished);
//! 2. the dispatcher [`JobStore::claim`]s queued jobs (or ones whose lease
//!    expired: their replica died) while fewer than `concurrency` run here;
//! 3. a run loads the job's checkpoints, runs the chunks left, and a flusher
//!    saves new summaries and renews the lease every `checkpoint_every`: a
//!    refusal (cancelled elsewhere, or taken over) stops the run;
//! 4. the run ends the job in the store ([`JobStore::finish`]), or, when the
//!    replica is shutting down, saves what it has and hands the job back
//!    ([`JobStore::release`]).
//!
//! Store calls block (SQLite, PostgreSQL): they run on tokio's blocking pool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

use super::persist::{
    Ending, JobRecord, JobStore, ListQuery, MemoryStore, Millis, NewJob, Status, StoreError,
};
use super::runner::{Deadline, Failure, Handle, Output, Runner, Work, execute};
use super::scheduler::Class;
use crate::estimation::RunError;
use crate::estimation::runner::{ChunkSummary, Hooks, default_threads};

/// A chunk's index and its summary's bytes, waiting to be saved.
type Checkpoint = (u64, Vec<u8>);
/// The summaries a run has produced since the last save.
type Pending = Arc<Mutex<Vec<Checkpoint>>>;

/// Turns stored specs into work and results into stored text: the HTTP
/// layer's request and response formats, which this module does not know.
pub trait Codec: Send + Sync + 'static {
    /// The stored spec, validated again into work (it passed when submitted).
    fn work(&self, spec: &str) -> Result<Work, String>;
    /// A result as the API returns it (JSON text).
    fn result(&self, spec: &str, output: &Output) -> String;
    /// A failure as the API returns it (problem JSON text).
    fn failure(&self, failure: &Failure) -> String;
    /// The problem JSON text for a stored spec that no longer validates.
    fn invalid(&self, detail: &str) -> String;
}

/// How the jobs of a service run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A job's time budget once it runs (each time it is resumed).
    pub budget: Duration,
    /// Most jobs queued or running at once in the store; beyond, submissions wait (429).
    pub max_unfinished: usize,
    /// Most finished jobs kept (the oldest beyond are removed).
    pub max_finished: usize,
    /// Finished jobs are removed this long after they finished.
    pub retention: Duration,
    /// Most jobs running on this replica.
    pub concurrency: usize,
    /// How long a claim holds without renewal: a replica that dies has its
    /// jobs taken over this long after its last renewal.
    pub lease: Duration,
    /// How often a running job's new chunk summaries are saved (and its lease renewed).
    pub checkpoint_every: Duration,
    /// How often the dispatcher looks for queued jobs submitted elsewhere.
    pub poll: Duration,
    /// The store is shared by replicas: running jobs at start-up belong to
    /// others (their leases say when they may be taken over). An embedded
    /// store has one process: its running jobs at start-up were this
    /// replica's before a crash, and are queued again at once.
    pub shared: bool,
}

/// Why a jobs call failed.
#[derive(Debug, Clone, Error)]
pub enum JobsError {
    #[error(
        "{capacity} background jobs are queued or running, the most this service keeps; retry \
         later, or cancel some"
    )]
    Full { capacity: usize },
    /// The store failed (the database is unreachable, say); logged where it arose.
    #[error("the job store is unavailable")]
    Unavailable,
}

/// A job as read: its record, with this replica's live progress if it runs here.
#[derive(Debug, Clone)]
pub struct View {
    pub record: JobRecord,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Removal {
    /// It was queued or running; it is now cancelled (and kept).
    Cancelled(Box<View>),
    /// It had finished; it is gone.
    Removed,
}

/// A submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Who may see it (`None`: anyone, when tokens are off).
    pub owner: Option<String>,
    /// The job as the API spells it (JSON text, seed included).
    pub spec: String,
    pub samples: u64,
}

/// The background jobs of one replica.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn JobStore>,
    runner: Runner,
    codec: Arc<dyn Codec>,
    settings: Settings,
    /// This replica's name in leases.
    replica: String,
    /// Jobs running here, by id.
    running: Mutex<HashMap<Uuid, Arc<Handle>>>,
    /// A job was submitted or a run ended: look for queued jobs.
    wake: Notify,
    stopping: AtomicBool,
}

impl Drop for Inner {
    /// The PostgreSQL client owns a small runtime of its own, which must not be
    /// dropped on an async worker: the store is let go on a plain thread.
    fn drop(&mut self) {
        let store = std::mem::replace(&mut self.store, Arc::new(MemoryStore::new()));
        std::thread::spawn(move || drop(store));
    }
}

/// Unix time in milliseconds.
pub fn now() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

fn millis(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl Jobs {
    /// Starts the dispatcher and the expiry of old jobs (within a tokio runtime).
    pub fn start(
        store: Arc<dyn JobStore>,
        runner: Runner,
        codec: Arc<dyn Codec>,
        settings: Settings,
    ) -> Jobs {
        // The process id in the name tells an operator (and a test) which process it is.
        let tag = Uuid::new_v4().simple().to_string();
        let replica = format!("{}-{}-{}", hostname(), std::process::id(), &tag[..8]);
        let jobs = Jobs {
            inner: Arc::new(Inner {
                store,
                runner,
                codec,
                settings,
                replica,
                running: Mutex::default(),
                wake: Notify::new(),
                stopping: AtomicBool::new(false),
            }),
        };
        tracing::info!(store = %jobs.inner.store.describe(), replica = %jobs.inner.replica, "job store open");
        tokio::spawn(jobs.clone().dispatch());
        tokio::spawn(jobs.clone().expire());
        jobs
    }

    fn running(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<Handle>>> {
        self.inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a store call on the blocking pool; a failure is logged here.
    async fn call<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn JobStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        let result = tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .unwrap_or_else(|e| {
                Err(StoreError::Unavailable(format!(
                    "the store call panicked: {e}"
                )))
            });
        if let Err(StoreError::Unavailable(e)) = &result {
            tracing::error!(error = %e, call = what, "job store call failed");
        }
        result
    }

    /// The record with live progress for a job running here.
    fn view(&self, mut record: JobRecord) -> View {
        if record.status == Status::Running
            && let Some(h) = self.running().get(&record.id)
        {
            let live = h.progress().min(record.samples_total);
            record.samples_done = record.samples_done.max(live);
        }
        View { record }
    }

    /// Queues a job (refused when `max_unfinished` are queued or running).
    pub async fn submit(&self, s: Submission) -> Result<View, JobsError> {
        let job = NewJob {
            id: Uuid::new_v4(),
            owner: s.owner,
            spec: s.spec,
            samples: s.samples,
            created: now(),
        };
        let id = job.id;
        let max = self.inner.settings.max_unfinished;
        self.call("insert", move |st| st.insert(&job, max))
            .await
            .map_err(|e| match e {
                StoreError::Full { capacity } => JobsError::Full { capacity },
                StoreError::Unavailable(_) => JobsError::Unavailable,
            })?;
        self.inner.wake.notify_one();
        let record = self.call("get", move |st| st.get(id)).await.ok().flatten();
        record.map(|r| self.view(r)).ok_or(JobsError::Unavailable)
    }

    /// A job, if it exists and `owner` may see it.
    pub async fn get(&self, id: Uuid, owner: Option<String>) -> Result<Option<View>, JobsError> {
        let record = self
            .call("get", move |st| st.get(id))
            .await
            .map_err(|_| JobsError::Unavailable)?;
        Ok(record
            .filter(|r| visible(r, owner.as_deref()))
            .map(|r| self.view(r)))
    }

    /// Jobs newest first, as the query says (`owner` set: only theirs).
    pub async fn list(&self, query: ListQuery) -> Result<Vec<View>, JobsError> {
        let records = self
            .call("list", move |st| st.list(&query))
            .await
            .map_err(|_| JobsError::Unavailable)?;
        Ok(records.into_iter().map(|r| self.view(r)).collect())
    }

    /// Cancels a queued or running job (wherever it runs), or removes a finished one.
    pub async fn delete(
        &self,
        id: Uuid,
        owner: Option<String>,
    ) -> Result<Option<Removal>, JobsError> {
        let Some(view) = self.get(id, owner).await? else {
            return Ok(None);
        };
        if is_finished(view.record.status) {
            let removed = self
                .call("remove", move |st| st.remove(id))
                .await
                .map_err(|_| JobsError::Unavailable)?;
            return Ok(removed.then_some(Removal::Removed));
        }
        let cancelled = self
            .call("cancel", move |st| st.cancel(id, now()))
            .await
            .map_err(|_| JobsError::Unavailable)?;
        if let Some(h) = self.running().get(&id) {
            h.cancel();
        }
        Ok(cancelled.map(|r| Removal::Cancelled(Box::new(self.view(r)))))
    }

    /// Jobs per status, for `/metrics`.
    pub async fn counts(&self) -> Result<Vec<(Status, u64)>, JobsError> {
        self.call("counts", |st| st.counts())
            .await
            .map_err(|_| JobsError::Unavailable)
    }

    /// At shutdown: stops claiming, stops the runs here at their next batch
    /// (their new summaries saved), and hands their jobs back queued, for
    /// this replica after a restart or for another one.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
        for h in self.running().values() {
            h.cancel();
        }
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        while !self.running().is_empty() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let replica = self.inner.replica.clone();
        match self
            .call("release", move |st| st.release(&replica, now()))
            .await
        {
            Ok(n) => tracing::info!(jobs = n, "running jobs handed back queued"),
            Err(_) => tracing::warn!(
                "running jobs could not be handed back; they are taken over when their lease expires"
            ),
        }
    }

    /// Claims queued jobs while fewer than `concurrency` run here; wakes on
    /// a submission, the end of a run, or every `poll`.
    async fn dispatch(self) {
        if !self.inner.settings.shared {
            match self.call("recover", |st| st.recover(now())).await {
                Ok(0) | Err(_) => {}
                Ok(n) => tracing::info!(
                    jobs = n,
                    "jobs that were running when the service last stopped are queued again"
                ),
            }
        }
        while !self.inner.stopping.load(Ordering::SeqCst) {
            while self.running().len() < self.inner.settings.concurrency {
                let (replica, lease) = (
                    self.inner.replica.clone(),
                    millis(self.inner.settings.lease),
                );
                match self
                    .call("claim", move |st| st.claim(&replica, now(), lease))
                    .await
                {
                    Ok(Some(record)) if !self.inner.stopping.load(Ordering::SeqCst) => {
                        self.spawn_run(record)
                    }
                    _ => break,
                }
            }
            let _ =
                tokio::time::timeout(self.inner.settings.poll, self.inner.wake.notified()).await;
        }
    }

    fn spawn_run(&self, record: JobRecord) {
        let (id, handle) = (record.id, Handle::new());
        self.running().insert(id, handle.clone());
        let jobs = self.clone();
        let span = tracing::info_span!("job", job = %id);
        tokio::spawn(
            async move {
                jobs.run(record, handle).await;
                jobs.running().remove(&id);
                jobs.inner.wake.notify_one();
            }
            .instrument(span),
        );
    }

    /// Runs a claimed job to its end in the store (or, when stopping, saves it).
    async fn run(&self, record: JobRecord, handle: Arc<Handle>) {
        let id = record.id;
        let work = match self.inner.codec.work(&record.spec) {
            Ok(work) => work,
            Err(detail) => {
                let error = self.inner.codec.invalid(&detail);
                self.end(id, Ending::Failed { error }).await;
                return;
            }
        };
        let done = self.resumed(id).await;
        if !done.is_empty() {
            tracing::info!(chunks = done.len(), "resuming from checkpoints");
        }
        let pending: Pending = Arc::default();
        let flusher = tokio::spawn(self.clone().flush_loop(id, handle.clone(), pending.clone()));
        let result = self
            .execute(work, done, handle.clone(), pending.clone())
            .await;
        flusher.abort();
        let ending = match result {
            Ok(output) => Ending::Succeeded {
                result: self.inner.codec.result(&record.spec, &output),
            },
            Err(Failure::Run(RunError::Cancelled)) => {
                if self.inner.stopping.load(Ordering::SeqCst) {
                    self.flush(id, &handle, &pending).await;
                }
                return;
            }
            Err(failure) => Ending::Failed {
                error: self.inner.codec.failure(&failure),
            },
        };
        self.end(id, ending).await;
    }

    /// The job's saved chunk summaries (none, with a warning, if any is unreadable).
    async fn resumed(&self, id: Uuid) -> Vec<ChunkSummary> {
        let saved = self
            .call("checkpoints", move |st| st.checkpoints(id))
            .await
            .unwrap_or_default();
        let decoded: Result<Vec<_>, _> = saved
            .iter()
            .map(|(_, b)| ChunkSummary::from_bytes(b))
            .collect();
        decoded.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a checkpoint is unreadable; the job runs from the start");
            Vec::new()
        })
    }

    async fn execute(
        &self,
        work: Work,
        done: Vec<ChunkSummary>,
        handle: Arc<Handle>,
        pending: Pending,
    ) -> Result<Output, Failure> {
        let budget = Deadline::AfterStart(self.inner.settings.budget);
        self.inner
            .runner
            .run(Class::Background, handle, budget, move |c, gate| {
                let sink = |s: &ChunkSummary| {
                    let bytes = s.to_bytes();
                    lock(&pending).push((s.chunk as u64, bytes));
                };
                let hooks = Hooks {
                    threads: default_threads(),
                    gate,
                    done: &done,
                    on_chunk: Some(&sink),
                };
                // A resumed run that fails on a checkpoint runs from the start.
                match execute(&work, c, &hooks) {
                    Err(RunError::Summaries(why)) => {
                        tracing::warn!(reason = %why, "checkpoints do not fit the job; it runs from the start");
                        execute(&work, c, &Hooks { done: &[], ..hooks })
                    }
                    other => other,
                }
            })
            .await
    }

    /// Saves new summaries and renews the lease every `checkpoint_every`;
    /// stops the run when the job is no longer this replica's to run.
    async fn flush_loop(self, id: Uuid, handle: Arc<Handle>, pending: Pending) {
        let mut tick = tokio::time::interval(self.inner.settings.checkpoint_every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if !self.flush(id, &handle, &pending).await {
                tracing::info!("the job was cancelled or taken over elsewhere; stopping it here");
                handle.cancel();
                return;
            }
        }
    }

    /// Saves the pending summaries and the progress, and renews the lease;
    /// false if the job is no longer running under this replica.
    async fn flush(&self, id: Uuid, handle: &Handle, pending: &Mutex<Vec<Checkpoint>>) -> bool {
        let batch = std::mem::take(&mut *lock(pending));
        let (replica, lease, done) = (
            self.inner.replica.clone(),
            millis(self.inner.settings.lease),
            handle.progress(),
        );
        let saved = self
            .call("checkpoint", move |st| {
                let t = now();
                let mine = st.checkpoint(id, &replica, done, &batch, t)?;
                let lost = st.renew(&replica, &[id], t, lease)?;
                Ok(mine && lost.is_empty())
            })
            .await;
        // A store that is down is not a reason to stop: the lease decides.
        saved.unwrap_or(true)
    }

    async fn end(&self, id: Uuid, ending: Ending) {
        let replica = self.inner.replica.clone();
        let ended = self
            .call("finish", move |st| st.finish(id, &replica, &ending, now()))
            .await;
        if let Ok(false) = ended {
            tracing::info!(
                "the job had been cancelled or taken over; its end here is not recorded"
            );
        }
    }

    /// Removes finished jobs past their retention, and the oldest beyond `max_finished`.
    async fn expire(self) {
        let every = (self.inner.settings.retention / 4)
            .clamp(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            tokio::time::sleep(every).await;
            if self.inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            let before = now() - millis(self.inner.settings.retention);
            let max = self.inner.settings.max_finished;
            if let Ok(n @ 1..) = self.call("expire", move |st| st.expire(before, max)).await {
                tracing::info!(jobs = n, "finished jobs expired");
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn visible(record: &JobRecord, owner: Option<&str>) -> bool {
    owner.is_none() || record.owner.as_deref() == owner
}

pub fn is_finished(status: Status) -> bool {
    matches!(
        status,
        Status::Succeeded | Status::Failed | Status::Cancelled
    )
}

/// The host's name for replica ids (`HOSTNAME`, as Kubernetes sets it), or "gradest".
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "gradest".into())
}

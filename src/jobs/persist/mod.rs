//! The durable job store: background jobs and their checkpoints, kept where a
//! restart (or another replica) finds them.
//!
//! One trait, [`JobStore`], three implementations:
//! - [`MemoryStore`]: a map behind a mutex; nothing survives the process.
//! - [`SqliteStore`]: one SQLite file, for a single process that restarts.
//! - [`PostgresStore`]: one PostgreSQL database shared by several replicas.
//!
//! Every method is blocking (SQLite and the synchronous Postgres client do I/O
//! on the calling thread): call them from tokio's blocking pool, never from
//! async code.
//!
//! A job's life: `insert` (queued) → `claim` (running under a replica, with a
//! lease) → `renew`/`checkpoint` while it runs → `finish` (succeeded/failed);
//! `cancel` ends it from outside at any time before that and always wins over a
//! later `finish`. A replica that dies stops renewing; once its lease has run
//! out (`lease_until < now`) another replica's `claim` takes the job over and
//! resumes from the saved checkpoints.

mod memory;
mod postgres;
mod sqlite;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;
use uuid::Uuid;

pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Unix time in milliseconds.
pub type Millis = i64;

/// Where a job is in its life. Queued and running are unfinished; the other
/// three are finished (terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Queued,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The name stored in the databases and shown by the API.
    pub fn name(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The inverse of [`Status::name`]; `None` for any other text.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Succeeded, failed or cancelled: nothing more happens to the job.
    pub fn is_finished(self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }
}

/// A job to insert (it starts queued, with no progress).
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub owner: Option<String>,
    /// The job's request, JSON text.
    pub spec: String,
    pub samples: u64,
    pub created: Millis,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: Uuid,
    pub owner: Option<String>,
    /// The job's request, JSON text.
    pub spec: String,
    pub status: Status,
    pub samples_total: u64,
    pub samples_done: u64,
    pub created: Millis,
    /// The last change of status or progress (lease renewals do not count).
    pub updated: Millis,
    /// When the job was finished (succeeded, failed or cancelled).
    pub finished: Option<Millis>,
    /// The estimate of a succeeded job, JSON text.
    pub result: Option<String>,
    /// Why a job failed, JSON text.
    pub error: Option<String>,
    /// The replica running the job (only while it is running).
    pub lease_owner: Option<String>,
    /// Until when the lease holds (only while running): after that another
    /// replica may take the job over.
    pub lease_until: Option<Millis>,
}

impl JobRecord {
    /// A freshly inserted job.
    pub fn queued(job: &NewJob) -> JobRecord {
        JobRecord {
            id: job.id,
            owner: job.owner.clone(),
            spec: job.spec.clone(),
            status: Status::Queued,
            samples_total: job.samples,
            samples_done: 0,
            created: job.created,
            updated: job.created,
            finished: None,
            result: None,
            error: None,
            lease_owner: None,
            lease_until: None,
        }
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Some: only this owner's jobs.
    pub owner: Option<String>,
    pub status: Option<Status>,
    /// The cursor: only jobs strictly after this (created, id) in the order
    /// newest first, i.e. older ones.
    pub after: Option<(Millis, Uuid)>,
    pub limit: usize,
}

impl ListQuery {
    /// Whether a job passes the owner, status and cursor filters.
    pub fn admits(&self, job: &JobRecord) -> bool {
        self.owner
            .as_ref()
            .is_none_or(|o| job.owner.as_ref() == Some(o))
            && self.status.is_none_or(|s| job.status == s)
            && self
                .after
                .is_none_or(|cursor| (job.created, job.id) < cursor)
    }
}

/// How a running job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// `result`: the estimate, JSON text.
    Succeeded {
        result: String,
    },
    /// `error`: why, JSON text.
    Failed {
        error: String,
    },
    Cancelled,
}

impl Ending {
    pub fn status(&self) -> Status {
        match self {
            Ending::Succeeded { .. } => Status::Succeeded,
            Ending::Failed { .. } => Status::Failed,
            Ending::Cancelled => Status::Cancelled,
        }
    }

    pub fn result(&self) -> Option<&str> {
        match self {
            Ending::Succeeded { result } => Some(result),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Ending::Failed { error } => Some(error),
            _ => None,
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "{capacity} background jobs are queued or running, the most this service keeps; wait for some to finish, or cancel some"
    )]
    Full { capacity: usize },
    /// The database failed (or refused the data); the message is for logs.
    #[error("the job store is unavailable: {0}")]
    Unavailable(String),
}

/// The storage of background jobs. All methods block; see the module docs.
pub trait JobStore: Send + Sync + 'static {
    /// Inserts a queued job, unless `max_unfinished` jobs are queued or running
    /// already (then Full). Atomic. An id already present is `Unavailable`.
    fn insert(&self, job: &NewJob, max_unfinished: usize) -> Result<(), StoreError>;
    fn get(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError>;
    /// Newest first (created desc, id desc), at most limit, after the cursor, filtered.
    fn list(&self, q: &ListQuery) -> Result<Vec<JobRecord>, StoreError>;
    /// Queued or running → Cancelled (finished = now, lease cleared,
    /// checkpoints deleted); returns the record after; None if no such job. A
    /// finished job is returned unchanged.
    fn cancel(&self, id: Uuid, now: Millis) -> Result<Option<JobRecord>, StoreError>;
    /// Removes a finished job (and its checkpoints); false if absent or unfinished.
    fn remove(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Claims the oldest (created, id) job that is queued, or running with an
    /// expired lease (lease_until < now): status Running, lease_owner =
    /// replica, lease_until = now + lease_ms. At most one replica gets a given
    /// job. Progress and checkpoints are kept (a takeover resumes).
    fn claim(
        &self,
        replica: &str,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError>;
    /// Extends the leases of these jobs held by `replica`; returns the ids that
    /// are no longer running under this replica (cancelled, finished, taken
    /// over, removed) — the caller stops those.
    fn renew(
        &self,
        replica: &str,
        ids: &[Uuid],
        now: Millis,
        lease_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError>;
    /// Saves chunk summaries (chunk index, opaque bytes; an index saved twice
    /// keeps the latest) and the progress, only if the job is still running
    /// under `replica`; returns false otherwise (then nothing is written).
    fn checkpoint(
        &self,
        id: Uuid,
        replica: &str,
        samples_done: u64,
        chunks: &[(u64, Vec<u8>)],
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// The saved chunk summaries of a job, by chunk index ascending.
    fn checkpoints(&self, id: Uuid) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Ends a job running under `replica` (deletes its checkpoints, sets
    /// finished/result/error, clears the lease, samples_done = total if
    /// succeeded); false if it was no longer running under it (e.g. cancelled
    /// meanwhile: the cancellation wins).
    fn finish(
        &self,
        id: Uuid,
        replica: &str,
        ending: &Ending,
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// Running jobs of `replica` back to Queued (lease cleared, checkpoints
    /// kept): a replica shutting down hands its work back. Returns how many.
    fn release(&self, replica: &str, now: Millis) -> Result<u64, StoreError>;
    /// Every running job back to Queued (an embedded single-process store at
    /// start-up: the previous process died). Returns how many.
    fn recover(&self, now: Millis) -> Result<u64, StoreError>;
    /// Deletes finished jobs whose `finished` is before `before`, and then, if
    /// more than `max_finished` finished jobs remain, the oldest finished ones
    /// (by finished, then created, then id) beyond that. Returns how many removed.
    fn expire(&self, before: Millis, max_finished: usize) -> Result<u64, StoreError>;
    /// Jobs per status (all five statuses, in [`Status::ALL`] order, zeros included).
    fn counts(&self) -> Result<Vec<(Status, u64)>, StoreError>;
    /// A short name for logs ("memory", "sqlite /path", "postgres host/db").
    fn describe(&self) -> String;
}

/// The file name of the SQLite store inside the data directory.
pub const SQLITE_FILE: &str = "gradest.sqlite3";

/// Opens the configured store: `database_url` (postgres://…) wins; else with a
/// `data_dir`, the SQLite file `<dir>/gradest.sqlite3` (the directory is
/// created); else memory. Blocking, like the stores: call it before the
/// runtime starts or from the blocking pool (the Postgres client runs a small
/// runtime of its own and cannot start inside async code).
pub fn open(
    data_dir: Option<&Path>,
    database_url: Option<&str>,
) -> Result<Arc<dyn JobStore>, StoreError> {
    if let Some(url) = database_url {
        return Ok(Arc::new(PostgresStore::open(url)?));
    }
    if let Some(dir) = data_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let (file, lock) = (dir.join(SQLITE_FILE), dir.join("gradest.lock"));
        return Ok(Arc::new(SqliteStore::open_exclusive(&file, &lock)?));
    }
    Ok(Arc::new(MemoryStore::new()))
}

/// Counts in [`Status::ALL`] order from (status, count) pairs in any order.
fn full_counts(found: impl IntoIterator<Item = (Status, u64)>) -> Vec<(Status, u64)> {
    let mut counts: Vec<(Status, u64)> = Status::ALL.iter().map(|&s| (s, 0)).collect();
    for (status, n) in found {
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
            slot.1 += n;
        }
    }
    counts
}

/// The columns of a [`JobRecord`] in the SQL stores, in the order they read them.
const COLUMNS: &str = "id, owner, spec, status, samples_total, samples_done, created, updated, \
                       finished, result, error, lease_owner, lease_until";

/// Statuses of finished jobs, for `status IN (...)`.
const FINISHED: &str = "('succeeded', 'failed', 'cancelled')";

/// The SQL of a list query, with only the conditions it needs (so the
/// database can walk an index in list order and stop at the limit). The
/// numbered parameters (`mark` is `?` or `$`) are, in order and only when
/// present: owner, status, the cursor's created and id; then the limit.
fn list_sql(q: &ListQuery, mark: char) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("{mark}{n}")
    };
    let mut conditions = Vec::new();
    if q.owner.is_some() {
        conditions.push(format!("owner = {}", next()));
    }
    if q.status.is_some() {
        conditions.push(format!("status = {}", next()));
    }
    if q.after.is_some() {
        let (created, id) = (next(), next());
        conditions.push(format!("(created, id) < ({created}, {id})"));
    }
    let filter = match conditions.is_empty() {
        true => String::new(),
        false => format!("WHERE {}", conditions.join(" AND ")),
    };
    let limit = next();
    format!("SELECT {COLUMNS} FROM jobs {filter} ORDER BY created DESC, id DESC LIMIT {limit}")
}

/// A count or index as the databases' signed 64-bit integer.
fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Unavailable(format!("{what} {value} exceeds 2^63-1")))
}

/// A stored signed integer back to a count or index.
fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Unavailable(format!("stored {what} {value} is negative")))
}

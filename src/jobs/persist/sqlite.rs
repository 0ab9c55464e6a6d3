//! The SQLite store: one file, one connection behind a mutex (SQLite
//! serialises writers anyway; one connection keeps the prepared-statement
//! cache warm and avoids `SQLITE_BUSY` between our own threads).
//!
//! - WAL journal: readers do not block the writer and a commit is one append
//!   to the log, not a rewrite of pages plus a rollback journal.
//! - `synchronous = NORMAL`: with WAL, a power cut may lose the last commits
//!   but never corrupts the file; a process crash loses nothing. Jobs are
//!   resumable from checkpoints, so this trade is right for them.
//! - `busy_timeout`: another process holding the file (a second gradest by
//!   mistake, a backup) makes us wait a little instead of failing at once.
//! - Write transactions are `IMMEDIATE` (they take the write lock at BEGIN),
//!   so a count followed by an insert cannot interleave with another writer.
//!
//! The schema version is `PRAGMA user_version`: 0 is a new file, [`VERSION`]
//! is this layout; a later gradest migrates from it, an older one refuses a
//! newer file rather than misread it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};
use uuid::Uuid;

use super::{COLUMNS, FINISHED, list_sql};
use super::{
    Ending, JobRecord, JobStore, ListQuery, Millis, NewJob, Status, StoreError, full_counts,
    to_i64, to_u64,
};

/// The schema version this code writes (`PRAGMA user_version`).
pub const VERSION: i64 = 1;

/// The tables and indexes of version 1.
const SCHEMA: &str = "
-- One row per job. Ids are lowercase hyphenated UUID text, whose byte order
-- is the UUID's byte order (the tie-break of the list order). Times are Unix
-- milliseconds; spec/result/error are JSON text.
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY NOT NULL,
    owner         TEXT,             -- the submitter, when the service knows one
    spec          TEXT NOT NULL,    -- the request: enough to run the job again
    status        TEXT NOT NULL CHECK (status IN
                      ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    samples_total INTEGER NOT NULL,
    samples_done  INTEGER NOT NULL DEFAULT 0,  -- progress at the last checkpoint
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL,  -- last change of status or progress
    finished      INTEGER,           -- set exactly when the status is terminal
    result        TEXT,
    error         TEXT,
    lease_owner   TEXT,     -- the replica running the job
    lease_until   INTEGER   -- its lease: after this another replica may take over
);
-- Listing: newest first, all jobs or one owner's.
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created DESC, id DESC);
-- Claiming (oldest queued or expired running), counting, status filters.
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created, id);
-- Expiry of finished jobs, oldest first.
CREATE INDEX IF NOT EXISTS jobs_by_finished ON jobs (finished) WHERE finished IS NOT NULL;
-- Chunk summaries of a running job, so a restart resumes instead of starting
-- over; deleted with the job and when it finishes.
CREATE TABLE IF NOT EXISTS job_chunks (
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk   INTEGER NOT NULL,
    summary BLOB NOT NULL,
    PRIMARY KEY (job_id, chunk)
) WITHOUT ROWID;
";

/// Jobs in one SQLite file; see the module docs.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Held for the store's life when opened for a service: one process per
    /// data directory (the OS releases it when the process dies, kill -9 too).
    _owner: Option<std::fs::File>,
}

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

impl SqliteStore {
    /// Opens (or creates) the file and its schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "sqlite: {} cannot use a write-ahead log (journal mode {mode})",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(db_err)?;
        migrate(&mut conn, path)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            _owner: None,
        })
    }

    /// Opens the file for a service, first taking an exclusive lock on
    /// `lock` beside it: a second process on the same data directory would
    /// take the first one's running jobs for its own after a restart, so it is
    /// refused with a message saying so.
    pub fn open_exclusive(path: &Path, lock: &Path) -> Result<SqliteStore, StoreError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", lock.display())))?;
        if file.try_lock().is_err() {
            return Err(StoreError::Unavailable(format!(
                "another gradest process uses the data directory of {} (its lock {} is held); \
                 give each process a GRADEST_DATA_DIR of its own, or share jobs between \
                 replicas with GRADEST_DATABASE_URL",
                path.display(),
                lock.display()
            )));
        }
        let mut store = SqliteStore::open(path)?;
        store._owner = Some(file);
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in an IMMEDIATE transaction, committed when `f` returns Ok.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let out = f(&tx)?;
        tx.commit().map_err(db_err)?;
        Ok(out)
    }
}

/// Creates the schema of a new file; refuses a file of a newer version.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    if version > VERSION {
        return Err(StoreError::Unavailable(format!(
            "sqlite: {} has schema version {version}, newer than this gradest's {VERSION}",
            path.display()
        )));
    }
    tx.execute_batch(SCHEMA).map_err(db_err)?;
    tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))
        .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

/// A row of [`COLUMNS`] as a record; bad stored values become conversion errors.
fn record(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let bad = |i: usize, msg: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, msg.into())
    };
    let id: String = row.get(0)?;
    let status: String = row.get(3)?;
    let count = |i: usize| -> rusqlite::Result<u64> {
        let v: i64 = row.get(i)?;
        to_u64(v, "count").map_err(|e| bad(i, e.to_string()))
    };
    Ok(JobRecord {
        id: Uuid::parse_str(&id).map_err(|e| bad(0, e.to_string()))?,
        owner: row.get(1)?,
        spec: row.get(2)?,
        status: Status::parse(&status).ok_or_else(|| bad(3, format!("status {status:?}")))?,
        samples_total: count(4)?,
        samples_done: count(5)?,
        created: row.get(6)?,
        updated: row.get(7)?,
        finished: row.get(8)?,
        result: row.get(9)?,
        error: row.get(10)?,
        lease_owner: row.get(11)?,
        lease_until: row.get(12)?,
    })
}

fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn get_in(conn: &Connection, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    stmt.query_row([id_text(id)], record)
        .optional()
        .map_err(db_err)
}

/// Whether the job is running under the replica (in the caller's transaction).
fn running_under(conn: &Connection, id: Uuid, replica: &str) -> Result<bool, StoreError> {
    let sql = "SELECT 1 FROM jobs WHERE id = ?1 AND status = 'running' AND lease_owner = ?2";
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    stmt.exists(params![id_text(id), replica]).map_err(db_err)
}

impl JobStore for SqliteStore {
    fn insert(&self, job: &NewJob, max_unfinished: usize) -> Result<(), StoreError> {
        let samples = to_i64(job.samples, "samples")?;
        self.write(|tx| {
            let unfinished: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')",
                    [],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if usize::try_from(unfinished).unwrap_or(usize::MAX) >= max_unfinished {
                return Err(StoreError::Full {
                    capacity: max_unfinished,
                });
            }
            tx.prepare_cached(
                "INSERT INTO jobs (id, owner, spec, status, samples_total, created, updated) \
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id_text(job.id),
                    job.owner,
                    job.spec,
                    samples,
                    job.created
                ])
            })
            .map_err(db_err)?;
            Ok(())
        })
    }

    fn get(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
        get_in(&self.lock(), id)
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<JobRecord>, StoreError> {
        let mut params: Vec<Value> = Vec::new();
        if let Some(owner) = &q.owner {
            params.push(Value::Text(owner.clone()));
        }
        if let Some(status) = q.status {
            params.push(Value::Text(status.name().to_owned()));
        }
        if let Some((created, id)) = q.after {
            params.push(Value::Integer(created));
            params.push(Value::Text(id_text(id)));
        }
        params.push(Value::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX)));
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&list_sql(q, '?')).map_err(db_err)?;
        let rows = stmt
            .query_map(params_from_iter(params), record)
            .map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }

    fn cancel(&self, id: Uuid, now: Millis) -> Result<Option<JobRecord>, StoreError> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?2, updated = ?2, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?1 AND status IN ('queued', 'running')",
                    params![id_text(id), now],
                )
                .map_err(db_err)?;
            if changed > 0 {
                tx.execute("DELETE FROM job_chunks WHERE job_id = ?1", [id_text(id)])
                    .map_err(db_err)?;
            }
            get_in(tx, id)
        })
    }

    fn remove(&self, id: Uuid) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM jobs WHERE id = ?1 AND status IN {FINISHED}");
        self.write(|tx| Ok(tx.execute(&sql, [id_text(id)]).map_err(db_err)? > 0))
    }

    fn claim(
        &self,
        replica: &str,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        // One statement under the write lock: no other writer can claim the
        // same row in between. The subquery reads the queued and running rows
        // through `jobs_by_status` (at most the capacity of unfinished jobs)
        // and sorts those; finished jobs are never touched.
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = ?1, lease_until = ?2, updated = ?3 \
             WHERE id = (SELECT id FROM jobs \
                         WHERE status = 'queued' OR (status = 'running' AND lease_until < ?3) \
                         ORDER BY created, id LIMIT 1) \
             RETURNING {COLUMNS}"
        );
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(&sql).map_err(db_err)?;
            let until = now.saturating_add(lease_ms);
            stmt.query_row(params![replica, until, now], record)
                .optional()
                .map_err(db_err)
        })
    }

    fn renew(
        &self,
        replica: &str,
        ids: &[Uuid],
        now: Millis,
        lease_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let until = now.saturating_add(lease_ms);
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE jobs SET lease_until = ?3 \
                     WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
                )
                .map_err(db_err)?;
            let mut lost = Vec::new();
            for &id in ids {
                if stmt
                    .execute(params![id_text(id), replica, until])
                    .map_err(db_err)?
                    == 0
                {
                    lost.push(id);
                }
            }
            Ok(lost)
        })
    }

    fn checkpoint(
        &self,
        id: Uuid,
        replica: &str,
        samples_done: u64,
        chunks: &[(u64, Vec<u8>)],
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = to_i64(samples_done, "samples_done")?;
        self.write(|tx| {
            if !running_under(tx, id, replica)? {
                return Ok(false);
            }
            tx.execute(
                "UPDATE jobs SET samples_done = ?2, updated = ?3 WHERE id = ?1",
                params![id_text(id), done, now],
            )
            .map_err(db_err)?;
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO job_chunks (job_id, chunk, summary) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (job_id, chunk) DO UPDATE SET summary = excluded.summary",
                )
                .map_err(db_err)?;
            for (index, bytes) in chunks {
                let index = to_i64(*index, "chunk index")?;
                stmt.execute(params![id_text(id), index, bytes])
                    .map_err(db_err)?;
            }
            Ok(true)
        })
    }

    fn checkpoints(&self, id: Uuid) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT chunk, summary FROM job_chunks WHERE job_id = ?1 ORDER BY chunk",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map([id_text(id)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (index, bytes) = row.map_err(db_err)?;
            out.push((to_u64(index, "chunk index")?, bytes));
        }
        Ok(out)
    }

    fn finish(
        &self,
        id: Uuid,
        replica: &str,
        ending: &Ending,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let status = ending.status();
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE jobs SET status = ?3, finished = ?4, updated = ?4, result = ?5, \
                     error = ?6, lease_owner = NULL, lease_until = NULL, \
                     samples_done = CASE WHEN ?3 = 'succeeded' THEN samples_total \
                                         ELSE samples_done END \
                     WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
                    params![
                        id_text(id),
                        replica,
                        status.name(),
                        now,
                        ending.result(),
                        ending.error()
                    ],
                )
                .map_err(db_err)?;
            if changed == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM job_chunks WHERE job_id = ?1", [id_text(id)])
                .map_err(db_err)?;
            Ok(true)
        })
    }

    fn release(&self, replica: &str, now: Millis) -> Result<u64, StoreError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL, \
                     updated = ?2 WHERE status = 'running' AND lease_owner = ?1",
                    params![replica, now],
                )
                .map_err(db_err)?;
            Ok(n as u64)
        })
    }

    fn recover(&self, now: Millis) -> Result<u64, StoreError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL, \
                     updated = ?1 WHERE status = 'running'",
                    [now],
                )
                .map_err(db_err)?;
            Ok(n as u64)
        })
    }

    fn expire(&self, before: Millis, max_finished: usize) -> Result<u64, StoreError> {
        let by_time = format!("DELETE FROM jobs WHERE status IN {FINISHED} AND finished < ?1");
        let by_count = format!(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN {FINISHED} \
             ORDER BY finished DESC, created DESC, id DESC LIMIT -1 OFFSET ?1)"
        );
        let keep = i64::try_from(max_finished).unwrap_or(i64::MAX);
        self.write(|tx| {
            let old = tx.execute(&by_time, [before]).map_err(db_err)?;
            let excess = tx.execute(&by_count, [keep]).map_err(db_err)?;
            Ok((old + excess) as u64)
        })
    }

    fn counts(&self) -> Result<Vec<(Status, u64)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT status, COUNT(*) FROM jobs GROUP BY status")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(db_err)?;
        let mut found = Vec::new();
        for row in rows {
            let (status, n) = row.map_err(db_err)?;
            let status = Status::parse(&status)
                .ok_or_else(|| StoreError::Unavailable(format!("sqlite: status {status:?}")))?;
            found.push((status, to_u64(n, "count")?));
        }
        Ok(full_counts(found))
    }

    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }
}

//! The PostgreSQL store: one database shared by several replicas of gradest.
//!
//! - One synchronous `postgres::Client` behind a mutex per store. A broken
//!   connection (server restart, network cut) is replaced once and the
//!   operation retried; every operation is a single statement or transaction,
//!   so a retry after a failure before the commit repeats nothing. (If the
//!   connection broke after the server committed but before we heard, the
//!   retry of a claim can leave a job claimed by nobody alive: its lease runs
//!   out and another claim takes it.)
//! - Claiming uses `SELECT … FOR UPDATE SKIP LOCKED` inside the claiming
//!   `UPDATE`: replicas claiming at once lock different rows instead of
//!   queueing on the same one, and a row is claimed by at most one of them.
//! - Leases: a running job belongs to `lease_owner` until `lease_until`. A
//!   replica renews its leases while it works; one that died stops renewing,
//!   and once the lease has run out another replica's claim takes the job over
//!   and resumes from the saved chunk summaries.
//! - Inserts take a transaction-scoped advisory lock, so the count of
//!   unfinished jobs and the insert are atomic across replicas (the capacity
//!   holds for the whole service, not per replica).
//! - The schema is created at open with `CREATE … IF NOT EXISTS` under an
//!   advisory lock (two replicas starting at once would otherwise race on the
//!   catalog), and versioned in `gradest_schema`.
//!
//! TLS is not built in (`NoTls`): reach the database over a private network
//! or through a TLS sidecar (e.g. a local proxy), never over the open internet.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::config::Host;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Transaction};
use uuid::Uuid;

use super::{COLUMNS, FINISHED, list_sql};
use super::{
    Ending, JobRecord, JobStore, ListQuery, Millis, NewJob, Status, StoreError, full_counts,
    to_i64, to_u64,
};

/// The schema version this code writes (the row of `gradest_schema`).
pub const VERSION: i32 = 1;

/// Advisory lock keys (arbitrary constants, "gradest" in ASCII plus a suffix).
const SCHEMA_LOCK: i64 = 0x6772_6164_6573_7401;
const INSERT_LOCK: i64 = 0x6772_6164_6573_7402;

const SCHEMA: &str = "
-- The schema version, so a later gradest can migrate (one row).
CREATE TABLE IF NOT EXISTS gradest_schema (version INTEGER NOT NULL);
-- One row per job. Times are Unix milliseconds; spec/result/error are JSON text.
CREATE TABLE IF NOT EXISTS jobs (
    id            UUID PRIMARY KEY,
    owner         TEXT,             -- the submitter, when the service knows one
    spec          TEXT NOT NULL,    -- the request: enough to run the job again
    status        TEXT NOT NULL CHECK (status IN
                      ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    samples_total BIGINT NOT NULL,
    samples_done  BIGINT NOT NULL DEFAULT 0,  -- progress at the last checkpoint
    created       BIGINT NOT NULL,
    updated       BIGINT NOT NULL,  -- last change of status or progress
    finished      BIGINT,           -- set exactly when the status is terminal
    result        TEXT,
    error         TEXT,
    lease_owner   TEXT,    -- the replica running the job
    lease_until   BIGINT   -- its lease: after this another replica may take over
);
-- Listing: newest first, all jobs or one owner's.
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created DESC, id DESC);
-- Claiming (oldest queued or expired running), counting, status filters.
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created, id);
-- Expiry of finished jobs, oldest first.
CREATE INDEX IF NOT EXISTS jobs_by_finished ON jobs (finished) WHERE finished IS NOT NULL;
-- Chunk summaries of a running job, so a takeover or restart resumes instead
-- of starting over; deleted with the job and when it finishes.
CREATE TABLE IF NOT EXISTS job_chunks (
    job_id  UUID NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk   BIGINT NOT NULL,
    summary BYTEA NOT NULL,
    PRIMARY KEY (job_id, chunk)
);
";

/// Jobs in a PostgreSQL database; see the module docs.
pub struct PostgresStore {
    client: Mutex<Client>,
    config: Config,
}

fn db_err(e: postgres::Error) -> StoreError {
    StoreError::Unavailable(format!("postgres: {e}"))
}

/// Whether an error means the connection is gone (closed, or the server
/// ended the session: SQLSTATE class 08 or 57P, e.g. a restart or
/// `pg_terminate_backend`), so a new connection may succeed.
fn broken(e: &postgres::Error, client: &Client) -> bool {
    let ended = e.code().is_some_and(|c| {
        let code = c.code();
        code.starts_with("08") || code.starts_with("57P")
    });
    e.is_closed() || client.is_closed() || ended
}

fn connect(config: &Config) -> Result<Client, StoreError> {
    config.connect(NoTls).map_err(db_err)
}

impl PostgresStore {
    /// Connects (postgres://user@host:port/db?…) and creates the schema if needed.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("postgres: bad database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("gradest");
        }
        let mut client = connect(&config)?;
        create_schema(&mut client)?;
        Ok(PostgresStore {
            client: Mutex::new(client),
            config,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `op` on the connection; on a broken connection, reconnects once
    /// and runs it again.
    fn run<T>(
        &self,
        op: impl Fn(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut client = self.lock();
        if client.is_closed() {
            *client = connect(&self.config)?;
        }
        match op(&mut client) {
            Err(e) if broken(&e, &client) => {
                tracing::warn!(error = %e, "postgres connection lost; reconnecting");
                *client = connect(&self.config)?;
                op(&mut client).map_err(db_err)
            }
            other => other.map_err(db_err),
        }
    }

    /// Runs `op` in a transaction (committed when it returns Ok), with the
    /// reconnect of [`PostgresStore::run`].
    fn write<T>(
        &self,
        op: impl Fn(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.run(|client| {
            let mut tx = client.transaction()?;
            let out = op(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

/// Creates the tables under an advisory lock; refuses a newer schema.
fn create_schema(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(db_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(db_err)?;
    tx.batch_execute(SCHEMA).map_err(db_err)?;
    let row = tx
        .query_opt("SELECT max(version) FROM gradest_schema", &[])
        .map_err(db_err)?;
    let version: Option<i32> = row.and_then(|r| r.get(0));
    match version {
        None => {
            tx.execute(
                "INSERT INTO gradest_schema (version) VALUES ($1)",
                &[&VERSION],
            )
            .map_err(db_err)?;
        }
        Some(v) if v > VERSION => {
            return Err(StoreError::Unavailable(format!(
                "postgres: the database has schema version {v}, newer than this gradest's {VERSION}"
            )));
        }
        Some(_) => {}
    }
    tx.commit().map_err(db_err)
}

/// A row of [`COLUMNS`] as a record.
fn record(row: &Row) -> Result<JobRecord, StoreError> {
    let status: String = row.get(3);
    Ok(JobRecord {
        id: row.get(0),
        owner: row.get(1),
        spec: row.get(2),
        status: Status::parse(&status)
            .ok_or_else(|| StoreError::Unavailable(format!("postgres: status {status:?}")))?,
        samples_total: to_u64(row.get(4), "samples_total")?,
        samples_done: to_u64(row.get(5), "samples_done")?,
        created: row.get(6),
        updated: row.get(7),
        finished: row.get(8),
        result: row.get(9),
        error: row.get(10),
        lease_owner: row.get(11),
        lease_until: row.get(12),
    })
}

fn records(rows: Vec<Row>) -> Result<Vec<JobRecord>, StoreError> {
    rows.iter().map(record).collect()
}

impl JobStore for PostgresStore {
    fn insert(&self, job: &NewJob, max_unfinished: usize) -> Result<(), StoreError> {
        let samples = to_i64(job.samples, "samples")?;
        let inserted = self.write(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INSERT_LOCK])?;
            let row = tx.query_one(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')",
                &[],
            )?;
            let unfinished: i64 = row.get(0);
            if usize::try_from(unfinished).unwrap_or(usize::MAX) >= max_unfinished {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO jobs (id, owner, spec, status, samples_total, created, updated) \
                 VALUES ($1, $2, $3, 'queued', $4, $5, $5)",
                &[&job.id, &job.owner, &job.spec, &samples, &job.created],
            )?;
            Ok(true)
        })?;
        if inserted {
            Ok(())
        } else {
            Err(StoreError::Full {
                capacity: max_unfinished,
            })
        }
    }

    fn get(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let row = self.run(|c| c.query_opt(&sql, &[&id]))?;
        row.as_ref().map(record).transpose()
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<JobRecord>, StoreError> {
        let sql = list_sql(q, '$');
        let status = q.status.map(Status::name);
        let after = q.after;
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(owner) = &q.owner {
            params.push(owner);
        }
        if let Some(status) = &status {
            params.push(status);
        }
        if let Some((created, id)) = &after {
            params.push(created);
            params.push(id);
        }
        params.push(&limit);
        records(self.run(|c| c.query(&sql, &params))?)
    }

    fn cancel(&self, id: Uuid, now: Millis) -> Result<Option<JobRecord>, StoreError> {
        let get = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let row = self.write(|tx| {
            let changed = tx.execute(
                "UPDATE jobs SET status = 'cancelled', finished = $2, updated = $2, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND status IN ('queued', 'running')",
                &[&id, &now],
            )?;
            if changed > 0 {
                tx.execute("DELETE FROM job_chunks WHERE job_id = $1", &[&id])?;
            }
            tx.query_opt(&get, &[&id])
        })?;
        row.as_ref().map(record).transpose()
    }

    fn remove(&self, id: Uuid) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM jobs WHERE id = $1 AND status IN {FINISHED}");
        Ok(self.run(|c| c.execute(&sql, &[&id]))? > 0)
    }

    fn claim(
        &self,
        replica: &str,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        // The inner SELECT locks one claimable row, skipping rows another
        // replica has locked; the outer condition is checked again on the
        // locked row, so a row claimed meanwhile is never claimed twice.
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, updated = $3 \
             WHERE id = (SELECT id FROM jobs \
                         WHERE status = 'queued' OR (status = 'running' AND lease_until < $3) \
                         ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
               AND (status = 'queued' OR (status = 'running' AND lease_until < $3)) \
             RETURNING {COLUMNS}"
        );
        let until = now.saturating_add(lease_ms);
        let row = self.write(|tx| tx.query_opt(&sql, &[&replica, &until, &now]))?;
        row.as_ref().map(record).transpose()
    }

    fn renew(
        &self,
        replica: &str,
        ids: &[Uuid],
        now: Millis,
        lease_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let until = now.saturating_add(lease_ms);
        let wanted = ids.to_vec();
        let rows = self.run(|c| {
            c.query(
                "UPDATE jobs SET lease_until = $3 \
                 WHERE id = ANY($1) AND status = 'running' AND lease_owner = $2 RETURNING id",
                &[&wanted, &replica, &until],
            )
        })?;
        let kept: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        Ok(ids
            .iter()
            .copied()
            .filter(|id| !kept.contains(id))
            .collect())
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
        let chunks = chunks
            .iter()
            .map(|(i, b)| Ok((to_i64(*i, "chunk index")?, b.as_slice())))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(|tx| {
            // The UPDATE locks the job row: a concurrent cancel or takeover
            // waits for this transaction, or this one sees it and writes nothing.
            let changed = tx.execute(
                "UPDATE jobs SET samples_done = $3, updated = $4 \
                 WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                &[&id, &replica, &done, &now],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            let stmt = tx.prepare(
                "INSERT INTO job_chunks (job_id, chunk, summary) VALUES ($1, $2, $3) \
                 ON CONFLICT (job_id, chunk) DO UPDATE SET summary = EXCLUDED.summary",
            )?;
            for (index, bytes) in &chunks {
                tx.execute(&stmt, &[&id, index, bytes])?;
            }
            Ok(true)
        })
    }

    fn checkpoints(&self, id: Uuid) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let rows = self.run(|c| {
            c.query(
                "SELECT chunk, summary FROM job_chunks WHERE job_id = $1 ORDER BY chunk",
                &[&id],
            )
        })?;
        rows.iter()
            .map(|r| Ok((to_u64(r.get(0), "chunk index")?, r.get(1))))
            .collect()
    }

    fn finish(
        &self,
        id: Uuid,
        replica: &str,
        ending: &Ending,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let status = ending.status().name();
        let (result, error) = (ending.result(), ending.error());
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE jobs SET status = $3, finished = $4, updated = $4, result = $5, \
                 error = $6, lease_owner = NULL, lease_until = NULL, \
                 samples_done = CASE WHEN $3 = 'succeeded' THEN samples_total \
                                     ELSE samples_done END \
                 WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                &[&id, &replica, &status, &now, &result, &error],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM job_chunks WHERE job_id = $1", &[&id])?;
            Ok(true)
        })
    }

    fn release(&self, replica: &str, now: Millis) -> Result<u64, StoreError> {
        self.run(|c| {
            c.execute(
                "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL, \
                 updated = $2 WHERE status = 'running' AND lease_owner = $1",
                &[&replica, &now],
            )
        })
    }

    fn recover(&self, now: Millis) -> Result<u64, StoreError> {
        self.run(|c| {
            c.execute(
                "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL, \
                 updated = $1 WHERE status = 'running'",
                &[&now],
            )
        })
    }

    fn expire(&self, before: Millis, max_finished: usize) -> Result<u64, StoreError> {
        let by_time = format!("DELETE FROM jobs WHERE status IN {FINISHED} AND finished < $1");
        let by_count = format!(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN {FINISHED} \
             ORDER BY finished DESC, created DESC, id DESC OFFSET $1)"
        );
        let keep = i64::try_from(max_finished).unwrap_or(i64::MAX);
        self.write(|tx| Ok(tx.execute(&by_time, &[&before])? + tx.execute(&by_count, &[&keep])?))
    }

    fn counts(&self) -> Result<Vec<(Status, u64)>, StoreError> {
        let rows =
            self.run(|c| c.query("SELECT status, COUNT(*) FROM jobs GROUP BY status", &[]))?;
        let mut found = Vec::new();
        for row in &rows {
            let status: String = row.get(0);
            let status = Status::parse(&status)
                .ok_or_else(|| StoreError::Unavailable(format!("postgres: status {status:?}")))?;
            found.push((status, to_u64(row.get(1), "count")?));
        }
        Ok(full_counts(found))
    }

    fn describe(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        };
        let db = self.config.get_dbname().unwrap_or("(default)");
        format!("postgres {host}/{db}")
    }
}

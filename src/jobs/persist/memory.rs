//! The in-memory store: a map of jobs plus an ordered index, behind one mutex
//! held only for a few map operations. Nothing survives the process; a single
//! process needs no leases for safety, but they are kept so the store behaves
//! like the durable ones (the same conformance tests run against it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use super::{
    Ending, JobRecord, JobStore, ListQuery, Millis, NewJob, Status, StoreError, full_counts,
};

#[derive(Default)]
struct Inner {
    jobs: HashMap<Uuid, JobRecord>,
    /// (created, id) of every job: list walks it backwards, claim forwards.
    order: BTreeSet<(Millis, Uuid)>,
    /// Chunk summaries of unfinished jobs, by chunk index.
    chunks: HashMap<Uuid, BTreeMap<u64, Vec<u8>>>,
}

impl Inner {
    fn running_under(&mut self, id: Uuid, replica: &str) -> Option<&mut JobRecord> {
        self.jobs
            .get_mut(&id)
            .filter(|j| j.status == Status::Running && j.lease_owner.as_deref() == Some(replica))
    }

    fn delete(&mut self, id: Uuid) {
        if let Some(job) = self.jobs.remove(&id) {
            self.order.remove(&(job.created, id));
        }
        self.chunks.remove(&id);
    }

    /// Sets a job back to queued (lease cleared, progress and chunks kept).
    fn requeue<'a>(jobs: impl Iterator<Item = &'a mut JobRecord>, now: Millis) -> u64 {
        let mut n = 0;
        for job in jobs {
            job.status = Status::Queued;
            job.lease_owner = None;
            job.lease_until = None;
            job.updated = now;
            n += 1;
        }
        n
    }
}

/// Jobs in a map; see the module docs.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The lock; a panic elsewhere while holding it leaves the maps usable
    /// (every operation leaves them consistent before it can panic).
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl JobStore for MemoryStore {
    fn insert(&self, job: &NewJob, max_unfinished: usize) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.jobs.contains_key(&job.id) {
            return Err(StoreError::Unavailable(format!(
                "job {} exists already",
                job.id
            )));
        }
        let unfinished = inner
            .jobs
            .values()
            .filter(|j| !j.status.is_finished())
            .count();
        if unfinished >= max_unfinished {
            return Err(StoreError::Full {
                capacity: max_unfinished,
            });
        }
        inner.order.insert((job.created, job.id));
        inner.jobs.insert(job.id, JobRecord::queued(job));
        Ok(())
    }

    fn get(&self, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.lock().jobs.get(&id).cloned())
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<JobRecord>, StoreError> {
        let inner = self.lock();
        let upper = match q.after {
            Some(cursor) => std::ops::Bound::Excluded(cursor),
            None => std::ops::Bound::Unbounded,
        };
        let found = inner
            .order
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, id)| &inner.jobs[id])
            .filter(|j| q.admits(j))
            .take(q.limit)
            .cloned()
            .collect();
        Ok(found)
    }

    fn cancel(&self, id: Uuid, now: Millis) -> Result<Option<JobRecord>, StoreError> {
        let mut inner = self.lock();
        let Some(job) = inner.jobs.get_mut(&id) else {
            return Ok(None);
        };
        if job.status.is_finished() {
            return Ok(Some(job.clone()));
        }
        job.status = Status::Cancelled;
        job.finished = Some(now);
        job.updated = now;
        job.lease_owner = None;
        job.lease_until = None;
        let after = job.clone();
        inner.chunks.remove(&id);
        Ok(Some(after))
    }

    fn remove(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.jobs.get(&id) {
            Some(job) if job.status.is_finished() => {
                inner.delete(id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn claim(
        &self,
        replica: &str,
        now: Millis,
        lease_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        let mut inner = self.lock();
        let Inner { jobs, order, .. } = &mut *inner;
        let claimable = |j: &JobRecord| {
            j.status == Status::Queued
                || (j.status == Status::Running && j.lease_until.is_some_and(|t| t < now))
        };
        let Some(&(_, id)) = order.iter().find(|(_, id)| claimable(&jobs[id])) else {
            return Ok(None);
        };
        let job = jobs.get_mut(&id).expect("the index names only stored jobs");
        job.status = Status::Running;
        job.lease_owner = Some(replica.to_owned());
        job.lease_until = Some(now.saturating_add(lease_ms));
        job.updated = now;
        Ok(Some(job.clone()))
    }

    fn renew(
        &self,
        replica: &str,
        ids: &[Uuid],
        now: Millis,
        lease_ms: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut inner = self.lock();
        let mut lost = Vec::new();
        for &id in ids {
            match inner.running_under(id, replica) {
                Some(job) => job.lease_until = Some(now.saturating_add(lease_ms)),
                None => lost.push(id),
            }
        }
        Ok(lost)
    }

    fn checkpoint(
        &self,
        id: Uuid,
        replica: &str,
        samples_done: u64,
        chunks: &[(u64, Vec<u8>)],
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(job) = inner.running_under(id, replica) else {
            return Ok(false);
        };
        job.samples_done = samples_done;
        job.updated = now;
        let saved = inner.chunks.entry(id).or_default();
        for (index, bytes) in chunks {
            saved.insert(*index, bytes.clone());
        }
        Ok(true)
    }

    fn checkpoints(&self, id: Uuid) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let inner = self.lock();
        let saved = inner.chunks.get(&id);
        Ok(saved
            .map(|c| c.iter().map(|(i, b)| (*i, b.clone())).collect())
            .unwrap_or_default())
    }

    fn finish(
        &self,
        id: Uuid,
        replica: &str,
        ending: &Ending,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(job) = inner.running_under(id, replica) else {
            return Ok(false);
        };
        job.status = ending.status();
        job.finished = Some(now);
        job.updated = now;
        job.result = ending.result().map(str::to_owned);
        job.error = ending.error().map(str::to_owned);
        job.lease_owner = None;
        job.lease_until = None;
        if job.status == Status::Succeeded {
            job.samples_done = job.samples_total;
        }
        inner.chunks.remove(&id);
        Ok(true)
    }

    fn release(&self, replica: &str, now: Millis) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mine = inner
            .jobs
            .values_mut()
            .filter(|j| j.status == Status::Running && j.lease_owner.as_deref() == Some(replica));
        Ok(Inner::requeue(mine, now))
    }

    fn recover(&self, now: Millis) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let running = inner
            .jobs
            .values_mut()
            .filter(|j| j.status == Status::Running);
        Ok(Inner::requeue(running, now))
    }

    fn expire(&self, before: Millis, max_finished: usize) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut finished: Vec<(Millis, Millis, Uuid)> = inner
            .jobs
            .values()
            .filter_map(|j| j.finished.map(|f| (f, j.created, j.id)))
            .collect();
        // Newest finished first: keep the first `max_finished` of those not too old.
        finished.sort_unstable_by(|a, b| b.cmp(a));
        let mut kept = 0;
        let mut removed = 0;
        for (when, _, id) in finished {
            if when >= before && kept < max_finished {
                kept += 1;
            } else {
                inner.delete(id);
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn counts(&self) -> Result<Vec<(Status, u64)>, StoreError> {
        let inner = self.lock();
        Ok(full_counts(inner.jobs.values().map(|j| (j.status, 1))))
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

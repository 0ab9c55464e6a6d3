//! The hand-off of runs to tokio's blocking pool: at most `capacity` lanes,
//! each a blocking-pool task that takes queued runs in order until the queue
//! is empty, then ends.
//!
//! A hand-off wakes a sleeping thread and, when the run is done, the async
//! worker: on a small job (N = 1000 draws in some 20 µs) those two wake-ups
//! cost more than the run. A run queued while a lane is working is started by
//! that lane when it is free, with no hand-off of its own, so under load the
//! wake-ups are shared by several runs; an idle service starts a lane per run,
//! as `spawn_blocking` per run did. At most `capacity` runs execute at once,
//! in the order they were queued (the semaphore's order before).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One queued run: it runs the work and sends the result, or, when its caller
/// has given up on it (cancelled, or out of time while queued), does nothing.
pub(super) type Task = Box<dyn FnOnce() + Send>;

/// The queue and its lanes.
#[derive(Debug)]
pub(super) struct Lanes {
    capacity: usize,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    tasks: VecDeque<Task>,
    /// Lanes started and not yet ended, at most `capacity`.
    lanes: usize,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("tasks", &self.tasks.len())
            .field("lanes", &self.lanes)
            .finish()
    }
}

impl Lanes {
    pub fn new(capacity: usize) -> Arc<Lanes> {
        Arc::new(Lanes {
            capacity: capacity.max(1),
            queue: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A task never runs under the lock, so a poisoned lock holds a sound queue.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a task, and starts a lane on the blocking pool when fewer than
    /// `capacity` are working (must be called within a tokio runtime).
    pub fn submit(self: &Arc<Self>, task: Task) {
        let start = {
            let mut queue = self.lock();
            queue.tasks.push_back(task);
            let start = queue.lanes < self.capacity;
            queue.lanes += usize::from(start);
            start
        };
        if start {
            // If the runtime drops the lane unstarted (it is shutting down),
            // dropping it still gives the lane back.
            let lane = Lane {
                lanes: self.clone(),
                ended: false,
            };
            tokio::task::spawn_blocking(move || lane.drain());
        }
    }
}

/// A started lane. It ends under the queue's lock when it finds the queue
/// empty, so a task queued at any moment either finds the lane still counted
/// (and is taken by it) or finds a free lane slot (and starts a lane).
struct Lane {
    lanes: Arc<Lanes>,
    ended: bool,
}

impl Lane {
    /// Runs queued tasks until none is left. Tasks catch their own panics, so
    /// one failing run never takes its lane down with it.
    fn drain(mut self) {
        loop {
            let task = {
                let mut queue = self.lanes.lock();
                match queue.tasks.pop_front() {
                    Some(task) => task,
                    None => {
                        queue.lanes -= 1;
                        self.ended = true;
                        return;
                    }
                }
            };
            task();
        }
    }
}

impl Drop for Lane {
    /// Gives the lane back when it did not end by itself: the runtime dropped
    /// it unstarted (shutting down), or a task unwound through it.
    fn drop(&mut self) {
        if !self.ended {
            self.lanes.lock().lanes -= 1;
        }
    }
}

//! The hand-off of runs to tokio's blocking pool: at most `capacity` lanes,
//! each a blocking-pool task that takes queued runs in order until the queue
//! is empty, then ends.
//!
//! A hand-off wakes a sleeping thread and, when the run is done, the async
//! worker: on a small job (N = 1000 draws in some 20 µs) those two wake-ups
//! cost more than the run. A run queued while a lane is working is started by
//! that lane when it is free, with no hand-off of its own, so under load the
//! wake-ups are shared by several runs; an idle service starts a lane per run,
//! as a `spawn_blocking` per run would. At most `capacity` runs execute at
//! once, in the order they were queued.

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;

    /// Waits (up to 10 s) until every lane has ended.
    async fn until_idle(lanes: &Lanes) {
        let until = Instant::now() + Duration::from_secs(10);
        while lanes.lock().lanes > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            lanes.lock().lanes,
            0,
            "the lanes end once the queue is empty"
        );
    }

    #[tokio::test]
    async fn queued_tasks_run_in_order_behind_a_busy_lane() {
        let lanes = Lanes::new(1);
        let (release, hold) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let (done, finished) = mpsc::channel::<usize>();
        let d = done.clone();
        lanes.submit(Box::new(move || {
            started.send(()).ok();
            hold.recv().ok();
            d.send(0).ok();
        }));
        running.recv_timeout(Duration::from_secs(10)).unwrap();
        for i in 1..=5 {
            let d = done.clone();
            lanes.submit(Box::new(move || {
                d.send(i).ok();
            }));
        }
        assert_eq!(lanes.lock().lanes, 1, "one lane at capacity 1");
        assert_eq!(lanes.lock().tasks.len(), 5, "the others wait in the queue");
        release.send(()).unwrap();
        let order: Vec<usize> = (0..6)
            .map(|_| finished.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
        until_idle(&lanes).await;
    }

    #[tokio::test]
    async fn no_more_than_capacity_tasks_run_at_once() {
        let lanes = Lanes::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (done, finished) = mpsc::channel::<()>();
        for _ in 0..20 {
            let (running, most, done) = (running.clone(), most.clone(), done.clone());
            lanes.submit(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                done.send(()).ok();
            }));
            assert!(lanes.lock().lanes <= 2);
        }
        for _ in 0..20 {
            finished.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} tasks ran at once");
        until_idle(&lanes).await;
    }

    #[tokio::test]
    async fn a_task_queued_after_the_lanes_ended_starts_a_new_one() {
        let lanes = Lanes::new(1);
        for round in 0..3 {
            let (done, finished) = mpsc::channel::<usize>();
            lanes.submit(Box::new(move || {
                done.send(round).ok();
            }));
            assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(round));
            until_idle(&lanes).await;
        }
    }
}

//! The chunk scheduler: `slots` threads run chunks at once, across every run
//! in the service. A run's thread enters before its first chunk, pauses
//! before every batch and leaves after its last chunk ([`ChunkGate`]); at a
//! pause it hands its slot to whoever should go first. So an interactive
//! request (`/v1/estimate`, `/v1/compare`) waits for at most one batch of a
//! background job per slot (a fraction of a millisecond), never for the job,
//! and background jobs take turns batch by batch: a long job keeps its share
//! however many short ones come and go.
//!
//! Order: interactive before background; within a class, first come first
//! served, where a thread that pauses goes to the back of its class (round
//! robin). Interactive threads pause only for other interactive ones.
//!
//! A `Mutex` and one `Condvar` are enough: a pause is a lock and a look at the
//! queue's head (a hand-over a few operations more), once per batch of some
//! hundred thousand numbers' work.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::estimation::runner::ChunkGate;

/// Who a run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A request that waits for its answer.
    Interactive = 0,
    /// A background job.
    Background = 1,
}

/// The slots and who waits for them.
#[derive(Debug)]
pub struct Scheduler {
    slots: usize,
    state: Mutex<State>,
    turn: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Slots held.
    busy: usize,
    next_ticket: u64,
    /// Waiting threads by (class, ticket): the first is served first.
    waiting: BTreeSet<(Class, u64)>,
    /// Tickets given a slot, not yet picked up by their thread.
    granted: HashSet<u64>,
}

impl Scheduler {
    pub fn new(slots: usize) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            slots: slots.max(1),
            state: Mutex::default(),
            turn: Condvar::new(),
        })
    }

    /// The gate a run of `class` passes its chunks through.
    pub fn gate(self: &Arc<Self>, class: Class) -> Gate {
        Gate {
            scheduler: self.clone(),
            class,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing runs under the lock, so a poisoned lock holds a sound state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Threads waiting for a slot, per class (for `/metrics` and tests).
    pub fn waiting(&self) -> (usize, usize) {
        let state = self.lock();
        let interactive = state
            .waiting
            .iter()
            .filter(|(c, _)| *c == Class::Interactive)
            .count();
        (interactive, state.waiting.len() - interactive)
    }

    /// Queues the calling thread and blocks until it holds a slot.
    fn wait_turn(&self, mut state: MutexGuard<'_, State>, class: Class) {
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.insert((class, ticket));
        self.dispatch(&mut state);
        while !state.granted.remove(&ticket) {
            state = self
                .turn
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Gives free slots to the first waiters.
    fn dispatch(&self, state: &mut State) {
        let mut woke = false;
        while state.busy < self.slots {
            let Some((_, ticket)) = state.waiting.pop_first() else {
                break;
            };
            state.busy += 1;
            state.granted.insert(ticket);
            woke = true;
        }
        if woke {
            self.turn.notify_all();
        }
    }
}

/// A run's way through the scheduler.
#[derive(Debug, Clone)]
pub struct Gate {
    scheduler: Arc<Scheduler>,
    class: Class,
}

impl ChunkGate for Gate {
    fn enter(&self) {
        let state = self.scheduler.lock();
        self.scheduler.wait_turn(state, self.class);
    }

    /// Hands the slot over if anyone of this class or a more urgent one waits.
    fn pause(&self) {
        let mut state = self.scheduler.lock();
        let yields = state.waiting.first().is_some_and(|(c, _)| *c <= self.class);
        if yields {
            state.busy -= 1;
            self.scheduler.wait_turn(state, self.class);
        }
    }

    fn leave(&self) {
        let mut state = self.scheduler.lock();
        state.busy -= 1;
        self.scheduler.dispatch(&mut state);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn no_more_than_the_slots_run_at_once() {
        let scheduler = Scheduler::new(2);
        let (inside, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for i in 0..6 {
                let gate = scheduler.gate(if i % 2 == 0 {
                    Class::Interactive
                } else {
                    Class::Background
                });
                let (inside, most) = (&inside, &most);
                s.spawn(move || {
                    gate.enter();
                    for _ in 0..20 {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_micros(200));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        gate.pause();
                    }
                    gate.leave();
                });
            }
        });
        assert!((1..=2).contains(&most.load(Ordering::SeqCst)));
        assert_eq!(scheduler.lock().busy, 0, "every slot is back");
        assert!(scheduler.lock().waiting.is_empty());
    }

    /// Runs `chunks` chunks of 1 ms through `gate`, sending `name` after each.
    fn chunks(gate: Gate, name: &'static str, chunks: usize, log: mpsc::Sender<&'static str>) {
        gate.enter();
        for i in 0..chunks {
            if i > 0 {
                gate.pause();
            }
            std::thread::sleep(Duration::from_millis(1));
            log.send(name).ok();
        }
        gate.leave();
    }

    #[test]
    fn an_interactive_run_goes_before_background_chunks_and_they_take_turns() {
        let scheduler = Scheduler::new(1);
        let (log, seen) = mpsc::channel();
        std::thread::scope(|s| {
            // A holds the slot; B waits; then I arrives.
            let first = scheduler.gate(Class::Background);
            first.enter();
            let (b, l) = (scheduler.gate(Class::Background), log.clone());
            s.spawn(move || chunks(b, "b", 3, l));
            while scheduler.waiting().1 == 0 {
                std::thread::yield_now();
            }
            let (i, l) = (scheduler.gate(Class::Interactive), log.clone());
            s.spawn(move || chunks(i, "i", 3, l));
            while scheduler.waiting().0 == 0 {
                std::thread::yield_now();
            }
            // A pauses: the interactive run gets the slot ahead of B, keeps it
            // for all its chunks, then B and A take turns.
            first.pause();
            log.send("a").ok();
            first.pause();
            log.send("a").ok();
            first.leave();
        });
        drop(log);
        let order: String = seen.iter().collect();
        assert_eq!(
            &order[..3],
            "iii",
            "the interactive run first, whole: {order}"
        );
        assert_eq!(&order[3..], "babab", "then turns: {order}");
    }
}

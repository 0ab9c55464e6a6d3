//! What a caller can plug into a run besides its [`Controls`](crate::estimation::Controls):
//! a gate that schedules the run's chunks beside other runs', chunks already
//! done (resumed from checkpoints), and a sink for each chunk's summary as it
//! completes (to checkpoint it).

use super::summary::ChunkSummary;

/// Shares the cores between runs at chunk granularity: each of a run's
/// threads enters the gate before its first chunk, pauses at it between
/// chunks, and leaves it after its last, so a scheduler can hold a background
/// job's threads between chunks while a small request's run, and let
/// background jobs take turns.
pub trait ChunkGate: Sync {
    /// Blocks until this thread may run chunks.
    fn enter(&self);
    /// Between two chunks: gives the thread's turn to whoever should go first
    /// (and blocks until it is this thread's again), or returns at once.
    fn pause(&self) {}
    /// This thread runs no more chunks.
    fn leave(&self);
}

/// No scheduling: every chunk starts at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ungated;

impl ChunkGate for Ungated {
    fn enter(&self) {}
    fn leave(&self) {}
}

/// Leaves the gate when the thread is done, even if it unwinds.
pub(super) struct Entered<'a>(&'a dyn ChunkGate);

impl<'a> Entered<'a> {
    pub fn new(gate: &'a dyn ChunkGate) -> Entered<'a> {
        gate.enter();
        Entered(gate)
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// The hooks of one run.
#[derive(Clone, Copy)]
pub struct Hooks<'a> {
    /// Most threads the run uses (the result does not depend on it).
    pub threads: usize,
    pub gate: &'a dyn ChunkGate,
    /// Summaries of chunks already done: they are not run again, and the
    /// result is the same bits as a run in one go.
    pub done: &'a [ChunkSummary],
    /// Called, on the thread that ran it, with each chunk's summary.
    pub on_chunk: Option<&'a (dyn Fn(&ChunkSummary) + Sync)>,
}

impl Hooks<'static> {
    /// No gate, nothing done before, no sink.
    pub fn threads(threads: usize) -> Hooks<'static> {
        Hooks {
            threads,
            gate: &Ungated,
            done: &[],
            on_chunk: None,
        }
    }
}

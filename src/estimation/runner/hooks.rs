//! What a caller can plug into a run besides its [`Controls`](crate::estimation::Controls):
//! a gate that schedules the run's chunks beside other runs', chunks already
//! done (resumed from checkpoints), and a sink for each chunk's summary as it
//! completes (to checkpoint it).

use super::summary::ChunkSummary;
use crate::estimation::job::{ChunkGate, Ungated};

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

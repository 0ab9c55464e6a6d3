//! A validated job, everything the runner needs, and the hooks its caller uses
//! to stop a run and watch it.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use super::distributions::{self, Distribution};
use super::estimator::Estimator;
use super::objective::{self, Program};
use super::sampling::Sampling;

/// Hooks the caller uses to stop a run and watch it.
#[derive(Debug, Clone, Copy)]
pub struct Controls<'a> {
    /// Set to stop the run (checked between batches).
    pub cancel: &'a AtomicBool,
    /// Stop with [`RunError::DeadlineExceeded`](super::RunError::DeadlineExceeded) after this instant.
    pub deadline: Option<Instant>,
    /// Samples done so far, for progress reports.
    pub progress: &'a AtomicU64,
}

/// Shares the cores between runs: each of a run's threads enters the gate
/// before its first chunk, pauses at it before every batch, and leaves it
/// after its last chunk, so a scheduler can hold a background job's threads
/// (a batch is a fraction of a millisecond's work) while a small request's
/// run, and let background jobs take turns. A thread that pauses keeps its
/// chunk's state: scheduling never changes a result.
pub trait ChunkGate: Sync {
    /// Blocks until this thread may run chunks.
    fn enter(&self);
    /// Before a batch: gives the thread's turn to whoever should go first
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

/// What to do when f or a gradient term is NaN or infinite for a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinitePolicy {
    /// Fail the job, naming the sample.
    #[default]
    Error,
    /// Drop such samples, count them, and warn.
    Skip,
}

/// A validated job: everything the runner needs. Its builder (the HTTP layer's
/// validation) checks the parameters, the objective and the sample count; the
/// runner checks again only that the estimator is one of the family's
/// ([`RunError::NotApplicable`](super::RunError::NotApplicable)), since [`run`](super::run) is public.
#[derive(Debug)]
pub struct Job {
    pub distribution: Box<dyn Distribution>,
    pub objective: Program,
    pub estimator: Estimator,
    /// N, the number of samples x drawn (≥ 2).
    pub samples: u64,
    pub seed: u64,
    pub on_non_finite: NonFinitePolicy,
    /// How the base noise is drawn: iid, antithetic pairs or rqmc (only for a
    /// family with [`Distribution::base_noise`]).
    pub sampling: Sampling,
    /// Exact enumeration is used for a reference when the distribution has at
    /// most this many outcomes.
    pub max_outcomes: u64,
}

/// Compiles an objective for a distribution: `x` is a sample, and every
/// parameter of the distribution may be referenced by name (the differentiated
/// ones then contribute a direct term ∇θf to the gradient). For a family drawn
/// in log space, `log(x)`, `log(x[i])` (and for beta `log(1 - x)`,
/// `log1p(-x)`) read the exact log values drawn with the sample.
pub fn compile_objective(
    text: &str,
    dist: &dyn Distribution,
    limits: &objective::ParseLimits,
    max_elements: usize,
) -> Result<Program, objective::ObjectiveError> {
    let expr = objective::parse(text, limits)?;
    let mut offset = 0;
    let bindings: Vec<objective::Binding> = dist
        .params()
        .iter()
        .map(|p| {
            let grad_offset = p.differentiable.then(|| {
                offset += p.values.len();
                offset - p.values.len()
            });
            objective::Binding {
                name: p.name.to_string(),
                values: p.values.clone(),
                grad_offset,
            }
        })
        .collect();
    // A family drawn in log space supplies log x (beta also log(1 − x)) exactly.
    let logs = match dist.log_space() {
        None => objective::LogInputs::None,
        Some(l) if l.carries_log1m() => objective::LogInputs::LogXAndLog1mX,
        Some(_) => objective::LogInputs::LogX,
    };
    Program::compile_with_logs(
        &expr,
        dist.dim(),
        &bindings,
        distributions::grad_len(dist),
        max_elements,
        logs,
    )
}

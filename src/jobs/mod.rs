//! Running estimations off the async threads: a bounded runner (a queue in
//! front of tokio's blocking pool, `lanes`) with cancellation, deadlines and
//! progress, and a bounded store of background jobs. Knows the estimation
//! core, not HTTP.

mod lanes;
mod runner;
mod scheduler;
mod store;

pub use runner::{
    Deadline, Failure, Handle, Output, Runner, Work, default_hooks, estimate, estimate_with,
    execute,
};
pub use scheduler::Class;
pub use store::{Jobs, Outcome, Removal, Snapshot, State, StoreFull};

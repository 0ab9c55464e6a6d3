//! Running estimations off the async threads: a bounded runner (a queue in
//! front of tokio's blocking pool, `lanes`) with cancellation, deadlines and
//! progress, and a bounded store of background jobs. Knows the estimation
//! core, not HTTP.

mod lanes;
pub mod persist;
mod runner;
mod store;

pub use runner::{Deadline, Failure, Handle, Runner, estimate};
pub use store::{Jobs, Outcome, Removal, Snapshot, State, StoreFull};

//! Running estimations off the async threads: a runner (lanes in front of
//! tokio's blocking pool, and a chunk scheduler that puts interactive chunks
//! first) with cancellation, deadlines and progress, and the background jobs
//! on a durable store. Knows the estimation core, not HTTP.

mod lanes;
pub mod persist;
mod runner;
mod scheduler;
mod service;

pub use runner::{
    Deadline, Failure, Handle, Output, Runner, Work, default_hooks, estimate, estimate_with,
    execute,
};
pub use scheduler::Class;
pub use service::{Codec, Jobs, JobsError, Removal, Settings, Submission, View, is_finished, now};

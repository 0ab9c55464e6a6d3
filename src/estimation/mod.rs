//! The estimation core: pure Monte Carlo gradient estimation, with no HTTP and no
//! async runtime in it (it never imports axum, utoipa or tokio).
//!
//! - [`objective`]: the expression language for f(x; θ), batched, with gradients;
//! - [`distributions`]: the families p_θ, one file each, registered in one table;
//! - [`estimators`]: the per-sample terms of each estimator, one file each, the
//!   sampling ones behind one interface ([`estimators::Sampler`]);
//! - [`runner`]: a job's stages: plan, seeding, chunks run in parallel, the
//!   deterministic merge, warnings;
//! - [`result`] and [`error`]: what a run returns, and why it may stop without;
//! - [`job`]: a validated job and the hooks to stop and watch its run;
//!   [`estimator`]: what it asks for; [`rng`]: the random streams;
//! - [`simd`]: CPU feature levels and the run-time dispatch of the batch
//!   kernels; [`fastmath`]: batch exp, ln, sin, cos; [`variates`]: normals
//!   and exponentials a batch at a time;
//! - [`special`]: digamma, trigamma and the regularized upper incomplete gamma
//!   function, on `libm`;
//! - [`sampling`]: iid, antithetic or randomised quasi-Monte Carlo base noise;
//! - [`stats`]: streaming moments, merging, batch-means standard errors;
//! - [`compare`]: ranking several estimates of one problem (bias against noise,
//!   work-normalised variance).

pub mod compare;
pub mod distributions;
pub mod error;
pub mod estimator;
pub mod estimators;
pub mod fastmath;
pub mod job;
pub mod objective;
pub mod result;
pub mod rng;
pub mod runner;
pub mod sampling;
pub mod simd;
pub mod special;
pub mod stats;
pub mod variates;

pub use distributions::Distribution;
pub use error::RunError;
pub use estimator::{Baseline, Estimator, EstimatorKind};
pub use job::{Controls, Job, NonFinitePolicy, compile_objective};
pub use objective::Program;
pub use result::Estimate;
pub use rng::SampleRng;
pub use runner::run;
pub use sampling::Sampling;
pub use variates::normals as normal_batch;

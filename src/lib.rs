//! gradest: Monte Carlo estimation of ∇θ E_{x~p_θ}[f(x; θ)], with honest errors.
//!
//! - [`estimation`]: the pure core (objective language, distributions,
//!   estimators, statistics, the parallel runner); no HTTP, no async runtime.
//! - [`jobs`]: runs estimations off the async threads (bounded, cancellable,
//!   with deadlines and progress) and keeps background jobs.
//! - [`http`]: the HTTP face (routes, problems, request validation, OpenAPI);
//!   the only module that imports axum or utoipa.
//! - [`config`]: flags and environment variables.
//! - [`telemetry`]: logs and metrics.
pub mod config;
pub mod estimation;
pub mod http;
pub mod jobs;
pub mod telemetry;

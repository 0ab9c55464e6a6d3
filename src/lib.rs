//! gradest: Monte Carlo estimation of ∇θ E_{x~p_θ}[f(x; θ)], with honest errors.
//!
//! - [`estimation`]: the pure core (objective language, distributions,
//!   estimators, statistics, the parallel runner); no HTTP, no async runtime.
pub mod estimation;

//! What every handler shares: the limits, the runner, the background jobs and
//! the metrics recorder.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::{ApiTokens, Config, Limits};
use crate::jobs::{Jobs, Runner};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    /// Bounds on requests, read by validation and the extractor.
    limits: Limits,
    /// The bearer tokens the /v1 routes accept (none: authentication is off).
    tokens: ApiTokens,
    /// Bounded blocking execution for requests that wait for their result.
    runner: Runner,
    /// Background jobs (they share the runner's lanes).
    jobs: Jobs,
    /// The Prometheus recorder rendered by `/metrics`.
    metrics: &'static PrometheusHandle,
}

impl AppState {
    pub fn new(config: &Config) -> AppState {
        let limits = config.limits.clone();
        let runner = Runner::new(limits.concurrency as usize);
        let jobs = Jobs::new(
            runner.clone(),
            limits.max_jobs as usize,
            limits.job_time_budget(),
        );
        AppState {
            inner: Arc::new(Shared {
                limits,
                tokens: config.api_tokens.clone(),
                runner,
                jobs,
                metrics: crate::telemetry::metrics(),
            }),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub fn tokens(&self) -> &ApiTokens {
        &self.inner.tokens
    }

    pub fn runner(&self) -> &Runner {
        &self.inner.runner
    }

    pub fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        self.inner.metrics
    }
}

//! What every handler shares: the limits, the runner, the background jobs and
//! the metrics recorder.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use std::path::Path;
use std::time::Duration;

use crate::config::{ApiTokens, Config, Limits};
use crate::http::job_codec::ApiCodec;
use crate::jobs::persist::{self, StoreError};
use crate::jobs::{Jobs, Runner, Settings};

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
    /// Opens the job store and starts the jobs' dispatcher (within a tokio runtime).
    pub fn new(config: &Config) -> Result<AppState, StoreError> {
        let limits = config.limits.clone();
        let runner = Runner::new(limits.concurrency as usize, limits.job_concurrency as usize);
        let s = &config.storage;
        let dir = (!s.data_dir.is_empty()).then(|| Path::new(&s.data_dir));
        let store = persist::open(dir, s.database_url.as_deref())?;
        let settings = Settings {
            budget: limits.job_time_budget(),
            max_unfinished: limits.max_jobs as usize,
            max_finished: s.max_finished_jobs as usize,
            retention: Duration::from_secs_f64(s.job_retention_secs),
            concurrency: limits.job_concurrency as usize,
            lease: Duration::from_secs_f64(s.lease_secs),
            checkpoint_every: Duration::from_secs_f64(s.checkpoint_secs),
            poll: Duration::from_secs_f64(s.job_poll_secs),
            shared: s.database_url.is_some(),
        };
        let codec = Arc::new(ApiCodec {
            limits: limits.clone(),
        });
        let jobs = Jobs::start(store, runner.clone(), codec, settings);
        Ok(AppState {
            inner: Arc::new(Shared {
                limits,
                tokens: config.api_tokens.clone(),
                runner,
                jobs,
                metrics: crate::telemetry::metrics(),
            }),
        })
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

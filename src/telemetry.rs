//! Logs (tracing, as text or JSON lines) and metrics (a Prometheus recorder).
//!
//! Metric names, for dashboards:
//! - `gradest_http_requests_total{method, route, status}`: requests answered;
//! - `gradest_http_request_duration_seconds{method, route}`: latency histogram;
//! - `gradest_jobs{state}`: background jobs by state, at scrape time;
//! - `gradest_samples_drawn_total`: samples drawn by every run;
//! - `gradest_estimations_in_flight`: runs executing;
//! - `gradest_chunk_waiters{class}`: threads waiting for a chunk slot
//!   (interactive, background), at scrape time.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global tracing subscriber. Fails when the filter does not
/// parse or a subscriber is already installed.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("bad log filter '{filter}': {e}"))?;
    // Colours only on a terminal: a file or a log collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| e.to_string())
}

/// Latency buckets, in seconds: from a cached catalog read to a long estimation.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process-wide Prometheus recorder (installed on first use; the `metrics`
/// macros write to it from anywhere, and `/metrics` renders it).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("gradest_http_request_duration_seconds".to_string()),
                LATENCY_BUCKETS,
            )
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // If another recorder was installed first (an embedding program), ours
        // renders empty rather than failing the service.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

//! `/healthz`, `/readyz`, `/metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::state::AppState;

/// Liveness and readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn health_live() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the service accepts work (runs beyond the concurrency bound queue).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Health)))]
pub async fn health_ready() -> Json<Health> {
    Json(Health { status: "ready" })
}

/// Prometheus metrics, in the text exposition format: requests by route and
/// status, a latency histogram, jobs by state, samples drawn.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics_get(State(state): State<AppState>) -> impl IntoResponse {
    for (status, count) in state.jobs().counts().await.unwrap_or_default() {
        metrics::gauge!("gradest_jobs", "state" => status.name()).set(count as f64);
    }
    let (interactive, background) = state.runner().waiting();
    metrics::gauge!("gradest_chunk_waiters", "class" => "interactive").set(interactive as f64);
    metrics::gauge!("gradest_chunk_waiters", "class" => "background").set(background as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
}

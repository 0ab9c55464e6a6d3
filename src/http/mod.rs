//! The HTTP face: the only code that imports axum or utoipa.
//!
//! - [`app`] builds the router (tests can call it without a server);
//! - [`serve`] runs it on a listener until a shutdown future resolves, letting
//!   running requests finish;
//! - [`openapi`] is the OpenAPI 3.1 document, served at `/openapi.json` and
//!   committed as `openapi/openapi.json` (regenerate it with
//!   `cargo run -- openapi > openapi/openapi.json`).

pub mod error;
pub mod extract;
pub mod routes;
pub mod schemas;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{Config, Limits};
use crate::jobs::{Jobs, Runner};
use error::ApiError;
use routes::{catalog, compare, estimate, health, jobs};
use schemas::ClosedEstimatorObjects;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    /// Bounds on requests, read by validation and the extractor.
    limits: Limits,
    /// Bounded blocking execution for requests that wait for their result.
    runner: Runner,
    /// Background jobs (they share the runner's permits).
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
                runner,
                jobs,
                metrics: crate::telemetry::metrics(),
            }),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
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

/// The OpenAPI document's root.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "gradest",
        description = "Monte Carlo estimation of ∇θ E_{x~p_θ}[f(x; θ)] with a chosen estimator \
                       (score function with baselines, reparameterization, Gumbel-Softmax, exact \
                       enumeration), reporting the estimate with honest standard errors and \
                       diagnostics. Every error is application/problem+json (RFC 9457) with a JSON \
                       pointer to the offending field. Seeds are unsigned 64-bit integers: parse them \
                       as u64, they may exceed 2^53.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        estimate::estimate_create,
        jobs::jobs_create,
        jobs::jobs_get,
        jobs::jobs_delete,
        compare::compare_create,
        catalog::catalog_get,
        health::health_live,
        health::health_ready,
        health::metrics_get,
    ),
    components(schemas(error::Problem)),
    modifiers(&ClosedEstimatorObjects),
    tags(
        (name = "estimation", description = "Run estimations and wait for them"),
        (name = "jobs", description = "Run estimations in the background"),
        (name = "catalog", description = "What the service knows"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI document as committed: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut text =
        serde_json::to_string_pretty(&openapi()).expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

/// The router with every route and layer.
pub fn app(state: AppState) -> Router {
    let limits = state.limits().clone();
    let x_request_id = HeaderName::from_static("x-request-id");
    let api = Router::new()
        .route("/v1/estimate", post(estimate::estimate_create))
        .route("/v1/jobs", post(jobs::jobs_create))
        .route(
            "/v1/jobs/{id}",
            get(jobs::jobs_get).delete(jobs::jobs_delete),
        )
        .route("/v1/compare", post(compare::compare_create))
        .route("/v1/catalog", get(catalog::catalog_get))
        .route("/healthz", get(health::health_live))
        .route("/readyz", get(health::health_ready))
        .route("/metrics", get(health::metrics_get))
        .with_state(state);
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(record_metrics))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(
                    x_request_id.clone(),
                    MakeRequestUuid,
                ))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let id = request
                                .headers()
                                .get("x-request-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("");
                            tracing::info_span!(
                                "request",
                                method = %request.method(),
                                uri = %request.uri(),
                                request_id = %id,
                            )
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id))
                .layer(CatchPanicLayer::custom(error::panic_response))
                .layer(middleware::from_fn(error::problems_only))
                // A safety net behind the runs' own deadlines (which answer first).
                .layer(TimeoutLayer::with_status_code(
                    error::timeout_status(),
                    limits.time_budget() + Duration::from_secs(5),
                )),
        )
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("there is no resource at {}", request.uri().path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Counts requests by route and status, and records their latency.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("gradest_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("gradest_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Serves until `shutdown` resolves, then lets running requests finish and
/// cancels the background jobs still queued or running.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new(&config);
    let jobs = state.jobs().clone();
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    jobs.cancel_all();
    result
}

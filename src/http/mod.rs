//! The HTTP face: the only code that imports axum or utoipa. A request walks
//! through it in this order:
//!
//! 1. [`extract`]: the JSON body, whose rejections are our problems;
//! 2. [`requests`]: the request types as the client sends them;
//! 3. [`validate`]: the one check of a request into a domain job, and the
//!    [`validate::prepare`] step every handler shares;
//! 4. [`routes`]: one file per resource; a handler prepares, runs (in
//!    [`crate::jobs`]) and converts;
//! 5. [`responses`] and [`catalog`]: what comes back, converted from the core;
//! 6. [`error`]: the one problem type, and the one place that picks a status.
//!
//! [`auth`] guards the /v1 routes with bearer tokens when they are configured.
//! [`state`] is what every handler shares. [`app`] builds the router (tests can
//! call it without a server); [`serve`] runs it on a listener until a shutdown
//! future resolves, letting running requests finish; [`openapi()`] is the
//! OpenAPI 3.1 document, served at `/openapi.json` and committed as
//! `openapi/openapi.json` (regenerate it with
//! `cargo run -- openapi > openapi/openapi.json`).

pub mod auth;
pub mod catalog;
pub mod error;
pub mod extract;
pub mod job_codec;
pub mod openapi;
pub mod partials;
pub mod requests;
pub mod responses;
pub mod routes;
pub mod state;
pub mod validate;

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use error::ApiError;
pub use openapi::{openapi, openapi_json};
use routes::{catalog as catalog_route, compare, estimate, health, jobs, merge};
pub use state::AppState;

/// The router with every route and layer.
pub fn app(state: AppState) -> Router {
    let limits = state.limits().clone();
    let x_request_id = HeaderName::from_static("x-request-id");
    // Every /v1 route, behind the one authentication middleware (a no-op when
    // no tokens are configured). `route_layer` guards only the routes added
    // before it: add /v1 routes here (tests/api/auth.rs checks that every
    // documented /v1 operation answers 401 without a token).
    let v1 = Router::new()
        .route("/v1/estimate", post(estimate::estimate_create))
        .route("/v1/jobs", post(jobs::jobs_create).get(jobs::jobs_list))
        .route(
            "/v1/jobs/{id}",
            get(jobs::jobs_get).delete(jobs::jobs_delete),
        )
        .route("/v1/compare", post(compare::compare_create))
        .route(
            "/v1/merge",
            post(merge::merge_create).layer(DefaultBodyLimit::max(limits.max_merge_body_bytes)),
        )
        .route("/v1/catalog", get(catalog_route::catalog_get))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    let api = v1
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
/// hands the background jobs running here back to the store, queued (with
/// their checkpoints), for a restart or another replica.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Opening a store blocks (and the PostgreSQL client must not start on an
    // async worker), so it happens on the blocking pool.
    let state = tokio::task::spawn_blocking(move || AppState::new(&config))
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    let jobs = state.jobs().clone();
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    jobs.shutdown().await;
    result
}

//! `POST /v1/compare`: several estimators on one problem, side by side.

use std::time::Instant;

use axum::extract::State;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiJson;
use crate::http::requests::CompareRequest;
use crate::http::responses::CompareResponse;
use crate::http::state::AppState;
use crate::http::validate::prepare;
use crate::jobs::{Class, Deadline, Handle, estimate};

/// Run several estimators with the same samples and seed and rank them.
///
/// Each row reports the estimate, its variance and standard error, the time
/// taken and the work-normalized variance (mean over gradient components of
/// variance × seconds per sample); when an exact reference exists, the bias.
/// Rank 1 is the lowest work-normalized variance among the estimators whose
/// bias is within noise (|bias| ≤ 4.5·std_error in every component).
/// The estimators run one after another within one request time budget.
#[utoipa::path(
    post,
    path = "/v1/compare",
    tag = "estimation",
    request_body = CompareRequest,
    responses(
        (status = 200, description = "One row per estimator, ranked", body = CompareResponse),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `pointer` names it. Also `/samples` when, at the pace of its first chunks, the comparison could not finish within the request time budget: the detail says how many samples would fit (send the body to `POST /v1/jobs` to run it in the background)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded: the comparison was on pace to finish but was slowed past its time budget (waiting for a free slot included); retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn compare_create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CompareRequest>,
) -> Result<ApiJson<CompareResponse>, ApiError> {
    let deadline = Instant::now() + state.limits().time_budget();
    let compare = prepare(&state, request).await?;
    let (samples, seed, jobs) = (compare.samples, compare.seed, compare.jobs);
    let runs = state
        .runner()
        .run(
            Class::Interactive,
            Handle::new(),
            Deadline::At(deadline),
            move |c, gate| {
                jobs.into_iter()
                    .map(|(spec, job)| estimate(&job, c, gate).map(|e| (spec, e)))
                    .collect::<Result<Vec<_>, _>>()
            },
        )
        .await?;
    Ok(ApiJson(CompareResponse::new(samples, seed, &runs)))
}

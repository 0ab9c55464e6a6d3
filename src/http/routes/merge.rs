//! `POST /v1/merge`: the result of a job from the partials of all its chunks.

use axum::extract::State;

use crate::estimation::runner::merge_partials;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiJson;
use crate::http::partials::MergeRequest;
use crate::http::responses::EstimateResponse;
use crate::http::state::AppState;
use crate::http::validate::prepare;

/// Merge the partials of a job (requests with `chunks`) into its result.
///
/// The partials may come from any machines, in any order; the result is bit
/// for bit the one the job gives run whole. Partials of different jobs or
/// versions, or whose ranges overlap or leave chunks out, are refused (422),
/// naming the partial.
#[utoipa::path(
    post,
    path = "/v1/merge",
    tag = "estimation",
    request_body = MergeRequest,
    responses(
        (status = 200, description = "The job's result", body = EstimateResponse),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The partials do not belong together; `pointer` names the partial", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn merge_create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<MergeRequest>,
) -> Result<ApiJson<EstimateResponse>, ApiError> {
    let m = prepare(&state, request).await?;
    let merged = state
        .runner()
        .prepare(move || merge_partials(&m.job, &m.summaries, m.elapsed))
        .await??;
    Ok(ApiJson(EstimateResponse::from(&merged)))
}

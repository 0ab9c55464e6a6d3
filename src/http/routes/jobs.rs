//! `/v1/jobs`: background jobs (submit, poll, cancel or remove).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiJson;
use crate::http::requests::EstimateRequest;
use crate::http::responses::JobResponse;
use crate::http::state::AppState;
use crate::http::validate::prepare;
use crate::jobs::Removal;

/// Submit a job to run in the background.
///
/// The job is validated at once (the same checks and problems as
/// `/v1/estimate`), then queued; poll the `Location` it returns.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "jobs",
    request_body = EstimateRequest,
    responses(
        (status = 202, description = "Queued; `Location` is the job's URL", body = JobResponse,
         headers(("Location" = String, description = "/v1/jobs/{id}"))),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `pointer` names it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The job store is full of unfinished jobs", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jobs_create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EstimateRequest>,
) -> Result<Response, ApiError> {
    let work = prepare(&state, request).await?;
    let snapshot = state.jobs().submit(work.job)?;
    let location = format!("/v1/jobs/{}", snapshot.id);
    let body = Json(JobResponse::from(&snapshot));
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response())
}

/// A job's status, progress, and its result or error once finished.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 200, description = "The job", body = JobResponse),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jobs_get(
    State(state): State<AppState>,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobResponse>, ApiError> {
    let id = job_id(id, &uri)?;
    let snapshot = parse_id(&id)
        .and_then(|id| state.jobs().get(id))
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(JobResponse::from(&snapshot)))
}

/// Cancel a queued or running job (200, status `cancelled`), or remove a
/// finished one (204).
#[utoipa::path(
    delete,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 200, description = "The job was queued or running and is now cancelled", body = JobResponse),
        (status = 204, description = "The job had finished and is now removed"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jobs_delete(
    State(state): State<AppState>,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = job_id(id, &uri)?;
    match parse_id(&id).and_then(|id| state.jobs().delete(id)) {
        Some(Removal::Cancelled(snapshot)) => {
            Ok(Json(JobResponse::from(&snapshot)).into_response())
        }
        Some(Removal::Removed) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(&id)),
    }
}

/// The id from the path. One that cannot be read as text (percent-encoded
/// bytes that are not UTF-8) names no job either: 404, like any unknown id.
fn job_id(id: Result<Path<String>, PathRejection>, uri: &Uri) -> Result<String, ApiError> {
    id.map(|Path(id)| id).map_err(|_| {
        ApiError::NotFound(format!(
            "there is no job at {} (a job's id is a UUID)",
            uri.path()
        ))
    })
}

fn parse_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id).ok()
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "there is no job '{id}' (finished jobs are kept until deleted or evicted by newer ones)"
    ))
}

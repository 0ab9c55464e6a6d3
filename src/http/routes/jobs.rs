//! `/v1/jobs`: background jobs (submit, list, poll, cancel or remove). With
//! tokens on, a job is visible only to the token that submitted it.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::http::auth::Principal;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiJson;
use crate::http::requests::EstimateRequest;
use crate::http::responses::{JobList, JobResponse};
use crate::http::state::AppState;
use crate::http::validate::{list_query, prepare, submission};
use crate::jobs::Removal;

/// Submit a job to run in the background.
///
/// The job is validated at once (the same checks and problems as
/// `/v1/estimate`), then queued in the job store; poll the `Location` it
/// returns. With `chunks`, its result is a partial summary for `POST /v1/merge`.
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
        (status = 429, description = "Too many jobs are queued or running; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 503, description = "The job store is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jobs_create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<EstimateRequest>,
) -> Result<Response, ApiError> {
    let spec = request.clone();
    let work = prepare(&state, request).await?;
    let view = state
        .jobs()
        .submit(submission(spec, &work, principal.0)?)
        .await?;
    let location = format!("/v1/jobs/{}", view.record.id);
    let body = Json(JobResponse::new(&view, true));
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response())
}

/// List jobs, newest first, a page at a time.
///
/// Query parameters: `status` (one of queued, running, succeeded, failed,
/// cancelled), `limit` (1 to 1000, default 100), `after` (the `next` of the
/// previous page).
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "jobs",
    params(
        ("status" = Option<String>, Query, description = "Only jobs with this status"),
        ("limit" = Option<u32>, Query, description = "Most jobs on a page (1 to 1000; default 100)"),
        ("after" = Option<String>, Query, description = "The `next` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 422, description = "A query parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The job store is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jobs_list(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<JobList>, ApiError> {
    let query = list_query(&params, principal.0)?;
    let limit = query.limit;
    let views = state.jobs().list(query).await?;
    let next = (views.len() == limit)
        .then(|| {
            views
                .last()
                .map(|v| format!("{}.{}", v.record.created, v.record.id))
        })
        .flatten();
    let jobs = views.iter().map(|v| JobResponse::new(v, false)).collect();
    Ok(Json(JobList { jobs, next }))
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
        (status = 503, description = "The job store is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jobs_get(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobResponse>, ApiError> {
    let (id, uuid) = job_id(id, &uri)?;
    let view = state.jobs().get(uuid, principal.0).await?;
    Ok(Json(JobResponse::new(
        &view.ok_or_else(|| not_found(&id))?,
        true,
    )))
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
        (status = 503, description = "The job store is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jobs_delete(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, uuid) = job_id(id, &uri)?;
    match state.jobs().delete(uuid, principal.0).await? {
        Some(Removal::Cancelled(view)) => Ok(Json(JobResponse::new(&view, true)).into_response()),
        Some(Removal::Removed) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(&id)),
    }
}

/// The id from the path, as sent and as a UUID. One that is not a UUID, or
/// cannot be read as text (percent-encoded bytes that are not UTF-8), names no
/// job: 404, like any unknown id.
fn job_id(id: Result<Path<String>, PathRejection>, uri: &Uri) -> Result<(String, Uuid), ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::NotFound(format!(
            "there is no job at {} (a job's id is a UUID)",
            uri.path()
        )));
    };
    match Uuid::parse_str(&id) {
        Ok(uuid) => Ok((id, uuid)),
        Err(_) => Err(not_found(&id)),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "there is no job '{id}' (finished jobs are kept until deleted or expired; with tokens \
         on, a job is visible only to the token that submitted it)"
    ))
}

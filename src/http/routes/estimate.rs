//! `POST /v1/estimate`: run one job and wait for its result.

use std::time::Instant;

use axum::extract::State;

use crate::estimation::runner::Hooks;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiJson;
use crate::http::requests::EstimateRequest;
use crate::http::responses::EstimateOrPartial;
use crate::http::state::AppState;
use crate::http::validate::prepare;
use crate::jobs::{Class, Deadline, Handle, default_hooks, execute};

/// Run one estimation and wait for the result.
///
/// The run is cancelled if the client disconnects. A run that cannot finish
/// within the request time budget is refused with 422 naming `samples` as soon
/// as its first chunks show its pace (5% of the budget, at least 50 ms); 503
/// with `Retry-After` is for overload only: a run on pace that was slowed past
/// the budget (waiting for a free slot included).
#[utoipa::path(
    post,
    path = "/v1/estimate",
    tag = "estimation",
    request_body = EstimateRequest,
    responses(
        (status = 200, description = "The estimate, its standard errors and diagnostics; with `chunks`, a partial summary for `POST /v1/merge`", body = EstimateOrPartial),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `pointer` names it. Also `/samples` when, at the pace of its first chunks, the run could not finish within the request time budget: the detail says how many samples would fit (send the body to `POST /v1/jobs` to run it in the background)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded: the run was on pace to finish but was slowed past its time budget (waiting for a free slot included); retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn estimate_create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EstimateRequest>,
) -> Result<ApiJson<EstimateOrPartial>, ApiError> {
    let deadline = Instant::now() + state.limits().time_budget();
    let spec = EstimateRequest {
        chunks: None,
        ..request.clone()
    };
    let work = prepare(&state, request).await?;
    let run = state.runner().run(
        Class::Interactive,
        Handle::new(),
        Deadline::At(deadline),
        move |c, gate| {
            execute(
                &work,
                c,
                &Hooks {
                    gate,
                    ..default_hooks()
                },
            )
        },
    );
    Ok(ApiJson(EstimateOrPartial::new(spec, run.await?)))
}

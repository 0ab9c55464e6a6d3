//! `GET /v1/catalog`: what the service knows.

use axum::Json;
use axum::extract::State;

use crate::http::catalog::Catalog;
use crate::http::state::AppState;

/// The distribution families with their parameters, constraints and applicable
/// estimators; the estimators; the objective language; the limits.
#[utoipa::path(
    get,
    path = "/v1/catalog",
    tag = "catalog",
    responses((status = 200, description = "The catalog", body = Catalog))
)]
pub async fn catalog_get(State(state): State<AppState>) -> Json<Catalog> {
    Json(Catalog::new(state.limits()))
}

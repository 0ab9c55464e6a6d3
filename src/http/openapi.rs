//! The OpenAPI 3.1 document: the paths of [`super::routes`], the shared
//! [`Problem`], and a modifier for what utoipa cannot derive.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, Schema, SchemaType, Type};
use utoipa::{OpenApi, ToSchema};

use super::error::Problem;
use super::requests::{BaselineSpec, EstimatorSpec};
use super::routes::{catalog, compare, estimate, health, jobs, merge};

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
        jobs::jobs_list,
        jobs::jobs_get,
        jobs::jobs_delete,
        compare::compare_create,
        merge::merge_create,
        catalog::catalog_get,
        health::health_live,
        health::health_ready,
        health::metrics_get,
    ),
    components(schemas(Problem)),
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

/// Closes the objects of the estimator and baseline schemas
/// (`additionalProperties: false`): the service refuses unknown fields in
/// them, but utoipa does not carry serde's `deny_unknown_fields` into enum
/// variants.
pub struct ClosedEstimatorObjects;

impl utoipa::Modify for ClosedEstimatorObjects {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in [EstimatorSpec::name(), BaselineSpec::name()] {
            let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(name.as_ref())
            else {
                continue;
            };
            for item in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = item
                    && matches!(object.schema_type, SchemaType::Type(Type::Object))
                {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

//! The OpenAPI 3.1 document: the paths of [`super::routes`], the shared
//! [`Problem`], and modifiers for what utoipa cannot derive.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
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
                       pointer to the offending field. When the service is configured with tokens \
                       (GRADEST_API_TOKENS), every /v1 operation requires `Authorization: Bearer \
                       <token>` and answers 401 without one; health, metrics and this document stay \
                       open. Seeds are unsigned 64-bit integers: parse them \
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
    modifiers(&ClosedEstimatorObjects, &BearerTokens),
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

/// The name of the security scheme and of the shared 401 response.
const BEARER: &str = "bearer";
const UNAUTHORIZED: &str = "Unauthorized";

/// The `bearer` security scheme, required by every /v1 operation, and the 401
/// they answer without an accepted token (a shared response component).
pub struct BearerTokens;

impl utoipa::Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "One of the tokens in GRADEST_API_TOKENS; required only when the service is \
                 configured with tokens.",
            ))
            .build();
        components
            .security_schemes
            .insert(BEARER.to_string(), RefOr::T(SecurityScheme::Http(scheme)));
        components
            .responses
            .insert(UNAUTHORIZED.to_string(), unauthorized_response());
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                operation.security =
                    Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                operation.responses.responses.insert(
                    "401".to_string(),
                    RefOr::Ref(Ref::from_response_name(UNAUTHORIZED)),
                );
            }
        }
    }
}

/// The 401: a problem, with the `WWW-Authenticate` challenge.
fn unauthorized_response() -> RefOr<utoipa::openapi::Response> {
    let challenge = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(
            "`Bearer realm=\"gradest\"`, with `error=\"invalid_token\"` for a token the service \
             does not accept and `error=\"invalid_request\"` for a malformed header (RFC 6750).",
        ))
        .build();
    ResponseBuilder::new()
        .description(
            "Authentication is on and the request has no accepted bearer token; `detail` says \
             what was wrong with its Authorization header",
        )
        .content(
            super::error::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(Problem::name())))
                .build(),
        )
        .header("WWW-Authenticate", challenge)
        .into()
}

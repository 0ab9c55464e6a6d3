//! The one error type of the HTTP layer and the one place that picks a status.
//! Every error leaves as `application/problem+json` (RFC 9457): `type`,
//! `title`, `status`, `detail`, and, for a bad field, `pointer` (a JSON pointer
//! into the request) and, for an objective, the `column`. Internal errors say
//! nothing to the client; they are logged in full once, where they arise
//! ([`ApiError::internal`], or the jobs runner for a panicked run), never when
//! a response is made (a failed job is read many times).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::AuthFailure;
use crate::estimation::RunError;
use crate::estimation::distributions::ParamError;
use crate::estimation::objective::ObjectiveError;
use crate::jobs::{Failure, JobsError};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// What kind of problem this is (a stable URN: match on it, not on `detail`).
    #[serde(rename = "type")]
    #[schema(example = "urn:gradest:problem:invalid-field")]
    pub kind: String,
    /// A short summary of the kind.
    #[schema(example = "A field of the request is invalid")]
    pub title: String,
    /// The HTTP status.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong in this request, and what to do about it.
    #[schema(example = "scale[1] = -1 is invalid: scale must be finite numbers > 0")]
    pub detail: String,
    /// JSON pointer (RFC 6901) to the offending part of the request, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/distribution/scale/1")]
    pub pointer: Option<String>,
    /// For an objective that does not parse or compile: the 1-based character column.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 7)]
    pub column: Option<usize>,
}

/// Everything a request can fail with.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The body is not JSON.
    MalformedJson {
        pointer: Option<String>,
        detail: String,
    },
    /// The body is not declared as JSON.
    UnsupportedMediaType(String),
    /// The body is larger than the configured limit.
    BodyTooLarge { limit: usize },
    /// A field has the wrong type or value.
    InvalidField { pointer: String, detail: String },
    /// A field exceeds a configured limit.
    LimitExceeded { pointer: String, detail: String },
    /// The estimator does not apply to the distribution.
    NotApplicable { pointer: String, detail: String },
    /// The objective does not parse or compile.
    Objective {
        detail: String,
        column: Option<usize>,
    },
    /// The objective is not finite at a sample.
    NonFinite(String),
    /// A query parameter has the wrong form or value.
    InvalidQuery { parameter: String, detail: String },
    /// The request has no bearer token the service accepts (authentication on).
    Unauthenticated(AuthFailure),
    /// No such resource.
    NotFound(String),
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// The run did not finish within its time budget.
    TimeBudget(String),
    /// Too many background jobs are unfinished: retry after this many seconds.
    TooManyJobs { detail: String, retry_after: u64 },
    /// The job store failed (logged where it arose).
    StoreUnavailable,
    /// The run was cancelled (its client is gone, or the service is stopping).
    Cancelled,
    /// A bug. The text is logged where it arises, never sent.
    Internal(String),
}

impl ApiError {
    /// A field error, pointer given as path segments under the request root.
    pub fn field(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::InvalidField {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }

    pub fn limit(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::LimitExceeded {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }

    /// The same error about a request nested at `prefix` (a partial's job).
    pub fn under(self, prefix: &str) -> Self {
        let nest = |pointer: String| format!("{prefix}{pointer}");
        match self {
            ApiError::InvalidField { pointer, detail } => ApiError::InvalidField {
                pointer: nest(pointer),
                detail,
            },
            ApiError::LimitExceeded { pointer, detail } => ApiError::LimitExceeded {
                pointer: nest(pointer),
                detail,
            },
            ApiError::NotApplicable { pointer, detail } => ApiError::NotApplicable {
                pointer: nest(pointer),
                detail,
            },
            other => other,
        }
    }

    /// A query parameter error, naming the parameter.
    pub fn query(parameter: &str, detail: impl Into<String>) -> Self {
        ApiError::InvalidQuery {
            parameter: parameter.to_string(),
            detail: detail.into(),
        }
    }

    /// A bug, logged in full here, where it arises; the client is told nothing.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        ApiError::Internal(message)
    }

    /// The status of this error: the only place statuses are chosen.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidField { .. }
            | ApiError::LimitExceeded { .. }
            | ApiError::NotApplicable { .. }
            | ApiError::Objective { .. }
            | ApiError::InvalidQuery { .. }
            | ApiError::NonFinite(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyJobs { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TimeBudget(_) | ApiError::Cancelled | ApiError::StoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::MalformedJson { .. } => ("malformed-json", "The body is not valid JSON"),
            ApiError::UnsupportedMediaType(_) => (
                "unsupported-media-type",
                "The body must be application/json",
            ),
            ApiError::BodyTooLarge { .. } => ("body-too-large", "The body is too large"),
            ApiError::InvalidField { .. } => ("invalid-field", "A field of the request is invalid"),
            ApiError::LimitExceeded { .. } => ("limit-exceeded", "A field exceeds a limit"),
            ApiError::NotApplicable { .. } => (
                "estimator-not-applicable",
                "The estimator does not apply to this distribution",
            ),
            ApiError::Objective { .. } => ("invalid-objective", "The objective is invalid"),
            ApiError::NonFinite(_) => (
                "non-finite-objective",
                "The objective is not finite at a sample",
            ),
            ApiError::Unauthenticated(_) => ("unauthenticated", "The request is not authenticated"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            ApiError::TimeBudget(_) => (
                "time-budget-exceeded",
                "The run did not finish within its time budget",
            ),
            ApiError::InvalidQuery { .. } => ("invalid-query", "A query parameter is invalid"),
            ApiError::TooManyJobs { .. } => {
                ("too-many-jobs", "Too many background jobs are unfinished")
            }
            ApiError::StoreUnavailable => ("store-unavailable", "The job store is unavailable"),
            ApiError::Cancelled => ("cancelled", "The run was cancelled"),
            ApiError::Internal(_) => ("internal", "Internal error"),
        }
    }

    /// The problem document (internal errors say nothing to the client). It
    /// logs nothing: it is made each time a failed job is read.
    pub fn problem(&self) -> Problem {
        let (kind, title) = self.kind_and_title();
        let (detail, pointer, column) = match self {
            ApiError::MalformedJson { pointer, detail } => (detail.clone(), pointer.clone(), None),
            ApiError::UnsupportedMediaType(d) | ApiError::NotFound(d) | ApiError::TimeBudget(d) => {
                (d.clone(), None, None)
            }
            ApiError::BodyTooLarge { limit } => (
                format!("the request body exceeds the limit of {limit} bytes"),
                None,
                None,
            ),
            ApiError::InvalidField { pointer, detail }
            | ApiError::LimitExceeded { pointer, detail }
            | ApiError::NotApplicable { pointer, detail } => {
                (detail.clone(), Some(pointer.clone()), None)
            }
            ApiError::Objective { detail, column } => {
                (detail.clone(), Some("/objective".to_string()), *column)
            }
            ApiError::NonFinite(d) => (d.clone(), Some("/objective".to_string()), None),
            ApiError::Unauthenticated(failure) => (failure.detail(), None, None),
            ApiError::MethodNotAllowed => (
                "this method is not allowed on this path".to_string(),
                None,
                None,
            ),
            ApiError::Cancelled => (
                "the run was cancelled before it finished".to_string(),
                None,
                None,
            ),
            ApiError::InvalidQuery { parameter, detail } => (
                format!("query parameter '{parameter}': {detail}"),
                None,
                None,
            ),
            ApiError::TooManyJobs { detail, .. } => (detail.clone(), None, None),
            ApiError::StoreUnavailable => (
                "the job store does not answer; retry shortly (the failure has been logged)"
                    .to_string(),
                None,
                None,
            ),
            ApiError::Internal(_) => (
                "an internal error occurred; it has been logged".to_string(),
                None,
                None,
            ),
        };
        Problem {
            kind: format!("urn:gradest:problem:{kind}"),
            title: title.to_string(),
            status: self.status().as_u16(),
            detail,
            pointer,
            column,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = problem_response(self.status(), &self.problem());
        let retry_after = match &self {
            ApiError::TimeBudget(_) => Some(1),
            ApiError::StoreUnavailable => Some(5),
            ApiError::TooManyJobs { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let ApiError::Unauthenticated(failure) = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(failure.challenge()),
            );
        }
        response
    }
}

fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
        body,
    )
        .into_response()
}

/// Joins a pointer prefix and relative segments, escaping `~` and `/` (RFC 6901).
pub fn pointer<S: AsRef<str>>(prefix: &str, segments: &[S]) -> String {
    let mut out = prefix.to_string();
    for s in segments {
        out.push('/');
        out.push_str(&s.as_ref().replace('~', "~0").replace('/', "~1"));
    }
    out
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError::field(pointer("/distribution", &e.path), e.message)
    }
}

impl From<ObjectiveError> for ApiError {
    fn from(e: ObjectiveError) -> Self {
        match e {
            ObjectiveError::Limit(message) => ApiError::limit("/objective", message),
            e => ApiError::Objective {
                column: e.column(),
                detail: e.to_string(),
            },
        }
    }
}

/// What a client can do about a non-finite sample, in the request's words.
const NON_FINITE_SAMPLE_ADVICE: &str = "Make f finite on the whole support, or send \
     \"on_non_finite\": \"skip\" to drop such samples";

/// A run refused for its projected time, in the request's words: how many
/// samples would fit, and where a long run goes instead.
fn beyond_budget(samples: u64, projected_secs: f64, budget_secs: f64) -> String {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let fits = (samples as f64 * budget_secs / projected_secs * 0.8) as u64;
    format!(
        "{samples} samples would take about {projected_secs:.0} s at the pace measured in the \
         run's first seconds, beyond the {budget_secs:.0} s a request may take; send at most \
         about {fits} samples, or submit the same body to POST /v1/jobs, which runs in the \
         background with a budget of its own"
    )
}

/// What a client can do when skipping left too few samples.
const TOO_FEW_FINITE_ADVICE: &str = "make f finite on more of the support";

impl From<RunError> for ApiError {
    /// The core says what happened; the advice about request fields is added here.
    fn from(e: RunError) -> Self {
        match e {
            RunError::Cancelled => ApiError::Cancelled,
            e @ RunError::DeadlineExceeded { .. } => ApiError::TimeBudget(e.to_string()),
            RunError::BeyondBudget {
                total,
                projected_secs,
                budget_secs,
                ..
            } => ApiError::field(
                "/samples",
                beyond_budget(total, projected_secs, budget_secs),
            ),
            e @ RunError::NonFiniteSample { .. } => {
                ApiError::NonFinite(format!("{e}. {NON_FINITE_SAMPLE_ADVICE}"))
            }
            e @ RunError::TooFewFinite { .. } => {
                ApiError::NonFinite(format!("{e}; {TOO_FEW_FINITE_ADVICE}"))
            }
            e @ RunError::NonFiniteOutcome { .. } => ApiError::NonFinite(e.to_string()),
            e @ (RunError::NotApplicable { .. }
            | RunError::NoReparameterization
            | RunError::NotGaussian
            | RunError::DeltaNotFinite { .. }
            | RunError::NoRelaxation
            | RunError::WrongFamily(_)
            | RunError::NoMeasureValued
            | RunError::NotEnumerable
            | RunError::ExactInfeasible) => ApiError::field("/estimator", e.to_string()),
            e @ RunError::NoLogit { component, .. } => {
                ApiError::field(format!("/distribution/probs/{component}"), e.to_string())
            }
            e @ RunError::SamplingNotApplicable { .. } => {
                ApiError::field("/sampling/method", e.to_string())
            }
            e @ RunError::Summaries(_) => ApiError::field("/partials", e.to_string()),
        }
    }
}

impl From<Failure> for ApiError {
    fn from(e: Failure) -> Self {
        match e {
            Failure::Run(e) => e.into(),
            e @ Failure::NotStarted(_) => ApiError::TimeBudget(e.to_string()),
            // Logged by the jobs runner when the panic was caught.
            Failure::Panicked(message) => ApiError::Internal(format!("a run panicked: {message}")),
        }
    }
}

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> Self {
        match e {
            e @ JobsError::Full { .. } => ApiError::TooManyJobs {
                detail: e.to_string(),
                retry_after: 5,
            },
            JobsError::Unavailable => ApiError::StoreUnavailable,
        }
    }
}

/// The status the outer timeout layer answers with (the same as a run that ran
/// out of time).
pub fn timeout_status() -> StatusCode {
    ApiError::TimeBudget(String::new()).status()
}

/// The problem for a panic caught by the outer layer (the request gets a 500,
/// the service keeps serving).
pub fn panic_response(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_string());
    ApiError::internal(format!("a request handler panicked: {text}")).into_response()
}

/// Rewrites error responses that did not come from [`ApiError`] (a timeout
/// layer's bare 503, say) into problems with the same status.
pub async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let detail =
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::REQUEST_TIMEOUT {
            "the request did not finish within its time budget".to_string()
        } else {
            reason.to_lowercase()
        };
    let problem = Problem {
        kind: format!(
            "urn:gradest:problem:{}",
            reason.to_lowercase().replace(' ', "-")
        ),
        title: reason.to_string(),
        status: status.as_u16(),
        detail,
        pointer: None,
        column: None,
    };
    let mut out = problem_response(status, &problem);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_say_nothing_to_the_client() {
        let e = ApiError::from(Failure::Panicked("secret stack detail".to_string()));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let p = e.problem();
        assert!(!p.detail.contains("secret"), "{p:?}");
        assert_eq!(p.status, 500);
    }

    /// How many lines are logged on this thread while `f` runs.
    fn lines_logged(f: impl FnOnce()) -> usize {
        use std::sync::{Arc, Mutex};

        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        text.lines().count()
    }

    #[test]
    fn making_a_response_logs_nothing() {
        // A failed job's error is made into a problem each time the job is read.
        let failed = ApiError::from(Failure::Panicked("boom".to_string()));
        let logged = lines_logged(|| {
            for _ in 0..3 {
                let _ = failed.problem();
                let _ = failed.clone().into_response();
            }
        });
        assert_eq!(logged, 0);
        // Negative control: an internal error is logged once, where it arises.
        assert_eq!(lines_logged(|| drop(ApiError::internal("boom"))), 1);
    }

    #[test]
    fn core_errors_point_at_their_field() {
        let e = ApiError::from(ParamError::at("scale", 1, "bad"));
        assert_eq!(
            e.problem().pointer.as_deref(),
            Some("/distribution/scale/1")
        );
        let e = ApiError::from(RunError::NonFiniteOutcome {
            x: vec![1.0],
            f: f64::NAN,
        });
        assert_eq!(e.problem().pointer.as_deref(), Some("/objective"));
        let e = ApiError::from(RunError::DeadlineExceeded { done: 1, total: 2 });
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn advice_about_request_fields_is_added_here() {
        let sample = RunError::NonFiniteSample {
            x: vec![-0.5],
            f: f64::NAN,
            gradient_term: None,
        };
        assert!(!sample.to_string().contains("on_non_finite"), "{sample}");
        let p = ApiError::from(sample).problem();
        assert_eq!(p.kind, "urn:gradest:problem:non-finite-objective");
        assert_eq!(
            p.detail,
            "the objective is not finite at a sample: x = [-0.500000], f = NaN. Make f finite \
             on the whole support, or send \"on_non_finite\": \"skip\" to drop such samples"
        );
        let few = RunError::TooFewFinite {
            dropped: 9,
            total: 10,
            kept: 1,
        };
        assert_eq!(
            ApiError::from(few).problem().detail,
            "9 of 10 samples had a non-finite objective or gradient and were dropped, leaving \
             1 (at least 2 are needed); make f finite on more of the support"
        );
    }

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        assert_eq!(
            pointer("/distribution", &["a/b", "c~d"]),
            "/distribution/a~1b/c~0d"
        );
        assert_eq!(pointer("", &[] as &[&str]), "");
    }
}

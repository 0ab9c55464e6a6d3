//! The API's side of stored jobs: a stored spec is an [`EstimateRequest`] as
//! JSON (seed included), validated again when a replica runs it; results and
//! failures are stored as the JSON the API returns, so any replica answers
//! `GET /v1/jobs/{id}` with the same body.

use crate::config::Limits;
use crate::estimation::RunError;
use crate::http::error::ApiError;
use crate::http::requests::EstimateRequest;
use crate::http::responses::EstimateOrPartial;
use crate::http::validate::Validate;
use crate::jobs::{Codec, Failure, Output, Work};

/// Specs and results in the API's formats.
pub struct ApiCodec {
    pub limits: Limits,
}

fn spec(text: &str) -> Result<EstimateRequest, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("the stored job does not read as a request: {e}"))
}

impl Codec for ApiCodec {
    fn work(&self, text: &str) -> Result<Work, String> {
        let request = spec(text)?;
        request
            .validate(&self.limits)
            .map_err(|e| e.problem().detail)
    }

    fn result(&self, text: &str, output: &Output) -> String {
        let job = spec(text).map(|r| EstimateRequest { chunks: None, ..r });
        let body = job.map(|job| EstimateOrPartial::new(job, output.clone()));
        body.ok()
            .and_then(|b| serde_json::to_string(&b).ok())
            .unwrap_or_else(|| "null".into())
    }

    fn failure(&self, failure: &Failure) -> String {
        let e = match failure {
            // A job's budget is the service's to raise: say so, not "use a job".
            Failure::Run(e @ RunError::BeyondBudget { .. }) => ApiError::field(
                "/samples",
                format!(
                    "{e}; ask for fewer samples, fan the job out in ranges of its chunks \
                     (\"chunks\", then POST /v1/merge), or raise GRADEST_JOB_TIME_BUDGET_SECS"
                ),
            ),
            f => ApiError::from(f.clone()),
        };
        serde_json::to_string(&e.problem()).unwrap_or_default()
    }

    fn invalid(&self, detail: &str) -> String {
        let e = ApiError::field(
            "",
            format!(
                "the job no longer passes this service's checks (its limits may have changed): {detail}"
            ),
        );
        serde_json::to_string(&e.problem()).unwrap_or_default()
    }
}

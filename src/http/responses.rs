//! Response types (serde + OpenAPI schemas) and their conversions from the
//! core's results. Figures are converted, never computed, here.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::{PartialSchema, ToSchema};

use super::error::Problem;
use super::partials::PartialResponse;
use super::requests::{EstimateRequest, EstimatorSpec};
use crate::estimation::Estimate;
use crate::estimation::compare;
use crate::estimation::result::{CategoryFit, ParamLayout, Reference};
use crate::jobs::persist::Status;
use crate::jobs::{Output, View};

/// A value shaped like a parameter: an array, or a list of rows for a matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Shaped {
    Vector(Vec<f64>),
    Matrix(Vec<Vec<f64>>),
}

/// Numbers keyed by parameter name and shaped like the parameter (a
/// `scale_tril` comes back as a list of rows). Only differentiated parameters
/// appear. A number that is not finite is written as `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct ByParam(pub Vec<(&'static str, Shaped)>);

impl ByParam {
    /// Splits a flat gradient-shaped vector by the layout.
    pub fn new(layout: &[ParamLayout], flat: &[f64]) -> ByParam {
        let mut out = Vec::with_capacity(layout.len());
        let mut at = 0;
        for p in layout {
            let n: usize = p.shape.iter().product();
            let values = &flat[at.min(flat.len())..(at + n).min(flat.len())];
            at += n;
            let shaped = match p.shape.as_slice() {
                [_, cols] if *cols > 0 => {
                    Shaped::Matrix(values.chunks(*cols).map(<[f64]>::to_vec).collect())
                }
                _ => Shaped::Vector(values.to_vec()),
            };
            out.push((p.name, shaped));
        }
        ByParam(out)
    }
}

impl Serialize for ByParam {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl PartialSchema for ByParam {
    fn schema() -> RefOr<Schema> {
        let number = || {
            ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::Number,
                Type::Null,
            ]))
        };
        ObjectBuilder::new()
            .description(Some(
                "Keyed by parameter name, shaped like the parameter: an array, or a list of \
                 rows for a matrix parameter (zeros above the diagonal of a scale_tril). Only \
                 differentiated parameters appear. Numbers that are not finite are null.",
            ))
            .additional_properties(Some(AdditionalProperties::RefOr(
                OneOfBuilder::new()
                    .item(ArrayBuilder::new().items(number()))
                    .item(ArrayBuilder::new().items(ArrayBuilder::new().items(number())))
                    .into(),
            )))
            .examples([serde_json::json!({ "loc": [0.1, -0.2], "scale": [1.5, 0.3] })])
            .into()
    }
}

impl ToSchema for ByParam {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ByParameter")
    }
}

/// Mean, variance and standard error of f(x; θ) over the samples. A figure
/// that is not finite (it overflowed) is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ObjectiveSummary {
    #[schema(value_type = Option<f64>, required = true)]
    pub mean: f64,
    #[schema(value_type = Option<f64>, required = true)]
    pub variance: f64,
    /// Standard error of `mean`.
    #[schema(value_type = Option<f64>, required = true)]
    pub std_error: f64,
}

/// The exact gradient, where it is cheaply known (enumeration of a small
/// discrete space), so bias can be read off.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReferenceOut {
    /// How it was computed, e.g. `enumeration`.
    #[schema(example = "enumeration")]
    pub method: &'static str,
    pub gradient: ByParam,
    /// E f, exactly (`null` if it is not finite).
    #[schema(value_type = Option<f64>, required = true)]
    pub objective: f64,
}

impl ReferenceOut {
    fn new(r: &Reference, layout: &[ParamLayout]) -> ReferenceOut {
        ReferenceOut {
            method: r.method,
            gradient: ByParam::new(layout, &r.gradient),
            objective: r.objective,
        }
    }
}

/// Observed category frequencies of a categorical against softmax(logits),
/// with Pearson's χ² and its upper-tail p-value.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CategoryFitOut {
    pub frequencies: Vec<f64>,
    pub expected: Vec<f64>,
    pub chi_square: f64,
    pub degrees_of_freedom: usize,
    pub p_value: f64,
}

impl From<&CategoryFit> for CategoryFitOut {
    fn from(c: &CategoryFit) -> Self {
        CategoryFitOut {
            frequencies: c.frequencies.clone(),
            expected: c.expected.clone(),
            chi_square: c.chi_square,
            degrees_of_freedom: c.degrees_of_freedom,
            p_value: c.p_value,
        }
    }
}

/// The delta control variate as applied: h(x) = f(μ) + ∇f(μ)ᵀ(x − μ) +
/// ½(x − μ)ᵀH(x − μ), the term u − β(ũ − E ũ).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ControlVariateOut {
    /// `delta`.
    pub kind: &'static str,
    /// `dense` (d ≤ 256) or `diagonal` (larger d: only Hᵢᵢ, d work per sample).
    pub hessian: &'static str,
    /// The coefficient β per gradient component, cross-fitted between chunks
    /// (mean over the chunks); 1 where h matches f exactly.
    pub coefficient: ByParam,
}

/// How the run went.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DiagnosticsOut {
    /// N, the samples drawn (0 for exact enumeration).
    pub samples: u64,
    /// The seed used (drawn below 2⁵³ when the request had none; a seed sent
    /// above it comes back as sent, so read it as an exact integer). Absent
    /// for exact enumeration, which samples nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub elapsed_ms: f64,
    pub samples_per_second: f64,
    /// Samples dropped because f or a gradient term was not finite
    /// (with `on_non_finite: skip`).
    pub non_finite: u64,
    /// Samples with an entry of x below 2.2e-308, the smallest normal 64-bit
    /// float (so x holds 0 or a subnormal there), where the objective uses x
    /// itself (gamma, beta and dirichlet, which are drawn in log space; a
    /// warning then says so). `log(x)`, `log(x[i])` and, for beta,
    /// `log(1 - x)`, `log1p(-x)` read the exact log-space value and never count.
    pub underflow: u64,
    /// Mean of each component of x over the samples (`null` where it is not finite).
    #[schema(value_type = Vec<Option<f64>>)]
    pub sample_mean: Vec<f64>,
    /// Variance of each component of x over the samples (`null` where it is not finite).
    #[schema(value_type = Vec<Option<f64>>)]
    pub sample_variance: Vec<f64>,
    /// The baseline applied, per gradient component (score function only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<ByParam>,
    /// For a categorical sampled by Gumbel-Max: the observed frequencies and
    /// their goodness of fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_frequencies: Option<CategoryFitOut>,
    /// The delta control variate, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_variate: Option<ControlVariateOut>,
    /// Independent chunks the samples were drawn in (the standard errors are
    /// batch means over them).
    pub chunks: usize,
    /// Evaluations of the objective per sample: 1 for most estimators, 2 for
    /// ARM/DisARM's pair, 1 + 2P for measure-valued derivatives (P gradient
    /// components), 0 for exact enumeration per sample drawn (none are).
    pub evaluations_per_sample: f64,
    pub sampling: SamplingOut,
    pub warnings: Vec<String>,
}

/// How the base noise was drawn and how the standard errors were computed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SamplingOut {
    /// The request's `sampling.method`: `iid`, `antithetic` or `rqmc`.
    #[schema(example = "antithetic")]
    pub method: &'static str,
    /// How `std_error` was computed: batch means over the run's independent
    /// chunks ("batch means over 64 independent chunks", "… of antithetic
    /// pairs", "… independent randomisations" for rqmc), never a per-sample
    /// √(variance/N) over correlated samples.
    #[schema(example = "batch means over 64 independent chunks of antithetic pairs")]
    pub std_error: String,
}

/// The result of one estimation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EstimateResponse {
    /// The estimator's kind.
    #[schema(example = "score_function")]
    pub estimator: &'static str,
    /// Whether the estimator's expectation is the true gradient.
    pub unbiased: bool,
    /// The estimate of `∇θ E[f]`.
    pub gradient: ByParam,
    /// Per-sample variance of the single-sample gradient terms as computed
    /// (with baselines applied).
    pub variance: ByParam,
    /// Standard error of `gradient`, from independent batches: a 95% interval
    /// is gradient ± 1.96·std_error.
    pub std_error: ByParam,
    pub objective: ObjectiveSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceOut>,
    pub diagnostics: DiagnosticsOut,
}

impl From<&Estimate> for EstimateResponse {
    fn from(e: &Estimate) -> Self {
        let by = |v: &[f64]| ByParam::new(&e.layout, v);
        let d = &e.diagnostics;
        EstimateResponse {
            estimator: e.estimator.name(),
            unbiased: e.unbiased,
            gradient: by(&e.gradient),
            variance: by(&e.variance),
            std_error: by(&e.std_error),
            objective: ObjectiveSummary {
                mean: e.objective.mean,
                variance: e.objective.variance,
                std_error: e.objective.std_error,
            },
            reference: e
                .reference
                .as_ref()
                .map(|r| ReferenceOut::new(r, &e.layout)),
            diagnostics: DiagnosticsOut {
                samples: d.samples,
                seed: (d.samples > 0).then_some(d.seed),
                elapsed_ms: d.elapsed_ms,
                samples_per_second: d.samples_per_second,
                non_finite: d.non_finite,
                underflow: d.underflow,
                sample_mean: d.sample_mean.clone(),
                sample_variance: d.sample_variance.clone(),
                baseline: d.baseline.as_deref().map(by),
                category_frequencies: d.category_frequencies.as_ref().map(CategoryFitOut::from),
                control_variate: d.control_variate.as_ref().map(|c| ControlVariateOut {
                    kind: "delta",
                    hessian: c.hessian,
                    coefficient: by(&c.coefficient),
                }),
                chunks: d.chunks,
                evaluations_per_sample: d.evaluations_per_sample,
                sampling: SamplingOut {
                    method: d.sampling.method,
                    std_error: d.sampling.std_error.clone(),
                },
                warnings: d.warnings.clone(),
            },
        }
    }
}

/// One estimator's line in a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CompareRow {
    /// The estimator's kind.
    pub estimator: &'static str,
    /// The estimator in full, as it would be sent to `/v1/estimate`.
    pub spec: EstimatorSpec,
    pub unbiased: bool,
    pub gradient: ByParam,
    pub variance: ByParam,
    pub std_error: ByParam,
    pub elapsed_ms: f64,
    /// Mean over gradient components of variance × (elapsed seconds per
    /// sample): the variance of the estimate one second of this machine's time
    /// would give. Lower is better; 0 for exact enumeration; `null` if a
    /// variance is not finite (such a row ranks last among its group).
    #[schema(value_type = Option<f64>, required = true)]
    pub work_normalized_variance: f64,
    /// Evaluations of the objective per sample (2 for ARM/DisARM, 1 + 2P
    /// for measure-valued derivatives): the time above already pays for them.
    pub evaluations_per_sample: f64,
    /// Mean over gradient components of variance × evaluations per sample: the
    /// variance at an equal budget of objective evaluations, whatever the
    /// machine (0 for exact enumeration; `null` if a variance is not finite).
    #[schema(value_type = Option<f64>, required = true)]
    pub variance_per_evaluation: f64,
    /// gradient − reference, when a reference exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<ByParam>,
    /// Whether the bias is within noise: |bias| ≤ 4.5·std_error for every
    /// component when a reference exists; otherwise whether the estimator is unbiased.
    pub bias_within_noise: bool,
    /// 1 is best: rows whose bias is within noise, by work-normalized variance,
    /// then the others, by work-normalized variance.
    pub rank: usize,
    pub warnings: Vec<String>,
}

/// Several estimators side by side.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CompareResponse {
    pub samples: u64,
    /// The seed every estimator used (a u64).
    pub seed: u64,
    pub rows: Vec<CompareRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceOut>,
}

impl CompareResponse {
    /// The rows in the order run, with the core's standings ([`compare::rank`]).
    pub fn new(samples: u64, seed: u64, runs: &[(EstimatorSpec, Estimate)]) -> CompareResponse {
        let reference = runs
            .iter()
            .find_map(|(_, e)| e.reference.as_ref().map(|r| (r.clone(), e.layout.clone())));
        let standings = compare::rank(runs.iter().map(|(_, e)| e));
        let rows = runs
            .iter()
            .zip(standings)
            .map(|((spec, e), standing)| {
                let response = EstimateResponse::from(e);
                CompareRow {
                    estimator: e.estimator.name(),
                    spec: *spec,
                    unbiased: e.unbiased,
                    gradient: response.gradient,
                    variance: response.variance,
                    std_error: response.std_error,
                    elapsed_ms: e.diagnostics.elapsed_ms,
                    work_normalized_variance: standing.work_normalized_variance,
                    evaluations_per_sample: e.diagnostics.evaluations_per_sample,
                    variance_per_evaluation: per_evaluation(e),
                    bias: standing.bias.map(|b| ByParam::new(&e.layout, &b)),
                    bias_within_noise: standing.bias_within_noise,
                    rank: standing.rank,
                    warnings: e.diagnostics.warnings.clone(),
                }
            })
            .collect();
        CompareResponse {
            samples,
            seed,
            rows,
            reference: reference.map(|(r, layout)| ReferenceOut::new(&r, &layout)),
        }
    }
}

/// Mean over the components of variance × evaluations per sample.
fn per_evaluation(e: &Estimate) -> f64 {
    let n = e.variance.len().max(1) as f64;
    e.variance.iter().sum::<f64>() / n * e.diagnostics.evaluations_per_sample
}

/// A background job's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl From<Status> for JobStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Queued => JobStatus::Queued,
            Status::Running => JobStatus::Running,
            Status::Succeeded => JobStatus::Succeeded,
            Status::Failed => JobStatus::Failed,
            Status::Cancelled => JobStatus::Cancelled,
        }
    }
}

/// How far a job has come.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Progress {
    pub samples_done: u64,
    pub samples_total: u64,
    /// samples_done / samples_total, in [0, 1].
    pub fraction: f64,
}

/// A background job.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobResponse {
    /// The job's id (a UUID v4).
    #[schema(example = "0b6f9e3a-4c1d-4e0b-9f51-2f1d7c1e8a42")]
    pub id: String,
    pub status: JobStatus,
    pub progress: Progress,
    /// When it was submitted (RFC 3339, UTC).
    #[schema(example = "2026-12-04T02:30:00.000Z")]
    pub created_at: String,
    /// When it finished, once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The replica running it, while it runs (host, process id and a tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "gradest-7d9f-0-1234-5f2c9a1b")]
    pub replica: Option<String>,
    /// The result, once the job has succeeded (a partial summary for a job with `chunks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<EstimateOrPartial>)]
    pub result: Option<serde_json::Value>,
    /// Why it failed, once it has failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Problem>)]
    pub error: Option<serde_json::Value>,
}

impl JobResponse {
    /// The job with its result or error (`full`), or without (a listing).
    pub fn new(view: &View, full: bool) -> JobResponse {
        let r = &view.record;
        let text = |t: &Option<String>| {
            t.as_deref()
                .filter(|_| full)
                .and_then(|t| serde_json::from_str(t).ok())
        };
        JobResponse {
            id: r.id.to_string(),
            status: r.status.into(),
            progress: Progress {
                samples_done: r.samples_done,
                samples_total: r.samples_total,
                fraction: if r.samples_total == 0 {
                    0.0
                } else {
                    (r.samples_done as f64 / r.samples_total as f64).min(1.0)
                },
            },
            created_at: rfc3339(r.created),
            finished_at: r.finished.map(rfc3339),
            replica: r
                .lease_owner
                .clone()
                .filter(|_| r.status == Status::Running),
            result: text(&r.result),
            error: text(&r.error),
        }
    }
}

/// Unix milliseconds as RFC 3339 (UTC, milliseconds).
fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobList {
    /// The jobs (without results: read a job for its result).
    pub jobs: Vec<JobResponse>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The answer to `POST /v1/estimate`: the result, or, for a request with
/// `chunks`, a partial summary (`kind: "partial"`) for `POST /v1/merge`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EstimateOrPartial {
    Estimate(Box<EstimateResponse>),
    Partial(Box<PartialResponse>),
}

impl EstimateOrPartial {
    /// `job` is the request as sent, without `chunks`.
    pub fn new(job: EstimateRequest, output: Output) -> EstimateOrPartial {
        match output {
            Output::Estimate(e) => {
                EstimateOrPartial::Estimate(Box::new(EstimateResponse::from(e.as_ref())))
            }
            Output::Partial(p) => {
                EstimateOrPartial::Partial(Box::new(PartialResponse::new(job, &p)))
            }
        }
    }
}

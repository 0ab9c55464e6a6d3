//! The one validation of a request into a domain [`Job`]: every refusal names
//! the field with a JSON pointer. A job that passed here is never checked again.

use serde_json::Value;

use super::error::{ApiError, pointer};
use super::partials::{self, MergeRequest, PartialResponse};
use super::requests::{
    BaselineSpec, ChunkRange, CompareRequest, DistributionSpec, EstimateRequest, EstimatorFields,
    EstimatorList, EstimatorSpec, NonFiniteSpec, SamplingMethodSpec, SamplingSpec,
};
use super::state::AppState;
use crate::config::Limits;
use crate::estimation::distributions::{
    self, Distribution, FAMILIES, FamilyInfo, ParamInput, ParamValue, Shape,
};
use crate::estimation::estimator::Delta;
use crate::estimation::estimators::exact;
use crate::estimation::objective::{ParseLimits, Program};
use std::collections::HashMap;

use crate::estimation::runner::{ChunkSummary, chunk_count, plan_of};
use crate::estimation::sampling::RQMC_MAX_DIM;
use crate::estimation::{self, Baseline, Estimator, EstimatorKind, Job, NonFinitePolicy, Sampling};
use crate::jobs::persist::{ListQuery, Status};
use crate::jobs::{Submission, Work};

/// A request with an objective of at most this many characters and at most
/// this many parameter numbers is prepared (validated, compiled) inline on
/// the async worker: that takes microseconds, less than a hop to the blocking
/// pool and back. Larger ones are prepared on the bounded blocking pool.
const INLINE_OBJECTIVE_CHARS: usize = 256;
const INLINE_PARAMETER_NUMBERS: usize = 256;

impl DistributionSpec {
    /// How many numbers (leaves) the parameters hold.
    fn numbers(&self) -> usize {
        fn leaves(v: &Value) -> usize {
            match v {
                Value::Array(items) => items.iter().map(leaves).sum::<usize>().max(1),
                _ => 1,
            }
        }
        self.params.iter().map(|(_, v)| leaves(v)).sum()
    }

    fn is_small(&self, objective: &str) -> bool {
        objective.len() <= INLINE_OBJECTIVE_CHARS && self.numbers() <= INLINE_PARAMETER_NUMBERS
    }
}

/// A seed for a request that sent none: below 2⁵³, so that a client whose
/// numbers are doubles (JavaScript) reads it exactly and can send it back.
fn drawn_seed() -> u64 {
    rand::random::<u64>() >> 11
}

/// The parts of a request shared by an estimate and a compare, validated.
struct Common {
    family: &'static FamilyInfo,
    input: ParamInput,
    objective: Program,
    samples: u64,
    seed: u64,
    on_non_finite: NonFinitePolicy,
    sampling: Sampling,
    max_outcomes: u64,
}

impl Common {
    fn new(
        spec: &DistributionSpec,
        objective: &str,
        samples: u64,
        seed: Option<u64>,
        on_non_finite: Option<NonFiniteSpec>,
        sampling: Option<SamplingSpec>,
        limits: &Limits,
    ) -> Result<(Common, Box<dyn Distribution>), ApiError> {
        let (family, input, dist) = distribution(spec, limits)?;
        let objective = compile_objective(objective, dist.as_ref(), limits)?;
        if samples < 2 {
            return Err(ApiError::field(
                "/samples",
                format!("samples = {samples} is too few: at least 2 are needed"),
            ));
        }
        if samples > limits.max_samples {
            return Err(ApiError::limit(
                "/samples",
                format!(
                    "samples = {samples} exceeds the limit of {} per run",
                    limits.max_samples
                ),
            ));
        }
        let sampling = sampling_method(sampling, dist.as_ref(), samples)?;
        let common = Common {
            sampling,
            family,
            input,
            objective,
            samples,
            seed: seed.unwrap_or_else(drawn_seed),
            on_non_finite: match on_non_finite {
                None | Some(NonFiniteSpec::Error) => NonFinitePolicy::Error,
                Some(NonFiniteSpec::Skip) => NonFinitePolicy::Skip,
            },
            max_outcomes: limits.max_outcomes,
        };
        Ok((common, dist))
    }

    fn job(&self, distribution: Box<dyn Distribution>, estimator: Estimator) -> Job {
        Job {
            distribution,
            objective: self.objective.clone(),
            estimator,
            samples: self.samples,
            seed: self.seed,
            on_non_finite: self.on_non_finite,
            sampling: self.sampling,
            max_outcomes: self.max_outcomes,
        }
    }

    /// Builds the distribution again (a job owns its distribution); the
    /// parameters passed validation once, so this cannot fail but is checked.
    fn rebuild(&self) -> Result<Box<dyn Distribution>, ApiError> {
        distributions::build(self.family, &self.input, usize::MAX).map_err(|e| {
            ApiError::internal(format!("rebuilding a validated distribution failed: {e}"))
        })
    }
}

/// A request that becomes a domain value in one step, checked once.
pub trait Validate: Send + 'static {
    /// What it becomes: a job, or one job per estimator.
    type Valid: Send + 'static;

    /// Whether validating it is cheap enough to do inline on the async worker
    /// (a short objective and few parameter numbers: `INLINE_OBJECTIVE_CHARS`,
    /// `INLINE_PARAMETER_NUMBERS`).
    fn is_small(&self) -> bool;

    /// Validates the request: the one place this happens.
    fn validate(self, limits: &Limits) -> Result<Self::Valid, ApiError>;
}

/// The step every handler shares: validates a request inline when it is
/// small, else on the runner's bounded preparation pool (a pathological
/// objective never occupies an async worker).
pub async fn prepare<R: Validate>(state: &AppState, request: R) -> Result<R::Valid, ApiError> {
    if request.is_small() {
        return request.validate(state.limits());
    }
    let limits = state.limits().clone();
    state
        .runner()
        .prepare(move || request.validate(&limits))
        .await?
}

impl Validate for EstimateRequest {
    type Valid = Work;

    fn is_small(&self) -> bool {
        self.distribution.is_small(&self.objective)
    }

    fn validate(self, limits: &Limits) -> Result<Work, ApiError> {
        let range = self.chunks;
        let seeded = self.seed.is_some();
        let job = self.job(limits)?;
        let chunks = match range {
            None => None,
            Some(range) => Some(chunk_range(&job, range, seeded)?),
        };
        Ok(Work { job, chunks })
    }
}

/// A partial run's range, within the job's chunks; the job must be seeded
/// (every partial of a job draws from the same streams).
fn chunk_range(job: &Job, range: ChunkRange, seeded: bool) -> Result<(usize, usize), ApiError> {
    if !seeded {
        return Err(ApiError::field(
            "/seed",
            "a partial run (with 'chunks') needs a 'seed': every partial of a job must draw from \
             the same streams, so send the same seed with each",
        ));
    }
    let Some(total) = chunk_count(job)? else {
        return Err(ApiError::field(
            "/chunks",
            "the exact estimator enumerates the outcomes; it has no chunks to run apart (send \
             the request without 'chunks')",
        ));
    };
    if range.count == 0 {
        return Err(ApiError::field(
            "/chunks/count",
            "count = 0: at least 1 chunk is needed",
        ));
    }
    if range.start >= total as u64 || range.count > total as u64 - range.start {
        return Err(ApiError::field(
            "/chunks",
            format!(
                "chunks {}..{} asked for, but this job has chunks 0..{total} ({total} in all)",
                range.start,
                range.start.saturating_add(range.count)
            ),
        ));
    }
    Ok((range.start as usize, range.count as usize))
}

impl EstimateRequest {
    /// The job alone (a partial's range aside).
    fn job(self, limits: &Limits) -> Result<Job, ApiError> {
        let (common, dist) = Common::new(
            &self.distribution,
            &self.objective,
            self.samples,
            self.seed,
            self.on_non_finite,
            self.sampling,
            limits,
        )?;
        let (_, est) = estimator(
            common.family,
            dist.as_ref(),
            &self.estimator,
            "/estimator",
            limits,
        )?;
        sampling_fits(common.sampling, &est, "/estimator")?;
        Ok(common.job(dist, est))
    }
}

/// A validated compare request: one job per estimator, same samples and seed.
pub struct CompareJobs {
    pub samples: u64,
    pub seed: u64,
    pub jobs: Vec<(EstimatorSpec, Job)>,
}

impl Validate for CompareRequest {
    type Valid = CompareJobs;

    fn is_small(&self) -> bool {
        self.distribution.is_small(&self.objective)
    }

    /// Validates the request into one job per estimator.
    fn validate(self, limits: &Limits) -> Result<CompareJobs, ApiError> {
        let (common, dist) = Common::new(
            &self.distribution,
            &self.objective,
            self.samples,
            self.seed,
            self.on_non_finite,
            self.sampling,
            limits,
        )?;
        let chosen = compared(&self.estimators, &common, dist.as_ref(), limits)?;
        let mut jobs = Vec::with_capacity(chosen.len());
        for (spec, est) in chosen {
            jobs.push((spec, common.job(common.rebuild()?, est)));
        }
        Ok(CompareJobs {
            samples: common.samples,
            seed: common.seed,
            jobs,
        })
    }
}

/// The estimators a compare runs: `"all"` that apply, or the list (each checked).
fn compared(
    estimators: &EstimatorList,
    common: &Common,
    dist: &dyn Distribution,
    limits: &Limits,
) -> Result<Vec<(EstimatorSpec, Estimator)>, ApiError> {
    let (family, sampling) = (common.family, common.sampling);
    let mut chosen: Vec<(EstimatorSpec, Estimator)> = Vec::new();
    match estimators {
        EstimatorList::All => {
            for kind in family.estimators {
                for spec in EstimatorList::all_of(*kind) {
                    if let Ok(est) = estimator(family, dist, &spec.fields(), "/estimators", limits)
                        && sampling_fits(sampling, &est.1, "/estimators").is_ok()
                    {
                        chosen.push(est);
                    }
                }
            }
        }
        EstimatorList::List(list) => {
            if list.is_empty() {
                return Err(ApiError::field(
                    "/estimators",
                    "the list of estimators is empty",
                ));
            }
            if list.len() > limits.max_compare_estimators {
                return Err(ApiError::limit(
                    "/estimators",
                    format!(
                        "{} estimators exceed the limit of {} per compare",
                        list.len(),
                        limits.max_compare_estimators
                    ),
                ));
            }
            for (i, fields) in list.iter().enumerate() {
                let at = format!("/estimators/{i}");
                let est = estimator(family, dist, fields, &at, limits)?;
                sampling_fits(sampling, &est.1, &at)?;
                chosen.push(est);
            }
        }
    }
    Ok(chosen)
}

/// The request's sampling method, checked against the distribution: antithetic
/// and rqmc need a family that draws base noise (named in the refusal), rqmc
/// a dimension of at most [`RQMC_MAX_DIM`], and both at least 4 samples (two
/// chunks, so that the standard error is batch means over independent ones).
fn sampling_method(
    spec: Option<SamplingSpec>,
    dist: &dyn Distribution,
    samples: u64,
) -> Result<Sampling, ApiError> {
    let method = match spec.map(|s| s.method) {
        None | Some(SamplingMethodSpec::Iid) => return Ok(Sampling::Iid),
        Some(SamplingMethodSpec::Antithetic) => Sampling::Antithetic,
        Some(SamplingMethodSpec::Rqmc) => Sampling::Rqmc,
    };
    let name = method.name();
    if dist.base_noise().is_none() {
        let supported: Vec<&str> = FAMILIES
            .iter()
            .filter(|f| {
                distributions::build(f, &f.example_input(), usize::MAX)
                    .is_ok_and(|d| d.base_noise().is_some())
            })
            .map(|f| f.name)
            .collect();
        return Err(ApiError::field(
            "/sampling/method",
            format!(
                "\"{name}\" sampling does not apply to the family '{}'; it applies to {} \
                 (\"iid\" applies to every family)",
                dist.family().name,
                supported.join(", ")
            ),
        ));
    }
    if method == Sampling::Rqmc && dist.dim() > RQMC_MAX_DIM {
        return Err(ApiError::field(
            "/sampling/method",
            format!(
                "\"rqmc\" sampling supports at most {RQMC_MAX_DIM} dimensions; the distribution \
                 has {} (\"antithetic\" and \"iid\" have no such limit)",
                dist.dim()
            ),
        ));
    }
    if samples < 4 {
        return Err(ApiError::field(
            "/samples",
            format!(
                "samples = {samples} is too few for \"{name}\" sampling: at least 4 are needed"
            ),
        ));
    }
    Ok(method)
}

/// Antithetic and rqmc samples within a batch are dependent, so the
/// leave-one-out baseline (which reads a sample's neighbours) would be biased.
fn sampling_fits(sampling: Sampling, est: &Estimator, at: &str) -> Result<(), ApiError> {
    let loo = Estimator::ScoreFunction {
        baseline: Baseline::LeaveOneOut,
    };
    if sampling == Sampling::Iid || *est != loo {
        return Ok(());
    }
    Err(ApiError::field(
        format!("{at}/baseline"),
        format!(
            "the \"mean\" (leave-one-out) baseline does not apply with \"{}\" sampling: \
             its samples within a batch are dependent; use \"none\", a constant or \"optimal\"",
            sampling.name()
        ),
    ))
}

/// Reads and builds the distribution; every refusal points into `/distribution`.
fn distribution(
    spec: &DistributionSpec,
    limits: &Limits,
) -> Result<(&'static FamilyInfo, ParamInput, Box<dyn Distribution>), ApiError> {
    let family = distributions::family(&spec.family).ok_or_else(|| {
        let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        ApiError::field(
            "/distribution/family",
            format!(
                "unknown family '{}'; the families are {}",
                spec.family,
                names.join(", ")
            ),
        )
    })?;
    let mut input = ParamInput::new();
    for (name, value) in &spec.params {
        let at = pointer("/distribution", &[name]);
        let parsed = match family.params.iter().find(|p| p.name == name) {
            Some(p) => param_value(value, p.shape, name, &at)?,
            // Unknown names are refused by the registry's checks, with the list.
            None => ParamValue::Vector(Vec::new()),
        };
        input.insert(name.clone(), parsed);
    }
    let dist = distributions::build(
        family,
        &input,
        limits.max_dimension.max(limits.max_categories),
    )?;
    let (limit, what) = if dist.category_probs().is_some() {
        (limits.max_categories, "categories")
    } else {
        (limits.max_dimension, "dimension")
    };
    if dist.dim() > limit {
        let first = family
            .params
            .iter()
            .find(|p| input.contains_key(p.name))
            .map_or("", |p| p.name);
        return Err(ApiError::limit(
            pointer("/distribution", &[first]),
            format!(
                "the distribution has {} components; the {what} limit is {limit}",
                dist.dim()
            ),
        ));
    }
    Ok((family, input, dist))
}

fn param_value(value: &Value, shape: Shape, name: &str, at: &str) -> Result<ParamValue, ApiError> {
    let numbers = |items: &[Value], at: &str, what: &str| -> Result<Vec<f64>, ApiError> {
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_f64().ok_or_else(|| {
                    ApiError::field(
                        format!("{at}/{i}"),
                        format!("{what}[{i}] must be a number, found {}", json_kind(v)),
                    )
                })
            })
            .collect()
    };
    match (shape, value) {
        (Shape::Vector, Value::Array(items)) => Ok(ParamValue::Vector(numbers(items, at, name)?)),
        (Shape::Matrix, Value::Array(rows)) => {
            let mut out = Vec::with_capacity(rows.len());
            for (i, row) in rows.iter().enumerate() {
                let Value::Array(items) = row else {
                    return Err(ApiError::field(
                        format!("{at}/{i}"),
                        format!(
                            "{name}[{i}] must be a row (an array of numbers), found {}",
                            json_kind(row)
                        ),
                    ));
                };
                out.push(numbers(
                    items,
                    &format!("{at}/{i}"),
                    &format!("{name}[{i}]"),
                )?);
            }
            Ok(ParamValue::Matrix(out))
        }
        (Shape::Vector, v) => Err(ApiError::field(
            at,
            format!("{name} must be an array of numbers, found {}", json_kind(v)),
        )),
        (Shape::Matrix, v) => Err(ApiError::field(
            at,
            format!(
                "{name} must be a list of rows (arrays of numbers), found {}",
                json_kind(v)
            ),
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses and compiles the objective, the distribution's parameters bound by name.
fn compile_objective(
    text: &str,
    dist: &dyn Distribution,
    limits: &Limits,
) -> Result<Program, ApiError> {
    let parse_limits = ParseLimits {
        max_length: limits.max_objective_chars,
        max_nodes: limits.max_objective_nodes,
        max_depth: limits.max_objective_depth,
    };
    Ok(estimation::compile_objective(
        text,
        dist,
        &parse_limits,
        limits.max_working_floats,
    )?)
}

/// Checks an estimator against the family; `at` is its pointer.
fn estimator(
    family: &FamilyInfo,
    dist: &dyn Distribution,
    fields: &EstimatorFields,
    at: &str,
    limits: &Limits,
) -> Result<(EstimatorSpec, Estimator), ApiError> {
    let kind = estimator_kind(family, fields, at)?;
    only_fields_of(kind, fields, at)?;
    match kind {
        EstimatorKind::ScoreFunction => {
            with_control_variate(score_function(fields, at)?, family, dist, fields, at)
        }
        EstimatorKind::Reparameterization => with_control_variate(
            (
                EstimatorSpec::Reparameterization {
                    control_variate: None,
                },
                Estimator::Reparameterization,
            ),
            family,
            dist,
            fields,
            at,
        ),
        EstimatorKind::GumbelSoftmax => gumbel_softmax(fields, at),
        EstimatorKind::Arm => {
            finite_logits(dist, kind)?;
            Ok((EstimatorSpec::Arm, Estimator::Arm))
        }
        EstimatorKind::Disarm => {
            finite_logits(dist, kind)?;
            Ok((EstimatorSpec::Disarm, Estimator::Disarm))
        }
        EstimatorKind::ReinMax => {
            positive_probs(dist, kind)?;
            let temperature = temperature(fields, at, kind, Some(1.0))?;
            Ok((
                EstimatorSpec::ReinMax { temperature },
                Estimator::ReinMax { temperature },
            ))
        }
        EstimatorKind::GumbelRao => {
            positive_probs(dist, kind)?;
            gumbel_rao(fields, at)
        }
        EstimatorKind::MeasureValued => {
            let coupling = fields.coupling.unwrap_or(true);
            Ok((
                EstimatorSpec::MeasureValued { coupling },
                Estimator::MeasureValued { coupling },
            ))
        }
        EstimatorKind::Exact => exact_enumeration(family, dist, at, limits),
    }
}

/// The estimator's kind, if it is one and applies to the family.
fn estimator_kind(
    family: &FamilyInfo,
    fields: &EstimatorFields,
    at: &str,
) -> Result<EstimatorKind, ApiError> {
    let applicable: Vec<&str> = family.estimators.iter().map(|k| k.name()).collect();
    let Some(kind) = EstimatorKind::ALL
        .into_iter()
        .find(|k| k.name() == fields.kind)
    else {
        let all: Vec<&str> = EstimatorKind::ALL.iter().map(|k| k.name()).collect();
        return Err(ApiError::field(
            format!("{at}/kind"),
            format!(
                "unknown estimator '{}'; the estimators are {}, and for family '{}' these apply: {}",
                fields.kind,
                all.join(", "),
                family.name,
                applicable.join(", ")
            ),
        ));
    };
    if !family.estimators.contains(&kind) {
        return Err(ApiError::NotApplicable {
            pointer: format!("{at}/kind"),
            detail: format!(
                "the estimator '{}' does not apply to family '{}'; use one of: {}",
                kind.name(),
                family.name,
                applicable.join(", ")
            ),
        });
    }
    Ok(kind)
}

/// Refuses the fields that belong to another kind of estimator.
fn only_fields_of(kind: EstimatorKind, fields: &EstimatorFields, at: &str) -> Result<(), ApiError> {
    use EstimatorKind::{
        GumbelRao, GumbelSoftmax, MeasureValued, ReinMax, Reparameterization, ScoreFunction,
    };
    let only = |field: &str, present: bool, owners: &[EstimatorKind]| -> Result<(), ApiError> {
        if present && !owners.contains(&kind) {
            let names: Vec<&str> = owners.iter().map(|k| k.name()).collect();
            let (last, rest) = names.split_last().expect("an owner");
            let owners = if rest.is_empty() {
                format!("the {last} estimator")
            } else {
                format!("the {} and {last} estimators", rest.join(", "))
            };
            Err(ApiError::field(
                format!("{at}/{field}"),
                format!("'{field}' applies only to {owners}"),
            ))
        } else {
            Ok(())
        }
    };
    only("baseline", fields.baseline.is_some(), &[ScoreFunction])?;
    only(
        "temperature",
        fields.temperature.is_some(),
        &[GumbelSoftmax, ReinMax, GumbelRao],
    )?;
    only("hard", fields.hard.is_some(), &[GumbelSoftmax])?;
    only("draws", fields.draws.is_some(), &[GumbelRao])?;
    only(
        "control_variate",
        fields.control_variate.is_some(),
        &[Reparameterization, ScoreFunction],
    )?;
    only("coupling", fields.coupling.is_some(), &[MeasureValued])
}

/// Adds the delta control variate when asked for: Gaussian families only, and
/// not with the optimal baseline (both use the cross-fitted coefficient).
fn with_control_variate(
    plain: (EstimatorSpec, Estimator),
    family: &FamilyInfo,
    dist: &dyn Distribution,
    fields: &EstimatorFields,
    at: &str,
) -> Result<(EstimatorSpec, Estimator), ApiError> {
    let Some(cv) = fields.control_variate else {
        return Ok(plain);
    };
    let pointer = format!("{at}/control_variate");
    if dist.gaussian().is_none() {
        return Err(ApiError::NotApplicable {
            pointer,
            detail: format!(
                "the delta control variate applies to the families normal and \
                 multivariate_normal, not to '{}'",
                family.name
            ),
        });
    }
    let (spec, core) = match plain {
        (
            EstimatorSpec::ScoreFunction { baseline, .. },
            Estimator::ScoreFunction { baseline: b },
        ) => {
            if b == Baseline::Optimal {
                return Err(ApiError::field(
                    pointer,
                    "the delta control variate cannot be combined with the optimal baseline \
                     (both fit a coefficient between chunks); use baseline none, mean or a constant",
                ));
            }
            (
                EstimatorSpec::ScoreFunction {
                    baseline,
                    control_variate: Some(cv),
                },
                Delta::ScoreFunction { baseline: b },
            )
        }
        _ => (
            EstimatorSpec::Reparameterization {
                control_variate: Some(cv),
            },
            Delta::Reparameterization,
        ),
    };
    Ok((spec, Estimator::Delta(core)))
}

/// The largest number of conditional Gumbel draws per sample of gumbel_rao
/// (each costs about one straight-through backward pass).
pub const MAX_GUMBEL_RAO_DRAWS: u64 = 1000;

/// A finite temperature τ > 0: the one given, else `default`, else refused.
fn temperature(
    fields: &EstimatorFields,
    at: &str,
    kind: EstimatorKind,
    default: Option<f64>,
) -> Result<f64, ApiError> {
    match (fields.temperature, default) {
        (Some(t), _) if t.is_finite() && t > 0.0 => Ok(t),
        (Some(t), _) => Err(ApiError::field(
            format!("{at}/temperature"),
            format!("temperature = {t} is invalid: it must be a finite number > 0"),
        )),
        (None, Some(t)) => Ok(t),
        (None, None) => Err(ApiError::field(
            format!("{at}/temperature"),
            format!(
                "{} needs a temperature > 0 (0.5 is a common start)",
                kind.name()
            ),
        )),
    }
}

/// Gumbel-Rao at a temperature τ > 0 (required) with 1 to
/// [`MAX_GUMBEL_RAO_DRAWS`] draws (10 when omitted).
fn gumbel_rao(fields: &EstimatorFields, at: &str) -> Result<(EstimatorSpec, Estimator), ApiError> {
    let temperature = temperature(fields, at, EstimatorKind::GumbelRao, None)?;
    let draws = match fields.draws {
        None => 10,
        Some(k) if (1..=MAX_GUMBEL_RAO_DRAWS).contains(&k) => k as u32,
        Some(k) => {
            return Err(ApiError::field(
                format!("{at}/draws"),
                format!(
                    "draws = {k} is invalid: it must be an integer from 1 to {MAX_GUMBEL_RAO_DRAWS}"
                ),
            ));
        }
    };
    Ok((
        EstimatorSpec::GumbelRao { temperature, draws },
        Estimator::GumbelRao { temperature, draws },
    ))
}

/// ARM and DisARM work through the logits: every p must be strictly between 0 and 1.
fn finite_logits(dist: &dyn Distribution, kind: EstimatorKind) -> Result<(), ApiError> {
    let Some(bin) = dist.binary() else {
        return Ok(()); // not a family of this estimator: refused by its kind
    };
    match bin.logits().iter().position(|t| !t.is_finite()) {
        None => Ok(()),
        Some(i) => Err(ApiError::field(
            format!("/distribution/probs/{i}"),
            format!(
                "probs[{i}] = {} has no finite logit: {} works through the logits \
                 log(p/(1 − p)) and needs 0 < p < 1 in every component \
                 (score_function and exact accept 0 and 1)",
                bin.probs()[i],
                kind.name()
            ),
        )),
    }
}

/// ReinMax and Gumbel-Rao, given probs, need every probability > 0 (the
/// gradient with respect to a zero pᵢ would divide by it).
fn positive_probs(dist: &dyn Distribution, kind: EstimatorKind) -> Result<(), ApiError> {
    let Some(hot) = dist.one_hot().filter(|h| h.by_probs()) else {
        return Ok(());
    };
    match hot.probs().iter().position(|p| *p <= 0.0) {
        None => Ok(()),
        Some(i) => Err(ApiError::field(
            format!("/distribution/probs/{i}"),
            format!(
                "probs[{i}] = 0: {} needs every probability > 0 when probs are given \
                 (give logits, or use score_function or exact)",
                kind.name()
            ),
        )),
    }
}

/// The score function with its baseline (none when omitted; a constant must be finite).
fn score_function(
    fields: &EstimatorFields,
    at: &str,
) -> Result<(EstimatorSpec, Estimator), ApiError> {
    let baseline = fields.baseline.unwrap_or_default();
    let core = match baseline {
        BaselineSpec::None => Baseline::None,
        BaselineSpec::Mean => Baseline::LeaveOneOut,
        BaselineSpec::Optimal => Baseline::Optimal,
        BaselineSpec::Constant(b) if b.is_finite() => Baseline::Constant(b),
        BaselineSpec::Constant(b) => {
            return Err(ApiError::field(
                format!("{at}/baseline/constant"),
                format!("the constant baseline must be finite, found {b}"),
            ));
        }
    };
    Ok((
        EstimatorSpec::ScoreFunction {
            baseline,
            control_variate: None,
        },
        Estimator::ScoreFunction { baseline: core },
    ))
}

/// Gumbel-Softmax at a finite temperature τ > 0 (required), soft unless `hard`.
fn gumbel_softmax(
    fields: &EstimatorFields,
    at: &str,
) -> Result<(EstimatorSpec, Estimator), ApiError> {
    let temperature = temperature(fields, at, EstimatorKind::GumbelSoftmax, None)?;
    let hard = fields.hard.unwrap_or(false);
    Ok((
        EstimatorSpec::GumbelSoftmax { temperature, hard },
        Estimator::GumbelSoftmax { temperature, hard },
    ))
}

/// Exact enumeration, when the distribution has at most the configured outcomes.
fn exact_enumeration(
    family: &FamilyInfo,
    dist: &dyn Distribution,
    at: &str,
    limits: &Limits,
) -> Result<(EstimatorSpec, Estimator), ApiError> {
    if !exact::feasible(dist, limits.max_outcomes) {
        let count = dist
            .enumerable()
            .and_then(|e| e.outcomes())
            .map_or("more than 2⁶⁴".to_string(), |n| n.to_string());
        let others: Vec<&str> = family
            .estimators
            .iter()
            .map(|k| k.name())
            .filter(|k| *k != EstimatorKind::Exact.name())
            .collect();
        return Err(ApiError::NotApplicable {
            pointer: format!("{at}/kind"),
            detail: format!(
                "exact enumeration is limited to {} outcomes and this distribution has {count}; \
                 use one of: {}",
                limits.max_outcomes,
                others.join(", ")
            ),
        });
    }
    Ok((EstimatorSpec::Exact, Estimator::Exact))
}

/// A validated merge: the job and the summary of every one of its chunks.
pub struct Merge {
    pub job: Job,
    pub summaries: Vec<ChunkSummary>,
    /// The partials' run times, summed (seconds).
    pub elapsed: f64,
}

impl Validate for MergeRequest {
    type Valid = Merge;

    /// Decoding the summaries is work in proportion to them: never inline.
    fn is_small(&self) -> bool {
        false
    }

    /// The partials belong together: one version, one job, one chunk count,
    /// ranges that cover the job's chunks each once; every summary decodes.
    fn validate(self, limits: &Limits) -> Result<Merge, ApiError> {
        let Some(first) = self.partials.first() else {
            return Err(ApiError::field(
                "/partials",
                "no partials: send the partials of every chunk of one job",
            ));
        };
        let job_text = serde_json::to_value(&first.job).unwrap_or_default();
        let total = first.chunks.total;
        for (i, p) in self.partials.iter().enumerate() {
            same_job(i, p, &job_text, total)?;
        }
        covers(&self.partials, total)?;
        let mut summaries = Vec::new();
        for (i, p) in self.partials.iter().enumerate() {
            summaries.extend(partial_summaries(i, p)?);
        }
        let elapsed = self.partials.iter().map(|p| p.elapsed_ms / 1e3).sum();
        let job = first
            .job
            .clone()
            .job(limits)
            .map_err(|e| e.under("/partials/0/job"))?;
        if chunk_count(&job)? != Some(total as usize) {
            return Err(ApiError::field(
                "/partials/0/chunks/total",
                format!(
                    "total = {total}, but this job has {:?} chunks (a partial of another version or edited by hand)",
                    chunk_count(&job)?.unwrap_or(0)
                ),
            ));
        }
        Ok(Merge {
            job,
            summaries,
            elapsed,
        })
    }
}

/// Partial 'i' is of this version, of the first partial's job and chunk count.
fn same_job(i: usize, p: &PartialResponse, job: &Value, total: u64) -> Result<(), ApiError> {
    if p.version != partials::VERSION {
        return Err(ApiError::field(
            format!("/partials/{i}/version"),
            format!(
                "version '{}': this service (gradest {}) merges partials of its own version only; run the chunks again here",
                p.version,
                partials::VERSION
            ),
        ));
    }
    if p.job.chunks.is_some() {
        return Err(ApiError::field(
            format!("/partials/{i}/job/chunks"),
            "a partial's job has no 'chunks' (pass the partial on unchanged)",
        ));
    }
    let this = serde_json::to_value(&p.job).unwrap_or_default();
    if this != *job {
        let key = differing_key(job, &this);
        return Err(ApiError::field(
            format!("/partials/{i}/job"),
            format!(
                "partial {i} is of another job than partial 0 (its '{key}' differs); a merge takes the partials of one job"
            ),
        ));
    }
    if p.chunks.total != total {
        return Err(ApiError::field(
            format!("/partials/{i}/chunks/total"),
            format!("total = {}, but partial 0 says {total}", p.chunks.total),
        ));
    }
    Ok(())
}

/// The first top-level field in which two jobs differ.
fn differing_key(a: &Value, b: &Value) -> String {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return "job".into();
    };
    a.keys()
        .chain(b.keys())
        .find(|k| a.get(*k) != b.get(*k))
        .cloned()
        .unwrap_or_else(|| "job".into())
}

/// The partials' ranges cover chunks 0..total, each chunk once.
fn covers(parts: &[PartialResponse], total: u64) -> Result<(), ApiError> {
    let mut ranges: Vec<(u64, u64, usize)> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                p.chunks.start,
                p.chunks.start.saturating_add(p.chunks.count),
                i,
            )
        })
        .collect();
    ranges.sort_unstable();
    let mut next = 0;
    let mut last = None;
    for &(start, end, i) in &ranges {
        if start < next {
            let j = last.unwrap_or(i);
            return Err(ApiError::field(
                format!("/partials/{i}/chunks"),
                format!(
                    "partial {i} (chunks {start}..{end}) overlaps partial {j} (up to chunk {next}); each chunk must be in one partial"
                ),
            ));
        }
        if start > next {
            return Err(missing(next, start, total));
        }
        next = end;
        last = Some(i);
    }
    if next != total {
        return Err(missing(next, total, total));
    }
    Ok(())
}

fn missing(from: u64, to: u64, total: u64) -> ApiError {
    ApiError::field(
        "/partials",
        format!("chunks {from}..{to} of the job's {total} are missing: no partial covers them"),
    )
}

/// Partial 'i''s summaries, decoded, which must be its range's chunks.
fn partial_summaries(i: usize, p: &PartialResponse) -> Result<Vec<ChunkSummary>, ApiError> {
    let at = format!("/partials/{i}/summaries");
    let summaries = partials::decode(&p.summaries).ok_or_else(|| {
        ApiError::field(
            at.clone(),
            "not chunk summaries this service wrote (pass a partial's 'summaries' on unchanged)",
        )
    })?;
    let expected = p.chunks.start..p.chunks.start.saturating_add(p.chunks.count);
    let fits = summaries.len() as u64 == p.chunks.count
        && summaries
            .iter()
            .zip(expected.clone())
            .all(|(s, c)| s.chunk as u64 == c);
    if !fits {
        return Err(ApiError::field(
            at,
            format!(
                "these summaries are not chunks {}..{} as 'chunks' says",
                expected.start, expected.end
            ),
        ));
    }
    Ok(summaries)
}

/// A job for the store: its spec as the API spells it, seed included (drawn
/// at validation when omitted, so a resumed run draws the same samples).
pub fn submission(
    mut spec: EstimateRequest,
    work: &Work,
    owner: Option<String>,
) -> Result<Submission, ApiError> {
    spec.seed = Some(work.job.seed);
    let samples = match (work.chunks, plan_of(&work.job)?) {
        (Some((start, count)), Some(plan)) => {
            (start..start + count).map(|c| plan.chunk_len(c)).sum()
        }
        _ => work.job.samples,
    };
    let spec = serde_json::to_string(&spec)
        .map_err(|e| ApiError::internal(format!("a job spec does not serialise: {e}")))?;
    Ok(Submission {
        owner,
        spec,
        samples,
    })
}

/// Most jobs on a page of 'GET /v1/jobs', and the default.
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;

/// The query of 'GET /v1/jobs': 'status', 'limit', 'after'.
pub fn list_query(
    params: &HashMap<String, String>,
    owner: Option<String>,
) -> Result<ListQuery, ApiError> {
    let bad = |name: &str, detail: String| ApiError::query(name, detail);
    if let Some(k) = params
        .keys()
        .find(|k| !["status", "limit", "after"].contains(&k.as_str()))
    {
        return Err(bad(
            k,
            format!("'{k}' is not a parameter of this listing; it takes status, limit and after"),
        ));
    }
    let status = params
        .get("status")
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                bad("status", format!("status = '{s}' is not a job status; one of queued, running, succeeded, failed, cancelled"))
            })
        })
        .transpose()?;
    let limit = match params.get("limit") {
        None => DEFAULT_PAGE,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    format!("limit = '{l}' is not a whole number from 1 to {MAX_PAGE}"),
                )
            })?,
    };
    let after = params
        .get("after")
        .map(|a| {
            a.split_once('.')
                .and_then(|(t, id)| Some((t.parse().ok()?, uuid::Uuid::parse_str(id).ok()?)))
                .ok_or_else(|| bad("after", format!("after = '{a}' is not a page marker: pass the 'next' of the previous page unchanged")))
        })
        .transpose()?;
    Ok(ListQuery {
        owner,
        status,
        after,
        limit,
    })
}

//! Request and response types (serde + OpenAPI schemas), and the one place
//! where a request becomes a validated [`Job`]: every refusal names the field
//! with a JSON pointer.
//!
//! The `distribution` object is read as a map (`family` plus parameter arrays)
//! and checked against the core's registry, and its OpenAPI schema is generated
//! from that registry, so a new family needs no change here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Discriminator, ObjectBuilder, OneOfBuilder, Schema,
    SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::error::{ApiError, Problem, pointer};
use crate::config::Limits;
use crate::estimation::distributions::{
    self, Constraint, Distribution, FAMILIES, FamilyInfo, ParamInput, ParamValue, Shape,
};
use crate::estimation::estimators::exact;
use crate::estimation::objective::{
    CONSTANT_TABLE, FUNCTION_TABLE, OPERATORS, ParseLimits, Program,
};
use crate::estimation::runner::{CategoryFit, ParamLayout, Reference};
use crate::estimation::{self, Baseline, Estimate, Estimator, EstimatorKind, Job, NonFinitePolicy};
use crate::jobs::{Outcome, Snapshot, State};

// ───────────────────────────── requests ─────────────────────────────

/// One estimation job, for `POST /v1/estimate` and `POST /v1/jobs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "distribution": { "family": "normal", "loc": [0.5, -1.0], "scale": [1.0, 2.0] },
    "objective": "sum((x - 3)^2)",
    "estimator": { "kind": "score_function", "baseline": "optimal" },
    "samples": 100000,
    "seed": 42
}))]
pub struct EstimateRequest {
    pub distribution: DistributionSpec,
    /// f(x; θ) in the objective language (see `GET /v1/catalog`); must be a scalar.
    #[schema(example = "sum((x - 3)^2)")]
    pub objective: String,
    #[schema(value_type = EstimatorSpec)]
    pub estimator: EstimatorFields,
    /// N, the number of samples drawn (at least 2; at most the configured limit).
    #[schema(minimum = 2, example = 100000)]
    pub samples: u64,
    /// Seed of the sample generator, an integer in [0, 2⁶⁴ − 1] (parse it as a
    /// u64: it may exceed 2⁵³). When omitted a random seed is drawn; the seed
    /// used is always returned, and sending it back reproduces the result bit
    /// for bit.
    #[serde(default)]
    #[schema(example = 42)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub on_non_finite: Option<NonFiniteSpec>,
}

/// Several estimators on one problem, with common samples and seed, for `POST /v1/compare`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "distribution": { "family": "normal", "loc": [0.0], "scale": [1.0] },
    "objective": "x[0]^2",
    "samples": 10000,
    "seed": 1,
    "estimators": "all"
}))]
pub struct CompareRequest {
    pub distribution: DistributionSpec,
    /// f(x; θ), as for an estimate.
    pub objective: String,
    /// N, the number of samples each estimator draws.
    #[schema(minimum = 2)]
    pub samples: u64,
    /// Seed shared by every estimator (a u64; random when omitted, always returned).
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub on_non_finite: Option<NonFiniteSpec>,
    #[serde(default)]
    pub estimators: EstimatorList,
}

/// What to do when f or a gradient term is NaN or infinite at a sample:
/// `error` (the default) refuses the job, naming the sample; `skip` drops such
/// samples, counts them, and warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NonFiniteSpec {
    Error,
    Skip,
}

/// The distribution p_θ, tagged by `family`; its parameters are arrays (one
/// entry per independent component) or lists of rows for matrix parameters.
/// The families and their parameters are listed by `GET /v1/catalog`.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionSpec {
    pub family: String,
    /// Parameters in the order given.
    pub params: Vec<(String, Value)>,
}

impl<'de> Deserialize<'de> for DistributionSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DistributionSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with a `family` and the family's parameters")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut family = None;
                let mut params: Vec<(String, Value)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "family" {
                        if family.is_some() {
                            return Err(de::Error::duplicate_field("family"));
                        }
                        family = Some(map.next_value::<String>()?);
                    } else {
                        if params.iter().any(|(k, _)| *k == key) {
                            return Err(de::Error::custom(format!("duplicate field `{key}`")));
                        }
                        let value = map.next_value::<Value>()?;
                        params.push((key, value));
                    }
                }
                let family = family.ok_or_else(|| de::Error::missing_field("family"))?;
                Ok(DistributionSpec { family, params })
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// An estimator as the request spells it; checked against the family by
/// `estimator`. Its documented form is [`EstimatorSpec`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimatorFields {
    pub kind: String,
    #[serde(default)]
    pub baseline: Option<BaselineSpec>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub hard: Option<bool>,
}

/// The estimator, tagged by `kind`. `GET /v1/catalog` lists the estimators
/// that apply to each family; any other is refused (422) with that list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EstimatorSpec {
    /// REINFORCE / likelihood ratio: ∇θf + (f − b)·∇θ log p, unbiased for any
    /// baseline b independent of the sample.
    ScoreFunction {
        #[serde(default)]
        baseline: BaselineSpec,
    },
    /// Pathwise: x = g_θ(ε), the gradient flows through f (differentiable f; a
    /// step in f is warned about).
    Reparameterization,
    /// Gumbel-Softmax / binary Concrete relaxation for discrete families; biased
    /// (the result says so). `hard` is straight-through.
    GumbelSoftmax {
        /// τ > 0.
        #[schema(exclusive_minimum = 0, example = 0.5)]
        temperature: f64,
        #[serde(default)]
        hard: bool,
    },
    /// Exact enumeration of a small discrete space: no noise.
    Exact,
}

/// The score-function baseline: `none`, `mean` (leave-one-out within a batch,
/// unbiased), `optimal` (per component `b* = E[f s²]/E[s²]`, cross-fitted between
/// chunks so it stays unbiased), or `{"constant": b}`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BaselineSpec {
    #[default]
    None,
    Mean,
    Optimal,
    Constant(f64),
}

/// The estimators to compare: a list, or `"all"` (every estimator that applies
/// to the family: score_function with baselines none, mean and optimal,
/// reparameterization, gumbel_softmax at temperature 0.5, exact when feasible).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum EstimatorList {
    #[default]
    All,
    List(Vec<EstimatorFields>),
}

impl<'de> Deserialize<'de> for EstimatorList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EstimatorList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all\" or a list of estimators")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == "all" {
                    Ok(EstimatorList::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element::<EstimatorFields>()? {
                    list.push(item);
                }
                Ok(EstimatorList::List(list))
            }
        }
        deserializer.deserialize_any(V)
    }
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

impl PartialSchema for EstimatorList {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["all"])),
            )
            .item(
                ArrayBuilder::new()
                    .items(Ref::from_schema_name(EstimatorSpec::name()))
                    .min_items(Some(1)),
            )
            .description(Some(
                "`\"all\"` (the default: every estimator that applies to the family, \
                 score_function with baselines none, mean and optimal, gumbel_softmax at \
                 temperature 0.5, exact when feasible) or a list of estimators",
            ))
            .into()
    }
}

impl ToSchema for EstimatorList {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EstimatorList")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((EstimatorSpec::name().into(), EstimatorSpec::schema()));
        <EstimatorSpec as ToSchema>::schemas(schemas);
    }
}

// ───────────────────── the distribution's schema, from the registry ─────────────────────

fn family_schema_name(family: &FamilyInfo) -> String {
    format!("Distribution_{}", family.name)
}

fn number_schema(constraint: Constraint) -> ObjectBuilder {
    let number = ObjectBuilder::new().schema_type(Type::Number);
    match constraint {
        Constraint::Positive => number.exclusive_minimum(Some(0)),
        Constraint::UnitInterval => number.minimum(Some(0)).maximum(Some(1)),
        _ => number,
    }
}

fn family_schema(family: &FamilyInfo) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .title(Some(family.name))
        .description(Some(family_description(family)))
        .property(
            "family",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([family.name])),
        )
        .required("family")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for spec in family.params {
        let description = format!("{}; {}", spec.doc, spec.constraint.describe());
        let schema: RefOr<Schema> = match spec.shape {
            Shape::Vector => ArrayBuilder::new()
                .items(number_schema(spec.constraint))
                .min_items(Some(1))
                .description(Some(description))
                .into(),
            Shape::Matrix => ArrayBuilder::new()
                .items(
                    ArrayBuilder::new()
                        .items(ObjectBuilder::new().schema_type(Type::Number))
                        .min_items(Some(1)),
                )
                .min_items(Some(1))
                .description(Some(description))
                .into(),
        };
        object = object.property(spec.name, schema);
        if spec.required {
            object = object.required(spec.name);
        }
    }
    object.into()
}

fn family_description(family: &FamilyInfo) -> String {
    let mut text = family.doc.to_string();
    for group in family.alternatives {
        text.push_str(&format!(" Give exactly one of {}.", group.join(" or ")));
    }
    let estimators: Vec<&str> = family.estimators.iter().map(|k| k.name()).collect();
    text.push_str(&format!(" Estimators: {}.", estimators.join(", ")));
    text
}

impl PartialSchema for DistributionSpec {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "The distribution p_θ, tagged by `family`. Parameters are arrays with one entry \
             per independent component (all of the same length), or lists of rows for a \
             matrix parameter.",
        ));
        let mut discriminator = Discriminator::new("family");
        for family in FAMILIES {
            let name = family_schema_name(family);
            discriminator.mapping.insert(
                family.name.to_string(),
                format!("#/components/schemas/{name}"),
            );
            one_of = one_of.item(Ref::from_schema_name(name));
        }
        one_of.discriminator(Some(discriminator)).into()
    }
}

impl ToSchema for DistributionSpec {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Distribution")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for family in FAMILIES {
            schemas.push((family_schema_name(family), family_schema(family)));
        }
    }
}

// ───────────────────────────── validation ─────────────────────────────

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

/// The parts of a request shared by an estimate and a compare, validated.
struct Common {
    family: &'static FamilyInfo,
    input: ParamInput,
    objective: Program,
    samples: u64,
    seed: u64,
    on_non_finite: NonFinitePolicy,
    max_outcomes: u64,
}

impl Common {
    fn new(
        spec: &DistributionSpec,
        objective: &str,
        samples: u64,
        seed: Option<u64>,
        on_non_finite: Option<NonFiniteSpec>,
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
        let common = Common {
            family,
            input,
            objective,
            samples,
            seed: seed.unwrap_or_else(rand::random),
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
            max_outcomes: self.max_outcomes,
        }
    }

    /// Builds the distribution again (a job owns its distribution); the
    /// parameters passed validation once, so this cannot fail but is checked.
    fn rebuild(&self) -> Result<Box<dyn Distribution>, ApiError> {
        distributions::build(self.family, &self.input, usize::MAX).map_err(|e| {
            ApiError::Internal(format!("rebuilding a validated distribution failed: {e}"))
        })
    }
}

impl EstimateRequest {
    /// Whether preparing it is cheap enough to do inline (see `INLINE_OBJECTIVE_CHARS`).
    pub fn is_small(&self) -> bool {
        self.distribution.is_small(&self.objective)
    }

    /// Validates the request into a job: the one place this happens.
    pub fn into_job(self, limits: &Limits) -> Result<Job, ApiError> {
        let (common, dist) = Common::new(
            &self.distribution,
            &self.objective,
            self.samples,
            self.seed,
            self.on_non_finite,
            limits,
        )?;
        let (_, est) = estimator(
            common.family,
            dist.as_ref(),
            &self.estimator,
            "/estimator",
            limits,
        )?;
        Ok(common.job(dist, est))
    }
}

/// A validated compare request: one job per estimator, same samples and seed.
pub struct CompareJobs {
    pub samples: u64,
    pub seed: u64,
    pub jobs: Vec<(EstimatorSpec, Job)>,
}

impl CompareRequest {
    /// Whether preparing it is cheap enough to do inline (see `INLINE_OBJECTIVE_CHARS`).
    pub fn is_small(&self) -> bool {
        self.distribution.is_small(&self.objective)
    }

    /// Validates the request into one job per estimator.
    pub fn into_jobs(self, limits: &Limits) -> Result<CompareJobs, ApiError> {
        let (common, dist) = Common::new(
            &self.distribution,
            &self.objective,
            self.samples,
            self.seed,
            self.on_non_finite,
            limits,
        )?;
        let family = common.family;
        let mut chosen: Vec<(EstimatorSpec, Estimator)> = Vec::new();
        match &self.estimators {
            EstimatorList::All => {
                for kind in family.estimators {
                    for spec in all_variants(*kind) {
                        if let Ok(est) = estimator(
                            family,
                            dist.as_ref(),
                            &fields_of(spec),
                            "/estimators",
                            limits,
                        ) {
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
                    chosen.push(estimator(family, dist.as_ref(), fields, &at, limits)?);
                }
            }
        }
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

/// The estimators `"all"` stands for, of one kind.
fn all_variants(kind: EstimatorKind) -> Vec<EstimatorSpec> {
    match kind {
        EstimatorKind::ScoreFunction => [
            BaselineSpec::None,
            BaselineSpec::Mean,
            BaselineSpec::Optimal,
        ]
        .into_iter()
        .map(|baseline| EstimatorSpec::ScoreFunction { baseline })
        .collect(),
        EstimatorKind::Reparameterization => vec![EstimatorSpec::Reparameterization],
        EstimatorKind::GumbelSoftmax => vec![EstimatorSpec::GumbelSoftmax {
            temperature: 0.5,
            hard: false,
        }],
        EstimatorKind::Exact => vec![EstimatorSpec::Exact],
    }
}

fn fields_of(spec: EstimatorSpec) -> EstimatorFields {
    let mut fields = EstimatorFields {
        kind: spec_kind(&spec).name().to_string(),
        baseline: None,
        temperature: None,
        hard: None,
    };
    match spec {
        EstimatorSpec::ScoreFunction { baseline } => fields.baseline = Some(baseline),
        EstimatorSpec::GumbelSoftmax { temperature, hard } => {
            fields.temperature = Some(temperature);
            fields.hard = Some(hard);
        }
        EstimatorSpec::Reparameterization | EstimatorSpec::Exact => {}
    }
    fields
}

fn spec_kind(spec: &EstimatorSpec) -> EstimatorKind {
    match spec {
        EstimatorSpec::ScoreFunction { .. } => EstimatorKind::ScoreFunction,
        EstimatorSpec::Reparameterization => EstimatorKind::Reparameterization,
        EstimatorSpec::GumbelSoftmax { .. } => EstimatorKind::GumbelSoftmax,
        EstimatorSpec::Exact => EstimatorKind::Exact,
    }
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
    let only = |field: &str, present: bool, owner: EstimatorKind| -> Result<(), ApiError> {
        if present && kind != owner {
            Err(ApiError::field(
                format!("{at}/{field}"),
                format!("'{field}' applies only to the {} estimator", owner.name()),
            ))
        } else {
            Ok(())
        }
    };
    only(
        "baseline",
        fields.baseline.is_some(),
        EstimatorKind::ScoreFunction,
    )?;
    only(
        "temperature",
        fields.temperature.is_some(),
        EstimatorKind::GumbelSoftmax,
    )?;
    only("hard", fields.hard.is_some(), EstimatorKind::GumbelSoftmax)?;
    Ok(match kind {
        EstimatorKind::ScoreFunction => {
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
            (
                EstimatorSpec::ScoreFunction { baseline },
                Estimator::ScoreFunction { baseline: core },
            )
        }
        EstimatorKind::Reparameterization => (
            EstimatorSpec::Reparameterization,
            Estimator::Reparameterization,
        ),
        EstimatorKind::GumbelSoftmax => {
            let temperature = match fields.temperature {
                Some(t) if t.is_finite() && t > 0.0 => t,
                Some(t) => {
                    return Err(ApiError::field(
                        format!("{at}/temperature"),
                        format!("temperature = {t} is invalid: it must be a finite number > 0"),
                    ));
                }
                None => {
                    return Err(ApiError::field(
                        format!("{at}/temperature"),
                        "gumbel_softmax needs a temperature > 0 (0.5 is a common start)",
                    ));
                }
            };
            let hard = fields.hard.unwrap_or(false);
            (
                EstimatorSpec::GumbelSoftmax { temperature, hard },
                Estimator::GumbelSoftmax { temperature, hard },
            )
        }
        EstimatorKind::Exact => {
            if !exact::feasible(dist, limits.max_outcomes) {
                let count = dist
                    .enumerable()
                    .and_then(|e| e.outcomes())
                    .map_or("more than 2⁶⁴".to_string(), |n| n.to_string());
                return Err(ApiError::NotApplicable {
                    pointer: format!("{at}/kind"),
                    detail: format!(
                        "exact enumeration is limited to {} outcomes and this distribution has {count}; \
                         use one of: {}",
                        limits.max_outcomes,
                        applicable
                            .iter()
                            .filter(|k| **k != EstimatorKind::Exact.name())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            (EstimatorSpec::Exact, Estimator::Exact)
        }
    })
}

// ───────────────────────────── responses ─────────────────────────────

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

/// How the run went.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DiagnosticsOut {
    /// N, the samples drawn (0 for exact enumeration).
    pub samples: u64,
    /// The seed used (a u64: parse it as such, it may exceed 2⁵³).
    pub seed: u64,
    pub elapsed_ms: f64,
    pub samples_per_second: f64,
    /// Samples dropped because f or a gradient term was not finite
    /// (with `on_non_finite: skip`).
    pub non_finite: u64,
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
    /// Independent chunks the samples were drawn in (the standard errors are
    /// batch means over them).
    pub chunks: usize,
    pub warnings: Vec<String>,
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
                seed: d.seed,
                elapsed_ms: d.elapsed_ms,
                samples_per_second: d.samples_per_second,
                non_finite: d.non_finite,
                sample_mean: d.sample_mean.clone(),
                sample_variance: d.sample_variance.clone(),
                baseline: d.baseline.as_deref().map(by),
                category_frequencies: d.category_frequencies.as_ref().map(CategoryFitOut::from),
                chunks: d.chunks,
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

/// How many standard errors a bias may be and still count as noise
/// (about a 1-in-150,000 false alarm per component for a normal estimate).
const BIAS_NOISE_SE: f64 = 4.5;

impl CompareResponse {
    pub fn new(samples: u64, seed: u64, runs: &[(EstimatorSpec, Estimate)]) -> CompareResponse {
        let reference = runs
            .iter()
            .find_map(|(_, e)| e.reference.as_ref().map(|r| (r.clone(), e.layout.clone())));
        let mut rows: Vec<CompareRow> = runs
            .iter()
            .map(|(spec, e)| {
                let mut row_bias = None;
                let within = match &e.reference {
                    Some(r) => {
                        let flat: Vec<f64> = e
                            .gradient
                            .iter()
                            .zip(&r.gradient)
                            .map(|(g, t)| g - t)
                            .collect();
                        let ok = flat
                            .iter()
                            .zip(&e.std_error)
                            .all(|(b, se)| b.abs() <= BIAS_NOISE_SE * se);
                        row_bias = Some(ByParam::new(&e.layout, &flat));
                        ok
                    }
                    None => e.unbiased,
                };
                let per_sample_seconds = if e.diagnostics.samples == 0 {
                    0.0
                } else {
                    e.diagnostics.elapsed_ms / 1e3 / e.diagnostics.samples as f64
                };
                let mean_variance = if e.variance.is_empty() {
                    0.0
                } else {
                    e.variance.iter().sum::<f64>() / e.variance.len() as f64
                };
                let response = EstimateResponse::from(e);
                CompareRow {
                    estimator: e.estimator.name(),
                    spec: *spec,
                    unbiased: e.unbiased,
                    gradient: response.gradient,
                    variance: response.variance,
                    std_error: response.std_error,
                    elapsed_ms: e.diagnostics.elapsed_ms,
                    work_normalized_variance: mean_variance * per_sample_seconds,
                    bias: row_bias,
                    bias_within_noise: within,
                    rank: 0,
                    warnings: e.diagnostics.warnings.clone(),
                }
            })
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        // A NaN (of either sign) ranks with +∞, after every finite figure.
        let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&rows[a], &rows[b]);
            rb.bias_within_noise
                .cmp(&ra.bias_within_noise)
                .then(key(ra.work_normalized_variance).total_cmp(&key(rb.work_normalized_variance)))
        });
        for (rank, i) in order.into_iter().enumerate() {
            rows[i].rank = rank + 1;
        }
        CompareResponse {
            samples,
            seed,
            rows,
            reference: reference.map(|(r, layout)| ReferenceOut::new(&r, &layout)),
        }
    }
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

impl From<State> for JobStatus {
    fn from(s: State) -> Self {
        match s {
            State::Queued => JobStatus::Queued,
            State::Running => JobStatus::Running,
            State::Succeeded => JobStatus::Succeeded,
            State::Failed => JobStatus::Failed,
            State::Cancelled => JobStatus::Cancelled,
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
    /// The result, once the job has succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<EstimateResponse>,
    /// Why it failed, once it has failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

impl From<&Snapshot> for JobResponse {
    fn from(s: &Snapshot) -> Self {
        let (result, error) = match &s.outcome {
            Some(Outcome::Succeeded(e)) => (Some(EstimateResponse::from(e.as_ref())), None),
            Some(Outcome::Failed(f)) => (None, Some(ApiError::from(f.clone()).problem())),
            Some(Outcome::Cancelled) | None => (None, None),
        };
        JobResponse {
            id: s.id.to_string(),
            status: s.state.into(),
            progress: Progress {
                samples_done: s.samples_done,
                samples_total: s.samples_total,
                fraction: if s.samples_total == 0 {
                    0.0
                } else {
                    s.samples_done as f64 / s.samples_total as f64
                },
            },
            result,
            error,
        }
    }
}

// ───────────────────────────── the catalog ─────────────────────────────

/// What the service knows: families, estimators, the objective language, limits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Catalog {
    pub families: Vec<FamilyOut>,
    pub estimators: Vec<EstimatorOut>,
    pub objective: ObjectiveLanguage,
    pub limits: LimitsOut,
}

/// A distribution family.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FamilyOut {
    #[schema(example = "normal")]
    pub name: &'static str,
    pub doc: &'static str,
    pub params: Vec<ParamOut>,
    /// Groups of parameters of which exactly one must be given (e.g. logits or probs).
    pub alternatives: Vec<Vec<&'static str>>,
    /// The estimators that apply, in the order they are recommended.
    pub estimators: Vec<&'static str>,
}

/// A parameter of a family.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParamOut {
    pub name: &'static str,
    /// `vector` (one entry per component) or `matrix` (a list of rows).
    #[schema(example = "vector")]
    pub shape: &'static str,
    pub constraint: ConstraintOut,
    /// Whether the gradient is taken with respect to it.
    pub differentiable: bool,
    /// Required, unless it belongs to one of the family's alternatives.
    pub required: bool,
    pub doc: &'static str,
}

/// The set a parameter's entries must lie in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConstraintOut {
    #[schema(example = "positive")]
    pub name: &'static str,
    pub description: &'static str,
}

/// An estimator kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EstimatorOut {
    #[schema(example = "score_function")]
    pub kind: &'static str,
    pub doc: &'static str,
}

/// A function or operator of the objective language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SymbolOut {
    pub name: &'static str,
    pub doc: String,
}

/// The objective language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectiveLanguage {
    pub summary: &'static str,
    /// Names an objective may use besides functions: `x` and the distribution's
    /// parameter names (f then depends on θ directly and that term joins the gradient).
    pub variables: Vec<SymbolOut>,
    pub functions: Vec<SymbolOut>,
    /// Operators, from the loosest binding to the tightest.
    pub operators: Vec<SymbolOut>,
    pub constants: Vec<SymbolOut>,
    pub limits: ObjectiveLimits,
}

/// Bounds on an objective.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectiveLimits {
    pub max_chars: usize,
    pub max_nodes: usize,
    pub max_depth: usize,
    /// Working numbers per sample (values and adjoints of every node).
    pub max_working_floats: usize,
}

/// The configured limits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitsOut {
    pub max_body_bytes: usize,
    pub max_samples: u64,
    pub max_dimension: usize,
    pub max_categories: usize,
    pub max_outcomes: u64,
    pub time_budget_secs: f64,
    pub job_time_budget_secs: f64,
    pub concurrency: u32,
    pub max_jobs: u32,
    pub max_compare_estimators: usize,
}

impl Catalog {
    pub fn new(limits: &Limits) -> Catalog {
        let families = FAMILIES
            .iter()
            .map(|f| FamilyOut {
                name: f.name,
                doc: f.doc,
                params: f
                    .params
                    .iter()
                    .map(|p| ParamOut {
                        name: p.name,
                        shape: p.shape.name(),
                        constraint: ConstraintOut {
                            name: p.constraint.name(),
                            description: p.constraint.describe(),
                        },
                        differentiable: p.differentiable,
                        required: p.required,
                        doc: p.doc,
                    })
                    .collect(),
                alternatives: f.alternatives.iter().map(|g| g.to_vec()).collect(),
                estimators: f.estimators.iter().map(|k| k.name()).collect(),
            })
            .collect();
        let symbols = |table: &[(&'static str, &'static str)]| {
            table
                .iter()
                .map(|&(name, doc)| SymbolOut {
                    name,
                    doc: doc.into(),
                })
                .collect()
        };
        Catalog {
            families,
            estimators: EstimatorKind::ALL
                .iter()
                .map(|k| EstimatorOut {
                    kind: k.name(),
                    doc: k.doc(),
                })
                .collect(),
            objective: ObjectiveLanguage {
                summary: "An expression in x (the sample, a vector), x[i] (0-based), numbers in \
                          decimal or scientific notation, vector literals, and the \
                          distribution's parameter names. Scalars broadcast over vectors; the \
                          result must be a scalar.",
                variables: vec![
                    SymbolOut {
                        name: "x",
                        doc: "the sample, a vector with one entry per component (one-hot for a categorical)".into(),
                    },
                    SymbolOut {
                        name: "<parameter name>",
                        doc: "any parameter of the distribution (loc, scale, …), shaped as given, \
                              matrices flattened row-major; its direct gradient joins the estimate"
                            .into(),
                    },
                ],
                // From the objective's own tables: exactly what the compiler accepts.
                functions: FUNCTION_TABLE
                    .iter()
                    .map(|f| SymbolOut {
                        name: f.name,
                        doc: f.doc(),
                    })
                    .collect(),
                operators: symbols(OPERATORS),
                constants: CONSTANT_TABLE
                    .iter()
                    .map(|c| SymbolOut {
                        name: c.name,
                        doc: c.doc.into(),
                    })
                    .collect(),
                limits: ObjectiveLimits {
                    max_chars: limits.max_objective_chars,
                    max_nodes: limits.max_objective_nodes,
                    max_depth: limits.max_objective_depth,
                    max_working_floats: limits.max_working_floats,
                },
            },
            limits: LimitsOut {
                max_body_bytes: limits.max_body_bytes,
                max_samples: limits.max_samples,
                max_dimension: limits.max_dimension,
                max_categories: limits.max_categories,
                max_outcomes: limits.max_outcomes,
                time_budget_secs: limits.time_budget_secs,
                job_time_budget_secs: limits.job_time_budget_secs,
                concurrency: limits.concurrency,
                max_jobs: limits.max_jobs,
                max_compare_estimators: limits.max_compare_estimators,
            },
        }
    }
}

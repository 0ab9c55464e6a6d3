//! Request types (serde + OpenAPI schemas), as the client sends them. They are
//! checked into a domain job in one place, [`super::validate`].
//!
//! The `distribution` object is read as a map (`family` plus parameter arrays)
//! and checked against the core's registry, and its OpenAPI schema is generated
//! from that registry, so a new family needs no change here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::estimation::EstimatorKind;
use crate::estimation::distributions::{Constraint, FAMILIES, FamilyInfo, Shape};

/// One estimation job, for `POST /v1/estimate` and `POST /v1/jobs`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
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
    #[serde(deserialize_with = "whole_number")]
    pub samples: u64,
    /// Seed of the sample generator, an integer in [0, 2⁶⁴ − 1]. When omitted
    /// a random seed below 2⁵³ is drawn (exact in every JSON client, doubles
    /// included); the seed used is always returned, and sending it back
    /// reproduces the result bit for bit. A seed above 2⁵³ needs a client that
    /// reads and writes integers exactly (JavaScript's numbers round it).
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 42)]
    pub seed: Option<u64>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_non_finite: Option<NonFiniteSpec>,
    /// How the base noise is drawn: `{"method": "iid"}` (the default),
    /// `"antithetic"` or `"rqmc"`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<SamplingSpec>,
    /// Runs only these chunks of the job and answers with a partial summary
    /// (`kind: "partial"`) instead of the result: partials of all the chunks,
    /// from any machines, merge through `POST /v1/merge` into the result, bit
    /// for bit the job's own. A job has `diagnostics.chunks` chunks, a function
    /// of the job alone (ask for chunk 0 with count 1 to learn it). Needs a `seed`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ChunkRange>,
}

/// The largest whole number a JSON number written with an exponent (`1e6`)
/// is read as: 2⁵³, where every whole double is still exact.
const EXACT_DOUBLES: f64 = 9_007_199_254_740_992.0;

/// A count such as `samples`: a whole number ≥ 0, written `1000000` or `1e6`
/// (JSON Schema's `integer` counts any number without a fraction as one).
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number ≥ 0 (such as 100000 or 1e5)")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("expected a whole number ≥ 0, got {v}")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= EXACT_DOUBLES {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as u64)
            } else {
                Err(E::custom(format!(
                    "expected a whole number ≥ 0 (such as 100000 or 1e5; with an exponent at most 2^53), got {v}"
                )))
            }
        }
    }
    deserializer.deserialize_any(V)
}

/// An optional [`whole_number`], such as `seed` (`null` is no seed).
pub fn whole_number_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    struct Whole(u64);
    impl<'de> Deserialize<'de> for Whole {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            whole_number(deserializer).map(Whole)
        }
    }
    Ok(Option::<Whole>::deserialize(deserializer)?.map(|w| w.0))
}

/// A range of a job's chunks: `count` chunks from `start` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"start": 0, "count": 16}))]
pub struct ChunkRange {
    #[serde(deserialize_with = "whole_number")]
    pub start: u64,
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole_number")]
    pub count: u64,
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
    #[serde(deserialize_with = "whole_number")]
    pub samples: u64,
    /// Seed shared by every estimator (as for an estimate: random below 2⁵³
    /// when omitted, always returned).
    #[serde(default, deserialize_with = "whole_number_opt")]
    pub seed: Option<u64>,
    #[serde(default)]
    pub on_non_finite: Option<NonFiniteSpec>,
    /// How the base noise is drawn, for every estimator compared (`"all"`
    /// then leaves out the leave-one-out baseline under antithetic or rqmc).
    #[serde(default)]
    pub sampling: Option<SamplingSpec>,
    #[serde(default)]
    pub estimators: EstimatorList,
}

/// How the base noise ε (standard normals, or the one uniform per component
/// of an inverse-CDF family) is drawn. `iid` (the default): independently.
/// `antithetic`: within each batch, the second half of the samples are the
/// partners −ε (normal noise) or 1 − u (uniform noise) of the first half.
/// `rqmc`: randomised quasi-Monte Carlo, each independent chunk of the run a
/// scrambled Sobol sequence (Joe–Kuo directions, linear matrix scramble and
/// digital shift) through the inverse CDF; dimension at most 1024. Both stay
/// unbiased; their standard errors are batch means over independent chunks
/// (see `diagnostics.sampling`). They apply to normal, multivariate_normal,
/// log_normal, exponential, uniform, laplace, logistic, cauchy and gumbel,
/// need at least 4 samples, and exclude the leave-one-out baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method": "antithetic"}))]
pub struct SamplingSpec {
    pub method: SamplingMethodSpec,
}

/// `iid`, `antithetic` or `rqmc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SamplingMethodSpec {
    Iid,
    Antithetic,
    Rqmc,
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

impl Serialize for DistributionSpec {
    /// As sent: `family`, then the parameters in their order.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1 + self.params.len()))?;
        map.serialize_entry("family", &self.family)?;
        for (k, v) in &self.params {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
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
/// [`super::validate`]. Its documented form is [`EstimatorSpec`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EstimatorFields {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupling: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draws: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_variate: Option<ControlVariateSpec>,
}

/// A control variate on the pathwise or score-function estimator: `delta`, the
/// second-order Taylor expansion of f at the mean, whose expectation is known in
/// closed form (normal and multivariate_normal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlVariateSpec {
    Delta,
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
        /// `delta` (normal, multivariate_normal; not with the `optimal`
        /// baseline): the Taylor expansion of f at the mean as a control
        /// variate, its coefficient cross-fitted between chunks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        control_variate: Option<ControlVariateSpec>,
    },
    /// Pathwise: x = g_θ(ε), the gradient flows through f (differentiable f; a
    /// step in f is warned about).
    Reparameterization {
        /// `delta` (normal, multivariate_normal): the Taylor expansion of f at
        /// the mean as a control variate; exact with zero variance for a
        /// quadratic f.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        control_variate: Option<ControlVariateSpec>,
    },
    /// Gumbel-Softmax / binary Concrete relaxation for discrete families; biased
    /// (the result says so). `hard` is straight-through.
    GumbelSoftmax {
        /// τ > 0.
        #[schema(exclusive_minimum = 0, example = 0.5)]
        temperature: f64,
        #[serde(default)]
        hard: bool,
    },
    /// ARM (Yin & Zhou 2019) for bernoulli: an antithetic pair of samples per
    /// draw, 2 evaluations of f each; unbiased. Needs 0 < p < 1.
    Arm,
    /// DisARM (Dong, Mnih & Tucker 2020) for bernoulli: ARM averaged over the
    /// pair's uniforms, unbiased with a variance at most ARM's; 2 evaluations
    /// of f per sample. Needs 0 < p < 1.
    Disarm,
    /// ReinMax (Liu et al. 2023) for categorical: straight-through with a
    /// second-order backward pass; biased (exact in expectation for f
    /// quadratic in x at temperature 1). No zero probs.
    #[serde(rename = "reinmax")]
    ReinMax {
        /// τ > 0, entering as softmax(θ/τ); 1 when omitted.
        #[schema(exclusive_minimum = 0, default = 1.0, example = 1.0, required = false)]
        temperature: f64,
    },
    /// Gumbel-Rao (Paulus, Maddison & Krause 2021) for categorical:
    /// straight-through Gumbel-Softmax with its backward pass averaged over
    /// `draws` Gumbel perturbations given the sample; the same mean as
    /// straight-through Gumbel-Softmax, a lower variance; biased. No zero probs.
    GumbelRao {
        /// τ > 0.
        #[schema(exclusive_minimum = 0, example = 0.5)]
        temperature: f64,
        /// K, the conditional perturbations per sample, 1 to 1000; 10 when omitted.
        #[schema(
            minimum = 1,
            maximum = 1000,
            default = 10,
            example = 10,
            required = false
        )]
        draws: u32,
    },
    /// Measure-valued derivative: per parameter entry c·(f(x⁺) − f(x⁻)), one
    /// coordinate of a sample replaced; unbiased for any f (no derivative of f
    /// needed), 1 + 2P evaluations per sample (1 + P for poisson, exponential and
    /// bernoulli). `coupling` shares the variates of x⁺ and x⁻ (normal,
    /// exponential; it changes nothing for poisson and bernoulli).
    MeasureValued {
        #[schema(default = true, required = false)]
        coupling: bool,
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
/// reparameterization, gumbel_softmax at temperature 0.5, arm, disarm, reinmax
/// at temperature 1, gumbel_rao at temperature 0.5 with 10 draws, measure_valued
/// coupled and uncoupled, exact when feasible; on normal and multivariate_normal also the delta control variate on
/// reparameterization and on score_function without a baseline).
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

impl EstimatorList {
    /// The estimators `"all"` stands for, of one kind.
    pub fn all_of(kind: EstimatorKind) -> Vec<EstimatorSpec> {
        match kind {
            EstimatorKind::ScoreFunction => [
                (BaselineSpec::None, None),
                (BaselineSpec::Mean, None),
                (BaselineSpec::Optimal, None),
                (BaselineSpec::None, Some(ControlVariateSpec::Delta)),
            ]
            .into_iter()
            .map(|(baseline, control_variate)| EstimatorSpec::ScoreFunction {
                baseline,
                control_variate,
            })
            .collect(),
            EstimatorKind::Reparameterization => [None, Some(ControlVariateSpec::Delta)]
                .into_iter()
                .map(|control_variate| EstimatorSpec::Reparameterization { control_variate })
                .collect(),
            EstimatorKind::GumbelSoftmax => vec![EstimatorSpec::GumbelSoftmax {
                temperature: 0.5,
                hard: false,
            }],
            EstimatorKind::Arm => vec![EstimatorSpec::Arm],
            EstimatorKind::Disarm => vec![EstimatorSpec::Disarm],
            // τ = 1: where ReinMax's backward pass is second-order accurate.
            EstimatorKind::ReinMax => vec![EstimatorSpec::ReinMax { temperature: 1.0 }],
            // The temperature of gumbel_softmax's "all", so the two compare.
            EstimatorKind::GumbelRao => vec![EstimatorSpec::GumbelRao {
                temperature: 0.5,
                draws: 10,
            }],
            EstimatorKind::MeasureValued => [true, false]
                .into_iter()
                .map(|coupling| EstimatorSpec::MeasureValued { coupling })
                .collect(),
            EstimatorKind::Exact => vec![EstimatorSpec::Exact],
        }
    }
}

impl EstimatorSpec {
    /// The estimator's kind.
    pub fn kind(&self) -> EstimatorKind {
        match self {
            EstimatorSpec::ScoreFunction { .. } => EstimatorKind::ScoreFunction,
            EstimatorSpec::Reparameterization { .. } => EstimatorKind::Reparameterization,
            EstimatorSpec::GumbelSoftmax { .. } => EstimatorKind::GumbelSoftmax,
            EstimatorSpec::Arm => EstimatorKind::Arm,
            EstimatorSpec::Disarm => EstimatorKind::Disarm,
            EstimatorSpec::ReinMax { .. } => EstimatorKind::ReinMax,
            EstimatorSpec::GumbelRao { .. } => EstimatorKind::GumbelRao,
            EstimatorSpec::MeasureValued { .. } => EstimatorKind::MeasureValued,
            EstimatorSpec::Exact => EstimatorKind::Exact,
        }
    }

    /// The estimator as a request would spell it.
    pub fn fields(self) -> EstimatorFields {
        let mut fields = EstimatorFields {
            kind: self.kind().name().to_string(),
            baseline: None,
            temperature: None,
            hard: None,
            control_variate: None,
            draws: None,
            coupling: None,
        };
        match self {
            EstimatorSpec::ScoreFunction {
                baseline,
                control_variate,
            } => {
                fields.baseline = Some(baseline);
                fields.control_variate = control_variate;
            }
            EstimatorSpec::Reparameterization { control_variate } => {
                fields.control_variate = control_variate;
            }
            EstimatorSpec::GumbelSoftmax { temperature, hard } => {
                fields.temperature = Some(temperature);
                fields.hard = Some(hard);
            }
            EstimatorSpec::ReinMax { temperature } => fields.temperature = Some(temperature),
            EstimatorSpec::GumbelRao { temperature, draws } => {
                fields.temperature = Some(temperature);
                fields.draws = Some(u64::from(draws));
            }
            EstimatorSpec::MeasureValued { coupling } => fields.coupling = Some(coupling),
            EstimatorSpec::Arm | EstimatorSpec::Disarm | EstimatorSpec::Exact => {}
        }
        fields
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
                 temperature 0.5, arm, disarm, reinmax at temperature 1, gumbel_rao at \
                 temperature 0.5 with 10 draws, measure_valued coupled and uncoupled, exact when feasible) or a list of estimators",
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

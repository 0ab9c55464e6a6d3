//! The catalog (`GET /v1/catalog`): what the service knows, read from the
//! core's tables and the configured limits.

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Limits;
use crate::estimation::EstimatorKind;
use crate::estimation::distributions::{self, Distribution, FAMILIES, FamilyInfo};
use crate::estimation::objective::{CONSTANT_TABLE, FUNCTION_TABLE, OPERATORS};
use crate::estimation::sampling::Sampling;

/// What the service knows: families, estimators, the objective language, limits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Catalog {
    pub families: Vec<FamilyOut>,
    pub estimators: Vec<EstimatorOut>,
    pub control_variates: Vec<ControlVariateKindOut>,
    /// The sampling methods of a job's `"sampling": {"method": …}`.
    pub sampling: Vec<SamplingMethodOut>,
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
    /// The families it applies to.
    pub families: Vec<&'static str>,
}

/// A sampling method.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SamplingMethodOut {
    #[schema(example = "rqmc")]
    pub method: &'static str,
    pub doc: &'static str,
    /// The families it applies to.
    pub families: Vec<&'static str>,
}

/// A control variate, asked for with `"control_variate"` on an estimator.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ControlVariateKindOut {
    #[schema(example = "delta")]
    pub name: &'static str,
    pub doc: &'static str,
    /// The estimators that accept it.
    pub estimators: Vec<&'static str>,
    /// The families it applies to.
    pub families: Vec<&'static str>,
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
        Catalog {
            families: FAMILIES.iter().map(|f| FamilyOut::from(*f)).collect(),
            estimators: EstimatorKind::ALL
                .iter()
                .map(|k| EstimatorOut {
                    kind: k.name(),
                    doc: k.doc(),
                    families: FAMILIES
                        .iter()
                        .filter(|f| f.estimators.contains(k))
                        .map(|f| f.name)
                        .collect(),
                })
                .collect(),
            control_variates: vec![ControlVariateKindOut {
                name: "delta",
                doc: "the second-order Taylor expansion of f at the mean, whose expectation is \
                      known; its coefficient is cross-fitted between chunks (unbiased); exact \
                      with zero variance for a quadratic f; not with the optimal baseline",
                estimators: vec![
                    EstimatorKind::Reparameterization.name(),
                    EstimatorKind::ScoreFunction.name(),
                ],
                families: families_where(|d| d.gaussian().is_some()),
            }],
            sampling: Sampling::ALL
                .iter()
                .map(|m| SamplingMethodOut {
                    method: m.name(),
                    doc: m.doc(),
                    families: families_where(|d| *m == Sampling::Iid || d.base_noise().is_some()),
                })
                .collect(),
            objective: ObjectiveLanguage::new(limits),
            limits: LimitsOut::from(limits),
        }
    }
}

/// The families whose example distribution has a property (a Gaussian form,
/// base noise), found by building each family's example.
fn families_where(has: impl Fn(&dyn Distribution) -> bool) -> Vec<&'static str> {
    FAMILIES
        .iter()
        .filter(|f| {
            distributions::build(f, &f.example_input(), usize::MAX).is_ok_and(|d| has(d.as_ref()))
        })
        .map(|f| f.name)
        .collect()
}

impl From<&FamilyInfo> for FamilyOut {
    fn from(f: &FamilyInfo) -> Self {
        FamilyOut {
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
        }
    }
}

impl ObjectiveLanguage {
    fn new(limits: &Limits) -> ObjectiveLanguage {
        let symbols = |table: &[(&'static str, &'static str)]| {
            table
                .iter()
                .map(|&(name, doc)| SymbolOut {
                    name,
                    doc: doc.into(),
                })
                .collect()
        };
        ObjectiveLanguage {
            summary: "An expression in x (the sample, a vector), x[i] (0-based), numbers in \
                      decimal or scientific notation, vector literals, and the \
                      distribution's parameter names. Scalars broadcast over vectors; the \
                      result must be a scalar.",
            variables: vec![
                SymbolOut {
                    name: "x",
                    doc: "the sample, a vector with one entry per component (one-hot for a categorical)"
                        .into(),
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
        }
    }
}

impl From<&Limits> for LimitsOut {
    fn from(limits: &Limits) -> Self {
        LimitsOut {
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
        }
    }
}

//! What a run returns: the [`Estimate`] with its [`Summary`] of f, the gradient's
//! [`ParamLayout`], an exact [`Reference`] where one is known, and the run's
//! [`Diagnostics`] (with a categorical's [`CategoryFit`]).

use super::estimator::EstimatorKind;

/// Mean, variance and standard error of one quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub mean: f64,
    pub variance: f64,
    pub std_error: f64,
}

/// Name and shape of a differentiated parameter, in gradient order.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamLayout {
    pub name: &'static str,
    pub shape: Vec<usize>,
}

/// The exact gradient, where it is cheaply known.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub method: &'static str,
    pub gradient: Vec<f64>,
    pub objective: f64,
}

/// Observed category frequencies of a categorical and their fit to softmax(logits).
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryFit {
    pub frequencies: Vec<f64>,
    pub expected: Vec<f64>,
    pub chi_square: f64,
    pub degrees_of_freedom: usize,
    pub p_value: f64,
}

/// The delta-method control variate as applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlVariateInfo {
    /// "dense" or "diagonal": the form of the Hessian in the expansion.
    pub hessian: &'static str,
    /// The cross-fitted coefficient β per gradient component (mean over chunks).
    pub coefficient: Vec<f64>,
}

/// How the run went.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    pub samples: u64,
    pub seed: u64,
    pub elapsed_ms: f64,
    pub samples_per_second: f64,
    pub non_finite: u64,
    /// Samples with an entry of x below the smallest normal f64 (0 or a
    /// subnormal; drawn exactly only in log space) where f reads x itself.
    pub underflow: u64,
    pub sample_mean: Vec<f64>,
    pub sample_variance: Vec<f64>,
    /// The baseline applied, per gradient component (score function only).
    pub baseline: Option<Vec<f64>>,
    pub category_frequencies: Option<CategoryFit>,
    /// The delta-method control variate, when used.
    pub control_variate: Option<ControlVariateInfo>,
    pub chunks: usize,
    /// How the base noise was drawn and how the standard errors were computed.
    pub sampling: SamplingReport,
    /// Evaluations of f per sample: 1 for most estimators, 2 for ARM/DisARM's
    /// pair, 1 + 2P for measure-valued derivatives, 0 for exact enumeration.
    pub evaluations_per_sample: f64,
    pub warnings: Vec<String>,
}

/// The sampling method of a run and how its standard errors were computed.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingReport {
    /// `iid`, `antithetic` or `rqmc`.
    pub method: &'static str,
    /// For example "batch means over 64 independent chunks of antithetic pairs".
    pub std_error: String,
}

/// The result of a run. Gradient-shaped vectors are flat, in [`Estimate::layout`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub estimator: EstimatorKind,
    pub unbiased: bool,
    pub layout: Vec<ParamLayout>,
    pub gradient: Vec<f64>,
    /// Per-sample variance of the single-sample gradient terms, as computed.
    pub variance: Vec<f64>,
    /// Standard error of `gradient`, by batch means.
    pub std_error: Vec<f64>,
    pub objective: Summary,
    pub reference: Option<Reference>,
    pub diagnostics: Diagnostics,
}

//! What a job asks for: the estimator kinds (with their names and catalog
//! lines), the score function's baselines, and a fully specified estimator.
//! It depends on nothing else of gradest, so families can name the estimators
//! that apply to them.

use std::fmt;

/// The kinds of estimator, as named in a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EstimatorKind {
    ScoreFunction,
    Reparameterization,
    GumbelSoftmax,
    MeasureValued,
    Exact,
}

impl EstimatorKind {
    /// Every kind, in the order the catalog lists them.
    pub const ALL: [EstimatorKind; 5] = [
        EstimatorKind::ScoreFunction,
        EstimatorKind::Reparameterization,
        EstimatorKind::GumbelSoftmax,
        EstimatorKind::MeasureValued,
        EstimatorKind::Exact,
    ];

    /// The name used in requests and results.
    pub fn name(self) -> &'static str {
        match self {
            EstimatorKind::ScoreFunction => "score_function",
            EstimatorKind::Reparameterization => "reparameterization",
            EstimatorKind::GumbelSoftmax => "gumbel_softmax",
            EstimatorKind::MeasureValued => "measure_valued",
            EstimatorKind::Exact => "exact",
        }
    }

    /// One line on what it is.
    pub fn doc(self) -> &'static str {
        match self {
            EstimatorKind::ScoreFunction => {
                "REINFORCE / likelihood ratio: f(x)·∇θ log p(x), unbiased, with optional baselines"
            }
            EstimatorKind::Reparameterization => {
                "pathwise: x = g_θ(ε), gradient through f; unbiased for differentiable f, usually low variance"
            }
            EstimatorKind::GumbelSoftmax => {
                "Gumbel-Softmax / Concrete relaxation at a temperature, optionally straight-through; biased"
            }
            EstimatorKind::MeasureValued => {
                "measure-valued derivative: c·(f(x⁺) − f(x⁻)) per parameter entry, one coordinate of a \
                 sample replaced; unbiased for any f, 1 + 2P evaluations per sample (1 + P where one \
                 part is p itself); coupling (default true) shares the variates of x⁺ and x⁻ \
                 (normal, exponential; no effect for poisson and bernoulli)"
            }
            EstimatorKind::Exact => {
                "exact enumeration of a small discrete space: the reference, no noise"
            }
        }
    }
}

impl fmt::Display for EstimatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A baseline b for the score function, which keeps it unbiased: the per-sample
/// term is ∇θf + (f − b)·s with E\[s\] = 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    None,
    /// A constant given by the user.
    Constant(f64),
    /// Leave-one-out ("mean", RLOO): within each batch of m samples,
    /// bᵢ = (Σⱼ fⱼ − fᵢ)/(m − 1), independent of sample i.
    LeaveOneOut,
    /// Per component k, b*ₖ = Cov(fsₖ, sₖ)/Var(sₖ) (= E\[f sₖ²\]/E\[sₖ²\]), estimated for
    /// each chunk from the other chunks only (cross-fitting), so it stays unbiased.
    Optimal,
}

/// A fully specified estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Estimator {
    ScoreFunction {
        baseline: Baseline,
    },
    Reparameterization,
    /// Gumbel-Softmax with temperature τ > 0; `hard` is straight-through.
    GumbelSoftmax {
        temperature: f64,
        hard: bool,
    },
    /// Measure-valued derivative; `coupling` shares the variates of the two parts.
    MeasureValued {
        coupling: bool,
    },
    Exact,
}

impl Estimator {
    pub fn kind(&self) -> EstimatorKind {
        match self {
            Estimator::ScoreFunction { .. } => EstimatorKind::ScoreFunction,
            Estimator::Reparameterization => EstimatorKind::Reparameterization,
            Estimator::GumbelSoftmax { .. } => EstimatorKind::GumbelSoftmax,
            Estimator::MeasureValued { .. } => EstimatorKind::MeasureValued,
            Estimator::Exact => EstimatorKind::Exact,
        }
    }

    /// Whether the expectation of the estimate is the true gradient.
    pub fn unbiased(&self) -> bool {
        !matches!(self, Estimator::GumbelSoftmax { .. })
    }
}

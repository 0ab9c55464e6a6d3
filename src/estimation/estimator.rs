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
    Arm,
    Disarm,
    ReinMax,
    GumbelRao,
    MeasureValued,
    Exact,
}

impl EstimatorKind {
    /// Every kind, in the order the catalog lists them.
    pub const ALL: [EstimatorKind; 9] = [
        EstimatorKind::ScoreFunction,
        EstimatorKind::Reparameterization,
        EstimatorKind::GumbelSoftmax,
        EstimatorKind::Arm,
        EstimatorKind::Disarm,
        EstimatorKind::ReinMax,
        EstimatorKind::GumbelRao,
        EstimatorKind::MeasureValued,
        EstimatorKind::Exact,
    ];

    /// The name used in requests and results.
    pub fn name(self) -> &'static str {
        match self {
            EstimatorKind::ScoreFunction => "score_function",
            EstimatorKind::Reparameterization => "reparameterization",
            EstimatorKind::GumbelSoftmax => "gumbel_softmax",
            EstimatorKind::Arm => "arm",
            EstimatorKind::Disarm => "disarm",
            EstimatorKind::ReinMax => "reinmax",
            EstimatorKind::GumbelRao => "gumbel_rao",
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
            EstimatorKind::Arm => {
                "ARM (Bernoulli): an antithetic pair b, b̃ per sample, (f(b̃) − f(b))(u − ½); unbiased, 2 evaluations"
            }
            EstimatorKind::Disarm => {
                "DisARM (Bernoulli): ARM averaged over u given the pair, ½(f(b) − f(b̃))(−1)^b̃ 1[b≠b̃] σ(|θ|); unbiased, 2 evaluations"
            }
            EstimatorKind::ReinMax => {
                "ReinMax (categorical): straight-through with a second-order (Heun) backward pass at a temperature; biased"
            }
            EstimatorKind::GumbelRao => {
                "Gumbel-Rao (categorical): straight-through Gumbel-Softmax averaged over K Gumbels given the sample; biased, lower variance"
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
    /// ARM on Bernoulli logits: one antithetic pair per sample.
    Arm,
    /// DisARM: ARM given the pair (Rao-Blackwellised over u).
    Disarm,
    /// ReinMax at temperature τ > 0 (τ enters as softmax(θ/τ) in π₁).
    ReinMax {
        temperature: f64,
    },
    /// Gumbel-Rao: straight-through Gumbel-Softmax at τ > 0, its backward pass
    /// averaged over `draws` ≥ 1 Gumbels drawn given the sample.
    GumbelRao {
        temperature: f64,
        draws: u32,
    },
    /// Measure-valued derivative; `coupling` shares the variates of the two parts.
    MeasureValued {
        coupling: bool,
    },
    Exact,
    /// The delta-method control variate on the pathwise or score-function
    /// estimator (see [`Delta`]).
    Delta(Delta),
}

/// The estimator that the delta-method control variate is applied to. With
/// h(x) = f(μ) + ∇f(μ)ᵀ(x − μ) + ½(x − μ)ᵀH(x − μ), the second-order Taylor
/// expansion of f at the mean, the term is u − β(ũ − E ũ), ũ the estimator's term
/// for h (E ũ = ∇θ E h in closed form) and β cross-fitted between chunks like the
/// optimal baseline, so it stays unbiased.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delta {
    Reparameterization,
    /// With the score function's baseline (`Optimal` is not combined with it:
    /// both take the cross-fitted coefficient).
    ScoreFunction {
        baseline: Baseline,
    },
}

impl Estimator {
    pub fn kind(&self) -> EstimatorKind {
        match self {
            Estimator::ScoreFunction { .. } | Estimator::Delta(Delta::ScoreFunction { .. }) => {
                EstimatorKind::ScoreFunction
            }
            Estimator::Reparameterization | Estimator::Delta(Delta::Reparameterization) => {
                EstimatorKind::Reparameterization
            }
            Estimator::GumbelSoftmax { .. } => EstimatorKind::GumbelSoftmax,
            Estimator::Arm => EstimatorKind::Arm,
            Estimator::Disarm => EstimatorKind::Disarm,
            Estimator::ReinMax { .. } => EstimatorKind::ReinMax,
            Estimator::GumbelRao { .. } => EstimatorKind::GumbelRao,
            Estimator::MeasureValued { .. } => EstimatorKind::MeasureValued,
            Estimator::Exact => EstimatorKind::Exact,
        }
    }

    /// Whether the expectation of the estimate is the true gradient.
    pub fn unbiased(&self) -> bool {
        !matches!(
            self,
            Estimator::GumbelSoftmax { .. }
                | Estimator::ReinMax { .. }
                | Estimator::GumbelRao { .. }
        )
    }

    /// Whether the runner applies a coefficient cross-fitted between chunks to
    /// the step's `v` (the optimal baseline, the delta control variate).
    pub fn cross_fits(&self) -> bool {
        matches!(
            self,
            Estimator::ScoreFunction {
                baseline: Baseline::Optimal
            } | Estimator::Delta(_)
        )
    }
}

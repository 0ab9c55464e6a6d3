//! Why a run stops without a result: [`RunError`], with its figures.

use thiserror::Error;

use super::estimator::EstimatorKind;

/// Why a run stopped without a result. Each kind carries its figures; the
/// text says what happened, never what a caller should send instead (that is
/// the caller's vocabulary, added by whoever speaks to the client).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RunError {
    #[error("the run was cancelled")]
    Cancelled,
    #[error("the run did not finish within its time budget ({done} of {total} samples done)")]
    DeadlineExceeded { done: u64, total: u64 },
    /// At the pace of its first `pilot_secs`, the run would end `projected_secs`
    /// after it started, beyond the `budget_secs` it had: stopped early rather
    /// than at the deadline (see [`super::runner`]'s pace check).
    #[error(
        "at the pace of its first {pilot_secs:.1} s ({done} of {total} samples), the run would \
         take about {projected_secs:.0} s, beyond its time budget of {budget_secs:.0} s"
    )]
    BeyondBudget {
        done: u64,
        total: u64,
        pilot_secs: f64,
        projected_secs: f64,
        budget_secs: f64,
    },
    /// f, or a term of its gradient estimate, is NaN or ±∞ at the sample `x`
    /// (with [`NonFinitePolicy::Error`](super::NonFinitePolicy::Error)). `gradient_term` is the first
    /// non-finite term, if any (`None`: only f is not finite).
    #[error(
        "the objective is not finite at a sample: x = [{}], {}",
        show_sample(.x),
        show_non_finite(*.f, *.gradient_term)
    )]
    NonFiniteSample {
        x: Vec<f64>,
        f: f64,
        gradient_term: Option<f64>,
    },
    /// With [`NonFinitePolicy::Skip`](super::NonFinitePolicy::Skip), so many samples were dropped that fewer
    /// than 2 are left to estimate from.
    #[error(
        "{dropped} of {total} samples had a non-finite objective or gradient and were \
         dropped, leaving {kept} (at least 2 are needed)"
    )]
    TooFewFinite { dropped: u64, total: u64, kept: u64 },
    /// f is not finite at an outcome of positive probability, met while
    /// enumerating.
    #[error("the objective is not finite at the outcome x = {x:?}: f = {f}")]
    NonFiniteOutcome { x: Vec<f64>, f: f64 },
    /// The estimator is not one of the family's.
    #[error(
        "the estimator '{estimator}' does not apply to the family '{family}'; these do: {}",
        kind_names(.applicable)
    )]
    NotApplicable {
        estimator: EstimatorKind,
        family: &'static str,
        applicable: &'static [EstimatorKind],
    },
    #[error("this family has no reparameterization")]
    NoReparameterization,
    /// The delta-method control variate needs a Gaussian family.
    #[error(
        "the delta control variate applies only to the normal and multivariate_normal families"
    )]
    NotGaussian,
    /// f, its gradient or its curvature is not finite at the mean, where the
    /// delta-method control variate expands it.
    #[error(
        "the delta control variate expands the objective at the mean, where it (or its \
         gradient or curvature) is not finite ({value}); use the estimator without it"
    )]
    DeltaNotFinite { value: f64 },
    #[error("this family has no relaxation")]
    NoRelaxation,
    /// ARM and DisARM need independent Bernoulli components; ReinMax and
    /// Gumbel-Rao a one-hot categorical.
    #[error("the estimator '{0}' does not apply to this family")]
    WrongFamily(EstimatorKind),
    /// A probability of 0 or 1, whose logit is ±∞, under an estimator that
    /// works through the logits (and for probs divides by p(1 − p) or p).
    #[error(
        "probs[{component}] = {p} has no finite logit; the estimator '{estimator}' needs 0 < p < 1"
    )]
    NoLogit {
        estimator: EstimatorKind,
        component: usize,
        p: f64,
    },
    #[error("this family has no measure-valued derivative")]
    NoMeasureValued,
    #[error("this family cannot be enumerated")]
    NotEnumerable,
    /// Antithetic or rqmc sampling asked for where it does not apply (see
    /// [`crate::estimation::sampling`]).
    #[error("{method} sampling does not apply: {reason}")]
    SamplingNotApplicable {
        method: &'static str,
        reason: String,
    },
    /// The exact estimator, on a distribution with more outcomes than the job allows.
    #[error("exact enumeration is not possible for this distribution")]
    ExactInfeasible,
    /// Chunk summaries handed to a run (resumed from checkpoints) or to a
    /// merge of partial runs that do not fit the job's plan.
    #[error("the chunk summaries do not fit this job: {0}")]
    Summaries(String),
}

/// The first 8 components of a sample, to 6 decimals, then `…` if there are more.
fn show_sample(x: &[f64]) -> String {
    let shown: Vec<String> = x.iter().take(8).map(|v| format!("{v:.6}")).collect();
    let more = if x.len() > 8 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

fn show_non_finite(f: f64, gradient_term: Option<f64>) -> String {
    if f.is_finite() {
        format!(
            "f = {f} is finite but a gradient term is {}",
            gradient_term.unwrap_or(f64::NAN)
        )
    } else {
        format!("f = {f}")
    }
}

fn kind_names(kinds: &[EstimatorKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    names.join(", ")
}

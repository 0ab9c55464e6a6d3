//! The estimators: what each one computes per sample, one file each. The runner
//! ([`crate::estimation::runner`]) draws the batches through one interface,
//! [`Sampler::step`], and turns the per-sample terms into estimates with honest
//! standard errors; [`exact`] enumerates instead of sampling.
//!
//! - [`score_function`]: u = ∇θf + (f − b)·∇θ log p_θ(x), with its baselines;
//! - [`pathwise`]: u = ∇θf + (∂x/∂θ)ᵀ∇ₓf for x = g_θ(ε), in log space for the
//!   families drawn there;
//! - [`relaxed`]: Gumbel-Softmax (Concrete) and its straight-through form;
//! - [`arm`]: ARM and DisARM for Bernoulli logits, an antithetic pair per sample;
//! - [`reinmax`]: ReinMax, straight-through with a second-order backward pass;
//! - [`gumbel_rao`]: straight-through Gumbel-Softmax averaged over conditional Gumbels;
//! - [`measure_valued`]: uₖ = ∂θₖf + cₖ (f(x⁺ₖ) − f(x⁻ₖ)), the weak derivative;
//! - [`exact`]: Σₖ pₖ [∇θf(eₖ) + f(eₖ)·s(eₖ)] over a finite support.
//!
//! Adding a sampling estimator means writing its file (a type implementing
//! [`Sampler`]), adding its [`Estimator`] variant with its [`EstimatorKind`]
//! (name and catalog line), and one arm in [`sampler`]; the runner is not
//! edited (the HTTP layer adds its request variant; see the README).

pub mod arm;
pub mod delta;
pub mod exact;
pub mod gumbel_rao;
pub mod measure_valued;
pub mod pathwise;
pub mod reinmax;
pub mod relaxed;
pub mod score_function;

use super::distributions::{Distribution, grad_len, log_len};
use super::error::RunError;
pub use super::estimator::{Baseline, Delta, Estimator, EstimatorKind};
use super::objective::{Program, Workspace};
use super::rng::SampleRng;

/// The buffers of one batch, allocated once per worker for its largest batch
/// and reused: a step writes into the first b samples' worth of each.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The samples, sample-major (`x[r·D + i]`).
    pub x: Vec<f64>,
    /// What the sampler keeps for its pullback (ε, a relaxed sample).
    pub aux: Vec<f64>,
    /// Exact log values of the samples, for a family drawn in log space.
    pub logx: Vec<f64>,
    /// The per-sample gradient terms, component-major (`u[k·b + r]`).
    pub u: Vec<f64>,
    /// The scores s, laid out like u, when the step says it wrote them.
    pub v: Vec<f64>,
    /// f at each sample.
    pub f: Vec<f64>,
    /// Per-sample baselines (leave-one-out); scratch for the runner otherwise.
    pub base: Vec<f64>,
}

impl Batch {
    /// Buffers for up to `cap` samples of `dist`, with `aux_len` aux numbers each.
    pub fn new(cap: usize, dist: &dyn Distribution, aux_len: usize) -> Batch {
        let (d, p) = (dist.dim(), grad_len(dist));
        Batch {
            x: vec![0.0; cap * d],
            aux: vec![0.0; cap * aux_len],
            logx: vec![0.0; cap * log_len(dist)],
            u: vec![0.0; cap * p],
            v: vec![0.0; cap * p],
            f: vec![0.0; cap],
            base: vec![0.0; cap],
        }
    }
}

/// What a step reports beside its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepInfo {
    /// Whether `v` holds the scores s with u = ∇θf + f·s, so the runner applies
    /// the cross-fitted optimal baseline as u − b·v.
    pub scores: bool,
}

/// A sampling estimator, resolved against its job's distribution once per run
/// (the family's forms it needs are looked up there, not per batch).
pub trait Sampler: Sync {
    /// Numbers per sample it keeps in [`Batch::aux`].
    fn aux_len(&self) -> usize;

    /// Evaluations of the objective per sample (the result reports it; a
    /// comparison's work-normalised variance counts it through the time taken).
    fn evaluations_per_sample(&self) -> f64 {
        1.0
    }

    /// For the delta-method control variate, the form of the Hessian used
    /// ("dense" or "diagonal").
    fn hessian_form(&self) -> Option<&'static str> {
        None
    }

    /// Draws a batch of `b` samples and writes f and the per-sample gradient
    /// terms u (and, for the score function, the scores v) into `batch`. A
    /// family drawn in log space draws its exact log values beside x: the
    /// objective reads them for `log(x)`, and the score and the pathwise pullback
    /// use them, so no underflowed x enters. It neither allocates nor locks.
    fn step(
        &self,
        objective: &Program,
        rng: &mut SampleRng,
        ws: &mut Workspace,
        batch: &mut Batch,
        b: usize,
    ) -> StepInfo;
}

/// The registration of the sampling estimators: the estimator on `dist`, or
/// `None` for [`Estimator::Exact`], which enumerates instead of sampling.
pub fn sampler<'a>(
    estimator: &Estimator,
    dist: &'a dyn Distribution,
    objective: &Program,
) -> Result<Option<Box<dyn Sampler + 'a>>, RunError> {
    Ok(Some(match *estimator {
        Estimator::ScoreFunction { baseline } => {
            Box::new(score_function::ScoreFunction::new(dist, baseline))
        }
        Estimator::Reparameterization => Box::new(pathwise::Pathwise::new(dist)?),
        Estimator::GumbelSoftmax { temperature, hard } => {
            Box::new(relaxed::GumbelSoftmax::new(dist, temperature, hard)?)
        }
        Estimator::Arm => Box::new(arm::Arm::new(dist, false)?),
        Estimator::Disarm => Box::new(arm::Arm::new(dist, true)?),
        Estimator::ReinMax { temperature } => Box::new(reinmax::ReinMax::new(dist, temperature)?),
        Estimator::GumbelRao { temperature, draws } => {
            Box::new(gumbel_rao::GumbelRao::new(dist, temperature, draws)?)
        }
        Estimator::Delta(on) => {
            let (inner, pathwise): (Box<dyn Sampler + 'a>, bool) = match on {
                Delta::Reparameterization => (Box::new(pathwise::Pathwise::new(dist)?), true),
                Delta::ScoreFunction { baseline } => (
                    Box::new(score_function::ScoreFunction::new(dist, baseline)),
                    false,
                ),
            };
            Box::new(delta::DeltaCv::new(dist, objective, inner, pathwise)?)
        }
        Estimator::MeasureValued { coupling } => {
            Box::new(measure_valued::MeasureValued::new(dist, coupling)?)
        }
        Estimator::Exact => return Ok(None),
    }))
}

/// Adds the direct term ∇θf (when f reads θ) to the terms u.
fn add_direct(u: &mut [f64], direct: Option<&[f64]>) {
    if let Some(dv) = direct {
        for (a, b) in u.iter_mut().zip(dv) {
            *a += b;
        }
    }
}

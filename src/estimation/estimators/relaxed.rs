//! Gumbel-Softmax (Concrete) terms, and the straight-through form.
//!
//! A discrete x is replaced by a relaxed sample y = softmax((z + G)/τ), z the
//! logits and G standard Gumbel noise, at a temperature τ > 0 (for a Bernoulli,
//! the binary Concrete); the term is u = ∇θf + (∂y/∂θ)ᵀ ∇_y f. Straight-through
//! (`hard`) takes f and ∇f at h = onehot(argmax y), a true Gumbel-Max sample,
//! while the backward pass uses the soft Jacobian ∂y/∂θ. Both are biased; as
//! τ → 0 the bias vanishes and the variance grows. Each family's module gives
//! its Jacobian.
use super::{Batch, Sampler, StepInfo, add_direct};
use crate::estimation::distributions::{Distribution, Relaxed, grad_len};
use crate::estimation::error::RunError;
use crate::estimation::objective::{Program, Want, Workspace};
use crate::estimation::rng::SampleRng;

/// Gumbel-Softmax at a temperature, optionally straight-through.
pub struct GumbelSoftmax<'a> {
    dist: &'a dyn Distribution,
    rel: &'a dyn Relaxed,
    temperature: f64,
    hard: bool,
}

impl<'a> GumbelSoftmax<'a> {
    /// Refuses a family without a relaxation.
    pub fn new(dist: &'a dyn Distribution, temperature: f64, hard: bool) -> Result<Self, RunError> {
        Ok(GumbelSoftmax {
            dist,
            rel: dist.relaxed().ok_or(RunError::NoRelaxation)?,
            temperature,
            hard,
        })
    }
}

impl Sampler for GumbelSoftmax<'_> {
    fn aux_len(&self) -> usize {
        self.rel.relaxed_aux_len()
    }

    /// Relaxed terms of a batch: f at the relaxed (or straight-through) point,
    /// and u = ∇θf + (∂y/∂θ)ᵀ∇f.
    fn step(
        &self,
        objective: &Program,
        rng: &mut SampleRng,
        ws: &mut Workspace,
        batch: &mut Batch,
        b: usize,
    ) -> StepInfo {
        let (d, p) = (self.dist.dim(), grad_len(self.dist));
        let direct = objective.has_direct_gradient();
        let (x, u) = (&mut batch.x[..b * d], &mut batch.u[..b * p]);
        let aux = &mut batch.aux[..b * self.rel.relaxed_aux_len()];
        self.rel
            .relaxed_sample(rng, self.temperature, self.hard, x, aux);
        let want = Want {
            grad_x: true,
            grad_theta: direct,
        };
        let o = objective.eval(ws, x, b, want);
        batch.f[..b].copy_from_slice(o.f);
        self.rel
            .relaxed_pullback(self.temperature, aux, o.grad_x, u);
        add_direct(u, direct.then_some(o.grad_theta));
        StepInfo { scores: false }
    }
}

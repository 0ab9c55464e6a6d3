//! Reparameterization (pathwise) terms.
//!
//! With x = g_θ(ε), ε from a fixed distribution,
//! ĝ = (1/N) Σᵢ [ ∇θf(xᵢ;θ) + (∂xᵢ/∂θ)ᵀ ∇ₓf(xᵢ;θ) ],
//! unbiased for f differentiable in x. A family drawn in log space (gamma, beta,
//! dirichlet) pulls back in log space: with ℓ = log x drawn exactly,
//! ∂f/∂θ = Σᵢ (∂f/∂xᵢ · xᵢ + ∂f/∂ℓᵢ) ∂ℓᵢ/∂θ (for beta with log(1 − x) alike),
//! which never divides by an x that underflowed; the implicit reparameterization
//! of the standard gamma supplies ∂ℓ/∂α. Each family's module gives its ∂x/∂θ.

use super::{Batch, Sampler, StepInfo, add_direct};
use crate::estimation::distributions::{
    Distribution, LogSpace, Reparameterized, grad_len, log_len,
};
use crate::estimation::error::RunError;
use crate::estimation::objective::{Program, Want, Workspace};
use crate::estimation::rng::SampleRng;

/// The pathwise estimator on a family with a reparameterization.
pub struct Pathwise<'a> {
    dist: &'a dyn Distribution,
    rep: &'a dyn Reparameterized,
    /// The log-space form, for a family drawn there.
    log: Option<&'a dyn LogSpace>,
}

impl<'a> Pathwise<'a> {
    /// Refuses a family without a reparameterization.
    pub fn new(dist: &'a dyn Distribution) -> Result<Self, RunError> {
        Ok(Pathwise {
            dist,
            rep: dist
                .reparameterized()
                .ok_or(RunError::NoReparameterization)?,
            log: dist.log_space(),
        })
    }
}

impl Sampler for Pathwise<'_> {
    fn aux_len(&self) -> usize {
        self.rep.aux_len()
    }

    /// Pathwise terms of a batch: f, and u = ∇θf + (∂x/∂θ)ᵀ∇ₓf (in log space, with
    /// ∂f/∂(log x), for a family drawn there).
    fn step(
        &self,
        objective: &Program,
        rng: &mut SampleRng,
        ws: &mut Workspace,
        batch: &mut Batch,
        b: usize,
    ) -> StepInfo {
        let dist = self.dist;
        let (d, p) = (dist.dim(), grad_len(dist));
        let direct = objective.has_direct_gradient();
        let (x, u) = (&mut batch.x[..b * d], &mut batch.u[..b * p]);
        let aux = &mut batch.aux[..b * self.rep.aux_len()];
        let logx = &mut batch.logx[..b * log_len(dist)];
        match self.log {
            Some(l) => l.rsample_log(rng, x, aux, logx),
            None => self.rep.rsample(rng, x, aux),
        }
        let want = Want {
            grad_x: true,
            grad_theta: direct,
        };
        let o = objective.eval_logs(ws, x, logx, b, want);
        batch.f[..b].copy_from_slice(o.f);
        match self.log {
            Some(l) => l.pullback_log(x, aux, o.grad_x, o.grad_log, u),
            None => self.rep.pullback(x, aux, o.grad_x, u),
        }
        add_direct(u, direct.then_some(o.grad_theta));
        StepInfo { scores: false }
    }
}

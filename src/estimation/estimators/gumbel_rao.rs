//! Gumbel-Rao (Paulus, Maddison & Krause 2021, "Rao-Blackwellizing the
//! Straight-Through Gumbel-Softmax Gradient Estimator") for a one-hot categorical.
//!
//! Forward on a true sample D = e_k (Gumbel-Max, the family's sampler), g = ∇ₓf(D).
//! The backward pass is straight-through Gumbel-Softmax's, (1/τ)(diag y − yyᵀ)g
//! with y = softmax((θ + G)/τ), averaged over K perturbations G drawn given
//! argmax(θ + G) = k: its conditional expectation given D, so the same mean as
//! straight-through Gumbel-Softmax and a variance no larger (K = 1 is
//! straight-through Gumbel-Softmax itself, in distribution).
//!
//! The conditional perturbed logits, from exponentials E (with Z = Σ e^θ):
//! Mₖ = log Z − log Eₖ (the maximum, independent of its position) and, for
//! j ≠ k, Mⱼ = −log(Eⱼ e^{−θⱼ} + Eₖ/Z) (a Gumbel at θⱼ truncated below Mₖ).
//! Taking θ = log p (so Z = 1), Mⱼ − Mₖ = −log1p(Eⱼ/(pⱼEₖ)) ≤ 0, so
//! y = softmax((M − Mₖ)/τ) needs no logsumexp and never overflows.
//!
//! For `probs`: ∂f/∂pᵢ = (∂f/∂zᵢ)/pᵢ − Σⱼ ∂f/∂zⱼ (a zero pᵢ is refused).

use super::reinmax::{one_hot, through_probs};
use super::{Batch, Sampler, StepInfo, add_direct};
use crate::estimation::distributions::{Distribution, OneHot, grad_len};
use crate::estimation::error::RunError;
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::objective::{Program, Want, Workspace};
use crate::estimation::rng::SampleRng;
use crate::estimation::variates::exponentials;

/// Gumbel-Rao at a temperature τ > 0 with K ≥ 1 conditional draws.
pub struct GumbelRao<'a> {
    dist: &'a dyn Distribution,
    hot: &'a dyn OneHot,
    temperature: f64,
    draws: u32,
    /// 1/p (∞ for an impossible category, whose y is then 0).
    inv_p: Vec<f64>,
}

impl<'a> GumbelRao<'a> {
    /// Refuses a family that is not one-hot categorical, a zero entry of probs,
    /// and K = 0.
    pub fn new(dist: &'a dyn Distribution, temperature: f64, draws: u32) -> Result<Self, RunError> {
        let hot = one_hot(dist, EstimatorKind::GumbelRao)?;
        Ok(GumbelRao {
            dist,
            hot,
            temperature,
            draws: draws.max(1),
            inv_p: hot.probs().iter().map(|p| 1.0 / p).collect(),
        })
    }

    /// One conditional draw for sample r: the exponentials in `e` (overwritten
    /// by y), the sampled category k, ∇ₓf row g; adds w·(1/τ)(diag y − yyᵀ)g to u.
    fn add_draw(&self, e: &mut [f64], k: usize, g: &[f64], w: f64, u: &mut [f64], r: usize) {
        let b = u.len() / e.len();
        let inv_tau = 1.0 / self.temperature;
        let ek = e[k];
        let mut total = 0.0;
        for (i, (v, ip)) in e.iter_mut().zip(&self.inv_p).enumerate() {
            let a = if i == k {
                0.0
            } else {
                -libm::log1p(*v * ip / ek) * inv_tau
            };
            *v = libm::exp(a);
            total += *v;
        }
        let inv = 1.0 / total;
        let mut yg = 0.0;
        for (v, gi) in e.iter_mut().zip(g) {
            *v *= inv;
            yg += *v * gi;
        }
        let scale = w * inv_tau;
        for (i, (y, gi)) in e.iter().zip(g).enumerate() {
            u[i * b + r] += scale * y * (gi - yg);
        }
    }
}

impl Sampler for GumbelRao<'_> {
    /// One draw's exponentials (then y) per sample.
    fn aux_len(&self) -> usize {
        self.dist.dim()
    }

    /// f and ∇ₓf at a Gumbel-Max sample, then K conditional draws, one batch
    /// fill of exponentials each, averaged into u.
    fn step(
        &self,
        objective: &Program,
        rng: &mut SampleRng,
        ws: &mut Workspace,
        batch: &mut Batch,
        b: usize,
    ) -> StepInfo {
        let (k, p) = (self.dist.dim(), grad_len(self.dist));
        let direct = objective.has_direct_gradient();
        let (x, u) = (&mut batch.x[..b * k], &mut batch.u[..b * p]);
        let aux = &mut batch.aux[..b * k];
        self.dist.sample(rng, x);
        let want = Want {
            grad_x: true,
            grad_theta: direct,
        };
        let o = objective.eval(ws, x, b, want);
        batch.f[..b].copy_from_slice(o.f);
        u.fill(0.0);
        let w = 1.0 / f64::from(self.draws);
        for _ in 0..self.draws {
            exponentials(rng, aux);
            let rows = aux.chunks_exact_mut(k).zip(x.chunks_exact(k));
            for (r, ((er, xr), gr)) in rows.zip(o.grad_x.chunks_exact(k)).enumerate() {
                let hit = xr.iter().position(|v| *v == 1.0).unwrap_or(0);
                self.add_draw(er, hit, gr, w, u, r);
            }
        }
        if self.hot.by_probs() {
            for r in 0..b {
                through_probs(u, r, b, &self.inv_p);
            }
        }
        add_direct(u, direct.then_some(o.grad_theta));
        StepInfo { scores: false }
    }
}

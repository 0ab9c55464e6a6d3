//! ReinMax (Liu, Liu, Gao, Gao & Han 2023, "Bridging Discrete and
//! Backpropagation: Straight-Through and Beyond", Algorithm 2) for a one-hot
//! categorical.
//!
//! Forward on a true sample D = e_k (Gumbel-Max, the family's sampler), g = ∇ₓf(D).
//! With π = softmax θ and π₁ = ½(softmax(θ/τ) + D), the backward pass is
//! ∇θ = [2(diag π₁ − π₁π₁ᵀ) − ½(diag π − ππᵀ)] g
//!    = 2π₁ ⊙ (g − (π₁·g)) − ½π ⊙ (g − (π·g)).
//! The temperature enters only through softmax(θ/τ) inside π₁ (π₁ is a
//! constant plus θ in the paper's softmax(sg(log π₁ − θ) + θ), so no 1/τ
//! factor). Straight-through's backward (diag π − ππᵀ)g is a first-order
//! (Euler) approximation of f(eᵢ) − f(eⱼ) and exact in expectation for f linear
//! in x; ReinMax at τ = 1 is the second-order (Heun) one, exact in expectation
//! for f quadratic in x. Biased in general.
//!
//! For `probs`: ∂f/∂pᵢ = (∂f/∂zᵢ)/pᵢ − Σⱼ ∂f/∂zⱼ (a zero pᵢ is refused).

use super::{Batch, Sampler, StepInfo, add_direct};
use crate::estimation::distributions::{Distribution, OneHot, grad_len};
use crate::estimation::error::RunError;
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::objective::{Program, Want, Workspace};
use crate::estimation::rng::SampleRng;

/// ReinMax at a temperature τ > 0.
pub struct ReinMax<'a> {
    dist: &'a dyn Distribution,
    hot: &'a dyn OneHot,
    /// softmax(θ/τ) = softmax(log p/τ).
    tempered: Vec<f64>,
    /// 1/p, for the chain rule of probs.
    inv_p: Vec<f64>,
}

impl<'a> ReinMax<'a> {
    /// Refuses a family that is not one-hot categorical, and a zero entry of probs.
    pub fn new(dist: &'a dyn Distribution, temperature: f64) -> Result<Self, RunError> {
        let hot = one_hot(dist, EstimatorKind::ReinMax)?;
        let scaled: Vec<f64> = hot.log_probs().iter().map(|l| l / temperature).collect();
        let m = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = scaled.iter().map(|a| libm::exp(a - m)).collect();
        let total: f64 = w.iter().sum();
        Ok(ReinMax {
            dist,
            hot,
            tempered: w.iter().map(|v| v / total).collect(),
            inv_p: hot.probs().iter().map(|p| 1.0 / p).collect(),
        })
    }

    /// The backward pass of sample r (one-hot row `x`, ∇ₓf row `g`) into u.
    fn backward(&self, x: &[f64], g: &[f64], u: &mut [f64], r: usize, b: usize) {
        let (pi, pt) = (self.hot.probs(), &self.tempered);
        let k = x.iter().position(|v| *v == 1.0).unwrap_or(0);
        let s0: f64 = pi.iter().zip(g).map(|(p, gi)| p * gi).sum();
        let s1 = 0.5 * (pt.iter().zip(g).map(|(p, gi)| p * gi).sum::<f64>() + g[k]);
        for i in 0..g.len() {
            let hit = if i == k { 0.5 } else { 0.0 };
            let p1 = 0.5 * pt[i] + hit;
            u[i * b + r] = 2.0 * p1 * (g[i] - s1) - 0.5 * pi[i] * (g[i] - s0);
        }
        if self.hot.by_probs() {
            through_probs(u, r, b, &self.inv_p);
        }
    }
}

/// The one-hot form of `dist`, refused for another family and for a zero
/// entry of probs (whose ∂f/∂pᵢ the chain rule would give as 0/0).
pub(super) fn one_hot(
    dist: &dyn Distribution,
    kind: EstimatorKind,
) -> Result<&dyn OneHot, RunError> {
    let hot = dist.one_hot().ok_or(RunError::WrongFamily(kind))?;
    let zero = hot.probs().iter().position(|p| *p <= 0.0);
    if let (true, Some(i)) = (hot.by_probs(), zero) {
        return Err(RunError::NoLogit {
            estimator: kind,
            component: i,
            p: hot.probs()[i],
        });
    }
    Ok(hot)
}

/// Sample r's gradient with respect to the logits z (u\[i·b + r\]) becomes the
/// one with respect to probs: ∂f/∂pᵢ = (∂f/∂zᵢ)/pᵢ − Σⱼ ∂f/∂zⱼ.
pub(super) fn through_probs(u: &mut [f64], r: usize, b: usize, inv_p: &[f64]) {
    let total: f64 = (0..inv_p.len()).map(|i| u[i * b + r]).sum();
    for (i, w) in inv_p.iter().enumerate() {
        u[i * b + r] = u[i * b + r] * w - total;
    }
}

impl Sampler for ReinMax<'_> {
    fn aux_len(&self) -> usize {
        0
    }

    /// f and ∇ₓf at a Gumbel-Max sample, then the ReinMax backward pass.
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
        self.dist.sample(rng, x);
        let want = Want {
            grad_x: true,
            grad_theta: direct,
        };
        let o = objective.eval(ws, x, b, want);
        batch.f[..b].copy_from_slice(o.f);
        for (r, (xr, gr)) in x.chunks_exact(k).zip(o.grad_x.chunks_exact(k)).enumerate() {
            self.backward(xr, gr, u, r, b);
        }
        add_direct(u, direct.then_some(o.grad_theta));
        StepInfo { scores: false }
    }
}

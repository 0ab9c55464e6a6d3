//! A categorical variable over K categories, given by `logits` z (p = softmax(z))
//! or by `probs` p. A sample x is the one-hot vector e_k of length K.
//!
//! # Density
//! log p(e_k) = z_k − logsumexp(z), or log p_k − log Σⱼ pⱼ for probs.
//!
//! # Sampling: Gumbel-Max
//! k = argmaxᵢ (zᵢ + Gᵢ), Gᵢ = −log Eᵢ with Eᵢ ~ Exp(1) i.i.d. (−log of an
//! exponential is a standard Gumbel), has P(k) = softmax(z)ₖ. Since
//! zᵢ + Gᵢ = log(pᵢ/Eᵢ) + const, the argmax is argminᵢ Eᵢ/pᵢ (the exponential
//! race), which needs no logarithm per category.
//!
//! # Score
//! logits: s_z = e_k − softmax(z).
//! probs, through the normalisation p/Σp: s_p = e_k/p_k − 1 (so
//! E[f s_pⱼ] = f(eⱼ) − E f, orthogonal to the all-ones direction).
//!
//! # Gumbel-Softmax (Concrete), temperature τ > 0
//! y = softmax((z + G)/τ), computed in log space (no overflow at small τ).
//! With u = ∇_y f: ∂f/∂zᵢ = (1/τ) yᵢ (uᵢ − Σⱼ yⱼuⱼ). Straight-through (`hard`):
//! f and u are taken at h = onehot(argmax y), a true Gumbel-Max sample, while the
//! backward pass uses the soft Jacobian. For `probs`, the chain rule through
//! zⱼ = log pⱼ − log Σp gives ∂f/∂pᵢ = (∂f/∂zᵢ)/pᵢ − Σⱼ ∂f/∂zⱼ.
//!
//! # ReinMax and Gumbel-Rao
//! Through p and log p (see [`crate::estimation::estimators::reinmax`] and
//! [`crate::estimation::estimators::gumbel_rao`]), with the same chain rule for
//! probs; a zero entry of probs is refused (its ∂f/∂pᵢ would be 0/0).
//!
//! # Exact
//! ∇_z Σₖ pₖ f(eₖ) = pₖ (f(eₖ) − Σⱼ pⱼ f(eⱼ)).

use super::distribution::{Distribution, Enumerable, FamilyInfo, OneHot, Relaxed};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::fastmath;
use crate::estimation::rng::SampleRng;
use crate::estimation::variates::exponentials;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "categorical",
    doc: "One categorical variable over K categories, sampled by Gumbel-Max. x is the one-hot \
          vector of length K. Give logits or probs (probs must sum to 1 within 1e-9·K).",
    params: &[
        ParamSpec {
            name: "logits",
            shape: Shape::Vector,
            constraint: Constraint::Real,
            differentiable: true,
            required: false,
            doc: "unnormalised log-probabilities z; p = softmax(z)",
        },
        ParamSpec {
            name: "probs",
            shape: Shape::Vector,
            constraint: Constraint::UnitInterval,
            differentiable: true,
            required: false,
            doc: "probabilities p (summing to 1); the gradient is taken through p/Σp",
        },
    ],
    alternatives: &[&["logits", "probs"]],
    estimators: &[
        EstimatorKind::ScoreFunction,
        EstimatorKind::GumbelSoftmax,
        EstimatorKind::ReinMax,
        EstimatorKind::GumbelRao,
        EstimatorKind::Exact,
    ],
    example: &[("logits", ExampleValue::Vector(&[0.5, -1.0, 0.0, 1.2]))],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    if input.contains_key("probs") {
        let p = vector(input, "probs");
        let k = p.len() as f64;
        let total: f64 = p.iter().sum();
        if (total - 1.0).abs() > 1e-9 * k {
            return Err(ParamError::new(
                &["probs"],
                format!("probs must sum to 1 (within 1e-9·K); they sum to {total}"),
            ));
        }
        return Ok(Box::new(Categorical::from_probs(p)));
    }
    Ok(Box::new(Categorical::from_logits(vector(input, "logits"))))
}

/// A categorical over K categories.
#[derive(Debug, Clone)]
pub struct Categorical {
    params: [Param; 1],
    /// Whether θ is `probs` (else `logits`).
    by_probs: bool,
    /// Normalised probabilities.
    p: Vec<f64>,
    /// log p (−∞ for an impossible category).
    logp: Vec<f64>,
    /// 1/pᵢ (∞ for an impossible category): the race's weights.
    inv_p: Vec<f64>,
}

impl Categorical {
    /// From logits z: p = softmax(z), computed stably.
    pub(super) fn from_logits(z: Vec<f64>) -> Self {
        let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + libm::log(z.iter().map(|v| libm::exp(v - m)).sum::<f64>());
        let logp: Vec<f64> = z.iter().map(|v| v - lse).collect();
        Self::with(Param::vector("logits", z), false, logp)
    }

    /// From probabilities that sum to 1 (renormalised exactly).
    pub(super) fn from_probs(p: Vec<f64>) -> Self {
        let total: f64 = p.iter().sum();
        let logp: Vec<f64> = p.iter().map(|v| libm::log(v / total)).collect();
        Self::with(Param::vector("probs", p), true, logp)
    }

    fn with(param: Param, by_probs: bool, logp: Vec<f64>) -> Self {
        let p: Vec<f64> = logp.iter().map(|l| libm::exp(*l)).collect();
        let inv_p = p.iter().map(|v| 1.0 / v).collect();
        Categorical {
            params: [param],
            by_probs,
            p,
            logp,
            inv_p,
        }
    }

    fn k(&self) -> usize {
        self.p.len()
    }

    /// Score of category `k` for component `i`.
    #[inline]
    fn score_at(&self, k: usize, i: usize) -> f64 {
        let hit = f64::from(u8::from(i == k));
        if self.by_probs {
            hit * self.inv_p[k] - 1.0
        } else {
            hit - self.p[i]
        }
    }
}

impl Distribution for Categorical {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.k()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    /// The exponential race over the whole batch: x first holds the Eᵢ (one
    /// batch fill), then each row becomes the one-hot of argminᵢ Eᵢ/pᵢ.
    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        let k = self.k();
        exponentials(rng, x);
        for row in x.chunks_exact_mut(k) {
            // Branch-free selects: the winner's position is random, so a
            // branch on each comparison would be mispredicted often.
            let (mut best, mut at) = (f64::INFINITY, 0);
            for (i, (e, w)) in row.iter().zip(&self.inv_p).enumerate() {
                let t = e * w;
                let better = t < best;
                best = if better { t } else { best };
                at = if better { i } else { at };
            }
            row.fill(0.0);
            row[at] = 1.0;
        }
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let k = self.k();
        let b = x.len() / k;
        // The score is a constant row plus a spike at the sampled category:
        // logits: e_k − p;  probs: e_k/p_k − 1.
        for i in 0..k {
            s[i * b..(i + 1) * b].fill(if self.by_probs { -1.0 } else { -self.p[i] });
        }
        for (r, row) in x.chunks_exact(k).enumerate() {
            // The one entry equal to 1, found without a branch per entry.
            let hit = (0..k).fold(0, |h, i| if row[i] == 1.0 { i } else { h });
            s[hit * b + r] += if self.by_probs { self.inv_p[hit] } else { 1.0 };
        }
    }

    fn relaxed(&self) -> Option<&dyn Relaxed> {
        Some(self)
    }

    fn enumerable(&self) -> Option<&dyn Enumerable> {
        Some(self)
    }

    fn category_probs(&self) -> Option<Vec<f64>> {
        Some(self.p.clone())
    }

    fn one_hot(&self) -> Option<&dyn OneHot> {
        Some(self)
    }
}

impl OneHot for Categorical {
    fn probs(&self) -> &[f64] {
        &self.p
    }

    fn log_probs(&self) -> &[f64] {
        &self.logp
    }

    fn by_probs(&self) -> bool {
        self.by_probs
    }
}

impl Relaxed for Categorical {
    fn relaxed_aux_len(&self) -> usize {
        self.k()
    }

    fn relaxed_sample(
        &self,
        rng: &mut SampleRng,
        tau: f64,
        hard: bool,
        x: &mut [f64],
        aux: &mut [f64],
    ) {
        let k = self.k();
        let inv_tau = 1.0 / tau;
        // Whole-batch passes, so log and exp run through the vectorised kernels:
        // E ~ Exp(1) into x; aᵢ = (log pᵢ − log Eᵢ)/τ into aux; y = exp(a − max a),
        // normalised per row.
        exponentials(rng, x);
        fastmath::ln_batch(x, aux);
        for row in aux.chunks_exact_mut(k) {
            let mut m = f64::NEG_INFINITY;
            for (a, lp) in row.iter_mut().zip(&self.logp) {
                *a = (lp - *a) * inv_tau;
                m = if *a > m { *a } else { m }; // no NaN here: a branch-free max
            }
            // Every entry becomes a − m ≤ 0; the Gumbel-Max winner exactly 0.
            for a in row.iter_mut() {
                *a -= m;
            }
        }
        fastmath::exp_batch(aux, x);
        for (xr, yr) in x.chunks_exact_mut(k).zip(aux.chunks_exact_mut(k)) {
            // The winner is the (first) entry where a − m is exactly 0.
            let winner = yr.iter().position(|a| *a == 0.0).unwrap_or(0);
            let total: f64 = xr.iter().sum();
            let inv = 1.0 / total;
            for (y, e) in yr.iter_mut().zip(xr.iter()) {
                *y = e * inv;
            }
            if hard {
                xr.fill(0.0);
                xr[winner] = 1.0;
            } else {
                xr.copy_from_slice(yr);
            }
        }
    }

    fn relaxed_pullback(&self, tau: f64, aux: &[f64], gx: &[f64], g: &mut [f64]) {
        let k = self.k();
        let b = gx.len() / k;
        let inv_tau = 1.0 / tau;
        for (r, (yr, ur)) in aux.chunks_exact(k).zip(gx.chunks_exact(k)).enumerate() {
            let mean: f64 = yr.iter().zip(ur).map(|(y, u)| y * u).sum();
            let mut total = 0.0;
            for i in 0..k {
                let gz = inv_tau * yr[i] * (ur[i] - mean);
                g[i * b + r] = gz;
                total += gz;
            }
            if self.by_probs {
                for i in 0..k {
                    g[i * b + r] = g[i * b + r] * self.inv_p[i] - total;
                }
            }
        }
    }
}

impl Enumerable for Categorical {
    fn outcomes(&self) -> Option<u64> {
        Some(self.k() as u64)
    }

    fn outcome(&self, k: u64, x: &mut [f64], s: &mut [f64]) -> f64 {
        let k = k as usize;
        x.fill(0.0);
        x[k] = 1.0;
        for (i, si) in s.iter_mut().enumerate() {
            *si = if self.p[k] > 0.0 {
                self.score_at(k, i)
            } else {
                0.0
            };
        }
        self.p[k]
    }
}

//! ARM (Yin & Zhou 2019) and DisARM (Dong, Mnih & Tucker 2020) for independent
//! Bernoulli components with logits θ, p = σ(θ).
//!
//! One uniform vector u ∈ (0, 1)ᴰ per sample gives the antithetic pair
//! b = 1\[u < p\] and b̃ = 1\[1 − u < p\], each marginally Bernoulli(p); f is
//! evaluated at both (2 evaluations per sample), and f's summary is f(b).
//!
//! - ARM: gᵈ = (f(b̃) − f(b))·(uᵈ − ½), since 1\[u > 1 − p\] = b̃.
//! - DisARM: gᵈ = ½(f(b) − f(b̃))·(−1)^{b̃ᵈ}·1\[bᵈ ≠ b̃ᵈ\]·σ(|θᵈ|).
//!
//! DisARM is ARM's conditional expectation over u given the pair (b, b̃): the
//! coordinates are independent, and given (bᵈ, b̃ᵈ) the coordinate uᵈ is uniform
//! on an interval with E\[uᵈ − ½ | bᵈ, b̃ᵈ\] = −½(bᵈ − b̃ᵈ)·σ(|θᵈ|) (on (1, 0),
//! u < min(p, 1 − p), whose mean is ½min(p, 1 − p) = ½(1 − σ(|θ|)); 0 on equal
//! bits by symmetry), and (bᵈ − b̃ᵈ) = (−1)^{b̃ᵈ}·1\[bᵈ ≠ b̃ᵈ\]. So both are
//! unbiased, DisARM's variance is at most ARM's, and for D = 1 at θ = 0 (where
//! b̃ = 1 − b always) DisARM's term is ¼(f(1) − f(0)) at every sample.
//!
//! For `probs`, ∂/∂p = (∂/∂θ)/(p(1 − p)); p = 0 or 1 (θ = ±∞) is refused. When
//! f reads θ, the direct term is ½(∇θf(b) + ∇θf(b̃)) (both points are Bernoulli(p)).

use rand::RngExt;

use super::{Batch, Sampler, StepInfo};
use crate::estimation::distributions::{Binary, Distribution};
use crate::estimation::error::RunError;
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::objective::{Program, Want, Workspace, sigmoid};
use crate::estimation::rng::SampleRng;

/// ARM, or DisARM when `disarm`.
pub struct Arm<'a> {
    bin: &'a dyn Binary,
    disarm: bool,
    /// Per component: the chain-rule factor of probs (1/(p(1 − p)), else 1),
    /// times σ(|θ|) for DisARM.
    scale: Vec<f64>,
}

impl<'a> Arm<'a> {
    /// Refuses a family that is not Bernoulli and a p of 0 or 1.
    pub fn new(dist: &'a dyn Distribution, disarm: bool) -> Result<Self, RunError> {
        let kind = if disarm {
            EstimatorKind::Disarm
        } else {
            EstimatorKind::Arm
        };
        let bin = dist.binary().ok_or(RunError::WrongFamily(kind))?;
        if let Some(i) = bin.logits().iter().position(|t| !t.is_finite()) {
            return Err(RunError::NoLogit {
                estimator: kind,
                component: i,
                p: bin.probs()[i],
            });
        }
        let scale = bin
            .probs()
            .iter()
            .zip(bin.logits())
            .map(|(p, t)| {
                let chain = if bin.by_probs() {
                    1.0 / (p * (1.0 - p))
                } else {
                    1.0
                };
                chain * if disarm { sigmoid(t.abs()) } else { 1.0 }
            })
            .collect();
        Ok(Arm { bin, disarm, scale })
    }

    /// The pairs of a batch: b into x, b̃ into `xt`, u into `us` (sample-major).
    fn draw(&self, rng: &mut SampleRng, x: &mut [f64], xt: &mut [f64], us: &mut [f64]) {
        let p = self.bin.probs();
        let d = p.len();
        for ((xr, tr), ur) in x
            .chunks_exact_mut(d)
            .zip(xt.chunks_exact_mut(d))
            .zip(us.chunks_exact_mut(d))
        {
            for i in 0..d {
                let u: f64 = rng.random();
                xr[i] = f64::from(u8::from(u < p[i]));
                tr[i] = f64::from(u8::from(1.0 - u < p[i]));
                ur[i] = u;
            }
        }
    }

    /// Adds the ARM or DisARM terms to u (component-major), from f(b) in `f`
    /// and f(b̃) in `ft`.
    fn terms(&self, f: &[f64], ft: &[f64], x: &[f64], xt: &[f64], us: &[f64], u: &mut [f64]) {
        let d = self.scale.len();
        let b = f.len();
        for (i, s) in self.scale.iter().enumerate() {
            let ui = &mut u[i * b..(i + 1) * b];
            for r in 0..b {
                let (bi, ti) = (x[r * d + i], xt[r * d + i]);
                let w = if self.disarm {
                    // ½(f(b) − f(b̃))(−1)^{b̃}1[b ≠ b̃]: 0 on equal bits.
                    0.5 * (f[r] - ft[r]) * (bi - ti)
                } else {
                    (ft[r] - f[r]) * (us[r * d + i] - 0.5)
                };
                ui[r] += w * s;
            }
        }
    }
}

impl Sampler for Arm<'_> {
    /// b̃ and u, D numbers each.
    fn aux_len(&self) -> usize {
        2 * self.scale.len()
    }

    fn evaluations_per_sample(&self) -> f64 {
        2.0
    }

    /// f(b̃) is evaluated first (into `base`, with half its direct term into u),
    /// then f(b) (into f); then the pair's terms are added.
    fn step(
        &self,
        objective: &Program,
        rng: &mut SampleRng,
        ws: &mut Workspace,
        batch: &mut Batch,
        b: usize,
    ) -> StepInfo {
        let d = self.scale.len();
        let direct = objective.has_direct_gradient();
        let want = Want {
            grad_x: false,
            grad_theta: direct,
        };
        let x = &mut batch.x[..b * d];
        let (xt, us) = batch.aux[..2 * b * d].split_at_mut(b * d);
        let u = &mut batch.u[..b * d];
        self.draw(rng, x, xt, us);
        let o = objective.eval(ws, xt, b, want);
        let ft = &mut batch.base[..b];
        ft.copy_from_slice(o.f);
        if direct {
            for (a, g) in u.iter_mut().zip(o.grad_theta) {
                *a = 0.5 * g;
            }
        } else {
            u.fill(0.0);
        }
        let o = objective.eval(ws, x, b, want);
        batch.f[..b].copy_from_slice(o.f);
        if direct {
            for (a, g) in u.iter_mut().zip(o.grad_theta) {
                *a += 0.5 * g;
            }
        }
        self.terms(&batch.f[..b], ft, x, xt, us, u);
        StepInfo { scores: false }
    }
}

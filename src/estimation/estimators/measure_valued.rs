//! Measure-valued derivative terms (Mohamed, Rosca, Figurnov, Mnih 2020, §6).
//!
//! The derivative of the density in one parameter entry θₖ splits into two
//! probability densities, ∂θₖ p = cₖ (p⁺ₖ − p⁻ₖ), so
//! ∂θₖ E f = cₖ (E_{p⁺ₖ} f − E_{p⁻ₖ} f) + E ∂θₖ f (the last term only when f
//! reads θ). For independent components, p⁺ₖ and p⁻ₖ replace one coordinate of
//! a base sample x ~ p and keep the others, so per sample
//! uₖ = ∂θₖ f(x) + cₖ (f(x⁺ₖ) − f(x⁻ₖ)): unbiased whatever f is (no derivative
//! of f in x is needed, f may be discontinuous), at two evaluations per entry,
//! or one where one of the parts is p itself (poisson, exponential, bernoulli:
//! f at the base is reused). Coupling draws x⁺ₖ and x⁻ₖ from shared variates,
//! which leaves each term's mean alone and usually lowers its variance. Each
//! family's module gives its cₖ and its points.

use super::{Batch, Sampler, StepInfo};
use crate::estimation::distributions::{
    Distribution, MeasureValued as Form, MvdBuffers, MvdPoints, grad_len,
};
use crate::estimation::error::RunError;
use crate::estimation::objective::{Program, Want, Workspace};
use crate::estimation::rng::SampleRng;

/// The measure-valued estimator on a family with the decomposition.
pub struct MeasureValued<'a> {
    dist: &'a dyn Distribution,
    form: &'a dyn Form,
    coupled: bool,
}

impl<'a> MeasureValued<'a> {
    /// Refuses a family without a measure-valued derivative.
    pub fn new(dist: &'a dyn Distribution, coupled: bool) -> Result<Self, RunError> {
        Ok(MeasureValued {
            dist,
            form: dist.measure_valued().ok_or(RunError::NoMeasureValued)?,
            coupled,
        })
    }
}

/// f only, at a modified batch.
const F_ONLY: Want = Want {
    grad_x: false,
    grad_theta: false,
};

impl Sampler for MeasureValued<'_> {
    /// Per sample: x⁺ and x⁻ (D numbers each), the sign and f(x⁺) (one each).
    fn aux_len(&self) -> usize {
        2 * self.dist.dim() + 2
    }

    /// 1 + 2P evaluations (the base, then x⁺ and x⁻ per entry), or 1 + P when
    /// one part is the base itself.
    fn evaluations_per_sample(&self) -> f64 {
        let p = grad_len(self.dist) as f64;
        match self.form.mvd_form() {
            MvdPoints::Pair => 1.0 + 2.0 * p,
            MvdPoints::AgainstBase => 1.0 + p,
        }
    }

    /// Measure-valued terms of a batch: the base batch x ~ p and f(x) (with ∇θf
    /// when f reads θ), then per entry k its points and
    /// u[k·b + r] = ∂θₖf(xᵣ) + cₖ (f(x⁺ᵣ) − f(x⁻ᵣ)).
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
        let x = &mut batch.x[..b * d];
        self.dist.sample(rng, x);
        let base_want = Want {
            grad_x: false,
            grad_theta: direct,
        };
        let o = objective.eval(ws, x, b, base_want);
        let f = &mut batch.f[..b];
        f.copy_from_slice(o.f);
        let u = &mut batch.u[..b * p];
        if direct {
            u.copy_from_slice(&o.grad_theta[..b * p]);
        } else {
            u.fill(0.0);
        }
        let (plus, rest) = batch.aux[..b * self.aux_len()].split_at_mut(b * d);
        let (minus, rest) = rest.split_at_mut(b * d);
        let (sign, f_plus) = rest.split_at_mut(b);
        let mut out = MvdBuffers { plus, minus, sign };
        for (k, uk) in u.chunks_exact_mut(b).enumerate() {
            self.form.mvd_points(k, self.coupled, rng, x, &mut out);
            let c = self.form.mvd_constant(k);
            f_plus.copy_from_slice(objective.eval(ws, out.plus, b, F_ONLY).f);
            match self.form.mvd_form() {
                MvdPoints::Pair => {
                    let f_minus = objective.eval(ws, out.minus, b, F_ONLY).f;
                    for ((t, fp), fm) in uk.iter_mut().zip(&*f_plus).zip(f_minus) {
                        *t += c * (fp - fm);
                    }
                }
                MvdPoints::AgainstBase => {
                    let terms = uk.iter_mut().zip(&*f_plus).zip(&*f).zip(&*out.sign);
                    for (((t, fp), f0), s) in terms {
                        *t += c * s * (fp - f0);
                    }
                }
            }
        }
        StepInfo { scores: false }
    }
}

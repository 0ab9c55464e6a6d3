//! Independent exponential components with rate λᵢ.
//!
//! # Density
//! log p(x) = log λ − λx,  x ≥ 0
//!
//! # Score
//! s_λ = 1/λ − x
//!
//! # Pathwise
//! x = E/λ, E ~ Exp(1):  ∂x/∂λ = −x/λ.
//!
//! # Measure-valued
//! ∂λ (λe^{−λx}) = (1/λ)(λe^{−λx} − λ²x e^{−λx}), so per coordinate
//! ∂λᵢ E f = (1/λᵢ) E[f(x) − f(xᵢ ← G)], G ~ Gamma(2, λᵢ): the base against one
//! point. Coupled, G = xᵢ + E′/λᵢ (a Gamma(2) is the sum of two exponentials, the
//! base's and a fresh one); uncoupled, G = (E′ + E″)/λᵢ, both fresh.

use super::distribution::{
    Distribution, FamilyInfo, MeasureValued, MvdBuffers, MvdPoints, Reparameterized,
};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::{BaseNoise, Sampling, base_uniforms};
use crate::estimation::variates;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "exponential",
    doc: "Independent exponential components with density rate·exp(−rate·x), x ≥ 0. \
          Mean 1/rate, variance 1/rate². x is a vector with one entry per component.",
    params: &[ParamSpec {
        name: "rate",
        shape: Shape::Vector,
        constraint: Constraint::Positive,
        differentiable: true,
        required: true,
        doc: "rate λ of each component (> 0)",
    }],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
        EstimatorKind::MeasureValued,
    ],
    example: &[("rate", ExampleValue::Vector(&[0.7, 2.5]))],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    Ok(Box::new(Exponential::new(vector(input, "rate"))))
}

/// Independent exponentials.
#[derive(Debug, Clone)]
pub struct Exponential {
    params: [Param; 1],
    inv_rate: Vec<f64>,
}

impl Exponential {
    /// From validated rates (> 0).
    pub(super) fn new(rate: Vec<f64>) -> Self {
        let inv_rate = rate.iter().map(|r| 1.0 / r).collect();
        Exponential {
            params: [Param::vector("rate", rate)],
            inv_rate,
        }
    }
}

impl Distribution for Exponential {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.inv_rate.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    /// iid: E = −ln(u + 2⁻⁵³) from the generator's words (the pinned bits);
    /// structured: E = F⁻¹(u) = −ln(1 − u) from the base uniforms.
    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        let d = self.dim();
        if rng.sampling() == Sampling::Iid {
            variates::exponentials(rng, x);
        } else {
            base_uniforms(rng, x, d);
            x.iter_mut().for_each(|u| *u = -libm::log1p(-*u));
        }
        for xr in x.chunks_exact_mut(d) {
            for (v, ir) in xr.iter_mut().zip(&self.inv_rate) {
                *v *= ir;
            }
        }
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Uniform)
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        for i in 0..d {
            let ir = self.inv_rate[i];
            for (r, o) in s[i * b..(i + 1) * b].iter_mut().enumerate() {
                *o = ir - x[r * d + i];
            }
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }

    fn measure_valued(&self) -> Option<&dyn MeasureValued> {
        Some(self)
    }
}

impl MeasureValued for Exponential {
    fn mvd_form(&self) -> MvdPoints {
        MvdPoints::AgainstBase
    }

    /// 1/λₖ.
    fn mvd_constant(&self, k: usize) -> f64 {
        self.inv_rate[k]
    }

    /// x′ = x with xₖ ← G (see the module docs), sign −1; per sample one fresh
    /// exponential (coupled) or two.
    fn mvd_points(
        &self,
        k: usize,
        coupled: bool,
        rng: &mut SampleRng,
        x: &[f64],
        out: &mut MvdBuffers<'_>,
    ) {
        let (d, ir) = (self.dim(), self.inv_rate[k]);
        out.plus.copy_from_slice(x);
        for row in out.plus.chunks_exact_mut(d) {
            let e = variates::exponential(rng);
            row[k] = if coupled {
                row[k] + e * ir
            } else {
                (e + variates::exponential(rng)) * ir
            };
        }
        out.sign.fill(-1.0);
    }
}

impl Reparameterized for Exponential {
    fn aux_len(&self) -> usize {
        0
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], _aux: &mut [f64]) {
        self.sample(rng, x);
    }

    fn pullback(&self, x: &[f64], _aux: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        for i in 0..d {
            let ir = self.inv_rate[i];
            for (r, o) in g[i * b..(i + 1) * b].iter_mut().enumerate() {
                let k = r * d + i;
                *o = -gx[k] * x[k] * ir;
            }
        }
    }
}

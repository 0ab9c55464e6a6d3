//! Independent uniform components U(aᵢ, bᵢ), aᵢ < bᵢ.
//!
//! # Density
//! log p(x) = −log(b − a) on [a, b], −∞ outside.
//!
//! # Score
//! The support depends on θ, so the score-function identity ∫ f ∇p = E[f ∇log p]
//! fails (the boundary term is missing) and the score function is biased: it is
//! not offered (see [`FAMILY`]'s estimators). [`Distribution::score`] writes the
//! derivative of the density inside the support, s_a = 1/(b − a),
//! s_b = −1/(b − a), for completeness only.
//!
//! # Pathwise
//! x = a + (b − a)u, u ~ U[0, 1):  ∂x/∂a = 1 − u,  ∂x/∂b = u.

use rand::RngExt as _;

use super::distribution::{Distribution, FamilyInfo, Reparameterized};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::{BaseNoise, Sampling, base_uniforms};

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "uniform",
    doc: "Independent uniform components on [low, high]. Mean (low + high)/2, variance \
          (high − low)²/12. Pathwise only: the support depends on the parameters, so \
          the score function would be biased. x is a vector with one entry per component.",
    params: &[
        ParamSpec {
            name: "low",
            shape: Shape::Vector,
            constraint: Constraint::Real,
            differentiable: true,
            required: true,
            doc: "lower end a of each component",
        },
        ParamSpec {
            name: "high",
            shape: Shape::Vector,
            constraint: Constraint::Real,
            differentiable: true,
            required: true,
            doc: "upper end b of each component (> low)",
        },
    ],
    alternatives: &[],
    estimators: &[EstimatorKind::Reparameterization],
    example: &[
        ("low", ExampleValue::Vector(&[0.0, -1.0])),
        ("high", ExampleValue::Vector(&[1.0, 2.0])),
    ],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let (low, high) = (vector(input, "low"), vector(input, "high"));
    for (i, (a, b)) in low.iter().zip(&high).enumerate() {
        if a >= b {
            return Err(ParamError::at(
                "high",
                i,
                format!("high[{i}] = {b} is invalid: it must be greater than low[{i}] = {a}"),
            ));
        }
        if !(b - a).is_finite() {
            return Err(ParamError::at(
                "high",
                i,
                format!("high[{i}] − low[{i}] = {b} − ({a}) overflows: the width must be finite"),
            ));
        }
    }
    Ok(Box::new(Uniform::new(low, high)))
}

/// Independent uniforms.
#[derive(Debug, Clone)]
pub struct Uniform {
    params: [Param; 2],
    low: Vec<f64>,
    width: Vec<f64>,
}

impl Uniform {
    /// From validated parameters of equal length with low < high.
    pub(super) fn new(low: Vec<f64>, high: Vec<f64>) -> Self {
        let width = low.iter().zip(&high).map(|(a, b)| b - a).collect();
        Uniform {
            params: [
                Param::vector("low", low.clone()),
                Param::vector("high", high),
            ],
            low,
            width,
        }
    }

    /// x = a + (b − a)u: iid u from `rng.random()` (the pinned bits), else
    /// the base uniforms (antithetic or rqmc).
    fn draw(&self, rng: &mut SampleRng, x: &mut [f64], mut aux: Option<&mut [f64]>) {
        let d = self.low.len();
        if rng.sampling() != Sampling::Iid {
            base_uniforms(rng, x, d);
            if let Some(a) = aux {
                a.copy_from_slice(x);
            }
            for xr in x.chunks_exact_mut(d) {
                for ((v, a), w) in xr.iter_mut().zip(&self.low).zip(&self.width) {
                    *v = a + w * *v;
                }
            }
            return;
        }
        for (r, xr) in x.chunks_exact_mut(d).enumerate() {
            for i in 0..d {
                let u: f64 = rng.random();
                xr[i] = self.low[i] + self.width[i] * u;
                if let Some(a) = aux.as_deref_mut() {
                    a[r * d + i] = u;
                }
            }
        }
    }
}

impl Distribution for Uniform {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.low.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        self.draw(rng, x, None);
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Uniform)
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        let (s_low, s_high) = s.split_at_mut(d * b);
        for i in 0..d {
            let inv = 1.0 / self.width[i];
            s_low[i * b..(i + 1) * b].fill(inv);
            s_high[i * b..(i + 1) * b].fill(-inv);
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }
}

impl Reparameterized for Uniform {
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux));
    }

    fn pullback(&self, _x: &[f64], u: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let (g_low, g_high) = g.split_at_mut(d * b);
        for i in 0..d {
            let gl = &mut g_low[i * b..(i + 1) * b];
            let gh = &mut g_high[i * b..(i + 1) * b];
            for r in 0..b {
                let (v, w) = (gx[r * d + i], u[r * d + i]);
                gl[r] = v * (1.0 - w);
                gh[r] = v * w;
            }
        }
    }
}

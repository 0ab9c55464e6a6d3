//! Independent gamma components with shape α (`concentration`) and rate β, and
//! the standard-gamma sampler that beta and dirichlet share.
//!
//! # Density
//! log p(x) = α log β − lnΓ(α) + (α − 1) log x − βx,  x > 0
//!
//! # Score
//! s_α = log β − ψ(α) + log x,   s_β = α/β − x
//!
//! # Pathwise (implicit reparameterization, Figurnov, Mohamed & Mnih 2018)
//! x = x̃/β with x̃ ~ Gamma(α, 1). Holding the CDF level of x̃ fixed,
//! ∂x̃/∂α = −(∂F(x̃; α)/∂α)/p(x̃; α) ([`gamma_dx_dalpha`]), so
//! ∂x/∂α = (∂x̃/∂α)/β,  ∂x/∂β = −x/β.
//!
//! # Sampling
//! Marsaglia–Tsang (`rand_distr::Gamma`), with x·U^(1/α) from Gamma(α + 1) for
//! α < 1. Draws are clamped below at the smallest normal f64 (2.2e-308), as in
//! PyTorch: for α ≳ 0.01 this changes nothing observable (probability < 1e-15
//! at α = 0.05), for tinier α it keeps log x finite.

use rand_distr::{Distribution as _, Gamma as GammaSampler};
use statrs::function::gamma::digamma;

use super::implicit_gamma::gamma_dx_dalpha;
use super::{
    Constraint, Distribution, FamilyInfo, Param, ParamError, ParamInput, ParamSpec,
    Reparameterized, Shape, vector,
};
use crate::estimation::SampleRng;
use crate::estimation::estimators::EstimatorKind;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "gamma",
    doc: "Independent gamma components with shape concentration α and rate β: density \
          β^α x^(α−1) e^(−βx)/Γ(α), x > 0. Mean α/β, variance α/β². Pathwise by implicit \
          reparameterization. x is a vector with one entry per component.",
    params: &[
        ParamSpec {
            name: "concentration",
            shape: Shape::Vector,
            constraint: Constraint::Positive,
            differentiable: true,
            required: true,
            doc: "shape α of each component (> 0)",
        },
        ParamSpec {
            name: "rate",
            shape: Shape::Vector,
            constraint: Constraint::Positive,
            differentiable: true,
            required: true,
            doc: "rate β of each component (> 0; the scale is 1/β)",
        },
    ],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
    ],
    example: &[
        ("concentration", super::ExampleValue::Vector(&[0.3, 2.5])),
        ("rate", super::ExampleValue::Vector(&[1.0, 2.0])),
    ],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let alpha = vector(input, "concentration");
    let samplers = standard_gammas(&alpha, "concentration")?;
    Ok(Box::new(Gamma::new(alpha, vector(input, "rate"), samplers)))
}

/// Gamma(αᵢ, 1) samplers, refusing (with a [`ParamError`] at `name`/i) a shape
/// the sampler does not accept.
pub(super) fn standard_gammas(
    alpha: &[f64],
    name: &str,
) -> Result<Vec<GammaSampler<f64>>, ParamError> {
    alpha
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            GammaSampler::new(a, 1.0)
                .map_err(|e| ParamError::at(name, i, format!("{name}[{i}] = {a} is invalid: {e}")))
        })
        .collect()
}

/// One Gamma(α, 1) draw, clamped below at the smallest normal f64.
#[inline]
pub(super) fn standard_gamma(sampler: &GammaSampler<f64>, rng: &mut SampleRng) -> f64 {
    sampler.sample(rng).max(f64::MIN_POSITIVE)
}

/// Independent gammas.
#[derive(Debug, Clone)]
pub struct Gamma {
    params: [Param; 2],
    alpha: Vec<f64>,
    rate: Vec<f64>,
    inv_rate: Vec<f64>,
    /// log β − ψ(α), the constant part of s_α.
    score_shift: Vec<f64>,
    samplers: Vec<GammaSampler<f64>>,
}

impl Gamma {
    fn new(alpha: Vec<f64>, rate: Vec<f64>, samplers: Vec<GammaSampler<f64>>) -> Self {
        let inv_rate = rate.iter().map(|r| 1.0 / r).collect();
        let score_shift = alpha
            .iter()
            .zip(&rate)
            .map(|(a, r)| r.ln() - digamma(*a))
            .collect();
        Gamma {
            params: [
                Param::vector("concentration", alpha.clone()),
                Param::vector("rate", rate.clone()),
            ],
            alpha,
            rate,
            inv_rate,
            score_shift,
            samplers,
        }
    }

    /// Draws x̃ into `std` (when given) and x = x̃/β into x.
    fn draw(&self, rng: &mut SampleRng, x: &mut [f64], mut std: Option<&mut [f64]>) {
        let d = self.alpha.len();
        for (r, xr) in x.chunks_exact_mut(d).enumerate() {
            for i in 0..d {
                let g = standard_gamma(&self.samplers[i], rng);
                xr[i] = g * self.inv_rate[i];
                if let Some(s) = std.as_deref_mut() {
                    s[r * d + i] = g;
                }
            }
        }
    }
}

impl Distribution for Gamma {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.alpha.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        self.draw(rng, x, None);
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        let (s_alpha, s_rate) = s.split_at_mut(d * b);
        for i in 0..d {
            let (shift, a_over_r) = (self.score_shift[i], self.alpha[i] / self.rate[i]);
            let sa = &mut s_alpha[i * b..(i + 1) * b];
            let sr = &mut s_rate[i * b..(i + 1) * b];
            for r in 0..b {
                let v = x[r * d + i];
                sa[r] = shift + v.ln();
                sr[r] = a_over_r - v;
            }
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }
}

impl Reparameterized for Gamma {
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux));
    }

    fn pullback(&self, x: &[f64], std: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let (g_alpha, g_rate) = g.split_at_mut(d * b);
        for i in 0..d {
            let (a, ir) = (self.alpha[i], self.inv_rate[i]);
            let ga = &mut g_alpha[i * b..(i + 1) * b];
            let gr = &mut g_rate[i * b..(i + 1) * b];
            for r in 0..b {
                let k = r * d + i;
                ga[r] = gx[k] * gamma_dx_dalpha(std[k], a) * ir;
                gr[r] = -gx[k] * x[k] * ir;
            }
        }
    }
}

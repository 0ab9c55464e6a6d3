//! Independent beta components, x = G₁/(G₁ + G₀) with Gᵢ ~ Gamma(αᵢ, 1)
//! (α₁ = `concentration1`, α₀ = `concentration0`, as in torch.distributions).
//!
//! # Density
//! log p(x) = (α₁ − 1) log x + (α₀ − 1) log(1 − x) − log B(α₁, α₀),  0 < x < 1
//!
//! # Score
//! s_α₁ = log x − ψ(α₁) + ψ(α₁ + α₀),   s_α₀ = log(1 − x) − ψ(α₀) + ψ(α₁ + α₀)
//!
//! # Pathwise (implicit reparameterization through the gammas)
//! With S = G₁ + G₀ and ∂Gᵢ/∂αᵢ from [`gamma_dx_dalpha`]:
//! ∂x/∂α₁ = (G₀/S)·(∂G₁/∂α₁)/S,   ∂x/∂α₀ = −(G₁/S)·(∂G₀/∂α₀)/S.
//!
//! # Sampling
//! The gammas are clamped below at the smallest normal f64 (see
//! [`super::gamma`]), and x to [2.2e-308, 1 − 2⁻⁵³] so that both logs in the
//! score stay finite.

use rand_distr::Gamma as GammaSampler;
use statrs::function::gamma::digamma;

use super::gamma::{standard_gamma, standard_gammas};
use super::implicit_gamma::gamma_dx_dalpha;
use super::{
    Constraint, Distribution, FamilyInfo, Param, ParamError, ParamInput, ParamSpec,
    Reparameterized, Shape, vector,
};
use crate::estimation::SampleRng;
use crate::estimation::estimators::EstimatorKind;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "beta",
    doc: "Independent beta components: density x^(α₁−1)(1−x)^(α₀−1)/B(α₁, α₀) on (0, 1) with \
          α₁ = concentration1, α₀ = concentration0. Mean α₁/(α₁+α₀). Pathwise by implicit \
          reparameterization through two gammas. x is a vector with one entry per component.",
    params: &[
        ParamSpec {
            name: "concentration1",
            shape: Shape::Vector,
            constraint: Constraint::Positive,
            differentiable: true,
            required: true,
            doc: "α₁ of each component (> 0), the exponent of x",
        },
        ParamSpec {
            name: "concentration0",
            shape: Shape::Vector,
            constraint: Constraint::Positive,
            differentiable: true,
            required: true,
            doc: "α₀ of each component (> 0), the exponent of 1 − x",
        },
    ],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
    ],
    example: &[
        ("concentration1", super::ExampleValue::Vector(&[0.5, 2.0])),
        ("concentration0", super::ExampleValue::Vector(&[1.5, 3.0])),
    ],
    build,
};

/// Largest x drawn: 1 − 2⁻⁵³, so that log(1 − x) is finite.
const X_MAX: f64 = 1.0 - f64::EPSILON / 2.0;

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let (a1, a0) = (
        vector(input, "concentration1"),
        vector(input, "concentration0"),
    );
    let s1 = standard_gammas(&a1, "concentration1")?;
    let s0 = standard_gammas(&a0, "concentration0")?;
    Ok(Box::new(Beta::new(a1, a0, s1, s0)))
}

/// Independent betas.
#[derive(Debug, Clone)]
pub struct Beta {
    params: [Param; 2],
    a1: Vec<f64>,
    a0: Vec<f64>,
    /// ψ(α₁ + α₀) − ψ(α₁) and ψ(α₁ + α₀) − ψ(α₀), the constant parts of the score.
    shift1: Vec<f64>,
    shift0: Vec<f64>,
    s1: Vec<GammaSampler<f64>>,
    s0: Vec<GammaSampler<f64>>,
}

impl Beta {
    fn new(
        a1: Vec<f64>,
        a0: Vec<f64>,
        s1: Vec<GammaSampler<f64>>,
        s0: Vec<GammaSampler<f64>>,
    ) -> Self {
        let psi_sum: Vec<f64> = a1.iter().zip(&a0).map(|(p, q)| digamma(p + q)).collect();
        let shift1 = a1
            .iter()
            .zip(&psi_sum)
            .map(|(a, s)| s - digamma(*a))
            .collect();
        let shift0 = a0
            .iter()
            .zip(&psi_sum)
            .map(|(a, s)| s - digamma(*a))
            .collect();
        Beta {
            params: [
                Param::vector("concentration1", a1.clone()),
                Param::vector("concentration0", a0.clone()),
            ],
            a1,
            a0,
            shift1,
            shift0,
            s1,
            s0,
        }
    }

    /// Draws (G₁, G₀) into `gammas` (when given, two per entry) and x into x.
    fn draw(&self, rng: &mut SampleRng, x: &mut [f64], mut gammas: Option<&mut [f64]>) {
        let d = self.a1.len();
        for (r, xr) in x.chunks_exact_mut(d).enumerate() {
            for (i, (v, (s1, s0))) in xr.iter_mut().zip(self.s1.iter().zip(&self.s0)).enumerate() {
                let g1 = standard_gamma(s1, rng);
                let g0 = standard_gamma(s0, rng);
                *v = (g1 / (g1 + g0)).clamp(f64::MIN_POSITIVE, X_MAX);
                if let Some(a) = gammas.as_deref_mut() {
                    let k = 2 * (r * d + i);
                    a[k] = g1;
                    a[k + 1] = g0;
                }
            }
        }
    }
}

impl Distribution for Beta {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.a1.len()
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
        let (s_1, s_0) = s.split_at_mut(d * b);
        for i in 0..d {
            let (c1, c0) = (self.shift1[i], self.shift0[i]);
            let o1 = &mut s_1[i * b..(i + 1) * b];
            let o0 = &mut s_0[i * b..(i + 1) * b];
            for r in 0..b {
                let v = x[r * d + i];
                o1[r] = v.ln() + c1;
                o0[r] = (-v).ln_1p() + c0;
            }
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }
}

impl Reparameterized for Beta {
    fn aux_len(&self) -> usize {
        2 * self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux));
    }

    fn pullback(&self, _x: &[f64], gammas: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let (g_1, g_0) = g.split_at_mut(d * b);
        for i in 0..d {
            let (a1, a0) = (self.a1[i], self.a0[i]);
            let o1 = &mut g_1[i * b..(i + 1) * b];
            let o0 = &mut g_0[i * b..(i + 1) * b];
            for r in 0..b {
                let k = r * d + i;
                let (g1, g0) = (gammas[2 * k], gammas[2 * k + 1]);
                let inv_s = 1.0 / (g1 + g0);
                let v = gx[k];
                o1[r] = v * (g0 * inv_s) * (gamma_dx_dalpha(g1, a1) * inv_s);
                o0[r] = -v * (g1 * inv_s) * (gamma_dx_dalpha(g0, a0) * inv_s);
            }
        }
    }
}

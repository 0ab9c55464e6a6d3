//! The Dirichlet distribution on the simplex: one K-vector per draw,
//! xᵢ = Gᵢ/S with Gᵢ ~ Gamma(αᵢ, 1) and S = Σⱼ Gⱼ (D = P = K).
//!
//! # Density
//! log p(x) = Σᵢ (αᵢ − 1) log xᵢ + lnΓ(α₀) − Σᵢ lnΓ(αᵢ),  α₀ = Σᵢ αᵢ
//!
//! # Score
//! s_αⱼ = log xⱼ − ψ(αⱼ) + ψ(α₀)
//!
//! # Pathwise (implicit reparameterization through the gammas)
//! ∂xᵢ/∂Gⱼ = (δᵢⱼ − xᵢ)/S, and ∂Gⱼ/∂αⱼ from [`gamma_dx_dalpha`], so with u = ∇ₓf:
//! ∂f/∂αⱼ = (uⱼ − Σᵢ uᵢxᵢ)·(∂Gⱼ/∂αⱼ)/S.
//!
//! # Sampling
//! The gammas are clamped below at the smallest normal f64 (see [`super::gamma`]),
//! and so is each xᵢ, so that log xᵢ stays finite.

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
    name: "dirichlet",
    doc: "Dirichlet distribution on the simplex with concentration α (K ≥ 2 entries): x is one \
          probability vector of length K per draw. Mean α/Σα. Pathwise by implicit \
          reparameterization through K gammas.",
    params: &[ParamSpec {
        name: "concentration",
        shape: Shape::Vector,
        constraint: Constraint::Positive,
        differentiable: true,
        required: true,
        doc: "concentration α (K ≥ 2 entries, each > 0)",
    }],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
    ],
    example: &[(
        "concentration",
        super::ExampleValue::Vector(&[0.5, 1.0, 2.0]),
    )],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let alpha = vector(input, "concentration");
    if alpha.len() < 2 {
        return Err(ParamError::new(
            &["concentration"],
            format!(
                "concentration has {} entry; a dirichlet needs at least 2 (x lies on the simplex)",
                alpha.len()
            ),
        ));
    }
    let samplers = standard_gammas(&alpha, "concentration")?;
    Ok(Box::new(Dirichlet::new(alpha, samplers)))
}

/// Dirichlet(α).
#[derive(Debug, Clone)]
pub struct Dirichlet {
    params: [Param; 1],
    alpha: Vec<f64>,
    /// ψ(α₀) − ψ(αⱼ), the constant part of s_αⱼ.
    shift: Vec<f64>,
    samplers: Vec<GammaSampler<f64>>,
}

impl Dirichlet {
    fn new(alpha: Vec<f64>, samplers: Vec<GammaSampler<f64>>) -> Self {
        let psi_total = digamma(alpha.iter().sum());
        let shift = alpha.iter().map(|a| psi_total - digamma(*a)).collect();
        Dirichlet {
            params: [Param::vector("concentration", alpha.clone())],
            alpha,
            shift,
            samplers,
        }
    }

    /// Draws the gammas into `gammas` (when given) and x into x.
    fn draw(&self, rng: &mut SampleRng, x: &mut [f64], mut gammas: Option<&mut [f64]>) {
        let k = self.alpha.len();
        for (r, xr) in x.chunks_exact_mut(k).enumerate() {
            let mut total = 0.0;
            for (v, s) in xr.iter_mut().zip(&self.samplers) {
                *v = standard_gamma(s, rng);
                total += *v;
            }
            if let Some(a) = gammas.as_deref_mut() {
                a[r * k..(r + 1) * k].copy_from_slice(xr);
            }
            let inv = 1.0 / total;
            for v in xr.iter_mut() {
                *v = (*v * inv).max(f64::MIN_POSITIVE);
            }
        }
    }
}

impl Distribution for Dirichlet {
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
        let k = self.dim();
        let b = x.len() / k;
        for j in 0..k {
            let c = self.shift[j];
            for (r, o) in s[j * b..(j + 1) * b].iter_mut().enumerate() {
                *o = x[r * k + j].ln() + c;
            }
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }
}

impl Reparameterized for Dirichlet {
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux));
    }

    fn pullback(&self, _x: &[f64], gammas: &[f64], gx: &[f64], g: &mut [f64]) {
        let k = self.dim();
        let b = gx.len() / k;
        for r in 0..b {
            let (gr, ur) = (&gammas[r * k..(r + 1) * k], &gx[r * k..(r + 1) * k]);
            let inv_s = 1.0 / gr.iter().sum::<f64>();
            // Σᵢ uᵢxᵢ with x recomputed from the gammas (unclamped, exact chain rule).
            let ux: f64 = ur.iter().zip(gr).map(|(u, g)| u * g).sum::<f64>() * inv_s;
            for j in 0..k {
                g[j * b + r] = (ur[j] - ux) * gamma_dx_dalpha(gr[j], self.alpha[j]) * inv_s;
            }
        }
    }
}

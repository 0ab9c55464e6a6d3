//! The Dirichlet distribution on the simplex: one K-vector per draw,
//! xᵢ = Gᵢ/S with Gᵢ ~ Gamma(αᵢ, 1) and S = Σⱼ Gⱼ (D = P = K), drawn in log space.
//!
//! # Density
//! log p(x) = Σᵢ (αᵢ − 1) log xᵢ + lnΓ(α₀) − Σᵢ lnΓ(αᵢ),  α₀ = Σᵢ αᵢ
//!
//! # Score
//! s_αⱼ = log xⱼ − ψ(αⱼ) + ψ(α₀)  (log xⱼ the exact log-space value)
//!
//! # Sampling
//! (Gᵢ, log Gᵢ) from [`StandardGamma`], L = logsumexp(log G) = log S:
//! log xᵢ = log Gᵢ − L,  xᵢ = exp(log xᵢ). Nothing is clamped: an entry below
//! 10⁻³⁰⁸ (0 or subnormal in f64) keeps its log exact.
//!
//! # Pathwise (implicit reparameterization through the gammas)
//! ∂(log xᵢ)/∂(log Gⱼ) = δᵢⱼ − xⱼ, and ∂(log Gⱼ)/∂αⱼ from [`gamma_dlogx_dalpha`]
//! (finite where Gⱼ underflows). With u = ∇ₓf and w = ∂f/∂(log x), the total
//! derivative along log xᵢ is vᵢ = uᵢxᵢ + wᵢ, and
//! ∂f/∂αⱼ = (vⱼ − xⱼ Σᵢ vᵢ)·∂(log Gⱼ)/∂αⱼ.

use super::distribution::{Distribution, FamilyInfo, LogSpace, Reparameterized};
use super::implicit_gamma::gamma_dlogx_dalpha;
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use super::standard_gamma::{StandardGamma, standard_gammas};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::special::digamma;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "dirichlet",
    doc: "Dirichlet distribution on the simplex with concentration α (K ≥ 2 entries): x is one \
          probability vector of length K per draw. Mean α/Σα. Pathwise by implicit \
          reparameterization through K gammas. Drawn in log space: log(x) and log(x[i]) in the \
          objective are exact even where an entry underflows (small α).",
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
    example: &[("concentration", ExampleValue::Vector(&[0.5, 1.0, 2.0]))],
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
    samplers: Vec<StandardGamma>,
}

impl Dirichlet {
    fn new(alpha: Vec<f64>, samplers: Vec<StandardGamma>) -> Self {
        let psi_total = digamma(alpha.iter().sum());
        let shift = alpha.iter().map(|a| psi_total - digamma(*a)).collect();
        Dirichlet {
            params: [Param::vector("concentration", alpha.clone())],
            alpha,
            shift,
            samplers,
        }
    }

    /// Draws x into x, log G into `gammas` and log x into `logx` (each when
    /// given). The row of x holds log G until it is normalised, so nothing
    /// else is needed.
    fn draw(
        &self,
        rng: &mut SampleRng,
        x: &mut [f64],
        mut gammas: Option<&mut [f64]>,
        mut logx: Option<&mut [f64]>,
    ) {
        let k = self.alpha.len();
        for (r, xr) in x.chunks_exact_mut(k).enumerate() {
            let mut top = f64::NEG_INFINITY;
            for (v, s) in xr.iter_mut().zip(&self.samplers) {
                *v = s.sample(rng);
                top = top.max(*v);
            }
            if let Some(a) = gammas.as_deref_mut() {
                a[r * k..(r + 1) * k].copy_from_slice(xr);
            }
            let total = top + libm::log(xr.iter().map(|l| libm::exp(l - top)).sum::<f64>());
            for (j, v) in xr.iter_mut().enumerate() {
                let lx = *v - total;
                if let Some(l) = logx.as_deref_mut() {
                    l[r * k + j] = lx;
                }
                *v = libm::exp(lx);
            }
        }
    }

    /// The score with log x from `logx`, or from x itself when `logx` is empty.
    fn score_with(&self, x: &[f64], logx: &[f64], s: &mut [f64]) {
        let k = self.dim();
        let b = x.len() / k;
        for j in 0..k {
            let c = self.shift[j];
            for (r, o) in s[j * b..(j + 1) * b].iter_mut().enumerate() {
                let i = r * k + j;
                *o = if logx.is_empty() {
                    libm::log(x[i])
                } else {
                    logx[i]
                } + c;
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
        self.draw(rng, x, None, None);
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        self.score_with(x, &[], s);
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }

    fn log_space(&self) -> Option<&dyn LogSpace> {
        Some(self)
    }
}

impl Reparameterized for Dirichlet {
    /// log Gⱼ per entry.
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux), None);
    }

    fn pullback(&self, x: &[f64], gammas: &[f64], gx: &[f64], g: &mut [f64]) {
        self.pullback_log(x, gammas, gx, &[], g);
    }
}

impl LogSpace for Dirichlet {
    fn sample_log(&self, rng: &mut SampleRng, x: &mut [f64], logx: &mut [f64]) {
        self.draw(rng, x, None, Some(logx));
    }

    fn score_log(&self, x: &[f64], logx: &[f64], s: &mut [f64]) {
        self.score_with(x, logx, s);
    }

    fn rsample_log(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64], logx: &mut [f64]) {
        self.draw(rng, x, Some(aux), Some(logx));
    }

    /// vᵢ = uᵢxᵢ + wᵢ; ∂f/∂αⱼ = (vⱼ − xⱼ Σᵢ vᵢ)·∂(log Gⱼ)/∂αⱼ.
    fn pullback_log(&self, x: &[f64], gammas: &[f64], gx: &[f64], glog: &[f64], g: &mut [f64]) {
        let k = self.dim();
        let b = gx.len() / k;
        let v_at = |i: usize| gx[i] * x[i] + glog.get(i).copied().unwrap_or(0.0);
        for r in 0..b {
            let row = r * k..(r + 1) * k;
            let total: f64 = row.clone().map(v_at).sum();
            for (j, i) in row.enumerate() {
                g[j * b + r] =
                    (v_at(i) - x[i] * total) * gamma_dlogx_dalpha(gammas[i], self.alpha[j]);
            }
        }
    }
}

//! Independent beta components, x = G₁/(G₁ + G₀) with Gᵢ ~ Gamma(αᵢ, 1)
//! (α₁ = `concentration1`, α₀ = `concentration0`, as in torch.distributions),
//! drawn in log space.
//!
//! # Density
//! log p(x) = (α₁ − 1) log x + (α₀ − 1) log(1 − x) − log B(α₁, α₀),  0 < x < 1
//!
//! # Score
//! s_α₁ = log x − ψ(α₁) + ψ(α₁ + α₀),   s_α₀ = log(1 − x) − ψ(α₀) + ψ(α₁ + α₀)
//! (both logs are the exact log-space values).
//!
//! # Sampling
//! (Gᵢ, log Gᵢ) from [`StandardGamma`], L = logaddexp(log G₁, log G₀) = log(G₁ + G₀):
//! log x = log G₁ − L,  log(1 − x) = log G₀ − L,  x = exp(log x).
//! Nothing is clamped: a draw with x (or 1 − x) below 10⁻³⁰⁸ keeps both logs exact.
//!
//! # Pathwise (implicit reparameterization through the gammas)
//! With ∂(log Gᵢ)/∂αᵢ from [`gamma_dlogx_dalpha`] (finite where Gᵢ underflows),
//! ∂(log x)/∂(log G₁) = 1 − x, ∂(log(1 − x))/∂(log G₁) = −x, and the opposite for G₀.
//! With u = ∂f/∂x, w₁ = ∂f/∂(log x), w₀ = ∂f/∂(log(1 − x)):
//!
//! ```text
//!   A = u·x(1 − x) + w₁(1 − x) − w₀x,
//!   ∂f/∂α₁ = A · ∂(log G₁)/∂α₁,   ∂f/∂α₀ = −A · ∂(log G₀)/∂α₀,
//! ```
//!
//! with x and 1 − x both taken from their logs, so neither loses digits near 0 or 1.

use super::distribution::{Distribution, FamilyInfo, LogSpace, Reparameterized};
use super::implicit_gamma::gamma_dlogx_dalpha;
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use super::standard_gamma::{StandardGamma, logaddexp, standard_gammas};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::special::digamma;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "beta",
    doc: "Independent beta components: density x^(α₁−1)(1−x)^(α₀−1)/B(α₁, α₀) on (0, 1) with \
          α₁ = concentration1, α₀ = concentration0. Mean α₁/(α₁+α₀). Pathwise by implicit \
          reparameterization through two gammas. x is a vector with one entry per component. \
          Drawn in log space: log(x), log(x[i]), log(1 - x) and log1p(-x) in the objective are \
          exact even where x or 1 − x underflows (small concentrations).",
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
        ("concentration1", ExampleValue::Vector(&[0.5, 2.0])),
        ("concentration0", ExampleValue::Vector(&[1.5, 3.0])),
    ],
    build,
};

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
    s1: Vec<StandardGamma>,
    s0: Vec<StandardGamma>,
}

impl Beta {
    fn new(a1: Vec<f64>, a0: Vec<f64>, s1: Vec<StandardGamma>, s0: Vec<StandardGamma>) -> Self {
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

    /// Draws x into x, (log G₁, log G₀) into `gammas` (two per entry) and the
    /// log values (log x, then log(1 − x), per row) into `logx`, each when given.
    fn draw(
        &self,
        rng: &mut SampleRng,
        x: &mut [f64],
        mut gammas: Option<&mut [f64]>,
        mut logx: Option<&mut [f64]>,
    ) {
        let d = self.a1.len();
        for (r, xr) in x.chunks_exact_mut(d).enumerate() {
            for (i, (v, (s1, s0))) in xr.iter_mut().zip(self.s1.iter().zip(&self.s0)).enumerate() {
                let l1 = s1.sample(rng);
                let l0 = s0.sample(rng);
                let total = logaddexp(l1, l0);
                let lx = l1 - total;
                *v = libm::exp(lx);
                if let Some(a) = gammas.as_deref_mut() {
                    let k = 2 * (r * d + i);
                    a[k] = l1;
                    a[k + 1] = l0;
                }
                if let Some(l) = logx.as_deref_mut() {
                    l[2 * r * d + i] = lx;
                    l[(2 * r + 1) * d + i] = l0 - total;
                }
            }
        }
    }

    /// The score with the logs from `logx`, or from x itself when `logx` is empty.
    fn score_with(&self, x: &[f64], logx: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        let (s_1, s_0) = s.split_at_mut(d * b);
        for i in 0..d {
            let (c1, c0) = (self.shift1[i], self.shift0[i]);
            let o1 = &mut s_1[i * b..(i + 1) * b];
            let o0 = &mut s_0[i * b..(i + 1) * b];
            for r in 0..b {
                let (lx, l1mx) = if logx.is_empty() {
                    let v = x[r * d + i];
                    (libm::log(v), libm::log1p(-v))
                } else {
                    (logx[2 * r * d + i], logx[(2 * r + 1) * d + i])
                };
                o1[r] = lx + c1;
                o0[r] = l1mx + c0;
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

impl Reparameterized for Beta {
    /// (log G₁, log G₀) per entry.
    fn aux_len(&self) -> usize {
        2 * self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux), None);
    }

    fn pullback(&self, x: &[f64], gammas: &[f64], gx: &[f64], g: &mut [f64]) {
        self.pullback_log(x, gammas, gx, &[], g);
    }
}

impl LogSpace for Beta {
    fn carries_log1m(&self) -> bool {
        true
    }

    fn sample_log(&self, rng: &mut SampleRng, x: &mut [f64], logx: &mut [f64]) {
        self.draw(rng, x, None, Some(logx));
    }

    fn score_log(&self, x: &[f64], logx: &[f64], s: &mut [f64]) {
        self.score_with(x, logx, s);
    }

    fn rsample_log(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64], logx: &mut [f64]) {
        self.draw(rng, x, Some(aux), Some(logx));
    }

    /// A = u·x(1 − x) + w₁(1 − x) − w₀x; ∂f/∂α₁ = A·∂(log G₁)/∂α₁, ∂f/∂α₀ = −A·∂(log G₀)/∂α₀.
    fn pullback_log(&self, _x: &[f64], gammas: &[f64], gx: &[f64], glog: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let (g_1, g_0) = g.split_at_mut(d * b);
        for i in 0..d {
            let (a1, a0) = (self.a1[i], self.a0[i]);
            let o1 = &mut g_1[i * b..(i + 1) * b];
            let o0 = &mut g_0[i * b..(i + 1) * b];
            for r in 0..b {
                let k = r * d + i;
                let (l1, l0) = (gammas[2 * k], gammas[2 * k + 1]);
                let total = logaddexp(l1, l0);
                let (x1, x0) = (libm::exp(l1 - total), libm::exp(l0 - total));
                let (w1, w0) = if glog.is_empty() {
                    (0.0, 0.0)
                } else {
                    (glog[2 * r * d + i], glog[(2 * r + 1) * d + i])
                };
                let a = gx[k] * x1 * x0 + w1 * x0 - w0 * x1;
                o1[r] = a * gamma_dlogx_dalpha(l1, a1);
                o0[r] = -a * gamma_dlogx_dalpha(l0, a0);
            }
        }
    }
}

//! Independent gamma components with shape α (`concentration`) and rate β,
//! drawn in log space.
//!
//! # Density
//! log p(x) = α log β − lnΓ(α) + (α − 1) log x − βx,  x > 0
//!
//! # Score
//! s_α = log β − ψ(α) + log x,   s_β = α/β − x
//! (log x is the exact log-space value, never the log of an underflowed x).
//!
//! # Pathwise (implicit reparameterization, Figurnov, Mohamed & Mnih 2018)
//! x = x̃/β with x̃ ~ Gamma(α, 1). Holding the CDF level of x̃ fixed,
//! ∂x̃/∂α = −(∂F(x̃; α)/∂α)/p(x̃; α), carried as
//! ∂(log x)/∂α = ∂(log x̃)/∂α ([`gamma_dlogx_dalpha`], finite where x̃ underflows) and
//! ∂(log x)/∂β = −1/β. With u = ∂f/∂x and w = ∂f/∂(log x) (f may use both),
//! the total derivative along log x is v = u·x + w, and
//! ∂f/∂α = v·∂(log x̃)/∂α,   ∂f/∂β = −v/β.
//!
//! # Sampling
//! x̃ and log x̃ from [`StandardGamma`] (Marsaglia–Tsang for α ≥ 1; for α < 1
//! the boost log x̃ = log Y + (log U)/α, Y ~ Gamma(α + 1)), then
//! log x = log x̃ − log β and x = exp(log x). Nothing is clamped: for small α,
//! x is 0 or subnormal for many draws (about half of them at α = 10⁻³) while
//! log x stays exact; `log(x)` in an objective reads the exact value, and a
//! draw that underflows where f uses x itself is counted in the diagnostics.

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
    name: "gamma",
    doc: "Independent gamma components with shape concentration α and rate β: density \
          β^α x^(α−1) e^(−βx)/Γ(α), x > 0. Mean α/β, variance α/β². Pathwise by implicit \
          reparameterization. x is a vector with one entry per component. Drawn in log space: \
          log(x) and log(x[i]) in the objective are exact even where x underflows (small α).",
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
        ("concentration", ExampleValue::Vector(&[0.3, 2.5])),
        ("rate", ExampleValue::Vector(&[1.0, 2.0])),
    ],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let alpha = vector(input, "concentration");
    let samplers = standard_gammas(&alpha, "concentration")?;
    Ok(Box::new(Gamma::new(alpha, vector(input, "rate"), samplers)))
}

/// Independent gammas.
#[derive(Debug, Clone)]
pub struct Gamma {
    params: [Param; 2],
    alpha: Vec<f64>,
    rate: Vec<f64>,
    inv_rate: Vec<f64>,
    log_rate: Vec<f64>,
    /// −ψ(α): s_α = log β − ψ(α) + log x = log x̃ − ψ(α).
    neg_digamma: Vec<f64>,
    samplers: Vec<StandardGamma>,
}

impl Gamma {
    fn new(alpha: Vec<f64>, rate: Vec<f64>, samplers: Vec<StandardGamma>) -> Self {
        let inv_rate = rate.iter().map(|r| 1.0 / r).collect();
        let log_rate = rate.iter().map(|r| libm::log(*r)).collect();
        let neg_digamma = alpha.iter().map(|a| -digamma(*a)).collect();
        Gamma {
            params: [
                Param::vector("concentration", alpha.clone()),
                Param::vector("rate", rate.clone()),
            ],
            alpha,
            rate,
            inv_rate,
            log_rate,
            neg_digamma,
            samplers,
        }
    }

    /// Draws x into x, log x̃ into `std` and log x into `logx` (each when given).
    fn draw(
        &self,
        rng: &mut SampleRng,
        x: &mut [f64],
        mut std: Option<&mut [f64]>,
        mut logx: Option<&mut [f64]>,
    ) {
        let d = self.alpha.len();
        for (r, xr) in x.chunks_exact_mut(d).enumerate() {
            for (i, v) in xr.iter_mut().enumerate() {
                let lg = self.samplers[i].sample(rng);
                let lx = lg - self.log_rate[i];
                *v = libm::exp(lx);
                if let Some(s) = std.as_deref_mut() {
                    s[r * d + i] = lg;
                }
                if let Some(l) = logx.as_deref_mut() {
                    l[r * d + i] = lx;
                }
            }
        }
    }

    /// The score with log x from `logx`, or from x itself when `logx` is empty.
    fn score_with(&self, x: &[f64], logx: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        let (s_alpha, s_rate) = s.split_at_mut(d * b);
        for i in 0..d {
            let (c, a_over_r, lr) = (
                self.neg_digamma[i],
                self.alpha[i] / self.rate[i],
                self.log_rate[i],
            );
            let sa = &mut s_alpha[i * b..(i + 1) * b];
            let sr = &mut s_rate[i * b..(i + 1) * b];
            for r in 0..b {
                let k = r * d + i;
                let lx = if logx.is_empty() {
                    libm::log(x[k])
                } else {
                    logx[k]
                };
                sa[r] = (lx + lr) + c;
                sr[r] = a_over_r - x[k];
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

impl Reparameterized for Gamma {
    /// log x̃ per entry.
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux), None);
    }

    fn pullback(&self, x: &[f64], aux: &[f64], gx: &[f64], g: &mut [f64]) {
        self.pullback_log(x, aux, gx, &[], g);
    }
}

impl LogSpace for Gamma {
    fn sample_log(&self, rng: &mut SampleRng, x: &mut [f64], logx: &mut [f64]) {
        self.draw(rng, x, None, Some(logx));
    }

    fn score_log(&self, x: &[f64], logx: &[f64], s: &mut [f64]) {
        self.score_with(x, logx, s);
    }

    fn rsample_log(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64], logx: &mut [f64]) {
        self.draw(rng, x, Some(aux), Some(logx));
    }

    /// v = u·x + w; ∂f/∂α = v·∂(log x̃)/∂α, ∂f/∂β = −v/β.
    fn pullback_log(&self, x: &[f64], std: &[f64], gx: &[f64], glog: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let (g_alpha, g_rate) = g.split_at_mut(d * b);
        for i in 0..d {
            let (a, ir) = (self.alpha[i], self.inv_rate[i]);
            let ga = &mut g_alpha[i * b..(i + 1) * b];
            let gr = &mut g_rate[i * b..(i + 1) * b];
            for r in 0..b {
                let k = r * d + i;
                let v = gx[k] * x[k] + glog.get(k).copied().unwrap_or(0.0);
                ga[r] = v * gamma_dlogx_dalpha(std[k], a);
                gr[r] = -v * ir;
            }
        }
    }
}

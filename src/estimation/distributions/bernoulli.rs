//! Independent Bernoulli components, given by `logits` z (p = sigmoid(z)) or by
//! `probs` p. A sample x is the 0/1 vector.
//!
//! # Density
//! log p(x) = Σᵢ xᵢ log pᵢ + (1 − xᵢ) log(1 − pᵢ) = Σᵢ xᵢzᵢ − softplus(zᵢ),  x ∈ {0, 1}ᵈ
//!
//! # Score
//! logits: s_z = x − sigmoid(z);  probs: s_p = x/p − (1 − x)/(1 − p).
//!
//! # Binary Concrete (relaxed Bernoulli), temperature τ > 0
//! y = sigmoid((z + log U − log(1 − U))/τ), U ~ Uniform(0, 1), and
//! ∂y/∂z = y(1 − y)/τ; for probs, ∂z/∂p = 1/(p(1 − p)). Straight-through
//! (`hard`): f and ∇f at h = 1\[y > ½\], a true Bernoulli sample.
//!
//! # ARM and DisARM
//! Through the logits θ (see [`crate::estimation::estimators::arm`]); for
//! probs, ∂/∂p = (∂/∂θ)/(p(1 − p)), so p = 0 or 1 (θ = ±∞) is refused.
//! # Measure-valued
//! ∂pᵢ E f = E[f(xᵢ ← 1) − f(xᵢ ← 0)], the other coordinates of the base sample
//! kept; for logits times ∂p/∂z = p(1 − p). One of the two points is the base
//! itself, so only the flipped one is evaluated: x′ = x with xᵢ ← 1 − xᵢ, sign
//! 1 − 2xᵢ. No draws: coupling changes nothing.
//!
//! # Exact
//! The 2^d outcomes are enumerated when d is small.

use rand::RngExt;

use super::distribution::{
    Binary, Distribution, Enumerable, FamilyInfo, MeasureValued, MvdBuffers, MvdPoints, Relaxed,
};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::objective::sigmoid;
use crate::estimation::rng::SampleRng;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "bernoulli",
    doc: "Independent Bernoulli components. x is the 0/1 vector. Give logits or probs.",
    params: &[
        ParamSpec {
            name: "logits",
            shape: Shape::Vector,
            constraint: Constraint::Real,
            differentiable: true,
            required: false,
            doc: "log-odds z of each component; p = sigmoid(z)",
        },
        ParamSpec {
            name: "probs",
            shape: Shape::Vector,
            constraint: Constraint::UnitInterval,
            differentiable: true,
            required: false,
            doc: "probability p of a 1 in each component",
        },
    ],
    alternatives: &[&["logits", "probs"]],
    estimators: &[
        EstimatorKind::ScoreFunction,
        EstimatorKind::Disarm,
        EstimatorKind::Arm,
        EstimatorKind::GumbelSoftmax,
        EstimatorKind::MeasureValued,
        EstimatorKind::Exact,
    ],
    example: &[("logits", ExampleValue::Vector(&[0.5, -1.0]))],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    Ok(Box::new(if input.contains_key("probs") {
        let p = vector(input, "probs");
        Bernoulli::new(Param::vector("probs", p.clone()), p, true)
    } else {
        let z = vector(input, "logits");
        let p = z.iter().map(|v| sigmoid(*v)).collect();
        Bernoulli::new(Param::vector("logits", z), p, false)
    }))
}

/// Independent Bernoulli components.
#[derive(Debug, Clone)]
pub struct Bernoulli {
    params: [Param; 1],
    p: Vec<f64>,
    /// log-odds, for the relaxation (±∞ at p = 0 or 1).
    z: Vec<f64>,
    by_probs: bool,
}

impl Bernoulli {
    fn new(param: Param, p: Vec<f64>, by_probs: bool) -> Self {
        let z = if by_probs {
            p.iter().map(|q| libm::log(*q) - libm::log1p(-q)).collect()
        } else {
            param.values.clone()
        };
        Bernoulli {
            params: [param],
            p,
            z,
            by_probs,
        }
    }

    #[inline]
    fn score_at(&self, i: usize, one: bool) -> f64 {
        let p = self.p[i];
        match (self.by_probs, one) {
            (false, true) => 1.0 - p,
            (false, false) => -p,
            (true, true) => 1.0 / p,
            (true, false) => -1.0 / (1.0 - p),
        }
    }
}

impl Distribution for Bernoulli {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.p.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        let d = self.dim();
        for row in x.chunks_exact_mut(d) {
            for (v, p) in row.iter_mut().zip(&self.p) {
                let u: f64 = rng.random();
                *v = f64::from(u8::from(u < *p));
            }
        }
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        for (r, row) in x.chunks_exact(d).enumerate() {
            for (i, v) in row.iter().enumerate() {
                s[i * b + r] = self.score_at(i, *v == 1.0);
            }
        }
    }

    fn relaxed(&self) -> Option<&dyn Relaxed> {
        Some(self)
    }

    fn enumerable(&self) -> Option<&dyn Enumerable> {
        Some(self)
    }

    fn binary(&self) -> Option<&dyn Binary> {
        Some(self)
    }

    fn measure_valued(&self) -> Option<&dyn MeasureValued> {
        Some(self)
    }
}

impl Binary for Bernoulli {
    fn probs(&self) -> &[f64] {
        &self.p
    }

    fn logits(&self) -> &[f64] {
        &self.z
    }

    fn by_probs(&self) -> bool {
        self.by_probs
    }
}

impl MeasureValued for Bernoulli {
    fn mvd_form(&self) -> MvdPoints {
        MvdPoints::AgainstBase
    }

    /// 1 for probs, pₖ(1 − pₖ) for logits.
    fn mvd_constant(&self, k: usize) -> f64 {
        let p = self.p[k];
        if self.by_probs { 1.0 } else { p * (1.0 - p) }
    }

    /// x′ = x with xₖ flipped, sign 1 − 2xₖ; draws nothing.
    fn mvd_points(
        &self,
        k: usize,
        _coupled: bool,
        _rng: &mut SampleRng,
        x: &[f64],
        out: &mut MvdBuffers<'_>,
    ) {
        let d = self.dim();
        out.plus.copy_from_slice(x);
        for (row, s) in out.plus.chunks_exact_mut(d).zip(out.sign.iter_mut()) {
            *s = 1.0 - 2.0 * row[k];
            row[k] = 1.0 - row[k];
        }
    }
}

impl Relaxed for Bernoulli {
    fn relaxed_aux_len(&self) -> usize {
        self.dim()
    }

    fn relaxed_sample(
        &self,
        rng: &mut SampleRng,
        tau: f64,
        hard: bool,
        x: &mut [f64],
        aux: &mut [f64],
    ) {
        let inv_tau = 1.0 / tau;
        let d = self.dim();
        for (xr, yr) in x.chunks_exact_mut(d).zip(aux.chunks_exact_mut(d)) {
            for i in 0..d {
                // U open at both ends, so the logistic noise is finite.
                let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                let noise = libm::log(u) - libm::log1p(-u);
                let y = sigmoid((self.z[i] + noise) * inv_tau);
                yr[i] = y;
                xr[i] = if hard {
                    f64::from(u8::from(y > 0.5))
                } else {
                    y
                };
            }
        }
    }

    fn relaxed_pullback(&self, tau: f64, aux: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let inv_tau = 1.0 / tau;
        for (r, (yr, ur)) in aux.chunks_exact(d).zip(gx.chunks_exact(d)).enumerate() {
            for i in 0..d {
                let y = yr[i];
                let mut gz = ur[i] * y * (1.0 - y) * inv_tau;
                if self.by_probs {
                    let p = self.p[i];
                    gz /= p * (1.0 - p);
                }
                g[i * b + r] = gz;
            }
        }
    }
}

impl Enumerable for Bernoulli {
    fn outcomes(&self) -> Option<u64> {
        (self.dim() < 64).then(|| 1u64 << self.dim())
    }

    fn outcome(&self, k: u64, x: &mut [f64], s: &mut [f64]) -> f64 {
        let mut prob = 1.0;
        for i in 0..self.dim() {
            let one = (k >> i) & 1 == 1;
            x[i] = f64::from(u8::from(one));
            let p = self.p[i];
            prob *= if one { p } else { 1.0 - p };
            s[i] = if (one && p > 0.0) || (!one && p < 1.0) {
                self.score_at(i, one)
            } else {
                0.0
            };
        }
        prob
    }
}

//! Independent log-normal components: log xᵢ ~ N(μᵢ, σᵢ²).
//!
//! # Density
//! log p(x) = −log x − log σ − ½ log 2π − (log x − μ)²/(2σ²),  x > 0
//!
//! # Score
//! With z = (log x − μ)/σ:  s_μ = z/σ,  s_σ = (z² − 1)/σ
//!
//! # Pathwise
//! x = exp(μ + σε), ε ~ N(0, 1):  ∂x/∂μ = x,  ∂x/∂σ = x·ε.

use super::distribution::{Distribution, FamilyInfo, Reparameterized};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::{BaseNoise, base_normals};

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "log_normal",
    doc: "Independent log-normal components: log x ~ N(loc, scale²). Mean \
          exp(loc + scale²/2), variance (exp(scale²) − 1)·exp(2·loc + scale²). \
          x is a vector with one entry per component.",
    params: &[
        ParamSpec {
            name: "loc",
            shape: Shape::Vector,
            constraint: Constraint::Real,
            differentiable: true,
            required: true,
            doc: "mean μ of log x, per component",
        },
        ParamSpec {
            name: "scale",
            shape: Shape::Vector,
            constraint: Constraint::Positive,
            differentiable: true,
            required: true,
            doc: "standard deviation σ of log x, per component",
        },
    ],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
    ],
    example: &[
        ("loc", ExampleValue::Vector(&[0.5, -1.0])),
        ("scale", ExampleValue::Vector(&[1.0, 2.0])),
    ],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    Ok(Box::new(LogNormal::new(
        vector(input, "loc"),
        vector(input, "scale"),
    )))
}

/// Independent log-normals.
#[derive(Debug, Clone)]
pub struct LogNormal {
    params: [Param; 2],
    loc: Vec<f64>,
    scale: Vec<f64>,
}

impl LogNormal {
    /// From validated parameters of equal length (scale > 0).
    pub(super) fn new(loc: Vec<f64>, scale: Vec<f64>) -> Self {
        LogNormal {
            params: [
                Param::vector("loc", loc.clone()),
                Param::vector("scale", scale.clone()),
            ],
            loc,
            scale,
        }
    }

    /// x = exp(μ + σε) from ε in `eps` (sample-major).
    fn transform(&self, eps: &[f64], x: &mut [f64]) {
        let d = self.loc.len();
        for (xr, er) in x.chunks_exact_mut(d).zip(eps.chunks_exact(d)) {
            for i in 0..d {
                xr[i] = libm::exp(self.loc[i] + self.scale[i] * er[i]);
            }
        }
    }
}

impl Distribution for LogNormal {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.loc.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        let d = self.dim();
        base_normals(rng, x, d);
        for xr in x.chunks_exact_mut(d) {
            for (i, v) in xr.iter_mut().enumerate() {
                *v = libm::exp(self.loc[i] + self.scale[i] * *v);
            }
        }
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Normal)
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        let (s_loc, s_scale) = s.split_at_mut(d * b);
        for i in 0..d {
            let (m, inv) = (self.loc[i], 1.0 / self.scale[i]);
            let sl = &mut s_loc[i * b..(i + 1) * b];
            let ss = &mut s_scale[i * b..(i + 1) * b];
            for r in 0..b {
                let z = (libm::log(x[r * d + i]) - m) * inv;
                sl[r] = z * inv;
                ss[r] = (z * z - 1.0) * inv;
            }
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }
}

impl Reparameterized for LogNormal {
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        base_normals(rng, aux, self.dim());
        self.transform(aux, x);
    }

    fn pullback(&self, x: &[f64], eps: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let (g_loc, g_scale) = g.split_at_mut(d * b);
        for i in 0..d {
            let gl = &mut g_loc[i * b..(i + 1) * b];
            let gs = &mut g_scale[i * b..(i + 1) * b];
            for r in 0..b {
                let k = r * d + i;
                let v = gx[k] * x[k];
                gl[r] = v;
                gs[r] = v * eps[k];
            }
        }
    }
}

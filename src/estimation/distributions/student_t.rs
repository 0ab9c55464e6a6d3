//! Independent Student's t components with fixed degrees of freedom ν (`df`,
//! not differentiated), location-scale with the standard t density
//! φ(z) ∝ (1 + z²/ν)^(−(ν+1)/2) (see [`super::locscale`]).
//!
//! # Density
//! log p(x) = c(ν) − log σ − ((ν + 1)/2)·log(1 + z²/ν),  z = (x − μ)/σ
//!
//! # Score
//! (log φ)′(z) = −(ν + 1)z/(ν + z²):
//! s_μ = (ν + 1)z/((ν + z²)σ),  s_σ = ((ν + 1)z²/(ν + z²) − 1)/σ
//!
//! # Pathwise
//! x = μ + σε, ε = Z/√(V/ν), Z ~ N(0, 1), V ~ χ²(ν):  ∂x/∂μ = 1,  ∂x/∂σ = ε.
//!
//! The mean exists for ν > 1 and the variance (σ²ν/(ν − 2)) for ν > 2; with
//! smaller ν only objectives growing slower than |x|^ν have a finite gradient.

use rand_distr::{Distribution as _, StudentT as TSampler};

use super::distribution::{Distribution, FamilyInfo};
use super::locscale::{LOC, LocScale, SCALE, Standard};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "student_t",
    doc: "Independent Student's t components with df degrees of freedom (fixed), \
          location loc and scale scale. Mean loc (df > 1), variance scale²·df/(df − 2) \
          (df > 2). x is a vector with one entry per component.",
    params: &[
        ParamSpec {
            name: "df",
            shape: Shape::Vector,
            constraint: Constraint::Positive,
            differentiable: false,
            required: true,
            doc: "degrees of freedom ν of each component (> 0; fixed, not differentiated)",
        },
        LOC,
        SCALE,
    ],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
    ],
    example: &[
        ("df", ExampleValue::Vector(&[5.0, 3.0])),
        ("loc", ExampleValue::Vector(&[0.5, -1.0])),
        ("scale", ExampleValue::Vector(&[1.0, 2.0])),
    ],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let df = vector(input, "df");
    let mut samplers = Vec::with_capacity(df.len());
    for (i, &nu) in df.iter().enumerate() {
        let t = TSampler::new(nu)
            .map_err(|e| ParamError::at("df", i, format!("df[{i}] = {nu} is invalid: {e}")))?;
        samplers.push(t);
    }
    let fixed = vec![Param {
        name: "df",
        shape: vec![df.len()],
        values: df.clone(),
        differentiable: false,
    }];
    Ok(Box::new(LocScale::from_input(
        &FAMILY,
        fixed,
        input,
        StandardT { df, samplers },
    )))
}

/// The standard t with ν = df\[i\] for component i.
#[derive(Debug, Clone)]
pub struct StandardT {
    df: Vec<f64>,
    samplers: Vec<TSampler<f64>>,
}

impl Standard for StandardT {
    #[inline]
    fn draw(&self, i: usize, rng: &mut SampleRng) -> f64 {
        self.samplers[i].sample(rng)
    }

    #[inline]
    fn dlog(&self, i: usize, z: f64) -> f64 {
        let nu = self.df[i];
        if z.abs() > 1e150 {
            -(nu + 1.0) / z
        } else {
            -(nu + 1.0) * z / (nu + z * z)
        }
    }
}

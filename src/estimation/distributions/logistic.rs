//! Independent logistic components, location-scale with the standard logistic
//! density φ(z) = e^(−z)/(1 + e^(−z))² (see [`super::locscale`]).
//!
//! # Density
//! log p(x) = −z − 2·log(1 + e^(−z)) − log s,  z = (x − μ)/s
//!
//! # Score
//! (log φ)′(z) = −tanh(z/2):  s_μ = tanh(z/2)/s,  s_s = (z·tanh(z/2) − 1)/s
//!
//! # Pathwise
//! x = μ + sε, ε = log(u/(1 − u)), u ~ U(0, 1) open:  ∂x/∂μ = 1,  ∂x/∂s = ε.

use rand_distr::{Distribution as _, Open01};

use super::distribution::{Distribution, FamilyInfo};
use super::locscale::{LOC, LocScale, SCALE, Standard};
use super::spec::{ExampleValue, ParamError, ParamInput};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::BaseNoise;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "logistic",
    doc: "Independent logistic components: CDF sigmoid((x − loc)/scale). Mean loc, \
          variance scale²·π²/3. x is a vector with one entry per component.",
    params: &[LOC, SCALE],
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
    Ok(Box::new(LocScale::from_input(
        &FAMILY,
        Vec::new(),
        input,
        StandardLogistic,
    )))
}

/// φ(z) = e^(−z)/(1 + e^(−z))².
#[derive(Debug, Clone, Copy)]
pub struct StandardLogistic;

impl Standard for StandardLogistic {
    #[inline]
    fn draw(&self, _i: usize, rng: &mut SampleRng) -> f64 {
        let u: f64 = Open01.sample(rng);
        // log(u/(1−u)) = log u − log1p(−u), accurate in both tails.
        libm::log(u) - libm::log1p(-u)
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Uniform)
    }

    /// ε = ln u − ln(1 − u).
    #[inline]
    fn quantile(&self, _i: usize, u: f64) -> f64 {
        libm::log(u) - libm::log1p(-u)
    }

    #[inline]
    fn dlog(&self, _i: usize, z: f64) -> f64 {
        -libm::tanh(0.5 * z)
    }
}

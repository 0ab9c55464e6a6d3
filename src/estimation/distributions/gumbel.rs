//! Independent Gumbel (maximum) components, location-scale with the standard
//! Gumbel density φ(z) = exp(−z − e^(−z)) (see [`super::locscale`]).
//!
//! # Density
//! log p(x) = −z − e^(−z) − log β,  z = (x − μ)/β
//!
//! # Score
//! (log φ)′(z) = e^(−z) − 1:  s_μ = (1 − e^(−z))/β,  s_β = (z(1 − e^(−z)) − 1)/β
//!
//! # Pathwise
//! x = μ + βε, ε = −log(−log u), u ~ U(0, 1) open:  ∂x/∂μ = 1,  ∂x/∂β = ε.

use rand_distr::{Distribution as _, Open01};

use super::distribution::{Distribution, FamilyInfo};
use super::locscale::{LOC, LocScale, SCALE, Standard};
use super::spec::{ExampleValue, ParamError, ParamInput};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::BaseNoise;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "gumbel",
    doc: "Independent Gumbel (maximum) components: CDF exp(−exp(−(x − loc)/scale)). \
          Mean loc + γ·scale (γ the Euler–Mascheroni constant), variance π²·scale²/6. \
          x is a vector with one entry per component.",
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
        StandardGumbel,
    )))
}

/// φ(z) = exp(−z − e^(−z)).
#[derive(Debug, Clone, Copy)]
pub struct StandardGumbel;

impl Standard for StandardGumbel {
    #[inline]
    fn draw(&self, _i: usize, rng: &mut SampleRng) -> f64 {
        let u: f64 = Open01.sample(rng);
        -libm::log(-libm::log(u))
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Uniform)
    }

    /// ε = −ln(−ln u).
    #[inline]
    fn quantile(&self, _i: usize, u: f64) -> f64 {
        -libm::log(-libm::log(u))
    }

    #[inline]
    fn dlog(&self, _i: usize, z: f64) -> f64 {
        libm::expm1(-z)
    }
}

//! Independent Cauchy components, location-scale with the standard Cauchy
//! density φ(z) = 1/(π(1 + z²)) (see [`super::locscale`]). The mean and the
//! variance do not exist: objectives should be bounded (or grow slower than |x|).
//!
//! # Density
//! log p(x) = −log π − log γ − log(1 + z²),  z = (x − x₀)/γ
//!
//! # Score
//! (log φ)′(z) = −2z/(1 + z²):  s_loc = 2z/((1 + z²)γ),  s_scale = (z² − 1)/((1 + z²)γ)
//!
//! # Pathwise
//! x = x₀ + γε, ε = tan(π(u − ½)), u ~ U(0, 1) open:  ∂x/∂x₀ = 1,  ∂x/∂γ = ε.

use rand_distr::{Distribution as _, Open01};

use super::distribution::{Distribution, FamilyInfo};
use super::locscale::{LOC, LocScale, SCALE, Standard};
use super::spec::{ExampleValue, ParamError, ParamInput};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::BaseNoise;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "cauchy",
    doc: "Independent Cauchy components: density 1/(π·scale·(1 + ((x − loc)/scale)²)). \
          Median loc; the mean and variance do not exist, so use a bounded objective. \
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
        StandardCauchy,
    )))
}

/// φ(z) = 1/(π(1 + z²)).
#[derive(Debug, Clone, Copy)]
pub struct StandardCauchy;

impl Standard for StandardCauchy {
    #[inline]
    fn draw(&self, _i: usize, rng: &mut SampleRng) -> f64 {
        let u: f64 = Open01.sample(rng);
        libm::tan(std::f64::consts::PI * (u - 0.5))
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Uniform)
    }

    /// ε = tan(π(u − ½)).
    #[inline]
    fn quantile(&self, _i: usize, u: f64) -> f64 {
        libm::tan(std::f64::consts::PI * (u - 0.5))
    }

    #[inline]
    fn dlog(&self, _i: usize, z: f64) -> f64 {
        // −2z/(1 + z²), written so that huge |z| neither overflows nor loses the sign.
        if z.abs() > 1e150 {
            -2.0 / z
        } else {
            -2.0 * z / (1.0 + z * z)
        }
    }
}

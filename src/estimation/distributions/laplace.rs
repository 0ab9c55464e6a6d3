//! Independent Laplace components, location-scale with the standard Laplace
//! density φ(z) = ½e^(−|z|) (see [`super::locscale`]).
//!
//! # Density
//! log p(x) = −log 2b − |x − μ|/b
//!
//! # Score
//! s_μ = sign(x − μ)/b,   s_b = (|x − μ|/b − 1)/b   ((log φ)′(z) = −sign z)
//!
//! # Pathwise
//! x = μ + bε, ε = ±E with E ~ Exp(1) and a fair sign:  ∂x/∂μ = 1,  ∂x/∂b = ε.

use rand::Rng as _;

use super::distribution::{Distribution, FamilyInfo};
use super::locscale::{LOC, LocScale, SCALE, Standard};
use super::spec::{ExampleValue, ParamError, ParamInput};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::BaseNoise;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "laplace",
    doc: "Independent Laplace components: density exp(−|x − loc|/scale)/(2·scale). \
          Mean loc, variance 2·scale². x is a vector with one entry per component.",
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
        StandardLaplace,
    )))
}

/// φ(z) = ½e^(−|z|).
#[derive(Debug, Clone, Copy)]
pub struct StandardLaplace;

impl Standard for StandardLaplace {
    #[inline]
    fn draw(&self, _i: usize, rng: &mut SampleRng) -> f64 {
        let e = crate::estimation::variates::exponential(rng);
        if rng.next_u64() >> 63 == 0 { e } else { -e }
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Uniform)
    }

    /// ε = ln 2u for u < ½, −ln(2 − 2u) above (exact: u is an odd multiple of 2⁻⁵³, so 2u and 2 − 2u are too; u ↔ 1 − u gives ε ↔ −ε).
    #[inline]
    fn quantile(&self, _i: usize, u: f64) -> f64 {
        if u < 0.5 {
            libm::log(2.0 * u)
        } else {
            -libm::log(2.0 - 2.0 * u)
        }
    }

    #[inline]
    fn dlog(&self, _i: usize, z: f64) -> f64 {
        // The derivative at z = 0 (probability zero) is taken as 0.
        if z > 0.0 {
            -1.0
        } else if z < 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

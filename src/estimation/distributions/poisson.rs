//! Independent Poisson components with `rate` λ. A sample x is a vector of counts.
//!
//! # Density
//! log p(x) = Σᵢ xᵢ log λᵢ − λᵢ − log xᵢ!
//!
//! # Score
//! s_λ = x/λ − 1. x is discrete and its support (ℕ) is infinite, so neither a
//! pathwise derivative nor enumeration exists.
//!
//! # Measure-valued
//! ∂λᵢ p(k) = p(k − 1) − p(k), so ∂λᵢ E f = E[f(xᵢ ← xᵢ + 1) − f(x)]: c = 1, one
//! point against the base sample, no draws (coupling changes nothing).

use rand_distr::{Distribution as _, Poisson as PoissonSampler};

use super::distribution::{Distribution, FamilyInfo, MeasureValued, MvdBuffers, MvdPoints};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "poisson",
    doc: "Independent Poisson components with the given rates. x is a vector of counts.",
    params: &[ParamSpec {
        name: "rate",
        shape: Shape::Vector,
        constraint: Constraint::Positive,
        differentiable: true,
        required: true,
        doc: "rate λ (mean) of each component",
    }],
    alternatives: &[],
    estimators: &[EstimatorKind::ScoreFunction, EstimatorKind::MeasureValued],
    example: &[("rate", ExampleValue::Vector(&[0.7, 2.5]))],
    build,
};

/// Largest rate accepted: rand_distr's sampler is exact up to far beyond this,
/// and counts stay exactly representable.
const MAX_RATE: f64 = 1e12;

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let rate = vector(input, "rate");
    if let Some(i) = rate.iter().position(|r| *r > MAX_RATE) {
        return Err(ParamError::at(
            "rate",
            i,
            format!("rate[{i}] = {} is above the limit {MAX_RATE:e}", rate[i]),
        ));
    }
    let samplers = rate
        .iter()
        .map(|r| PoissonSampler::new(*r).expect("validated rate"))
        .collect();
    Ok(Box::new(Poisson {
        params: [Param::vector("rate", rate)],
        samplers,
    }))
}

/// Independent Poisson components.
#[derive(Debug, Clone)]
pub struct Poisson {
    params: [Param; 1],
    samplers: Vec<PoissonSampler<f64>>,
}

impl Distribution for Poisson {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.samplers.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        let d = self.dim();
        for row in x.chunks_exact_mut(d) {
            for (v, s) in row.iter_mut().zip(&self.samplers) {
                *v = s.sample(rng);
            }
        }
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        let rate = &self.params[0].values;
        for (r, row) in x.chunks_exact(d).enumerate() {
            for i in 0..d {
                s[i * b + r] = row[i] / rate[i] - 1.0;
            }
        }
    }

    fn measure_valued(&self) -> Option<&dyn MeasureValued> {
        Some(self)
    }
}

impl MeasureValued for Poisson {
    fn mvd_form(&self) -> MvdPoints {
        MvdPoints::AgainstBase
    }

    fn mvd_constant(&self, _k: usize) -> f64 {
        1.0
    }

    /// x′ = x with xₖ + 1, sign 1; draws nothing.
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
        for row in out.plus.chunks_exact_mut(d) {
            row[k] += 1.0;
        }
        out.sign.fill(1.0);
    }
}

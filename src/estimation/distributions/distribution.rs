//! The registry entry of a family ([`FamilyInfo`]) and what a built
//! distribution can do: [`Distribution`] (sampling and score) and the optional
//! forms [`Reparameterized`], [`Relaxed`], [`LogSpace`] and [`Enumerable`].

use std::fmt;

use super::spec::{ExampleValue, Param, ParamError, ParamInput, ParamSpec};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::BaseNoise;

/// A family in the registry.
pub struct FamilyInfo {
    pub name: &'static str,
    pub doc: &'static str,
    pub params: &'static [ParamSpec],
    /// Groups of parameters of which exactly one must be given (logits or probs).
    pub alternatives: &'static [&'static [&'static str]],
    /// The estimators that apply, in the order they are recommended.
    pub estimators: &'static [EstimatorKind],
    /// Valid parameters, away from every boundary, with at least two components
    /// where the family allows it: what tests, documentation and pins use as
    /// "a typical member of the family" ([`FamilyInfo::example_input`]).
    pub example: &'static [(&'static str, ExampleValue)],
    /// Builds a validated distribution from parameters that already passed the
    /// generic checks (known names, shapes, lengths, constraints).
    pub build: fn(&ParamInput) -> Result<Box<dyn Distribution>, ParamError>,
}

impl FamilyInfo {
    /// The family's example parameters as a job's input; every one of them builds:
    ///
    /// ```
    /// use gradest::estimation::distributions::{FAMILIES, build};
    ///
    /// for info in FAMILIES {
    ///     let dist = build(info, &info.example_input(), 100).expect("a valid example");
    ///     assert_eq!(dist.family().name, info.name);
    /// }
    /// ```
    pub fn example_input(&self) -> ParamInput {
        self.example
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_param()))
            .collect()
    }
}

impl fmt::Debug for FamilyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FamilyInfo")
            .field("name", &self.name)
            .finish()
    }
}

/// A distribution with validated parameters.
pub trait Distribution: Send + Sync + fmt::Debug {
    /// Its registry entry.
    fn family(&self) -> &'static FamilyInfo;

    /// Length of one sample x.
    fn dim(&self) -> usize;

    /// Its parameters, in order; the differentiated ones, flattened in this order,
    /// make up the gradient vector.
    fn params(&self) -> &[Param];

    /// Draws `x.len() / dim()` samples into x.
    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]);

    /// Writes the score s = ∇_θ log p_θ(x) of each sample, component-major
    /// (`s[k·b + r]`, b = x.len() / dim()).
    fn score(&self, x: &[f64], s: &mut [f64]);

    /// The base noise its samples are made from, if it draws it through
    /// [`base_normals`](crate::estimation::sampling::base_normals) or
    /// [`base_uniforms`](crate::estimation::sampling::base_uniforms), so that
    /// antithetic and rqmc sampling apply.
    fn base_noise(&self) -> Option<BaseNoise> {
        None
    }

    /// The pathwise (reparameterised) form, if the family has one.
    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        None
    }

    /// The continuous relaxation (Gumbel-Softmax, binary Concrete), if any.
    fn relaxed(&self) -> Option<&dyn Relaxed> {
        None
    }

    /// The log-space form (gamma, beta, dirichlet): samples drawn in log space,
    /// with their exact log values, if the family has one.
    fn log_space(&self) -> Option<&dyn LogSpace> {
        None
    }

    /// Exact enumeration of the outcomes, if the support is finite.
    fn enumerable(&self) -> Option<&dyn Enumerable> {
        None
    }

    /// For a one-hot categorical, the category probabilities (for the
    /// goodness-of-fit check of the sampler).
    fn category_probs(&self) -> Option<Vec<f64>> {
        None
    }
}

/// A discrete family with a continuous relaxation at temperature τ.
pub trait Relaxed: Sync {
    /// Numbers per sample that [`Relaxed::relaxed_sample`] keeps for the pullback.
    fn relaxed_aux_len(&self) -> usize;

    /// Draws relaxed samples y at temperature τ into aux and writes the point
    /// where f is evaluated into x: y itself, or for `hard` (straight-through)
    /// the discrete sample it rounds to.
    fn relaxed_sample(
        &self,
        rng: &mut SampleRng,
        tau: f64,
        hard: bool,
        x: &mut [f64],
        aux: &mut [f64],
    );

    /// Pulls ∇f back to θ through the relaxed sample's Jacobian ∂y/∂θ.
    fn relaxed_pullback(&self, tau: f64, aux: &[f64], gx: &[f64], g: &mut [f64]);
}

/// A family whose outcomes can be listed.
pub trait Enumerable {
    /// Number of outcomes, or `None` if it does not fit in a u64.
    fn outcomes(&self) -> Option<u64>;

    /// Writes outcome `k` into x (one sample) and its score into s (P numbers),
    /// and returns its probability.
    fn outcome(&self, k: u64, x: &mut [f64], s: &mut [f64]) -> f64;
}

/// A family with x = g_θ(ε), ε from a fixed distribution.
pub trait Reparameterized: Sync {
    /// Numbers per sample that [`Reparameterized::rsample`] keeps for the pullback.
    fn aux_len(&self) -> usize;

    /// Draws samples x = g_θ(ε), keeping what the pullback needs (usually ε) in aux.
    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]);

    /// Pulls ∇ₓf back to θ: `g[k·b + r] = Σᵢ (∂xᵢ/∂θₖ)(r) · gx[r·D + i]`.
    fn pullback(&self, x: &[f64], aux: &[f64], gx: &[f64], g: &mut [f64]);
}

/// A family drawn in log space: every sample comes with the exact logarithms
/// of its entries, also where an entry underflows to 0 or a subnormal in f64
/// (Gamma(α) for small α puts most of its mass below 10⁻³⁰⁸).
///
/// Each sample's log values are a row of [`log_len`] numbers: log xᵢ for every
/// i (D numbers) and then, if [`LogSpace::carries_log1m`], log(1 − xᵢ) (D more).
/// Batches are sample-major, like x. The pathwise pullback takes the gradient
/// with respect to these log values (`glog`, laid out the same way) beside ∇ₓf
/// and never divides by an x that underflowed.
pub trait LogSpace: Sync {
    /// Whether log(1 − xᵢ) follows log xᵢ in each row (beta).
    fn carries_log1m(&self) -> bool {
        false
    }

    /// Draws like [`Distribution::sample`] (the same x from the same stream)
    /// and writes the log values into `logx`.
    fn sample_log(&self, rng: &mut SampleRng, x: &mut [f64], logx: &mut [f64]);

    /// The score, like [`Distribution::score`], with every log x (and log(1 − x))
    /// in it taken from the exact `logx`.
    fn score_log(&self, x: &[f64], logx: &[f64], s: &mut [f64]);

    /// Draws like [`Reparameterized::rsample`] and writes the log values into `logx`.
    fn rsample_log(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64], logx: &mut [f64]);

    /// Pulls ∇ₓf (`gx`) and the gradient with respect to the log values
    /// (`glog`; empty when f uses none) back to θ, like [`Reparameterized::pullback`].
    fn pullback_log(&self, x: &[f64], aux: &[f64], gx: &[f64], glog: &[f64], g: &mut [f64]);
}

/// Numbers per sample of a distribution's log values: D, 2D with log(1 − x),
/// 0 for a family not drawn in log space.
pub fn log_len(d: &dyn Distribution) -> usize {
    d.log_space()
        .map_or(0, |l| d.dim() * (1 + usize::from(l.carries_log1m())))
}

/// Total number of differentiated parameter entries of a distribution.
pub fn grad_len(d: &dyn Distribution) -> usize {
    d.params()
        .iter()
        .filter(|p| p.differentiable)
        .map(|p| p.values.len())
        .sum()
}

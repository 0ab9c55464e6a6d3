//! The registry entry of a family ([`FamilyInfo`]) and what a built
//! distribution can do: [`Distribution`] (sampling and score) and the optional
//! forms [`Reparameterized`], [`Relaxed`], [`LogSpace`], [`Enumerable`] and
//! [`MeasureValued`].

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

    /// The Gaussian form (normal, multivariate normal): the closed forms the
    /// delta-method control variate needs, if the family is Gaussian.
    fn gaussian(&self) -> Option<&dyn Gaussian> {
        None
    }

    /// Exact enumeration of the outcomes, if the support is finite.
    fn enumerable(&self) -> Option<&dyn Enumerable> {
        None
    }

    /// The measure-valued derivative (the weak derivative's decomposition), if any.
    fn measure_valued(&self) -> Option<&dyn MeasureValued> {
        None
    }

    /// For a one-hot categorical, the category probabilities (for the
    /// goodness-of-fit check of the sampler).
    fn category_probs(&self) -> Option<Vec<f64>> {
        None
    }

    /// Independent Bernoulli components through their logits (ARM, DisARM).
    fn binary(&self) -> Option<&dyn Binary> {
        None
    }

    /// A one-hot categorical through its probabilities (ReinMax, Gumbel-Rao).
    fn one_hot(&self) -> Option<&dyn OneHot> {
        None
    }
}

/// Independent Bernoulli components, x ∈ {0, 1}ᴰ, seen through p and the
/// logits θ = log(p/(1 − p)).
pub trait Binary: Sync {
    /// p, the probability of a 1 in each component.
    fn probs(&self) -> &[f64];

    /// θ = log(p/(1 − p)), ±∞ where p is 0 or 1.
    fn logits(&self) -> &[f64];

    /// Whether the differentiated parameter is p (then ∂/∂p = (∂/∂θ)/(p(1 − p)));
    /// else it is θ.
    fn by_probs(&self) -> bool;
}

/// One categorical variable, x the one-hot e_k of length K, seen through its
/// normalised probabilities; [`Distribution::sample`] draws x.
pub trait OneHot: Sync {
    /// p = softmax(θ) (or the normalised `probs`).
    fn probs(&self) -> &[f64];

    /// log p (−∞ for an impossible category).
    fn log_probs(&self) -> &[f64];

    /// Whether the differentiated parameter is `probs` (then, through
    /// zⱼ = log pⱼ − log Σp, ∂f/∂pᵢ = (∂f/∂zᵢ)/pᵢ − Σⱼ ∂f/∂zⱼ); else the logits.
    fn by_probs(&self) -> bool;
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

/// What [`MeasureValued::mvd_points`] writes for each parameter entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MvdPoints {
    /// Both points: `plus` holds x⁺ and `minus` x⁻ (sample-major, like x), and the
    /// term is u = c·(f(x⁺) − f(x⁻)).
    Pair,
    /// One point against the base sample itself: `plus` holds the other point x′
    /// and `sign` a weight sᵣ per sample, and the term is u = c·sᵣ·(f(x′) − f(x)),
    /// so f at the base is reused (one evaluation per entry, not two).
    AgainstBase,
}

/// Where [`MeasureValued::mvd_points`] writes, for a batch of b samples: `plus`
/// and `minus` b·D numbers each (sample-major, like x), `sign` b numbers.
#[derive(Debug)]
pub struct MvdBuffers<'a> {
    pub plus: &'a mut [f64],
    pub minus: &'a mut [f64],
    pub sign: &'a mut [f64],
}

/// A family with a measure-valued derivative (Mohamed et al. 2020, §6): for
/// each differentiated parameter entry θₖ, ∂θₖ p = cₖ (p⁺ₖ − p⁻ₖ) with p⁺ₖ, p⁻ₖ
/// probability densities, so ∂θₖ E f = cₖ (E_{p⁺ₖ} f − E_{p⁻ₖ} f). The points
/// replace one coordinate of a base sample x ~ p, the others shared.
pub trait MeasureValued: Sync {
    /// What [`MeasureValued::mvd_points`] writes, for every entry alike.
    fn mvd_form(&self) -> MvdPoints;

    /// The constant cₖ of parameter entry k (in the order of the gradient).
    fn mvd_constant(&self, k: usize) -> f64;

    /// Writes, for entry k and the base batch x (b samples), the points of the
    /// two parts in the [`MeasureValued::mvd_form`] (`minus` is untouched for
    /// [`MvdPoints::AgainstBase`], `sign` for [`MvdPoints::Pair`]); `coupled`
    /// makes them share their draws where the family allows it. Draws from
    /// `rng` sample by sample, in sample order.
    fn mvd_points(
        &self,
        k: usize,
        coupled: bool,
        rng: &mut SampleRng,
        x: &[f64],
        out: &mut MvdBuffers<'_>,
    );
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

/// The curvature H of a quadratic in x: a dense d×d matrix (row-major,
/// symmetric) or only its diagonal.
#[derive(Debug, Clone, Copy)]
pub enum Curvature<'a> {
    Dense(&'a [f64]),
    Diagonal(&'a [f64]),
}

impl Curvature<'_> {
    /// Hᵢⱼ, with d the dimension.
    pub fn at(&self, i: usize, j: usize, d: usize) -> f64 {
        match *self {
            Curvature::Dense(h) => h[i * d + j],
            Curvature::Diagonal(h) if i == j => h[i],
            Curvature::Diagonal(_) => 0.0,
        }
    }
}

/// A Gaussian family, x ~ N(μ, Σ), for the delta-method control variate
/// h(x) = c + gᵀ(x − μ) + ½(x − μ)ᵀH(x − μ), whose expectation
/// E h = c + ½ tr(HΣ) has a gradient in closed form.
pub trait Gaussian: Sync {
    /// The mean μ, where the expansion is taken.
    fn mean(&self) -> &[f64];

    /// The standard deviation √Σᵢᵢ of each coordinate.
    fn coordinate_sd(&self) -> Vec<f64>;

    /// ∇θ E\[h\] in gradient order (P numbers): for μ it is g; for the
    /// spread parameters it depends on the family (σᵢ: Hᵢᵢσᵢ; L: the lower
    /// triangle of HL).
    fn expected_gradient(&self, g: &[f64], h: Curvature<'_>, out: &mut [f64]);
}

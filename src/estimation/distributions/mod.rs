//! Distributions p_θ: sampling, scores and pathwise derivatives, one file per
//! family, registered in [`FAMILIES`]. Adding a family means writing its file and
//! adding one line to that table; the estimators and the HTTP layer read what
//! they need (parameters, constraints, applicable estimators) from here.
//!
//! Layout conventions shared by every family, for a batch of b samples:
//! - a sample x has [`Distribution::dim`] numbers; batches are sample-major
//!   (`x[r·D + i]`);
//! - the differentiated parameters are flattened, in the order of
//!   [`Distribution::params`], into one vector of length P; per-sample gradient
//!   terms are component-major (`g[k·b + r]`), so statistics run over
//!   contiguous memory.
//!
//! Each family's module (such as [`gamma`] or [`mvn`]) documents its density,
//! score, pathwise form and sampler; its `FAMILY` is its entry in [`FAMILIES`],
//! with the parameters, the estimators that apply and an example.

// The family modules are public for their documentation (density, score,
// pathwise form, sampling): what they export is the registry entry `FAMILY`,
// the distribution types (built only through [`build`], which validates) and
// shared mathematics; their constructors stay within this module.
pub mod bernoulli;
pub mod beta;
pub mod categorical;
pub mod cauchy;
pub mod dirichlet;
pub mod exponential;
pub mod gamma;
pub mod gumbel;
pub mod implicit_gamma;
pub mod laplace;
pub mod locscale;
pub mod log_normal;
pub mod logistic;
pub mod mvn;
pub mod normal;
pub mod poisson;
pub mod standard_gamma;
pub mod student_t;
pub mod uniform;

pub use normal::standard_normals as normal_batch;

use std::collections::BTreeMap;
use std::fmt;

use super::SampleRng;
use super::estimators::EstimatorKind;

/// A parameter value as given in a job.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Vector(Vec<f64>),
    /// A list of rows.
    Matrix(Vec<Vec<f64>>),
}

/// The parameters of a job's distribution, by name.
pub type ParamInput = BTreeMap<String, ParamValue>;

/// The shape a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One entry per independent component.
    Vector,
    /// d × d, given as a list of rows.
    Matrix,
}

/// The set a parameter's entries must lie in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    Real,
    Positive,
    /// Within [0, 1].
    UnitInterval,
    /// Lower triangular with a positive diagonal.
    LowerTriangular,
}

impl Shape {
    /// The name used in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Vector => "vector",
            Shape::Matrix => "matrix",
        }
    }
}

impl Constraint {
    /// The name used in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            Constraint::Real => "real",
            Constraint::Positive => "positive",
            Constraint::UnitInterval => "unit_interval",
            Constraint::LowerTriangular => "lower_triangular",
        }
    }

    /// Human description, as shown in the catalog and in errors.
    pub fn describe(self) -> &'static str {
        match self {
            Constraint::Real => "finite real numbers",
            Constraint::Positive => "finite numbers > 0",
            Constraint::UnitInterval => "numbers within [0, 1]",
            Constraint::LowerTriangular => {
                "a square matrix (list of rows), lower triangular with a positive diagonal"
            }
        }
    }

    fn check(self, v: f64) -> bool {
        match self {
            Constraint::Real | Constraint::LowerTriangular => v.is_finite(),
            Constraint::Positive => v.is_finite() && v > 0.0,
            Constraint::UnitInterval => (0.0..=1.0).contains(&v),
        }
    }
}

/// What a family's parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub shape: Shape,
    pub constraint: Constraint,
    /// Whether the gradient is taken with respect to it.
    pub differentiable: bool,
    /// Required, unless it belongs to one of the family's alternatives.
    pub required: bool,
    pub doc: &'static str,
}

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

/// A parameter value in a [`FamilyInfo::example`], in a form a `static` can hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExampleValue {
    Vector(&'static [f64]),
    /// A list of rows.
    Matrix(&'static [&'static [f64]]),
}

impl ExampleValue {
    /// The value as a job gives it.
    pub fn to_param(self) -> ParamValue {
        match self {
            ExampleValue::Vector(v) => ParamValue::Vector(v.to_vec()),
            ExampleValue::Matrix(rows) => {
                ParamValue::Matrix(rows.iter().map(|r| r.to_vec()).collect())
            }
        }
    }
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

/// Every family gradest knows.
pub static FAMILIES: &[&FamilyInfo] = &[
    &normal::FAMILY,
    &mvn::FAMILY,
    &laplace::FAMILY,
    &logistic::FAMILY,
    &cauchy::FAMILY,
    &gumbel::FAMILY,
    &student_t::FAMILY,
    &uniform::FAMILY,
    &log_normal::FAMILY,
    &exponential::FAMILY,
    &gamma::FAMILY,
    &beta::FAMILY,
    &dirichlet::FAMILY,
    &categorical::FAMILY,
    &bernoulli::FAMILY,
    &poisson::FAMILY,
];

/// Looks a family up by name.
pub fn family(name: &str) -> Option<&'static FamilyInfo> {
    FAMILIES.iter().copied().find(|f| f.name == name)
}

/// A refused parameter: `path` is relative to the distribution object, as JSON
/// pointer segments (`["scale", "2"]`), empty for the object itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub path: Vec<String>,
    pub message: String,
}

impl ParamError {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        ParamError {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    pub fn at(name: &str, index: usize, message: impl Into<String>) -> Self {
        ParamError {
            path: vec![name.to_string(), index.to_string()],
            message: message.into(),
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Validates parameters against the family's specification, then builds it.
/// Limits: `max_dim` components per vector (and rows of a matrix).
pub fn build(
    info: &FamilyInfo,
    input: &ParamInput,
    max_dim: usize,
) -> Result<Box<dyn Distribution>, ParamError> {
    let names: Vec<&str> = info.params.iter().map(|p| p.name).collect();
    for key in input.keys() {
        if !names.contains(&key.as_str()) {
            return Err(ParamError::new(
                &[key],
                format!(
                    "unknown parameter '{key}' for family '{}'; its parameters are {}",
                    info.name,
                    names.join(", ")
                ),
            ));
        }
    }
    for spec in info.params.iter().filter(|p| p.required) {
        if !input.contains_key(spec.name) {
            return Err(ParamError::new(
                &[spec.name],
                format!("family '{}' needs the parameter '{}'", info.name, spec.name),
            ));
        }
    }
    for group in info.alternatives {
        let given: Vec<&str> = group
            .iter()
            .copied()
            .filter(|n| input.contains_key(*n))
            .collect();
        if given.len() != 1 {
            return Err(ParamError::new(
                &[],
                format!(
                    "family '{}' needs exactly one of {}; {} given",
                    info.name,
                    group.join(" or "),
                    if given.is_empty() {
                        "none was".to_string()
                    } else {
                        given.join(" and ") + " were"
                    }
                ),
            ));
        }
    }
    let mut length: Option<(usize, &str)> = None;
    for spec in info.params {
        let Some(value) = input.get(spec.name) else {
            continue;
        };
        let name = spec.name;
        let n = match (spec.shape, value) {
            (Shape::Vector, ParamValue::Vector(v)) => {
                for (i, x) in v.iter().enumerate() {
                    if !spec.constraint.check(*x) {
                        return Err(ParamError::at(
                            name,
                            i,
                            format!(
                                "{name}[{i}] = {x} is invalid: {name} must be {}",
                                spec.constraint.describe()
                            ),
                        ));
                    }
                }
                v.len()
            }
            (Shape::Matrix, ParamValue::Matrix(rows)) => {
                let d = rows.len();
                for (i, row) in rows.iter().enumerate() {
                    if row.len() != d {
                        return Err(ParamError::new(
                            &[name, &i.to_string()],
                            format!(
                                "{name} must be square: row {i} has {} entries, expected {d}",
                                row.len()
                            ),
                        ));
                    }
                    for (j, x) in row.iter().enumerate() {
                        let bad = !x.is_finite() || (j > i && *x != 0.0) || (j == i && *x <= 0.0);
                        if bad {
                            return Err(ParamError::new(
                                &[name, &i.to_string(), &j.to_string()],
                                format!(
                                    "{name}[{i}][{j}] = {x} is invalid: {name} must be {}",
                                    spec.constraint.describe()
                                ),
                            ));
                        }
                    }
                }
                d
            }
            (Shape::Vector, ParamValue::Matrix(_)) => {
                return Err(ParamError::new(
                    &[name],
                    format!("{name} must be an array of numbers"),
                ));
            }
            (Shape::Matrix, ParamValue::Vector(_)) => {
                return Err(ParamError::new(
                    &[name],
                    format!("{name} must be an array of rows (arrays of numbers)"),
                ));
            }
        };
        if n == 0 {
            return Err(ParamError::new(
                &[name],
                format!("{name} must not be empty"),
            ));
        }
        if n > max_dim {
            return Err(ParamError::new(
                &[name],
                format!("{name} has {n} components; the dimension limit is {max_dim}"),
            ));
        }
        match length {
            None => length = Some((n, name)),
            Some((m, first)) if m != n => {
                return Err(ParamError::new(
                    &[name],
                    format!(
                        "{name} has {n} components but {first} has {m}; every parameter must have the same length"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    (info.build)(input)
}

/// A parameter of a built distribution, flattened row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub values: Vec<f64>,
    /// `[n]` for a vector, `[d, d]` for a matrix.
    pub shape: Vec<usize>,
    pub differentiable: bool,
}

impl Param {
    /// A differentiated vector parameter.
    pub fn vector(name: &'static str, values: Vec<f64>) -> Self {
        Param {
            name,
            shape: vec![values.len()],
            values,
            differentiable: true,
        }
    }
}

/// Reads a vector parameter that the generic checks have validated.
pub fn vector(input: &ParamInput, name: &str) -> Vec<f64> {
    match input.get(name) {
        Some(ParamValue::Vector(v)) => v.clone(),
        _ => Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family's example passes the generic checks and the family's own,
    /// names only its declared parameters, has at least two components, and
    /// builds a distribution that points back to the same registry entry.
    #[test]
    fn every_family_example_builds() {
        for info in FAMILIES {
            for (name, _) in info.example {
                assert!(
                    info.params.iter().any(|p| p.name == *name),
                    "{}: example names the unknown parameter '{name}'",
                    info.name
                );
            }
            let dist = build(info, &info.example_input(), 1_000)
                .unwrap_or_else(|e| panic!("{}: example refused: {e}", info.name));
            assert!(
                std::ptr::eq(dist.family(), *info),
                "{}: built distribution reports the family '{}'",
                info.name,
                dist.family().name
            );
            assert!(
                dist.dim() >= 2,
                "{}: example has dim {}",
                info.name,
                dist.dim()
            );
            assert!(grad_len(dist.as_ref()) >= 2, "{}", info.name);
        }
    }

    /// Family names are unique, so [`family`] finds each entry.
    #[test]
    fn family_names_are_unique_and_found() {
        for info in FAMILIES {
            let found = family(info.name).expect("registered");
            assert!(
                std::ptr::eq(found, *info),
                "two families named '{}'",
                info.name
            );
        }
    }

    /// Negative control: an example with a parameter outside its constraint is
    /// refused by the same path.
    #[test]
    fn a_broken_example_is_refused() {
        let info = family("gamma").expect("registered");
        let mut input = info.example_input();
        input.insert("rate".into(), ParamValue::Vector(vec![1.0, -2.0]));
        let err = build(info, &input, 1_000).expect_err("a negative rate");
        assert_eq!(err.path, ["rate", "1"]);
    }
}

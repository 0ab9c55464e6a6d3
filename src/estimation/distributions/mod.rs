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

// The shared types: `spec` describes parameters and how a job gives them,
// `distribution` the registry entry and what a built distribution can do. The
// family files import them from there; this module re-exports them.
pub mod distribution;
pub mod spec;

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

pub use distribution::{
    Binary, Curvature, Distribution, Enumerable, FamilyInfo, Gaussian, LogSpace, MeasureValued,
    MvdBuffers, MvdPoints, OneHot, Relaxed, Reparameterized, grad_len, log_len,
};
pub use spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, ParamValue, Shape, vector,
};

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

/// Validates parameters against the family's specification, then builds it.
/// Limits: `max_dim` components per vector (and rows of a matrix).
///
/// The checks run in this order, and the first failure is the one reported:
/// unknown names, missing required parameters, the alternatives (exactly one
/// of each group), then each given parameter in the family's order: its shape
/// and entries, its length (not empty, at most `max_dim`, the same as the
/// parameters before it).
pub fn build(
    info: &FamilyInfo,
    input: &ParamInput,
    max_dim: usize,
) -> Result<Box<dyn Distribution>, ParamError> {
    check_names(info, input)?;
    check_alternatives(info, input)?;
    let mut length: Option<(usize, &str)> = None;
    for spec in info.params {
        let Some(value) = input.get(spec.name) else {
            continue;
        };
        let n = check_value(spec, value)?;
        check_length(spec.name, n, max_dim, &mut length)?;
    }
    (info.build)(input)
}

/// Every given name is one of the family's parameters, and every required one is given.
fn check_names(info: &FamilyInfo, input: &ParamInput) -> Result<(), ParamError> {
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
    Ok(())
}

/// Exactly one parameter of each of the family's alternatives is given.
fn check_alternatives(info: &FamilyInfo, input: &ParamInput) -> Result<(), ParamError> {
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
    Ok(())
}

/// Checks a value's shape and entries; returns its length (components, or rows).
fn check_value(spec: &ParamSpec, value: &ParamValue) -> Result<usize, ParamError> {
    let name = spec.name;
    match (spec.shape, value) {
        (Shape::Vector, ParamValue::Vector(v)) => check_vector(spec, v),
        (Shape::Matrix, ParamValue::Matrix(rows)) => check_matrix(spec, rows),
        (Shape::Vector, ParamValue::Matrix(_)) => Err(ParamError::new(
            &[name],
            format!("{name} must be an array of numbers"),
        )),
        (Shape::Matrix, ParamValue::Vector(_)) => Err(ParamError::new(
            &[name],
            format!("{name} must be an array of rows (arrays of numbers)"),
        )),
    }
}

/// Every entry of a vector satisfies the parameter's constraint.
fn check_vector(spec: &ParamSpec, v: &[f64]) -> Result<usize, ParamError> {
    let name = spec.name;
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
    Ok(v.len())
}

/// A matrix is square and lower triangular with a positive diagonal, every
/// entry finite.
fn check_matrix(spec: &ParamSpec, rows: &[Vec<f64>]) -> Result<usize, ParamError> {
    let name = spec.name;
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
    Ok(d)
}

/// A parameter's length n is within 1..=`max_dim` and equal to that of the
/// first parameter given (`length`, recorded here when it is the first).
fn check_length<'a>(
    name: &'a str,
    n: usize,
    max_dim: usize,
    length: &mut Option<(usize, &'a str)>,
) -> Result<(), ParamError> {
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
    match *length {
        None => *length = Some((n, name)),
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
    Ok(())
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

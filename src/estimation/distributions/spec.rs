//! What a family's parameters are and how a job gives them: the values
//! ([`ParamValue`], [`ParamInput`]), their description in the registry
//! ([`ParamSpec`]: [`Shape`], [`Constraint`]; [`ExampleValue`]), the refusal
//! ([`ParamError`]) and a built distribution's flattened parameters ([`Param`]).

use std::collections::BTreeMap;
use std::fmt;

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

    pub(super) fn check(self, v: f64) -> bool {
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

/// A parameter value in a [`FamilyInfo::example`](super::distribution::FamilyInfo::example), in a form a `static` can hold.
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

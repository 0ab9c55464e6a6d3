//! The objective language: a user's f(x; θ) as text, parsed once into a validated
//! [`Program`] that evaluates f, ∇ₓf and ∇_θf over a whole batch of samples at a
//! time (reverse mode, so the cost does not grow with the number of inputs).
//!
//! Written by hand rather than with an expression crate: general-purpose
//! evaluators walk the tree once per sample, with no gradients and no batching,
//! and this evaluator is where the service spends most of its time.

mod ast;
mod eval;
pub mod fastmath;
mod functions;
mod logspace;
mod parser;
mod program;

pub use ast::{BinOp, Column, Expr};
pub use eval::{Outputs, Want, Workspace, sigmoid, softplus};
pub use functions::{CONSTANT_TABLE, ConstantDef, FUNCTION_TABLE, FunctionDef, constant, function};
pub use logspace::LogInputs;
pub use parser::{MAX_TREE_DEPTH, ParseLimits, parse};
pub use program::{Binding, OPERATORS, Program};

use thiserror::Error;

/// Why an objective was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ObjectiveError {
    /// The text does not parse.
    #[error("column {column}: {message}")]
    Syntax { column: Column, message: String },
    /// A name, function, arity, index or shape is wrong.
    #[error("column {column}: {message}")]
    Invalid { column: Column, message: String },
    /// A size limit was exceeded.
    #[error("{0}")]
    Limit(String),
}

impl ObjectiveError {
    pub(crate) fn syntax(column: Column, message: String) -> Self {
        ObjectiveError::Syntax { column, message }
    }

    pub(crate) fn invalid(column: Column, message: String) -> Self {
        ObjectiveError::Invalid { column, message }
    }

    /// The column the error points at, when it points at one.
    pub fn column(&self) -> Option<Column> {
        match self {
            ObjectiveError::Syntax { column, .. } | ObjectiveError::Invalid { column, .. } => {
                Some(*column)
            }
            ObjectiveError::Limit(_) => None,
        }
    }
}

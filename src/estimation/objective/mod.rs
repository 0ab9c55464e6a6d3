//! The objective language: a user's f(x; θ) as text, parsed once into a validated
//! [`Program`] that evaluates f, ∇ₓf and ∇_θf over a whole batch of samples at a
//! time (reverse mode, so the cost does not grow with the number of inputs).
//!
//! Written by hand rather than with an expression crate: general-purpose
//! evaluators walk the tree once per sample, with no gradients and no batching,
//! and this evaluator is where the service spends most of its time.

mod ast;
mod error;
mod eval;
mod functions;
// Still calls std's exp/ln/ln_1p/sin/cos/tanh/powf (to be converted to libm).
#[allow(clippy::disallowed_methods)]
mod kernels;
mod logspace;
mod nodes;
mod parser;
mod program;
#[cfg(test)]
mod tests;

pub use ast::{BinOp, Column, Expr};
pub use error::ObjectiveError;
pub use eval::{Outputs, Want, Workspace};
pub use functions::{CONSTANT_TABLE, ConstantDef, FUNCTION_TABLE, FunctionDef, constant, function};
pub use kernels::{sigmoid, softplus};
pub use logspace::LogInputs;
pub use nodes::{Binding, Program};
pub use parser::{MAX_TREE_DEPTH, ParseLimits, parse};
pub use program::OPERATORS;

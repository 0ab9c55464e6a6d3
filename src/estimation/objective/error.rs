//! Why an objective was refused: the one error type of parsing and compiling.

use super::ast::Column;
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

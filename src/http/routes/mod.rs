//! One file per resource. Handlers stay short: extract, prepare (the one
//! validation, [`super::validate::prepare`]), run (in [`crate::jobs`]), convert
//! (in [`super::responses`]).

pub mod catalog;
pub mod compare;
pub mod estimate;
pub mod health;
pub mod jobs;
pub mod merge;

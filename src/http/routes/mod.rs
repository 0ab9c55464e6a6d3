//! One file per resource. Handlers stay short: extract, validate (in
//! `schemas`), run (in `jobs`), convert.

pub mod catalog;
pub mod compare;
pub mod estimate;
pub mod health;
pub mod jobs;

//! HTTP tests: the real service on 127.0.0.1:0, called over HTTP. One test
//! binary, one module per resource.

mod auth;
mod bad_requests;
mod catalog;
mod compare;
mod contract;
mod estimate;
mod helpers;
mod jobs;
mod openapi;
mod operations;
mod partials;

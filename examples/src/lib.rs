//! Runnable examples of the `session` crate, as a library so tests can start them.
//!
//! - [`shop`]: a small server-rendered web shop on axum (the `shop` binary).

pub mod shop;

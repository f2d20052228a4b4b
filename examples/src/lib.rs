//! Runnable examples of the `typed-sessions` crate, as a library so tests can start them.
//!
//! - [`shop`]: a small server-rendered web shop on axum (the `shop` binary).
//! - [`actix_shop`]: the same shop on actix-web (the `actix_shop` binary), sharing the
//!   session cookie with the axum one.
//! - [`load`]: the session the load servers measure; [`config`]: what the binaries read from
//!   the environment; [`serve`]: the axum binaries' server loop, with the timeouts a
//!   public server needs.

pub mod actix_shop;
pub mod config;
pub mod load;
pub mod serve;
pub mod shop;

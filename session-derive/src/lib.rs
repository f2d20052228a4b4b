//! Derive macros for the `session` crate.

//! Derive macros for the [`typed-sessions`](https://docs.rs/typed-sessions) crate:
//! `#[derive(SessionSchema)]` and `#[flash_queue]`. Use them through `typed-sessions`, which
//! re-exports them and which the code they generate refers to.
//!
//! Each macro goes parse (`attr.rs`, `ast.rs`) -> validate (`valid.rs`) -> expand
//! (`expand.rs`), collecting every error on a `Ctxt` (`ctxt.rs`). `expand.rs` is the one
//! place that falls back: with errors, `fallback.rs` emits stubs beside them so the rest of
//! the user's code still type-checks. `accessor.rs` lists a field's accessors once for all
//! three stages.

#![deny(missing_docs)]

mod accessor;
mod ast;
mod attr;
mod case;
mod ctxt;
mod expand;
mod fallback;
// The runtime's reserved keys and method names: one file, compiled into both crates. The
// file here is a symlink to the runtime's: `cargo package` copies its text into this
// crate's tarball, where a `#[path]` out of the package would not build.
mod reserved;
mod symbol;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

#[doc = include_str!("../doc/session_schema.md")]
#[proc_macro_derive(SessionSchema, attributes(session))]
pub fn derive_session_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_schema(&input).into()
}

#[doc = include_str!("../doc/flash_queue.md")]
#[proc_macro_attribute]
pub fn flash_queue(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::flash_queue(args.into(), item.into()).into()
}

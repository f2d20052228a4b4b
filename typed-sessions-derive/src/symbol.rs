//! The words of the macros' attributes, each spelt once, as serde_derive's
//! `internals/symbol.rs` does: a misspelt word is then a compile error, not an attribute that
//! silently never matches.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// One word of an attribute: `session`, `rename`, `"missing"`, ...
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

// The attributes: `#[session(...)]` on a schema and its fields, `#[flash(...)]` on a flash
// queue's variants, and the attribute macro `#[flash_queue(...)]` itself.
pub(crate) const SESSION: Symbol = Symbol("session");
pub(crate) const FLASH: Symbol = Symbol("flash");
pub(crate) const FLASH_QUEUE: Symbol = Symbol("flash_queue");

// Their items.
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const ON_WRONG_TYPE: Symbol = Symbol("on_wrong_type");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const DEFAULT: Symbol = Symbol("default");
pub(crate) const ALIAS: Symbol = Symbol("alias");
pub(crate) const MIGRATE: Symbol = Symbol("migrate");
pub(crate) const MERGE: Symbol = Symbol("merge");
pub(crate) const ON_CONFLICT: Symbol = Symbol("on_conflict");
pub(crate) const QUEUE: Symbol = Symbol("queue");

// The values of `on_wrong_type`.
pub(crate) const ERROR: Symbol = Symbol("error");
pub(crate) const MISSING: Symbol = Symbol("missing");
pub(crate) const SKIP: Symbol = Symbol("skip");

// The values of `on_conflict`.
pub(crate) const OVERWRITE: Symbol = Symbol("overwrite");
pub(crate) const REJECT: Symbol = Symbol("reject");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

/// A string literal's value against a word (`on_wrong_type = "missing"`).
impl PartialEq<Symbol> for str {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

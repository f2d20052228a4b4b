//! The typed layer: the traits `#[derive(SessionSchema)]` implements and requires, and the
//! field guard it returns. What the generated code calls is in [`private`], hidden.
//!
//! Generated code stays thin because of one trick: each field becomes one `const` of type
//! `__private::Field<T>`, built by a function that requires `T: SessionValue` and that
//! captures `T`'s serde functions as function pointers. Every accessor is then a one-line
//! call on that const, the logic exists once in the runtime, and a field type that is not a
//! [`SessionValue`] gives exactly one error, on the field's type.

mod check;
mod guard;
pub mod private;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::SessionError;
use crate::session::Session;

pub use check::{FieldReport, FieldStatus, SchemaReport};
pub use guard::FieldMut;

/// A type that can be stored in a session: it round-trips through JSON with serde.
///
/// Implemented for every `Serialize + DeserializeOwned` type; you never implement it
/// yourself. `#[derive(SessionSchema)]` and `#[flash_queue]` require it of every field, so a
/// type that cannot be stored is a compile error that points at the field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a session",
    label = "not `Serialize + DeserializeOwned`",
    note = "session values are JSON: `{Self}` and the types in it need `#[derive(serde::Serialize, serde::Deserialize)]`"
)]
pub trait SessionValue: Serialize + DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> SessionValue for T {}

/// A type that can be the key of a map stored in a session: it serializes as a JSON
/// object key, that is as a string or an integer.
///
/// `#[derive(SessionSchema)]` requires it of the key type of every `HashMap` / `BTreeMap`
/// it sees in a field's type, because serde accepts maps with any key but `serde_json`
/// rejects most of them only when the session is saved. It is implemented for strings,
/// `char`, the integer types and the `std::net` address types. Implement it for your own
/// type when that type serializes as a string or an integer (a unit-only enum, a newtype
/// around `String` or `u64`):
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq, Hash)]
/// enum Size {
///     Small,
///     Large,
/// }
///
/// impl typed_sessions::JsonKey for Size {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a JSON object key",
    label = "the key type of a map in a session field",
    note = "JSON object keys are strings: key the map by `String`, an integer type or `char`",
    note = "if `{Self}` serializes as a string or an integer (a unit-only enum, a newtype around `String`), add `impl typed_sessions::JsonKey for {Self} {{}}`"
)]
pub trait JsonKey {}

macro_rules! json_keys {
    ($($ty:ty),* $(,)?) => {$(
        impl JsonKey for $ty {}
    )*};
}

json_keys!(
    String,
    str,
    Box<str>,
    std::rc::Rc<str>,
    std::sync::Arc<str>,
    std::borrow::Cow<'_, str>,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    std::num::NonZeroI8,
    std::num::NonZeroI16,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::num::NonZeroI128,
    std::num::NonZeroIsize,
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroU128,
    std::num::NonZeroUsize,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
    std::net::SocketAddrV4,
    std::net::SocketAddrV6,
);

/// A struct whose fields are session keys: implemented by `#[derive(SessionSchema)]`.
///
/// Besides this trait, the derive generates an extension trait named after the struct
/// (`Shop` gets `ShopExt`) with typed accessors for each field, implemented for
/// [`Session`]. See the [derive's documentation](macro@crate::SessionSchema).
pub trait SessionSchema: Sized {
    /// The session keys of the fields, in field order.
    const KEYS: &'static [&'static str];

    /// The older keys of the fields (`#[session(alias = "...")]`), read when a field's key is
    /// absent and removed when the field is written.
    const ALIASES: &'static [&'static str] = &[];

    /// Reads every field from the session, with each field's rules for a missing key and
    /// for a value of another type. An error names the first key that fails.
    fn load(session: &Session) -> Result<Self, SessionError>;

    /// Writes every field to the session (removing their older keys) and marks it changed.
    /// All fields are serialized before any is written: on error the session is unchanged.
    fn store(&self, session: &mut Session) -> Result<(), SessionError>;

    /// How each field's stored value reads under the current schema, migrations included,
    /// without changing anything (not even the access time): for logs, a health page, and
    /// tests of recorded sessions (the test kit's `testing::Fixtures`, feature `testing`).
    ///
    /// A value that neither decodes nor migrates is a problem whatever the field's
    /// `on_wrong_type` rule, since reading it as missing would drop it.
    fn check(session: &Session) -> SchemaReport;

    /// Removes the schema's keys (and their older keys) from the session, whatever they
    /// hold. Marks the session changed if any was there.
    fn clear(session: &mut Session) {
        for key in Self::KEYS.iter().chain(Self::ALIASES) {
            session.remove(key);
        }
    }
}

/// What a typed read does with a stored value that does not decode as its Rust type (and
/// that no migration reads): an older deploy, or a Pyramid app sharing the session, wrote
/// another shape.
///
/// Set with `#[session(on_wrong_type = "error" | "missing")]` on a schema or a field, and
/// `#[flash_queue(on_wrong_type = "error" | "skip")]` on a flash queue enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnWrongType {
    /// The read fails with [`SessionError::WrongType`], naming the key and the type; the
    /// value stays in the session.
    Error,
    /// The value is read as if it were missing (a field reads as `None` or its default, a
    /// flash message is skipped), with a `tracing::warn!` naming the key and the type. The
    /// stored value stays until the app writes the field (or pops the queue). The default:
    /// see the derive's documentation for why.
    #[default]
    Ignore,
}

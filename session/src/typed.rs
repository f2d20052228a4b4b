//! The typed layer: what `#[derive(SessionSchema)]` and `#[flash_queue]` generate code
//! against. The traits and the field guard are public; the generic functions the generated
//! code calls live in the hidden [`__private`] module.
//!
//! Generated code stays thin because of one trick: each field becomes one `const` of type
//! `__private::Field<T>`, built by a function that requires `T: SessionValue` and that
//! captures `T`'s serde functions as function pointers. Every accessor is then a one-line
//! call on that const, the logic exists once here, and a field type that is not a
//! [`SessionValue`] gives exactly one error, on the field's type.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use serde::Serialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::SessionError;
use crate::flash::Flash;
use crate::session::{FLASH_PREFIX, Session};

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
/// impl session::JsonKey for Size {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a JSON object key",
    label = "the key type of a map in a session field",
    note = "JSON object keys are strings: key the map by `String`, an integer type or `char`",
    note = "if `{Self}` serializes as a string or an integer (a unit-only enum, a newtype around `String`), add `impl session::JsonKey for {Self} {{}}`"
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

    /// Reads every field from the session, with each field's rules for a missing key.
    /// An error names the first key that is missing or holds a value of the wrong type.
    fn load(session: &Session) -> Result<Self, SessionError>;

    /// Writes every field to the session and marks it changed. All fields are serialized
    /// before any is written: on error the session is unchanged.
    fn store(&self, session: &mut Session) -> Result<(), SessionError>;

    /// Removes the schema's keys from the session, whatever they hold. Marks the session
    /// changed if any was there.
    fn clear(session: &mut Session) {
        for key in Self::KEYS {
            if session.contains_key(key) {
                session.remove(key);
            }
        }
    }
}

/// A mutable borrow of a typed session value that writes it back when dropped.
///
/// Returned by the `<field>_mut()` accessors of `#[derive(SessionSchema)]`. It derefs to the
/// value. If the value was borrowed mutably (through [`DerefMut`]), dropping the guard
/// serializes it back into the session and marks the session changed, so Pyramid's "call
/// `changed()` after mutating a mutable value" cannot be forgotten. If it was only read,
/// the session is left as it was, and no cookie is issued because of the guard.
///
/// Drop cannot return an error: if serializing fails there, the failure is recorded on
/// the session and the factory's next `save` returns it (writing no cookie). Call
/// [`commit`](Self::commit) to get the error where it happens instead.
///
/// The guard borrows the session mutably, and is deliberately not `Send`: keep it for a
/// statement or a block, never across an `.await` (in an async handler the session sits
/// behind a lock that the guard would keep held).
///
/// ```compile_fail
/// # use session::{Session, FieldMut};
/// fn assert_send<T: Send>(_: T) {}
/// fn guard(g: FieldMut<'_, Vec<u32>>) { assert_send(g) }
/// ```
pub struct FieldMut<'a, T> {
    session: &'a mut Session,
    key: &'a str,
    value: T,
    write: fn(&mut Session, &str, &T) -> Result<(), SessionError>,
    mutated: bool,
    /// Not `Send`: see the type's documentation.
    _not_send: PhantomData<*const ()>,
}

impl<T> FieldMut<'_, T> {
    /// The session key the guard writes back to.
    pub fn key(&self) -> &str {
        self.key
    }

    /// Whether the value was borrowed mutably, so that dropping the guard writes it back.
    pub fn is_mutated(&self) -> bool {
        self.mutated
    }

    /// Writes the value back now, if it was borrowed mutably, and returns the error that
    /// dropping the guard would have recorded on the session.
    pub fn commit(mut self) -> Result<(), SessionError> {
        self.write_back()
    }

    fn write_back(&mut self) -> Result<(), SessionError> {
        if !std::mem::take(&mut self.mutated) {
            return Ok(());
        }
        (self.write)(self.session, self.key, &self.value)
    }
}

impl<T> Deref for FieldMut<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for FieldMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.mutated = true;
        &mut self.value
    }
}

impl<T> Drop for FieldMut<'_, T> {
    fn drop(&mut self) {
        if let Err(err) = self.write_back() {
            let reason = match err {
                SessionError::Unserializable { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            tracing::warn!(key = %self.key, %reason, "a session guard failed to write back");
            self.session.record_failed_write(self.key, reason);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for FieldMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldMut")
            .field("key", &self.key)
            .field("value", &self.value)
            .field("mutated", &self.mutated)
            .finish()
    }
}

/// A `#[flash_queue]` enum: each variant is a flash queue, and its payload is the message.
///
/// Implemented by the attribute macro, together with [`Flash`] (which routes a value to its
/// variant's queue). Read the queues back with the [`FlashExt`] methods on [`Session`].
pub trait FlashQueue: Flash + Sized {
    /// The queue names, in variant order.
    const QUEUES: &'static [&'static str];

    /// Decodes a message taken from `queue` as the variant of that queue.
    ///
    /// A [`SessionError::WrongType`] naming the queue's key and the variant when the message
    /// does not decode (another app put something else in the queue), or when `queue` is
    /// not one of [`QUEUES`](Self::QUEUES).
    fn from_message(queue: &str, message: Value) -> Result<Self, SessionError>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Session {}
}

/// Typed flash reads on a [`Session`], for a [`FlashQueue`] enum `N`.
///
/// Writing needs nothing extra: [`Session::flash`] and [`Session::flash_unique`] take a
/// `#[flash_queue]` value and append it to its variant's queue.
///
/// A queued message that does not decode as its queue's variant (another app wrote it)
/// is never dropped: the call returns the error and, for the `pop_*` methods, leaves every
/// queue as it was. Drain such a queue with the untyped [`Session::pop_flash`].
pub trait FlashExt: sealed::Sealed {
    /// The messages of all of `N`'s queues, in variant order, without removing them.
    fn peek_flashes<N: FlashQueue>(&self) -> Result<Vec<N>, SessionError>;

    /// Removes and returns the messages of all of `N`'s queues, in variant order. On error
    /// nothing is removed. Marks the session changed when a queue was there.
    fn pop_flashes<N: FlashQueue>(&mut self) -> Result<Vec<N>, SessionError>;

    /// The messages of one of `N`'s queues, without removing them.
    ///
    /// # Panics
    ///
    /// When `queue` is not one of [`N::QUEUES`](FlashQueue::QUEUES): a misspelt queue name
    /// is a bug, not an empty queue.
    fn peek_flashes_from<N: FlashQueue>(&self, queue: &str) -> Result<Vec<N>, SessionError>;

    /// Removes and returns the messages of one of `N`'s queues. On error nothing is
    /// removed. Marks the session changed when the queue was there.
    ///
    /// # Panics
    ///
    /// When `queue` is not one of [`N::QUEUES`](FlashQueue::QUEUES).
    fn pop_flashes_from<N: FlashQueue>(&mut self, queue: &str) -> Result<Vec<N>, SessionError>;
}

impl FlashExt for Session {
    fn peek_flashes<N: FlashQueue>(&self) -> Result<Vec<N>, SessionError> {
        let mut out = Vec::new();
        for queue in N::QUEUES {
            decode_queue(self, queue, &mut out)?;
        }
        Ok(out)
    }

    fn pop_flashes<N: FlashQueue>(&mut self) -> Result<Vec<N>, SessionError> {
        let out = self.peek_flashes()?;
        for queue in N::QUEUES {
            remove_queue(self, queue);
        }
        Ok(out)
    }

    fn peek_flashes_from<N: FlashQueue>(&self, queue: &str) -> Result<Vec<N>, SessionError> {
        assert_queue::<N>(queue);
        let mut out = Vec::new();
        decode_queue(self, queue, &mut out)?;
        Ok(out)
    }

    fn pop_flashes_from<N: FlashQueue>(&mut self, queue: &str) -> Result<Vec<N>, SessionError> {
        let out = self.peek_flashes_from(queue)?;
        remove_queue(self, queue);
        Ok(out)
    }
}

fn assert_queue<N: FlashQueue>(queue: &str) {
    assert!(
        N::QUEUES.contains(&queue),
        "`{queue}` is not a queue of `{}`; its queues are {:?}",
        std::any::type_name::<N>(),
        N::QUEUES,
    );
}

fn decode_queue<N: FlashQueue>(
    session: &Session,
    queue: &str,
    out: &mut Vec<N>,
) -> Result<(), SessionError> {
    for message in session.peek_flash(queue)? {
        out.push(N::from_message(queue, message)?);
    }
    Ok(())
}

fn remove_queue(session: &mut Session, queue: &str) {
    let key = flash_key(queue);
    if session.contains_key(&key) {
        session.remove(&key);
    }
}

fn flash_key(queue: &str) -> String {
    [FLASH_PREFIX, queue].concat()
}

/// A deserializer for a key that is not there: `Option`s (and anything else that asks for
/// an option) read as `None`, every other type fails. This finds "missing reads as `None`"
/// for any spelling of `Option` (an alias, a path) without looking at the syntax.
struct Missing;

impl<'de> Deserializer<'de> for Missing {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("missing"))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// What generated code calls. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    use super::*;

    pub use crate::error::SessionError;
    pub use crate::flash::Flash;
    pub use crate::session::Session;
    pub use crate::typed::{FieldMut, FlashQueue, SessionSchema};
    pub use serde;
    pub use serde_json;
    pub use serde_json::Value;

    /// `T`'s serde functions, captured where `T: SessionValue` is proven, so that the
    /// functions below need no bound (and a bad field type gives one error, not one per
    /// accessor).
    pub struct Codec<T> {
        get: fn(&Session, &str) -> Result<Option<T>, SessionError>,
        insert: fn(&mut Session, &str, &T) -> Result<(), SessionError>,
        remove: fn(&mut Session, &str) -> Result<Option<T>, SessionError>,
        missing: fn() -> Option<T>,
        to_raw: fn(&T) -> Result<Box<RawValue>, serde_json::Error>,
        to_value: fn(&T) -> Result<Value, serde_json::Error>,
        from_value: fn(Value) -> Result<T, serde_json::Error>,
    }

    impl<T> Clone for Codec<T> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<T> Copy for Codec<T> {}

    /// The codec of a field or payload type; the one place that requires `SessionValue`.
    pub const fn codec<T: SessionValue>() -> Codec<T> {
        Codec {
            get: Session::get_as::<T>,
            insert: insert::<T>,
            remove: Session::remove_as::<T>,
            missing: missing::<T>,
            to_raw: to_raw::<T>,
            to_value: to_value::<T>,
            from_value: serde_json::from_value::<T>,
        }
    }

    fn insert<T: Serialize>(
        session: &mut Session,
        key: &str,
        value: &T,
    ) -> Result<(), SessionError> {
        session.insert_as(key, value)
    }

    fn missing<T: DeserializeOwned>() -> Option<T> {
        T::deserialize(Missing).ok()
    }

    fn to_raw<T: Serialize>(value: &T) -> Result<Box<RawValue>, serde_json::Error> {
        serde_json::value::to_raw_value(value)
    }

    fn to_value<T: Serialize>(value: &T) -> Result<Value, serde_json::Error> {
        serde_json::to_value(value)
    }

    /// One field of a `#[derive(SessionSchema)]` struct: its key, codec and what a missing
    /// key reads as.
    pub struct Field<T> {
        key: &'static str,
        codec: Codec<T>,
        default: Option<fn() -> T>,
    }

    /// A field stored under `key`. A missing key reads as `None` for an `Option` and is
    /// [`SessionError::Missing`] otherwise.
    pub const fn field<T: SessionValue>(key: &'static str) -> Field<T> {
        Field {
            key,
            codec: codec::<T>(),
            default: None,
        }
    }

    impl<T> Field<T> {
        /// `#[session(default)]`: a missing key reads as `default()`.
        pub const fn or_default(self, default: fn() -> T) -> Self {
            Self {
                default: Some(default),
                ..self
            }
        }

        fn missing(&self) -> Result<T, SessionError> {
            if let Some(default) = self.default {
                return Ok(default());
            }
            (self.codec.missing)().ok_or_else(|| SessionError::Missing {
                key: self.key.to_owned(),
            })
        }

        /// `field()`
        pub fn read(&self, session: &Session) -> Result<T, SessionError> {
            match (self.codec.get)(session, self.key)? {
                Some(value) => Ok(value),
                None => self.missing(),
            }
        }

        /// `set_field(value)`
        pub fn write(&self, session: &mut Session, value: &T) -> Result<(), SessionError> {
            (self.codec.insert)(session, self.key, value)
        }

        /// `field_mut()`
        pub fn guard<'a>(&self, session: &'a mut Session) -> Result<FieldMut<'a, T>, SessionError> {
            let value = self.read(session)?;
            Ok(FieldMut {
                session,
                key: self.key,
                value,
                write: self.codec.insert,
                mutated: false,
                _not_send: PhantomData,
            })
        }

        /// `take_field()`
        pub fn take(&self, session: &mut Session) -> Result<T, SessionError> {
            match (self.codec.remove)(session, self.key)? {
                Some(value) => Ok(value),
                None => self.missing(),
            }
        }

        /// `remove_field()`
        pub fn remove(&self, session: &mut Session) -> bool {
            let present = session.contains_key(self.key);
            if present {
                session.remove(self.key);
            }
            present
        }

        /// One field of `SessionSchema::store`.
        pub fn encode(&self, value: &T) -> Result<(&'static str, Box<RawValue>), SessionError> {
            match (self.codec.to_raw)(value) {
                Ok(raw) => Ok((self.key, raw)),
                Err(err) => Err(SessionError::Unserializable {
                    key: self.key.to_owned(),
                    source: err,
                }),
            }
        }
    }

    /// `SessionSchema::store`: writes the fields only when all of them serialized.
    pub fn store<const N: usize>(
        session: &mut Session,
        fields: [Result<(&'static str, Box<RawValue>), SessionError>; N],
    ) -> Result<(), SessionError> {
        let fields = fields.into_iter().collect::<Result<Vec<_>, _>>()?;
        for (key, raw) in &fields {
            session.insert_as(key, raw)?;
        }
        Ok(())
    }

    /// `const _: fn() = || assert_json_key::<K>();` for a map key type `K` in a field.
    pub const fn assert_json_key<K: JsonKey + ?Sized>() {}

    impl<T> Codec<T> {
        /// A variant's payload as the message of `queue`.
        pub fn message(&self, queue: &str, value: &T) -> Result<Value, SessionError> {
            (self.to_value)(value).map_err(|err| SessionError::Unserializable {
                key: flash_key(queue),
                source: err,
            })
        }

        /// One named field of a struct variant's message.
        pub fn member(
            &self,
            object: &mut serde_json::Map<String, Value>,
            name: &str,
            value: &T,
        ) -> Result<(), serde_json::Error> {
            object.insert(name.to_owned(), (self.to_value)(value)?);
            Ok(())
        }

        /// A newtype variant's payload from a message.
        pub fn decode(&self, message: Value) -> Result<T, serde_json::Error> {
            (self.from_value)(message)
        }

        /// One named field of a struct variant from its message; a missing field reads as
        /// `None` for an `Option`, as serde does.
        pub fn take_member(
            &self,
            object: &mut serde_json::Map<String, Value>,
            name: &'static str,
        ) -> Result<T, serde_json::Error> {
            match object.remove(name) {
                Some(value) => (self.from_value)(value),
                None => (self.missing)().ok_or_else(|| de::Error::missing_field(name)),
            }
        }
    }

    /// A struct variant's message: the JSON object `build` fills in.
    pub fn object_message(
        queue: &str,
        build: impl FnOnce(&mut serde_json::Map<String, Value>) -> Result<(), serde_json::Error>,
    ) -> Result<Value, SessionError> {
        let mut object = serde_json::Map::new();
        match build(&mut object) {
            Ok(()) => Ok(Value::Object(object)),
            Err(err) => Err(SessionError::Unserializable {
                key: flash_key(queue),
                source: err,
            }),
        }
    }

    /// A newtype variant decoded from a message of `queue`, or the error naming the queue's
    /// key and the variant `expected` (`"Notice::Success"`).
    pub fn decode<N>(
        queue: &str,
        expected: &'static str,
        decoded: Result<N, serde_json::Error>,
    ) -> Result<N, SessionError> {
        decoded.map_err(|err| wrong_message(queue, expected, err))
    }

    /// Decodes a struct variant's message: a JSON object whose members `decode` takes.
    pub fn decode_object<N>(
        queue: &str,
        expected: &'static str,
        message: Value,
        decode: impl FnOnce(&mut serde_json::Map<String, Value>) -> Result<N, serde_json::Error>,
    ) -> Result<N, SessionError> {
        let result = match message {
            Value::Object(mut object) => decode(&mut object),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a JSON object",
            )),
        };
        result.map_err(|err| wrong_message(queue, expected, err))
    }

    /// `from_message` for a queue the enum does not have.
    pub fn unknown_queue(queue: &str, expected: &'static str) -> SessionError {
        wrong_message(
            queue,
            expected,
            de::Error::custom(format_args!("`{queue}` is not a queue of `{expected}`")),
        )
    }

    fn wrong_message(
        queue: &str,
        expected: &'static str,
        source: serde_json::Error,
    ) -> SessionError {
        SessionError::WrongType {
            key: flash_key(queue),
            expected,
            source,
        }
    }

    fn unexpected(value: &Value) -> de::Unexpected<'_> {
        match value {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Number(_) => de::Unexpected::Other("a number"),
            Value::String(s) => de::Unexpected::Str(s),
            Value::Array(_) => de::Unexpected::Seq,
            Value::Object(_) => de::Unexpected::Map,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::__private::*;
    use super::*;

    #[test]
    fn missing_reads_none_for_options_only() {
        type Maybe<T> = Option<T>;
        let session = Session::new();
        assert_eq!(field::<Maybe<u32>>("a").read(&session).unwrap(), None);
        assert_eq!(field::<Option<Vec<u8>>>("a").read(&session).unwrap(), None);
        let err = field::<u32>("a").read(&session).unwrap_err();
        assert!(matches!(err, SessionError::Missing { ref key } if key == "a"));
        assert!(field::<Value>("a").read(&session).is_err());
        let field = field::<Vec<u8>>("a").or_default(Vec::new);
        assert_eq!(field.read(&session).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn a_guard_writes_back_only_when_mutated() {
        let mut session = Session::new();
        session.insert("n", 1);
        let field = field::<u32>("n");
        {
            let guard = field.guard(&mut session).unwrap();
            assert_eq!(*guard, 1);
            assert!(!guard.is_mutated());
        }
        assert_eq!(session.get("n"), Some(&Value::from(1)));
        {
            let mut guard = field.guard(&mut session).unwrap();
            *guard += 1;
            assert!(guard.is_mutated());
        }
        assert_eq!(field.read(&session).unwrap(), 2);
    }

    #[test]
    fn commit_writes_once() {
        let mut session = Session::new();
        let field = field::<Vec<u32>>("v").or_default(Vec::new);
        let mut guard = field.guard(&mut session).unwrap();
        guard.push(3);
        guard.commit().unwrap();
        assert_eq!(field.read(&session).unwrap(), vec![3]);
    }

    #[test]
    fn store_is_all_or_nothing() {
        use std::collections::HashMap;
        let mut session = Session::new();
        let good = field::<u32>("good");
        let bad = field::<HashMap<Vec<u8>, u8>>("bad");
        let map = HashMap::from([(vec![1], 1)]);
        let err = store(&mut session, [good.encode(&1), bad.encode(&map)]).unwrap_err();
        assert_eq!(err.key(), Some("bad"));
        assert!(!session.contains_key("good"));
    }

    #[test]
    #[should_panic(expected = "`nope` is not a queue of")]
    fn unknown_queue_names_panic() {
        struct N;
        impl Flash for N {
            fn queue(&self) -> &str {
                "a"
            }
            fn into_message(self) -> Result<Value, SessionError> {
                Ok(Value::Null)
            }
        }
        impl FlashQueue for N {
            const QUEUES: &'static [&'static str] = &["a"];
            fn from_message(_: &str, _: Value) -> Result<Self, SessionError> {
                Ok(N)
            }
        }
        let _ = Session::new().peek_flashes_from::<N>("nope");
    }
}

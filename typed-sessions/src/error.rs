//! Errors a caller may branch on: building a factory, reading or writing a value, saving.

use std::fmt;

/// A factory configuration that cannot work; returned by the builder's `build`, never at
/// request time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An empty secret where a cookie must be signed: Beaker's ids are then accepted as the
    /// client sends them (see [`BeakerIdCodec::unsigned`](crate::codec::BeakerIdCodec::unsigned)).
    #[error(
        "the secret is empty, so session ids would be unsigned; give the Pyramid app's \
         `session.secret`, or call `BeakerIdCodec::unsigned()` if it truly has none"
    )]
    EmptySecret,
    /// The secret puts fewer than [`MIN_SECRET_LEN`](crate::MIN_SECRET_LEN) bytes into the
    /// HMAC key and short secrets were not explicitly allowed.
    #[error(
        "the secret is {len} bytes; use at least {min} random bytes, or call \
         `allow_short_secret()` to accept it (only for interop with an existing app)"
    )]
    ShortSecret {
        /// Length of the rejected secret in bytes, as the HMAC key holds it: a text secret
        /// that is signed as Latin-1 counts one byte per character.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// The cookie name is empty or has characters a cookie name cannot hold.
    #[error("`{0}` is not a valid cookie name")]
    InvalidCookieName(String),
    /// The cookie path or domain has characters a `Set-Cookie` header cannot hold.
    #[error("the cookie {attribute} `{value}` has characters a Set-Cookie header cannot hold")]
    InvalidAttribute {
        /// `path` or `domain`.
        attribute: &'static str,
        /// The rejected value.
        value: String,
    },
    /// `SameSite=None` without `Secure`: browsers drop such cookies.
    #[error("`SameSite=None` requires `secure(true)`; browsers reject the cookie otherwise")]
    SameSiteNoneWithoutSecure,
    /// `partitioned(true)` without `Secure`: browsers reject a `Partitioned` cookie that is
    /// not `Secure`.
    #[error("`partitioned(true)` requires `secure(true)`; browsers reject the cookie otherwise")]
    PartitionedWithoutSecure,
    /// A cookie name starting `__Secure-` (in any case) without `Secure`: browsers reject
    /// it.
    #[error(
        "the cookie name `{name}` starts with `__Secure-`, which requires `secure(true)`; \
         browsers reject the cookie otherwise"
    )]
    SecurePrefixWithoutSecure {
        /// The cookie name.
        name: String,
    },
    /// A cookie name starting `__Host-` (in any case) without `Secure`: browsers reject it.
    #[error(
        "the cookie name `{name}` starts with `__Host-`, which requires `secure(true)`; \
         browsers reject the cookie otherwise"
    )]
    HostPrefixWithoutSecure {
        /// The cookie name.
        name: String,
    },
    /// A cookie name starting `__Host-` (in any case) with a `Path` other than `/`, or
    /// none: browsers reject it.
    #[error(
        "the cookie name `{name}` starts with `__Host-`, which requires the path `/` (not \
         {}); browsers reject the cookie otherwise",
        path.as_deref().map_or_else(|| "none".to_owned(), |path| format!("`{path}`"))
    )]
    HostPrefixWithoutRootPath {
        /// The cookie name.
        name: String,
        /// The path set, if any.
        path: Option<String>,
    },
    /// A cookie name starting `__Host-` (in any case) with a `Domain`: browsers reject it.
    #[error(
        "the cookie name `{name}` starts with `__Host-`, which forbids a domain (not \
         `{domain}`); browsers reject the cookie otherwise"
    )]
    HostPrefixWithDomain {
        /// The cookie name.
        name: String,
        /// The domain set.
        domain: String,
    },
    /// A hash algorithm name that is not one of sha1, sha256, sha384, sha512.
    #[error("unknown hash algorithm `{0}`: expected sha1, sha256, sha384 or sha512")]
    UnknownHashAlg(String),
    /// An encryption key (current or fallback) that is not exactly 32 bytes: NaCl's
    /// `secretbox` takes 32 raw bytes.
    #[error(
        "the encryption key is {len} bytes; it must be exactly {expected} random bytes \
         (a key written as {hex_len} hex characters goes through `EncryptionKey::from_hex`)",
        hex_len = 2 * expected
    )]
    KeyLength {
        /// Length of the rejected key in bytes.
        len: usize,
        /// The required length (32).
        expected: usize,
    },
    /// A cookie-size fallback (`option`: compression) asked for after
    /// [`pyramid_defaults`](crate::Builder::pyramid_defaults) or with the Pickle
    /// serializer: a Pyramid app could not read the cookies it writes.
    #[error(
        "`{option}` writes cookies a Pyramid app cannot read; it cannot be combined with \
         `pyramid_defaults()` or the Pickle serializer"
    )]
    NotInPyramidMode {
        /// The builder option refused.
        option: &'static str,
    },
    /// A [`SpillingSessionFactory`](crate::SpillingSessionFactory) whose server factory's
    /// cookie has the cookie factory's name, or one of its chunks' (`name.1`, ...): the two
    /// cookies must be told apart.
    #[error("the spill cookie `{name}` must differ from the session cookie and its chunks")]
    SpillCookieName {
        /// The server factory's cookie name.
        name: String,
    },
    /// [`chunks`](crate::Builder::chunks) outside 1 to [`MAX_CHUNKS`](crate::MAX_CHUNKS).
    #[error("`chunks({max})`: a session is written in 1 to 9 cookies")]
    ChunkCount {
        /// The count asked for.
        max: usize,
    },
    /// A key given as hex (`EncryptionKey::from_hex`) that is not an even number of hex
    /// digits.
    #[error("the encryption key is not hex: expected an even number of hex digits 0-9, a-f")]
    KeyNotHex,
}

/// An error reading, writing or saving session values. Each names the key or the size
/// involved, so a log line says what went wrong without a debugger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The key holds a value that does not decode as the requested Rust type. The stored
    /// value is left as it was.
    #[error("session key `{key}` does not hold a `{expected}`: {source}")]
    WrongType {
        /// The session key.
        key: String,
        /// The Rust type that was asked for.
        expected: &'static str,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A required key is not in the session.
    #[error("session key `{key}` is missing")]
    Missing {
        /// The session key.
        key: String,
    },
    /// A value could not be turned into JSON (for example a map with non-string keys).
    #[error("session key `{key}` cannot be stored as JSON: {source}")]
    Unserializable {
        /// The session key.
        key: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The session's cookie would break one of the factory's size budgets (see
    /// [`Budget`](crate::Budget)), even after the fallbacks it has (compression), so nothing
    /// was written: a browser would drop the cookie, or a proxy refuse the next request.
    /// The client keeps its previous cookie; through the adapters the request is answered
    /// with the factory's [`on_oversized`](crate::Builder::on_oversized) status.
    #[error("the session cookie's {budget} would be {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Which budget the cookie would break.
        budget: crate::Budget,
        /// How many bytes it would take, measured as the budget counts them.
        size: usize,
        /// The budget's limit in bytes.
        limit: usize,
    },
    /// A typed flash read named a queue its `#[flash_queue]` enum does not have (a queue
    /// name taken from a request, say). Nothing was read or removed.
    #[error("`{queue}` is not a flash queue of `{flash_type}`; its queues are {queues:?}")]
    UnknownFlashQueue {
        /// The queue asked for.
        queue: String,
        /// The `#[flash_queue]` enum.
        flash_type: &'static str,
        /// Its queues.
        queues: &'static [&'static str],
    },
    /// The codec produced a cookie value that a `Set-Cookie` header cannot hold (only a
    /// custom [`CookieCodec`](crate::codec::CookieCodec) can). Nothing is written.
    #[error("the cookie codec produced a value a Set-Cookie header cannot hold")]
    InvalidCookieValue,
    /// The operating system's random source failed, so no CSRF token, session id or nonce
    /// could be drawn. Nothing was stored or written; through the axum layer the request
    /// gets a `500`.
    #[error("the operating system's random source failed: {source}")]
    RandomSource {
        /// What the random source said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl SessionError {
    /// The session key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::WrongType { key, .. }
            | Self::Missing { key }
            | Self::Unserializable { key, .. } => Some(key),
            Self::TooLarge { .. }
            | Self::UnknownFlashQueue { .. }
            | Self::InvalidCookieValue
            | Self::RandomSource { .. } => None,
        }
    }

    /// The budget broken and by how much, when the error is a cookie too large to write.
    pub fn overflow(&self) -> Option<crate::Overflow> {
        match *self {
            Self::TooLarge {
                budget,
                size,
                limit,
            } => Some(crate::Overflow {
                budget,
                size,
                limit,
            }),
            _ => None,
        }
    }

    pub(crate) fn wrong_type<T: ?Sized>(key: &str, source: serde_json::Error) -> Self {
        Self::wrong_type_named(key, std::any::type_name::<T>(), source)
    }

    pub(crate) fn wrong_type_named(
        key: &str,
        expected: &'static str,
        source: serde_json::Error,
    ) -> Self {
        Self::WrongType {
            key: key.to_owned(),
            expected,
            source,
        }
    }

    /// A failure of the operating system's random source, for a codec of your own that
    /// draws randomness (as the encrypted codec draws its nonces).
    pub fn random_source(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::RandomSource {
            source: source.into(),
        }
    }

    pub(crate) fn unserializable(key: &str, source: serde_json::Error) -> Self {
        Self::Unserializable {
            key: key.to_owned(),
            source,
        }
    }
}

/// Why a request's session cookie was not used. The request gets a fresh, empty session
/// instead; this says why, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// The value is not URL-safe base64.
    BadBase64,
    /// The decoded value is shorter than the signature.
    TooShort,
    /// The signature does not match under the secret, salt and hash algorithm (or any
    /// fallback secret); for the encrypted codec, the authentication tag does not match
    /// under any key.
    BadSignature,
    /// The signed payload is not UTF-8.
    NotUtf8,
    /// The signed payload is not JSON (or nests deeper than the parser allows).
    NotJson,
    /// The payload is not a 3-element array `[accessed, created, state]`.
    NotArray,
    /// `accessed` or `created` is not a number.
    BadTimestamp,
    /// The state is not a JSON object.
    StateNotObject,
    /// The payload is a pickle that holds more than data (an object, a global, a call), or
    /// is malformed: refused by [`pickle::loads`](crate::pickle::loads), whose reason is
    /// logged at warning level. Nothing in it was run.
    PickleRefused,
    /// The session was not renewed within the factory's timeout.
    TimedOut,
    /// The signed value is not a server-side session id.
    BadSessionId,
    /// The store has no session under the cookie's id: it expired or was deleted. The
    /// request gets a new session under a new id (never the client's).
    UnknownSessionId,
    /// The session was created longer ago than the factory's
    /// [`max_lifetime`](crate::Builder::max_lifetime), however recently it was used: a
    /// stolen cookie cannot be kept alive forever.
    TooOld,
    /// A timestamp lies further in the future than clock skew explains
    /// ([`MAX_CLOCK_SKEW`](crate::MAX_CLOCK_SKEW)): such a cookie or record would never time
    /// out.
    FromTheFuture,
    /// The store holds a record under the cookie's id that cannot be read (a value that is
    /// not UTF-8 or not JSON, a timestamp that is not a number, a missing field). The request
    /// gets a new session under a new id, and its first save deletes the unreadable record;
    /// an error naming the store and a hash of the id is logged.
    CorruptRecord,
    /// The session was signed in, and the factory's
    /// [revocation check](crate::Builder::revocation) says its user's sign-in no longer
    /// holds (the password changed, "sign out everywhere"): the request starts signed out,
    /// in a new session.
    Revoked,
    /// The payload is marked compressed (see [`compress`](crate::Builder::compress)) but
    /// does not inflate, or inflates past
    /// [`MAX_INFLATED_LEN`](crate::MAX_INFLATED_LEN) (a decompression bomb). Only checked
    /// after the signature or tag, so only a holder of the key could have made it.
    Decompression,
    /// The session cookie is the first chunk of a chunked session
    /// ([`chunks`](crate::Builder::chunks)) whose other chunks are missing or from another
    /// write (two tabs saving at once, an old chunk replayed), or more chunks than the
    /// factory writes.
    Chunks,
}

impl From<crate::Overflow> for SessionError {
    fn from(overflow: crate::Overflow) -> Self {
        Self::TooLarge {
            budget: overflow.budget,
            size: overflow.size,
            limit: overflow.limit,
        }
    }
}

impl Rejection {
    /// A short lowercase phrase naming the reason, as the CLI prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadBase64 => "bad base64",
            Self::TooShort => "too short",
            Self::BadSignature => "bad signature",
            Self::NotUtf8
            | Self::NotJson
            | Self::NotArray
            | Self::BadTimestamp
            | Self::StateNotObject
            | Self::PickleRefused => "not a session payload",
            Self::TimedOut => "timed out",
            Self::BadSessionId => "bad session id",
            Self::UnknownSessionId => "unknown session id",
            Self::TooOld => "too old",
            Self::FromTheFuture => "from the future",
            Self::CorruptRecord => "corrupt record",
            Self::Revoked => "revoked",
            Self::Decompression => "not a session payload",
            Self::Chunks => "chunks of different writes",
        }
    }

    /// The detailed reason, as logged.
    pub fn detail(self) -> &'static str {
        match self {
            Self::BadBase64 => "the value is not URL-safe base64",
            Self::TooShort => "the value is shorter than the signature",
            Self::BadSignature => "the signature (or authentication tag) does not match",
            Self::NotUtf8 => "the payload is not UTF-8",
            Self::NotJson => "the payload is not JSON",
            Self::NotArray => "the payload is not a 3-element array",
            Self::BadTimestamp => "a timestamp is not a number",
            Self::StateNotObject => "the state is not a JSON object",
            Self::PickleRefused => "the payload is a pickle that holds more than data",
            Self::TimedOut => "the session timed out",
            Self::BadSessionId => "the signed value is not a session id",
            Self::UnknownSessionId => "the store has no session under this id",
            Self::TooOld => "the session is older than the factory's maximum lifetime",
            Self::FromTheFuture => "a timestamp lies in the future beyond the allowed clock skew",
            Self::CorruptRecord => "the store's record under this id cannot be read",
            Self::Revoked => "the revocation check ended the signed-in user's session",
            Self::Decompression => "the compressed payload does not inflate within the output cap",
            Self::Chunks => "the session's chunks are missing or from different writes",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail())
    }
}

impl std::error::Error for Rejection {}

//! Typed web sessions for Rust, wire-compatible with Pyramid's signed cookie sessions.
//!
//! A [`Session`] is a dict-like map of JSON values with Pyramid's session surface:
//! timestamps, `changed`, `invalidate`, flash queues and a CSRF token. A
//! [`SignedCookieSessionFactory`] loads it from a request's `Cookie` header and, only when
//! needed, writes it back as a `Set-Cookie` header, in the exact format of Pyramid 2.x's
//! `SignedCookieSessionFactory`: a Pyramid app and a Rust service sharing a secret read each
//! other's sessions.
//!
//! ```
//! use http::HeaderMap;
//! use typed_sessions::SignedCookieSessionFactory;
//!
//! let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
//!     .build()?;
//!
//! let request = HeaderMap::new();
//! let mut session = factory.load(&request);
//! session.insert("user_id", 7);
//! session.flash_to("success", "Signed in")?;
//!
//! let mut response = HeaderMap::new();
//! factory.save(&session, &mut response)?;
//! assert!(response["set-cookie"].to_str()?.contains("; Secure"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The defaults are safe ones: a `Secure`, `HttpOnly`, `SameSite=Lax` cookie (browsers keep
//! a `Secure` cookie over plain HTTP from `http://localhost`, so local development needs no
//! switch), a 1200 s idle timeout, and a new cookie for a request that only reads the
//! session at most every 120 s (a tenth of the timeout) rather than on nearly every one. A
//! service that shares its sessions with a Pyramid app configured with Pyramid's defaults
//! starts from [`pyramid_defaults()`](Builder::pyramid_defaults) for exactly Pyramid's
//! cookies. [`Builder`] has the table and the reasons; cookie prefixes (`__Host-`,
//! `__Secure-`) are checked when the factory is built.
//!
//! # Typed sessions
//!
//! [`#[derive(SessionSchema)]`](macro@SessionSchema) turns the fields of a struct into typed
//! accessors on the session, whose `_mut` guard ([`FieldMut`]) writes the value back and
//! marks the session changed when it drops. [`#[flash_queue]`](macro@flash_queue) makes an
//! enum's variants typed flash queues, in Pyramid's format. Field types that cannot
//! round-trip through JSON, keys that collide, and reserved keys are compile errors.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use typed_sessions::{FlashExt, Session, SessionError, SessionSchema, flash_queue};
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct Item {
//!     sku: String,
//! }
//!
//! #[derive(SessionSchema)]
//! pub struct Shop {
//!     #[session(default)]
//!     cart: Vec<Item>,
//!     user_id: Option<u64>,
//! }
//!
//! #[flash_queue]
//! #[derive(Debug, PartialEq)]
//! pub enum Notice {
//!     Success(String),
//!     #[flash(queue = "error")]
//!     Failure { code: u16, text: String },
//! }
//!
//! let mut session = Session::new();
//! session.cart_mut()?.push(Item { sku: "apple".into() }); // `ShopExt`, generated
//! session.flash(Notice::Success("Added".into()))?; // appends "Added" to `_f_success`
//!
//! assert_eq!(session.cart()?.len(), 1);
//! assert_eq!(session.user_id()?, None);
//! assert_eq!(session.pop_flashes::<Notice>()?, [Notice::Success("Added".into())]);
//! # Ok::<(), SessionError>(())
//! ```
//!
//! # Server-side sessions
//!
//! When the data must stay secret, outgrows a cookie or must be revocable, a
//! [`ServerSessionFactory`] keeps it in a
//! [store](store::SessionStore) (in memory; in Redis, SQLite or PostgreSQL with the feature
//! of that name; or your own) and puts only a signed random id in the cookie. The same [`Session`] API, derived
//! accessors, flash queues and framework adapters work on it; a save writes only the keys
//! the request changed. See [`store`].
//!
//! A Pyramid app that keeps its sessions with `pyramid_session_redis` shares them with a
//! Rust service through `store::PyramidRedisStore` (feature `redis`): its cookie, ids, key
//! layout, pickle or JSON payload and TTL rules, set up by one preset.
//!
//! # Python apps that pickle their sessions
//!
//! `pyramid_nacl_session` (by default), `pyramid_session_redis` and Beaker pickle the
//! session, and a pickle is code to the Python side. [`pickle`] reads and writes such
//! sessions as data only: a pickle holding anything else (an object, a global, a call) is
//! refused with its reason, never coerced, and what Rust writes back holds data opcodes
//! only. [`Serializer::Pickle`] puts it behind the encrypted cookie factory and the
//! `pyramid_session_redis` store; with the `beaker` feature, `store::BeakerStore` shares the
//! server-side sessions of a Pyramid app on Beaker (its `file`, `ext:redis` and
//! `ext:database` back ends, pickle or JSON).
//!
//! # Web frameworks
//!
//! [`lifecycle`] is one request's session for any framework, in [`http`] types: loaded on
//! first use, shared by middleware and handler, saved as the factory's policy says, and a
//! failure answered with one status ([`StoreError::status`](store::StoreError::status)).
//! Two thin adapters run it: `axum` (feature `axum`: a tower layer and an extractor) and
//! `actix` (feature `actix`: an actix-web 4 middleware and an extractor).
//!
//! # Signing in, and what happens to sessions
//!
//! [`auth`] signs the app's users in and out on a session (a new id at sign-in, the user's
//! id and a keyed hash of their credential, so a password change signs the other sessions
//! out), with extractors in both adapters and a guard that answers `401` or redirects.
//! [`events`] reports each session's lifecycle (created, loaded, refused, saved, …) to a
//! hook of the app's, under a `tracing` target, and to counters for metrics.
//!
//! # Features
//!
//! None is on by default: without features the crate is the signed cookie session, the
//! typed layer, the in-memory store and the [`lifecycle`] core, on `serde_json`, `http`,
//! `cookie`, `base64`, `hmac` / `sha1` / `sha2`, `subtle`, `getrandom`, `hashbrown`,
//! `thiserror` and `tracing`.
//!
//! | feature | enables | pulls in |
//! |---|---|---|
//! | `axum` | `axum`: `SessionLayer` (a tower layer) and the `SessionHandle` extractor | `axum-core` 0.5, `tower-layer`, `tower-service`, `pin-project-lite` |
//! | `actix` | `actix`: `SessionMiddleware` and the `SessionHandle` extractor for actix-web 4 | `actix-web` 4 without its default features |
//! | `redis` | `store::RedisStore`, on Redis or Redis Cluster | `redis` 1 (tokio, connection manager, scripts, cluster) |
//! | `sqlite` | `store::SqliteStore` | `sqlx` 0.9 with SQLite compiled in (`sqlite-bundled`), `tokio` (timer for `spawn_cleanup`) |
//! | `postgres` | `store::PostgresStore` | `sqlx` 0.9 (`postgres`), `tokio` |
//! | `encrypted` | `EncryptedCookieSessionFactory` and `EncryptionKey`, the cookies of PyPI `pyramid_nacl_session` | `crypto_secretbox` (XSalsa20-Poly1305), `zeroize` |
//! | `compression` | `Builder::compress` (and `compress_revealing_length` on encrypted cookies): DEFLATE for a session too large for its cookie, inflated under a hard cap | `flate2` 1 on its pure Rust back end (`miniz_oxide`) |
//! | `testing` | `testing`, the test kit for an app's tests: mint cookies, read back responses, assert flashes, check recorded sessions, `assert_fits` | nothing more |
//!
//! The `sqlite` and `postgres` features need Rust 1.94 (sqlx 0.9's minimum); the rest of the
//! crate needs 1.89 (`File::lock`, for the `beaker` file store).

// docs.rs builds with `--cfg docsrs` (see Cargo.toml) and shows the feature each gated item
// needs. `doc_auto_cfg` was folded into `doc_cfg` (rust-lang/rust#138907), so only the latter.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

// The actix-web middleware and extractor, behind feature `actix`.
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
pub mod auth;
// The tower layer and axum extractor, behind feature `axum`.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod clock;
pub mod codec;
mod conflict;
mod error;
pub mod events;
mod factory;
mod finite;
mod flash;
pub mod lifecycle;
mod payload;
pub mod pickle;
mod random;
mod reserved;
mod session;
mod state;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod typed;

pub use crate::session::{Entry, LoadOutcome, Session};
pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub use codec::EncryptionKey;
pub use codec::{HashAlg, Secret};
pub use cookie::SameSite;
pub use error::{BuildError, Rejection, SessionError};
#[cfg(feature = "compression")]
#[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
pub use factory::MAX_INFLATED_LEN;
pub use factory::{
    Budget, Builder, CookieSessionFactory, DEFAULT_COOKIE_HEADER_BUDGET, DEFAULT_FLASH_QUEUE_CAP,
    DEFAULT_ROTATION_GRACE, DEFAULT_SET_COOKIE_BUDGET, KeysAndStore, MAX_CHUNKS, MAX_CLOCK_SKEW,
    MAX_COOKIE_VALUE_LEN, MIN_SECRET_LEN, Overflow, ReadyCodec, SAFARI_SET_COOKIE_BUDGET, Saved,
    ServerSessionFactory, SignedCookieSessionFactory, SignedKeys, SpillingSessionFactory,
};
#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub use factory::{EncryptedCookieSessionFactory, EncryptedKeys};
pub use flash::{Flash, FlashExt, FlashQueue};
pub use payload::Serializer;
pub use reserved::{AUTH_HASH_KEY, AUTH_USER_KEY, CSRF_KEY, FLASH_PREFIX};
pub use typed::{
    FieldMut, FieldReport, FieldStatus, JsonKey, OnWrongType, SchemaReport, SessionSchema,
    SessionValue,
};
pub use typed_sessions_derive::{SessionSchema, flash_queue};

#[doc(hidden)]
pub use typed::private as __private;

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
//! use session::SignedCookieSessionFactory;
//!
//! let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
//!     .httponly(true)
//!     .build()?;
//!
//! let request = HeaderMap::new();
//! let mut session = factory.load(&request);
//! session.insert("user_id", 7);
//! session.flash_to("success", "Signed in")?;
//!
//! let mut response = HeaderMap::new();
//! factory.save(&session, &mut response)?;
//! assert!(response.contains_key("set-cookie"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod clock;
pub mod codec;
mod error;
mod factory;
mod flash;
mod session;
mod state;

pub use builder::{Builder, MIN_SECRET_LEN, ReadyCodec, SignedKeys};
pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{HashAlg, Secret};
pub use cookie::SameSite;
pub use error::{BuildError, Rejection, SessionError};
pub use factory::{CookieSessionFactory, MAX_COOKIE_VALUE_LEN, Saved, SignedCookieSessionFactory};
pub use flash::Flash;
pub use session::{CSRF_KEY, Entry, FLASH_PREFIX, LoadOutcome, Session};

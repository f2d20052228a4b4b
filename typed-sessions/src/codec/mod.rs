//! Cookie codecs: how a session payload becomes a cookie value and back.
//!
//! A codec seals the JSON payload (`[accessed, created, state]`) into a cookie value and
//! opens it again. The factory does everything else (cookie options, timeout, reissue,
//! size limit, key rotation's re-seal), so every codec gets Pyramid's load and save policy.
//!
//! - [`SignedCodec`]: Pyramid's HMAC signature (`SignedCookieSessionFactory`); the payload
//!   is readable by the client, not changeable.
//! - `EncryptedCodec` (feature `encrypted`): NaCl's `secretbox`, as PyPI
//!   `pyramid_nacl_session` seals it; the payload is neither readable nor changeable.
//! - [`BeakerIdCodec`]: Beaker's signed session id (`hex(HMAC-SHA1(secret, id)) + id`), the
//!   cookie of a server-side factory sharing sessions with a Pyramid app on Beaker.
//! - Your own: implement [`CookieCodec`] and build a factory with
//!   [`CookieSessionFactory::with_codec`](crate::CookieSessionFactory::with_codec).
//!
//! # Writing your own codec
//!
//! A codec is two functions: `seal` turns payload bytes into cookie-safe text, `open` turns
//! a client's text back into payload bytes or says why not ([`Rejection`]), and sets
//! [`Opened::stale_key`] when the value should be re-sealed on this request's save.
//!
//! This one moves an app from one codec to another without logging anybody out: it seals
//! with the new codec, and opens either, marking values of the old one stale so each client's
//! cookie is re-sealed on its next request that loads the session. Here it changes the hash
//! of a signed cookie (fallback secrets cannot: they share the current hash); with the
//! `encrypted` feature, `Migrate { new: EncryptedCodec, old: SignedCodec }` moves from
//! signed to encrypted cookies the same way.
//!
//! ```
//! use http::HeaderMap;
//! use typed_sessions::codec::{CookieCodec, Opened, SignedCodec};
//! use typed_sessions::{CookieSessionFactory, HashAlg, ManualClock, Rejection, SessionError};
//!
//! /// Seals with `new`; opens values of `new` or of `old`, and has those of `old` re-sealed.
//! struct Migrate<New, Old> {
//!     new: New,
//!     old: Old,
//! }
//!
//! impl<New: CookieCodec, Old: CookieCodec> CookieCodec for Migrate<New, Old> {
//!     fn seal(&self, payload: &[u8]) -> Result<String, SessionError> {
//!         self.new.seal(payload)
//!     }
//!
//!     fn open(&self, value: &str) -> Result<Opened, Rejection> {
//!         // `open` sees attacker-controlled text: both codecs reject without panicking.
//!         self.new.open(value).or_else(|new_says| match self.old.open(value) {
//!             Ok(opened) => Ok(Opened { stale_key: true, ..opened }),
//!             // Report what the codec in charge said.
//!             Err(_) => Err(new_says),
//!         })
//!     }
//! }
//!
//! const SECRET: &str = "a secret of at least thirty-two bytes";
//! let old = SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha1);
//! let new = SignedCodec::new(SECRET, "pyramid.session.", HashAlg::Sha512);
//! let factory = CookieSessionFactory::with_codec(Migrate { new, old: old.clone() })
//!     .clock(ManualClock::new(1_700_000_000.0))
//!     .build()?;
//!
//! // A cookie from before the migration still loads...
//! let before = old.seal(br#"[1700000000, 1700000000, {"user_id": 7}]"#)?;
//! let session = factory.load_value(Some(&before));
//! assert_eq!(session.get_as::<u64>("user_id")?, Some(7));
//!
//! // ...and its save writes a cookie of the new codec, which the old one cannot open.
//! let mut response = HeaderMap::new();
//! factory.save(&session, &mut response)?;
//! let header = response["set-cookie"].to_str()?;
//! let value = header.split(';').next().unwrap().trim_start_matches("session=");
//! assert_eq!(old.open(value), Err(Rejection::BadSignature));
//! assert!(!factory.codec().open(value)?.stale_key);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod beaker;
#[cfg(feature = "encrypted")]
mod encrypted;
mod signed;

pub use beaker::BeakerIdCodec;

#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub use encrypted::{EncryptedCodec, EncryptionKey, KEY_LEN, NONCE_LEN, TAG_LEN};
pub use signed::{HashAlg, Secret, SignedCodec};

use crate::error::{Rejection, SessionError};

/// Payload bytes recovered from a cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The payload: UTF-8 JSON of `[accessed, created, state]`, not yet checked.
    pub payload: Vec<u8>,
    /// The value was sealed with an older key than the current one: the factory re-seals it
    /// with the current key on this request's save.
    pub stale_key: bool,
}

/// Seals a session payload into a cookie value and opens it again.
///
/// `open` receives attacker-controlled input: it must not panic, must reject anything it
/// did not seal, and must compare secrets in constant time.
///
/// ```
/// use typed_sessions::codec::{CookieCodec, Opened};
/// use typed_sessions::{Rejection, SessionError};
///
/// /// A codec that only base64-encodes: no protection at all, for illustration.
/// struct Plain;
///
/// impl CookieCodec for Plain {
///     fn seal(&self, payload: &[u8]) -> Result<String, SessionError> {
///         use base64::Engine;
///         Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload))
///     }
///     fn open(&self, value: &str) -> Result<Opened, Rejection> {
///         use base64::Engine;
///         let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
///             .decode(value)
///             .map_err(|_| Rejection::BadBase64)?;
///         Ok(Opened { payload, stale_key: false })
///     }
/// }
/// # assert_eq!(Plain.open(&Plain.seal(b"[1,1,{}]").unwrap()).unwrap().payload, b"[1,1,{}]");
/// ```
pub trait CookieCodec: Send + Sync + 'static {
    /// Seals payload bytes into a cookie value (cookie-safe characters only).
    ///
    /// An error fails the save, which then writes no cookie: a codec that draws randomness
    /// returns [`SessionError::RandomSource`] when the
    /// operating system's random source fails, rather than panicking on a request.
    fn seal(&self, payload: &[u8]) -> Result<String, SessionError>;

    /// Opens a cookie value this codec sealed, or says why it cannot.
    fn open(&self, value: &str) -> Result<Opened, Rejection>;
}

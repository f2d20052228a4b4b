//! Cookie codecs: how a session payload becomes a cookie value and back.
//!
//! A codec seals the JSON payload (`[accessed, created, state]`) into a cookie value and
//! opens it again. The [`SignedCodec`] is Pyramid's HMAC signature; implement
//! [`CookieCodec`] to plug in another one (an encrypting codec, say) and build a factory
//! with [`CookieSessionFactory::with_codec`](crate::CookieSessionFactory::with_codec).

pub(crate) mod payload;
mod signed;

pub use signed::{HashAlg, Secret, SignedCodec};

use crate::error::Rejection;

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
/// use session::codec::{CookieCodec, Opened};
/// use session::Rejection;
///
/// /// A codec that only base64-encodes: no protection at all, for illustration.
/// struct Plain;
///
/// impl CookieCodec for Plain {
///     fn seal(&self, payload: &[u8]) -> String {
///         use base64::Engine;
///         base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
///     }
///     fn open(&self, value: &str) -> Result<Opened, Rejection> {
///         use base64::Engine;
///         let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
///             .decode(value)
///             .map_err(|_| Rejection::BadBase64)?;
///         Ok(Opened { payload, stale_key: false })
///     }
/// }
/// # assert_eq!(Plain.open(&Plain.seal(b"[1,1,{}]")).unwrap().payload, b"[1,1,{}]");
/// ```
pub trait CookieCodec: Send + Sync + 'static {
    /// Seals payload bytes into a cookie value (cookie-safe characters only).
    fn seal(&self, payload: &[u8]) -> String;

    /// Opens a cookie value this codec sealed, or says why it cannot.
    fn open(&self, value: &str) -> Result<Opened, Rejection>;
}

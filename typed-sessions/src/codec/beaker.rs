//! [`BeakerIdCodec`]: the session id cookie of Beaker (`beaker.session.SignedCookie`).

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::{CookieCodec, Opened, Secret};
use crate::error::{BuildError, Rejection, SessionError};

/// The hex digits of an HMAC-SHA1 signature, which open the cookie value.
const SIGNATURE_LEN: usize = 40;

/// Beaker's session id cookie: `hex(HMAC-SHA1(secret, id)) + id`, the 40 lowercase hex
/// digits of the signature followed by the id itself, keyed with the UTF-8 bytes of the
/// app's `session.secret`. An id codec for a server-side factory
/// ([`Builder::id_codec`](crate::factory::Builder::id_codec)); the preset
/// [`BeakerStore::factory`](crate::store::BeakerStore::factory) sets it.
///
/// The signature is compared in constant time; a value whose signature does not match is
/// refused ([`Rejection::BadSignature`]), as Beaker's `InvalidSignature` gives a new
/// session. The id's shape is the store's to check.
///
/// ```
/// use typed_sessions::codec::{BeakerIdCodec, CookieCodec};
///
/// let codec = BeakerIdCodec::new("the app's session.secret")?;
/// let value = codec.seal(b"949dd6d0e0304f6594a2a2f004cbffbf")?;
/// assert_eq!(value.len(), 40 + 32);
/// assert_eq!(codec.open(&value)?.payload, b"949dd6d0e0304f6594a2a2f004cbffbf");
/// assert!(codec.open(&value.replace('9', "8")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BeakerIdCodec {
    /// The current key and older ones still accepted; `None`: ids go unsigned.
    keys: Option<(Hmac<Sha1>, Vec<Hmac<Sha1>>)>,
}

impl BeakerIdCodec {
    /// Signs with `secret` (the app's `session.secret`, as text or bytes). An empty secret
    /// is refused ([`BuildError::EmptySecret`]): Beaker would then take any id a client
    /// sends (see [`unsigned`](Self::unsigned)).
    pub fn new(secret: impl Into<Secret>) -> Result<Self, BuildError> {
        Ok(Self {
            keys: Some((mac(&secret.into())?, Vec::new())),
        })
    }

    /// Also accepts ids signed with `secret`, an older one being rotated out; their cookie
    /// is re-signed with the current secret on the request's save. (Beaker itself has no
    /// fallback secrets: the Pyramid app still refuses such cookies.)
    pub fn with_fallback(mut self, secret: impl Into<Secret>) -> Result<Self, BuildError> {
        let fallback = mac(&secret.into())?;
        if let Some((_, fallbacks)) = &mut self.keys {
            fallbacks.push(fallback);
        }
        Ok(self)
    }

    /// **Unsigned ids**, for a Pyramid app whose Beaker sessions have no `session.secret`:
    /// the cookie value is the bare id.
    ///
    /// # Danger
    ///
    /// Anyone who learns or guesses a session id (from a log, a proxy, a shared computer)
    /// can send it as their cookie and *be* that session, and nothing stops an attacker
    /// from planting an id of their choosing in a victim's browser (session fixation: the
    /// Beaker side keeps a client's unknown id as the new session's id; this side always
    /// draws a new one). Use it only to keep an existing deployment working while a secret
    /// is rolled out to both sides.
    pub fn unsigned() -> Self {
        Self { keys: None }
    }

    /// Whether ids are signed.
    pub fn is_signed(&self) -> bool {
        self.keys.is_some()
    }
}

fn mac(secret: &Secret) -> Result<Hmac<Sha1>, BuildError> {
    if secret.is_empty() {
        return Err(BuildError::EmptySecret);
    }
    // HMAC accepts keys of any length.
    Ok(Hmac::new_from_slice(secret.utf8_bytes()).expect("HMAC takes keys of any length"))
}

/// The lowercase hex signature of `id` under `mac`.
fn signature(mac: &Hmac<Sha1>, id: &[u8]) -> String {
    let mut mac = mac.clone();
    mac.update(id);
    crate::random::to_hex(&mac.finalize().into_bytes())
}

impl CookieCodec for BeakerIdCodec {
    /// Never fails: signing draws no randomness.
    fn seal(&self, id: &[u8]) -> Result<String, SessionError> {
        let id = String::from_utf8_lossy(id);
        Ok(match &self.keys {
            Some((current, _)) => signature(current, id.as_bytes()) + &id,
            None => id.into_owned(),
        })
    }

    fn open(&self, value: &str) -> Result<Opened, Rejection> {
        // `SignedCookie.value_decode` strips the quotes a cookie value may carry.
        let value = value.trim_matches('"').as_bytes();
        let Some((current, fallbacks)) = &self.keys else {
            return Ok(Opened {
                payload: value.to_vec(),
                stale_key: false,
            });
        };
        if value.len() <= SIGNATURE_LEN {
            return Err(Rejection::TooShort);
        }
        let (tag, id) = value.split_at(SIGNATURE_LEN);
        let matches = |mac: &Hmac<Sha1>| bool::from(signature(mac, id).as_bytes().ct_eq(tag));
        let stale_key = if matches(current) {
            false
        } else if fallbacks.iter().any(matches) {
            true
        } else {
            return Err(Rejection::BadSignature);
        };
        Ok(Opened {
            payload: id.to_vec(),
            stale_key,
        })
    }
}

impl fmt::Debug for BeakerIdCodec {
    /// Whether ids are signed and how many fallback secrets there are, never the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BeakerIdCodec")
            .field("signed", &self.is_signed())
            .field(
                "fallback_secrets",
                &self
                    .keys
                    .as_ref()
                    .map_or(0, |(_, fallbacks)| fallbacks.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's `hmac.new(b"secret", b"949dd6d0e0304f6594a2a2f004cbffbf", sha1).hexdigest()`
    /// and the id: what `SignedCookie.value_encode` writes.
    #[test]
    fn signs_as_beaker_does() {
        let codec = BeakerIdCodec::new("secret").unwrap();
        let value = codec.seal(b"949dd6d0e0304f6594a2a2f004cbffbf").unwrap();
        assert_eq!(
            value,
            "b74c0be736a93ef1692c13e2d83ddb9c0969e59f949dd6d0e0304f6594a2a2f004cbffbf"
        );
        assert_eq!(
            codec.open(&format!("\"{value}\"")).unwrap().payload,
            b"949dd6d0e0304f6594a2a2f004cbffbf"
        );
    }

    #[test]
    fn refuses_tampered_short_and_foreign_values() {
        let codec = BeakerIdCodec::new("secret").unwrap();
        let value = codec.seal(b"949dd6d0e0304f6594a2a2f004cbffbf").unwrap();
        let mut tampered = value.clone().into_bytes();
        tampered[45] ^= 1;
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(codec.open(&tampered), Err(Rejection::BadSignature));
        assert_eq!(
            codec.open(&value.to_uppercase()),
            Err(Rejection::BadSignature)
        );
        assert_eq!(codec.open(&value[..40]), Err(Rejection::TooShort));
        assert_eq!(codec.open(""), Err(Rejection::TooShort));
        let other = BeakerIdCodec::new("other").unwrap();
        assert_eq!(other.open(&value), Err(Rejection::BadSignature));
        assert!(
            other
                .with_fallback("secret")
                .unwrap()
                .open(&value)
                .unwrap()
                .stale_key
        );
    }

    #[test]
    fn an_empty_secret_is_refused_and_unsigned_is_explicit() {
        assert_eq!(BeakerIdCodec::new("").unwrap_err(), BuildError::EmptySecret);
        let unsigned = BeakerIdCodec::unsigned();
        assert_eq!(unsigned.seal(b"abc").unwrap(), "abc");
        assert_eq!(unsigned.open("abc").unwrap().payload, b"abc");
        assert!(!format!("{:?}", BeakerIdCodec::new("hunter2").unwrap()).contains("hunter2"));
    }
}

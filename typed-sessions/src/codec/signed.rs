//! Pyramid's signed cookie value: `base64url_nopad(HMAC(salt || secret, payload) || payload)`,
//! as WebOb's `SignedSerializer` writes it.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};

use super::{CookieCodec, Opened};
use crate::error::{BuildError, Rejection, SessionError};

/// URL-safe base64 that writes no padding and reads values with or without it (WebOb pads
/// what it is given before decoding). Padding, when present, must be exactly right, and the
/// unused bits of the last character must be zero: each cookie has one accepted spelling
/// besides its padded form.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The hash behind the HMAC signature. Pyramid's default is SHA-512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashAlg {
    /// SHA-1 (20-byte signature); only for apps that already use it.
    Sha1,
    /// SHA-256 (32-byte signature).
    Sha256,
    /// SHA-384 (48-byte signature).
    Sha384,
    /// SHA-512 (64-byte signature), Pyramid's default.
    #[default]
    Sha512,
}

impl HashAlg {
    /// The name Pyramid's `hashalg` option uses: `sha1`, `sha256`, `sha384` or `sha512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Length of the signature in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HashAlg {
    type Err = BuildError;

    fn from_str(s: &str) -> Result<Self, BuildError> {
        match s.to_ascii_lowercase().as_str() {
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha384" => Ok(Self::Sha384),
            "sha512" => Ok(Self::Sha512),
            _ => Err(BuildError::UnknownHashAlg(s.to_owned())),
        }
    }
}

/// A signing secret. Its `Debug` output never shows the bytes.
///
/// A text secret becomes bytes the way WebOb does it, so a Rust service and a Pyramid app
/// configured with the same string derive the same key: salt and secret are encoded as
/// Latin-1 when both can be, and as UTF-8 otherwise.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(SecretRepr);

#[derive(Clone, PartialEq, Eq)]
enum SecretRepr {
    Text(String),
    Bytes(Vec<u8>),
}

impl Secret {
    /// A secret given as raw bytes, used as they are.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(SecretRepr::Bytes(bytes.into()))
    }

    /// Length in bytes: of the bytes given, or of the text in UTF-8.
    ///
    /// The HMAC key may hold fewer: with a salt that Latin-1 can encode (any ASCII salt, as
    /// Pyramid's default), text that Latin-1 can encode is signed as Latin-1, one byte per
    /// character (see the type's docs). The factories' short-secret check counts the bytes
    /// the key actually holds.
    pub fn len(&self) -> usize {
        match &self.0 {
            SecretRepr::Text(s) => s.len(),
            SecretRepr::Bytes(b) => b.len(),
        }
    }

    /// How many bytes the secret puts into the HMAC key under `salt`: what
    /// [`salted_key`](Self::salted_key) appends after the salt.
    pub(crate) fn key_len(&self, salt: &str) -> usize {
        match &self.0 {
            SecretRepr::Bytes(secret) => secret.len(),
            SecretRepr::Text(secret) if is_latin1(salt) && is_latin1(secret) => {
                secret.chars().count()
            }
            SecretRepr::Text(secret) => secret.len(),
        }
    }

    /// The secret's bytes as UTF-8 (text) or as given: what Python's
    /// `secret.encode("utf-8")` gives, as Beaker keys its HMAC.
    pub(crate) fn utf8_bytes(&self) -> &[u8] {
        match &self.0 {
            SecretRepr::Text(s) => s.as_bytes(),
            SecretRepr::Bytes(b) => b,
        }
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The HMAC key: `salt || secret`, encoded as WebOb's `SignedSerializer` does.
    pub(crate) fn salted_key(&self, salt: &str) -> Vec<u8> {
        match &self.0 {
            SecretRepr::Bytes(secret) => {
                let mut key = latin1(salt).unwrap_or_else(|| salt.as_bytes().to_vec());
                key.extend_from_slice(secret);
                key
            }
            SecretRepr::Text(secret) => match (latin1(salt), latin1(secret)) {
                (Some(mut key), Some(secret)) => {
                    key.extend_from_slice(&secret);
                    key
                }
                _ => [salt.as_bytes(), secret.as_bytes()].concat(),
            },
        }
    }
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

fn is_latin1(s: &str) -> bool {
    s.chars().all(|c| u32::from(c) <= 0xff)
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(SecretRepr::Text(s.to_owned()))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(SecretRepr::Text(s))
    }
}

impl From<&[u8]> for Secret {
    fn from(b: &[u8]) -> Self {
        Self::from_bytes(b)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(b: Vec<u8>) -> Self {
        Self::from_bytes(b)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.len())
    }
}

/// An HMAC keyed once: cloning the keyed state per request skips re-hashing the key.
#[derive(Clone)]
enum KeyedMac {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
    Sha512(Hmac<sha2::Sha512>),
}

impl KeyedMac {
    fn new(alg: HashAlg, key: &[u8]) -> Self {
        // HMAC takes keys of any length (long keys are hashed first), so this cannot fail.
        const ANY_LEN: &str = "HMAC accepts keys of any length";
        match alg {
            HashAlg::Sha1 => Self::Sha1(Hmac::new_from_slice(key).expect(ANY_LEN)),
            HashAlg::Sha256 => Self::Sha256(Hmac::new_from_slice(key).expect(ANY_LEN)),
            HashAlg::Sha384 => Self::Sha384(Hmac::new_from_slice(key).expect(ANY_LEN)),
            HashAlg::Sha512 => Self::Sha512(Hmac::new_from_slice(key).expect(ANY_LEN)),
        }
    }

    fn sign_into(&self, payload: &[u8], out: &mut [u8]) {
        fn run<M: Mac + Clone>(mac: &M, payload: &[u8], out: &mut [u8]) {
            let mut mac = mac.clone();
            mac.update(payload);
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        match self {
            Self::Sha1(m) => run(m, payload, out),
            Self::Sha256(m) => run(m, payload, out),
            Self::Sha384(m) => run(m, payload, out),
            Self::Sha512(m) => run(m, payload, out),
        }
    }

    /// Constant-time comparison through `hmac`'s `verify_slice` (which uses `subtle`).
    fn verify(&self, payload: &[u8], tag: &[u8]) -> bool {
        fn run<M: Mac + Clone>(mac: &M, payload: &[u8], tag: &[u8]) -> bool {
            let mut mac = mac.clone();
            mac.update(payload);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Self::Sha1(m) => run(m, payload, tag),
            Self::Sha256(m) => run(m, payload, tag),
            Self::Sha384(m) => run(m, payload, tag),
            Self::Sha512(m) => run(m, payload, tag),
        }
    }
}

/// Signs payloads as Pyramid's `SignedCookieSessionFactory` does, with optional fallback
/// secrets for key rotation. Sealing always uses the current secret.
///
/// ```
/// use typed_sessions::codec::{CookieCodec, HashAlg, SignedCodec};
///
/// let codec = SignedCodec::new("seekrit", "pyramid.session.", HashAlg::Sha512);
/// let value = codec.seal(b"[1700000000, 1700000000, {}]").unwrap();
/// assert_eq!(codec.open(&value).unwrap().payload, b"[1700000000, 1700000000, {}]");
/// ```
#[derive(Clone)]
pub struct SignedCodec {
    alg: HashAlg,
    current: KeyedMac,
    fallbacks: Vec<KeyedMac>,
}

impl SignedCodec {
    /// A codec for one secret, salt and hash algorithm.
    pub fn new(secret: impl Into<Secret>, salt: &str, alg: HashAlg) -> Self {
        Self {
            alg,
            current: KeyedMac::new(alg, &secret.into().salted_key(salt)),
            fallbacks: Vec::new(),
        }
    }

    /// Also accepts values signed with `secret` (an older one being rotated out).
    pub fn with_fallback(mut self, secret: impl Into<Secret>, salt: &str) -> Self {
        let key = secret.into().salted_key(salt);
        self.fallbacks.push(KeyedMac::new(self.alg, &key));
        self
    }

    /// The hash algorithm.
    pub fn hash_alg(&self) -> HashAlg {
        self.alg
    }
}

impl fmt::Debug for SignedCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCodec")
            .field("alg", &self.alg)
            .field("fallback_secrets", &self.fallbacks.len())
            .finish_non_exhaustive()
    }
}

impl CookieCodec for SignedCodec {
    /// Never fails: signing draws no randomness.
    fn seal(&self, payload: &[u8]) -> Result<String, SessionError> {
        let digest_len = self.alg.digest_len();
        // The longest digest (SHA-512); the buffer below is filled, not zeroed first.
        let mut tag = [0; 64];
        self.current.sign_into(payload, &mut tag[..digest_len]);
        let mut signed = Vec::with_capacity(digest_len + payload.len());
        signed.extend_from_slice(&tag[..digest_len]);
        signed.extend_from_slice(payload);
        Ok(BASE64.encode(signed))
    }

    fn open(&self, value: &str) -> Result<Opened, Rejection> {
        let mut bytes = BASE64.decode(value).map_err(|_| Rejection::BadBase64)?;
        let digest_len = self.alg.digest_len();
        if bytes.len() < digest_len {
            return Err(Rejection::TooShort);
        }
        let (tag, payload) = bytes.split_at(digest_len);
        let stale_key = if self.current.verify(payload, tag) {
            false
        } else if self.fallbacks.iter().any(|mac| mac.verify(payload, tag)) {
            true
        } else {
            return Err(Rejection::BadSignature);
        };
        bytes.drain(..digest_len);
        Ok(Opened {
            payload: bytes,
            stale_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_secret_is_latin1_when_it_can_be() {
        let key = Secret::from("s\u{e9}cret").salted_key("salt.");
        assert_eq!(key, b"salt.s\xe9cret");
        let key = Secret::from("\u{2713}").salted_key("salt.");
        assert_eq!(key, "salt.\u{2713}".as_bytes());
    }

    #[test]
    fn key_len_counts_the_bytes_of_the_key() {
        // (secret, salt, the secret's bytes in the key, the whole key's length)
        for (secret, salt, secret_len, key_len) in [
            (Secret::from("s\u{e9}cret"), "salt.", 6, 11),
            (Secret::from("s\u{e9}cret"), "s\u{e9}l.", 6, 10),
            (Secret::from("s\u{e9}cret"), "\u{2713}.", 7, 11),
            (Secret::from("\u{2713}"), "salt.", 3, 8),
            (
                Secret::from_bytes(b"\xe9\xe9".as_slice()),
                "\u{2713}.",
                2,
                6,
            ),
        ] {
            assert_eq!(secret.key_len(salt), secret_len, "{salt}");
            assert_eq!(secret.salted_key(salt).len(), key_len, "{salt}");
        }
    }

    #[test]
    fn debug_hides_secret() {
        let shown = format!("{:?}", Secret::from("hunter2-hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
        let codec = SignedCodec::new("hunter2-hunter2", "s", HashAlg::Sha256);
        assert!(!format!("{codec:?}").contains("hunter2"));
    }

    #[test]
    fn accepts_padded_and_unpadded_values() {
        let codec = SignedCodec::new("k", "s", HashAlg::Sha256);
        for len in 0..4 {
            let payload = vec![b'x'; len];
            let value = codec.seal(&payload).unwrap();
            let padded = format!("{value}{}", "=".repeat((4 - value.len() % 4) % 4));
            assert_eq!(codec.open(&value).unwrap().payload, payload);
            assert_eq!(codec.open(&padded).unwrap().payload, payload);
        }
    }

    #[test]
    fn rejects_wrong_padding() {
        let codec = SignedCodec::new("k", "s", HashAlg::Sha256);
        let value = codec.seal(b"[10, 10, {}]").unwrap();
        assert_eq!(value.len() % 4, 3, "this payload needs one `=`");
        assert!(codec.open(&format!("{value}=")).is_ok());
        assert_eq!(codec.open(&format!("{value}==")), Err(Rejection::BadBase64));
        assert_eq!(codec.open(&format!("{value}=a")), Err(Rejection::BadBase64));
    }

    #[test]
    fn rejects_short_tampered_and_foreign_values() {
        let codec = SignedCodec::new("k", "s", HashAlg::Sha512);
        let value = codec.seal(b"[1, 1, {}]").unwrap();
        assert_eq!(codec.open("!!!"), Err(Rejection::BadBase64));
        assert_eq!(codec.open("YWJj"), Err(Rejection::TooShort));
        let other = SignedCodec::new("k2", "s", HashAlg::Sha512);
        assert_eq!(other.open(&value), Err(Rejection::BadSignature));
        let mut tampered = value.into_bytes();
        let i = tampered.len() - 3;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(codec.open(&tampered), Err(Rejection::BadSignature));
    }

    #[test]
    fn fallback_secret_opens_but_is_stale() {
        let old = SignedCodec::new("old", "s", HashAlg::Sha512);
        let rotated = SignedCodec::new("new", "s", HashAlg::Sha512).with_fallback("old", "s");
        let opened = rotated.open(&old.seal(b"p").unwrap()).unwrap();
        assert!(opened.stale_key);
        // Sealing never uses the fallback.
        assert_eq!(
            old.open(&rotated.seal(b"p").unwrap()),
            Err(Rejection::BadSignature)
        );
        assert!(
            !rotated
                .open(&rotated.seal(b"p").unwrap())
                .unwrap()
                .stale_key
        );
    }
}

//! The encrypted cookie value of PyPI `pyramid_nacl_session`:
//! `base64url_nopad(nonce || secretbox(key, nonce, payload))`, NaCl's XSalsa20-Poly1305.
//!
//! # What `pyramid_nacl_session` does, exactly
//!
//! Read from the source of `pyramid_nacl_session` 1.0.0 (`serializer.py`, `session.py`,
//! `utils.py`, `scripts.py`) running on PyNaCl 1.6.2 and Pyramid 2.1 / WebOb 1.8.11, and
//! checked against them live by `tests/tests/encrypted_live.rs`:
//!
//! - **The key is 32 raw bytes** (`SecretBox.KEY_SIZE`), used as it is: no salt, no key
//!   derivation. `EncryptedSerializer(secret)` raises `ValueError` for another length and
//!   PyNaCl refuses a `str`. Text appears only on the paste-settings path
//!   (`session_factory_from_settings`, `session.secret = <hex>`), which `unhexlify`s it, and
//!   in `generate_secret()` / `print_secret`, which print 32 random bytes as hex:
//!   [`EncryptionKey::from_hex`] reads that form.
//! - **Sealing** (`EncryptedSerializer.dumps`): the inner serializer turns
//!   `(accessed, created, state)` into payload bytes (Pyramid's `JSONSerializer` is WebOb's:
//!   `json.dumps(..).encode("utf-8")`, so the payload is the same JSON array the signed
//!   cookie carries); a fresh 24-byte nonce from `nacl.utils.random` (the OS's random
//!   source); `SecretBox.encrypt(payload, nonce)`, which returns
//!   `nonce(24) || tag(16) || ciphertext` (NaCl's `crypto_secretbox` output without its 16
//!   leading zero bytes: the Poly1305 tag comes first); then
//!   `urlsafe_b64encode(..).rstrip(b"=")`, the URL-safe alphabet without padding.
//! - **Opening** (`loads`): pads with `=` to a multiple of 4 and `urlsafe_b64decode`s (so
//!   padded values load too), `SecretBox.decrypt` (a failed tag raises `CryptoError`,
//!   re-raised as `ValueError("Possible tampering")`), then the inner serializer's `loads`.
//!   Pyramid's `BaseCookieSessionFactory` treats any `ValueError` as "no session".
//! - **The inner serializer is pickle by default.** `pyramid_nacl_session`'s default is
//!   Pyramid's deprecated `PickleSerializer`: `pickle.dumps((accessed, created, state),
//!   pickle.HIGHEST_PROTOCOL)` (protocol 5 on Python 3.8+; `accessed` an `int`, `created` a
//!   `float`), and `pickle.loads` on the way back, which runs whatever a pickle names. A
//!   factory built with [`Serializer::Pickle`](crate::Serializer::Pickle) reads and writes
//!   that payload with the strict [`pickle`](crate::pickle) codec (data only; anything else
//!   is [`Rejection::PickleRefused`]); the default here stays JSON, for an app configured
//!   with `serializer=JSONSerializer()` (or `session.serializer = json`). A JSON factory
//!   opening a pickled cookie finds it is not JSON: a fresh session,
//!   [`Rejection::NotJson`].
//! - **Everything else is Pyramid's** `BaseCookieSessionFactory`, the same as behind its
//!   signed factory: the cookie options, timeout, reissue time, `set_on_exception` and the
//!   4064-byte limit. There is no salt or hash option.
//!
//! Where this codec is stricter than Python, on purpose and as the signed codec is: Python's
//! base64 decoder skips characters outside the alphabet, takes `+` and `/` beside `-` and
//! `_`, and ignores non-zero bits at the end; such values are refused here
//! ([`Rejection::BadBase64`]). A cookie value has one accepted spelling besides its padded
//! form.

use std::fmt;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use crypto_secretbox::{AeadInPlace, KeyInit, Nonce, Tag, XSalsa20Poly1305};
use zeroize::Zeroizing;

use super::{CookieCodec, Opened};
use crate::error::{BuildError, Rejection, SessionError};

/// Length of an encryption key in bytes (NaCl's `crypto_secretbox_KEYBYTES`).
pub const KEY_LEN: usize = 32;

/// Length of the random nonce that starts every encrypted value
/// (`crypto_secretbox_NONCEBYTES`).
pub const NONCE_LEN: usize = 24;

/// Length of the Poly1305 tag after the nonce (`crypto_secretbox_MACBYTES`).
pub const TAG_LEN: usize = 16;

/// Bytes an encrypted value adds to its payload before base64.
const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// URL-safe base64 that writes no padding (`rstrip(b"=")`) and reads values with or
/// without it (`pyramid_nacl_session` pads what it is given). Padding, when present, must be
/// exactly right, and unused trailing bits must be zero. The same engine as the signed
/// codec's.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An encryption key: 32 raw bytes, as `pyramid_nacl_session` takes it. Its `Debug` output
/// never shows the bytes, and they are zeroed when it drops.
///
/// Any length can be given; a key that is not [`KEY_LEN`] bytes is refused when the codec or
/// factory is built ([`BuildError::KeyLength`]). Text is not a key: a string is either the
/// hex form ([`from_hex`](Self::from_hex)) or, if you really mean its bytes,
/// `EncryptionKey::from_bytes(text.as_bytes())`.
///
/// ```
/// use typed_sessions::EncryptionKey;
///
/// // The form `pyramid_nacl_session`'s `print_secret` prints and its settings read.
/// let key = EncryptionKey::from_hex(
///     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
/// )?;
/// assert_eq!(key.as_bytes()[31], 0x1f);
/// assert_eq!(format!("{key:?}"), "EncryptionKey(<32 bytes redacted>)");
///
/// let fresh = EncryptionKey::generate(); // 32 bytes from the OS's random source
/// assert_eq!(EncryptionKey::from_hex(&fresh.to_hex())?.as_bytes(), fresh.as_bytes());
/// # Ok::<(), typed_sessions::BuildError>(())
/// ```
#[derive(Clone)]
pub struct EncryptionKey(Zeroizing<Vec<u8>>);

impl EncryptionKey {
    /// A key given as raw bytes, used as they are.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// A key written in hex, as `pyramid_nacl_session`'s `session.secret` setting is (it
    /// calls `binascii.unhexlify`): an even number of digits, either case, nothing else.
    pub fn from_hex(hex: &str) -> Result<Self, BuildError> {
        fn digit(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let digits = hex.as_bytes();
        if !digits.len().is_multiple_of(2) {
            return Err(BuildError::KeyNotHex);
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
        for pair in digits.chunks_exact(2) {
            match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => bytes.push((hi << 4) | lo),
                _ => return Err(BuildError::KeyNotHex),
            }
        }
        Ok(Self(bytes))
    }

    /// A new random key of [`KEY_LEN`] bytes from the operating system's random source, as
    /// `pyramid_nacl_session.generate_secret()` makes one.
    ///
    /// # Panics
    ///
    /// When the operating system's random source fails.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0; KEY_LEN]);
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key in lowercase hex, the form `pyramid_nacl_session`'s settings read. The string
    /// is not zeroed when dropped.
    pub fn to_hex(&self) -> String {
        crate::random::to_hex(&self.0)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The cipher for this key, or why it cannot be one.
    fn cipher(&self) -> Result<XSalsa20Poly1305, BuildError> {
        XSalsa20Poly1305::new_from_slice(&self.0).map_err(|_| BuildError::KeyLength {
            len: self.len(),
            expected: KEY_LEN,
        })
    }
}

impl From<[u8; KEY_LEN]> for EncryptionKey {
    fn from(bytes: [u8; KEY_LEN]) -> Self {
        Self::from_bytes(bytes.as_slice())
    }
}

impl From<&[u8; KEY_LEN]> for EncryptionKey {
    fn from(bytes: &[u8; KEY_LEN]) -> Self {
        Self::from_bytes(bytes.as_slice())
    }
}

impl From<&[u8]> for EncryptionKey {
    fn from(bytes: &[u8]) -> Self {
        Self::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for EncryptionKey {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from_bytes(bytes)
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey(<{} bytes redacted>)", self.len())
    }
}

/// Encrypts payloads as `pyramid_nacl_session`'s `EncryptedSerializer` does (given Pyramid's
/// `JSONSerializer`), with optional fallback keys for key rotation. Sealing always uses the
/// current key and a fresh random nonce.
///
/// [`open`](CookieCodec::open) answers with the factory's [`Rejection`]s: `BadBase64` for a
/// value that is not URL-safe base64, `TooShort` for one shorter than nonce and tag
/// (40 bytes), and `BadSignature` when authentication fails under the current key and every
/// fallback (a wrong key or a changed byte: Poly1305 tells the two apart no more than HMAC
/// does). The tag is compared in constant time and nothing is decrypted before it matches.
///
/// ```
/// use typed_sessions::Rejection;
/// use typed_sessions::codec::{CookieCodec, EncryptedCodec};
///
/// let codec = EncryptedCodec::new([7; 32])?;
/// let value = codec.seal(b"[1700000000, 1700000000, {}]")?;
/// assert_eq!(codec.open(&value)?.payload, b"[1700000000, 1700000000, {}]");
///
/// // A new nonce per seal: the same payload never gives the same value twice.
/// assert_ne!(codec.seal(b"[1700000000, 1700000000, {}]")?, value);
///
/// // Another key cannot open it (nor read it).
/// let other = EncryptedCodec::new([8; 32])?;
/// assert_eq!(other.open(&value), Err(Rejection::BadSignature));
///
/// // Rotation: the old key still opens, and the factory re-seals with the new one.
/// let rotated = EncryptedCodec::new([8; 32])?.with_fallback([7; 32])?;
/// assert!(rotated.open(&value)?.stale_key);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct EncryptedCodec {
    current: XSalsa20Poly1305,
    fallbacks: Vec<XSalsa20Poly1305>,
}

impl EncryptedCodec {
    /// A codec for one key; an error when it is not [`KEY_LEN`] bytes.
    pub fn new(key: impl Into<EncryptionKey>) -> Result<Self, BuildError> {
        Ok(Self {
            current: key.into().cipher()?,
            fallbacks: Vec::new(),
        })
    }

    /// Also opens values sealed with `key` (an older one being rotated out); an error when it
    /// is not [`KEY_LEN`] bytes.
    pub fn with_fallback(mut self, key: impl Into<EncryptionKey>) -> Result<Self, BuildError> {
        self.fallbacks.push(key.into().cipher()?);
        Ok(self)
    }

    /// Seals with a given nonce: what [`seal`](CookieCodec::seal) does after drawing one.
    /// Private, because a nonce used twice under one key gives the key stream away.
    fn seal_with_nonce(&self, payload: &[u8], nonce: &[u8; NONCE_LEN]) -> String {
        // One buffer, laid out as the cookie: nonce || tag || ciphertext.
        let mut sealed = Vec::with_capacity(OVERHEAD + payload.len());
        sealed.extend_from_slice(nonce);
        sealed.extend_from_slice(&[0; TAG_LEN]);
        sealed.extend_from_slice(payload);
        let tag = self
            .current
            .encrypt_in_place_detached(Nonce::from_slice(nonce), b"", &mut sealed[OVERHEAD..])
            // Fails only with associated data (none here) or past 2^70 bytes of key stream.
            .expect("XSalsa20-Poly1305 seals any payload a cookie can hold");
        sealed[NONCE_LEN..OVERHEAD].copy_from_slice(&tag);
        BASE64.encode(sealed)
    }
}

impl fmt::Debug for EncryptedCodec {
    /// Shows how many fallback keys there are, never a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedCodec")
            .field("fallback_keys", &self.fallbacks.len())
            .finish_non_exhaustive()
    }
}

impl CookieCodec for EncryptedCodec {
    /// An error ([`SessionError::RandomSource`]) when the operating system's random source
    /// fails to give a nonce.
    fn seal(&self, payload: &[u8]) -> Result<String, SessionError> {
        // As `nacl.utils.random`: the OS's random source. 24 random bytes make a repeated
        // nonce under one key negligible (odds about 2^-97 after 2^48 seals).
        let mut nonce = [0; NONCE_LEN];
        crate::random::fill(&mut nonce)?;
        Ok(self.seal_with_nonce(payload, &nonce))
    }

    fn open(&self, value: &str) -> Result<Opened, Rejection> {
        let mut bytes = BASE64.decode(value).map_err(|_| Rejection::BadBase64)?;
        if bytes.len() < OVERHEAD {
            return Err(Rejection::TooShort);
        }
        let (head, ciphertext) = bytes.split_at_mut(OVERHEAD);
        let nonce = Nonce::from_slice(&head[..NONCE_LEN]);
        let tag = Tag::from_slice(&head[NONCE_LEN..]);
        // `decrypt_in_place_detached` checks the tag (in constant time, with `subtle`) before
        // it decrypts, so a key that fails leaves the ciphertext as it was for the next one.
        let opens = |cipher: &XSalsa20Poly1305, ciphertext: &mut [u8]| {
            cipher
                .decrypt_in_place_detached(nonce, b"", ciphertext, tag)
                .is_ok()
        };
        let stale_key = if opens(&self.current, ciphertext) {
            false
        } else if self
            .fallbacks
            .iter()
            .any(|cipher| opens(cipher, ciphertext))
        {
            true
        } else {
            return Err(Rejection::BadSignature);
        };
        bytes.drain(..OVERHEAD);
        Ok(Opened {
            payload: bytes,
            stale_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key `bytes(range(32))`.
    fn counting_key() -> [u8; KEY_LEN] {
        std::array::from_fn(|i| i as u8)
    }

    const PAYLOAD: &[u8] = br#"[1700000000, 1700000000.5, {"a": 1}]"#;

    /// `SecretBox(bytes(range(32))).encrypt(PAYLOAD, bytes(24))` in PyNaCl 1.6.2, in hex:
    /// nonce, tag, ciphertext.
    const PYNACL_ZERO_NONCE: &str = "000000000000000000000000000000000000000000000000\
        371566dec3df0c084ce3c71903984dfd\
        113fc771a89a8f036c644223057789e2d40444c077d618625e2f6bf61ea8fd08f535ae50";

    /// `EncryptedSerializer(bytes(range(32)), serializer=JSONSerializer())
    /// .dumps((1700000000, 1700000000.5, {"a": 1}))` from `pyramid_nacl_session` 1.0.0, with
    /// the random nonce it drew.
    const PYRAMID_NACL_DUMPS: &str = "ZawqUvqLbwt99uyexyU7FQN4oCyblnTtGACOMMkBoXBbp0xuOrc3PAo3\
        JaKznVEjJ_xLgJcAOnEdUrPB0THj-ON6B8WXZj-cpasnIw";

    fn codec() -> EncryptedCodec {
        EncryptedCodec::new(counting_key()).unwrap()
    }

    #[test]
    fn seals_exactly_as_pynacl_does_for_the_same_nonce() {
        let expected = EncryptionKey::from_hex(PYNACL_ZERO_NONCE).unwrap();
        let value = codec().seal_with_nonce(PAYLOAD, &[0; NONCE_LEN]);
        assert_eq!(value, BASE64.encode(expected.as_bytes()));
        assert_eq!(codec().open(&value).unwrap().payload, PAYLOAD);
    }

    #[test]
    fn opens_what_pyramid_nacl_session_dumped() {
        let opened = codec().open(PYRAMID_NACL_DUMPS).unwrap();
        assert_eq!(opened.payload, PAYLOAD);
        assert!(!opened.stale_key);
    }

    #[test]
    fn accepts_padded_and_unpadded_values() {
        let codec = codec();
        for len in 0..4 {
            let payload = vec![b'x'; len];
            let value = codec.seal(&payload).unwrap();
            assert!(!value.contains('='));
            let padded = format!("{value}{}", "=".repeat((4 - value.len() % 4) % 4));
            assert_eq!(codec.open(&value).unwrap().payload, payload);
            assert_eq!(codec.open(&padded).unwrap().payload, payload);
        }
    }

    #[test]
    fn rejects_bad_base64_short_values_and_foreign_keys() {
        let codec = codec();
        assert_eq!(codec.open("!!!"), Err(Rejection::BadBase64));
        assert_eq!(codec.open("a+b/"), Err(Rejection::BadBase64));
        assert_eq!(codec.open(""), Err(Rejection::TooShort));
        assert_eq!(
            codec.open(&BASE64.encode([0; OVERHEAD - 1])),
            Err(Rejection::TooShort)
        );
        // Exactly nonce and tag: structurally an empty payload, but not authentic.
        assert_eq!(
            codec.open(&BASE64.encode([0; OVERHEAD])),
            Err(Rejection::BadSignature)
        );
        assert_eq!(codec.open(&codec.seal(b"").unwrap()).unwrap().payload, b"");
        let other = EncryptedCodec::new([1; KEY_LEN]).unwrap();
        assert_eq!(
            other.open(&codec.seal(PAYLOAD).unwrap()),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let codec = codec();
        let sealed = BASE64.decode(codec.seal(PAYLOAD).unwrap()).unwrap();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut tampered = sealed.clone();
                tampered[i] ^= 1 << bit;
                assert_eq!(
                    codec.open(&BASE64.encode(&tampered)),
                    Err(Rejection::BadSignature),
                    "byte {i} bit {bit}"
                );
            }
        }
        // Cut short or extended.
        let cut = BASE64.encode(&sealed[..sealed.len() - 1]);
        assert_eq!(codec.open(&cut), Err(Rejection::BadSignature));
        let longer = BASE64.encode([sealed.as_slice(), b"x"].concat());
        assert_eq!(codec.open(&longer), Err(Rejection::BadSignature));
    }

    #[test]
    fn fallback_key_opens_but_is_stale_and_never_seals() {
        let old = EncryptedCodec::new([1; KEY_LEN]).unwrap();
        let rotated = EncryptedCodec::new([2; KEY_LEN])
            .unwrap()
            .with_fallback([3; KEY_LEN])
            .unwrap()
            .with_fallback([1; KEY_LEN])
            .unwrap();
        let opened = rotated.open(&old.seal(PAYLOAD).unwrap()).unwrap();
        assert_eq!(opened.payload, PAYLOAD);
        assert!(opened.stale_key);
        assert_eq!(
            old.open(&rotated.seal(PAYLOAD).unwrap()),
            Err(Rejection::BadSignature)
        );
        assert!(
            !rotated
                .open(&rotated.seal(PAYLOAD).unwrap())
                .unwrap()
                .stale_key
        );
    }

    #[test]
    fn keys_of_another_length_are_build_errors() {
        for len in [0, 16, 31, 33, 64] {
            let err = EncryptedCodec::new(vec![0; len]).unwrap_err();
            assert_eq!(err, BuildError::KeyLength { len, expected: 32 });
            let err = codec().with_fallback(vec![0; len]).unwrap_err();
            assert_eq!(err, BuildError::KeyLength { len, expected: 32 });
        }
        let hex = "00".repeat(32);
        let err = EncryptedCodec::new(hex.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("from_hex"), "{err}");
    }

    #[test]
    fn hex_keys_read_as_unhexlify_does() {
        let key = EncryptionKey::from_hex("00FFaa10").unwrap();
        assert_eq!(key.as_bytes(), [0x00, 0xff, 0xaa, 0x10]);
        assert_eq!(key.to_hex(), "00ffaa10");
        for bad in ["0", "0g", " 00", "00 ", "0x00", "\u{e9}0"] {
            assert_eq!(
                EncryptionKey::from_hex(bad).unwrap_err(),
                BuildError::KeyNotHex,
                "{bad:?}"
            );
        }
        assert!(EncryptionKey::from_hex("").unwrap().is_empty());
    }

    #[test]
    fn debug_hides_keys() {
        let key = EncryptionKey::from_bytes(*b"hunter2-hunter2-hunter2-hunter2!");
        let shown = format!("{key:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let codec = EncryptedCodec::new(key.clone())
            .unwrap()
            .with_fallback(key)
            .unwrap();
        let shown = format!("{codec:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "EncryptedCodec { fallback_keys: 1, .. }");
    }

    #[test]
    fn generated_keys_differ() {
        let (a, b) = (EncryptionKey::generate(), EncryptionKey::generate());
        assert_eq!(a.len(), KEY_LEN);
        assert_ne!(a.as_bytes(), b.as_bytes());
    }
}

//! Cookie session factories: load a request's session from its `Cookie` header and, when
//! the save policy says so, write it back as a `Set-Cookie` header.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

#[cfg(feature = "encrypted")]
use crate::builder::EncryptedKeys;
use crate::builder::{Builder, ReadyCodec, SignedKeys};
use crate::clock::Clock;
use crate::codec::payload::{self, write_timestamp};
use crate::codec::{CookieCodec, Secret, SignedCodec};
#[cfg(feature = "encrypted")]
use crate::codec::{EncryptedCodec, EncryptionKey};
use crate::error::{Rejection, SessionError};
use crate::session::{LoadOutcome, Session};

/// The longest cookie value a factory writes, as in Pyramid: browsers keep about 4096 bytes
/// per cookie, name and attributes included.
pub const MAX_COOKIE_VALUE_LEN: usize = 4064;

/// Pyramid's `SignedCookieSessionFactory`: sessions in an HMAC-signed cookie.
///
/// ```
/// use http::HeaderMap;
/// use session::SignedCookieSessionFactory;
///
/// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
///     .build()
///     .unwrap();
///
/// // First request: no cookie, a new session.
/// let mut session = factory.load(&HeaderMap::new());
/// session.insert("user_id", 42);
/// let mut response = HeaderMap::new();
/// factory.save(&session, &mut response).unwrap();
/// let set_cookie = response["set-cookie"].to_str().unwrap();
///
/// // Next request: the browser sends the cookie back.
/// let mut request = HeaderMap::new();
/// let pair = set_cookie.split(';').next().unwrap();
/// request.insert("cookie", pair.parse().unwrap());
/// let session = factory.load(&request);
/// assert_eq!(session.get_as::<u64>("user_id").unwrap(), Some(42));
/// ```
pub type SignedCookieSessionFactory = CookieSessionFactory<SignedCodec>;

/// `pyramid_nacl_session`'s `EncryptedCookieSessionFactory`: sessions in a cookie encrypted
/// with NaCl's `secretbox` (XSalsa20-Poly1305) under a 32-byte key, which the client can
/// neither read nor change. Feature `encrypted`.
///
/// Options, load and save policy and key rotation are the signed factory's; the cookie value
/// is `base64url_nopad(nonce(24) || tag(16) || ciphertext)` over the same JSON payload, with a
/// fresh random nonce per save. A Pyramid app reads and writes the same sessions when its
/// factory has the same key and Pyramid's JSON serializer (not `pyramid_nacl_session`'s
/// default, pickle):
///
/// ```python
/// from binascii import unhexlify
/// from pyramid.session import JSONSerializer
/// from pyramid_nacl_session import EncryptedCookieSessionFactory
///
/// factory = EncryptedCookieSessionFactory(unhexlify(KEY_HEX), serializer=JSONSerializer())
/// # or, in the settings: session.secret = KEY_HEX, session.serializer = json
/// ```
///
/// ```
/// use http::HeaderMap;
/// use session::{EncryptedCookieSessionFactory, EncryptionKey};
///
/// // 64 hex digits, as `pyramid_nacl_session`'s `print_secret` prints a key.
/// let key = EncryptionKey::from_hex(
///     "9e1a7f0c3b5d2e8f4a6c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f",
/// )?;
/// let factory = EncryptedCookieSessionFactory::builder(key)
///     .httponly(true)
///     .build()?;
///
/// let mut session = factory.load(&HeaderMap::new());
/// session.insert("user_id", 42);
/// let mut response = HeaderMap::new();
/// factory.save(&session, &mut response)?;
/// let set_cookie = response["set-cookie"].to_str()?;
/// assert!(!set_cookie.contains("user_id")); // the state is not readable in the cookie
///
/// let mut request = HeaderMap::new();
/// request.insert("cookie", set_cookie.split(';').next().unwrap().parse()?);
/// let session = factory.load(&request);
/// assert_eq!(session.get_as::<u64>("user_id")?, Some(42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A key that is not 32 bytes fails the build:
///
/// ```
/// use session::{BuildError, EncryptedCookieSessionFactory};
///
/// let err = EncryptedCookieSessionFactory::builder(b"too short".as_slice()).build().unwrap_err();
/// assert_eq!(err, BuildError::KeyLength { len: 9, expected: 32 });
/// ```
#[cfg(feature = "encrypted")]
pub type EncryptedCookieSessionFactory = CookieSessionFactory<EncryptedCodec>;

/// Loads and saves sessions in a cookie sealed by codec `C`. Cheap to share: keep one per
/// app (in an `Arc`) and call it from every request.
pub struct CookieSessionFactory<C> {
    codec: C,
    cookie: CookieOptions,
    policy: Policy,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Clone)]
pub(crate) struct CookieOptions {
    pub name: String,
    pub max_age: Option<Duration>,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub secure: bool,
    pub httponly: bool,
    pub samesite: Option<SameSite>,
}

impl Default for CookieOptions {
    fn default() -> Self {
        Self {
            name: "session".to_owned(),
            max_age: None,
            path: Some("/".to_owned()),
            domain: None,
            secure: false,
            httponly: false,
            samesite: Some(SameSite::Lax),
        }
    }
}

impl CookieOptions {
    /// The session cookie's value in a request: WebOb keeps the last of repeated cookies,
    /// and so does this, across all `Cookie` headers.
    pub(crate) fn find(&self, headers: &HeaderMap) -> Option<String> {
        headers.get_all(COOKIE).iter().rev().find_map(|header| {
            // A header with bytes outside visible ASCII may still carry a good session
            // cookie.
            find_cookie(&String::from_utf8_lossy(header.as_bytes()), &self.name)
        })
    }

    /// The `Set-Cookie` cookie holding `value`, borrowing these attributes; `now` dates
    /// `Expires` when there is a `Max-Age`.
    pub(crate) fn cookie(&self, value: String, now: f64) -> Cookie<'_> {
        let mut cookie = Cookie::new(self.name.as_str(), value);
        if let Some(path) = &self.path {
            cookie.set_path(path.as_str());
        }
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.as_str());
        }
        if let Some(max_age) = self.max_age {
            let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            cookie.set_max_age(cookie::time::Duration::seconds(secs));
            let expires = (now as i64).saturating_add(secs);
            if let Ok(at) = cookie::time::OffsetDateTime::from_unix_timestamp(expires) {
                cookie.set_expires(at);
            }
        }
        cookie.set_secure(self.secure.then_some(true));
        cookie.set_http_only(self.httponly.then_some(true));
        cookie.set_same_site(self.samesite);
        cookie
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub timeout: Option<f64>,
    pub reissue_time: Option<f64>,
    pub set_on_exception: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            timeout: Some(1200.0),
            reissue_time: Some(0.0),
            set_on_exception: true,
        }
    }
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Saved {
    /// A `Set-Cookie` header was appended.
    Written,
    /// The session needed no new cookie.
    Unchanged,
    /// The response is for a failed request and the factory has `set_on_exception(false)`.
    SkippedOnError,
}

impl SignedCookieSessionFactory {
    /// Starts building a signed cookie factory with `secret` (text is encoded as WebOb does:
    /// see [`Secret`]).
    pub fn builder(secret: impl Into<Secret>) -> Builder<SignedKeys> {
        Builder::signed(secret.into())
    }
}

#[cfg(feature = "encrypted")]
impl EncryptedCookieSessionFactory {
    /// Starts building an encrypted cookie factory with `key`: 32 raw bytes (see
    /// [`EncryptionKey`]; another length fails the build). Rotate keys with
    /// [`fallback_key`](Builder::fallback_key).
    pub fn builder(key: impl Into<EncryptionKey>) -> Builder<EncryptedKeys> {
        Builder::encrypted(key.into())
    }
}

impl<C: CookieCodec> CookieSessionFactory<C> {
    /// Starts building a factory around your own codec.
    pub fn with_codec(codec: C) -> Builder<ReadyCodec<C>> {
        Builder::ready(codec)
    }

    pub(crate) fn new(
        codec: C,
        cookie: CookieOptions,
        policy: Policy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            codec,
            cookie,
            policy,
            clock,
        }
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie.name
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// The current time on the factory's clock.
    pub fn now(&self) -> f64 {
        self.clock.now()
    }

    /// Loads the session of a request from its `Cookie` headers.
    ///
    /// Never fails: a missing or unusable cookie gives a new, empty session whose
    /// [`load_outcome`](Session::load_outcome) says why, and the reason is logged at debug
    /// level.
    pub fn load(&self, headers: &HeaderMap) -> Session {
        let value = self.cookie.find(headers);
        self.load_value(value.as_deref())
    }

    /// Loads a session from the value of a `Cookie` header.
    pub fn load_cookie_header(&self, header: &str) -> Session {
        let value = find_cookie(header, &self.cookie.name);
        self.load_value(value.as_deref())
    }

    /// Loads a session from the session cookie's value (`None` when the request has none).
    pub fn load_value(&self, value: Option<&str>) -> Session {
        let now = self.clock.now();
        let Some(value) = value else {
            return Session::fresh(now, self.policy.reissue_time, LoadOutcome::NoCookie);
        };
        match self.open(value, now) {
            Ok(session) => session,
            Err(Rejected::TimedOut { accessed, created }) => {
                tracing::debug!(
                    cookie = %self.cookie.name,
                    reason = %Rejection::TimedOut,
                    "session cookie timed out; its state is dropped"
                );
                Session::timed_out(now, self.policy.reissue_time, accessed, created)
            }
            Err(Rejected::Invalid(rejection)) => {
                tracing::debug!(
                    cookie = %self.cookie.name,
                    reason = %rejection,
                    "session cookie rejected; starting a new session"
                );
                Session::fresh(
                    now,
                    self.policy.reissue_time,
                    LoadOutcome::Rejected(rejection),
                )
            }
        }
    }

    fn open(&self, value: &str, now: f64) -> Result<Session, Rejected> {
        let opened = self.codec.open(value)?;
        let text = String::from_utf8(opened.payload).map_err(|_| Rejection::NotUtf8)?;
        let parsed = payload::parse(&text)?;
        if let Some(timeout) = self.policy.timeout
            && now - parsed.accessed > timeout
        {
            return Err(Rejected::TimedOut {
                accessed: parsed.accessed,
                created: parsed.created,
            });
        }
        Ok(Session::loaded(
            text,
            parsed,
            now,
            self.policy.reissue_time,
            opened.stale_key,
        ))
    }

    /// Seals the session into a cookie value, whether or not it changed.
    ///
    /// An error when a typed guard failed to write back, or when the value would exceed
    /// [`MAX_COOKIE_VALUE_LEN`].
    pub fn encode(&self, session: &Session) -> Result<String, SessionError> {
        if let Some(failed) = session.failed_write() {
            return Err(SessionError::Unserializable {
                key: failed.key.clone(),
                source: serde::ser::Error::custom(&failed.reason),
            });
        }
        let state = session.state();
        let mut json = Vec::with_capacity(state.json_len_hint() + 48);
        json.push(b'[');
        write_timestamp(&mut json, session.accessed());
        json.push(b',');
        write_timestamp(&mut json, session.created());
        json.push(b',');
        state
            .write_json(&mut json)
            .map_err(|(key, err)| SessionError::unserializable(&key, err))?;
        json.push(b']');
        let value = self.codec.seal(&json);
        if value.len() > MAX_COOKIE_VALUE_LEN {
            return Err(SessionError::TooLarge {
                size: value.len(),
                limit: MAX_COOKIE_VALUE_LEN,
            });
        }
        Ok(value)
    }

    /// The `Set-Cookie` cookie for the session, with the factory's attributes.
    pub fn set_cookie(&self, session: &Session) -> Result<Cookie<'static>, SessionError> {
        Ok(self.build_cookie(self.encode(session)?).into_owned())
    }

    /// The cookie, borrowing the factory's attributes: a save formats it at once.
    fn build_cookie(&self, value: String) -> Cookie<'_> {
        self.cookie.cookie(value, self.clock.now())
    }

    /// Appends the session's `Set-Cookie` header to a response when the save policy says
    /// so: the session changed, or was read after its reissue time, or its cookie was signed
    /// with a fallback secret.
    ///
    /// On error nothing is appended, so the client keeps its previous cookie.
    pub fn save(&self, session: &Session, response: &mut HeaderMap) -> Result<Saved, SessionError> {
        if !session.is_dirty() && session.failed_write().is_none() {
            return Ok(Saved::Unchanged);
        }
        let cookie = self.build_cookie(self.encode(session)?);
        // Names and attributes are checked when the factory is built; only a codec of the
        // user's could produce a value a header cannot hold.
        let header = HeaderValue::try_from(cookie.to_string())
            .map_err(|_| SessionError::InvalidCookieValue)?;
        response.append(SET_COOKIE, header);
        Ok(Saved::Written)
    }

    /// [`save`](Self::save) for the response of a failed request (Pyramid's
    /// `request.exception`): skipped when the factory has `set_on_exception(false)`.
    pub fn save_after_error(
        &self,
        session: &Session,
        response: &mut HeaderMap,
    ) -> Result<Saved, SessionError> {
        if self.policy.set_on_exception {
            self.save(session, response)
        } else {
            Ok(Saved::SkippedOnError)
        }
    }
}

impl<C> fmt::Debug for CookieSessionFactory<C> {
    /// Shows the cookie options and policy, never the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSessionFactory")
            .field("cookie", &self.cookie)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why `open` did not produce a session.
enum Rejected {
    Invalid(Rejection),
    /// A valid cookie past its timeout: Pyramid keeps its timestamps and drops its state.
    TimedOut {
        accessed: f64,
        created: f64,
    },
}

impl From<Rejection> for Rejected {
    fn from(rejection: Rejection) -> Self {
        Self::Invalid(rejection)
    }
}

/// The value of cookie `name` in a `Cookie` header; the last one wins when it repeats, as in
/// WebOb (even when that one is invalid).
fn find_cookie(header: &str, name: &str) -> Option<String> {
    Cookie::split_parse(header)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == name)
        .last()
        .map(|cookie| cookie.value().to_owned())
}

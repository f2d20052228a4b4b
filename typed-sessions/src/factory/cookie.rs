//! Cookie session factories: the whole session in the cookie, sealed by a codec. They load
//! a request's session from its `Cookie` header and, when the save policy says so, write it
//! back as a `Set-Cookie` header.
//!
//! A cookie session is always exactly one request's result: the cookie is the state, and
//! the browser keeps whichever `Set-Cookie` arrives last. Two requests of one session in
//! flight at once (two tabs, a double click) each write the whole state, and the later
//! response undoes the earlier one's changes; no schema policy (`#[session(merge = f)]`,
//! `on_conflict = "reject"`) can apply, since no save sees the other. An app whose users
//! write concurrently keeps its sessions in a server store
//! ([`ServerSessionFactory`](crate::ServerSessionFactory)), whose saves write only the keys
//! a request changed and merge or refuse the keys two requests changed.

use std::borrow::Cow;
use std::fmt;

use cookie::Cookie;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};

use super::budget::Overflow;
#[cfg(feature = "encrypted")]
use super::builder::EncryptedKeys;
use super::builder::{Builder, ReadyCodec, SignedKeys};
use super::chunks;
use super::settings::{Saved, Settings, find_cookie, find_in, header_value};
use crate::codec::{CookieCodec, Secret, SignedCodec};
#[cfg(feature = "encrypted")]
use crate::codec::{EncryptedCodec, EncryptionKey};
use crate::error::{Rejection, SessionError};
use crate::events::{self, SaveReport};
use crate::payload;
use crate::payload::{Serializer, Timestamps};
use crate::session::{LoadOutcome, Origin, Session};
use crate::state::State;

/// The longest cookie value a factory writes, as in Pyramid (which raises past it). The
/// whole `Set-Cookie` line is measured too, against the factory's
/// [`set_cookie_budget`](crate::Builder::set_cookie_budget) (4096 bytes, name and
/// attributes included, by default): a value under this limit with long attributes may
/// still be refused, as a browser would drop it.
pub const MAX_COOKIE_VALUE_LEN: usize = 4064;

/// Pyramid's `SignedCookieSessionFactory`: sessions in an HMAC-signed cookie.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use typed_sessions::SignedCookieSessionFactory;
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
/// factory has the same key and Pyramid's JSON serializer, or, with
/// [`serializer(Serializer::Pickle)`](crate::Builder::serializer) here,
/// `pyramid_nacl_session`'s default, pickle (read and written as data only: see
/// [`pickle`](crate::pickle)):
///
/// ```python
/// from binascii import unhexlify
/// from pyramid.session import JSONSerializer
/// from pyramid_nacl_session import EncryptedCookieSessionFactory
///
/// factory = EncryptedCookieSessionFactory(unhexlify(KEY_HEX), serializer=JSONSerializer())
/// # or, in the settings: session.secret = KEY_HEX, session.serializer = json
///
/// # with `.serializer(Serializer::Pickle)` in Rust: the package's default
/// factory = EncryptedCookieSessionFactory(unhexlify(KEY_HEX))
/// ```
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use typed_sessions::{EncryptedCookieSessionFactory, EncryptionKey};
///
/// // 64 hex digits, as `pyramid_nacl_session`'s `print_secret` prints a key.
/// let key = EncryptionKey::from_hex(
///     "9e1a7f0c3b5d2e8f4a6c1b3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f",
/// )?;
/// let factory = EncryptedCookieSessionFactory::builder(key)
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
/// use typed_sessions::{BuildError, EncryptedCookieSessionFactory};
///
/// let err = EncryptedCookieSessionFactory::builder(b"too short".as_slice()).build().unwrap_err();
/// assert_eq!(err, BuildError::KeyLength { len: 9, expected: 32 });
/// ```
#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub type EncryptedCookieSessionFactory = CookieSessionFactory<EncryptedCodec>;

/// Loads and saves sessions in a cookie sealed by codec `C`. Cheap to share: keep one per
/// app (in an `Arc`) and call it from every request.
pub struct CookieSessionFactory<C> {
    codec: C,
    settings: Settings,
    serializer: Serializer,
}

impl SignedCookieSessionFactory {
    /// Starts building a signed cookie factory with `secret` (text is encoded as WebOb does:
    /// see [`Secret`]).
    pub fn builder(secret: impl Into<Secret>) -> Builder<SignedKeys> {
        Builder::signed(secret.into())
    }
}

#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
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

    pub(crate) fn new(codec: C, settings: Settings) -> Self {
        Self {
            codec,
            settings,
            serializer: Serializer::Json,
        }
    }

    #[cfg(feature = "encrypted")]
    pub(crate) fn with_serializer(mut self, serializer: Serializer) -> Self {
        self.serializer = serializer;
        self
    }

    /// The status that replaces a response whose session does not fit
    /// ([`on_oversized`](Builder::on_oversized)).
    /// Whether the factory writes only what a Pyramid app reads
    /// ([`pyramid_defaults`](Builder::pyramid_defaults), or pickled payloads).
    pub(crate) fn is_pyramid_compatible(&self) -> bool {
        self.settings.pyramid_mode || self.serializer == Serializer::Pickle
    }

    pub(crate) fn on_oversized(&self) -> Option<http::StatusCode> {
        self.settings.policy.on_oversized
    }

    /// How the factory writes the session into its payload.
    pub fn serializer(&self) -> Serializer {
        self.serializer
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.settings.cookie.name
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// The current time on the factory's clock.
    pub fn now(&self) -> f64 {
        self.settings.clock.now()
    }

    /// Loads the session of a request from its `Cookie` headers.
    ///
    /// Never fails: a missing or unusable cookie gives a new, empty session whose
    /// [`load_outcome`](Session::load_outcome) says why, and the reason is logged at debug
    /// level.
    pub fn load(&self, headers: &HeaderMap) -> Session {
        let value = self.settings.cookie.find(headers);
        self.load_found(value.as_deref(), |name| find_in(headers, name))
    }

    /// Loads a session from the value of a `Cookie` header.
    pub fn load_cookie_header(&self, header: &str) -> Session {
        let value = find_cookie(header, &self.settings.cookie.name);
        self.load_found(value, |name| find_cookie(header, name).map(Cow::Borrowed))
    }

    /// Loads a session from the session cookie's value (`None` when the request has none).
    ///
    /// A chunked session ([`chunks`](Builder::chunks)) needs its other cookies: load it
    /// with [`load`](Self::load) or [`load_cookie_header`](Self::load_cookie_header); here
    /// its first chunk alone is refused as [`Rejection::Chunks`].
    pub fn load_value(&self, value: Option<&str>) -> Session {
        self.load_found(value, |_| None)
    }

    /// Loads a session from the session cookie's value `value`, finding its other chunks,
    /// if any, with `find`.
    fn load_found<'v>(
        &self,
        value: Option<&'v str>,
        find: impl Fn(&str) -> Option<Cow<'v, str>>,
    ) -> Session {
        let now = self.settings.clock.now();
        let origin = match value {
            None => Origin::new(LoadOutcome::NoCookie),
            Some(value) => self
                .reassembled(value, find)
                .and_then(|value| self.open(&value, now))
                .unwrap_or_else(|rejection| {
                    self.settings.log_rejection(rejection);
                    Origin::new(LoadOutcome::Rejected(rejection))
                }),
        };
        if events::heard(self.settings.events()) {
            events::loaded(self.settings.events(), origin.outcome, None);
        }
        self.settings.session(origin, now)
    }

    /// The sealed value the session cookie `value` and its chunks hold: `value` itself
    /// unless the factory chunks.
    fn reassembled<'v>(
        &self,
        value: &'v str,
        find: impl Fn(&str) -> Option<Cow<'v, str>>,
    ) -> Result<Cow<'v, str>, Rejection> {
        if self.settings.max_chunks < 2 {
            return Ok(Cow::Borrowed(value));
        }
        chunks::reassemble(
            value,
            &self.settings.cookie.name,
            self.settings.max_chunks,
            find,
        )
    }

    /// What a cookie value holds at `now`: a loaded session, or a timed-out one that keeps
    /// only its timestamps. An error when the value is unusable.
    fn open(&self, value: &str, now: f64) -> Result<Origin, Rejection> {
        #[allow(unused_mut)] // mutated with the `compression` feature
        let mut opened = self.codec.open(value)?;
        // Inflated only now that the codec has checked the signature or tag.
        #[cfg(feature = "compression")]
        if self.settings.compress && opened.payload.first() == Some(&super::compress::MARK) {
            opened.payload =
                super::compress::inflate(&opened.payload[1..], super::compress::MAX_INFLATED_LEN)?;
        }
        // A pickle starts with PROTO (0x80), which no JSON text does.
        if self.serializer == Serializer::Pickle && opened.payload.first() == Some(&0x80) {
            return self.open_pickled(&opened.payload, now, opened.stale_key);
        }
        let text = String::from_utf8(opened.payload).map_err(|_| Rejection::NotUtf8)?;
        let parsed = payload::parse(&text)?;
        let times = parsed.times;
        self.loaded(times, now, opened.stale_key, || {
            State::from_payload(text, parsed)
        })
    }

    /// A session of `times` loaded at `now`, with the state `state` gives unless timed out;
    /// an error when its timestamps are from the future or past the absolute lifetime.
    fn loaded(
        &self,
        times: Timestamps,
        now: f64,
        stale_key: bool,
        state: impl FnOnce() -> State,
    ) -> Result<Origin, Rejection> {
        if let Some(rejection) = self.settings.policy.refuses(times, now) {
            return Err(rejection);
        }
        if self.settings.policy.timed_out(times, now) {
            return Ok(self.timed_out(times));
        }
        let state = state();
        if self.settings.revoked(&state) {
            return Err(Rejection::Revoked);
        }
        Ok(Origin::loaded(state, times, stale_key))
    }

    /// [`open`](Self::open) of a pickled payload; out of line, so that the JSON path stays
    /// as it was to the instruction.
    #[cold]
    #[inline(never)]
    fn open_pickled(&self, payload: &[u8], now: f64, stale_key: bool) -> Result<Origin, Rejection> {
        let parsed = payload::pickled::parse(payload)?;
        self.loaded(parsed.times, now, stale_key, || {
            State::from_pickle(parsed.entries, false)
        })
    }

    /// A session that timed out: as in Pyramid, it keeps its timestamps; only its state goes.
    fn timed_out(&self, times: Timestamps) -> Origin {
        self.settings.log_rejection(Rejection::TimedOut);
        Origin {
            kept: Some(times),
            ..Origin::new(LoadOutcome::Rejected(Rejection::TimedOut))
        }
    }

    /// Seals the session into the value of one cookie, whether or not it changed.
    ///
    /// An error when a typed guard failed to write back, or when one cookie would not fit
    /// the factory's budgets (see [`set_cookie`](Self::set_cookie)); a factory that
    /// [`chunks`](Builder::chunks) splits such a session in [`save`](Self::save).
    pub fn encode(&self, session: &Session) -> Result<String, SessionError> {
        match self.sealed(session)? {
            Ok((value, _)) => Ok(value),
            Err((_, overflow)) => Err(overflow.into()),
        }
    }

    /// The payload of `session`, as the serializer writes it.
    fn payload(&self, session: &Session) -> Result<Vec<u8>, SessionError> {
        if let Some(err) = session.failed_write() {
            return Err(err);
        }
        // The cookie written now is renewed at the session's last access.
        let times = Timestamps {
            accessed: session.accessed(),
            created: session.created(),
        };
        let state = session.state();
        match self.serializer {
            Serializer::Json => payload::write(times, state.json_len_hint(), |out| {
                state
                    .write_json(out)
                    .map_err(|(key, err)| SessionError::unserializable(&key, err))
            }),
            Serializer::Pickle => pickled_payload(times, state),
        }
    }

    /// The session's sealed value and its `Set-Cookie` header value when it fits one
    /// cookie: the plain payload, else (with [`compress`](Builder::compress)) the deflated
    /// one. When neither fits, the shorter value and the budget it breaks.
    #[allow(clippy::type_complexity)]
    fn sealed(
        &self,
        session: &Session,
    ) -> Result<Result<(String, HeaderValue), (String, Overflow)>, SessionError> {
        let payload = self.payload(session)?;
        let value = self.codec.seal(&payload)?;
        let overflow = match self.measured(&value)? {
            Ok(header) => return Ok(Ok((value, header))),
            Err(overflow) => overflow,
        };
        #[cfg(feature = "compression")]
        if self.settings.compress {
            let deflated = super::compress::deflate(&payload);
            if deflated.len() < payload.len() {
                let value = self.codec.seal(&deflated)?;
                return Ok(match self.measured(&value)? {
                    Ok(header) => Ok((value, header)),
                    Err(overflow) => Err((value, overflow)),
                });
            }
        }
        Ok(Err((value, overflow)))
    }

    /// The `Set-Cookie` header value of the session cookie holding `value`, or the first
    /// budget it breaks.
    fn measured(&self, value: &str) -> Result<Result<HeaderValue, Overflow>, SessionError> {
        let cookie = self.settings.cookie(value);
        let header = header_value(&cookie)?;
        Ok(self
            .settings
            .budgets
            .check(cookie.name(), value, header.as_bytes())
            .map(|()| header))
    }

    /// The `Set-Cookie` headers of the session: its cookie, or its chunks (with
    /// [`chunks`](Builder::chunks)), then the removals of the chunk names it does not use.
    fn set_cookies(&self, session: &Session) -> Result<SetCookies, SessionError> {
        let (value, overflow) = match self.sealed(session)? {
            Ok((_, header)) => {
                return Ok(SetCookies {
                    first: header,
                    rest: self.removals(1)?,
                });
            }
            Err(unfit) => unfit,
        };
        if self.settings.max_chunks < 2 {
            return Err(overflow.into());
        }
        self.chunked(&value, overflow)
    }

    /// The chunks of the sealed value `value`, which does not fit one cookie (`overflow`
    /// says why): as few as fit each `Set-Cookie` line, at most the factory's
    /// [`chunks`](Builder::chunks), their `name=value` pairs together within the request
    /// header budget; `overflow` when they do not fit.
    fn chunked(&self, value: &str, overflow: Overflow) -> Result<SetCookies, SessionError> {
        let settings = &self.settings;
        let name = settings.cookie.name.as_str();
        let mut pieces = Vec::new();
        let mut rest = value;
        while !rest.is_empty() {
            let index = pieces.len();
            if index == settings.max_chunks {
                return Err(overflow.into());
            }
            // What the line takes without its value; the value carries a chunk header.
            let attributes = header_value(&settings.cookie_named(chunks::name(name, index), ""))?;
            let room = settings
                .budgets
                .set_cookie
                .saturating_sub(attributes.len())
                .min(MAX_COOKIE_VALUE_LEN)
                .saturating_sub(chunks::HEADER_LEN);
            let mut take = room.min(rest.len());
            // Codecs write ASCII, but never cut inside a character.
            while !rest.is_char_boundary(take) {
                take -= 1;
            }
            if take == 0 {
                return Err(overflow.into());
            }
            pieces.push(&rest[..take]);
            rest = &rest[take..];
        }
        let count = pieces.len();
        if count < 2 {
            // Only a value over the header budget alone gets here, and its chunk is longer.
            return Err(overflow.into());
        }
        let generation = chunks::generation()?;
        let mut headers = Vec::with_capacity(settings.max_chunks);
        let mut cookie_header = 0;
        for (index, piece) in pieces.into_iter().enumerate() {
            let chunk_name = chunks::name(name, index);
            let chunk = chunks::value(&generation, index, count, piece);
            // `name=value`, and `; ` between two pairs of the request's header.
            cookie_header += chunk_name.len() + 1 + chunk.len() + if index > 0 { 2 } else { 0 };
            let cookie = settings.cookie_named(chunk_name, chunk);
            let header = header_value(&cookie)?;
            settings
                .budgets
                .check(cookie.name(), cookie.value(), header.as_bytes())?;
            headers.push(header);
        }
        if cookie_header > settings.budgets.cookie_header {
            return Err(Overflow {
                budget: crate::Budget::CookieHeader,
                size: cookie_header,
                limit: settings.budgets.cookie_header,
            }
            .into());
        }
        headers.extend(self.removals(count)?);
        let mut headers = headers.into_iter();
        let first = headers
            .next()
            .expect("a value too long for one cookie has chunks");
        Ok(SetCookies {
            first,
            rest: headers.collect(),
        })
    }

    /// The `Set-Cookie` headers that expire the chunk names from `from` to the factory's
    /// maximum: none when it does not chunk.
    pub(crate) fn removals(&self, from: usize) -> Result<Vec<HeaderValue>, SessionError> {
        let settings = &self.settings;
        (from..settings.max_chunks.max(1))
            .map(|index| {
                let mut cookie =
                    settings.cookie_named(chunks::name(&settings.cookie.name, index), "");
                cookie.make_removal();
                header_value(&cookie)
            })
            .collect()
    }

    /// The `Set-Cookie` cookie for the session, with the factory's attributes.
    ///
    /// An error when a typed guard failed to write back, or when the cookie would break a
    /// budget ([`SessionError::TooLarge`], naming the [`Budget`](crate::Budget)): the value
    /// over Pyramid's [`MAX_COOKIE_VALUE_LEN`], the whole `Set-Cookie` line over the
    /// [`set_cookie_budget`](Builder::set_cookie_budget), or `name=value` over the
    /// [`cookie_header_budget`](Builder::cookie_header_budget), measured after encoding,
    /// exactly as the header is written; with [`compress`](Builder::compress), only when
    /// the compressed cookie does not fit either. One cookie only: a chunked session's
    /// cookies come from [`save`](Self::save).
    pub fn set_cookie(&self, session: &Session) -> Result<Cookie<'static>, SessionError> {
        let value = self.encode(session)?;
        Ok(self.settings.cookie(value).into_owned())
    }

    /// Appends the session's `Set-Cookie` header to a response when the save policy says
    /// so: the session changed, or was read after its reissue time, or its cookie was signed
    /// with a fallback secret.
    /// A request that came without a cookie and leaves its session empty gets none.
    ///
    /// On error nothing is appended, so the client keeps its previous cookie.
    pub fn save(&self, session: &Session, response: &mut HeaderMap) -> Result<Saved, SessionError> {
        let (saved, headers) = self.save_value(session)?;
        if let Some(headers) = headers {
            headers.append_to(response);
        }
        Ok(saved)
    }

    /// [`save`](Self::save), giving the `Set-Cookie` value instead of appending it.
    /// The `Set-Cookie` headers of `session`, changed or not (for the test kit).
    #[cfg(feature = "testing")]
    pub(crate) fn set_cookie_headers(&self, session: &Session) -> Result<HeaderMap, SessionError> {
        let mut response = HeaderMap::new();
        self.set_cookies(session)?.append_to(&mut response);
        Ok(response)
    }

    /// The session cookie's value in request headers, if any (for the test kit).
    #[cfg(feature = "testing")]
    pub(crate) fn find_cookie(&self, headers: &HeaderMap) -> Option<String> {
        self.settings
            .cookie
            .find(headers)
            .map(|value| value.into_owned())
    }

    pub(crate) fn save_value(
        &self,
        session: &Session,
    ) -> Result<(Saved, Option<SetCookies>), SessionError> {
        if !session.is_dirty() && session.failed_write().is_none() {
            return Ok((Saved::Unchanged, None));
        }
        if session.failed_write().is_none() && holds_nothing_new(session) {
            return Ok((Saved::Unchanged, None));
        }
        let cookies = self.set_cookies(session)?;
        if events::heard(self.settings.events()) {
            SaveReport::of(session, None, None, true).emit(self.settings.events(), Saved::Written);
        }
        Ok((Saved::Written, Some(cookies)))
    }

    /// [`save_after_error`](Self::save_after_error), giving the `Set-Cookie` value.
    pub(crate) fn save_value_after_error(
        &self,
        session: &Session,
    ) -> Result<(Saved, Option<SetCookies>), SessionError> {
        if self.settings.policy.set_on_exception {
            self.save_value(session)
        } else {
            Ok((Saved::SkippedOnError, None))
        }
    }

    /// [`save`](Self::save) for the response of a failed request (Pyramid's
    /// `request.exception`): skipped when the factory has `set_on_exception(false)`.
    pub fn save_after_error(
        &self,
        session: &Session,
        response: &mut HeaderMap,
    ) -> Result<Saved, SessionError> {
        let (saved, headers) = self.save_value_after_error(session)?;
        if let Some(headers) = headers {
            headers.append_to(response);
        }
        Ok(saved)
    }
}

/// The `Set-Cookie` headers of a save: the session cookie (or its first chunk), then its
/// other chunks and the removals of unused chunk names, if the factory chunks.
pub(crate) struct SetCookies {
    pub first: HeaderValue,
    pub rest: Vec<HeaderValue>,
}

/// What a save wrote: its outcome, its first `Set-Cookie`, its `Vary` and its other
/// `Set-Cookie`s (a chunked cookie's, removals).
pub(crate) type Written = (
    Saved,
    Option<HeaderValue>,
    Option<HeaderValue>,
    Vec<HeaderValue>,
);

impl SetCookies {
    /// The headers of a cookie save (`None`: it writes no cookie).
    pub(crate) fn written(saved: Saved, set_cookies: Option<Self>) -> Written {
        match set_cookies {
            Some(Self { first, rest }) => (saved, Some(first), None, rest),
            None => (saved, None, None, Vec::new()),
        }
    }

    fn append_to(self, response: &mut HeaderMap) {
        response.append(SET_COOKIE, self.first);
        for header in self.rest {
            response.append(SET_COOKIE, header);
        }
    }
}

/// Whether `session` came with no cookie and holds nothing: a cookie would carry an empty
/// session the next request would start anyway, so none is sent.
fn holds_nothing_new(session: &Session) -> bool {
    session.load_outcome() == LoadOutcome::NoCookie && session.state().len() == 0
}

/// The payload of a pickling factory; out of line, as `open_pickled` is.
#[cold]
#[inline(never)]
fn pickled_payload(times: Timestamps, state: &State) -> Result<Vec<u8>, SessionError> {
    let entries = state
        .entries_pickle(true)
        .map_err(|(key, err)| SessionError::unserializable(&key, err))?;
    Ok(payload::pickled::write(times, entries))
}

impl<C> fmt::Debug for CookieSessionFactory<C> {
    /// Shows the cookie options and policy, never the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings
            .debug_struct(f, "CookieSessionFactory")
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "encrypted"))]
mod tests {
    use super::*;
    use crate::random::failing;

    /// Without the OS's random source the encrypted codec has no nonce: the save is an
    /// error and writes no cookie.
    #[test]
    fn an_encrypted_save_without_a_nonce_is_an_error_not_a_panic() {
        let factory = EncryptedCookieSessionFactory::builder([7; 32])
            .build()
            .unwrap();
        let mut session = factory.load_value(None);
        session.insert("user_id", 7);
        let _failing = failing::start();
        let mut response = HeaderMap::new();
        let err = factory.save(&session, &mut response).unwrap_err();
        assert!(matches!(err, SessionError::RandomSource { .. }), "{err}");
        assert!(response.is_empty());
        // The signed codec draws no randomness.
        let signed = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
            .build()
            .unwrap();
        assert_eq!(
            signed.save(&session, &mut response).unwrap(),
            Saved::Written
        );
    }
}

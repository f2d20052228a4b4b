//! The builder of every session factory: Pyramid's options with safe defaults (and
//! Pyramid's own a call away), checked once at build time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cookie::SameSite;

use super::cookie::CookieSessionFactory;
use super::server::{ServerOptions, ServerSessionFactory};
use super::settings::{CookieOptions, Policy, Settings};
use crate::auth::RevocationCheck;
use crate::clock::Clock;
use crate::codec::{CookieCodec, HashAlg, Secret, SignedCodec};
#[cfg(feature = "encrypted")]
use crate::codec::{EncryptedCodec, EncryptionKey};
use crate::error::BuildError;
use crate::events::SessionEvents;
#[cfg(feature = "encrypted")]
use crate::payload::Serializer;
use crate::store::SessionStore;

/// The shortest secret a factory accepts without
/// [`allow_short_secret`](Builder::allow_short_secret): 32 bytes, the output size of SHA-256.
pub const MIN_SECRET_LEN: usize = 32;

/// Builds a [`CookieSessionFactory`] or a [`ServerSessionFactory`].
///
/// # Defaults: safe, and one call from Pyramid's
///
/// | option | default | Pyramid's ([`pyramid_defaults`](Self::pyramid_defaults)) |
/// |---|---|---|
/// | `cookie_name` | `session` | `session` |
/// | `path`, `domain` | `/`, none | `/`, none |
/// | `max_age` | none (a browser-session cookie) | none |
/// | `secure` | **true** | false |
/// | `httponly` | **true** | false |
/// | `samesite` | `Lax` | `Lax` |
/// | `partitioned` | false | (no such option) |
/// | `timeout` | 1200 s | 1200 s |
/// | `reissue_time` | **a tenth of the timeout** (120 s) | 0 s |
/// | `set_on_exception` | true | true |
/// | `max_lifetime` | **one day** | none (no such option) |
/// | `on_discarded` | `409 Conflict` | (no such option) |
/// | `set_cookie_budget` | 4096 bytes per `Set-Cookie` line | 4096 |
/// | `cookie_header_budget` | 8192 bytes of the request's `Cookie` header | 8192 |
/// | `on_oversized` | `507 Insufficient Storage` | `507` (Pyramid raises: a `500`) |
/// | `flash_queue_cap` | **20 messages per queue** | none (no limit) |
/// | `compress` | off | off, and refused (a Pyramid app cannot read it) |
/// | `chunks` | 1 (no chunking) | 1, and more refused |
///
/// `Secure` and `HttpOnly` are on because Pyramid's own session docs tell every app to turn
/// them on (`secure=True` "at the very least", `httponly=True` against cross-site
/// scripting), and because tower-sessions and actix-session default to them too. Browsers,
/// curl and reqwest's cookie jar accept and send `Secure` cookies over plain HTTP on
/// `http://localhost` and `http://127.0.0.1`, so local development needs no switch.
///
/// The reissue time is how old the client's cookie may be before a request that only
/// *reads* the session writes a new one. Pyramid's default, 0, writes a new `Set-Cookie` on
/// nearly every request that reads the session, and with a [`ServerSessionFactory`] a store
/// write per read: a read-mostly site turns into a write-per-request one. Pyramid's docs
/// call a tenth of the timeout "a good rule of thumb" (120 s for 1200 s), and that is the
/// default here, derived from [`timeout`](Self::timeout) until
/// [`reissue_time`](Self::reissue_time) is set (120 s when there is no timeout). The cost is
/// precision: the timeout counts from the `accessed` time of the last cookie or record
/// written, which lags the last request by up to the reissue time, so an idle session ends
/// between 90% and 100% of the timeout after its last request (1080 to 1200 s), and an
/// active one never times out. A session gets at most one renewal write per reissue time
/// instead of one per request; changes are always written at once.
///
/// The cookie and policy options are the same for every factory. The keys' options depend
/// on `K`: `salt`, `hashalg`, `fallback_secret` and `allow_short_secret` for factories that
/// sign with a secret ([`SignedKeys`], [`KeysAndStore`]), `fallback_key` for encrypted
/// cookies.
///
/// ```
/// use std::time::Duration;
/// use typed_sessions::{SameSite, SignedCookieSessionFactory};
///
/// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
///     .cookie_name("__Host-app_session") // Secure, Path=/, no Domain: checked at build
///     .samesite(SameSite::Strict)
///     .timeout(Duration::from_secs(3600)) // and so a reissue time of 360 s
///     .build()
///     .unwrap();
/// assert_eq!(factory.cookie_name(), "__Host-app_session");
/// ```
///
/// Cookie prefixes are checked when the factory is built, as browsers check them when they
/// receive the cookie: a name starting `__Secure-` needs `Secure`, one starting `__Host-`
/// needs `Secure`, `Path=/` and no `Domain` (both matched without regard to case, as
/// browsers do), and [`partitioned`](Self::partitioned) needs `Secure`. Each rule broken is
/// its own [`BuildError`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<K> {
    keys: K,
    settings: Settings,
    /// Whether `reissue_time` was set, by its setter or a preset; until it is, it follows
    /// `timeout`.
    reissue_time_set: bool,
    allow_short_secret: bool,
    /// Whether [`pyramid_defaults`](Self::pyramid_defaults) was called: the build then
    /// refuses what a Pyramid app could not read.
    pyramid_mode: bool,
}

/// The signing keys of a [`SignedCookieSessionFactory`](crate::SignedCookieSessionFactory)
/// being built: salt `pyramid.session.` and SHA-512 unless set.
pub struct SignedKeys {
    secret: Secret,
    fallbacks: Vec<Secret>,
    salt: String,
    hash_alg: HashAlg,
}

/// A codec given ready-made to [`CookieSessionFactory::with_codec`].
pub struct ReadyCodec<C>(C);

/// The encryption keys of an
/// [`EncryptedCookieSessionFactory`](crate::EncryptedCookieSessionFactory) being built.
#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub struct EncryptedKeys {
    key: EncryptionKey,
    fallbacks: Vec<EncryptionKey>,
    serializer: Serializer,
}

/// The signing keys and the store of a [`ServerSessionFactory`] being built. The keys sign
/// only the session id, with salt `session.server-id.` unless set: unlike cookie sessions,
/// so that the two kinds of cookie never open as each other even under one secret.
pub struct KeysAndStore<S> {
    signed: SignedKeys,
    store: S,
    options: ServerOptions,
    /// A codec that signs ids instead of `signed` (see [`Builder::id_codec`]).
    id_codec: Option<Box<dyn CookieCodec>>,
}

impl SignedKeys {
    fn new(secret: Secret, salt: &str) -> Self {
        Self {
            secret,
            fallbacks: Vec::new(),
            salt: salt.to_owned(),
            hash_alg: HashAlg::Sha512,
        }
    }
}

impl<K> Builder<K> {
    fn with_keys(keys: K) -> Self {
        Self {
            keys,
            settings: Settings::default(),
            reissue_time_set: false,
            allow_short_secret: false,
            pyramid_mode: false,
        }
    }

    /// Every cookie and policy option set to Pyramid 2.1's defaults: not `Secure`, not
    /// `HttpOnly`, `reissue_time` 0 s, no `max_lifetime`, and otherwise as the builder's
    /// (see the table above).
    /// For an app that shares its sessions with a Pyramid app configured with those
    /// defaults, or that must write exactly the `Set-Cookie` headers Pyramid writes.
    ///
    /// Call it first: it replaces the cookie and policy options set before it (not the
    /// keys, the salt, the hash or the clock). Options set after it change the preset.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use typed_sessions::SignedCookieSessionFactory;
    ///
    /// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
    ///     .pyramid_defaults()
    ///     .build()?;
    /// let mut session = factory.load(&HeaderMap::new());
    /// session.insert("user_id", 7);
    /// let mut response = HeaderMap::new();
    /// factory.save(&session, &mut response)?;
    /// let attributes: Vec<&str> = response["set-cookie"].to_str()?.split("; ").skip(1).collect();
    /// assert_eq!(attributes, ["SameSite=Lax", "Path=/"]); // Pyramid's: no Secure, no HttpOnly
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// It also turns the cookie-size fallbacks off and has the build refuse them
    /// ([`BuildError::NotInPyramidMode`]): a Pyramid app cannot read a compressed cookie. Flash
    /// queues are not capped, as in Pyramid (set [`flash_queue_cap`](Self::flash_queue_cap)
    /// after it to cap them: the queues' JSON stays what Pyramid reads).
    pub fn pyramid_defaults(mut self) -> Self {
        self.settings.cookie = CookieOptions::pyramid();
        self.settings.policy = Policy::pyramid();
        self.settings.compress = false;
        self.settings.flash_queue_cap = None;
        self.settings.max_chunks = 1;
        self.reissue_time_set = true;
        self.pyramid_mode = true;
        self.settings.pyramid_mode = true;
        self
    }

    /// The most bytes one `Set-Cookie` line may take: the header's value, name, `=`, value
    /// and every attribute, after encoding, as browsers count it (default
    /// [`DEFAULT_SET_COOKIE_BUDGET`](crate::DEFAULT_SET_COOKIE_BUDGET), 4096; Safari keeps
    /// only [`SAFARI_SET_COOKIE_BUDGET`](crate::SAFARI_SET_COOKIE_BUDGET), 4093). A session
    /// whose cookie would be longer is not written (a browser would drop it without a word)
    /// unless a fallback makes it fit: see [`on_oversized`](Self::on_oversized).
    ///
    /// Whatever the budget, the value itself never exceeds Pyramid's
    /// [`MAX_COOKIE_VALUE_LEN`](crate::MAX_COOKIE_VALUE_LEN).
    ///
    /// ```
    /// use http::HeaderMap;
    /// use typed_sessions::{Budget, SAFARI_SET_COOKIE_BUDGET, SessionError, SignedCookieSessionFactory};
    ///
    /// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
    ///     .set_cookie_budget(SAFARI_SET_COOKIE_BUDGET)
    ///     .build()?;
    /// let mut session = factory.load(&HeaderMap::new());
    /// session.insert("notes", "x".repeat(2930)); // a 4,050-byte value: fits Pyramid's 4,064
    /// let err = factory.save(&session, &mut HeaderMap::new()).unwrap_err();
    /// let overflow = err.overflow().unwrap();
    /// assert_eq!((overflow.budget, overflow.limit), (Budget::SetCookie, 4093));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_cookie_budget(mut self, bytes: usize) -> Self {
        self.settings.budgets.set_cookie = bytes;
        self
    }

    /// The most bytes the session's cookie may add to the request's `Cookie` header
    /// (`name=value`; default
    /// [`DEFAULT_COOKIE_HEADER_BUDGET`](crate::DEFAULT_COOKIE_HEADER_BUDGET), 8192, nginx's
    /// default header line limit). Lower it by what the app's other cookies take, so that
    /// the next request is not refused by a proxy (`400`, `431`) before it reaches the app.
    pub fn cookie_header_budget(mut self, bytes: usize) -> Self {
        self.settings.budgets.cookie_header = bytes;
        self
    }

    /// The status that answers a request whose session does not fit its cookie's budgets
    /// (after the factory's fallbacks): no `Set-Cookie` is written, so the client keeps its
    /// previous cookie, and the handler's response is replaced by an empty one of this
    /// status, whose extensions hold the [`Overflow`](crate::Overflow) (which budget, how
    /// many bytes) for a middleware outside the session layer. An error response (5xx)
    /// stays as it is, without the cookie.
    ///
    /// Default `507 Insufficient Storage`: the server could not store what the request
    /// needs kept (RFC 4918 section 11.5), which is the case: a 5xx because the client did
    /// nothing wrong and retrying will not help; not `413 Content Too Large`, which is about
    /// the *request's* content and would blame the client; and not a bare `500`, so that
    /// dashboards and alerts tell this failure (raise a budget, shrink the state, turn a
    /// fallback on) from every other one. `None` keeps the handler's response, without the
    /// cookie, with the `Overflow` in its extensions: the handler's "done" then claims a
    /// change that was not kept, so only choose it when the app checks the extension.
    pub fn on_oversized(mut self, status: impl Into<Option<http::StatusCode>>) -> Self {
        self.settings.policy.on_oversized = status.into();
        self
    }

    /// The most cookies a cookie factory may split a session into when it does not fit one
    /// (default 1: no chunking; at most [`MAX_CHUNKS`](crate::MAX_CHUNKS)). A small number
    /// is the point: two chunks double the room, and the request's whole `Cookie` header
    /// must still fit the [`cookie_header_budget`](Self::cookie_header_budget) (8 KiB:
    /// about two full cookies), which the save checks.
    ///
    /// A chunked session is written as the cookies `name`, `name.1`, …, each value carrying
    /// the write's generation (a hash of the whole sealed value), its index and the count;
    /// the signature or tag covers the reassembled value, so chunks of different writes
    /// (two tabs saving at once, an old chunk replayed) never combine: such a request gets
    /// a fresh session, its reason logged
    /// ([`Rejection::Chunks`](crate::Rejection::Chunks)). Every save, chunked or not, also
    /// expires the chunk names it does not use, up to this maximum, so that no stale chunk
    /// outlives a session that shrank (that is `max - 1` short `Set-Cookie` headers on each
    /// save of a session that fits one cookie).
    ///
    /// A Pyramid app cannot read chunks: the build refuses more than one after
    /// [`pyramid_defaults`](Self::pyramid_defaults) or with the Pickle serializer
    /// ([`BuildError::NotInPyramidMode`]). Cookie factories only: a server-side session's
    /// cookie is an id.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use http::header::{COOKIE, SET_COOKIE};
    /// use typed_sessions::SignedCookieSessionFactory;
    ///
    /// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
    ///     .chunks(2)
    ///     .build()?;
    /// let mut session = factory.load(&HeaderMap::new());
    /// session.insert("notes", "x".repeat(4000));
    /// let mut response = HeaderMap::new();
    /// factory.save(&session, &mut response)?;
    /// let pairs: Vec<&str> = response
    ///     .get_all(SET_COOKIE)
    ///     .iter()
    ///     .map(|line| line.to_str().unwrap().split(';').next().unwrap())
    ///     .collect();
    /// assert!(pairs[0].starts_with("session=") && pairs[1].starts_with("session.1="));
    /// let mut request = HeaderMap::new();
    /// request.insert(COOKIE, pairs.join("; ").parse()?);
    /// assert_eq!(factory.load(&request).get_as::<String>("notes")?.unwrap().len(), 4000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chunks(mut self, max: usize) -> Self {
        self.settings.max_chunks = max;
        self
    }

    /// The most messages a flash queue keeps (default
    /// [`DEFAULT_FLASH_QUEUE_CAP`](crate::DEFAULT_FLASH_QUEUE_CAP), 20; `None`: no limit, as
    /// in Pyramid). A full queue drops its oldest message with a warning naming the queue,
    /// so that flash messages queued by many requests without a page view in between never
    /// push a cookie session over its budget by themselves.
    pub fn flash_queue_cap(mut self, cap: impl Into<Option<usize>>) -> Self {
        self.settings.flash_queue_cap = cap.into();
        self
    }

    /// The cookie's name (default `session`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.settings.cookie.name = name.into();
        self
    }

    /// The cookie's `Max-Age` (and `Expires`); `None` (the default) makes a browser-session
    /// cookie. Only a new cookie pushes the expiry back, so keep the
    /// [`reissue_time`](Self::reissue_time) well below it: with a `Max-Age` under the
    /// reissue time, a session that is only read expires in the browser while in use.
    pub fn max_age(mut self, max_age: impl Into<Option<Duration>>) -> Self {
        self.settings.cookie.max_age = max_age.into();
        self
    }

    /// The cookie's `Path` (default `/`); `None` sends no `Path`.
    pub fn path(mut self, path: impl Into<Option<String>>) -> Self {
        self.settings.cookie.path = path.into();
        self
    }

    /// The cookie's `Domain` (default none).
    pub fn domain(mut self, domain: impl Into<Option<String>>) -> Self {
        self.settings.cookie.domain = domain.into();
        self
    }

    /// Whether the cookie is `Secure`: sent over HTTPS only, and to `http://localhost`
    /// (default true; Pyramid's false).
    pub fn secure(mut self, secure: bool) -> Self {
        self.settings.cookie.secure = secure;
        self
    }

    /// Whether the cookie is `HttpOnly`: hidden from page scripts (default true; Pyramid's
    /// false).
    pub fn httponly(mut self, httponly: bool) -> Self {
        self.settings.cookie.httponly = httponly;
        self
    }

    /// The cookie's `SameSite` (default `Lax`); `None` sends no `SameSite` attribute.
    pub fn samesite(mut self, samesite: impl Into<Option<SameSite>>) -> Self {
        self.settings.cookie.samesite = samesite.into();
        self
    }

    /// Whether the cookie is `Partitioned` (CHIPS): a browser keeps a separate copy of it
    /// per top-level site, for an app embedded in other sites' pages, which then also needs
    /// `samesite(SameSite::None)`. Default false; needs `Secure`.
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.settings.cookie.partitioned = partitioned;
        self
    }

    /// Whether a cookie is written on a response for a failed request (default true). The
    /// factory's [`save_after_error`](CookieSessionFactory::save_after_error) honours it.
    pub fn set_on_exception(mut self, set: bool) -> Self {
        self.settings.policy.set_on_exception = set;
        self
    }

    /// How long a session lives without being renewed (default 1200 s); `None` means
    /// forever. Until [`reissue_time`](Self::reissue_time) is set, it is a tenth of this.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        let policy = &mut self.settings.policy;
        policy.timeout = timeout.into().map(|d| d.as_secs_f64());
        if !self.reissue_time_set {
            policy.reissue_time = Policy::reissue_time_for(policy.timeout);
        }
        self
    }

    /// How old a client's cookie may get before reading the session issues a new one
    /// (default a tenth of the timeout, see [above](Self#defaults-safe-and-one-call-from-pyramids);
    /// Pyramid's 0 s: any read in a later second); `None` means only changes write a cookie.
    pub fn reissue_time(mut self, reissue_time: impl Into<Option<Duration>>) -> Self {
        self.settings.policy.reissue_time = reissue_time.into().map(|d| d.as_secs_f64());
        self.reissue_time_set = true;
        self
    }

    /// How long a session may live from its creation, however active it is (default one
    /// day); `None` means forever, as in Pyramid. A session older than this starts fresh
    /// (the request's cookie is refused as [`Rejection::TooOld`](crate::Rejection::TooOld)),
    /// so a stolen cookie cannot be kept alive by using it, and a signed-in user signs in
    /// again at least daily. Apps whose users stay signed in for weeks set a longer one (and
    /// keep the sign-in itself short-lived elsewhere).
    pub fn max_lifetime(mut self, lifetime: impl Into<Option<Duration>>) -> Self {
        self.settings.policy.max_lifetime = lifetime.into().map(|d| d.as_secs_f64());
        self
    }

    /// The status that answers a request whose session changes were discarded instead of
    /// saved ([`Saved::Discarded`](crate::Saved::Discarded): the server-side record was
    /// deleted by a sign-out elsewhere, rotated or expired while the request ran). Default
    /// `409 Conflict` with an empty body and no `Set-Cookie`, through the axum and actix-web
    /// adapters, so the client is never told that a change it made was kept; an error
    /// response (4xx, 5xx) stays as it is. `None` keeps the handler's response (the old
    /// behaviour); the adapters then put `Saved::Discarded` in its extensions.
    pub fn on_discarded(mut self, status: impl Into<Option<http::StatusCode>>) -> Self {
        self.settings.policy.on_discarded = status.into();
        self
    }

    /// The clock the factory reads (default the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// The app's hook for lifecycle events (default none: events are only logged, under
    /// the target `typed_sessions::events`). See [`events`](crate::events); an
    /// `Arc<EventCounters>` counts them for a metrics exporter.
    pub fn events(mut self, hook: impl SessionEvents) -> Self {
        self.settings.events = Some(Arc::new(hook));
        self
    }

    /// A check of every signed-in session on load (default none): given the user's id and
    /// the auth hash the session holds (see [`auth`](crate::auth)), it says whether that
    /// sign-in is revoked. A revoked session is not used: the request starts signed out, in
    /// a new session, its [`load_outcome`](crate::Session::load_outcome)
    /// [`Rejection::Revoked`](crate::Rejection::Revoked), the reason logged.
    ///
    /// This is how a cookie session, which the server cannot delete, is revoked: keep a
    /// per-user epoch (a "password version", bumped by "sign out everywhere") in the
    /// [`AuthUser::session_auth_hash`](crate::auth::AuthUser::session_auth_hash), and
    /// check it here against
    /// [`AuthHasher::verify`](crate::auth::AuthHasher::verify). It runs on every request
    /// that loads a signed-in session, so it must be cheap (an in-memory map or cache, not a
    /// database query), and it is all a cookie session can offer: the server cannot list a
    /// user's cookie sessions, end one device but not the others, or show the user their
    /// devices. For that, keep sessions on the server, whose stores index them by user.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::sync::{Arc, RwLock};
    /// use http::HeaderMap;
    /// use typed_sessions::auth::AuthHasher;
    /// use typed_sessions::{LoadOutcome, Rejection, SignedCookieSessionFactory};
    ///
    /// let hasher = AuthHasher::new("a secret of at least thirty-two bytes");
    /// let epochs: Arc<RwLock<HashMap<String, u64>>> = Arc::default();
    /// let (check_hasher, check_epochs) = (hasher.clone(), epochs.clone());
    /// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
    ///     .revocation(move |user: &str, hash: Option<&str>| {
    ///         let epoch = check_epochs.read().unwrap().get(user).copied().unwrap_or(0);
    ///         !hash.is_some_and(|hash| check_hasher.verify(user, &epoch.to_be_bytes(), hash))
    ///     })
    ///     .build()?;
    ///
    /// let mut session = factory.load(&HeaderMap::new());
    /// session.insert(typed_sessions::AUTH_USER_KEY, "ada");
    /// session.insert(typed_sessions::AUTH_HASH_KEY, hasher.hash("ada", &0u64.to_be_bytes()));
    /// let cookie = factory.encode(&session)?;
    /// assert_eq!(factory.load_value(Some(&cookie)).load_outcome(), LoadOutcome::Loaded);
    ///
    /// epochs.write().unwrap().insert("ada".into(), 1); // "sign out everywhere"
    /// let revoked = factory.load_value(Some(&cookie));
    /// assert_eq!(revoked.load_outcome(), LoadOutcome::Rejected(Rejection::Revoked));
    /// assert!(revoked.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revocation(mut self, check: impl RevocationCheck) -> Self {
        self.settings.revocation = Some(Arc::new(check));
        self
    }

    fn check_options(&self) -> Result<(), BuildError> {
        if self.pyramid_mode && self.settings.compress {
            return Err(BuildError::NotInPyramidMode { option: "compress" });
        }
        if self.pyramid_mode && self.settings.max_chunks > 1 {
            return Err(BuildError::NotInPyramidMode { option: "chunks" });
        }
        if !(1..=crate::MAX_CHUNKS).contains(&self.settings.max_chunks) {
            return Err(BuildError::ChunkCount {
                max: self.settings.max_chunks,
            });
        }
        let name = &self.settings.cookie.name;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(BuildError::InvalidCookieName(name.clone()));
        }
        for (attribute, value) in [
            ("path", &self.settings.cookie.path),
            ("domain", &self.settings.cookie.domain),
        ] {
            if let Some(value) = value
                && !value
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b';')
            {
                return Err(BuildError::InvalidAttribute {
                    attribute,
                    value: value.clone(),
                });
            }
        }
        let cookie = &self.settings.cookie;
        if cookie.samesite == Some(SameSite::None) && !cookie.secure {
            return Err(BuildError::SameSiteNoneWithoutSecure);
        }
        if cookie.partitioned && !cookie.secure {
            return Err(BuildError::PartitionedWithoutSecure);
        }
        check_prefix(cookie)
    }
}

/// The cookie prefix rules of RFC 6265bis (section 4.1.3), which browsers enforce by
/// dropping the cookie: `__Secure-x` without `Secure`, or `__Host-x` without `Secure`, with
/// a `Path` other than `/` or with a `Domain`, would never be stored.
fn check_prefix(cookie: &CookieOptions) -> Result<(), BuildError> {
    let name = &cookie.name;
    // Browsers match the prefixes without regard to case (RFC 6265bis, Chromium since 2024).
    let has_prefix = |prefix: &str| {
        name.as_bytes()
            .get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    if has_prefix("__Secure-") && !cookie.secure {
        return Err(BuildError::SecurePrefixWithoutSecure { name: name.clone() });
    }
    if has_prefix("__Host-") {
        if !cookie.secure {
            return Err(BuildError::HostPrefixWithoutSecure { name: name.clone() });
        }
        if cookie.path.as_deref() != Some("/") {
            return Err(BuildError::HostPrefixWithoutRootPath {
                name: name.clone(),
                path: cookie.path.clone(),
            });
        }
        if let Some(domain) = &cookie.domain {
            return Err(BuildError::HostPrefixWithDomain {
                name: name.clone(),
                domain: domain.clone(),
            });
        }
    }
    Ok(())
}

/// RFC 6265 cookie names are RFC 7230 tokens.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The keys of the builders whose factory signs with a secret ([`SignedKeys`],
/// [`KeysAndStore`]), so that one `impl` block sets the options they share.
///
/// `pub` only because that block is public; lib.rs does not export it, so users can neither
/// name nor implement it.
pub trait SignsWithSecret {
    fn signed_keys(&mut self) -> &mut SignedKeys;
}

impl SignsWithSecret for SignedKeys {
    fn signed_keys(&mut self) -> &mut SignedKeys {
        self
    }
}

impl<S> SignsWithSecret for KeysAndStore<S> {
    fn signed_keys(&mut self) -> &mut SignedKeys {
        &mut self.signed
    }
}

impl<K: SignsWithSecret> Builder<K> {
    /// The salt prepended to the secret (default `pyramid.session.`; a
    /// [`ServerSessionFactory`] has its own, see [`KeysAndStore`]).
    pub fn salt(mut self, salt: impl Into<String>) -> Self {
        self.keys.signed_keys().salt = salt.into();
        self
    }

    /// The HMAC hash (default SHA-512).
    pub fn hashalg(mut self, hash_alg: HashAlg) -> Self {
        self.keys.signed_keys().hash_alg = hash_alg;
        self
    }

    /// An older secret whose cookies still load. A cookie signed with it is re-signed with
    /// the current secret on its request's save; nothing is ever signed with it.
    pub fn fallback_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.keys.signed_keys().fallbacks.push(secret.into());
        self
    }

    /// Accepts secrets shorter than [`MIN_SECRET_LEN`] bytes, even empty ones, as Pyramid
    /// does. Only for sharing cookie sessions with an existing app whose secret cannot
    /// change yet; a server-side session shares its secret with no Pyramid app.
    pub fn allow_short_secret(mut self) -> Self {
        self.allow_short_secret = true;
        self
    }

    /// The signed codec, refusing short secrets unless allowed.
    fn signed_codec(&mut self) -> Result<SignedCodec, BuildError> {
        let allow_short_secret = self.allow_short_secret;
        let keys = self.keys.signed_keys();
        for secret in std::iter::once(&keys.secret).chain(&keys.fallbacks) {
            // The bytes the HMAC key holds: text may be signed as Latin-1, shorter than its
            // UTF-8.
            let len = secret.key_len(&keys.salt);
            if len < MIN_SECRET_LEN && !allow_short_secret {
                return Err(BuildError::ShortSecret {
                    len,
                    min: MIN_SECRET_LEN,
                });
            }
        }
        Ok(keys.fallbacks.iter().fold(
            SignedCodec::new(keys.secret.clone(), &keys.salt, keys.hash_alg),
            |codec, old| codec.with_fallback(old.clone(), &keys.salt),
        ))
    }
}

impl Builder<SignedKeys> {
    pub(crate) fn signed(secret: Secret) -> Self {
        Self::with_keys(SignedKeys::new(secret, "pyramid.session."))
    }

    /// Whether a session whose cookie would not fit the budgets is written compressed
    /// (default false; feature `compression`): its payload is deflated behind a marker
    /// byte, and used when that makes the cookie fit. A session that fits is written as
    /// before, readable (and so exactly what Pyramid writes). On load, a marked payload is
    /// inflated only after the signature checks, and never past
    /// [`MAX_INFLATED_LEN`](crate::MAX_INFLATED_LEN) bytes (a cookie that inflates further
    /// is refused as [`Rejection::Decompression`](crate::Rejection::Decompression)).
    ///
    /// A Pyramid app cannot read a compressed cookie: the build refuses this after
    /// [`pyramid_defaults`](Self::pyramid_defaults) ([`BuildError::NotInPyramidMode`]).
    ///
    /// A signed cookie's payload is readable by its client anyway, so compression reveals
    /// nothing new; see the encrypted factory's
    /// [`compress_revealing_length`](Builder::compress_revealing_length) for what it
    /// costs there.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use typed_sessions::SignedCookieSessionFactory;
    ///
    /// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
    ///     .compress(true)
    ///     .build()?;
    /// let mut session = factory.load(&HeaderMap::new());
    /// session.insert("log", "the same line again; ".repeat(300)); // 6 KiB of JSON
    /// let mut response = HeaderMap::new();
    /// factory.save(&session, &mut response)?; // fits once deflated
    /// let header = response["set-cookie"].to_str()?;
    /// assert!(header.len() < 4096);
    /// let mut request = HeaderMap::new();
    /// request.insert("cookie", header.split(';').next().unwrap().parse()?);
    /// assert_eq!(factory.load(&request).get_as::<String>("log")?.unwrap().len(), 6300);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    pub fn compress(mut self, compress: bool) -> Self {
        self.settings.compress = compress;
        self
    }

    /// Checks the options and builds the factory.
    pub fn build(mut self) -> Result<CookieSessionFactory<SignedCodec>, BuildError> {
        self.check_options()?;
        let codec = self.signed_codec()?;
        Ok(CookieSessionFactory::new(codec, self.settings))
    }
}

#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
impl Builder<EncryptedKeys> {
    pub(crate) fn encrypted(key: EncryptionKey) -> Self {
        Self::with_keys(EncryptedKeys {
            key,
            fallbacks: Vec::new(),
            serializer: Serializer::Json,
        })
    }

    /// How the session is written inside the encrypted value (default
    /// [`Serializer::Json`]).
    ///
    /// `pyramid_nacl_session` pickles by default; an app that kept that default shares
    /// its sessions with this factory under [`Serializer::Pickle`], which reads and writes
    /// data only (see [`pickle`](crate::pickle)). JSON stays this crate's default: it is what
    /// earlier releases wrote, and pickle, which is code to the Python side, should be a
    /// choice made on purpose.
    ///
    /// ```
    /// use typed_sessions::{EncryptedCookieSessionFactory, Serializer};
    ///
    /// let factory = EncryptedCookieSessionFactory::builder([7; 32])
    ///     .serializer(Serializer::Pickle)
    ///     .build()?;
    /// assert_eq!(factory.serializer(), Serializer::Pickle);
    /// # Ok::<(), typed_sessions::BuildError>(())
    /// ```
    pub fn serializer(mut self, serializer: Serializer) -> Self {
        self.keys.serializer = serializer;
        self
    }

    /// Whether a session whose cookie would not fit the budgets is compressed before it
    /// is encrypted (default false; feature `compression`), as
    /// [`compress`](Builder::compress) does for signed cookies.
    ///
    /// **Compressing before encrypting reveals how well the state compresses**: the
    /// ciphertext's length is the compressed length, so an attacker who can put text of
    /// their choosing into a victim's session (a search term, a cart line) and see the
    /// cookie's length can learn, a guess at a time, whether it repeats text the session
    /// already holds (the CRIME and BREACH attacks on TLS and HTTP compression). Only turn
    /// it on for sessions that hold no secret next to attacker-chosen text. The name says
    /// so, so that it is never turned on by accident.
    ///
    /// Refused with the Pickle serializer or after
    /// [`pyramid_defaults`](Builder::pyramid_defaults) ([`BuildError::NotInPyramidMode`]):
    /// `pyramid_nacl_session` cannot read it.
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    pub fn compress_revealing_length(mut self, compress: bool) -> Self {
        self.settings.compress = compress;
        self
    }

    /// An older key whose cookies still open. A cookie sealed with it is re-sealed with the
    /// current key on its request's save; nothing is ever sealed with it.
    pub fn fallback_key(mut self, key: impl Into<EncryptionKey>) -> Self {
        self.keys.fallbacks.push(key.into());
        self
    }

    /// Checks the options and keys (each exactly [`KEY_LEN`](crate::codec::KEY_LEN) bytes)
    /// and builds the factory.
    pub fn build(self) -> Result<CookieSessionFactory<EncryptedCodec>, BuildError> {
        self.check_options()?;
        if self.settings.compress && self.keys.serializer == Serializer::Pickle {
            return Err(BuildError::NotInPyramidMode {
                option: "compress_revealing_length",
            });
        }
        if self.settings.max_chunks > 1 && self.keys.serializer == Serializer::Pickle {
            return Err(BuildError::NotInPyramidMode { option: "chunks" });
        }
        let keys = &self.keys;
        let codec = keys
            .fallbacks
            .iter()
            .try_fold(EncryptedCodec::new(keys.key.clone())?, |codec, old| {
                codec.with_fallback(old.clone())
            })?;
        Ok(CookieSessionFactory::new(codec, self.settings).with_serializer(keys.serializer))
    }
}

impl<C: CookieCodec> Builder<ReadyCodec<C>> {
    pub(crate) fn ready(codec: C) -> Self {
        Self::with_keys(ReadyCodec(codec))
    }

    /// Checks the options and builds the factory.
    pub fn build(self) -> Result<CookieSessionFactory<C>, BuildError> {
        self.check_options()?;
        let Self {
            keys: ReadyCodec(codec),
            settings,
            ..
        } = self;
        Ok(CookieSessionFactory::new(codec, settings))
    }
}

impl<K> fmt::Debug for Builder<K> {
    /// Shows the options, never the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings
            .debug_struct(f, "Builder")
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore> Builder<KeysAndStore<S>> {
    pub(crate) fn server(secret: Secret, store: S) -> Self {
        Self::with_keys(KeysAndStore {
            signed: SignedKeys::new(secret, ServerSessionFactory::<S>::DEFAULT_SALT),
            store,
            options: ServerOptions::default(),
            id_codec: None,
        })
    }

    /// Signs and opens the id cookie with `codec` instead of the builder's secret, salt and
    /// hash (which are then unused, and not checked): for sharing sessions with a program
    /// that signs its ids its own way. The preset of
    /// [`BeakerStore::factory`](crate::store::BeakerStore::factory) sets Beaker's
    /// [`BeakerIdCodec`](crate::codec::BeakerIdCodec).
    ///
    /// `codec.open` must refuse every value it did not seal; the id it returns is then
    /// checked by the store ([`SessionStore::accepts_id`]).
    pub fn id_codec(mut self, codec: impl CookieCodec) -> Self {
        self.keys.id_codec = Some(Box::new(codec));
        self
    }

    /// Whether a response that sets the session cookie also gets `Vary: Cookie` (default
    /// false), so that a shared cache never serves it to a request with another cookie.
    /// `pyramid_session_redis` sends it; the preset
    /// [`PyramidRedisStore::factory`](crate::store::PyramidRedisStore::factory) turns it on.
    pub fn vary_cookie(mut self, vary: bool) -> Self {
        self.keys.options.vary_cookie = vary;
        self
    }

    /// Whether a stored session whose last key a request removed is deleted from the store,
    /// its cookie expired, as [`Session::invalidate`](crate::Session::invalidate) does
    /// (default false: the empty record stays until it expires). `pyramid_session_redis`'s
    /// `invalidate_empty_session`, on in its preset.
    pub fn delete_emptied(mut self, delete: bool) -> Self {
        self.keys.options.delete_emptied = delete;
        self
    }

    /// Whether a session that holds nothing but its CSRF token keeps the token in its
    /// signed cookie instead of a record (default: yes, unless the store says its records
    /// are shared with a program that reads the token there, see
    /// [`SessionStore::csrf_token_in_record`]). Anonymous page views then write nothing to
    /// the store; see [`ServerSessionFactory`]'s "Sessions without a record". `false` keeps
    /// every token in a record, as Pyramid does.
    pub fn recordless_csrf(mut self, recordless: bool) -> Self {
        self.keys.options.recordless_csrf = Some(recordless);
        self
    }

    /// How long the old id of a renewal rotation ([`Session::renew_id`](crate::Session::renew_id))
    /// stays an alias of the new one, so requests in flight with the old cookie keep the
    /// session (default [`DEFAULT_ROTATION_GRACE`](crate::DEFAULT_ROTATION_GRACE), 30 s, and
    /// why). A use after it is logged as a possible theft and starts a new session.
    /// `Duration::ZERO` retires old ids at once.
    pub fn rotation_grace(mut self, grace: std::time::Duration) -> Self {
        self.keys.options.rotation_grace = grace;
        self
    }

    /// Checks the options and builds the factory.
    pub fn build(mut self) -> Result<ServerSessionFactory<S>, BuildError> {
        self.check_options()?;
        let codec = match self.keys.id_codec.take() {
            Some(codec) => codec,
            None => Box::new(self.signed_codec()?),
        };
        Ok(ServerSessionFactory::new(
            self.keys.store,
            codec,
            self.settings,
            self.keys.options,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SignedCookieSessionFactory;

    const SECRET: &str = "a secret of at least thirty-two bytes";

    fn builder() -> Builder<SignedKeys> {
        SignedCookieSessionFactory::builder(SECRET)
    }

    fn build_error(builder: Builder<SignedKeys>) -> BuildError {
        builder.build().expect_err("the build must fail")
    }

    #[test]
    fn secure_prefix_needs_secure() {
        for name in ["__Secure-id", "__secure-id", "__SECURE-id"] {
            let err = build_error(builder().cookie_name(name).secure(false));
            assert_eq!(
                err,
                BuildError::SecurePrefixWithoutSecure {
                    name: name.to_owned()
                }
            );
            assert!(err.to_string().contains("`__Secure-`"), "{err}");
        }
    }

    #[test]
    fn host_prefix_needs_secure() {
        let err = build_error(builder().cookie_name("__Host-id").secure(false));
        assert_eq!(
            err,
            BuildError::HostPrefixWithoutSecure {
                name: "__Host-id".to_owned()
            }
        );
    }

    #[test]
    fn host_prefix_needs_the_root_path() {
        let err = build_error(builder().cookie_name("__host-id").path("/app".to_owned()));
        assert_eq!(
            err,
            BuildError::HostPrefixWithoutRootPath {
                name: "__host-id".to_owned(),
                path: Some("/app".to_owned()),
            }
        );
        assert!(err.to_string().contains("not `/app`"), "{err}");
        let err = build_error(builder().cookie_name("__Host-id").path(None));
        assert_eq!(
            err,
            BuildError::HostPrefixWithoutRootPath {
                name: "__Host-id".to_owned(),
                path: None,
            }
        );
        assert!(err.to_string().contains("not none"), "{err}");
    }

    #[test]
    fn host_prefix_forbids_a_domain() {
        let err = build_error(
            builder()
                .cookie_name("__Host-id")
                .domain("example.com".to_owned()),
        );
        assert_eq!(
            err,
            BuildError::HostPrefixWithDomain {
                name: "__Host-id".to_owned(),
                domain: "example.com".to_owned(),
            }
        );
    }

    #[test]
    fn partitioned_needs_secure() {
        let err = build_error(builder().partitioned(true).secure(false));
        assert_eq!(err, BuildError::PartitionedWithoutSecure);
    }

    /// What the rules allow: prefixed names with what they need, names that only look
    /// prefixed, and Pyramid's defaults with a plain name.
    #[test]
    fn valid_prefixes_and_partitioned_build() {
        builder().cookie_name("__Host-id").build().unwrap();
        builder()
            .cookie_name("__Secure-id")
            .path("/app".to_owned())
            .domain("example.com".to_owned())
            .build()
            .unwrap();
        builder()
            .partitioned(true)
            .samesite(SameSite::None)
            .build()
            .unwrap();
        for name in ["_Host-id", "Host-id", "__Hostid", "x__Secure-id", "__Secur"] {
            builder().cookie_name(name).secure(false).build().unwrap();
        }
        builder().pyramid_defaults().build().unwrap();
    }

    /// A `Partitioned` cookie says so in its `Set-Cookie`, and only when asked.
    #[test]
    fn partitioned_is_written() {
        let settings = builder().partitioned(true).settings;
        let header = settings.cookie("v".to_owned()).to_string();
        assert!(header.contains("; Partitioned"), "{header}");
        let header = builder().settings.cookie("v".to_owned()).to_string();
        assert!(!header.contains("Partitioned"), "{header}");
    }

    /// The reissue time follows the timeout until it is set; Pyramid's preset pins it at 0.
    #[test]
    fn reissue_time_is_a_tenth_of_the_timeout_until_set() {
        let reissue = |builder: Builder<SignedKeys>| builder.settings.policy.reissue_time;
        assert_eq!(reissue(builder()), Some(120.0));
        assert_eq!(
            reissue(builder().timeout(Duration::from_secs(3600))),
            Some(360.0)
        );
        assert_eq!(reissue(builder().timeout(None)), Some(120.0));
        let set = builder().reissue_time(Duration::from_secs(5));
        assert_eq!(reissue(set.timeout(Duration::from_secs(3600))), Some(5.0));
        assert_eq!(reissue(builder().reissue_time(None).timeout(None)), None);
        let pyramid = builder()
            .pyramid_defaults()
            .timeout(Duration::from_secs(60));
        assert_eq!(reissue(pyramid), Some(0.0));
    }

    /// The safe defaults, and Pyramid's a call away.
    #[test]
    fn defaults_are_secure_httponly_lax_and_pyramid_defaults_are_not() {
        let cookie = builder().settings.cookie;
        assert!(cookie.secure && cookie.httponly && !cookie.partitioned);
        assert_eq!(cookie.samesite, Some(SameSite::Lax));
        let pyramid = builder()
            .secure(true)
            .timeout(Duration::from_secs(5))
            .pyramid_defaults()
            .settings;
        assert!(!pyramid.cookie.secure && !pyramid.cookie.httponly);
        assert_eq!(pyramid.cookie.samesite, Some(SameSite::Lax));
        assert_eq!(pyramid.cookie.path.as_deref(), Some("/"));
        assert_eq!(pyramid.policy.timeout, Some(1200.0));
        assert_eq!(pyramid.policy.reissue_time, Some(0.0));
        assert!(pyramid.policy.set_on_exception);
    }
}

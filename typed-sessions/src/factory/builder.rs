//! The builder of every session factory: Pyramid's options with safe defaults (and
//! Pyramid's own a call away), checked once at build time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cookie::SameSite;

use super::cookie::CookieSessionFactory;
use super::server::{ServerOptions, ServerSessionFactory};
use super::settings::{CookieOptions, Policy, Settings};
use crate::clock::Clock;
use crate::codec::{CookieCodec, HashAlg, Secret, SignedCodec};
#[cfg(feature = "encrypted")]
use crate::codec::{EncryptedCodec, EncryptionKey};
use crate::error::BuildError;
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
    pub fn pyramid_defaults(mut self) -> Self {
        self.settings.cookie = CookieOptions::pyramid();
        self.settings.policy = Policy::pyramid();
        self.reissue_time_set = true;
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

    fn check_options(&self) -> Result<(), BuildError> {
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

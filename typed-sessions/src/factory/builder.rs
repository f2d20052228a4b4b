//! The builder of every session factory: Pyramid's options, checked once at build time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cookie::SameSite;

use super::cookie::CookieSessionFactory;
use super::server::{ServerOptions, ServerSessionFactory};
use super::settings::Settings;
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

/// Builds a [`CookieSessionFactory`] or a [`ServerSessionFactory`]. Defaults are Pyramid's:
/// cookie `session`, path `/`, `SameSite=Lax`, no `Max-Age`, not `Secure`, not `HttpOnly`,
/// timeout 1200 s, reissue time 0 s, set on exception.
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
///     .cookie_name("app_session")
///     .secure(true)
///     .httponly(true)
///     .samesite(SameSite::Strict)
///     .timeout(Duration::from_secs(3600))
///     .reissue_time(Duration::from_secs(60))
///     .build()
///     .unwrap();
/// assert_eq!(factory.cookie_name(), "app_session");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<K> {
    keys: K,
    settings: Settings,
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
            allow_short_secret: false,
        }
    }

    /// The cookie's name (default `session`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.settings.cookie.name = name.into();
        self
    }

    /// The cookie's `Max-Age` (and `Expires`); `None` (the default) makes a browser-session
    /// cookie.
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

    /// Whether the cookie is `Secure` (default false).
    pub fn secure(mut self, secure: bool) -> Self {
        self.settings.cookie.secure = secure;
        self
    }

    /// Whether the cookie is `HttpOnly` (default false).
    pub fn httponly(mut self, httponly: bool) -> Self {
        self.settings.cookie.httponly = httponly;
        self
    }

    /// The cookie's `SameSite` (default `Lax`); `None` sends no `SameSite` attribute.
    pub fn samesite(mut self, samesite: impl Into<Option<SameSite>>) -> Self {
        self.settings.cookie.samesite = samesite.into();
        self
    }

    /// Whether a cookie is written on a response for a failed request (default true). The
    /// factory's [`save_after_error`](CookieSessionFactory::save_after_error) honours it.
    pub fn set_on_exception(mut self, set: bool) -> Self {
        self.settings.policy.set_on_exception = set;
        self
    }

    /// How long a session lives without being renewed (default 1200 s); `None` means
    /// forever.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.settings.policy.timeout = timeout.into().map(|d| d.as_secs_f64());
        self
    }

    /// How old a client's cookie may get before reading the session issues a new one
    /// (default 0 s: any read in a later second); `None` means only changes write a cookie.
    pub fn reissue_time(mut self, reissue_time: impl Into<Option<Duration>>) -> Self {
        self.settings.policy.reissue_time = reissue_time.into().map(|d| d.as_secs_f64());
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
        if self.settings.cookie.samesite == Some(SameSite::None) && !self.settings.cookie.secure {
            return Err(BuildError::SameSiteNoneWithoutSecure);
        }
        Ok(())
    }
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

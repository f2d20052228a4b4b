//! Where the shop keeps its sessions: `SESSION_STORE` names a server-side store by its URL
//! (anything [`AnyStore::connect`] reads: `memory:`, `redis://…`, `redis+cluster://…`,
//! `sqlite://path`, `postgres://…`), or a Pyramid app's sessions
//! (`pyramid-session-redis+redis://…`, see [`super::pyramid`]; on Beaker
//! `beaker+file:///DIR`, `beaker+redis://…`, `beaker+sqlite://…`, `beaker+postgres://…`, see
//! [`super::beaker`]); unset, the session lives in the signed cookie, or with
//! `SESSION_ENCRYPTION_KEY` (64 hex digits) in `pyramid_nacl_session`'s encrypted cookie,
//! pickled unless `SESSION_SERIALIZER=json`. Both shops (axum and actix-web) open their
//! sessions here, so they accept the same values.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use typed_sessions_examples::shop;
//!
//! let secret = shop::random_secret();
//! let shop = shop::store::open(secret, Some("sqlite://target/shop-sessions.db")).await?;
//! println!("sessions in {}", shop.kind);
//! let app: axum::Router = shop.app;
//! # drop(app);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use axum::Router;
use typed_sessions::store::{
    AnyStore, BeakerStore, CleanupTask, ConnectError, ListenTask, PyramidRedisStore, StoreError,
};
use typed_sessions::{
    BuildError, EncryptedCookieSessionFactory, EncryptionKey, Secret, ServerSessionFactory,
    SignedCookieSessionFactory,
};

use super::{Settings, app_with_settings, encrypted_factory, factory, server_factory};

/// The key prefix of the shop's sessions in Redis.
pub const REDIS_PREFIX: &str = "tea-shop:session:";

/// How often the SQL stores delete expired sessions.
const CLEANUP_EVERY: Duration = Duration::from_secs(300);

/// The shop's session factory, as `SESSION_STORE` chose it.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one value, made once at start
pub enum Factory {
    /// The signed cookie ([`super::factory`]).
    Cookie(SignedCookieSessionFactory),
    /// `pyramid_nacl_session`'s encrypted cookie ([`super::encrypted_factory`]), with
    /// `SESSION_ENCRYPTION_KEY`.
    Encrypted(EncryptedCookieSessionFactory),
    /// A server-side store ([`super::server_factory`]), whichever.
    Store(ServerSessionFactory<AnyStore>),
    /// A Pyramid app's `pyramid_session_redis` sessions, with the package's cookie and rules
    /// ([`super::pyramid`]).
    Pyramid(ServerSessionFactory<PyramidRedisStore>),
    /// A Pyramid app's Beaker sessions, in Beaker's layout and cookie ([`super::beaker`]).
    Beaker(ServerSessionFactory<BeakerStore>),
}

/// The shop's sessions: the factory, what keeps them, and what keeps the store tidy.
pub struct Sessions {
    /// The factory to give the router or middleware.
    pub factory: Factory,
    /// What keeps the sessions: `a signed cookie`, `memory`, `Redis`, `Redis Cluster`,
    /// `SQLite`, `PostgreSQL`, `a Pyramid app's pyramid_session_redis`.
    pub kind: &'static str,
    /// The task that deletes expired sessions (SQL stores); it stops when dropped.
    pub cleanup: Option<CleanupTask>,
    /// The task that hears other processes' revocations (Redis, PostgreSQL), for
    /// `/events`; it stops when dropped.
    pub listener: Option<ListenTask>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The axum shop's router on the store `SESSION_STORE` names, with what keeps it running.
pub struct Shop {
    /// The router.
    pub app: Router,
    /// What keeps the sessions (see [`Sessions::kind`]).
    pub kind: &'static str,
    /// The task that deletes expired sessions (SQL stores); it stops when dropped.
    pub cleanup: Option<CleanupTask>,
    /// The task that hears other processes' revocations; it stops when dropped.
    pub listener: Option<ListenTask>,
}

impl fmt::Debug for Shop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shop")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Why the shop cannot start on the store it was given.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `SESSION_STORE` names no store, or one that cannot be opened; the message names
    /// its scheme, never its password.
    #[error(transparent)]
    Store(#[from] ConnectError),
    /// The secret was refused.
    #[error(transparent)]
    Secret(#[from] BuildError),
    /// The Pyramid app's Redis could not be reached.
    #[error(transparent)]
    Pyramid(#[from] StoreError),
    /// `beaker+` followed by a back end Beaker's layout is not kept in here (see
    /// [`super::beaker`]).
    #[error(
        "SESSION_STORE: after `beaker+` comes file://, redis://, sqlite: or postgres:// (got a \
         value starting with `{0}`)"
    )]
    UnknownScheme(String),
    /// `SESSION_ENCRYPTION_KEY` is not 64 hex digits, or is set beside `SESSION_STORE`.
    #[error("SESSION_ENCRYPTION_KEY: {0}")]
    EncryptionKey(String),
    /// `SESSION_SERIALIZER` names no serializer (see [`super::pyramid`]).
    #[error("SESSION_SERIALIZER must be `pickle` or `json` (got `{0}`)")]
    UnknownSerializer(String),
}

/// The shop's sessions on the store at `url` (`None` or blank: the signed cookie). The SQL
/// stores are migrated (their tables created) and get a cleanup task; Redis keys get
/// [`REDIS_PREFIX`]. Call it inside a tokio runtime (actix-web's will do).
pub async fn sessions(secret: impl Into<Secret>, url: Option<&str>) -> Result<Sessions, OpenError> {
    let secret = secret.into();
    let key = std::env::var("SESSION_ENCRYPTION_KEY").ok();
    let key = key.as_deref().map(str::trim).filter(|key| !key.is_empty());
    let Some(url) = url.map(str::trim).filter(|url| !url.is_empty()) else {
        if let Some(key) = key {
            // The key's hex form, as pyramid_nacl_session's `session.secret` setting.
            let key = EncryptionKey::from_hex(key)
                .map_err(|err| OpenError::EncryptionKey(err.to_string()))?;
            let serializer = super::pyramid::serializer_from_env()?;
            return Ok(Sessions {
                factory: Factory::Encrypted(encrypted_factory(key, serializer)?),
                kind: "pyramid_nacl_session's encrypted cookie",
                cleanup: None,
                listener: None,
            });
        }
        return Ok(Sessions {
            factory: Factory::Cookie(factory(secret)?),
            kind: "a signed cookie",
            cleanup: None,
            listener: None,
        });
    };
    if key.is_some() {
        return Err(OpenError::EncryptionKey(
            "is for cookie sessions: unset SESSION_STORE, or the key".to_owned(),
        ));
    }
    if let Some(beaker_url) = url.strip_prefix(super::beaker::SCHEME) {
        let serializer = super::beaker::serializer_from_env()?;
        let timeout = super::beaker::timeout_from_env();
        return super::beaker::sessions(secret, beaker_url, serializer, timeout).await;
    }
    if let Some(redis_url) = url.strip_prefix(super::pyramid::SCHEME) {
        let serializer = super::pyramid::serializer_from_env()?;
        return super::pyramid::sessions(secret, redis_url, serializer).await;
    }
    let store = match AnyStore::connect(url).await? {
        AnyStore::Redis(redis) => AnyStore::Redis(redis.with_prefix(REDIS_PREFIX)),
        other => other,
    };
    let kind = store.kind();
    let cleanup = store.spawn_cleanup(CLEANUP_EVERY);
    let factory = server_factory(secret, store)?;
    // Memory (one process) has nothing to listen to; a store that fails now still serves,
    // its live streams hearing only this process's revocations.
    let listener = match factory.listen_for_revocations().await {
        Ok(task) => Some(task),
        Err(StoreError::Unsupported { .. }) => None,
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for other processes' revocations");
            None
        }
    };
    Ok(Sessions {
        kind,
        cleanup,
        listener,
        factory: Factory::Store(factory),
    })
}

/// The axum shop on the store at `url` (see [`sessions`]).
pub async fn open(secret: impl Into<Secret>, url: Option<&str>) -> Result<Shop, OpenError> {
    open_with(secret, url, Settings::default()).await
}

/// [`open`] with `settings` (the binary's, with `TRUSTED_PROXIES`).
pub async fn open_with(
    secret: impl Into<Secret>,
    url: Option<&str>,
    settings: Settings,
) -> Result<Shop, OpenError> {
    let sessions = sessions(secret, url).await?;
    let app = match sessions.factory {
        Factory::Cookie(factory) => app_with_settings(factory, settings),
        Factory::Encrypted(factory) => app_with_settings(factory, settings),
        Factory::Store(factory) => app_with_settings(factory, settings),
        Factory::Pyramid(factory) => app_with_settings(factory, settings),
        Factory::Beaker(factory) => app_with_settings(factory, settings),
    };
    Ok(Shop {
        app,
        kind: sessions.kind,
        cleanup: sessions.cleanup,
        listener: sessions.listener,
    })
}

//! Where the shop keeps its sessions: `SESSION_STORE` picks a server-side store by its URL
//! (`redis://…`, `postgres://…`, `sqlite://path`, or a Pyramid app's sessions with
//! `pyramid-session-redis+redis://…`, see [`super::pyramid`], or on Beaker with
//! `beaker+file:///DIR`, `beaker+redis://…`, see [`super::beaker`]); unset, the session lives in
//! the signed cookie.
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
use typed_sessions::store::{CleanupTask, PostgresStore, RedisStore, SqliteStore, StoreError};
use typed_sessions::{BuildError, Secret};

use super::{app, factory, server_factory};

/// The shop's router on the store `SESSION_STORE` names, with what keeps it running.
pub struct Shop {
    /// The router.
    pub app: Router,
    /// What keeps the sessions: `a signed cookie`, `Redis`, `PostgreSQL`, `SQLite`, `a
    /// Pyramid app's pyramid_session_redis`.
    pub kind: &'static str,
    /// The task that deletes expired sessions (SQL stores); it stops when dropped.
    pub cleanup: Option<CleanupTask>,
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
    /// `SESSION_STORE` names no store the shop knows.
    #[error(
        "SESSION_STORE must start with redis://, postgres://, postgresql:// or sqlite: (got a \
         value starting with `{0}`)"
    )]
    UnknownScheme(String),
    /// The secret was refused.
    #[error(transparent)]
    Secret(#[from] BuildError),
    /// The store could not be reached or prepared.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `SESSION_SERIALIZER` names no serializer (see [`super::pyramid`]).
    #[error("SESSION_SERIALIZER must be `pickle` or `json` (got `{0}`)")]
    UnknownSerializer(String),
}

/// How often the SQL stores delete expired sessions.
const CLEANUP_EVERY: Duration = Duration::from_secs(300);

/// The shop on the store at `url` (`None`: the signed cookie). The SQL stores are migrated
/// (their tables created) and get a cleanup task. Call it inside a tokio runtime.
pub async fn open(secret: impl Into<Secret>, url: Option<&str>) -> Result<Shop, OpenError> {
    let secret = secret.into();
    let Some(url) = url.map(str::trim).filter(|url| !url.is_empty()) else {
        return Ok(Shop {
            app: app(factory(secret)?),
            kind: "a signed cookie",
            cleanup: None,
        });
    };
    if let Some(beaker_url) = url.strip_prefix(super::beaker::SCHEME) {
        let serializer = super::beaker::serializer_from_env()?;
        let timeout = super::beaker::timeout_from_env();
        return super::beaker::open(secret, beaker_url, serializer, timeout).await;
    }
    if let Some(redis_url) = url.strip_prefix(super::pyramid::SCHEME) {
        let serializer = super::pyramid::serializer_from_env()?;
        return super::pyramid::open(secret, redis_url, serializer).await;
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        let store = RedisStore::connect(url)
            .await?
            .with_prefix("tea-shop:session:");
        return Ok(Shop {
            app: app(server_factory(secret, store)?),
            kind: "Redis",
            cleanup: None,
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url).await?;
        store.migrate().await?;
        let cleanup = store.spawn_cleanup(CLEANUP_EVERY);
        return Ok(Shop {
            app: app(server_factory(secret, store)?),
            kind: "PostgreSQL",
            cleanup: Some(cleanup),
        });
    }
    if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await?;
        store.migrate().await?;
        let cleanup = store.spawn_cleanup(CLEANUP_EVERY);
        return Ok(Shop {
            app: app(server_factory(secret, store)?),
            kind: "SQLite",
            cleanup: Some(cleanup),
        });
    }
    // Only the scheme, so a password in the URL is not echoed.
    let scheme: String = url.chars().take_while(|c| *c != ':').take(20).collect();
    Err(OpenError::UnknownScheme(scheme))
}

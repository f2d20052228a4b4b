//! The shop on a Pyramid app's Beaker sessions (`pyramid_beaker`): `SESSION_STORE` names
//! the app's back end, and the shop keeps its sessions there in Beaker's layout, with
//! Beaker's signed `beaker.session.id` cookie, so a shopper signed in or with a cart on one
//! is so on the other:
//!
//! | `SESSION_STORE` | the app's settings |
//! |---|---|
//! | `beaker+file:///ABSOLUTE/DIR` | `session.type = file`, `session.data_dir = /ABSOLUTE/DIR` |
//! | `beaker+redis://HOST:PORT/DB` | `session.type = ext:redis`, `session.url = redis://HOST:PORT/DB` |
//! | `beaker+sqlite://PATH` | `session.type = ext:database`, `session.url = sqlite:///PATH` |
//! | `beaker+postgres://…` | `session.type = ext:database`, `session.url = postgresql://…` |
//!
//! `SESSION_SERIALIZER` is the app's `session.data_serializer`: `pickle` (Beaker's default)
//! or `json`. `SESSION_SECRET` must be the app's `session.secret`; `SESSION_TIMEOUT`
//! (seconds) its `session.timeout`, if it has one.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use typed_sessions::Serializer;
//! use typed_sessions_examples::shop;
//!
//! let sessions = shop::beaker::sessions(
//!     "the Pyramid app's session.secret",
//!     "file:///var/lib/app/sessions",
//!     Serializer::Pickle,
//!     None,
//! )
//! .await?;
//! println!("sessions in {}", sessions.kind);
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use typed_sessions::Secret;
use typed_sessions::Serializer;
use typed_sessions::codec::BeakerIdCodec;
use typed_sessions::store::BeakerStore;

use super::store::{Factory, OpenError, Sessions};

/// The `SESSION_STORE` scheme prefix that selects Beaker's layout.
pub const SCHEME: &str = "beaker+";

/// The serializer `SESSION_SERIALIZER` names (`pickle` when unset), as for
/// `pyramid_session_redis`.
pub use super::pyramid::serializer_from_env;

/// `SESSION_TIMEOUT` in seconds (none when unset or not a number).
pub fn timeout_from_env() -> Option<Duration> {
    std::env::var("SESSION_TIMEOUT")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .map(Duration::from_secs)
}

/// The shop's sessions on the Beaker back end at `url` (after [`SCHEME`]): `file:///DIR`,
/// `redis://…`, `sqlite://PATH` or `postgres://…`.
pub async fn sessions(
    secret: impl Into<Secret>,
    url: &str,
    serializer: Serializer,
    timeout: Option<Duration>,
) -> Result<Sessions, OpenError> {
    let (store, kind) = if let Some(dir) = url.strip_prefix("file://") {
        (
            BeakerStore::file(dir, serializer),
            "a Pyramid app's Beaker files",
        )
    } else if url.starts_with("redis://") || url.starts_with("rediss://") {
        (
            BeakerStore::redis(url, serializer).await?,
            "a Pyramid app's Beaker ext:redis",
        )
    } else if url.starts_with("sqlite:") {
        (
            BeakerStore::sqlite(url, serializer).await?,
            "a Pyramid app's Beaker ext:database (SQLite)",
        )
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (
            BeakerStore::postgres(url, serializer).await?,
            "a Pyramid app's Beaker ext:database (PostgreSQL)",
        )
    } else {
        let scheme: String = url.chars().take_while(|c| *c != ':').take(20).collect();
        return Err(OpenError::UnknownScheme(format!("{SCHEME}{scheme}")));
    };
    store.migrate().await?;
    let factory = store
        .factory(BeakerIdCodec::new(secret)?)
        .timeout(timeout)
        .events(super::users::log_event)
        .build()?;
    Ok(Sessions {
        factory: Factory::Beaker(factory),
        kind,
        cleanup: None,
        listener: None,
    })
}

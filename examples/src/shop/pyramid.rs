//! The shop on a Pyramid app's sessions: `SESSION_STORE=pyramid-session-redis+redis://HOST:PORT/DB`
//! keeps them where the app's `pyramid_session_redis` does (key = session id, the package's
//! payload, its signed cookie), so a shopper signed in or with a cart on one is so on the
//! other. `SESSION_SERIALIZER` is the app's serializer: `pickle` (the package's default) or
//! `json`. `SESSION_SECRET` must be the app's `redis.sessions.secret`.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use typed_sessions::Serializer;
//! use typed_sessions_examples::shop;
//!
//! let sessions = shop::pyramid::sessions(
//!     "the Pyramid app's secret",
//!     "redis://127.0.0.1:6379/0",
//!     Serializer::Pickle,
//! )
//! .await?;
//! println!("sessions in {}", sessions.kind);
//! # Ok(())
//! # }
//! ```

use typed_sessions::Secret;
use typed_sessions::Serializer;
use typed_sessions::store::PyramidRedisStore;

use super::store::{Factory, OpenError, Sessions};

/// The `SESSION_STORE` scheme prefix that selects this store.
pub const SCHEME: &str = "pyramid-session-redis+";

/// The serializer `SESSION_SERIALIZER` names (`pickle` when unset).
pub fn serializer_from_env() -> Result<Serializer, OpenError> {
    match std::env::var("SESSION_SERIALIZER")
        .as_deref()
        .map(str::trim)
    {
        Err(_) | Ok("" | "pickle") => Ok(Serializer::Pickle),
        Ok("json") => Ok(Serializer::Json),
        Ok(other) => Err(OpenError::UnknownSerializer(
            other.chars().take(20).collect(),
        )),
    }
}

/// The shop's sessions on the `pyramid_session_redis` sessions in the Redis at `url`, with
/// the package's default options (timeout 1200 s) and cookie, as the app has them.
pub async fn sessions(
    secret: impl Into<Secret>,
    url: &str,
    serializer: Serializer,
) -> Result<Sessions, OpenError> {
    let store = PyramidRedisStore::connect(url, serializer).await?;
    Ok(Sessions {
        factory: Factory::Pyramid(
            store
                .factory(secret)
                .events(super::users::log_event)
                .build()?,
        ),
        kind: "a Pyramid app's pyramid_session_redis",
        cleanup: None,
        listener: None,
    })
}

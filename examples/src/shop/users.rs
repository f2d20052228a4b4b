//! Who can sign in to the shop, through [`typed_sessions::auth`]: any name (with
//! [`DEMO_PASSWORD`](super::DEMO_PASSWORD)) is a user, and each has a "password version" the
//! shop keeps in memory. The version is the user's
//! [`session_auth_hash`](AuthUser::session_auth_hash): changing the password (`POST
//! /account/password`) bumps it, which signs out every other session of that user on its
//! next request.
//!
//! The session keeps, besides the auth API's keys, the shop's own `user` field, which the
//! Pyramid app sharing the session reads (and writes when one signs in there). A session
//! signed in on the Pyramid side has no auth keys: the shop shows its `user` as the Pyramid
//! app does, and the auth check leaves it alone.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock, RwLock};

use typed_sessions::auth::{Auth, AuthBackend, AuthHasher, AuthUser};
use typed_sessions::events::Event;

use super::actions::MAX_USER_NAME;

/// A shop user: a name and the version of their password.
#[derive(Debug, Clone)]
pub struct ShopUser {
    name: String,
    version: [u8; 8],
}

impl ShopUser {
    /// The user's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl AuthUser for ShopUser {
    fn id(&self) -> String {
        self.name.clone()
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.version
    }
}

/// The shop's users: every valid name, each at its password version (0 until changed).
#[derive(Debug, Default)]
pub struct Users {
    versions: RwLock<HashMap<String, u64>>,
}

impl Users {
    /// The user `name` at their current password version; `None` for a name the shop
    /// refuses (empty, or longer than [`MAX_USER_NAME`]).
    pub fn user(&self, name: &str) -> Option<ShopUser> {
        if name.is_empty() || name.chars().count() > MAX_USER_NAME {
            return None;
        }
        let versions = self.versions.read().unwrap_or_else(|e| e.into_inner());
        let version = versions.get(name).copied().unwrap_or(0);
        Some(ShopUser {
            name: name.to_owned(),
            version: version.to_be_bytes(),
        })
    }

    /// Changes `name`'s password: a new version, so the sessions signed in with the old
    /// one are signed out. The user at the new version.
    pub fn change_password(&self, name: &str) -> Option<ShopUser> {
        self.user(name)?;
        {
            let mut versions = self.versions.write().unwrap_or_else(|e| e.into_inner());
            *versions.entry(name.to_owned()).or_insert(0) += 1;
        }
        self.user(name)
    }
}

impl AuthBackend for Users {
    type User = ShopUser;
    type Error = Infallible;

    async fn get_user(&self, id: &str) -> Result<Option<ShopUser>, Infallible> {
        Ok(self.user(id))
    }
}

/// The shop's sign-in: over [`Users`]; a page that needs a user redirects to `/login`.
pub type ShopAuth = Auth<Users>;

/// The shop's sign-in, its auth hashes keyed by `SESSION_SECRET` (so that sign-ins outlive
/// a restart, as the sessions do), or, without it, by a random key made once per process
/// (as the binaries' random secret is).
pub fn auth() -> Arc<ShopAuth> {
    let hasher = match std::env::var("SESSION_SECRET") {
        Ok(secret) if !secret.is_empty() => AuthHasher::new(secret),
        _ => {
            static KEY: OnceLock<String> = OnceLock::new();
            AuthHasher::new(KEY.get_or_init(super::random_secret))
        }
    };
    Arc::new(Auth::new(Users::default(), hasher).redirect_to("/login"))
}

/// The shop's hook for session lifecycle events: each one logged at `info` (the crate logs
/// them at `debug` under `typed_sessions::events`), with the event's stable fields. No
/// event carries a session id or a value, only a digest of the id.
pub fn log_event(event: &Event) {
    tracing::info!(
        event = event.kind.as_str(),
        session = event.session.as_ref().map(tracing::field::display),
        reason = event.reason,
        "session event"
    );
}

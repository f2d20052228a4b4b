//! The session registry's types: what a store lists of a user's sessions, the opaque handle
//! an app shows for each, the metadata an app attaches, and the alias a renewal rotation
//! leaves behind.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The session key under which [`SessionMeta`] is kept: a key of its own, so a store lists
/// it with the session's times without reading (or decoding) the rest of the state.
pub const SESSION_META_KEY: &str = "_session_meta";

/// What an app records about the device of a session, for the user's "devices" page: set it
/// with [`SessionMeta::store`] at sign-in (or whenever it changes); the registry lists it.
///
/// Both fields are what the client sent: show them, never trust them.
///
/// ```
/// use typed_sessions::Session;
/// use typed_sessions::store::SessionMeta;
///
/// let mut session = Session::new();
/// SessionMeta::new()
///     .ip("203.0.113.7")
///     .user_agent("Mozilla/5.0 (X11; Linux x86_64)")
///     .store(&mut session);
/// assert_eq!(SessionMeta::of(&session).unwrap().ip.as_deref(), Some("203.0.113.7"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionMeta {
    /// The client's IP address, as the app sees it: the connection's peer, or behind a
    /// reverse proxy the app trusts, the address that proxy forwarded (never a client's own
    /// `X-Forwarded-For`, which anyone can write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The client's `User-Agent`, cut to [`SessionMeta::MAX_FIELD`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl SessionMeta {
    /// The longest field kept, in bytes: a client's `User-Agent` is its own choice, and a
    /// session should not grow by what a client sends.
    pub const MAX_FIELD: usize = 256;

    /// No metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// With the client's IP address.
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(cut(ip.into()));
        self
    }

    /// With the client's `User-Agent`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(cut(user_agent.into()));
        self
    }

    /// Writes it into `session` (under [`SESSION_META_KEY`]), unless it is there already:
    /// a request that changes nothing saves nothing.
    pub fn store(self, session: &mut crate::Session) {
        if Self::of(session).as_ref() != Some(&self) {
            // Two optional strings always serialize.
            let _ = session.insert_as(SESSION_META_KEY, &self);
        }
    }

    /// The metadata `session` holds, if any.
    pub fn of(session: &crate::Session) -> Option<Self> {
        session.get_as(SESSION_META_KEY).ok().flatten()
    }

    /// From the JSON text a store keeps (`None` when it is not this shape).
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// A string cut to [`SessionMeta::MAX_FIELD`] bytes, on a character boundary.
fn cut(mut text: String) -> String {
    if text.len() > SessionMeta::MAX_FIELD {
        let mut end = SessionMeta::MAX_FIELD;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// One session of a user as a store lists it ([`SessionStore::user_sessions`](super::SessionStore::user_sessions)
/// (super::SessionStore::user_sessions)): its id (which the factory turns into a
/// [`SessionHandle`] and never shows), its times and its [`SessionMeta`]'s JSON text.
#[derive(Clone, PartialEq)]
pub struct UserSession {
    /// The session id.
    pub id: String,
    /// When the session was created, in Unix seconds.
    pub created: f64,
    /// When it was last saved, in Unix seconds.
    pub accessed: f64,
    /// The JSON text under [`SESSION_META_KEY`], if the session has it.
    pub meta: Option<String>,
}

impl fmt::Debug for UserSession {
    /// Shows the id's digest, never the id (a credential).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSession")
            .field("handle", &SessionHandle::of(&self.id))
            .field("created", &self.created)
            .field("accessed", &self.accessed)
            .field("meta", &self.meta)
            .finish()
    }
}

/// One session of a user, as [`ServerSessionFactory::sessions_of`](crate::ServerSessionFactory::sessions_of)
/// (crate::ServerSessionFactory::sessions_of) lists it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Names the session to [`revoke`](crate::ServerSessionFactory::revoke) it.
    pub handle: SessionHandle,
    /// When the session was created, in Unix seconds.
    pub created: f64,
    /// When the session was last saved, in Unix seconds (a request that changes nothing
    /// does not save; see the factory's `reissue_time`).
    pub last_seen: f64,
    /// What the app recorded about the device.
    pub meta: SessionMeta,
}

/// An opaque name for one session: the hex SHA-256 of its id. It is safe to show a user and
/// to put in a form (it cannot be turned back into the id, which is the credential), and
/// names the session to revoke.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle(String);

impl SessionHandle {
    /// The handle of the session under `id`.
    pub fn of(id: &str) -> Self {
        Self(crate::random::to_hex(&Sha256::digest(id.as_bytes())))
    }

    /// A handle as a form sent it back: 64 lowercase hex digits, else `None`.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex digits: what the logs and lifecycle events name a session by.
    pub fn short(&self) -> &str {
        &self.0[..16]
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionHandle({})", self.short())
    }
}

/// What a renewal rotation leaves under the old id for a short grace: the new id, and when
/// the rotation happened ([`SessionStore::load_alias`](super::SessionStore::load_alias)).
#[derive(Clone, PartialEq)]
pub struct Alias {
    /// The id the session moved to.
    pub target: String,
    /// When it moved, in Unix seconds (the commit's `accessed`).
    pub at: f64,
}

impl fmt::Debug for Alias {
    /// Shows the target's digest, never the id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alias")
            .field("target", &SessionHandle::of(&self.target))
            .field("at", &self.at)
            .finish()
    }
}

/// The user a session's state names under [`AUTH_USER_KEY`](crate::AUTH_USER_KEY): the
/// JSON string's text, `None` when the key is missing or not a string.
pub(crate) fn user_of_json(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(user)) => Some(user),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_digests_and_parse_back() {
        let handle = SessionHandle::of("an id");
        assert_eq!(handle.as_str().len(), 64);
        assert_eq!(SessionHandle::parse(handle.as_str()), Some(handle.clone()));
        assert!(!format!("{handle:?}").contains("an id"));
        for bad in ["", "zz", &"A".repeat(64), &"a".repeat(65)] {
            assert_eq!(SessionHandle::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn meta_fields_are_cut() {
        let meta = SessionMeta::new().user_agent("é".repeat(200));
        let ua = meta.user_agent.unwrap();
        assert!(ua.len() <= SessionMeta::MAX_FIELD && ua.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_user_is_a_json_string() {
        assert_eq!(user_of_json("\"alice\"").as_deref(), Some("alice"));
        assert_eq!(user_of_json("7"), None);
        assert_eq!(user_of_json("not json"), None);
    }
}

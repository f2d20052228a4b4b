//! Sign-in and sign-out over the app's own user type, for any web framework: what
//! axum-login users know (`AuthUser`, a backend that loads a user by id, `login`, `logout`,
//! the current user, a guard), on this crate's [`Session`].
//!
//! - [`Auth::login`] moves the session to a new id (against session fixation) and stores the
//!   user's id under [`AUTH_USER_KEY`] (a JSON string; server stores index sessions by it)
//!   and, under [`AUTH_HASH_KEY`], a keyed digest of the user's
//!   [`session_auth_hash`](AuthUser::session_auth_hash), never the app's bytes themselves.
//! - [`Auth::user`] loads the signed-in user through the app's [`AuthBackend`] and checks
//!   the digest in constant time: when the credential changed (a new password, "sign out
//!   everywhere") or the user is gone, the session is signed out (invalidated, the reason
//!   logged and reported as a `revoked` [event](crate::events)). So changing a password ends
//!   every other session of the user, as in Django and Laravel.
//! - [`Auth::logout`] invalidates the session.
//! - A route that needs a user answers the app's choice of [`Unauthenticated`]: `401`, or a
//!   redirect to the sign-in page with the original path as `next`
//!   ([`Auth::denied`], [`local_path`]).
//!
//! The `axum` and `actix` adapters have extractors over it (`CurrentUser`, `RequireUser`).
//!
//! ```
//! use std::collections::HashMap;
//! use std::convert::Infallible;
//! use typed_sessions::Session;
//! use typed_sessions::auth::{Auth, AuthBackend, AuthHasher, AuthUser};
//!
//! #[derive(Clone)]
//! struct User {
//!     name: String,
//!     password_hash: Vec<u8>,
//! }
//!
//! impl AuthUser for User {
//!     fn id(&self) -> String {
//!         self.name.clone()
//!     }
//!     fn session_auth_hash(&self) -> &[u8] {
//!         &self.password_hash // changes with the password
//!     }
//! }
//!
//! struct Users(HashMap<String, User>);
//!
//! impl AuthBackend for Users {
//!     type User = User;
//!     type Error = Infallible;
//!     async fn get_user(&self, id: &str) -> Result<Option<User>, Infallible> {
//!         Ok(self.0.get(id).cloned())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ada = User { name: "ada".into(), password_hash: b"$argon2id$v1".to_vec() };
//! let users = Users(HashMap::from([("ada".to_owned(), ada.clone())]));
//! let hasher = AuthHasher::new("a secret of at least thirty-two bytes");
//! let auth = Auth::new(users, hasher);
//!
//! let mut session = Session::new();
//! auth.login(&mut session, &ada);
//! assert_eq!(auth.user(&mut session).await.unwrap().unwrap().name, "ada");
//!
//! auth.logout(&mut session);
//! assert!(auth.user(&mut session).await.unwrap().is_none());
//! # }
//! ```

use std::fmt;
use std::future::Future;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::reserved::{AUTH_HASH_KEY, AUTH_USER_KEY};
use crate::session::Session;

/// The app's user, as sign-in sees it.
pub trait AuthUser {
    /// The user's id, stored in the session under [`AUTH_USER_KEY`] as a JSON string and
    /// given back to [`AuthBackend::get_user`]. Stable for the user's lifetime (not a
    /// display name the user may change).
    fn id(&self) -> String;

    /// Bytes that change when the user's credential does: the password hash, or a
    /// "password version" the app bumps on every password change and on "sign out
    /// everywhere". The session keeps a keyed digest of them; when they change, every
    /// session signed in before is signed out on its next request.
    fn session_auth_hash(&self) -> &[u8];
}

/// Where the app's users come from.
pub trait AuthBackend: Send + Sync + 'static {
    /// The user type.
    type User: AuthUser + Send + 'static;
    /// What a failed lookup says (a database error); answered with `500` by the
    /// extractors, and the session stays signed in.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The user with id `id`; `Ok(None)` when there is none (deleted): the session is then
    /// signed out.
    fn get_user(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;
}

/// Turns a user's [`session_auth_hash`](AuthUser::session_auth_hash) into the digest a
/// session stores under [`AUTH_HASH_KEY`]: HMAC-SHA256 under a key derived from the app's
/// secret, over the user's id and the bytes, as 64 hex digits. A session (or a cookie
/// readable by its holder) never holds the app's bytes, and a digest made for one user does
/// not verify for another.
///
/// Cheap to clone (32 bytes): give a clone to a
/// [revocation check](crate::Builder::revocation).
#[derive(Clone)]
pub struct AuthHasher {
    key: [u8; 32],
}

type HmacSha256 = Hmac<Sha256>;

impl AuthHasher {
    /// A hasher keyed by `secret` (at least 32 random bytes; the session secret will do:
    /// the key is derived from it for this purpose alone).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let mut mac =
            HmacSha256::new_from_slice(secret.as_ref()).expect("HMAC takes a key of any length");
        mac.update(b"typed_sessions.auth_hash");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, user_id: &str, credential: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("a 32-byte key");
        // The id's length first, so that ("ab", "c") and ("a", "bc") differ.
        mac.update(&(user_id.len() as u64).to_be_bytes());
        mac.update(user_id.as_bytes());
        mac.update(credential);
        mac.finalize().into_bytes().into()
    }

    /// The digest of `credential` (a [`session_auth_hash`](AuthUser::session_auth_hash))
    /// for user `user_id`, as stored.
    pub fn hash(&self, user_id: &str, credential: &[u8]) -> String {
        crate::random::to_hex(&self.mac(user_id, credential))
    }

    /// Whether `stored` is the digest of `credential` for `user_id`, compared in constant
    /// time.
    pub fn verify(&self, user_id: &str, credential: &[u8], stored: &str) -> bool {
        let expected = self.hash(user_id, credential);
        bool::from(expected.as_bytes().ct_eq(stored.as_bytes()))
    }
}

impl fmt::Debug for AuthHasher {
    /// Never shows the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthHasher").finish_non_exhaustive()
    }
}

/// A check of every signed-in session when a factory loads it; see
/// [`Builder::revocation`](crate::Builder::revocation). Any
/// `Fn(&str, Option<&str>) -> bool` is one.
pub trait RevocationCheck: Send + Sync + 'static {
    /// Whether the sign-in of `user_id` whose session holds `auth_hash` (its
    /// [`AUTH_HASH_KEY`], if it has one) is revoked. Runs on every request that loads a
    /// signed-in session: keep it cheap.
    fn is_revoked(&self, user_id: &str, auth_hash: Option<&str>) -> bool;
}

impl<F: Fn(&str, Option<&str>) -> bool + Send + Sync + 'static> RevocationCheck for F {
    fn is_revoked(&self, user_id: &str, auth_hash: Option<&str>) -> bool {
        self(user_id, auth_hash)
    }
}

/// Why a signed-in session was signed out by [`Auth::user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignedOut {
    /// The backend has no user with the session's id (deleted).
    UnknownUser,
    /// The user's credential changed since the sign-in: the stored auth hash does not
    /// match (or there is none).
    AuthHashChanged,
    /// The session's user id is not a string (written by other code).
    Malformed,
}

impl SignedOut {
    /// A short phrase, as logged and reported as an event's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown user",
            Self::AuthHashChanged => "auth hash changed",
            Self::Malformed => "malformed sign-in",
        }
    }
}

impl fmt::Display for SignedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a session says about its sign-in, read by [`Auth::claim`] and checked by
/// [`Auth::check`]: split so that an adapter can read it under its session lock and check it
/// (a database query) without holding the lock.
#[derive(Clone, PartialEq, Eq)]
pub struct Claim {
    user_id: String,
    auth_hash: Option<String>,
}

impl Claim {
    /// The user id the session is signed in as.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl fmt::Debug for Claim {
    /// Shows the user id, never the auth hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claim")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// What a route that needs a user answers a request without one: the app's choice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Unauthenticated {
    /// `401 Unauthorized`, empty (an API).
    #[default]
    Unauthorized,
    /// `303 See Other` to the sign-in page at `login_url`, with the request's path and
    /// query as `next` (a page).
    Redirect {
        /// The sign-in page's path (or URL).
        login_url: String,
    },
}

/// The answer of [`Auth::denied`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// Answer `401 Unauthorized`.
    Unauthorized,
    /// Answer `303 See Other` to `location`.
    Redirect {
        /// The `Location` header's value.
        location: String,
    },
}

/// Sign-in over backend `B`, keyed by an [`AuthHasher`]. Keep one per app (in an `Arc`, in
/// the framework's state); see the [module docs](self).
pub struct Auth<B> {
    backend: B,
    hasher: AuthHasher,
    unauthenticated: Unauthenticated,
}

impl<B: AuthBackend> Auth<B> {
    /// Sign-in over `backend`, hashing with `hasher`; a route that needs a user answers
    /// `401` unless [`redirect_to`](Self::redirect_to) says otherwise.
    pub fn new(backend: B, hasher: AuthHasher) -> Self {
        Self {
            backend,
            hasher,
            unauthenticated: Unauthenticated::Unauthorized,
        }
    }

    /// A route that needs a user redirects to `login_url` (with `next`) instead of
    /// answering `401`.
    pub fn redirect_to(mut self, login_url: impl Into<String>) -> Self {
        self.unauthenticated = Unauthenticated::Redirect {
            login_url: login_url.into(),
        };
        self
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The hasher.
    pub fn hasher(&self) -> &AuthHasher {
        &self.hasher
    }

    /// What a route that needs a user answers without one.
    pub fn unauthenticated(&self) -> &Unauthenticated {
        &self.unauthenticated
    }

    /// Signs `user` in: moves the session to a new id ([`Session::regenerate_id`], against
    /// session fixation) and stores the user's id and auth hash. A session signed in as
    /// another user is emptied first, so nothing of theirs carries over; the same user
    /// signing in again keeps the session's other keys (a cart).
    pub fn login(&self, session: &mut Session, user: &B::User) {
        let id = user.id();
        let other_user = match session.get_as::<String>(AUTH_USER_KEY) {
            Ok(Some(current)) => current != id,
            Ok(None) => false,
            Err(_) => true,
        };
        if other_user {
            session.clear();
        }
        session.regenerate_id();
        let hash = self.hasher.hash(&id, user.session_auth_hash());
        session.insert(AUTH_USER_KEY, id);
        session.insert(AUTH_HASH_KEY, hash);
    }

    /// Signs the session out: [`Session::invalidate`] (emptied, and server-side moved to a
    /// new id and its record deleted).
    pub fn logout(&self, session: &mut Session) {
        session.invalidate();
    }

    /// What `session` says about its sign-in: `Ok(None)` when it is not signed in, an error
    /// when its user id is not a string (sign it out with [`sign_out`](Self::sign_out)).
    pub fn claim(&self, session: &Session) -> Result<Option<Claim>, SignedOut> {
        let user_id = match session.get_as::<String>(AUTH_USER_KEY) {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(None),
            Err(_) => return Err(SignedOut::Malformed),
        };
        let auth_hash = session.get_as::<String>(AUTH_HASH_KEY).ok().flatten();
        Ok(Some(Claim { user_id, auth_hash }))
    }

    /// Loads the claimed user and checks the auth hash: the user, or why the claim no longer
    /// holds. An error only when the backend fails.
    pub async fn check(&self, claim: &Claim) -> Result<Result<B::User, SignedOut>, B::Error> {
        let Some(user) = self.backend.get_user(&claim.user_id).await? else {
            return Ok(Err(SignedOut::UnknownUser));
        };
        let current = claim.auth_hash.as_deref().is_some_and(|stored| {
            self.hasher
                .verify(&claim.user_id, user.session_auth_hash(), stored)
        });
        Ok(if current {
            Ok(user)
        } else {
            Err(SignedOut::AuthHashChanged)
        })
    }

    /// Signs a session whose claim no longer holds out: invalidated, the reason logged
    /// (never the user id or hash) and reported as a `revoked` event on save.
    pub fn sign_out(&self, session: &mut Session, why: SignedOut) {
        tracing::info!(
            target: "typed_sessions::auth",
            reason = %why,
            "signed-in session signed out"
        );
        session.revoke(why.as_str());
    }

    /// The signed-in user: [`claim`](Self::claim), [`check`](Self::check) and, when the
    /// claim no longer holds, [`sign_out`](Self::sign_out). `Ok(None)` when nobody is
    /// signed in (any more); an error only when the backend fails.
    pub async fn user(&self, session: &mut Session) -> Result<Option<B::User>, B::Error> {
        let claim = match self.claim(session) {
            Ok(Some(claim)) => claim,
            Ok(None) => return Ok(None),
            Err(why) => {
                self.sign_out(session, why);
                return Ok(None);
            }
        };
        match self.check(&claim).await? {
            Ok(user) => Ok(Some(user)),
            Err(why) => {
                self.sign_out(session, why);
                Ok(None)
            }
        }
    }

    /// [`user`](Self::user) for an adapter whose session sits behind a lock: `lock` gives
    /// the locked session, which is never held across the backend's `.await`.
    #[cfg(any(feature = "axum", feature = "actix"))]
    pub(crate) async fn user_locked<G: std::ops::DerefMut<Target = Session>>(
        &self,
        lock: impl Fn() -> G,
    ) -> Result<Option<B::User>, B::Error> {
        let claim = self.claim(&lock());
        let why = match claim {
            Ok(None) => return Ok(None),
            Ok(Some(claim)) => match self.check(&claim).await? {
                Ok(user) => return Ok(Some(user)),
                Err(why) => why,
            },
            Err(why) => why,
        };
        self.sign_out(&mut lock(), why);
        Ok(None)
    }

    /// What a route that needs a user answers a request for `original` (its path and
    /// query) without one: `401`, or a redirect to the sign-in page with `next=original`
    /// when `original` is a [`local_path`] (otherwise without `next`).
    ///
    /// ```
    /// use typed_sessions::auth::{Auth, AuthHasher, Denied};
    /// # use typed_sessions::auth::{AuthBackend, AuthUser};
    /// # struct U; impl AuthUser for U { fn id(&self) -> String { String::new() } fn session_auth_hash(&self) -> &[u8] { b"" } }
    /// # struct B; impl AuthBackend for B { type User = U; type Error = std::convert::Infallible;
    /// #     async fn get_user(&self, _: &str) -> Result<Option<U>, Self::Error> { Ok(None) } }
    /// let auth = Auth::new(B, AuthHasher::new("a secret of at least thirty-two bytes"))
    ///     .redirect_to("/login");
    /// assert_eq!(
    ///     auth.denied("/cart?step=2"),
    ///     Denied::Redirect { location: "/login?next=%2Fcart%3Fstep%3D2".into() }
    /// );
    /// assert_eq!(auth.denied("//evil.example/"), Denied::Redirect { location: "/login".into() });
    /// ```
    pub fn denied(&self, original: &str) -> Denied {
        match &self.unauthenticated {
            Unauthenticated::Unauthorized => Denied::Unauthorized,
            Unauthenticated::Redirect { login_url } => {
                let mut location = login_url.clone();
                if let Some(next) = local_path(original) {
                    location.push(if login_url.contains('?') { '&' } else { '?' });
                    location.push_str("next=");
                    percent_encode(next, &mut location);
                }
                Denied::Redirect { location }
            }
        }
    }
}

impl<B> fmt::Debug for Auth<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("unauthenticated", &self.unauthenticated)
            .finish_non_exhaustive()
    }
}

/// `next` when it is a path on this site, safe to redirect to after sign-in: it starts with
/// one `/` (not `//` or `/\`, which browsers read as another host), has no backslash, no
/// control character or space, and is at most 2048 bytes. `None` otherwise: redirect home.
///
/// ```
/// use typed_sessions::auth::local_path;
///
/// assert_eq!(local_path("/cart?x=1"), Some("/cart?x=1"));
/// for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "cart", "/a\nb", ""] {
///     assert_eq!(local_path(bad), None, "{bad:?}");
/// }
/// ```
pub fn local_path(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.len() <= 2048
        && !bytes.iter().any(|&b| b == b'\\' || b <= b' ' || b == 0x7f);
    local.then_some(next)
}

/// Appends `text` to `out`, percent-encoded for a query value: everything but RFC 3986's
/// unreserved characters.
fn percent_encode(text: &str, out: &mut String) {
    use std::fmt::Write;
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            write!(out, "%{byte:02X}").expect("writing to a String does not fail");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    #[derive(Clone)]
    struct User {
        id: String,
        version: Vec<u8>,
    }

    impl AuthUser for User {
        fn id(&self) -> String {
            self.id.clone()
        }
        fn session_auth_hash(&self) -> &[u8] {
            &self.version
        }
    }

    #[derive(Default)]
    struct Users(Mutex<HashMap<String, User>>);

    impl Users {
        fn put(&self, id: &str, version: u8) -> User {
            let user = User {
                id: id.to_owned(),
                version: vec![version],
            };
            self.0.lock().unwrap().insert(id.to_owned(), user.clone());
            user
        }
    }

    impl AuthBackend for Users {
        type User = User;
        type Error = Infallible;
        async fn get_user(&self, id: &str) -> Result<Option<User>, Infallible> {
            Ok(self.0.lock().unwrap().get(id).cloned())
        }
    }

    fn auth() -> Auth<Users> {
        Auth::new(
            Users::default(),
            AuthHasher::new("a secret of at least thirty-two bytes"),
        )
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn login_stores_the_id_as_a_string_and_a_digest_not_the_credential() {
        let auth = auth();
        let ada = auth.backend().put("ada", 7);
        let mut session = Session::new();
        auth.login(&mut session, &ada);
        assert_eq!(session.get(AUTH_USER_KEY), Some(&json!("ada")));
        let stored = session.get_as::<String>(AUTH_HASH_KEY).unwrap().unwrap();
        assert_eq!(stored.len(), 64);
        assert_ne!(stored, "07");
        assert!(auth.hasher().verify("ada", &[7], &stored));
        assert!(!auth.hasher().verify("ada", &[8], &stored));
        assert!(
            !auth.hasher().verify("bob", &[7], &stored),
            "bound to the user"
        );
        assert!(session.happened().regenerated);
        assert_eq!(
            block_on(auth.user(&mut session)).unwrap().unwrap().id,
            "ada"
        );
    }

    #[test]
    fn a_changed_credential_or_a_gone_user_signs_the_session_out() {
        let auth = auth();
        let ada = auth.backend().put("ada", 1);
        let mut session = Session::new();
        auth.login(&mut session, &ada);
        session.insert("cart", json!(["tea"]));
        auth.backend().put("ada", 2); // a new password
        assert!(block_on(auth.user(&mut session)).unwrap().is_none());
        assert!(session.is_empty(), "invalidated");
        assert_eq!(session.happened().revoked, Some("auth hash changed"));

        let bob = auth.backend().put("bob", 1);
        let mut session = Session::new();
        auth.login(&mut session, &bob);
        auth.backend().0.lock().unwrap().clear();
        assert!(block_on(auth.user(&mut session)).unwrap().is_none());
        assert_eq!(session.happened().revoked, Some("unknown user"));
    }

    #[test]
    fn a_missing_or_malformed_sign_in_is_signed_out() {
        let auth = auth();
        auth.backend().put("ada", 1);
        let mut session = Session::new();
        session.insert(AUTH_USER_KEY, "ada"); // no hash: not this API's sign-in
        assert!(block_on(auth.user(&mut session)).unwrap().is_none());
        assert_eq!(session.happened().revoked, Some("auth hash changed"));
        let mut session = Session::new();
        session.insert(AUTH_USER_KEY, 42);
        assert_eq!(auth.claim(&session), Err(SignedOut::Malformed));
        assert!(block_on(auth.user(&mut session)).unwrap().is_none());
        assert!(session.is_empty());
        assert!(block_on(auth.user(&mut Session::new())).unwrap().is_none());
    }

    #[test]
    fn signing_in_as_another_user_keeps_nothing_of_the_first() {
        let auth = auth();
        let (ada, bob) = (auth.backend().put("ada", 1), auth.backend().put("bob", 1));
        let mut session = Session::new();
        session.insert("cart", json!(["tea"]));
        auth.login(&mut session, &ada);
        assert!(
            session.contains_key("cart"),
            "an anonymous cart carries over"
        );
        auth.login(&mut session, &ada);
        assert!(session.contains_key("cart"), "so does the same user's");
        auth.login(&mut session, &bob);
        assert!(!session.contains_key("cart"), "another user's does not");
        assert_eq!(session.get(AUTH_USER_KEY), Some(&json!("bob")));
    }

    #[test]
    fn logout_invalidates() {
        let auth = auth();
        let ada = auth.backend().put("ada", 1);
        let mut session = Session::new();
        auth.login(&mut session, &ada);
        auth.logout(&mut session);
        assert!(session.is_empty());
        assert!(session.happened().invalidated);
    }

    #[test]
    fn denied_answers_401_or_redirects_with_a_local_next() {
        let auth = auth();
        assert_eq!(auth.denied("/account"), Denied::Unauthorized);
        let auth = auth.redirect_to("/login?lang=en");
        assert_eq!(
            auth.denied("/a b"),
            Denied::Redirect {
                location: "/login?lang=en".into()
            }
        );
        assert_eq!(
            auth.denied("/account/é"),
            Denied::Redirect {
                location: "/login?lang=en&next=%2Faccount%2F%C3%A9".into()
            }
        );
    }

    #[test]
    fn the_hasher_and_claim_never_show_secrets() {
        let hasher = AuthHasher::new("a secret of at least thirty-two bytes");
        assert_eq!(format!("{hasher:?}"), "AuthHasher { .. }");
        let claim = Claim {
            user_id: "ada".into(),
            auth_hash: Some(hasher.hash("ada", b"x")),
        };
        assert_eq!(format!("{claim:?}"), r#"Claim { user_id: "ada", .. }"#);
    }
}

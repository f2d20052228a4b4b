//! What both session factories are built with (the cookie's attributes, the save policy,
//! the clock) and the steps of load and save that depend on nothing else.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::clock::{Clock, SystemClock};
use crate::error::{Rejection, SessionError};
use crate::session::{Origin, Session, Timestamps};

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Saved {
    /// A `Set-Cookie` header was appended.
    Written,
    /// The session needed no new cookie.
    Unchanged,
    /// The response is for a failed request and the factory has `set_on_exception(false)`.
    SkippedOnError,
    /// The request's changes were discarded, not saved: the server-side session's record
    /// was deleted (a concurrent [`invalidate`](crate::Session::invalidate), a sign-out on
    /// another device) or expired between the load and the save. Writing the changes alone
    /// would bring back a partial session, so nothing was written and no `Set-Cookie` was
    /// sent; a warning is logged. The client's next request starts a new session. Only
    /// [`ServerSessionFactory`](crate::store::ServerSessionFactory) returns it.
    Discarded,
}

/// A factory's settings: all of it but its keys and store, so showing them shows no secret.
pub(crate) struct Settings {
    pub cookie: CookieOptions,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
}

/// The attributes of the session cookie.
#[derive(Debug, Clone)]
pub(crate) struct CookieOptions {
    pub name: String,
    pub max_age: Option<Duration>,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub secure: bool,
    pub httponly: bool,
    pub samesite: Option<SameSite>,
}

/// When a session times out, when its cookie is reissued, and whether a failed request
/// gets one.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub timeout: Option<f64>,
    pub reissue_time: Option<f64>,
    pub set_on_exception: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cookie: CookieOptions::default(),
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Default for CookieOptions {
    fn default() -> Self {
        Self {
            name: "session".to_owned(),
            max_age: None,
            path: Some("/".to_owned()),
            domain: None,
            secure: false,
            httponly: false,
            samesite: Some(SameSite::Lax),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            timeout: Some(1200.0),
            reissue_time: Some(0.0),
            set_on_exception: true,
        }
    }
}

impl Settings {
    /// The session of a request at `now`, made from what the factory found.
    pub(crate) fn session(&self, origin: Origin, now: f64) -> Session {
        Session::from_origin(origin, now, self.policy.reissue_time)
    }

    /// Logs why a request's cookie was not used, never its value: the request gets an empty
    /// session.
    pub(crate) fn log_rejection(&self, rejection: Rejection) {
        tracing::debug!(
            cookie = %self.cookie.name,
            reason = %rejection,
            "session cookie not used; the session starts empty"
        );
    }

    /// The `Set-Cookie` cookie holding `value`, borrowing these attributes; the clock dates
    /// `Expires` when there is a `Max-Age`.
    pub(crate) fn cookie(&self, value: String) -> Cookie<'_> {
        let options = &self.cookie;
        let mut cookie = Cookie::new(options.name.as_str(), value);
        if let Some(path) = &options.path {
            cookie.set_path(path.as_str());
        }
        if let Some(domain) = &options.domain {
            cookie.set_domain(domain.as_str());
        }
        if let Some(max_age) = options.max_age {
            let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            cookie.set_max_age(cookie::time::Duration::seconds(secs));
            let expires = (self.clock.now() as i64).saturating_add(secs);
            if let Ok(at) = cookie::time::OffsetDateTime::from_unix_timestamp(expires) {
                cookie.set_expires(at);
            }
        }
        cookie.set_secure(options.secure.then_some(true));
        cookie.set_http_only(options.httponly.then_some(true));
        cookie.set_same_site(options.samesite);
        cookie
    }

    /// Starts the `Debug` of the factory or builder `name`: the settings, never a key. The
    /// caller adds its own fields and finishes it non-exhaustive.
    pub(crate) fn debug_struct<'a, 'b: 'a>(
        &self,
        f: &'a mut fmt::Formatter<'b>,
        name: &str,
    ) -> fmt::DebugStruct<'a, 'b> {
        let mut debug = f.debug_struct(name);
        debug
            .field("cookie", &self.cookie)
            .field("policy", &self.policy);
        debug
    }
}

impl CookieOptions {
    /// The session cookie's value in a request: WebOb keeps the last of repeated cookies,
    /// and so does this, across all `Cookie` headers.
    pub(crate) fn find(&self, headers: &HeaderMap) -> Option<String> {
        headers.get_all(COOKIE).iter().rev().find_map(|header| {
            // A header with bytes outside visible ASCII may still carry a good session
            // cookie.
            find_cookie(&String::from_utf8_lossy(header.as_bytes()), &self.name)
        })
    }
}

impl Policy {
    /// Whether a cookie or record carrying `times` has timed out at `now`.
    pub(crate) fn timed_out(&self, times: Timestamps, now: f64) -> bool {
        self.timeout
            .is_some_and(|timeout| now - times.accessed > timeout)
    }
}

/// The value of cookie `name` in a `Cookie` header; the last one wins when it repeats, as in
/// WebOb (even when that one is invalid).
pub(crate) fn find_cookie(header: &str, name: &str) -> Option<String> {
    Cookie::split_parse(header)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == name)
        .last()
        .map(|cookie| cookie.value().to_owned())
}

/// The `Set-Cookie` header value of `cookie`.
pub(crate) fn header_value(cookie: &Cookie<'_>) -> Result<HeaderValue, SessionError> {
    // Names and attributes are checked when the factory is built; only a codec of the
    // user's could produce a value a header cannot hold.
    HeaderValue::try_from(cookie.to_string()).map_err(|_| SessionError::InvalidCookieValue)
}

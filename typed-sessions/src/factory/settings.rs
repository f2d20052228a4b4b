//! What both session factories are built with (the cookie's attributes, the save policy,
//! the clock) and the steps of load and save that depend on nothing else.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::budget::Budgets;
use crate::auth::RevocationCheck;
use crate::clock::{Clock, SystemClock};
use crate::error::{Rejection, SessionError};
use crate::events::SessionEvents;
use crate::payload::Timestamps;
use crate::reserved::{AUTH_HASH_KEY, AUTH_USER_KEY};
use crate::session::{Origin, Session};
use crate::state::State;

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
    /// [`ServerSessionFactory`](crate::ServerSessionFactory) returns it.
    Discarded,
}

/// A factory's settings: all of it but its keys and store, so showing them shows no secret.
pub(crate) struct Settings {
    pub cookie: CookieOptions,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    /// The app's hook for lifecycle events ([`Builder::events`](crate::Builder::events)).
    pub events: Option<Arc<dyn SessionEvents>>,
    /// The app's check of signed-in sessions on load
    /// ([`Builder::revocation`](crate::Builder::revocation)).
    pub revocation: Option<Arc<dyn RevocationCheck>>,
    /// What a cookie may take of the browser's room.
    pub budgets: Budgets,
    /// Whether a cookie factory deflates a payload that does not fit (feature
    /// `compression`; always false without it).
    pub compress: bool,
    /// The most messages a flash queue keeps (`None`: no limit, as in Pyramid).
    pub flash_queue_cap: Option<usize>,
    /// The most cookies a cookie factory splits a session into (1: no chunking).
    pub max_chunks: usize,
    /// Whether the builder was given [`pyramid_defaults`](crate::Builder::pyramid_defaults):
    /// no format a Pyramid app cannot read may be added to the factory later (a spill).
    pub pyramid_mode: bool,
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
    pub partitioned: bool,
}

/// When a session times out, when its cookie is reissued, and whether a failed request
/// gets one.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub timeout: Option<f64>,
    pub reissue_time: Option<f64>,
    pub set_on_exception: bool,
    /// How long a session may live from `created`, whatever its activity.
    pub max_lifetime: Option<f64>,
    /// The status that replaces a successful response whose session changes were discarded
    /// (`None`: the response stays).
    pub on_discarded: Option<StatusCode>,
    /// The status that replaces a response whose session does not fit its cookie's budgets
    /// (`None`: the response stays, without the cookie).
    pub on_oversized: Option<StatusCode>,
}

/// How far in the future a cookie's or record's timestamps may lie, in seconds: servers
/// that share a secret (a Rust service and a Pyramid app) disagree about the time by
/// fractions of a second when they keep it with NTP; a minute leaves room for a clock that
/// is briefly off, and refuses `1e308` and "now + 10⁹ s", which would never time out.
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(60);

/// The default [`flash_queue_cap`](crate::Builder::flash_queue_cap): a flash queue keeps
/// its 20 newest messages. Twenty short notices take about a kilobyte of a 4 KiB cookie; a
/// page shows them all at once, and more than that is noise nobody reads.
pub const DEFAULT_FLASH_QUEUE_CAP: usize = 20;

/// The default [`max_lifetime`](crate::Builder::max_lifetime): one day.
pub(crate) const DEFAULT_MAX_LIFETIME: f64 = 24.0 * 3600.0;

impl Default for Settings {
    fn default() -> Self {
        Self {
            cookie: CookieOptions::default(),
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            events: None,
            revocation: None,
            budgets: Budgets::default(),
            compress: false,
            flash_queue_cap: Some(DEFAULT_FLASH_QUEUE_CAP),
            max_chunks: 1,
            pyramid_mode: false,
        }
    }
}

/// The builder's: Pyramid's, but `Secure` and `HttpOnly`, as Pyramid's docs advise.
impl Default for CookieOptions {
    fn default() -> Self {
        Self {
            secure: true,
            httponly: true,
            ..Self::pyramid()
        }
    }
}

/// The builder's: Pyramid's timeout, a reissue time of a tenth of it (see
/// [`Policy::reissue_time_for`]), and an absolute lifetime of a day.
impl Default for Policy {
    fn default() -> Self {
        let pyramid = Self::pyramid();
        Self {
            reissue_time: Self::reissue_time_for(pyramid.timeout),
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            ..pyramid
        }
    }
}

impl CookieOptions {
    /// Pyramid 2.1's `SignedCookieSessionFactory` defaults: `session`, `Path=/`,
    /// `SameSite=Lax`, neither `Secure` nor `HttpOnly`, no `Max-Age`, no `Domain`.
    pub(crate) fn pyramid() -> Self {
        Self {
            name: "session".to_owned(),
            max_age: None,
            path: Some("/".to_owned()),
            domain: None,
            secure: false,
            httponly: false,
            samesite: Some(SameSite::Lax),
            partitioned: false,
        }
    }
}

impl Settings {
    /// The session of a request at `now`, made from what the factory found.
    pub(crate) fn session(&self, origin: Origin, now: f64) -> Session {
        Session::from_origin(origin, now, self.policy.reissue_time)
            .with_flash_queue_cap(self.flash_queue_cap)
    }

    /// The app's event hook, if it set one.
    pub(crate) fn events(&self) -> Option<&dyn SessionEvents> {
        self.events.as_deref()
    }

    /// Whether the revocation check ends a session holding `state`: only a signed-in one
    /// (a string under [`AUTH_USER_KEY`]) is checked, and only when the app set a check.
    pub(crate) fn revoked(&self, state: &State) -> bool {
        let Some(check) = self.revocation.as_deref() else {
            return false;
        };
        let Some(Ok(user)) = state.get_as::<String>(AUTH_USER_KEY) else {
            return false;
        };
        let hash = state.get_as::<String>(AUTH_HASH_KEY).and_then(Result::ok);
        check.is_revoked(&user, hash.as_deref())
    }

    /// Logs why a request's cookie was not used, never its value: the request gets an empty
    /// session.
    ///
    /// A session that merely ended (timed out, or gone from the store) is logged at `debug`;
    /// a cookie that is not what this factory wrote (tampered, signed with another secret,
    /// truncated), one from the future, or past its lifetime at `info`, under the target
    /// `typed_sessions::rejected`, so an operator can see them (`RUST_LOG=typed_sessions=info`).
    pub(crate) fn log_rejection(&self, rejection: Rejection) {
        if matches!(rejection, Rejection::TimedOut | Rejection::UnknownSessionId) {
            tracing::debug!(
                target: "typed_sessions::rejected",
                cookie = %self.cookie.name,
                reason = %rejection,
                "session cookie not used; the session starts empty"
            );
        } else {
            tracing::info!(
                target: "typed_sessions::rejected",
                cookie = %self.cookie.name,
                reason = %rejection,
                "session cookie not used; the session starts empty"
            );
        }
    }

    /// The `Set-Cookie` cookie holding `value`, borrowing these attributes; the clock dates
    /// `Expires` when there is a `Max-Age`.
    pub(crate) fn cookie<'c>(&'c self, value: impl Into<Cow<'c, str>>) -> Cookie<'c> {
        self.cookie_named(self.cookie.name.as_str(), value)
    }

    /// [`cookie`](Self::cookie) under another name (a chunk's), with the same attributes.
    pub(crate) fn cookie_named<'c>(
        &'c self,
        name: impl Into<Cow<'c, str>>,
        value: impl Into<Cow<'c, str>>,
    ) -> Cookie<'c> {
        let options = &self.cookie;
        let mut cookie = Cookie::new(name, value);
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
        cookie.set_partitioned(options.partitioned.then_some(true));
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
            .field("policy", &self.policy)
            .field("budgets", &self.budgets)
            .field("compress", &self.compress)
            .field("flash_queue_cap", &self.flash_queue_cap)
            .field("max_chunks", &self.max_chunks);
        debug
    }
}

impl CookieOptions {
    /// The session cookie's value in a request: WebOb keeps the last of repeated cookies,
    /// and so does this, across all `Cookie` headers. Borrowed from the header when it is
    /// UTF-8, as headers are.
    pub(crate) fn find<'h>(&self, headers: &'h HeaderMap) -> Option<Cow<'h, str>> {
        find_in(headers, &self.name)
    }
}

/// The value of cookie `name` in a request's `Cookie` headers, as
/// [`CookieOptions::find`] finds the session cookie's.
pub(crate) fn find_in<'h>(headers: &'h HeaderMap, name: &str) -> Option<Cow<'h, str>> {
    headers.get_all(COOKIE).iter().rev().find_map(|header| {
        let bytes = header.as_bytes();
        match std::str::from_utf8(bytes) {
            // The common case, checked at `from_utf8`'s speed: `from_utf8_lossy` walks a
            // valid header chunk by chunk, several times slower, to return it unchanged.
            Ok(text) => find_cookie(text, name).map(Cow::Borrowed),
            // A header with bytes outside visible ASCII may still carry a good session
            // cookie.
            Err(_) => find_cookie(&String::from_utf8_lossy(bytes), name)
                .map(|value| Cow::Owned(value.to_owned())),
        }
    })
}

impl Policy {
    /// Pyramid 2.1's defaults: timeout 1200 s, reissue time 0 s, set on exception, no
    /// absolute lifetime. (Discarded changes are answered `409` and oversized sessions `507`
    /// in every mode: Pyramid's own factories never discard any, and raise on an oversized
    /// one, which its app answers `500`.)
    pub(crate) fn pyramid() -> Self {
        Self {
            timeout: Some(1200.0),
            reissue_time: Some(0.0),
            set_on_exception: true,
            max_lifetime: None,
            on_discarded: Some(StatusCode::CONFLICT),
            on_oversized: Some(StatusCode::INSUFFICIENT_STORAGE),
        }
    }

    /// The reissue time the builder derives from `timeout` while none is set: a tenth of it
    /// (Pyramid's own rule of thumb), or 120 s (a tenth of the default) without a timeout.
    pub(crate) fn reissue_time_for(timeout: Option<f64>) -> Option<f64> {
        Some(timeout.map_or(120.0, |timeout| timeout / 10.0))
    }

    /// Whether a cookie or record carrying `times` has timed out at `now`.
    pub(crate) fn timed_out(&self, times: Timestamps, now: f64) -> bool {
        self.timeout
            .is_some_and(|timeout| now - times.accessed > timeout)
    }

    /// Why a cookie or record carrying `times` cannot be used at `now` whatever its
    /// activity: a timestamp from the future, or a session past its maximum lifetime. The
    /// idle timeout is [`timed_out`](Self::timed_out), which Pyramid treats differently
    /// (the timestamps are kept).
    pub(crate) fn refuses(&self, times: Timestamps, now: f64) -> Option<Rejection> {
        let skew = MAX_CLOCK_SKEW.as_secs_f64();
        if times.accessed > now + skew || times.created > now + skew {
            return Some(Rejection::FromTheFuture);
        }
        if self
            .max_lifetime
            .is_some_and(|lifetime| now - times.created > lifetime)
        {
            return Some(Rejection::TooOld);
        }
        None
    }
}

/// The value of cookie `name` in a `Cookie` header; the last one wins when it repeats, as in
/// WebOb (even when that one is invalid).
///
/// Reads the header as `cookie`'s `Cookie::split_parse` does (pieces between `;`, trimmed;
/// blank pieces, pieces without `=` and empty names skipped; name and value trimmed, the
/// value not decoded), without building a `Cookie` per piece; a test checks the two agree.
pub(crate) fn find_cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    let mut found = None;
    for piece in header.split(';') {
        let Some((key, value)) = piece.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !key.is_empty() && key == name {
            found = Some(value.trim());
        }
    }
    found
}

/// The `Set-Cookie` header value of `cookie`.
pub(crate) fn header_value(cookie: &Cookie<'_>) -> Result<HeaderValue, SessionError> {
    use std::fmt::Write;
    // Sized once for the value plus typical attributes, so the text is not copied as it
    // grows: the value is a few KiB.
    let mut text = String::with_capacity(cookie.name().len() + cookie.value().len() + 128);
    write!(text, "{cookie}").expect("formatting into a String does not fail");
    // Names and attributes are checked when the factory is built; only a codec of the
    // user's could produce a value a header cannot hold.
    HeaderValue::try_from(text).map_err(|_| SessionError::InvalidCookieValue)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `find_cookie` reads a header as `cookie`'s `split_parse` does.
    #[test]
    fn finds_what_the_cookie_crate_finds() {
        fn reference(header: &str, name: &str) -> Option<String> {
            Cookie::split_parse(header)
                .filter_map(Result::ok)
                .filter(|cookie| cookie.name() == name)
                .last()
                .map(|cookie| cookie.value().to_owned())
        }
        let headers = [
            "",
            ";",
            " ; ;; ",
            "session=abc",
            "session=abc; other=1",
            "other=1; session=abc",
            "session=a; session=b",
            "session=a;session=b;",
            " session = a b ; x=y",
            "session",
            "session=",
            "=session; session=x",
            " =x; session=x=y=z",
            "sessionx=1; xsession=2; Session=3",
            "a=1;\tsession=\t\"quoted\"\t; b",
            "session=\u{a0}nbsp\u{a0}; \u{2003}session\u{2003}=em",
            "session=first; junk; =; session=last",
        ];
        for header in headers {
            assert_eq!(
                find_cookie(header, "session").map(str::to_owned),
                reference(header, "session"),
                "header {header:?}"
            );
        }
    }
}

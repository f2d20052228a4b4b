//! A test kit for an app's sessions (feature `testing`; enable it in `[dev-dependencies]`):
//! mint the cookie a request would carry, read back the session a response sets, assert
//! flashed messages, and check that recorded sessions of past releases still load.
//!
//! The functions below work on cookie factories, synchronously. [`TestFactory`] does the
//! same on every factory, server-side ones included (minting writes the record into the
//! store, reading back loads it from there), with async methods.
//!
//! ```
//! use http::HeaderMap;
//! use serde_json::json;
//! use typed_sessions::testing::{self, Fixtures};
//! use typed_sessions::{SessionSchema, SignedCookieSessionFactory, flash_queue};
//!
//! #[derive(SessionSchema)]
//! pub struct Shop {
//!     #[session(default)]
//!     cart: Vec<String>,
//! }
//!
//! #[flash_queue]
//! #[derive(Debug, PartialEq)]
//! pub enum Notice {
//!     Success(String),
//! }
//!
//! let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
//!     .build()?;
//!
//! // The request of a user whose cart holds tea: a Cookie header the factory accepts.
//! let request = testing::request_with_state(&factory, &json!({"cart": ["tea"]}))?;
//!
//! // The handler under test (here inline): reads, changes, flashes, saves.
//! let mut session = factory.load(&request);
//! session.cart_mut()?.push("mug".into());
//! session.flash(Notice::Success("Added mug".into()))?;
//! let mut response = HeaderMap::new();
//! factory.save(&session, &mut response)?;
//!
//! // What the browser holds now, read back typed.
//! let next = testing::response_session(&factory, &response).expect("a Set-Cookie");
//! assert_eq!(next.cart()?, ["tea", "mug"]);
//! testing::assert_flashes(&next, &[Notice::Success("Added mug".into())]);
//!
//! // Every recorded session of a past release still loads under today's schema.
//! # let dir = std::env::temp_dir().join(format!("session-doc-fixtures-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # std::fs::write(dir.join("v1.json"), r#"{"cart": ["tea"]}"#)?;
//! let checked = Fixtures::new(&dir).schema::<Shop>().flash_queue::<Notice>().check()?;
//! assert_eq!(checked, 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod kit;

use std::fmt;
use std::path::{Path, PathBuf};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

use crate::codec::CookieCodec;
use crate::error::SessionError;
use crate::factory::CookieSessionFactory;
use crate::flash::{FlashExt, FlashQueue, flash_key};
use crate::session::Session;
use crate::typed::{FieldStatus, SessionSchema};

pub use kit::TestFactory;

/// Makes the operating system's random source fail, on this thread, until the returned guard
/// drops: for testing what an app answers when a CSRF token, a new server-side session id
/// or an encrypted cookie's nonce cannot be drawn (the crate returns
/// [`SessionError::RandomSource`]; the axum and actix-web layers answer `500` and set no
/// cookie).
///
/// Only the thread that holds the guard is affected, so tests running at the same time on
/// other threads are not. Run the code under test on this thread: a current-thread runtime
/// (`#[tokio::test]`'s default, `#[actix_web::test]`), not a task spawned onto another one.
/// The guard is not `Send`, and guards nest.
///
/// ```
/// use typed_sessions::{SessionError, SignedCookieSessionFactory};
///
/// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
///     .build()?;
/// let mut session = factory.load_value(None);
/// {
///     let _failing = typed_sessions::testing::failing_random_source();
///     assert!(matches!(session.new_csrf_token(), Err(SessionError::RandomSource { .. })));
/// }
/// assert_eq!(session.new_csrf_token()?.len(), 40);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the random source fails only while the guard lives"]
pub fn failing_random_source() -> FailingRandomSource {
    FailingRandomSource(crate::random::failing::start())
}

/// The guard of [`failing_random_source`]: the random source fails on this thread until it
/// drops.
#[must_use = "the random source fails only while the guard lives"]
pub struct FailingRandomSource(crate::random::failing::Guard);

impl fmt::Debug for FailingRandomSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FailingRandomSource")
    }
}

/// A session holding `state` (a JSON object), created and accessed at the factory's current
/// time, so that it has not timed out.
///
/// An error when `state` is not a JSON object.
pub fn session_with_state<C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    state: &serde_json::Value,
) -> Result<Session, SessionError> {
    state_session(state, factory.now())
}

/// A session holding `state` (a JSON object), created and accessed at `now` (whole
/// seconds, as Pyramid writes them).
fn state_session(state: &serde_json::Value, now: f64) -> Result<Session, SessionError> {
    if !state.is_object() {
        return Err(SessionError::wrong_type::<
            serde_json::Map<String, serde_json::Value>,
        >(
            "(state)",
            serde::de::Error::custom("the state of a session is a JSON object"),
        ));
    }
    let now = now.floor();
    Session::from_json_at(&state.to_string(), now, now, now).map_err(|rejection| {
        SessionError::wrong_type::<serde_json::Value>(
            "(state)",
            serde::de::Error::custom(rejection),
        )
    })
}

/// A session holding the fields of `value`, a [`SessionSchema`] struct, created and
/// accessed at the factory's current time.
pub fn session_with<S: SessionSchema, C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    value: &S,
) -> Result<Session, SessionError> {
    let mut session = session_with_state(factory, &serde_json::json!({}))?;
    value.store(&mut session)?;
    Ok(session)
}

/// The `Cookie` header a browser holding `session` sends: `name=value`, sealed by the
/// factory, and its chunks (`name.1=…; name.2=…`) when the factory
/// [`chunks`](crate::Builder::chunks) a session that does not fit one cookie. An error
/// when the session fits no cookies of the factory (see [`assert_fits`]).
pub fn cookie_header<C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    session: &Session,
) -> Result<HeaderValue, SessionError> {
    let pairs = cookies_set(&factory.set_cookie_headers(session)?);
    HeaderValue::try_from(pairs).map_err(|_| SessionError::InvalidCookieValue)
}

/// Request headers carrying `session`'s cookie.
pub fn request_with<C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    session: &Session,
) -> Result<HeaderMap, SessionError> {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, cookie_header(factory, session)?);
    Ok(headers)
}

/// Request headers carrying the cookie of a session whose state is `state` (a JSON object):
/// for replaying a session recorded from production, or one another app wrote.
pub fn request_with_state<C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    state: &serde_json::Value,
) -> Result<HeaderMap, SessionError> {
    request_with(factory, &session_with_state(factory, state)?)
}

/// The session that a response's `Set-Cookie` gives the client, loaded as its next request
/// would load it; `None` when the response sets no cookie of the factory's name, or only
/// removes it. A chunked session ([`chunks`](crate::Builder::chunks)) is read from all
/// its cookies.
pub fn response_session<C: CookieCodec>(
    factory: &CookieSessionFactory<C>,
    response: &HeaderMap,
) -> Option<Session> {
    let header = cookies_set(response);
    let value = crate::factory::find_cookie(&header, factory.cookie_name())?;
    (!value.is_empty()).then(|| factory.load_cookie_header(&header))
}

/// The `Cookie` header of a browser that had none and applied `response`'s `Set-Cookie`
/// lines in order: the last value of each name, removals (`Max-Age=0`) dropped.
fn cookies_set(response: &HeaderMap) -> String {
    let mut jar: Vec<(String, String)> = Vec::new();
    for cookie in response
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .filter_map(|header| cookie::Cookie::parse(header).ok())
    {
        jar.retain(|(name, _)| name != cookie.name());
        if cookie.max_age() != Some(cookie::time::Duration::ZERO) {
            jar.push((cookie.name().to_owned(), cookie.value().to_owned()));
        }
    }
    let pairs: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
    pairs.join("; ")
}

/// What [`assert_fits`] measured of a session's cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fit {
    /// How many cookies hold the session (more than one when it is chunked).
    pub cookies: usize,
    /// The longest of their `Set-Cookie` lines, in bytes.
    pub longest_line: usize,
    /// What they add to the request's `Cookie` header (`name=value; …`), in bytes.
    pub cookie_header: usize,
}

/// Asserts that `session`, saved by `factory`, fits the factory's budgets (the whole
/// `Set-Cookie` line, the request's `Cookie` header share; after the fallbacks the
/// factory has) and reads back to the same state; returns what it takes, so a test can
/// also keep a margin. Give it the largest state the app can make (the fullest cart, every
/// flash queue full) to know in CI, not in production, that it always fits.
///
/// # Panics
///
/// When the session does not fit (naming the budget and the sizes), cannot be saved, or
/// does not read back to the same state.
///
/// ```
/// use typed_sessions::SignedCookieSessionFactory;
/// use typed_sessions::testing;
///
/// let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
///     .build()?;
/// let mut largest = factory.load_value(None);
/// largest.insert("cart", vec!["sencha"; 100]);
/// for n in 0..factory.load_value(None).flash_queue_cap().unwrap() {
///     largest.flash(format!("Added item {n} to your cart."))?;
/// }
/// let fit = testing::assert_fits(&factory, &largest);
/// assert!(fit.longest_line <= 4096 - 256, "keep a margin: {fit:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn assert_fits<C: CookieCodec>(factory: &CookieSessionFactory<C>, session: &Session) -> Fit {
    let response = match factory.set_cookie_headers(session) {
        Ok(response) => response,
        Err(err) => panic!("the session does not fit its cookie: {err}"),
    };
    let written: Vec<&HeaderValue> = response
        .get_all(SET_COOKIE)
        .iter()
        .filter(|line| !line.to_str().is_ok_and(|line| line.contains("Max-Age=0")))
        .collect();
    let header = cookies_set(&response);
    let fit = Fit {
        cookies: written.len(),
        longest_line: written.iter().map(|line| line.len()).max().unwrap_or(0),
        cookie_header: header.len(),
    };
    let loaded = factory.load_cookie_header(&header);
    assert_eq!(
        loaded.load_outcome(),
        crate::LoadOutcome::Loaded,
        "the session's cookies do not read back"
    );
    let state = |session: &Session| {
        session
            .state_json()
            .ok()
            .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
    };
    assert_eq!(
        state(&loaded),
        state(session),
        "the session's cookies read back to another state"
    );
    fit
}

/// Asserts that `session` holds exactly `expected` in `N`'s flash queues, in variant
/// order (as [`FlashExt::peek_flashes`] reads them); leaves them queued.
///
/// # Panics
///
/// When the queues hold other messages, or one that does not decode as its variant.
#[track_caller]
pub fn assert_flashes<N: FlashQueue + PartialEq + fmt::Debug>(session: &Session, expected: &[N]) {
    for queue in N::QUEUES {
        for message in session.peek_flash(queue).unwrap_or_default() {
            if let Err(err) = N::from_message(queue, message) {
                panic!("a queued flash message does not decode: {err}");
            }
        }
    }
    match session.peek_flashes::<N>() {
        Ok(found) => assert_eq!(found, expected, "flash messages"),
        Err(err) => panic!("the flash queues cannot be read: {err}"),
    }
}

type Check = Box<dyn Fn(&Session) -> Vec<Problem>>;

/// A compatibility check of recorded sessions: every `*.json` file in a folder (one JSON
/// object each, the state of a session, e.g. one per past release) must load under the
/// current schemas, migrations included, and its flash queues must decode.
///
/// Run it in your tests before each release: a change of a field's type that would drop
/// users' values (read them as missing) or lock them out fails here, naming the file and
/// the key. See the [module docs](self) for an example.
pub struct Fixtures {
    dir: PathBuf,
    checks: Vec<Check>,
}

/// One value of one fixture that does not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The fixture file.
    pub file: PathBuf,
    /// The session key, when the problem is about one.
    pub key: Option<String>,
    /// Why it does not load.
    pub reason: String,
}

/// Every [`Problem`] the check found, or why it could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    /// The problems, file by file in name order.
    pub problems: Vec<Problem>,
}

impl Fixtures {
    /// Fixtures in `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_owned(),
            checks: Vec::new(),
        }
    }

    /// Checks every field of schema `S` ([`SessionSchema::check`]): each stored value
    /// decodes or migrates, and each required field is present.
    pub fn schema<S: SessionSchema + 'static>(mut self) -> Self {
        self.checks.push(Box::new(|session| {
            S::check(session)
                .problems()
                .map(|field| Problem {
                    file: PathBuf::new(),
                    key: Some(field.found_under.unwrap_or(field.key).to_owned()),
                    reason: match &field.status {
                        FieldStatus::Fails(err) => err.to_string(),
                        _ => unreachable!("problems() only yields failures"),
                    },
                })
                .collect()
        }));
        self
    }

    /// Checks every message queued in the queues of flash queue enum `N`, whatever `N`'s
    /// `on_wrong_type` (a message it would skip is lost to the user).
    pub fn flash_queue<N: FlashQueue + 'static>(mut self) -> Self {
        self.checks.push(Box::new(|session| {
            let mut problems = Vec::new();
            for queue in N::QUEUES {
                let key = flash_key(queue);
                let messages = match session.peek_flash(queue) {
                    Ok(messages) => messages,
                    Err(err) => {
                        problems.push(Problem {
                            file: PathBuf::new(),
                            key: Some(key),
                            reason: err.to_string(),
                        });
                        continue;
                    }
                };
                for message in messages {
                    if let Err(err) = N::from_message(queue, message) {
                        problems.push(Problem {
                            file: PathBuf::new(),
                            key: Some(key.clone()),
                            reason: err.to_string(),
                        });
                    }
                }
            }
            problems
        }));
        self
    }

    /// Runs the checks on every fixture; the number of fixtures checked, or every problem.
    ///
    /// A folder that cannot be read or holds no `*.json` file is an error too, so that a
    /// wrong path cannot pass.
    pub fn check(&self) -> Result<usize, FixtureError> {
        let fail = |file: &Path, reason: String| FixtureError {
            problems: vec![Problem {
                file: file.to_owned(),
                key: None,
                reason,
            }],
        };
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|err| fail(&self.dir, format!("cannot read the fixture folder: {err}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(fail(
                &self.dir,
                "no *.json fixtures in the folder".to_owned(),
            ));
        }
        let mut problems = Vec::new();
        for file in &files {
            let session = match load_fixture(file) {
                Ok(session) => session,
                Err(reason) => {
                    problems.push(Problem {
                        file: file.clone(),
                        key: None,
                        reason,
                    });
                    continue;
                }
            };
            for check in &self.checks {
                problems.extend(check(&session).into_iter().map(|problem| Problem {
                    file: file.clone(),
                    ..problem
                }));
            }
        }
        if problems.is_empty() {
            Ok(files.len())
        } else {
            Err(FixtureError { problems })
        }
    }

    /// [`check`](Self::check), panicking with every problem.
    ///
    /// # Panics
    ///
    /// When a fixture does not load.
    #[track_caller]
    pub fn assert_all_load(&self) -> usize {
        match self.check() {
            Ok(count) => count,
            Err(err) => panic!("recorded sessions that no longer load:\n{err}"),
        }
    }
}

fn load_fixture(file: &Path) -> Result<Session, String> {
    let text = std::fs::read_to_string(file).map_err(|err| format!("cannot read it: {err}"))?;
    let state: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| format!("not JSON: {err}"))?;
    if !state.is_object() {
        return Err("not a JSON object (a session's state)".to_owned());
    }
    Session::from_json(&text, 0.0, 0.0).map_err(|rejection| rejection.to_string())
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: key `{key}`: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl fmt::Display for FixtureError {
    /// One line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FixtureError {}

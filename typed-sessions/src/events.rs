//! Lifecycle events: what happened to a session, for logs and metrics. One hook the app sets
//! on the builder ([`Builder::events`](crate::Builder::events)), one `tracing` target with
//! stable field names, and counters ready for a metrics exporter.
//!
//! Every event is logged under the target `typed_sessions::events` with the fields
//!
//! | field | value |
//! |---|---|
//! | `event` | [`EventKind::as_str`]: `created`, `loaded`, `refused`, `saved`, `discarded`, `regenerated`, `invalidated`, `revoked`, `alias_reuse` |
//! | `session` | the [`SessionDigest`] of a server-side session's id (16 hex digits), absent for cookie sessions |
//! | `reason` | why, for `refused` and `revoked` ([`Rejection::as_str`](crate::Rejection::as_str) or the auth check's reason) |
//!
//! at `debug` level (`revoked` at `info`, `alias_reuse` at `warn`), and handed to the hook.
//! No event carries a session id, a cookie, a value or a secret: a session is named by a
//! digest of its id, enough to follow one session through the logs, nothing to sign in with.
//!
//! When they fire, for one request:
//!
//! - on load: `loaded` (a cookie or record was used), `refused` (it was not: the request
//!   starts a new session), or `revoked` (it was a signed-in session whose user's
//!   [revocation check](crate::Builder::revocation) said no); nothing for a request without
//!   a cookie;
//! - on save, in this order, and only when the save succeeds: `revoked` (the auth API found
//!   the user gone or the auth hash changed and signed the session out), `invalidated`,
//!   `regenerated` (each named by the id that ended), then `created` (a session that was
//!   not loaded is written for the first time) and `saved`, or `discarded`.
//!
//! ```
//! use std::sync::Arc;
//! use http::HeaderMap;
//! use typed_sessions::SignedCookieSessionFactory;
//! use typed_sessions::events::{EventCounters, EventKind};
//!
//! let counters = Arc::new(EventCounters::default());
//! let factory = SignedCookieSessionFactory::builder("a secret of at least thirty-two bytes")
//!     .events(counters.clone())
//!     .build()?;
//! let mut session = factory.load(&HeaderMap::new());
//! session.insert("user_id", 7);
//! factory.save(&session, &mut HeaderMap::new())?;
//!
//! let counts = counters.snapshot();
//! assert_eq!(counts.get(EventKind::Created), 1);
//! assert_eq!(counts.get(EventKind::Saved), 1);
//! assert_eq!(counts.get(EventKind::Loaded), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::factory::Saved;
use crate::session::{LoadOutcome, Session};

/// The `tracing` target every event is logged under.
pub const TARGET: &str = "typed_sessions::events";

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A session that was not loaded from a cookie or record was written for the first
    /// time.
    Created,
    /// A request's cookie (and, server-side, its record) was used.
    Loaded,
    /// A request's cookie was not used, for the event's `reason`: the request starts a new
    /// session.
    Refused,
    /// A save wrote a cookie or a record.
    Saved,
    /// A save dropped the request's changes: the server-side record was gone (see
    /// [`Saved::Discarded`]).
    Discarded,
    /// The session moved to a new id ([`Session::regenerate_id`], at sign-in).
    Regenerated,
    /// The session was emptied and, server-side, moved to a new id
    /// ([`Session::invalidate`], at sign-out).
    Invalidated,
    /// A signed-in session was ended because its user's credential changed, the user is
    /// gone, or the app revoked it.
    Revoked,
    /// An id kept as an alias after a rotation was used after its grace: possibly a stolen
    /// cookie.
    AliasReuse,
}

impl EventKind {
    /// Every kind, in the order of [`EventCounts::iter`].
    pub const ALL: [EventKind; 9] = [
        Self::Created,
        Self::Loaded,
        Self::Refused,
        Self::Saved,
        Self::Discarded,
        Self::Regenerated,
        Self::Invalidated,
        Self::Revoked,
        Self::AliasReuse,
    ];

    /// The event's name, as the `event` field carries it: stable across releases.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Loaded => "loaded",
            Self::Refused => "refused",
            Self::Saved => "saved",
            Self::Discarded => "discarded",
            Self::Regenerated => "regenerated",
            Self::Invalidated => "invalidated",
            Self::Revoked => "revoked",
            Self::AliasReuse => "alias_reuse",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first 8 bytes of the SHA-256 of a session id, shown as 16 hex digits: enough to find
/// one session's log lines, nothing to sign in with.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionDigest([u8; 8]);

impl SessionDigest {
    /// The digest of session id `id`.
    pub fn of(id: &str) -> Self {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(id.as_bytes());
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&hash[..8]);
        Self(bytes)
    }
}

impl fmt::Display for SessionDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionDigest({self})")
    }
}

/// The [`SessionDigest`] of a session id, for log lines.
pub(crate) fn id_digest(id: &str) -> SessionDigest {
    SessionDigest::of(id)
}

/// One lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The server-side session it happened to; `None` for a cookie session (which has no
    /// id).
    pub session: Option<SessionDigest>,
    /// Why, for [`EventKind::Refused`] and [`EventKind::Revoked`].
    pub reason: Option<&'static str>,
}

impl Event {
    /// An event of `kind` about `session`.
    pub fn new(kind: EventKind, session: Option<SessionDigest>) -> Self {
        Self {
            kind,
            session,
            reason: None,
        }
    }

    /// The event with a reason.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// The app's hook for lifecycle events, set with [`Builder::events`](crate::Builder::events).
/// Called on the request's task, so keep it cheap (count, log, send to a channel). Any
/// `Fn(&Event)` is one.
pub trait SessionEvents: Send + Sync + 'static {
    /// Called once per event, in the order they happen.
    fn on_event(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync + 'static> SessionEvents for F {
    fn on_event(&self, event: &Event) {
        self(event)
    }
}

impl<T: SessionEvents + ?Sized> SessionEvents for Arc<T> {
    fn on_event(&self, event: &Event) {
        (**self).on_event(event)
    }
}

/// Logs `event` under [`TARGET`] and hands it to `hook`: the one place events leave the
/// crate. Code that ends sessions outside a request's lifecycle (a revocation through a
/// store, an admin tool) reports them through it too, with the app's hook (or `None` to log
/// only), so that logs and counters see every event.
///
/// ```
/// use typed_sessions::events::{self, Event, EventCounters, EventKind, SessionDigest};
///
/// let counters = EventCounters::default();
/// let revoked = Event::new(EventKind::Revoked, Some(SessionDigest::of("an id")))
///     .with_reason("signed out by an admin");
/// events::emit(Some(&counters), revoked);
/// assert_eq!(counters.get(EventKind::Revoked), 1);
/// ```
pub fn emit(hook: Option<&dyn SessionEvents>, event: Event) {
    let session = event.session.as_ref().map(tracing::field::display);
    let name = event.kind.as_str();
    match event.kind {
        EventKind::AliasReuse => tracing::warn!(
            target: TARGET, event = name, session, reason = event.reason, "session event"
        ),
        EventKind::Revoked => tracing::info!(
            target: TARGET, event = name, session, reason = event.reason, "session event"
        ),
        _ => tracing::debug!(
            target: TARGET, event = name, session, reason = event.reason, "session event"
        ),
    }
    if let Some(hook) = hook {
        hook.on_event(&event);
    }
}

/// A counter per [`EventKind`], ready for a metrics exporter: set an
/// `Arc<EventCounters>` as the factory's hook and read [`snapshot`](Self::snapshot) when
/// scraped.
#[derive(Debug, Default)]
pub struct EventCounters {
    counts: [AtomicU64; EventKind::ALL.len()],
}

impl EventCounters {
    /// How many events of `kind` have been seen.
    pub fn get(&self, kind: EventKind) -> u64 {
        self.counts[kind.index()].load(Ordering::Relaxed)
    }

    /// Every count at once.
    pub fn snapshot(&self) -> EventCounts {
        EventCounts(EventKind::ALL.map(|kind| self.get(kind)))
    }
}

impl SessionEvents for EventCounters {
    fn on_event(&self, event: &Event) {
        self.counts[event.kind.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// The counts of an [`EventCounters`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventCounts([u64; EventKind::ALL.len()]);

impl EventCounts {
    /// The count of `kind`.
    pub fn get(&self, kind: EventKind) -> u64 {
        self.0[kind.index()]
    }

    /// Each kind with its count, in the order of [`EventKind::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (EventKind, u64)> + '_ {
        EventKind::ALL.into_iter().zip(self.0)
    }
}

/// Whether anyone hears an event: the app's hook, or a `tracing` subscriber that takes the
/// target at some level. When nobody does, the factories skip the events (and the digests
/// they would hash).
pub(crate) fn heard(hook: Option<&dyn SessionEvents>) -> bool {
    hook.is_some() || tracing::enabled!(target: TARGET, tracing::Level::WARN)
}

/// What a request's load tells the hook: `loaded`, `refused` or `revoked` (nothing for a
/// request without a cookie, or with only a CSRF token cookie).
pub(crate) fn loaded(
    hook: Option<&dyn SessionEvents>,
    outcome: LoadOutcome,
    session: Option<SessionDigest>,
) {
    let event = match outcome {
        LoadOutcome::NoCookie | LoadOutcome::CookieOnly => return,
        LoadOutcome::Loaded | LoadOutcome::LoadedWithOldSecret => {
            Event::new(EventKind::Loaded, session)
        }
        LoadOutcome::Rejected(crate::Rejection::Revoked) => {
            Event::new(EventKind::Revoked, session).with_reason("revocation check")
        }
        LoadOutcome::Rejected(rejection) => {
            Event::new(EventKind::Refused, session).with_reason(rejection.as_str())
        }
    };
    emit(hook, event);
}

/// What a session's save will tell the hook, taken from the session before it is saved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SaveReport {
    created: bool,
    happened: Happened,
    /// The id that ended (regenerated, invalidated, revoked).
    old: Option<SessionDigest>,
    /// The id written.
    new: Option<SessionDigest>,
}

impl SaveReport {
    /// The report of saving `session`; `old` and `new` name its ids, server-side, and
    /// `writes_state` says whether the save writes its state (not only deletes a record).
    pub(crate) fn of(
        session: &Session,
        old: Option<SessionDigest>,
        new: Option<SessionDigest>,
        writes_state: bool,
    ) -> Self {
        Self {
            created: writes_state
                && !matches!(
                    session.load_outcome(),
                    LoadOutcome::Loaded | LoadOutcome::LoadedWithOldSecret
                ),
            happened: session.happened(),
            old,
            new,
        }
    }

    /// Emits the save's events, once it did `saved`.
    pub(crate) fn emit(self, hook: Option<&dyn SessionEvents>, saved: Saved) {
        let Happened {
            regenerated,
            invalidated,
            revoked,
        } = self.happened;
        if let Some(reason) = revoked {
            emit(
                hook,
                Event::new(EventKind::Revoked, self.old).with_reason(reason),
            );
        }
        if invalidated {
            emit(hook, Event::new(EventKind::Invalidated, self.old));
        }
        if regenerated {
            emit(hook, Event::new(EventKind::Regenerated, self.old));
        }
        match saved {
            Saved::Written => {
                if self.created {
                    emit(hook, Event::new(EventKind::Created, self.new));
                }
                emit(hook, Event::new(EventKind::Saved, self.new));
            }
            Saved::Discarded => emit(hook, Event::new(EventKind::Discarded, self.new)),
            Saved::Unchanged | Saved::SkippedOnError => {}
        }
    }
}

/// What a request did to its session that its save reports: kept in the [`Session`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Happened {
    pub regenerated: bool,
    pub invalidated: bool,
    /// Why the auth API signed the session out.
    pub revoked: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_16_hex_digits_of_the_ids_sha256() {
        let digest = SessionDigest::of("abc");
        // SHA-256("abc") = ba7816bf 8f01cfea ...
        assert_eq!(digest.to_string(), "ba7816bf8f01cfea");
        assert_eq!(format!("{digest:?}"), "SessionDigest(ba7816bf8f01cfea)");
    }

    #[test]
    fn counters_count_each_kind_apart() {
        let counters = EventCounters::default();
        for kind in [EventKind::Saved, EventKind::Saved, EventKind::AliasReuse] {
            counters.on_event(&Event::new(kind, None));
        }
        let counts = counters.snapshot();
        assert_eq!(counts.get(EventKind::Saved), 2);
        assert_eq!(counts.get(EventKind::AliasReuse), 1);
        assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 3);
        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "created",
                "loaded",
                "refused",
                "saved",
                "discarded",
                "regenerated",
                "invalidated",
                "revoked",
                "alias_reuse"
            ]
        );
    }
}

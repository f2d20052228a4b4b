//! The end of a request: the save's future and what it decides for the response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, StatusCode};

use super::factory::BoxFuture;
use crate::factory::{Overflow, Saved, Written};
use crate::store::StoreError;

/// What a save did, the `Set-Cookie` it asks for, the `Vary` it asks for with it, and the
/// further `Set-Cookie` headers of a chunked cookie session.
pub(crate) type SaveResult = Result<Written, StoreError>;

/// What the response of a request gets once its session is saved, from [`Saving`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Keep the response as the handler made it, and append `set_cookie` when there is one.
    Keep {
        /// What the save did; `None` when the request never used its session, or when the
        /// save of an error response failed (logged).
        saved: Option<Saved>,
        /// The session cookie to append as a `Set-Cookie` header, when the save policy asks
        /// for one.
        set_cookie: Option<HeaderValue>,
        /// A `Vary` header value to append (`Cookie`), when the factory asks caches not to
        /// serve this response to another session
        /// ([`vary_cookie`](crate::Builder::vary_cookie)); only ever with a `set_cookie`.
        vary: Option<HeaderValue>,
        /// Further `Set-Cookie` headers to append after `set_cookie`: the other chunks of a
        /// chunked session and the removals of the chunk names it no longer uses
        /// ([`chunks`](crate::Builder::chunks)); empty otherwise.
        more_set_cookies: Vec<HeaderValue>,
        /// Why the session was not saved, when its cookie did not fit and the factory's
        /// [`on_oversized`](crate::Builder::on_oversized) is `None`: the adapters put it into
        /// the response's extensions.
        overflow: Option<Overflow>,
    },
    /// The save failed, or its changes were discarded (logged, never shown to the client):
    /// replace the response with an empty one of this status and no `Set-Cookie`, so the
    /// client keeps its previous cookie and is never told that a change was kept. The
    /// status is [`StoreError::status`] for a failure, the factory's
    /// [`on_discarded`](crate::Builder::on_discarded) for discarded changes.
    Replace {
        /// The status of the replacing response: `500`, `503` when the store cannot be
        /// reached, `409` (by default) when the changes were discarded, `507` (by default)
        /// when the session does not fit its cookie.
        status: StatusCode,
        /// Why, when the session did not fit its cookie: the adapters put it into the
        /// replacing response's extensions.
        overflow: Option<Overflow>,
    },
}

impl Outcome {
    /// Which budget the session's cookie broke and by how much, when that is why it was
    /// not saved.
    pub fn overflow(&self) -> Option<Overflow> {
        match self {
            Self::Keep { overflow, .. } | Self::Replace { overflow, .. } => *overflow,
        }
    }

    /// What a save did when it is news to the app, for an adapter to put into the
    /// response's extensions where a middleware outside it can see it: anything but
    /// written, unchanged, or skipped on an error response. `None` otherwise.
    pub fn noteworthy(&self) -> Option<Saved> {
        match self {
            Self::Keep {
                saved: Some(saved), ..
            } if !matches!(
                saved,
                Saved::Written | Saved::Unchanged | Saved::SkippedOnError
            ) =>
            {
                Some(*saved)
            }
            _ => None,
        }
    }
}

/// A request's save, from [`RequestSession::finish`](super::RequestSession::finish): ready
/// at once for a cookie session, waiting for the store for a server-side one. `Send` and
/// owning what it needs.
#[must_use = "a session is saved only when its `Saving` is awaited"]
pub struct Saving {
    /// The response's status.
    status: StatusCode,
    /// What replaces a successful response whose changes were discarded (the factory's
    /// `on_discarded`).
    discarded: Option<StatusCode>,
    /// What replaces a response whose session does not fit its cookie (the factory's
    /// `on_oversized`).
    oversized: Option<StatusCode>,
    state: State,
}

enum State {
    Done(Option<SaveResult>),
    Pending(BoxFuture<SaveResult>),
}

impl Saving {
    /// Nothing to save: the request never used its session.
    pub(crate) fn nothing() -> Self {
        Self {
            status: StatusCode::OK,
            discarded: None,
            oversized: None,
            state: State::Done(None),
        }
    }

    pub(crate) fn done(status: StatusCode, result: SaveResult) -> Self {
        Self {
            status,
            discarded: None,
            oversized: None,
            state: State::Done(Some(result)),
        }
    }

    /// A cookie save: `oversized` replaces the response if the session did not fit.
    pub(crate) fn cookie(
        status: StatusCode,
        oversized: Option<StatusCode>,
        result: SaveResult,
    ) -> Self {
        Self {
            oversized,
            ..Self::done(status, result)
        }
    }

    /// A server-side save; `discarded` replaces a successful response if the save finds
    /// its record gone.
    pub(crate) fn pending(
        status: StatusCode,
        discarded: Option<StatusCode>,
        future: BoxFuture<SaveResult>,
    ) -> Self {
        Self {
            status,
            discarded,
            oversized: None,
            state: State::Pending(future),
        }
    }
}

impl Future for Saving {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let status = self.status;
        let result = match &mut self.state {
            State::Done(result) => match result.take() {
                Some(result) => result,
                None => {
                    return Poll::Ready(Outcome::Keep {
                        saved: None,
                        set_cookie: None,
                        vary: None,
                        more_set_cookies: Vec::new(),
                        overflow: None,
                    });
                }
            },
            State::Pending(future) => ready!(future.as_mut().poll(cx)),
        };
        // Once done, a second poll answers "nothing" instead of saving twice.
        self.state = State::Done(None);
        Poll::Ready(super::failure::verdict(
            status,
            self.discarded,
            self.oversized,
            result,
        ))
    }
}

impl fmt::Debug for Saving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Saving")
            .field("status", &self.status)
            .field("pending", &matches!(self.state, State::Pending(_)))
            .finish()
    }
}

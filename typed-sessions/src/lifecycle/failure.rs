//! The one mapping from a session's failure to an HTTP status, and what a request answers
//! when its session fails. Every adapter and every error response asks here.

use http::StatusCode;

use super::finish::{Outcome, SaveResult};
use crate::error::SessionError;
use crate::factory::Saved;
use crate::store::StoreError;

impl StoreError {
    /// The status that answers a request whose session failed with this error:
    /// `503 Service Unavailable` when the store cannot be reached (the client may retry),
    /// `409 Conflict` when another request changed a key this one may not overwrite
    /// ([`StoreError::Conflict`]; the client may retry), `500 Internal Server Error` for
    /// everything else: a value that cannot be JSON, a
    /// cookie over the size limit, a guard that could not write back, a store that answered
    /// with an error or holds unreadable data (as [`SessionError::status`]).
    ///
    /// The axum and actix-web adapters answer every load, save and handler error with this
    /// status and an empty body; the reason goes to the log, never to the client.
    ///
    /// ```
    /// use http::StatusCode;
    /// use typed_sessions::SessionError;
    /// use typed_sessions::store::StoreError;
    ///
    /// let down = StoreError::unavailable(std::io::Error::other("connection refused"));
    /// assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// let big = StoreError::from(SessionError::TooLarge {
    ///     budget: typed_sessions::Budget::SetCookie,
    ///     size: 5000,
    ///     limit: 4096,
    /// });
    /// assert_eq!(big.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Logs a failure that reached a handler or an extractor (`what` says where) and gives the
/// status to answer it with, for the adapters' error responses.
impl SessionError {
    /// The status that answers a request whose session failed with this error: always
    /// `500 Internal Server Error`. A session error is the server's to fix (a value that
    /// cannot be JSON, a cookie over the size limit, a stored value of another type), never
    /// the client's; see [`StoreError::status`] for the store's errors.
    ///
    /// ```
    /// use http::StatusCode;
    /// use typed_sessions::SessionError;
    ///
    /// let err = SessionError::Missing { key: "user".into() };
    /// assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Logs a failure that reached a handler or an extractor (`what` says where), and gives the
/// status to answer it with (`err.status()`), for the adapters' error responses.
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) fn answer(err: &dyn std::fmt::Display, status: StatusCode, what: &str) -> StatusCode {
    tracing::error!(error = %err, "{what}; answering {status}");
    status
}

/// What the response of a request with status `status` gets from its save's `result`.
///
/// Changes discarded on a successful response (`2xx`, `3xx`) are answered with `discarded`
/// when the factory sets one: the handler's "done" would claim a change that was not kept.
///
/// A session that does not fit its cookie is answered with `oversized` (the factory's
/// [`on_oversized`](crate::Builder::on_oversized)), carrying the [`Overflow`](crate::Overflow); without
/// one, the response stays, without the cookie, and carries it.
pub(super) fn verdict(
    status: StatusCode,
    discarded: Option<StatusCode>,
    oversized: Option<StatusCode>,
    result: SaveResult,
) -> Outcome {
    if let Ok((Saved::Discarded, ..)) = &result
        && let Some(answer) = discarded
        && !status.is_client_error()
        && !status.is_server_error()
    {
        tracing::warn!(
            %status,
            "session changes discarded (the record was deleted, rotated or expired \
             meanwhile); answering {answer} instead"
        );
        return Outcome::Replace {
            status: answer,
            overflow: None,
        };
    }
    let overflow = match &result {
        Err(StoreError::Session(err)) => err.overflow(),
        _ => None,
    };
    match result {
        Ok((saved, set_cookie, vary, more_set_cookies)) => Outcome::Keep {
            saved: Some(saved),
            set_cookie,
            vary,
            more_set_cookies,
            overflow: None,
        },
        // The response already says the request failed: it stays, without the cookie.
        Err(err) if status.is_server_error() => {
            tracing::error!(
                error = %err,
                %status,
                "session not saved on an error response; the client keeps its previous cookie"
            );
            Outcome::Keep {
                saved: None,
                set_cookie: None,
                vary: None,
                more_set_cookies: Vec::new(),
                overflow,
            }
        }
        Err(err) if overflow.is_some() && oversized.is_none() => {
            tracing::error!(
                error = %err,
                %status,
                "session not saved: its cookie does not fit; the response stays, without \
                 it, and the client keeps its previous cookie"
            );
            Outcome::Keep {
                saved: None,
                set_cookie: None,
                vary: None,
                more_set_cookies: Vec::new(),
                overflow,
            }
        }
        Err(err) => {
            let answer = match (overflow, oversized) {
                (Some(_), Some(answer)) => answer,
                _ => err.status(),
            };
            tracing::error!(
                error = %err,
                %status,
                "session not saved; answering {answer} so the client keeps its previous cookie"
            );
            Outcome::Replace {
                status: answer,
                overflow,
            }
        }
    }
}

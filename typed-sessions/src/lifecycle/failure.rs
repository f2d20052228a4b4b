//! The one mapping from a session's failure to an HTTP status, and what a request answers
//! when its session fails. Every adapter and every error response asks here.

use http::StatusCode;

use super::finish::{Outcome, SaveResult};
use crate::error::SessionError;
use crate::store::StoreError;

impl StoreError {
    /// The status that answers a request whose session failed with this error:
    /// `503 Service Unavailable` when the store cannot be reached (the client may retry),
    /// `500 Internal Server Error` for everything else: a value that cannot be JSON, a
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
    /// let big = StoreError::from(SessionError::TooLarge { size: 5000, limit: 4064 });
    /// assert_eq!(big.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
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
pub(super) fn verdict(status: StatusCode, result: SaveResult) -> Outcome {
    match result {
        Ok((saved, set_cookie, vary)) => Outcome::Keep {
            saved: Some(saved),
            set_cookie,
            vary,
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
            }
        }
        Err(err) => {
            let answer = err.status();
            tracing::error!(
                error = %err,
                %status,
                "session not saved; answering {answer} so the client keeps its previous cookie"
            );
            Outcome::Replace { status: answer }
        }
    }
}

//! Why a [`SessionHandle`](super::SessionHandle) could not be extracted, and the response
//! that says so.

use std::fmt;

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;

use crate::lifecycle::answer;
use crate::store::StoreError;

/// The rejection of a [`SessionHandle`](super::SessionHandle) extracted from a request that did not pass through
/// a [`SessionLayer`](super::SessionLayer): a server bug, answered with `500` and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MissingSessionLayer;

impl MissingSessionLayer {
    const MESSAGE: &str = "typed_sessions::axum::SessionHandle was extracted from a request that did \
                           not pass through a SessionLayer; add \
                           `.layer(SessionLayer::new(factory))` to the router";
}

impl fmt::Display for MissingSessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl std::error::Error for MissingSessionLayer {}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{}", Self::MESSAGE);
        (StatusCode::INTERNAL_SERVER_ERROR, Self::MESSAGE).into_response()
    }
}

/// Why a [`SessionHandle`](super::SessionHandle) could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The request did not pass through a [`SessionLayer`](super::SessionLayer): a server
    /// bug, answered with `500` and logged.
    #[error(transparent)]
    MissingLayer(#[from] MissingSessionLayer),
    /// The session store failed: answered with [`StoreError::status`] (`503 Service
    /// Unavailable` when it cannot be reached, `500` otherwise), the reason logged. No session was made, so nothing can
    /// overwrite the stored one.
    #[error("the session could not be loaded: {0}")]
    Store(#[from] StoreError),
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            Self::MissingLayer(missing) => missing.into_response(),
            Self::Store(err) => answer(&err, err.status(), "session not loaded").into_response(),
        }
    }
}

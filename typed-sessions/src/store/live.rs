//! Live revocation (feature `live`): a future that completes when a session is revoked, so
//! a long-lived response (server-sent events, a WebSocket) ends with its session.
//!
//! Revocations made through a factory reach the futures of that factory's process at once
//! ([`Revocations`], a tokio broadcast channel). Other processes hear them through the
//! store: a revocation publishes the session's [`SessionHandle`] (Redis `PUBLISH` on
//! `{prefix}revoked`, PostgreSQL `NOTIFY` on `{table}_revoked`), and
//! [`ServerSessionFactory::listen_for_revocations`](crate::ServerSessionFactory::listen_for_revocations)
//! starts the task that forwards them to this process's futures.

use std::fmt;
use std::future::Future;

use tokio::sync::broadcast::{self, error::RecvError};

use super::SessionHandle;

/// Revocations heard in this process, for the futures that wait on them. Clones share one
/// channel.
#[derive(Clone)]
pub struct Revocations {
    sender: broadcast::Sender<SessionHandle>,
}

/// Revocations a slow waiter may fall behind by before it gives up (and completes: see
/// [`Revocations::revoked`]).
const BACKLOG: usize = 1024;

impl Revocations {
    /// A channel nobody listens to yet.
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
        }
    }

    /// Tells this process's waiters that the session `handle` names is revoked.
    pub fn notify(&self, handle: &SessionHandle) {
        // No receiver is no error: nobody was waiting.
        let _ = self.sender.send(handle.clone());
    }

    /// A future that completes when `handle`'s session is revoked. It also completes if it
    /// fell more than 1,024 revocations behind (it cannot tell whether its own was among
    /// them: ending a live response wrongly costs a reconnect, keeping a revoked one open
    /// would not be safe). It holds no borrow: spawn it or `select!` on it.
    pub fn revoked(&self, handle: SessionHandle) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(revoked) if revoked == handle => return,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return,
                    // The sender lives in the factory: closed, it is gone, nothing will come.
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        }
    }
}

impl Default for Revocations {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocations")
            .field("waiting", &self.sender.receiver_count())
            .finish()
    }
}

/// The task that forwards other processes' revocations to this one's
/// [`Revocations`] (from [`listen_for_revocations`](crate::ServerSessionFactory::listen_for_revocations)).
/// Dropping it stops the task.
#[must_use = "dropping the handle stops the listener"]
pub struct ListenTask {
    handle: tokio::task::JoinHandle<()>,
}

impl ListenTask {
    /// Spawns `task` (call it inside a tokio runtime).
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self {
            handle: tokio::spawn(task),
        }
    }

    /// Whether the task has ended (only when stopped, or if it panicked).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Drop for ListenTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl fmt::Debug for ListenTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenTask")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// How long a listener waits before it connects again after losing its connection.
pub(crate) const RECONNECT: std::time::Duration = std::time::Duration::from_millis(250);

//! The connection [`SqliteStore`](super::SqliteStore) writes through.
//!
//! SQLite runs one writer at a time. Writers on many connections poll its lock with
//! growing sleeps (`busy_timeout`); writers queued for one connection wait their turn in
//! order. A pool of one connection queues them, but sqlx hands a released connection back
//! to its pool on a task of its own, and the next writer waits for that task: on two vCPUs
//! about 100 µs per statement, more than a save's own work (`bench/sql_compare`, binary
//! `driver`). So the store takes one connection from its writer pool and keeps it behind
//! a fair (FIFO) lock: writers still queue in order, and a write that follows another
//! starts as soon as the lock is free.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

/// Where writes go: a connection kept from `pool` (`keep`), or, for a store whose one pool
/// also serves its loads, a connection of that pool per write.
#[derive(Clone)]
pub(super) struct Writer {
    pool: SqlitePool,
    kept: Option<Arc<Kept>>,
}

struct Kept {
    connection: Mutex<Option<PoolConnection<Sqlite>>>,
    /// Set when the kept connection failed: the next write closes it and takes another.
    broken: AtomicBool,
}

impl Writer {
    /// Writes through a connection taken from `pool` on the first write and kept.
    pub(super) fn keep(pool: SqlitePool) -> Self {
        Self {
            pool,
            kept: Some(Arc::new(Kept {
                connection: Mutex::new(None),
                broken: AtomicBool::new(false),
            })),
        }
    }

    /// Writes through a connection of `pool` per write, returned after it: the pool also
    /// serves loads, and may have no connection to spare.
    pub(super) fn per_write(pool: SqlitePool) -> Self {
        Self { pool, kept: None }
    }

    /// The connection, once the writes queued before this one are done: a write waits
    /// for it as long as for a connection of the pool (its acquire timeout), then fails
    /// with [`sqlx::Error::PoolTimedOut`], as a write waiting for an exhausted pool does.
    pub(super) async fn connection(&self) -> Result<WriteConnection<'_>, sqlx::Error> {
        let Some(kept) = &self.kept else {
            return Ok(WriteConnection::Pooled(self.pool.acquire().await?));
        };
        let wait = self.pool.options().get_acquire_timeout();
        let mut connection = tokio::time::timeout(wait, kept.connection.lock())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        if kept.broken.swap(false, Ordering::Relaxed)
            && let Some(mut broken) = connection.take()
        {
            broken.close_on_drop();
        }
        if connection.is_none() {
            *connection = Some(self.pool.acquire().await?);
        }
        Ok(WriteConnection::Kept {
            connection,
            broken: &kept.broken,
        })
    }
}

/// One write's use of the connection; the next write waits until this drops.
pub(super) enum WriteConnection<'a> {
    Kept {
        connection: MutexGuard<'a, Option<PoolConnection<Sqlite>>>,
        broken: &'a AtomicBool,
    },
    Pooled(PoolConnection<Sqlite>),
}

impl WriteConnection<'_> {
    /// `BEGIN IMMEDIATE`: a transaction that holds the write lock from its start.
    pub(super) async fn begin_immediate(
        &mut self,
    ) -> Result<sqlx::Transaction<'_, Sqlite>, sqlx::Error> {
        let broken = self.broken();
        let begun = sqlx::Connection::begin_with(&mut **self, "BEGIN IMMEDIATE").await;
        Self::note(broken, begun)
    }

    /// Passes `outcome` on; when it says the connection itself failed, the next write
    /// closes the kept one and takes a new one from the pool.
    pub(super) fn check<T>(&self, outcome: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        Self::note(self.broken(), outcome)
    }

    fn broken<'b>(&self) -> Option<&'b AtomicBool>
    where
        Self: 'b,
    {
        match *self {
            Self::Kept { broken, .. } => Some(broken),
            Self::Pooled(_) => None,
        }
    }

    fn note<T>(
        broken: Option<&AtomicBool>,
        outcome: Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        if let (Some(broken), Err(err)) = (broken, &outcome)
            && connection_failed(err)
        {
            broken.store(true, Ordering::Relaxed);
        }
        outcome
    }
}

/// Errors after which a connection is not used again.
fn connection_failed(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed
    )
}

impl Deref for WriteConnection<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Self::Kept { connection, .. } => connection
                .as_ref()
                .expect("`connection` fills the slot it locks"),
            Self::Pooled(connection) => connection,
        }
    }
}

impl DerefMut for WriteConnection<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Self::Kept { connection, .. } => connection
                .as_mut()
                .expect("`connection` fills the slot it locks"),
            Self::Pooled(connection) => connection,
        }
    }
}

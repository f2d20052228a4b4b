//! [`MemoryStore`]: sessions in a map inside the process, for tests and one-process apps.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::{Commit, Record, SessionStore, StoreError};

/// Sessions kept in memory, in this process: the embedded default for tests and apps that
/// run as one process. Records expire after their commit's TTL (checked on access, and
/// swept now and then as sessions are saved). Clones share the same sessions.
///
/// ```
/// use typed_sessions::ServerSessionFactory;
/// use typed_sessions::store::MemoryStore;
///
/// let store = MemoryStore::new();
/// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", store.clone())
///     .build()
///     .unwrap();
/// assert!(store.is_empty());
/// # let _ = factory;
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    records: Mutex<HashMap<String, Stored>>,
    saves: AtomicU64,
}

struct Stored {
    record: Record,
    expires: Option<Instant>,
}

impl Stored {
    fn is_live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| now < at)
    }
}

/// Saves between two sweeps of expired records.
const SWEEP_EVERY: u64 = 1024;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many live sessions the store holds.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.records().values().filter(|s| s.is_live(now)).count()
    }

    /// Whether the store holds no live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn records(&self) -> MutexGuard<'_, HashMap<String, Stored>> {
        // A panic elsewhere while holding the lock leaves whole records behind (every
        // change below is applied to a record at once), so the map is still consistent.
        self.shared
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn load_now(&self, id: &str) -> Option<Record> {
        let now = Instant::now();
        let mut records = self.records();
        match records.get(id) {
            Some(stored) if stored.is_live(now) => Some(stored.record.clone()),
            Some(_) => {
                records.remove(id);
                None
            }
            None => None,
        }
    }

    fn save_now(&self, commit: &Commit) -> bool {
        let now = Instant::now();
        let mut records = self.records();
        if self.shared.saves.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            records.retain(|_, stored| stored.is_live(now));
        }
        if let Some(old) = &commit.retire {
            records.remove(old);
        }
        let expires = commit.ttl.and_then(|ttl| now.checked_add(ttl));
        if commit.replace {
            let mut record = Record::default();
            commit.apply_to(&mut record);
            records.insert(commit.id.clone(), Stored { record, expires });
            return true;
        }
        match records.get_mut(&commit.id) {
            Some(stored) if stored.is_live(now) => {
                commit.apply_to(&mut stored.record);
                stored.expires = expires;
                true
            }
            _ => false,
        }
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.load_now(id))
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        Ok(self.save_now(commit))
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.records().remove(id);
        Ok(())
    }
}

impl fmt::Debug for MemoryStore {
    /// Shows how many sessions it holds, never ids or values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.len())
            .finish()
    }
}

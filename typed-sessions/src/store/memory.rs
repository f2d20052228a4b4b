//! [`MemoryStore`]: sessions in a map inside the process, for tests and one-process apps.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::{Alias, Commit, Record, SESSION_META_KEY, SessionStore, StoreError, UserSession};

/// Sessions kept in memory, in this process: the embedded default for tests and apps that
/// run as one process. Records expire after their commit's TTL (checked on access, and
/// swept now and then as sessions are saved). Clones share the same sessions.
///
/// It keeps the [session registry](super#signed-in-on-several-devices): a map from each
/// user to the ids of their sessions, changed under the same lock as the records.
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
    map: Mutex<Maps>,
    saves: AtomicU64,
}

#[derive(Default)]
struct Maps {
    records: HashMap<String, Stored>,
    /// Each user's session ids.
    users: HashMap<String, BTreeSet<String>>,
    /// Old ids of renewal rotations.
    aliases: HashMap<String, (Alias, Option<Instant>)>,
}

struct Stored {
    record: Record,
    expires: Option<Instant>,
    user: Option<String>,
}

impl Stored {
    fn is_live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| now < at)
    }
}

impl Maps {
    /// Removes the record under `id` and its index entry.
    fn remove(&mut self, id: &str) -> Option<Stored> {
        let stored = self.records.remove(id)?;
        if let Some(user) = &stored.user {
            self.unindex(user, id);
        }
        Some(stored)
    }

    fn unindex(&mut self, user: &str, id: &str) {
        if let Some(ids) = self.users.get_mut(user) {
            ids.remove(id);
            if ids.is_empty() {
                self.users.remove(user);
            }
        }
    }

    fn sweep(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .records
            .iter()
            .filter(|(_, stored)| !stored.is_live(now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.remove(&id);
        }
        self.aliases
            .retain(|_, (_, expires)| expires.is_none_or(|at| now < at));
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
        self.maps()
            .records
            .values()
            .filter(|s| s.is_live(now))
            .count()
    }

    /// Whether the store holds no live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many session ids the registry holds for `user` (live or not yet pruned): for
    /// tests that check the index itself.
    pub fn indexed(&self, user: &str) -> usize {
        self.maps().users.get(user).map_or(0, BTreeSet::len)
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        // A panic elsewhere while holding the lock leaves whole records behind (every
        // change below is applied to a record at once), so the maps are still consistent.
        self.shared
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn load_now(&self, id: &str) -> Option<Record> {
        let now = Instant::now();
        let mut maps = self.maps();
        match maps.records.get(id) {
            Some(stored) if stored.is_live(now) => Some(stored.record.clone()),
            Some(_) => {
                maps.remove(id);
                None
            }
            None => None,
        }
    }

    fn save_now(&self, commit: &Commit) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut maps = self.maps();
        if !commit.replace && !commit.expect.is_empty() {
            // Checked before anything changes, under the same lock as the write.
            if let Some(stored) = maps.records.get(&commit.id).filter(|s| s.is_live(now)) {
                commit.check(&stored.record)?;
            }
        }
        if self.shared.saves.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            maps.sweep(now);
        }
        if let Some(old) = &commit.retire {
            maps.remove(old);
            if let Some(keep) = commit.alias {
                let alias = Alias {
                    target: commit.id.clone(),
                    at: commit.accessed,
                };
                maps.aliases
                    .insert(old.clone(), (alias, now.checked_add(keep)));
            }
        }
        let expires = commit.ttl.and_then(|ttl| now.checked_add(ttl));
        if commit.replace {
            let mut record = Record::default();
            commit.apply_to(&mut record);
            maps.remove(&commit.id);
            self.index(&mut maps, &commit.id, commit.user.clone());
            maps.records.insert(
                commit.id.clone(),
                Stored {
                    record,
                    expires,
                    user: commit.user.clone(),
                },
            );
            return Ok(true);
        }
        let previous = match maps.records.get_mut(&commit.id) {
            Some(stored) if stored.is_live(now) => {
                commit.apply_to(&mut stored.record);
                stored.expires = expires;
                std::mem::replace(&mut stored.user, commit.user.clone())
            }
            _ => return Ok(false),
        };
        if previous != commit.user {
            if let Some(user) = &previous {
                maps.unindex(user, &commit.id);
            }
            self.index(&mut maps, &commit.id, commit.user.clone());
        }
        Ok(true)
    }

    fn index(&self, maps: &mut Maps, id: &str, user: Option<String>) {
        if let Some(user) = user {
            maps.users.entry(user).or_default().insert(id.to_owned());
        }
    }

    fn user_sessions_now(&self, user: &str) -> Vec<UserSession> {
        let now = Instant::now();
        let mut maps = self.maps();
        let ids: Vec<String> = maps
            .users
            .get(user)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            match maps.records.get(&id) {
                Some(stored) if stored.is_live(now) => found.push(UserSession {
                    created: stored.record.created,
                    accessed: stored.record.accessed,
                    meta: stored
                        .record
                        .entries
                        .iter()
                        .find(|(key, _)| key == SESSION_META_KEY)
                        .map(|(_, text)| text.clone()),
                    id,
                }),
                // Expired: the record and its index entry go.
                Some(_) => {
                    maps.remove(&id);
                }
                None => maps.unindex(user, &id),
            }
        }
        found
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.load_now(id))
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        self.save_now(commit)
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.maps().remove(id);
        Ok(())
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<UserSession>, StoreError> {
        Ok(self.user_sessions_now(user))
    }

    async fn delete_session(&self, id: &str, _user: Option<&str>) -> Result<(), StoreError> {
        // The record names its user: the index entry goes with it.
        self.maps().remove(id);
        Ok(())
    }

    async fn load_alias(&self, id: &str) -> Result<Option<Alias>, StoreError> {
        let now = Instant::now();
        let maps = self.maps();
        Ok(maps
            .aliases
            .get(id)
            .filter(|(_, expires)| expires.is_none_or(|at| now < at))
            .map(|(alias, _)| alias.clone()))
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

//! Beaker's `ext:redis` back end: the pickled `str` under `beaker_cache:<id>:session`,
//! written with `SETEX` for the session's timeout plus two minutes.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::Cas;
use crate::store::StoreError;
use crate::store::redis::redis_error;

/// How much longer than the session's timeout Beaker keeps the key (`Session.__init__`:
/// `timeout + 60 * 2`, "so the backend data does not expire while the session is read").
pub(super) const TTL_MARGIN: Duration = Duration::from_secs(120);

/// Writes ARGV[2] only if the key still holds ARGV[1]; ARGV[3] is the TTL in seconds (0:
/// none). Answers 1 when written, 0 when the value changed, -1 when the key is gone.
const COMPARE_AND_SET: &str = r"
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if current ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
";

static COMPARE_AND_SET_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(COMPARE_AND_SET));

#[derive(Clone)]
pub(super) struct RedisBackend {
    pub(super) conn: ConnectionManager,
    /// The URL was `redis://` (see [`redis_error`]).
    pub(super) plain: bool,
}

/// `RedisNamespaceManager._format_key("session")` for namespace `id`.
pub(super) fn key(id: &str) -> String {
    format!("beaker_cache:{id}:session")
}

/// The key's TTL in whole seconds (0: none) for a session timeout.
fn ttl_secs(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |t| (t + TTL_MARGIN).as_secs())
}

impl RedisBackend {
    pub(super) async fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET")
            .arg(key(id))
            .query_async(&mut conn)
            .await
            .map_err(|err| redis_error(err, self.plain))
    }

    pub(super) async fn replace(
        &self,
        id: &str,
        bytes: &[u8],
        ttl: Option<Duration>,
        retire: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        match ttl_secs(ttl) {
            0 => pipe.cmd("SET").arg(key(id)).arg(bytes).ignore(),
            secs => pipe.cmd("SETEX").arg(key(id)).arg(secs).arg(bytes).ignore(),
        };
        if let Some(old) = retire {
            pipe.cmd("DEL").arg(key(old)).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|err| redis_error(err, self.plain))
    }

    pub(super) async fn update(
        &self,
        id: &str,
        read: &[u8],
        bytes: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Cas, StoreError> {
        let mut conn = self.conn.clone();
        let answer: i64 = COMPARE_AND_SET_SCRIPT
            .key(key(id))
            .arg(read)
            .arg(bytes)
            .arg(ttl_secs(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|err| redis_error(err, self.plain))?;
        Ok(match answer {
            1 => Cas::Written,
            -1 => Cas::Gone,
            _ => Cas::Changed,
        })
    }

    pub(super) async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(key(id))
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|err| redis_error(err, self.plain))?;
        Ok(())
    }
}

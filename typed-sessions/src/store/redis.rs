//! [`RedisStore`]: server-side sessions in Redis, one hash per session.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Script, Value};

#[cfg(feature = "tls")]
use super::TlsOptions;
use super::{
    Alias, Commit, ConcurrentWrite, Record, SESSION_META_KEY, SessionStore, StoreError, UserSession,
};

/// Sessions in Redis or Redis Cluster (feature `redis`), through a [`ConnectionManager`]
/// that reconnects by itself, or a [`ClusterConnection`] that follows the cluster's slots.
///
/// Each session is one hash under `prefix + id` (prefix `session:` by default): field
/// `k:<key>` holds a session key's JSON text, fields `m:created` and `m:accessed` the
/// timestamps (user keys and metadata cannot collide). The factory's timeout is the hash's
/// TTL, renewed on every save.
///
/// A save is one atomic step: a Lua script that, only if the hash still exists, `HSET`s the
/// written keys, `HDEL`s the removed ones and renews the TTL; a new or renamed session is a
/// `MULTI`/`EXEC` of `DEL`, `HSET`, `PEXPIRE` and the old id's `DEL`. A partial save with
/// checked keys ([`Commit::expect`]) runs a second script, cached like the first
/// (`EVALSHA`): the same write, preceded by an `HGET` of each checked key; if any differs
/// from what the request loaded, it writes nothing and answers the keys with their current
/// texts ([`StoreError::Conflict`]). Still one script, so one round trip and one atomic
/// step; a save without checked keys runs the first script, as before.
///
/// # Redis Cluster
///
/// [`connect_cluster`](Self::connect_cluster) takes any prefix. Each session is one key, so
/// sessions spread over the masters by their ids, and every save but a rename touches one
/// key. A rename ([`Session::regenerate_id`](crate::Session::regenerate_id),
/// [`Session::invalidate`](crate::Session::invalidate)) touches the old id and the new one,
/// which a cluster can only change in one `MULTI` when they share a slot. When they do not
/// (nearly always, with a prefix without a hash tag), the store deletes the old id first,
/// then writes the new record: if the second step fails, the user is signed out, but the
/// old id never outlives the rename. A prefix with a hash tag (`{session}:`) makes every
/// rename one atomic `MULTI` again, at the price of keeping every session in one slot, so
/// on one master.
///
/// The check of a partial save's keys ([`Commit::expect`]) is atomic with its write on a
/// cluster too: both are in the session's script, on the session's hash, in its slot. Only
/// the registry's index, in another slot, is written after it (see the [module
/// docs](super#signed-in-on-several-devices)).
///
/// # TLS
///
/// With the `tls` feature, a `rediss://` URL connects over TLS (rustls; no OpenSSL), as
/// managed Redis services with in-transit encryption require:
/// `rediss://[user]:password@host:port/db`, for
/// [`connect`](Self::connect) and [`connect_cluster`](Self::connect_cluster) alike (every
/// node URL `rediss://`; the nodes the cluster announces are reached over TLS too).
///
/// The server's certificate is verified against the system's roots (`SSL_CERT_FILE` or
/// `SSL_CERT_DIR` when set, else the system's store; see [`TlsOptions`]), and its host
/// name against the URL's host. A private CA is trusted with
/// [`connect_with`](Self::connect_with) / [`connect_cluster_with`](Self::connect_cluster_with)
/// and [`TlsOptions::ca_file`], or with no code by pointing `SSL_CERT_FILE` at it.
///
/// A certificate that does not verify is a [`StoreError::Unavailable`] whose reason starts
/// with `TLS certificate verification failed` and says whether the CA is unknown or the
/// host name does not match. A `redis://` URL to a port that speaks only TLS fails as an
/// unreachable server (the server drops the connection), with a reason that suggests
/// `rediss://`. Without the `tls` feature, a `rediss://` URL is refused at once with an
/// error naming the feature.
///
/// ```no_run
/// # #[cfg(feature = "tls")]
/// use typed_sessions::store::{RedisStore, TlsOptions};
///
/// # #[cfg(feature = "tls")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A public certificate: the system's roots are enough.
/// let store = RedisStore::connect("rediss://default:secret@redis.example.com:6380/").await?;
/// // A private CA.
/// let tls = TlsOptions::ca_file("/etc/myapp/redis-ca.pem")?;
/// let store = RedisStore::connect_with("rediss://default:secret@10.0.0.5:6380/", &tls).await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "tls"))]
/// # fn main() {}
/// ```
///
/// The URL, and its password, appear in no error and no `Debug` output.
///
/// # Errors
///
/// When Redis cannot be reached, loads and saves fail with
/// [`StoreError::Unavailable`] (the axum layer answers `503`); nothing is overwritten.
///
/// ```no_run
/// use typed_sessions::ServerSessionFactory;
/// use typed_sessions::store::RedisStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?.with_prefix("myapp:session:");
/// let factory = ServerSessionFactory::builder("a secret of at least thirty-two bytes", store)
///     .build()?;
/// # let _ = factory;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: RedisConnection,
    /// The client `connect` made, for the pub/sub connection of live revocation.
    client: Option<std::sync::Arc<redis::Client>>,
    prefix: String,
    /// Connected by [`RedisStore::connect`] or [`RedisStore::connect_cluster`] with
    /// `redis://` URLs: a connection the server drops then hints at `rediss://`.
    plain: bool,
}

/// The connection of a [`RedisStore`], for your own commands: it implements the redis
/// crate's [`ConnectionLike`], so `cmd.query_async(&mut store.connection().clone())` works
/// on either kind.
#[derive(Clone)]
#[non_exhaustive]
pub enum RedisConnection {
    /// One server (or a primary behind a proxy), reconnecting by itself.
    Single(ConnectionManager),
    /// A Redis Cluster: commands go to the master of their key's slot.
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Adds `ARGV[4]` (a session id) to the user index `KEYS[2]`, scored by its expiry
/// (`ARGV[5]`, Unix ms, or `+inf`), and keeps the index's TTL at least the longest
/// member's (`ARGV[1]` ms; 0: none, the index persists).
const INDEX_ADD_BODY: &str = r"
local idx = KEYS[2]
local existed = redis.call('EXISTS', idx)
redis.call('ZADD', idx, ARGV[5], ARGV[4])
local ttl = tonumber(ARGV[1])
if ttl == 0 then
  redis.call('PERSIST', idx)
else
  local left = redis.call('PTTL', idx)
  if existed == 0 or (left >= 0 and left < ttl) then redis.call('PEXPIRE', idx, ttl) end
end
";

/// The partial save. KEYS[1]: the hash; KEYS[2], optional: the user's index to add the
/// session to; KEYS[3], optional: a previous user's index to drop it from. ARGV: TTL in ms
/// (0: none), `accessed`, the number of fields to set, the session id, its expiry score,
/// the fields and values to set, then the fields to delete.
///
/// Only a session record (it has `m:accessed`) is updated: never an alias, never a key
/// that expired or was deleted.
///
/// Lua's `unpack` returns a few thousand values at most (`LUAI_MAXCSTACK`), so the fields go
/// to `HSET` and `HDEL` in chunks of 1,000 arguments (an even number: 500 field-value pairs
/// per `HSET`); the script as a whole stays one atomic step.
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    update_script(
        r"
local last_arg = #ARGV
if redis.call('HEXISTS', KEYS[1], 'm:accessed') == 0 then return 0 end
",
    )
});

/// [`UPDATE`] for a commit with [`Commit::expect`]: after the fields to delete, one triple
/// per expected key (its field, `1` and the text it must hold, or `0` and an empty string
/// when it must be absent), then the number of triples. Before anything changes, each
/// expected field is compared with what the hash holds; if any differs the script writes
/// nothing and answers, per differing key, its index in `expect` (from 1), whether it is
/// present (1 or 0) and its text (empty when absent): Lua cannot put `nil` in a reply.
static CHECKED_UPDATE: LazyLock<String> = LazyLock::new(|| {
    update_script(
        r"
local expected = tonumber(ARGV[#ARGV])
local last_arg = #ARGV - 1 - 3 * expected
if redis.call('HEXISTS', KEYS[1], 'm:accessed') == 0 then return 0 end
local conflicts = {}
for i = 1, expected do
  local at = last_arg + 3 * i - 2
  local current = redis.call('HGET', KEYS[1], ARGV[at])
  local loaded = false
  if ARGV[at + 1] == '1' then loaded = ARGV[at + 2] end
  if current ~= loaded then
    conflicts[#conflicts + 1] = i
    conflicts[#conflicts + 1] = current and 1 or 0
    conflicts[#conflicts + 1] = current or ''
  end
end
if #conflicts > 0 then return conflicts end
",
    )
});

/// The partial save's script: `check` (which ends the script when the hash is gone, and
/// defines `last_arg`, the last argument of the fields to delete), then the write.
fn update_script(check: &str) -> String {
    format!(
        r"{check}
local last_set = 5 + 2 * tonumber(ARGV[3])
local chunk = 1000
redis.call('HSET', KEYS[1], 'm:accessed', ARGV[2])
for first = 6, last_set, chunk do
  redis.call('HSET', KEYS[1], unpack(ARGV, first, math.min(first + chunk - 1, last_set)))
end
for first = last_set + 1, last_arg, chunk do
  redis.call('HDEL', KEYS[1], unpack(ARGV, first, math.min(first + chunk - 1, last_arg)))
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
if #KEYS >= 3 then redis.call('ZREM', KEYS[3], ARGV[4]) end
if #KEYS >= 2 and KEYS[2] ~= KEYS[3] then
{INDEX_ADD_BODY}
end
return 1
"
    )
}

/// The scripts with their SHA-1s computed once (`EVALSHA`, falling back to `EVAL` when the
/// server does not have them yet).
static UPDATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&UPDATE));
static CHECKED_UPDATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&CHECKED_UPDATE));

/// [`INDEX_ADD_BODY`] alone (KEYS[1] unused but present, so the body's `KEYS[2]` reads the
/// same): for a new session's index entry, inside its `MULTI`, and for a cluster, where the
/// index lives in another slot than the session.
static INDEX_ADD: LazyLock<String> = LazyLock::new(|| format!("{INDEX_ADD_BODY}\nreturn 1"));

static INDEX_ADD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&INDEX_ADD));

const KEY_PREFIX: &str = "k:";
const CREATED: &str = "m:created";
const ACCESSED: &str = "m:accessed";
/// The fields of an alias left by a renewal rotation: the new id, and when it moved.
const ALIAS_TO: &str = "m:alias";
const ALIAS_AT: &str = "m:alias_at";

impl RedisStore {
    /// A store on a connection manager you configured.
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn: RedisConnection::Single(conn),
            client: None,
            prefix: "session:".to_owned(),
            plain: false,
        }
    }

    /// A store on a Redis Cluster connection you configured (see [the type's
    /// docs](Self#redis-cluster)).
    pub fn new_cluster(conn: ClusterConnection) -> Self {
        Self {
            conn: RedisConnection::Cluster(conn),
            client: None,
            prefix: "session:".to_owned(),
            plain: false,
        }
    }

    /// Connects to the Redis Cluster that the nodes at `urls` (`redis://host:port/`, one or
    /// more) belong to, with the timeouts of [`connect`](Self::connect); the connection
    /// learns the other nodes and the slots from them, and follows the cluster's changes.
    ///
    /// Unlike [`connect`](Self::connect) it connects at once: the error is
    /// [`StoreError::Unavailable`] when no node answers, [`StoreError::Backend`] for a
    /// malformed URL.
    ///
    /// ```no_run
    /// use typed_sessions::store::RedisStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisStore::connect_cluster([
    ///     "redis://10.0.0.1:6379/",
    ///     "redis://10.0.0.2:6379/",
    ///     "redis://10.0.0.3:6379/",
    /// ])
    /// .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_cluster<I>(urls: I) -> Result<Self, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let urls = node_urls(urls)?;
        #[cfg(feature = "tls")]
        if urls.iter().any(|url| is_tls(url)) {
            super::tls::install_crypto_provider();
        }
        let plain = !urls.iter().any(|url| is_tls(url));
        Self::cluster(ClusterClient::builder(urls), plain).await
    }

    /// [`connect_cluster`](Self::connect_cluster) over TLS (feature `tls`), trusting the
    /// CAs of `tls` (see [TLS](Self#tls)): every URL must be `rediss://`.
    ///
    /// ```no_run
    /// use typed_sessions::store::{RedisStore, TlsOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tls = TlsOptions::ca_file("/etc/myapp/redis-ca.pem")?;
    /// let store = RedisStore::connect_cluster_with(
    ///     ["rediss://10.0.0.1:6379/", "rediss://10.0.0.2:6379/"],
    ///     &tls,
    /// )
    /// .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub async fn connect_cluster_with<I>(urls: I, tls: &TlsOptions) -> Result<Self, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let urls = node_urls(urls)?;
        if let Some(plain) = urls.iter().position(|url| !is_tls(url)) {
            return Err(StoreError::Backend {
                reason: format!(
                    "node URL {} of the cluster is not rediss://, and TLS options were given",
                    plain + 1
                ),
                source: None,
            });
        }
        super::tls::install_crypto_provider();
        Self::cluster(ClusterClient::builder(urls).certs(certificates(tls)), false).await
    }

    async fn cluster(
        builder: redis::cluster::ClusterClientBuilder,
        plain: bool,
    ) -> Result<Self, StoreError> {
        let client = builder
            .retries(2)
            .max_retry_wait(200)
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_millis(500))
            .build()
            .map_err(StoreError::backend)?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|err| redis_error(err, plain))?;
        let mut store = Self::new_cluster(conn);
        store.plain = plain;
        Ok(store)
    }

    /// Connects lazily to the Redis at `url` (`redis://host:port/db`, or `rediss://` over
    /// TLS with the `tls` feature, see [TLS](Self#tls)): the app starts even when Redis is
    /// down, and requests fail with [`StoreError::Unavailable`] until it is back. Each
    /// attempt times out after a second, a command after half a second, and a request
    /// retries the connection twice at most.
    ///
    /// An error only for a malformed URL (or `rediss://` without the `tls` feature).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if is_tls(url) {
            #[cfg(feature = "tls")]
            super::tls::install_crypto_provider();
            #[cfg(not(feature = "tls"))]
            return Err(StoreError::Backend {
                reason: "a rediss:// URL needs the `tls` feature of typed-sessions".to_owned(),
                source: None,
            });
        }
        let client = redis::Client::open(url).map_err(url_error)?;
        let mut store = Self::lazy(client)?;
        store.plain = !is_tls(url);
        Ok(store)
    }

    /// [`connect`](Self::connect) over TLS (feature `tls`), trusting the CAs of `tls`
    /// (see [TLS](Self#tls)): `url` must be `rediss://`.
    #[cfg(feature = "tls")]
    pub async fn connect_with(url: &str, tls: &TlsOptions) -> Result<Self, StoreError> {
        if !is_tls(url) {
            return Err(StoreError::Backend {
                reason: "the Redis URL is not rediss://, and TLS options were given".to_owned(),
                source: None,
            });
        }
        super::tls::install_crypto_provider();
        let client = redis::Client::build_with_tls(url, certificates(tls)).map_err(url_error)?;
        Self::lazy(client)
    }

    fn lazy(client: redis::Client) -> Result<Self, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|err| redis_error(err, false))?;
        let mut store = Self::new(conn);
        store.client = Some(std::sync::Arc::new(client));
        Ok(store)
    }

    /// The prefix of the Redis keys (default `session:`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The Redis key of a session id.
    pub fn redis_key(&self, id: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + id.len());
        key.push_str(&self.prefix);
        key.push_str(id);
        key
    }

    /// The Redis key of `user`'s index: a sorted set of their session ids, scored by each
    /// session's expiry (Unix ms).
    pub fn user_key(&self, user: &str) -> String {
        format!("{}user:{user}", self.prefix)
    }

    /// The pub/sub channel of revocations (feature `live`).
    #[cfg(feature = "live")]
    fn revoked_channel(&self) -> String {
        format!("{}revoked", self.prefix)
    }

    fn is_cluster(&self) -> bool {
        matches!(self.conn, RedisConnection::Cluster(_))
    }

    /// Whether keys can change in one `MULTI` or script: always on one server, on a
    /// cluster when they share a slot.
    fn one_step(&self, keys: &[&str]) -> bool {
        !self.is_cluster()
            || keys
                .windows(2)
                .all(|pair| Slot::for_key(pair[0]) == Slot::for_key(pair[1]))
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn)
            .await
            .map_err(|err| self.error(err))
    }

    /// The connection, for your own commands.
    pub fn connection(&self) -> &RedisConnection {
        &self.conn
    }

    fn error(&self, err: RedisError) -> StoreError {
        redis_error(err, self.plain)
    }

    /// Whether a rename from `old` to `new` (Redis keys) must run as two steps: on a
    /// cluster, when the keys are in different slots (see the type's docs).
    fn rename_in_two_steps(&self, old: &str, new: &str) -> bool {
        matches!(self.conn, RedisConnection::Cluster(_)) && Slot::for_key(old) != Slot::for_key(new)
    }

    /// Queues the retirement of the old key `old`: deleted, or left as an alias of
    /// `target` for `alias_ms`.
    fn retire_into(
        &self,
        pipe: &mut Pipeline,
        old: &str,
        target: &str,
        at: f64,
        alias_ms: Option<u64>,
    ) {
        pipe.del(old).ignore();
        if let Some(keep) = alias_ms {
            pipe.cmd("HSET")
                .arg(old)
                .arg(ALIAS_TO)
                .arg(target)
                .arg(ALIAS_AT)
                .arg(timestamp(at))
                .ignore();
            pipe.cmd("PEXPIRE").arg(old).arg(keep).ignore();
        }
    }

    /// [`INDEX_ADD`] on its own (a cluster, the index in another slot than the session).
    async fn index_add(
        &self,
        index: &str,
        id: &str,
        ttl_ms: u64,
        score: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        // KEYS[1] is the index too, so every key of the script is in its slot.
        let _: i64 = INDEX_ADD_SCRIPT
            .key(index)
            .key(index)
            .arg(ttl_ms)
            .arg(0)
            .arg(0)
            .arg(id)
            .arg(score)
            .invoke_async(&mut conn)
            .await
            .map_err(|err| self.error(err))?;
        Ok(())
    }
}

#[cfg(feature = "live")]
async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSub, RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Tells `into` of each handle published, until the connection ends.
#[cfg(feature = "live")]
async fn forward(pubsub: redis::aio::PubSub, into: &super::Revocations) {
    use futures_core::Stream;
    let mut messages = std::pin::pin!(pubsub.into_on_message());
    while let Some(message) = std::future::poll_fn(|cx| messages.as_mut().poll_next(cx)).await {
        if let Some(handle) = std::str::from_utf8(message.get_payload_bytes())
            .ok()
            .and_then(super::SessionHandle::parse)
        {
            into.notify(&handle);
        }
    }
}

/// A session's score in its user's index: when it expires, in Unix ms (`+inf`: never).
fn expiry_score(ttl_ms: u64) -> String {
    if ttl_ms == 0 {
        "+inf".to_owned()
    } else {
        now_ms().saturating_add(ttl_ms).to_string()
    }
}

/// Now, in Unix milliseconds, on this process's clock (which scores the index).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SessionStore for RedisStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Value = redis::cmd("HGETALL")
            .arg(self.redis_key(id))
            .query_async(&mut conn)
            .await
            .map_err(|err| {
                if err.code() == Some("WRONGTYPE") {
                    // Another program wrote a string or a list under the session's key.
                    StoreError::Corrupt {
                        key: "(the session's key)".to_owned(),
                        reason: "it holds another Redis type than a hash".to_owned(),
                    }
                } else {
                    self.error(err)
                }
            })?;
        parse_record(reply)
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.redis_key(&commit.id);
        let ttl_ms = commit.ttl.map_or(0, |ttl| {
            u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        let index = commit.user.as_deref().map(|user| self.user_key(user));
        let score = expiry_score(ttl_ms);
        if !commit.replace {
            // The previous user's index, when this save signs another user in or out.
            let dropped = commit
                .previous_user
                .as_deref()
                .filter(|_| commit.previous_user != commit.user)
                .map(|user| self.user_key(user));
            let mut keys = vec![key.as_str()];
            keys.extend(index.as_deref());
            keys.extend(dropped.as_deref());
            let together = self.one_step(&keys);
            let checked = !commit.expect.is_empty();
            let script = if checked {
                &*CHECKED_UPDATE_SCRIPT
            } else {
                &*UPDATE_SCRIPT
            };
            let mut invocation = script.key(&key);
            if together {
                // KEYS[2]: the index to add to; KEYS[3]: the one to drop from (KEYS[2] too
                // when there is none to add to, which the script then skips).
                match (&index, &dropped) {
                    (Some(index), Some(dropped)) => {
                        invocation.key(index).key(dropped);
                    }
                    (Some(index), None) => {
                        invocation.key(index);
                    }
                    (None, Some(dropped)) => {
                        invocation.key(dropped).key(dropped);
                    }
                    (None, None) => {}
                }
            }
            invocation
                .arg(ttl_ms)
                .arg(timestamp(commit.accessed))
                .arg(commit.set.len())
                .arg(&commit.id)
                .arg(&score);
            for (field, text) in &commit.set {
                invocation.arg(field_name(field)).arg(text.as_str());
            }
            for field in &commit.remove {
                invocation.arg(field_name(field));
            }
            let applied: i64 = if checked {
                for expected in &commit.expect {
                    let (present, loaded) = match &expected.loaded {
                        Some(text) => ("1", text.as_str()),
                        None => ("0", ""),
                    };
                    invocation
                        .arg(field_name(&expected.key))
                        .arg(present)
                        .arg(loaded);
                }
                invocation.arg(commit.expect.len());
                let reply: Value = invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|err| self.error(err))?;
                match reply {
                    Value::Int(applied) => applied,
                    Value::Array(conflicts) => {
                        return Err(StoreError::Conflict {
                            keys: concurrent_writes(commit, conflicts)?,
                        });
                    }
                    other => {
                        return Err(StoreError::Backend {
                            reason: format!("the checked save answered {other:?}"),
                            source: None,
                        });
                    }
                }
            } else {
                invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|err| self.error(err))?
            };
            if applied != 1 {
                return Ok(false);
            }
            if !together {
                // A cluster: the indexes are other slots', reconciled on read.
                if let Some(dropped) = &dropped {
                    let _: Value = self
                        .query(redis::cmd("ZREM").arg(dropped).arg(&commit.id))
                        .await?;
                }
                if let Some(index) = &index {
                    self.index_add(index, &commit.id, ttl_ms, &score).await?;
                }
            }
            return Ok(true);
        }
        let mut retire = commit.retire.as_deref().map(|old| self.redis_key(old));
        let alias_ms = commit
            .alias
            .map(|keep| u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1));
        let dropped = commit
            .previous_user
            .as_deref()
            .filter(|_| commit.retire.is_some())
            .map(|user| self.user_key(user));
        if let Some(old) = retire.take_if(|old| self.rename_in_two_steps(old, &key)) {
            // First the old id, so that a failure of the write below signs the user out
            // rather than leave the old id alive.
            let mut pipe = redis::pipe();
            pipe.atomic();
            self.retire_into(&mut pipe, &old, &commit.id, commit.accessed, alias_ms);
            let () = pipe
                .query_async(&mut conn)
                .await
                .map_err(|err| self.error(err))?;
        }
        let mut pipe = redis::pipe();
        pipe.atomic().del(&key).ignore();
        let hset = pipe
            .cmd("HSET")
            .arg(&key)
            .arg(CREATED)
            .arg(timestamp(commit.created))
            .arg(ACCESSED)
            .arg(timestamp(commit.accessed));
        for (field, text) in &commit.set {
            hset.arg(field_name(field)).arg(text.as_str());
        }
        hset.ignore();
        if ttl_ms > 0 {
            pipe.cmd("PEXPIRE").arg(&key).arg(ttl_ms).ignore();
        }
        if let Some(old) = &retire {
            self.retire_into(&mut pipe, old, &commit.id, commit.accessed, alias_ms);
        }
        let mut later = Vec::new();
        if let (Some(dropped), Some(old_id)) = (&dropped, &commit.retire) {
            if self.one_step(&[&key, dropped]) {
                pipe.cmd("ZREM").arg(dropped).arg(old_id).ignore();
            } else {
                later.push(redis::cmd("ZREM").arg(dropped).arg(old_id).clone());
            }
        }
        let mut index_later = None;
        if let Some(index) = &index {
            if self.one_step(&[&key, index]) {
                pipe.cmd("EVAL")
                    .arg(INDEX_ADD.as_str())
                    .arg(2)
                    .arg(&key)
                    .arg(index)
                    .arg(ttl_ms)
                    .arg(0)
                    .arg(0)
                    .arg(&commit.id)
                    .arg(&score)
                    .ignore();
            } else {
                index_later = Some(index);
            }
        }
        let () = pipe
            .query_async(&mut conn)
            .await
            .map_err(|err| self.error(err))?;
        // A cluster, the indexes in other slots: reconciled on read if these fail.
        for cmd in &later {
            let _: Value = self.query(cmd).await?;
        }
        if let Some(index) = index_later {
            self.index_add(index, &commit.id, ttl_ms, &score).await?;
        }
        Ok(true)
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<UserSession>, StoreError> {
        let index = self.user_key(user);
        let _: Value = self
            .query(
                redis::cmd("ZREMRANGEBYSCORE")
                    .arg(&index)
                    .arg("-inf")
                    .arg(now_ms()),
            )
            .await?;
        let ids: Vec<String> = self
            .query(redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1))
            .await?;
        let mut found = Vec::with_capacity(ids.len());
        let meta_field = field_name(SESSION_META_KEY);
        for id in ids {
            let (created, accessed, meta): (Option<String>, Option<String>, Option<String>) = self
                .query(
                    redis::cmd("HMGET")
                        .arg(self.redis_key(&id))
                        .arg(CREATED)
                        .arg(ACCESSED)
                        .arg(&meta_field),
                )
                .await?;
            let times = created
                .zip(accessed)
                .and_then(|(c, a)| Some((c.parse::<f64>().ok()?, a.parse::<f64>().ok()?)));
            match times {
                Some((created, accessed)) => found.push(UserSession {
                    id,
                    created,
                    accessed,
                    meta,
                }),
                // Gone (deleted by another program, or a save on a cluster whose index
                // step failed): reconciled now.
                None => {
                    let _: Value = self.query(redis::cmd("ZREM").arg(&index).arg(&id)).await?;
                }
            }
        }
        Ok(found)
    }

    async fn delete_session(&self, id: &str, user: Option<&str>) -> Result<(), StoreError> {
        let key = self.redis_key(id);
        let Some(index) = user.map(|user| self.user_key(user)) else {
            return self.delete(id).await;
        };
        if self.one_step(&[&key, &index]) {
            let mut conn = self.conn.clone();
            let () = redis::pipe()
                .atomic()
                .del(&key)
                .ignore()
                .cmd("ZREM")
                .arg(&index)
                .arg(id)
                .ignore()
                .query_async(&mut conn)
                .await
                .map_err(|err| self.error(err))?;
            return Ok(());
        }
        // The record first: a failure after it leaves an index entry the next listing
        // prunes, never a live session out of the index.
        self.delete(id).await?;
        let _: Value = self.query(redis::cmd("ZREM").arg(&index).arg(id)).await?;
        Ok(())
    }

    #[cfg(feature = "live")]
    async fn publish_revoked(&self, handle: &super::SessionHandle) -> Result<(), StoreError> {
        let _: Value = self
            .query(
                redis::cmd("PUBLISH")
                    .arg(self.revoked_channel())
                    .arg(handle.as_str()),
            )
            .await?;
        Ok(())
    }

    #[cfg(feature = "live")]
    async fn listen_revoked(
        &self,
        into: super::Revocations,
    ) -> Result<super::ListenTask, StoreError> {
        let Some(client) = self.client.clone() else {
            return Err(StoreError::Unsupported {
                what: "revocations from other processes on a Redis Cluster or a connection \
                       made without `RedisStore::connect`",
            });
        };
        let channel = self.revoked_channel();
        // The first subscription before returning, so that a revocation right after is heard.
        let first = subscribe(&client, &channel)
            .await
            .map_err(|err| self.error(err))?;
        Ok(super::ListenTask::spawn(async move {
            let mut pubsub = Some(first);
            loop {
                if let Some(connected) = pubsub.take() {
                    forward(connected, &into).await;
                    tracing::warn!(
                        "the Redis revocation listener lost its connection; reconnecting"
                    );
                }
                tokio::time::sleep(super::live::RECONNECT).await;
                pubsub = subscribe(&client, &channel).await.ok();
            }
        }))
    }

    async fn load_alias(&self, id: &str) -> Result<Option<Alias>, StoreError> {
        let (target, at): (Option<String>, Option<String>) = self
            .query(
                redis::cmd("HMGET")
                    .arg(self.redis_key(id))
                    .arg(ALIAS_TO)
                    .arg(ALIAS_AT),
            )
            .await
            .or_else(|err| match err {
                // Not a hash: no alias.
                StoreError::Backend { .. } => Ok((None, None)),
                err => Err(err),
            })?;
        Ok(target
            .zip(at.and_then(|at| at.parse::<f64>().ok()))
            .map(|(target, at)| Alias { target, at }))
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: Value = redis::cmd("DEL")
            .arg(self.redis_key(id))
            .query_async(&mut conn)
            .await
            .map_err(|err| self.error(err))?;
        Ok(())
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Whether a Redis URL asks for TLS.
fn is_tls(url: &str) -> bool {
    url.trim_start()
        .get(..9)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("rediss://"))
}

fn node_urls<I>(urls: I) -> Result<Vec<String>, StoreError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let urls: Vec<String> = urls
        .into_iter()
        .map(|url| url.as_ref().to_owned())
        .collect();
    #[cfg(not(feature = "tls"))]
    if urls.iter().any(|url| is_tls(url)) {
        return Err(StoreError::Backend {
            reason: "a rediss:// URL needs the `tls` feature of typed-sessions".to_owned(),
            source: None,
        });
    }
    Ok(urls)
}

#[cfg(feature = "tls")]
fn certificates(tls: &TlsOptions) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: None,
        root_cert: tls.ca().map(<[u8]>::to_vec),
    }
}

/// A URL the redis crate refused. Its message names the problem, never the URL.
fn url_error(err: RedisError) -> StoreError {
    StoreError::Backend {
        reason: format!("the Redis URL cannot be used: {err}"),
        source: Some(Box::new(err)),
    }
}

fn field_name(key: &str) -> String {
    let mut field = String::with_capacity(KEY_PREFIX.len() + key.len());
    field.push_str(KEY_PREFIX);
    field.push_str(key);
    field
}

/// Timestamps as Rust prints an `f64`: the shortest text that reads back the same.
fn timestamp(t: f64) -> String {
    t.to_string()
}

/// A client library's error as a [`StoreError`]: unreachable, or the server's answer.
/// `plain`: the URL was `redis://`, so a dropped connection may be a server that speaks
/// only TLS (it closes the connection on the first command in plain text).
pub(super) fn redis_error(err: RedisError, plain: bool) -> StoreError {
    #[cfg(feature = "tls")]
    if let Some(reason) = super::tls::tls_failure(&err) {
        return StoreError::Unavailable {
            reason,
            source: Some(Box::new(err)),
        };
    }
    if plain && err.is_connection_dropped() {
        return StoreError::Unavailable {
            reason: format!(
                "{err} (the server dropped the connection: if it speaks only TLS, use a \
                 rediss:// URL)"
            ),
            source: Some(Box::new(err)),
        };
    }
    if err.is_io_error()
        || err.is_timeout()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.kind() == redis::ErrorKind::ClusterConnectionNotFound
        || err
            .code()
            .is_some_and(|code| TRANSIENT_CODES.contains(&code))
    {
        StoreError::unavailable(err)
    } else {
        StoreError::backend(err)
    }
}

/// Server replies that mean "not now": the server loading its data set after a restart, a
/// replica that was a master a moment ago, a cluster resharding or failing over, a master
/// its replicas lost, a script running too long. Answered `503`, so clients retry; the
/// cluster client already retries `TRYAGAIN` and follows `MOVED` / `ASK` itself.
const TRANSIENT_CODES: [&str; 6] = [
    "LOADING",
    "READONLY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MASTERDOWN",
    "BUSY",
];

/// A record from an `HGETALL` reply (a flat array in RESP2, a map in RESP3). Never
/// panics: fields that are not UTF-8 or timestamps that are not numbers are errors naming
/// the field; fields without a known prefix are left alone.
fn parse_record(reply: Value) -> Result<Option<Record>, StoreError> {
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Array(items) => {
            let mut items = items.into_iter();
            let mut pairs = Vec::with_capacity(items.len() / 2);
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pairs.push((field, value));
            }
            pairs
        }
        Value::Map(pairs) => pairs,
        Value::Nil => Vec::new(),
        other => {
            return Err(StoreError::Backend {
                reason: format!("HGETALL answered {other:?}"),
                source: None,
            });
        }
    };
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut created = None;
    let mut accessed = None;
    let mut has_alias = false;
    let mut entries = Vec::with_capacity(pairs.len());
    for (field, value) in pairs {
        let field = text(field, None)?;
        if field == ALIAS_TO {
            has_alias = true;
        } else if let Some(key) = field.strip_prefix(KEY_PREFIX) {
            let value = text(value, Some(key))?;
            entries.push((key.to_owned(), value));
        } else if field == CREATED || field == ACCESSED {
            let value = text(value, Some(&field))?;
            let t = value
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(|| StoreError::Corrupt {
                    key: field.clone(),
                    reason: format!("the timestamp `{value}` is not a number"),
                })?;
            if field == CREATED {
                created = Some(t);
            } else {
                accessed = Some(t);
            }
        }
    }
    if created.is_none() && accessed.is_none() && has_alias {
        // An alias left by a renewal rotation: no record (see `load_alias`).
        return Ok(None);
    }
    let missing = |field: &str| StoreError::Corrupt {
        key: field.to_owned(),
        reason: "the session's hash has no such field".to_owned(),
    };
    Ok(Some(Record {
        created: created.ok_or_else(|| missing(CREATED))?,
        accessed: accessed.ok_or_else(|| missing(ACCESSED))?,
        entries,
    }))
}

/// The text of a bulk string; `key` names the session key for the error (`None`: the
/// value is a field name).
/// The checked save's answer when keys differ (triples of index in `expect` from 1,
/// presence, text; see [`CHECKED_UPDATE`]) as the keys with what the hash holds.
fn concurrent_writes(
    commit: &Commit,
    reply: Vec<Value>,
) -> Result<Vec<ConcurrentWrite>, StoreError> {
    let malformed = || StoreError::Backend {
        reason: "the checked save answered a malformed list of conflicts".to_owned(),
        source: None,
    };
    let mut items = reply.into_iter();
    let mut keys = Vec::new();
    while let Some(index) = items.next() {
        let (Value::Int(index), Some(Value::Int(present)), Some(current)) =
            (index, items.next(), items.next())
        else {
            return Err(malformed());
        };
        let expected = usize::try_from(index)
            .ok()
            .and_then(|index| commit.expect.get(index.checked_sub(1)?))
            .ok_or_else(malformed)?;
        let current = (present == 1)
            .then(|| text(current, Some(&expected.key)))
            .transpose()?;
        keys.push(ConcurrentWrite::new(&expected.key, current));
    }
    Ok(keys)
}

fn text(value: Value, key: Option<&str>) -> Result<String, StoreError> {
    let bytes = match value {
        Value::BulkString(bytes) => bytes,
        Value::SimpleString(text) => return Ok(text),
        other => {
            return Err(StoreError::Corrupt {
                key: key.unwrap_or("?").to_owned(),
                reason: format!("Redis answered {other:?} instead of a string"),
            });
        }
    };
    String::from_utf8(bytes).map_err(|err| StoreError::Corrupt {
        key: key.map_or_else(
            || String::from_utf8_lossy(err.as_bytes()).into_owned(),
            str::to_owned,
        ),
        reason: "it is not UTF-8".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &[u8]) -> Value {
        Value::BulkString(s.to_vec())
    }

    /// The error a command gets when the server answers with the RESP error `reply`.
    fn server_error(reply: &str) -> RedisError {
        let value = redis::parse_redis_value(format!("-{reply}\r\n").as_bytes()).unwrap();
        value.extract_error().unwrap_err()
    }

    #[test]
    fn transient_server_replies_are_unavailable_and_others_are_backend_errors() {
        for reply in [
            "LOADING Redis is loading the dataset in memory",
            "READONLY You can't write against a read only replica.",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "CLUSTERDOWN The cluster is down",
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            "BUSY Redis is busy running a script.",
        ] {
            let err = redis_error(server_error(reply), false);
            assert!(err.is_unavailable(), "{reply}: {err}");
            assert_eq!(
                err.status(),
                http::StatusCode::SERVICE_UNAVAILABLE,
                "{reply}"
            );
        }
        for reply in [
            "ERR unknown command",
            "NOSCRIPT No matching script",
            "NOPERM no",
        ] {
            let err = redis_error(server_error(reply), false);
            assert!(matches!(err, StoreError::Backend { .. }), "{reply}: {err}");
        }
    }

    #[test]
    fn parses_a_flat_reply_and_ignores_unknown_fields() {
        let reply = Value::Array(vec![
            bulk(b"m:created"),
            bulk(b"1700000000"),
            bulk(b"k:cart"),
            bulk(b"[1,2]"),
            bulk(b"other"),
            bulk(b"x"),
            bulk(b"m:accessed"),
            bulk(b"1700000001.5"),
        ]);
        let record = parse_record(reply).unwrap().unwrap();
        assert_eq!(record.created, 1_700_000_000.0);
        assert_eq!(record.accessed, 1_700_000_001.5);
        assert_eq!(record.entries, [("cart".to_owned(), "[1,2]".to_owned())]);
        assert_eq!(parse_record(Value::Array(vec![])).unwrap(), None);
    }

    #[test]
    fn bad_data_is_an_error_naming_the_key() {
        let reply = Value::Array(vec![
            bulk(b"m:created"),
            bulk(b"1"),
            bulk(b"m:accessed"),
            bulk(b"1"),
            bulk(b"k:cart"),
            bulk(b"\xff\xfe"),
        ]);
        let err = parse_record(reply).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { key, .. } if key == "cart"),
            "{err}"
        );
        let reply = Value::Array(vec![bulk(b"m:created"), bulk(b"soon"), bulk(b"m:accessed")]);
        let err = parse_record(reply).unwrap_err();
        assert!(err.to_string().contains("m:created"), "{err}");
        let reply = Value::Array(vec![bulk(b"k:a"), bulk(b"1")]);
        assert!(parse_record(reply).is_err());
    }
}

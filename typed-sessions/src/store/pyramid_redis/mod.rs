//! [`PyramidRedisStore`]: the sessions a Pyramid app keeps with `pyramid_session_redis`
//! 1.8, read and written in its own layout, so the app and a Rust service share them.

mod json;
mod payload;
mod pickled;

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::aio::ConnectionManager;
use redis::{Script, Value};
use sha1::{Digest, Sha1};

use self::payload::{Decoded, Payload};
use super::redis::redis_error as client_error;
use super::{Commit, ConcurrentWrite, Record, SessionStore, StoreError};
use super::{RedisConnection, RedisStore};
use crate::Serializer;
use crate::codec::{HashAlg, Secret};
use crate::error::SessionError;
use crate::factory::{Builder, KeysAndStore, ServerSessionFactory};

/// Sessions shared with a Pyramid app that keeps them with PyPI `pyramid_session_redis`
/// 1.8 (feature `redis`): the Redis key is the session id, its value the package's whole
/// payload `{"m": state, "c": created, "v": 1, "t": timeout, "x": expires}`, pickled (the
/// package's default, read with a strict codec that never runs code) or in JSON
/// ([`Serializer`]), written with `SETEX timeout` (the rules of
/// [`PyramidRedisOptions`]). Build its factory with the preset [`factory`](Self::factory):
/// the package's cookie (`session`, signed with salt `pyramid_session_redis.` and SHA-512
/// over the id, `Path=/; HttpOnly`), ids of 48 random bytes in URL-safe base64, no cookie and
/// no key until the session holds something, an emptied session deleted, `Vary: Cookie`.
///
/// # When both sides write one session at once
///
/// The package rewrites the whole value at the end of each request that used the session
/// (its timestamp `x` moves, so nearly every request writes). A save here writes only what
/// the request changed: it reads the current value, applies the keys this request wrote
/// and removed, and writes the result only if the value is still the one it read (a Lua
/// compare-and-set on the value's SHA-1), retrying from the read up to
/// [`MAX_ATTEMPTS`](Self::MAX_ATTEMPTS) times. So a Rust save never undoes a Python write
/// of another key. The other way round cannot be helped from here: a Python request that
/// loaded the session before a Rust save and writes after it puts back its own copy of every
/// key, undoing the Rust change. Keys each side owns survive only when the two sides do not
/// overlap in time; a key both sides write ends as the last writer's.
///
/// Between Rust requests, a save's checked keys ([`Commit::expect`]: flash queues, the
/// CSRF token, fields with a conflict policy) are compared with the value it read, each
/// converted to JSON text exactly as [`load`](SessionStore::load) converts it, before it
/// applies its changes; the compare-and-set then makes the check and the write one step, so
/// a checked key another request changed meanwhile is a [`StoreError::Conflict`] for the
/// factory to merge, never a lost write.
///
/// A partial save that finds the key gone (expired, deleted by the app's `invalidate`, or
/// holding a legacy payload) writes nothing and reports
/// [`Saved::Discarded`](crate::Saved::Discarded).
///
/// ```no_run
/// use typed_sessions::Serializer;
/// use typed_sessions::store::{PyramidRedisOptions, PyramidRedisStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The Pyramid app: RedisSessionFactory(secret, timeout=3600,
/// //     serialize=lambda d: json.dumps(d).encode("utf-8"), deserialize=json.loads)
/// let store = PyramidRedisStore::connect("redis://127.0.0.1:6379/0", Serializer::Json)
///     .await?
///     .with_options(PyramidRedisOptions::default().timeout(Some(3600)));
/// let factory = store.factory("the secret of the Pyramid app's settings").build()?;
/// # let _ = factory;
/// # Ok(())
/// # }
/// ```
///
/// In a request handler the session is the usual [`Session`](crate::Session): keys the app
/// wrote read as JSON values, and what this side writes the app reads back as `dict`,
/// `list`, `str`, `int`, `float`, `bool` and `None`.
///
/// # Serializers
///
/// The app's `serialize` / `deserialize` settings:
///
/// - [`Serializer::Pickle`], the package's default (`pickle.dumps` / `pickle.loads`), read
///   and written with the strict codec of [`crate::pickle`]: data only (`dict`, `list`,
///   `tuple`, `str`, `int`, `float`, `bool`, `None`, `bytes`, sets); a pickle that would run
///   code is refused as [`StoreError::Corrupt`], never run. Writes protocol 4 without
///   globals. A key this side does not write keeps its Python value exactly; it reads as
///   JSON where JSON can say it, otherwise as the codec's view (a tuple or set as an array,
///   `bytes` as an array of numbers), and a key this side writes is stored as the JSON
///   value's Python form (a `list`, not a tuple; note that
///   [`Session::changed`](crate::Session::changed) writes every key). Keys of `m` that are
///   not `str` are kept for the app, not shown.
/// - [`Serializer::Json`]: `serialize = lambda d: json.dumps(d).encode("utf-8")`,
///   `deserialize = json.loads` (the package hashes what `serialize` returns, so it must
///   return bytes). Values this side never wrote stay the JSON text they were.
#[derive(Clone)]
pub struct PyramidRedisStore {
    conn: ConnectionManager,
    serializer: Serializer,
    options: PyramidRedisOptions,
    id_prefix: String,
}

/// The package's options that change what is stored, with its defaults: `timeout=1200`,
/// `set_redis_ttl=True`, `python_expires=True`, `timeout_trigger=None`. Give the store the
/// values the Pyramid app's settings have (`redis.sessions.timeout`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyramidRedisOptions {
    timeout: Option<u64>,
    set_redis_ttl: bool,
    python_expires: bool,
    timeout_trigger: Option<u64>,
}

impl Default for PyramidRedisOptions {
    fn default() -> Self {
        Self {
            timeout: Some(1200),
            set_redis_ttl: true,
            python_expires: true,
            timeout_trigger: None,
        }
    }
}

impl PyramidRedisOptions {
    /// `timeout`: seconds of inactivity before a session ends (`t` in the payload, the
    /// key's TTL). `None` (or `Some(0)`, as in the package): sessions never time out, the
    /// payload has no `t` nor `x`, and the key is written with `SET`, without TTL.
    pub fn timeout(mut self, timeout: Option<u64>) -> Self {
        self.timeout = timeout.filter(|t| *t > 0);
        self
    }

    /// `set_redis_ttl`: whether the key gets the timeout as its TTL (`SETEX`); `false`
    /// writes with `SET` (Redis as an LRU cache), the payload keeping `t` and `x`.
    pub fn set_redis_ttl(mut self, set: bool) -> Self {
        self.set_redis_ttl = set;
        self
    }

    /// `python_expires`: whether the payload carries `x`, the expiry checked on load. With
    /// `false` only Redis's TTL ends a session, refreshed on every request.
    pub fn python_expires(mut self, python_expires: bool) -> Self {
        self.python_expires = python_expires;
        self
    }

    /// `timeout_trigger`: `x` (and the TTL) move only once the session is within this many
    /// seconds of expiring, so most requests write nothing. Implies `python_expires`, as in
    /// the package; `None` or `Some(0)`: every request moves them.
    pub fn timeout_trigger(mut self, trigger: Option<u64>) -> Self {
        self.timeout_trigger = trigger.filter(|t| *t > 0);
        self
    }

    /// Whether payloads carry `x`.
    fn tracks_expiry(&self) -> bool {
        self.timeout.is_some() && (self.python_expires || self.timeout_trigger.is_some())
    }

    /// The key's TTL in seconds, when it has one.
    fn ttl(&self) -> Option<u64> {
        self.timeout.filter(|_| self.set_redis_ttl)
    }
}

/// The cookie signature's salt the package uses (`SignedSerializer(secret,
/// "pyramid_session_redis.", "sha512")`).
pub const PYRAMID_SESSION_REDIS_SALT: &str = "pyramid_session_redis.";

/// The random bytes of an id: `secrets.token_urlsafe(48)`, 64 characters.
const ID_BYTES: usize = 48;
const ID_LEN: usize = 64;

/// The compare-and-set of a partial save. KEYS[1]: the key. ARGV: the SHA-1 (hex) of the
/// value the save read, the new value, the TTL in seconds (0: none). Answers 1 when
/// written, 0 when the value changed since the read, -1 when the key is gone.
const COMPARE_AND_SET: &str = r"
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if redis.sha1hex(current) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
";

static COMPARE_AND_SET_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(COMPARE_AND_SET));

impl PyramidRedisStore {
    /// How many times a partial save reads, merges and tries to write before it gives up
    /// with [`StoreError::Backend`] (each retry means another writer changed the session
    /// between this save's read and its write).
    pub const MAX_ATTEMPTS: usize = 8;

    /// A store on a connection manager you configured, the package's default options.
    pub fn new(conn: ConnectionManager, serializer: Serializer) -> Self {
        Self {
            conn,
            serializer,
            options: PyramidRedisOptions::default(),
            id_prefix: String::new(),
        }
    }

    /// Connects lazily to the Redis at `url` (`redis://host:port/db`, the app's
    /// `redis.sessions.redis_url`; `rediss://` with the `tls` feature) as
    /// [`RedisStore::connect`] does, with its timeouts. An error only for a malformed URL.
    pub async fn connect(url: &str, serializer: Serializer) -> Result<Self, StoreError> {
        match RedisStore::connect(url).await?.connection() {
            RedisConnection::Single(conn) => Ok(Self::new(conn.clone(), serializer)),
            RedisConnection::Cluster(_) => unreachable!("`RedisStore::connect` is one server"),
        }
    }

    /// The package's options the app runs with (default: the package's defaults).
    pub fn with_options(mut self, options: PyramidRedisOptions) -> Self {
        self.options = options;
        self
    }

    /// The package's `redis.sessions.prefix`: new ids (and so keys) start with `prefix`,
    /// and only ids that do are accepted (default: none).
    pub fn with_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.id_prefix = prefix.into();
        self
    }

    /// The options.
    pub fn options(&self) -> &PyramidRedisOptions {
        &self.options
    }

    /// The connection, for your own commands.
    pub fn connection(&self) -> &ConnectionManager {
        &self.conn
    }

    /// The preset: a [`ServerSessionFactory`] builder on this store with what the package
    /// does by default and this store's options imply. Cookie `session`, `Path=/`,
    /// `HttpOnly`, no `SameSite`, salt [`PYRAMID_SESSION_REDIS_SALT`] and SHA-512;
    /// [`vary_cookie`](Builder::vary_cookie) and [`delete_emptied`](Builder::delete_emptied)
    /// on; the factory's timeout is the store's when payloads carry `x` (none otherwise:
    /// Redis's TTL ends the session), and its reissue time makes a read renew `x` and the
    /// TTL when the package would (every request, or once within `timeout_trigger` of
    /// expiring). Cookie options the app changed (`cookie_name`, `cookie_secure`, …) are
    /// set on the builder as usual.
    pub fn factory(self, secret: impl Into<Secret>) -> Builder<KeysAndStore<Self>> {
        let options = self.options;
        let timeout = options
            .timeout
            .filter(|_| options.tracks_expiry())
            .map(Duration::from_secs);
        let reissue = match (options.timeout, options.timeout_trigger) {
            (None, _) => None,
            (Some(t), Some(trigger)) => Some(t.saturating_sub(trigger)),
            (Some(_), None) if !options.tracks_expiry() && !options.set_redis_ttl => None,
            (Some(_), None) => Some(0),
        };
        ServerSessionFactory::builder(secret, self)
            // The package's cookie: not `Secure` unless the app says so, no absolute
            // lifetime; then its own options below.
            .pyramid_defaults()
            .salt(PYRAMID_SESSION_REDIS_SALT)
            .hashalg(HashAlg::Sha512)
            .httponly(true)
            .samesite(None)
            .timeout(timeout)
            .reissue_time(reissue.map(Duration::from_secs))
            .vary_cookie(true)
            .delete_emptied(true)
    }

    async fn get(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET")
            .arg(id)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn load_as<F: Format>(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let Some(bytes) = self.get(id).await? else {
            return Ok(None);
        };
        let Decoded::Live(payload) = F::decode(&bytes)? else {
            return Ok(None);
        };
        let entries = payload
            .managed
            .iter()
            .map(|(key, value)| Ok((key.clone(), F::to_json(key, value)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Record {
            created: payload.created,
            accessed: payload.accessed(&self.options),
            entries,
        }))
    }

    async fn save_as<F: Format>(&self, commit: &Commit) -> Result<bool, StoreError> {
        let now = commit.accessed.floor();
        let ttl = self.options.ttl().unwrap_or(0);
        let mut conn = self.conn.clone();
        if commit.replace {
            let mut payload = Payload {
                managed: commit
                    .set
                    .iter()
                    .map(|(key, text)| Ok((key.clone(), F::from_json(key, text)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?,
                hidden: Vec::new(),
                created: commit.created.ceil(),
                timeout: None,
                expires: None,
            };
            payload.stamp(&self.options, now);
            let bytes = F::encode(&payload)?;
            let mut pipe = redis::pipe();
            pipe.atomic();
            if ttl > 0 {
                pipe.cmd("SET")
                    .arg(&commit.id)
                    .arg(bytes)
                    .arg("EX")
                    .arg(ttl);
            } else {
                pipe.cmd("SET").arg(&commit.id).arg(bytes);
            }
            pipe.ignore();
            if let Some(old) = &commit.retire {
                pipe.del(old).ignore();
            }
            let () = pipe.query_async(&mut conn).await.map_err(redis_error)?;
            return Ok(true);
        }
        if commit.set.is_empty() && commit.remove.is_empty() && !self.options.tracks_expiry() {
            // A read that renews: only the TTL moves, as the package's `EXPIRE` on exit.
            let command = if ttl > 0 { "EXPIRE" } else { "EXISTS" };
            let mut cmd = redis::cmd(command);
            cmd.arg(&commit.id);
            if ttl > 0 {
                cmd.arg(ttl);
            }
            let found: i64 = cmd.query_async(&mut conn).await.map_err(redis_error)?;
            return Ok(found == 1);
        }
        for _ in 0..Self::MAX_ATTEMPTS {
            let Some(bytes) = self.get(&commit.id).await? else {
                return Ok(false);
            };
            let Decoded::Live(mut payload) = F::decode(&bytes)? else {
                return Ok(false);
            };
            if payload.expires.is_some_and(|x| now > x) {
                // Expired for the app since this request loaded it: the app would start a
                // new session, so writing the changes would bring back a dead one.
                return Ok(false);
            }
            check::<F>(&payload, commit)?;
            merge::<F>(&mut payload, commit)?;
            payload.stamp(&self.options, now);
            let written = F::encode(&payload)?;
            let read = crate::random::to_hex(&Sha1::digest(&bytes));
            let answer: i64 = COMPARE_AND_SET_SCRIPT
                .key(&commit.id)
                .arg(read)
                .arg(written)
                .arg(ttl)
                .invoke_async(&mut conn)
                .await
                .map_err(redis_error)?;
            match answer {
                1 => return Ok(true),
                -1 => return Ok(false),
                _ => continue,
            }
        }
        Err(StoreError::Backend {
            reason: format!(
                "the session changed under each of {} attempts to save it",
                Self::MAX_ATTEMPTS
            ),
            source: None,
        })
    }
}

/// [`Commit::expect`] against the payload read from Redis, each value as JSON text exactly
/// as [`load`](SessionStore::load) gives it: what the request loaded. The compare-and-set
/// that follows makes the check and the write one step.
fn check<F: Format>(payload: &Payload<F::Value>, commit: &Commit) -> Result<(), StoreError> {
    let mut conflicts = Vec::new();
    for expected in &commit.expect {
        let current = payload
            .managed
            .iter()
            .find(|(key, _)| *key == expected.key)
            .map(|(key, value)| F::to_json(key, value))
            .transpose()?;
        if current != expected.loaded {
            conflicts.push(ConcurrentWrite::new(&expected.key, current));
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Conflict { keys: conflicts })
    }
}

/// Applies a partial commit's removals and writes onto the payload read from Redis: keys
/// this request did not touch keep their stored values as they are.
fn merge<F: Format>(payload: &mut Payload<F::Value>, commit: &Commit) -> Result<(), StoreError> {
    if !commit.remove.is_empty() {
        payload
            .managed
            .retain(|(key, _)| !commit.remove.iter().any(|gone| gone == key));
    }
    for (key, text) in &commit.set {
        let value = F::from_json(key, text)?;
        match payload.managed.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => *old = value,
            None => payload.managed.push((key.clone(), value)),
        }
    }
    Ok(())
}

impl SessionStore for PyramidRedisStore {
    async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        match self.serializer {
            Serializer::Pickle => self.load_as::<PickleFormat>(id).await,
            Serializer::Json => self.load_as::<JsonFormat>(id).await,
        }
    }

    async fn save(&self, commit: &Commit) -> Result<bool, StoreError> {
        match self.serializer {
            Serializer::Pickle => self.save_as::<PickleFormat>(commit).await,
            Serializer::Json => self.save_as::<JsonFormat>(commit).await,
        }
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: Value = redis::cmd("DEL")
            .arg(id)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    /// `secrets.token_urlsafe(48)` after the id prefix: 64 URL-safe base64 characters.
    fn new_id(&self) -> Result<String, SessionError> {
        let mut bytes = [0u8; ID_BYTES];
        crate::random::fill(&mut bytes)?;
        let mut id = self.id_prefix.clone();
        URL_SAFE_NO_PAD.encode_string(bytes, &mut id);
        Ok(id)
    }

    /// The id prefix, then 64 URL-safe base64 characters (what the package's default
    /// `id_generator` makes).
    fn accepts_id(&self, id: &[u8]) -> bool {
        is_package_id(self.id_prefix.as_bytes(), id)
    }

    /// The Pyramid app reads its CSRF token from the record (`_csrft_`).
    fn csrf_token_in_record(&self) -> bool {
        true
    }
}

/// Whether `id` is `prefix` and 64 URL-safe base64 characters.
fn is_package_id(prefix: &[u8], id: &[u8]) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == ID_LEN
            && rest
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    })
}

/// The client's error for this store's commands (no `rediss://` hint: the connection is
/// already up when a command fails on it).
fn redis_error(err: redis::RedisError) -> StoreError {
    client_error(err, false)
}

impl fmt::Debug for PyramidRedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyramidRedisStore")
            .field("serializer", &self.serializer)
            .field("options", &self.options)
            .field("id_prefix", &self.id_prefix)
            .finish_non_exhaustive()
    }
}

/// A payload serializer: how the values of `m` are held between read and write, and how
/// they cross to the JSON text a [`Record`] carries.
trait Format {
    type Value;
    fn decode(bytes: &[u8]) -> Result<Decoded<Self::Value>, StoreError>;
    fn encode(payload: &Payload<Self::Value>) -> Result<Vec<u8>, StoreError>;
    fn to_json(key: &str, value: &Self::Value) -> Result<String, StoreError>;
    fn from_json(key: &str, text: &str) -> Result<Self::Value, StoreError>;
}

struct JsonFormat;

impl Format for JsonFormat {
    type Value = Box<serde_json::value::RawValue>;

    fn decode(bytes: &[u8]) -> Result<Decoded<Self::Value>, StoreError> {
        json::decode(bytes)
    }

    fn encode(payload: &Payload<Self::Value>) -> Result<Vec<u8>, StoreError> {
        json::encode(payload)
    }

    fn to_json(_: &str, value: &Self::Value) -> Result<String, StoreError> {
        Ok(value.get().to_owned())
    }

    fn from_json(key: &str, text: &str) -> Result<Self::Value, StoreError> {
        json::from_json(key, text)
    }
}

struct PickleFormat;

impl Format for PickleFormat {
    type Value = crate::pickle::Value;

    fn decode(bytes: &[u8]) -> Result<Decoded<Self::Value>, StoreError> {
        pickled::decode(bytes)
    }

    fn encode(payload: &Payload<Self::Value>) -> Result<Vec<u8>, StoreError> {
        pickled::encode(payload)
    }

    fn to_json(_: &str, value: &Self::Value) -> Result<String, StoreError> {
        Ok(pickled::to_json(value))
    }

    fn from_json(key: &str, text: &str) -> Result<Self::Value, StoreError> {
        pickled::from_json(key, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_packages() {
        let accepts = |prefix: &str, id: &str| is_package_id(prefix.as_bytes(), id.as_bytes());
        let python = "turWGigMVmmn__KVkPsgYUYfh-8WBiOnXfXKFBHJq4mm7bUfOYCcnkHONbAX0TU2";
        assert!(accepts("", python));
        assert!(!accepts("", &python[1..]));
        assert!(!accepts("", &format!("{}=", &python[1..])));
        assert!(accepts("s:", &format!("s:{python}")));
        assert!(!accepts("s:", python));
        let mut id = String::new();
        URL_SAFE_NO_PAD.encode_string([0u8; ID_BYTES], &mut id);
        assert_eq!(id.len(), ID_LEN);
    }
}

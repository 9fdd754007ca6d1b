//! The Redis backend (feature `redis`).

use crate::{ttl_ms, KvOptions};
use async_trait::async_trait;
use defender_core::kv::{KvError, KvLimit, KvStore};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// Puts under an entry cap, atomically: drops the entries the store's clock says are expired
/// from the index, checks the cap, writes the value with native expiry and indexes the key.
///
/// KEYS[1] value key, KEYS[2] index; ARGV: key, encoded value, ttl ms, now ms, cap (-1: none),
/// expiry ms. Returns -1 when written, else the number of live entries (the cap was reached).
const PUT_SCRIPT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local cap = tonumber(ARGV[5])
if cap >= 0 and not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  local live = redis.call('ZCARD', KEYS[2])
  if live >= cap then
    return live
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
return -1
";

/// A [`KvStore`] on a Redis server, through redis-rs's [`ConnectionManager`] (which
/// reconnects by itself). Cloning is cheap and shares the connection.
///
/// # Layout
/// Under a key prefix (default `defender-kv:`), so that several stores share one server:
/// - `<prefix>v:<key>`: the string `"<expiry ms>:<value>"`, written with `SET .. PX <ttl>`;
/// - `<prefix>index` (only with an entry cap, [`KvLimits::max_entries`](crate::KvLimits)): a
///   sorted set of the keys, scored by their expiry time in ms, to count live entries.
///
/// # Expiry
/// Two mechanisms, so that both hold:
/// - **Native**: every put sets the value's Redis TTL (`PX`) to the store's time to live, so
///   Redis itself reclaims the memory of entries nobody reads again.
/// - **By the store's clock**: the expiry time (from the injected
///   [`Clock`](crate::Clock)) is stored with the value and checked on every read (`get` and
///   `list`), so an entry is never returned once expired by that clock, whatever Redis's own
///   clock says, and tests can move time.
///
/// With the system clock both agree. A clock behind real time can see entries vanish early
/// (Redis reclaimed them); a clock ahead sees them expire early.
///
/// # Atomicity and the entry cap
/// Without a cap, a put is one `SET .. PX`, exactly what raw redis-rs code would send. With a
/// cap, a put is one Lua script (`EVALSHA`) that drops the index entries the clock says are
/// expired, counts the live ones, and writes the value and its index entry only under the cap,
/// so the cap holds under concurrent writers from any number of processes. All writers of one
/// prefix must then use the same cap (an uncapped writer does not index its keys). A del is one
/// `MULTI` transaction (`DEL`, `ZREM`). The script touches only the two keys it declares, but
/// they hash to different slots: use a standalone server.
///
/// # Listing
/// `list` walks the prefix's keys with `SCAN .. MATCH` and reads their values with `MGET` to
/// check expiry: it costs time linear in the size of the Redis database, which is fine for an
/// occasional listing, not for a hot path.
#[derive(Clone)]
pub struct RedisKvStore {
    conn: ConnectionManager,
    prefix: String,
    value_prefix: String,
    index_key: String,
    options: KvOptions,
    put_script: redis::Script,
}

impl std::fmt::Debug for RedisKvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKvStore")
            .field("prefix", &self.prefix)
            .field("limits", &self.options.limits)
            .finish_non_exhaustive()
    }
}

fn map_err(e: redis::RedisError) -> KvError {
    match e.kind() {
        redis::ErrorKind::TypeError => KvError::Corrupt {
            message: e.to_string(),
        },
        _ => KvError::unavailable(e),
    }
}

impl RedisKvStore {
    /// The default key prefix.
    pub const DEFAULT_PREFIX: &'static str = "defender-kv:";

    /// Connects to `url` (`redis://host:port/db`) with the default prefix, Defender's limits
    /// and the system clock.
    pub async fn connect(url: &str) -> Result<Self, KvError> {
        Self::connect_with(url, Self::DEFAULT_PREFIX, KvOptions::default()).await
    }

    /// Connects to `url` with this key prefix, limits and clock.
    pub async fn connect_with(
        url: &str,
        prefix: impl Into<String>,
        options: KvOptions,
    ) -> Result<Self, KvError> {
        let client = redis::Client::open(url).map_err(map_err)?;
        let conn = ConnectionManager::new_with_config(client, Self::default_config())
            .await
            .map_err(map_err)?;
        Ok(Self::with_connection(conn, prefix, options))
    }

    /// The connection settings of [`connect`](Self::connect): 3 reconnection attempts at most
    /// 1 s apart, 5 s to connect, 10 s for a response. Pass your own connection manager to
    /// [`with_connection`](Self::with_connection) for others.
    pub fn default_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_number_of_retries(3)
            .set_factor(100)
            .set_max_delay(1000)
            .set_connection_timeout(Duration::from_secs(5))
            .set_response_timeout(Duration::from_secs(10))
    }

    /// A store on a connection manager you already have.
    pub fn with_connection(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        options: KvOptions,
    ) -> Self {
        let prefix = prefix.into();
        RedisKvStore {
            conn,
            value_prefix: format!("{prefix}v:"),
            index_key: format!("{prefix}index"),
            prefix,
            options,
            put_script: redis::Script::new(PUT_SCRIPT),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn value_key(&self, key: &str) -> String {
        let mut k = String::with_capacity(self.value_prefix.len() + key.len());
        k.push_str(&self.value_prefix);
        k.push_str(key);
        k
    }
}

/// Splits `"<expiry ms>:<value>"`.
fn decode(stored: &str) -> Result<(i64, &str), KvError> {
    stored
        .split_once(':')
        .and_then(|(expires, value)| Some((expires.parse().ok()?, value)))
        .ok_or_else(|| KvError::Corrupt {
            message: "a Redis value lacks its expiry time".into(),
        })
}

#[async_trait]
impl KvStore for RedisKvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.options.limits.check_key(key)?;
        let mut conn = self.conn.clone();
        let stored: Option<String> = redis::cmd("GET")
            .arg(self.value_key(key))
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let (expires, value) = decode(&stored)?;
        if expires > self.options.now_ms() {
            Ok(Some(value.to_owned()))
        } else {
            Ok(None)
        }
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        let limits = &self.options.limits;
        limits.check_put(key, value)?;
        let now = self.options.now_ms();
        let expires = self.options.expires_ms(now);
        let mut encoded = String::with_capacity(value.len() + 21);
        encoded.push_str(&expires.to_string());
        encoded.push(':');
        encoded.push_str(value);
        let mut conn = self.conn.clone();
        let Some(max) = limits.max_entries else {
            // No cap: one SET, as raw redis-rs code would send.
            return redis::cmd("SET")
                .arg(self.value_key(key))
                .arg(encoded)
                .arg("PX")
                .arg(ttl_ms(limits.ttl).max(1))
                .query_async::<()>(&mut conn)
                .await
                .map_err(map_err);
        };
        let cap = i64::try_from(max).unwrap_or(i64::MAX);
        let live: i64 = self
            .put_script
            .key(self.value_key(key))
            .key(&self.index_key)
            .arg(key)
            .arg(encoded)
            .arg(ttl_ms(limits.ttl).max(1))
            .arg(now)
            .arg(cap)
            .arg(expires)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        if live < 0 {
            return Ok(());
        }
        let live = usize::try_from(live).unwrap_or(usize::MAX);
        Err(KvError::LimitExceeded {
            what: KvLimit::Entries,
            actual: live.saturating_add(1),
            limit: max,
        })
    }

    async fn del(&self, key: &str) -> Result<(), KvError> {
        self.options.limits.check_key(key)?;
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .del(self.value_key(key))
            .ignore()
            .zrem(&self.index_key, key)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(map_err)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let pattern = format!(
            "{}*",
            glob_escape(&format!("{}{prefix}", self.value_prefix))
        );
        let mut conn = self.conn.clone();
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            if !page.is_empty() {
                let values: Vec<Option<String>> = redis::cmd("MGET")
                    .arg(&page)
                    .query_async(&mut conn)
                    .await
                    .map_err(map_err)?;
                let now = self.options.now_ms();
                for (full, value) in page.into_iter().zip(values) {
                    let Some(value) = value else { continue };
                    if decode(&value)?.0 > now {
                        if let Some(key) = full.strip_prefix(&self.value_prefix) {
                            keys.push(key.to_owned());
                        }
                    }
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }
}

/// Escapes the characters special to Redis's glob-style `MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

//! Engine state on a Redis server (feature `redis`).

use async_trait::async_trait;
use bytes::Bytes;
use defender_core::state::{
    check_batch, check_key, fence_key, ttl_ms, Lease, Space, StateError, StateOp, StateStore,
};
use redis::aio::ConnectionManager;
use std::time::Duration;

/// A batch: every precondition, then every write. KEYS: a (hash, index) pair per space of the
/// batch. ARGV[1]: the number of operations; then four per operation: kind (`p` put, `d`
/// delete, `e` expect a value, `a` expect absence), the 1-based pair of its space, key,
/// value. Returns the 0-based index of the first failed precondition, or -1 once written.
const APPLY_SCRIPT: &str = r"
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local base = 2 + i * 4
  local kind = ARGV[base]
  if kind == 'e' or kind == 'a' then
    local found = redis.call('HGET', KEYS[tonumber(ARGV[base + 1]) * 2 - 1], ARGV[base + 2])
    if kind == 'a' then
      if found then return i end
    elseif found ~= ARGV[base + 3] then
      return i
    end
  end
end
for i = 0, n - 1 do
  local base = 2 + i * 4
  local kind = ARGV[base]
  local pair = tonumber(ARGV[base + 1]) * 2
  if kind == 'p' then
    redis.call('HSET', KEYS[pair - 1], ARGV[base + 2], ARGV[base + 3])
    redis.call('ZADD', KEYS[pair], 0, ARGV[base + 2])
  elseif kind == 'd' then
    redis.call('HDEL', KEYS[pair - 1], ARGV[base + 2])
    redis.call('ZREM', KEYS[pair], ARGV[base + 2])
  end
end
return -1
";

/// A counter. KEYS[1] hash, KEYS[2] index; ARGV: key, increment. Checks the stored value with
/// the rules of `decode_counter` (Lua's numbers are doubles, so the digits are compared as
/// text), adds with HINCRBY (which refuses to pass i64::MAX) and returns the new value's
/// digits as Redis stores them.
const INCREMENT_SCRIPT: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local digits = v == '0' or string.match(v, '^[1-9][0-9]*$') ~= nil
  if not digits or #v > 19 or (#v == 19 and v > '9223372036854775807') then
    return {'not-a-counter'}
  end
end
local r = redis.pcall('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if type(r) == 'table' and r.err then
  return {'overflow'}
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return {'ok', redis.call('HGET', KEYS[1], ARGV[1])}
";

/// One page of a scan, as one snapshot. KEYS[1] hash, KEYS[2] index; ARGV: ZRANGEBYLEX min,
/// max, count. Returns key, value, key, value...
const SCAN_SCRIPT: &str = r"
local keys = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
if #keys == 0 then return {} end
local values = redis.call('HMGET', KEYS[1], unpack(keys))
local out = {}
for i, k in ipairs(keys) do
  out[2 * i - 1] = k
  out[2 * i] = values[i]
end
return out
";

/// Acquires a lease. KEYS: the lease's expiring key, the values hash and index of the leases
/// space. ARGV: fence field, holder, time to live in ms. The expiring key holds the fence
/// value while the lease lasts (Redis ends it: `PX`); the fence field keeps the last holder's
/// value, so a new holder's token follows it. Returns the fence value, or false when another
/// holder's lease lasts.
const ACQUIRE_SCRIPT: &str = r"
local live = redis.call('GET', KEYS[1])
local fence = redis.call('HGET', KEYS[2], ARGV[1])
if live then
  if live == fence and string.sub(live, 22) == ARGV[2] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return live
  end
  return false
end
local token = 0
if fence then token = tonumber(string.sub(fence, 1, 20)) or 0 end
if token >= 9007199254740991 then return redis.error_reply('lease token exhausted') end
local value = string.format('%020d', token + 1) .. '/' .. ARGV[2]
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], value)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return value
";

/// Renews a lease whose fence is still the holder's. KEYS: expiring key, values hash. ARGV:
/// fence field, fence value, time to live in ms. Returns 1, or 0 when the lease passed on.
const RENEW_SCRIPT: &str = r"
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// Ends a lease still held by the holder. KEYS: expiring key. ARGV: fence value.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// The most keys one scan script returns (Lua's `unpack` has a stack limit of a few
/// thousand values).
const SCAN_SCRIPT_PAGE: usize = 1000;

/// A [`StateStore`] on a Redis server, shared by every engine process that connects to it,
/// through redis-rs's [`ConnectionManager`] (which reconnects by itself). Cloning is cheap and
/// shares the connection.
///
/// # Layout
/// Under a key prefix (default [`DEFAULT_PREFIX`](Self::DEFAULT_PREFIX)), per space:
/// - `<prefix>v:<space>`: a hash, key → value;
/// - `<prefix>k:<space>`: a sorted set of the same keys, all scored 0, so that `ZRANGEBYLEX`
///   lists them in byte order for prefix scans with a cursor.
///
/// Use a prefix of its own, distinct from the actions' key-value store
/// ([`RedisKvStore`](crate::RedisKvStore), `defender-kv:`), so the two never meet. The
/// default prefix's braces are a Redis Cluster hash tag: every key of the store hashes to one
/// slot, so the scripts below, which touch several keys, also run on a cluster.
///
/// # Atomicity
/// Every write is one Lua script (`EVALSHA`), which Redis runs alone: `apply` checks every
/// precondition and then writes every operation (hash and index together); `increment` checks
/// the value is a counter, then `HINCRBY`; `delete` is one `MULTI` (`HDEL`, `ZREM`). A scan
/// page is one script too, so it is one snapshot. Redis does not roll back a script that
/// fails half-way; these fail only before their first write (a precondition, a value that is
/// not a counter) or if something else rewrote the store's keys with other types.
///
/// # Durability
/// As the server's: with `appendonly yes` and `appendfsync always`, an acknowledged write
/// survives a crash of the server; with Redis's defaults, the last second or so of writes may
/// not.
#[derive(Clone)]
pub struct RedisStateStore {
    conn: ConnectionManager,
    prefix: String,
    apply_script: redis::Script,
    increment_script: redis::Script,
    scan_script: redis::Script,
    acquire_script: redis::Script,
    renew_script: redis::Script,
    release_script: redis::Script,
}

impl std::fmt::Debug for RedisStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStateStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn map_err(e: redis::RedisError) -> StateError {
    match e.kind() {
        redis::ErrorKind::TypeError => StateError::Corrupt {
            message: e.to_string(),
        },
        _ => StateError::unavailable(e),
    }
}

fn corrupt(message: &str) -> StateError {
    StateError::Corrupt {
        message: message.to_owned(),
    }
}

impl RedisStateStore {
    /// The default key prefix.
    pub const DEFAULT_PREFIX: &'static str = "{defender-state}:";

    /// Connects to `url` (`redis://host:port/db`) with the default prefix and the connection
    /// settings of [`RedisKvStore::default_config`](crate::RedisKvStore::default_config).
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        Self::connect_with(url, Self::DEFAULT_PREFIX).await
    }

    /// Connects to `url` with this key prefix.
    pub async fn connect_with(url: &str, prefix: impl Into<String>) -> Result<Self, StateError> {
        let client = redis::Client::open(url).map_err(map_err)?;
        let conn =
            ConnectionManager::new_with_config(client, crate::RedisKvStore::default_config())
                .await
                .map_err(map_err)?;
        Ok(Self::with_connection(conn, prefix))
    }

    /// A store on a connection manager you already have.
    pub fn with_connection(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        RedisStateStore {
            conn,
            prefix: prefix.into(),
            apply_script: redis::Script::new(APPLY_SCRIPT),
            increment_script: redis::Script::new(INCREMENT_SCRIPT),
            scan_script: redis::Script::new(SCAN_SCRIPT),
            acquire_script: redis::Script::new(ACQUIRE_SCRIPT),
            renew_script: redis::Script::new(RENEW_SCRIPT),
            release_script: redis::Script::new(RELEASE_SCRIPT),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash of a space's values.
    fn values_key(&self, space: Space) -> String {
        format!("{}v:{}", self.prefix, space.name())
    }

    /// The sorted set of a space's keys.
    fn index_key(&self, space: Space) -> String {
        format!("{}k:{}", self.prefix, space.name())
    }

    /// The expiring key of a lease: it exists while the lease lasts.
    fn lease_key(&self, name: &str) -> String {
        format!("{}lease:{name}", self.prefix)
    }
}

/// `ZRANGEBYLEX` bounds of the keys under `prefix` after `after`. Keys are UTF-8, which never
/// has the byte 0xFF, so every key under `prefix` sorts before `prefix` + 0xFF.
fn lex_bounds(prefix: &str, after: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let min = match after {
        Some(after) if after >= prefix => [b"(", after.as_bytes()].concat(),
        _ => [b"[", prefix.as_bytes()].concat(),
    };
    let max = if prefix.is_empty() {
        b"+".to_vec()
    } else {
        [b"(", prefix.as_bytes(), &[0xFF]].concat()
    };
    (min, max)
}

#[async_trait]
impl StateStore for RedisStateStore {
    async fn get(&self, space: Space, key: &str) -> Result<Option<Bytes>, StateError> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let value: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.values_key(space))
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(value.map(Bytes::from))
    }

    async fn delete(&self, space: Space, key: &str) -> Result<bool, StateError> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let (removed, _): (i64, i64) = redis::pipe()
            .atomic()
            .hdel(self.values_key(space), key)
            .zrem(self.index_key(space), key)
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(removed > 0)
    }

    async fn scan_prefix(
        &self,
        space: Space,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Bytes)>, StateError> {
        let mut conn = self.conn.clone();
        let mut entries: Vec<(String, Bytes)> = Vec::new();
        let mut cursor = after.map(str::to_owned);
        while entries.len() < limit {
            let count = (limit - entries.len()).min(SCAN_SCRIPT_PAGE);
            let (min, max) = lex_bounds(prefix, cursor.as_deref());
            let page: Vec<Option<Vec<u8>>> = self
                .scan_script
                .key(self.values_key(space))
                .key(self.index_key(space))
                .arg(min)
                .arg(max)
                .arg(count)
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            if page.len() % 2 != 0 || page.len() / 2 > count {
                return Err(corrupt("a scan page is not key-value pairs"));
            }
            let got = page.len() / 2;
            let mut items = page.into_iter();
            while let (Some(key), Some(value)) = (items.next(), items.next()) {
                let key = key.ok_or_else(|| corrupt("a scan returned no key"))?;
                let key = String::from_utf8(key)
                    .map_err(|_| corrupt("a state key in Redis is not UTF-8"))?;
                let value =
                    value.ok_or_else(|| corrupt("a state key is indexed without a value"))?;
                entries.push((key, Bytes::from(value)));
            }
            if got < count {
                break;
            }
            cursor = entries.last().map(|(k, _)| k.clone());
        }
        Ok(entries)
    }

    async fn apply(&self, ops: Vec<StateOp>) -> Result<(), StateError> {
        check_batch(&ops)?;
        if ops.is_empty() {
            return Ok(());
        }
        let mut spaces: Vec<Space> = Vec::new();
        let mut invocation = self.apply_script.prepare_invoke();
        invocation.arg(ops.len());
        for op in &ops {
            let space = op.space();
            let pair = match spaces.iter().position(|s| *s == space) {
                Some(i) => i + 1,
                None => {
                    spaces.push(space);
                    invocation
                        .key(self.values_key(space))
                        .key(self.index_key(space));
                    spaces.len()
                }
            };
            let (kind, value): (&str, &[u8]) = match op {
                StateOp::Put { value, .. } => ("p", value),
                StateOp::Delete { .. } => ("d", b""),
                StateOp::Expect {
                    value: Some(value), ..
                } => ("e", value),
                StateOp::Expect { value: None, .. } => ("a", b""),
            };
            invocation.arg(kind).arg(pair).arg(op.key()).arg(value);
        }
        let mut conn = self.conn.clone();
        let failed: i64 = invocation.invoke_async(&mut conn).await.map_err(map_err)?;
        if failed < 0 {
            return Ok(());
        }
        let op = usize::try_from(failed)
            .ok()
            .and_then(|i| ops.get(i))
            .ok_or_else(|| corrupt("the batch script named no operation"))?;
        Err(StateError::Conflict {
            space: op.space(),
            key: op.key().to_owned(),
        })
    }

    async fn increment(&self, space: Space, key: &str, by: u64) -> Result<u64, StateError> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let reply: Vec<String> = self
            .increment_script
            .key(self.values_key(space))
            .key(self.index_key(space))
            .arg(key)
            .arg(by.to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        match reply.as_slice() {
            [status, value] if status == "ok" => value
                .parse()
                .map_err(|_| corrupt("a counter in Redis is not a number")),
            [status] if status == "not-a-counter" => Err(StateError::NotACounter {
                space,
                key: key.to_owned(),
            }),
            [status] if status == "overflow" => Err(StateError::CounterOverflow {
                space,
                key: key.to_owned(),
            }),
            _ => Err(corrupt("unexpected reply of the counter script")),
        }
    }

    /// With Redis's own expiring keys (`SET .. PX`), timed by the server's clock: processes
    /// sharing the store need no synchronised clocks. The fence stays in the leases space.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StateError> {
        let fence = fence_key(name);
        check_key(&fence)?;
        let mut conn = self.conn.clone();
        let value: Option<Vec<u8>> = self
            .acquire_script
            .key(self.lease_key(name))
            .key(self.values_key(Space::LEASES))
            .key(self.index_key(Space::LEASES))
            .arg(&fence)
            .arg(holder)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        match value {
            None => Ok(None),
            Some(v) => Lease::from_fence(name, &v)
                .map(Some)
                .ok_or_else(|| corrupt("a lease fence in Redis is not one")),
        }
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StateError> {
        let mut conn = self.conn.clone();
        let renewed: i64 = self
            .renew_script
            .key(self.lease_key(lease.name()))
            .key(self.values_key(Space::LEASES))
            .arg(fence_key(lease.name()))
            .arg(lease.fence_value().as_ref())
            .arg(ttl_ms(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(renewed == 1)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .release_script
            .key(self.lease_key(lease.name()))
            .arg(lease.fence_value().as_ref())
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::lex_bounds;

    #[test]
    fn lex_bounds_cover_the_prefix_after_the_cursor() {
        assert_eq!(lex_bounds("", None), (b"[".to_vec(), b"+".to_vec()));
        assert_eq!(
            lex_bounds("a/", None),
            (b"[a/".to_vec(), b"(a/\xff".to_vec())
        );
        assert_eq!(lex_bounds("a/", Some("a/1")).0, b"(a/1".to_vec());
        assert_eq!(
            lex_bounds("a/", Some("0")).0,
            b"[a/".to_vec(),
            "a cursor before the prefix starts at it"
        );
    }
}

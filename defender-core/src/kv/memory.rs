//! The in-memory key-value store.

use super::{KvError, KvLimit, KvLimits, KvStore};
use crate::clock::{Clock, SystemClock};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The default bound on the bytes an [`InMemoryKvStore`] holds (keys plus values): 64 MiB.
pub const DEFAULT_MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;

/// A [`KvStore`] in memory, for tests, doctests and short-lived programs. Nothing survives the
/// process.
///
/// # Memory bound
/// The store holds at most [`InMemoryKvStore::max_total_bytes`] bytes of keys plus values
/// ([`DEFAULT_MAX_TOTAL_BYTES`], 64 MiB, unless set with
/// [`InMemoryKvStore::with_max_total_bytes`]), so that actions cannot grow the host's memory
/// without end. A `put` that would go over it fails with
/// `KvError::LimitExceeded { what: KvLimit::TotalBytes, actual, limit }` (`actual` being the
/// total the put would have reached) and changes nothing. Overwriting a key counts only the
/// difference in size, and expired entries are dropped before a put is refused.
///
/// ```
/// use defender_core::{InMemoryKvStore, KvError, KvLimit, KvStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = InMemoryKvStore::default().with_max_total_bytes(10);
/// store.put("k", "123456789").await.unwrap(); // 1 + 9 bytes
/// let err = store.put("k2", "x").await.unwrap_err();
/// assert!(matches!(err, KvError::LimitExceeded { what: KvLimit::TotalBytes, actual: 13, limit: 10 }));
/// store.put("k", "1").await.unwrap(); // a smaller value frees room
/// store.put("k2", "x").await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct InMemoryKvStore {
    limits: KvLimits,
    max_total_bytes: usize,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

/// The entries and the bytes they hold.
#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<String, (String, DateTime<Utc>)>,
    /// Sum of key and value lengths over `entries` (expired ones included until dropped).
    bytes: usize,
}

impl State {
    fn remove(&mut self, key: &str) {
        if let Some((v, _)) = self.entries.remove(key) {
            self.bytes = self.bytes.saturating_sub(key.len() + v.len());
        }
    }

    fn drop_expired(&mut self, now: DateTime<Utc>) {
        let mut freed = 0;
        self.entries.retain(|k, (v, exp)| {
            let live = *exp > now;
            if !live {
                freed += k.len() + v.len();
            }
            live
        });
        self.bytes = self.bytes.saturating_sub(freed);
    }

    /// The total after putting `key` = `value`.
    fn total_after_put(&self, key: &str, value: &str) -> usize {
        let old = self
            .entries
            .get(key)
            .map_or(0, |(v, _)| key.len() + v.len());
        self.bytes
            .saturating_sub(old)
            .saturating_add(key.len() + value.len())
    }
}

impl Default for InMemoryKvStore {
    /// Defender's limits, the system clock and a bound of [`DEFAULT_MAX_TOTAL_BYTES`].
    fn default() -> Self {
        InMemoryKvStore::new(KvLimits::default(), Arc::new(SystemClock))
    }
}

impl InMemoryKvStore {
    /// A store with these limits and clock, bounded to [`DEFAULT_MAX_TOTAL_BYTES`].
    pub fn new(limits: KvLimits, clock: Arc<dyn Clock>) -> Self {
        InMemoryKvStore {
            limits,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// Sets the bound on the bytes of keys plus values the store holds (see the type's docs).
    pub fn with_max_total_bytes(mut self, bytes: usize) -> Self {
        self.max_total_bytes = bytes;
        self
    }

    /// The bound on the bytes of keys plus values the store holds.
    pub fn max_total_bytes(&self) -> usize {
        self.max_total_bytes
    }

    /// The bytes of keys plus values held now (entries that expired but were not dropped yet
    /// included).
    pub fn total_bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expires_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let ttl = chrono::Duration::from_std(self.limits.ttl).unwrap_or(chrono::Duration::MAX);
        now.checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[async_trait]
impl KvStore for InMemoryKvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.limits.check_key(key)?;
        let now = self.clock.now();
        let mut state = self.lock();
        match state.entries.get(key) {
            Some((_, exp)) if *exp <= now => {
                state.remove(key);
                Ok(None)
            }
            Some((v, _)) => Ok(Some(v.clone())),
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.limits.check_put(key, value)?;
        let now = self.clock.now();
        let mut state = self.lock();
        if let Some(max) = self.limits.max_entries {
            let exists = state.entries.get(key).is_some_and(|(_, exp)| *exp > now);
            if !exists {
                state.drop_expired(now);
                if state.entries.len() >= max {
                    return Err(KvError::LimitExceeded {
                        what: KvLimit::Entries,
                        actual: state.entries.len() + 1,
                        limit: max,
                    });
                }
            }
        }
        let mut total = state.total_after_put(key, value);
        if total > self.max_total_bytes {
            state.drop_expired(now);
            total = state.total_after_put(key, value);
            if total > self.max_total_bytes {
                return Err(KvError::LimitExceeded {
                    what: KvLimit::TotalBytes,
                    actual: total,
                    limit: self.max_total_bytes,
                });
            }
        }
        let expires = self.expires_at(now);
        state
            .entries
            .insert(key.to_owned(), (value.to_owned(), expires));
        state.bytes = total;
        Ok(())
    }

    async fn del(&self, key: &str) -> Result<(), KvError> {
        self.limits.check_key(key)?;
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let now = self.clock.now();
        let state = self.lock();
        Ok(state
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, (_, exp))| *exp > now)
            .map(|(k, _)| k.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::time::Duration;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn the_default_store_is_bounded_to_64_mib() {
        assert_eq!(
            InMemoryKvStore::default().max_total_bytes(),
            64 * 1024 * 1024
        );
        assert_eq!(
            KvLimit::TotalBytes.to_string(),
            "total size",
            "the error's text"
        );
    }

    #[test]
    fn a_put_over_the_bound_is_refused_and_loses_nothing() {
        block_on(async {
            let store = InMemoryKvStore::default().with_max_total_bytes(100);
            store.put("a", &"x".repeat(49)).await.unwrap(); // 50 bytes
            store.put("b", &"y".repeat(39)).await.unwrap(); // 40 bytes
            assert_eq!(store.total_bytes(), 90);

            let err = store.put("c", &"z".repeat(10)).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    KvError::LimitExceeded {
                        what: KvLimit::TotalBytes,
                        actual: 101,
                        limit: 100
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("total size"), "{err}");
            // Growing an existing key over the bound is refused too, and keeps the old value.
            let err = store.put("b", &"y".repeat(50)).await.unwrap_err();
            assert!(matches!(
                err,
                KvError::LimitExceeded {
                    what: KvLimit::TotalBytes,
                    actual: 101,
                    ..
                }
            ));
            assert_eq!(store.get("a").await.unwrap(), Some("x".repeat(49)));
            assert_eq!(store.get("b").await.unwrap(), Some("y".repeat(39)));
            assert_eq!(store.get("c").await.unwrap(), None);
            assert_eq!(store.list("").await.unwrap(), vec!["a", "b"]);
            assert_eq!(store.total_bytes(), 90);

            // Exactly at the bound is allowed.
            store.put("c", &"z".repeat(9)).await.unwrap();
            assert_eq!(store.total_bytes(), 100);
        });
    }

    #[test]
    fn overwriting_with_a_smaller_value_or_deleting_frees_room() {
        block_on(async {
            let store = InMemoryKvStore::default().with_max_total_bytes(100);
            store.put("a", &"x".repeat(89)).await.unwrap(); // 90 bytes
            assert!(store.put("b", &"y".repeat(19)).await.is_err());
            // Overwriting counts the difference: 90 -> 10 bytes.
            store.put("a", &"x".repeat(9)).await.unwrap();
            assert_eq!(store.total_bytes(), 10);
            store.put("b", &"y".repeat(89)).await.unwrap();
            assert_eq!(store.total_bytes(), 100);
            store.del("b").await.unwrap();
            assert_eq!(store.total_bytes(), 10);
            store.put("c", &"z".repeat(89)).await.unwrap();
            assert_eq!(store.get("a").await.unwrap().as_deref(), Some("xxxxxxxxx"));
        });
    }

    #[test]
    fn expired_entries_are_dropped_before_a_put_is_refused() {
        block_on(async {
            let clock = Arc::new(ManualClock::new(Utc::now()));
            let limits = KvLimits {
                ttl: Duration::from_secs(60),
                ..KvLimits::default()
            };
            let store = InMemoryKvStore::new(limits, clock.clone()).with_max_total_bytes(100);
            store.put("old", &"x".repeat(87)).await.unwrap(); // 90 bytes
            assert!(store.put("new", &"y".repeat(17)).await.is_err());
            clock.advance(chrono::Duration::seconds(61));
            store.put("new", &"y".repeat(17)).await.unwrap();
            assert_eq!(store.total_bytes(), 20);
            assert_eq!(store.get("old").await.unwrap(), None);
        });
    }
}

//! The in-memory key-value store.

use super::{KvError, KvLimit, KvLimits, KvStore};
use crate::clock::{Clock, SystemClock};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A [`KvStore`] in memory, for tests, doctests and short-lived programs. Nothing survives the
/// process.
#[derive(Debug)]
pub struct InMemoryKvStore {
    limits: KvLimits,
    clock: Arc<dyn Clock>,
    entries: Mutex<BTreeMap<String, (String, DateTime<Utc>)>>,
}

impl Default for InMemoryKvStore {
    fn default() -> Self {
        InMemoryKvStore::new(KvLimits::default(), Arc::new(SystemClock))
    }
}

impl InMemoryKvStore {
    /// A store with these limits and clock.
    pub fn new(limits: KvLimits, clock: Arc<dyn Clock>) -> Self {
        InMemoryKvStore {
            limits,
            clock,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, DateTime<Utc>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
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
        let mut entries = self.lock();
        match entries.get(key) {
            Some((_, exp)) if *exp <= now => {
                entries.remove(key);
                Ok(None)
            }
            Some((v, _)) => Ok(Some(v.clone())),
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.limits.check_put(key, value)?;
        let now = self.clock.now();
        let mut entries = self.lock();
        if let Some(max) = self.limits.max_entries {
            let exists = entries.get(key).is_some_and(|(_, exp)| *exp > now);
            if !exists {
                entries.retain(|_, (_, exp)| *exp > now);
                if entries.len() >= max {
                    return Err(KvError::LimitExceeded {
                        what: KvLimit::Entries,
                        actual: entries.len() + 1,
                        limit: max,
                    });
                }
            }
        }
        entries.insert(key.to_owned(), (value.to_owned(), self.expires_at(now)));
        Ok(())
    }

    async fn del(&self, key: &str) -> Result<(), KvError> {
        self.limits.check_key(key)?;
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let now = self.clock.now();
        let entries = self.lock();
        Ok(entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, (_, exp))| *exp > now)
            .map(|(k, _)| k.clone())
            .collect())
    }
}

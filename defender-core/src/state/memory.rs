//! Engine state in memory.

use super::{check_batch, check_key, encode_counter, next_counter, Space, StateError, StateOp};
use crate::state::StateStore;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

/// A [`StateStore`] in memory, for tests and short-lived programs: everything is lost when it
/// is dropped. One lock makes every operation atomic.
#[derive(Default)]
pub struct MemoryStateStore {
    /// By space, then key: lookups borrow the caller's key.
    entries: Mutex<HashMap<Space, BTreeMap<String, Bytes>>>,
}

type Entries = HashMap<Space, BTreeMap<String, Bytes>>;

impl fmt::Debug for MemoryStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Entries only counted: values may be large, and some (sealed secrets) are private.
        let entries: usize = self.lock().values().map(BTreeMap::len).sum();
        f.debug_struct("MemoryStateStore")
            .field("entries", &entries)
            .finish()
    }
}

impl MemoryStateStore {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // No code under the lock panics, so a poisoned lock still holds whole data.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn get<'e>(entries: &'e Entries, space: Space, key: &str) -> Option<&'e Bytes> {
    entries.get(&space)?.get(key)
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, space: Space, key: &str) -> Result<Option<Bytes>, StateError> {
        check_key(key)?;
        Ok(get(&self.lock(), space, key).cloned())
    }

    async fn delete(&self, space: Space, key: &str) -> Result<bool, StateError> {
        check_key(key)?;
        let mut entries = self.lock();
        Ok(entries
            .get_mut(&space)
            .is_some_and(|keys| keys.remove(key).is_some()))
    }

    async fn scan_prefix(
        &self,
        space: Space,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Bytes)>, StateError> {
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let entries = self.lock();
        let Some(keys) = entries.get(&space) else {
            return Ok(Vec::new());
        };
        Ok(keys
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn apply(&self, ops: Vec<StateOp>) -> Result<(), StateError> {
        check_batch(&ops)?;
        let mut entries = self.lock();
        for op in &ops {
            if let StateOp::Expect { space, key, value } = op {
                if get(&entries, *space, key) != value.as_ref() {
                    return Err(StateError::Conflict {
                        space: *space,
                        key: key.clone(),
                    });
                }
            }
        }
        for op in ops {
            match op {
                StateOp::Put { space, key, value } => {
                    entries.entry(space).or_default().insert(key, value);
                }
                StateOp::Delete { space, key } => {
                    if let Some(keys) = entries.get_mut(&space) {
                        keys.remove(&key);
                    }
                }
                StateOp::Expect { .. } => {}
            }
        }
        Ok(())
    }

    async fn increment(&self, space: Space, key: &str, by: u64) -> Result<u64, StateError> {
        check_key(key)?;
        let mut entries = self.lock();
        let keys = entries.entry(space).or_default();
        let next = next_counter(space, key, keys.get(key).map(|v| &v[..]), by)?;
        keys.insert(key.to_owned(), encode_counter(next));
        Ok(next)
    }
}

//! Engine state in memory.

use super::{check_batch, check_key, encode_counter, next_counter, Space, StateError, StateOp};
use crate::state::StateStore;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

/// A [`StateStore`] in memory, for tests and short-lived programs: everything is lost when it
/// is dropped. One lock makes every operation atomic.
#[derive(Default)]
pub struct MemoryStateStore {
    entries: Mutex<BTreeMap<(Space, String), Bytes>>,
}

impl fmt::Debug for MemoryStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Entries only counted: values may be large, and some (sealed secrets) are private.
        f.debug_struct("MemoryStateStore")
            .field("entries", &self.lock().len())
            .finish()
    }
}

impl MemoryStateStore {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(Space, String), Bytes>> {
        // No code under the lock panics, so a poisoned lock still holds whole data.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, space: Space, key: &str) -> Result<Option<Bytes>, StateError> {
        check_key(key)?;
        Ok(self.lock().get(&(space, key.to_owned())).cloned())
    }

    async fn delete(&self, space: Space, key: &str) -> Result<bool, StateError> {
        check_key(key)?;
        Ok(self.lock().remove(&(space, key.to_owned())).is_some())
    }

    async fn scan_prefix(
        &self,
        space: Space,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Bytes)>, StateError> {
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded((space, after.to_owned())),
            _ => Bound::Included((space, prefix.to_owned())),
        };
        let entries = self.lock();
        Ok(entries
            .range((start, Bound::Unbounded))
            .take_while(|((s, k), _)| *s == space && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn apply(&self, ops: Vec<StateOp>) -> Result<(), StateError> {
        check_batch(&ops)?;
        let mut entries = self.lock();
        for op in &ops {
            if let StateOp::Expect { space, key, value } = op {
                if entries.get(&(*space, key.clone())) != value.as_ref() {
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
                    entries.insert((space, key), value);
                }
                StateOp::Delete { space, key } => {
                    entries.remove(&(space, key));
                }
                StateOp::Expect { .. } => {}
            }
        }
        Ok(())
    }

    async fn increment(&self, space: Space, key: &str, by: u64) -> Result<u64, StateError> {
        check_key(key)?;
        let mut entries = self.lock();
        let entry = (space, key.to_owned());
        let next = next_counter(space, key, entries.get(&entry).map(|v| &v[..]), by)?;
        entries.insert(entry, encode_counter(next));
        Ok(next)
    }
}

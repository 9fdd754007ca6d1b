//! Engine state in its own redb database file.

use async_trait::async_trait;
use bytes::Bytes;
use defender_core::state::{
    check_batch, check_key, encode_counter, next_counter, Space, StateError, StateOp, StateStore,
};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The table: (space, key) -> value.
const TABLE: TableDefinition<'static, (&str, &str), &[u8]> =
    TableDefinition::new("defender_state_v1");

/// A [`StateStore`] in one [redb](https://www.redb.org) database file: the embedded, durable
/// default for engine state.
///
/// # Its own file
/// Engine state lives in a file of its own (say `state.redb`), not in the actions' key-value
/// file ([`RedbKvStore`](crate::RedbKvStore)), so that:
/// - no path from an action's key reaches it, and it can be backed up, moved or inspected
///   alone;
/// - redb admits one write transaction at a time per database: the actions' writes (one
///   fsync each) never queue in front of a checkpoint or a nonce, nor the other way round.
///
/// # Layout and guarantees
/// One table, `defender_state_v1`, keyed by `(space name, key)`: redb orders tuples field by
/// field, so a space's keys are one sorted range and a prefix scan is a range read. Every
/// write (`put`, `delete`, `apply`, `increment`) is one redb write transaction committed with
/// [`Durability::Immediate`] (fsync) before it returns, so an acknowledged write survives a
/// crash, and a batch is all there or not at all after one (see the crate's crash test).
/// Writes and scans run on tokio's blocking pool; `get` reads in the calling task. redb locks
/// the file: one process opens it at a time.
#[derive(Clone)]
pub struct RedbStateStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for RedbStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStateStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn map_err(e: impl Into<redb::Error>) -> StateError {
    match e.into() {
        redb::Error::Corrupted(message) => StateError::Corrupt { message },
        other => StateError::unavailable(other),
    }
}

/// Runs blocking work off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StateError::unavailable(e)),
    }
}

impl RedbStateStore {
    /// Opens (or creates) the database file at `path`. After a crash, redb checks and repairs
    /// the file here.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let path = path.as_ref().to_path_buf();
        let db = Database::create(&path).map_err(map_err)?;
        let mut txn = db.begin_write().map_err(map_err)?;
        txn.set_durability(Durability::Immediate);
        txn.open_table(TABLE).map_err(map_err)?;
        txn.commit().map_err(map_err)?;
        Ok(RedbStateStore {
            inner: Arc::new(Inner { db, path }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in one write transaction, committed (fsynced) when it returns `Ok`, aborted
    /// otherwise.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, (&str, &str), &[u8]>) -> Result<T, StateError>
            + Send
            + 'static,
    ) -> Result<T, StateError> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut txn = inner.db.begin_write().map_err(map_err)?;
            txn.set_durability(Durability::Immediate);
            let result = {
                let mut table = txn.open_table(TABLE).map_err(map_err)?;
                f(&mut table)
            };
            match result {
                Ok(value) => {
                    txn.commit().map_err(map_err)?;
                    Ok(value)
                }
                Err(e) => {
                    txn.abort().map_err(map_err)?;
                    Err(e)
                }
            }
        })
        .await
    }
}

#[async_trait]
impl StateStore for RedbStateStore {
    async fn get(&self, space: Space, key: &str) -> Result<Option<Bytes>, StateError> {
        check_key(key)?;
        let txn = self.inner.db.begin_read().map_err(map_err)?;
        let table = txn.open_table(TABLE).map_err(map_err)?;
        let found = table.get((space.name(), key)).map_err(map_err)?;
        Ok(found.map(|guard| Bytes::copy_from_slice(guard.value())))
    }

    async fn delete(&self, space: Space, key: &str) -> Result<bool, StateError> {
        check_key(key)?;
        let key = key.to_owned();
        self.write(move |table| {
            let removed = table
                .remove((space.name(), key.as_str()))
                .map_err(map_err)?
                .is_some();
            Ok(removed)
        })
        .await
    }

    async fn scan_prefix(
        &self,
        space: Space,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Bytes)>, StateError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let inner = self.inner.clone();
        let (prefix, after) = (prefix.to_owned(), after.map(str::to_owned));
        blocking(move || {
            let txn = inner.db.begin_read().map_err(map_err)?;
            let table = txn.open_table(TABLE).map_err(map_err)?;
            let name = space.name();
            let start = match after.as_deref() {
                Some(after) if after >= prefix.as_str() => Bound::Excluded((name, after)),
                _ => Bound::Included((name, prefix.as_str())),
            };
            let mut entries = Vec::new();
            for item in table
                .range::<(&str, &str)>((start, Bound::Unbounded))
                .map_err(map_err)?
            {
                let (k, v) = item.map_err(map_err)?;
                let (s, key) = k.value();
                if s != name || !key.starts_with(prefix.as_str()) {
                    break;
                }
                entries.push((key.to_owned(), Bytes::copy_from_slice(v.value())));
                if entries.len() >= limit {
                    break;
                }
            }
            Ok(entries)
        })
        .await
    }

    async fn apply(&self, ops: Vec<StateOp>) -> Result<(), StateError> {
        check_batch(&ops)?;
        if ops.is_empty() {
            return Ok(());
        }
        self.write(move |table| {
            for op in &ops {
                if let StateOp::Expect { space, key, value } = op {
                    let found = table.get((space.name(), key.as_str())).map_err(map_err)?;
                    if found.as_ref().map(|g| g.value()) != value.as_deref() {
                        return Err(StateError::Conflict {
                            space: *space,
                            key: key.clone(),
                        });
                    }
                }
            }
            for op in &ops {
                match op {
                    StateOp::Put { space, key, value } => {
                        table
                            .insert((space.name(), key.as_str()), value.as_ref())
                            .map_err(map_err)?;
                    }
                    StateOp::Delete { space, key } => {
                        table
                            .remove((space.name(), key.as_str()))
                            .map_err(map_err)?;
                    }
                    StateOp::Expect { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }

    async fn increment(&self, space: Space, key: &str, by: u64) -> Result<u64, StateError> {
        check_key(key)?;
        let key = key.to_owned();
        self.write(move |table| {
            let next = {
                let current = table.get((space.name(), key.as_str())).map_err(map_err)?;
                next_counter(space, &key, current.as_ref().map(|g| g.value()), by)?
            };
            table
                .insert((space.name(), key.as_str()), encode_counter(next).as_ref())
                .map_err(map_err)?;
            Ok(next)
        })
        .await
    }
}

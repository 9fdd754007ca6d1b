//! The embedded, durable default: one redb database file.

use crate::{blocking, KvOptions};
use async_trait::async_trait;
use defender_core::kv::{KvError, KvLimit, KvStore};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The table: key -> (expiry in ms since the Unix epoch, value).
const TABLE: TableDefinition<'static, &str, (i64, &str)> = TableDefinition::new("defender_kv_v1");

/// A [`KvStore`] in one [redb](https://www.redb.org) database file: the embedded, durable
/// default.
///
/// - Every `put` and `del` is its own write transaction, committed with
///   [`Durability::Immediate`] (fsync) before it returns: an acknowledged write survives a crash
///   or `SIGKILL` of the process (see the crate's crash test).
/// - Each entry is stored with the time it expires (by the store's [`Clock`](crate::Clock));
///   `get` and `list` never return an expired entry. Expired entries are removed when the
///   entry cap needs their place, by [`purge_expired`](Self::purge_expired), or when the key
///   is written again.
/// - `get` and `list` read in the calling task (a redb read transaction takes well under a
///   microsecond on cached pages); writes run on tokio's blocking pool.
/// - redb locks the file: one process opens it at a time.
#[derive(Clone)]
pub struct RedbKvStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    options: KvOptions,
    path: PathBuf,
}

impl std::fmt::Debug for RedbKvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbKvStore")
            .field("path", &self.inner.path)
            .field("limits", &self.inner.options.limits)
            .finish_non_exhaustive()
    }
}

fn map_err(e: impl Into<redb::Error>) -> KvError {
    match e.into() {
        redb::Error::Corrupted(message) => KvError::Corrupt { message },
        other => KvError::unavailable(other),
    }
}

impl RedbKvStore {
    /// Opens (or creates) the database file at `path` with Defender's limits and the system
    /// clock.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KvError> {
        Self::open_with(path, KvOptions::default())
    }

    /// Opens (or creates) the database file at `path` with these limits and clock. After a
    /// crash, redb checks and repairs the file here.
    pub fn open_with(path: impl AsRef<Path>, options: KvOptions) -> Result<Self, KvError> {
        let path = path.as_ref().to_path_buf();
        let db = Database::create(&path).map_err(map_err)?;
        let mut txn = db.begin_write().map_err(map_err)?;
        txn.set_durability(Durability::Immediate);
        txn.open_table(TABLE).map_err(map_err)?;
        txn.commit().map_err(map_err)?;
        Ok(RedbKvStore {
            inner: Arc::new(Inner { db, options, path }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Removes every expired entry; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, KvError> {
        let inner = self.inner.clone();
        blocking(move || {
            let now = inner.options.now_ms();
            let mut txn = inner.db.begin_write().map_err(map_err)?;
            txn.set_durability(Durability::Immediate);
            let removed = {
                let mut table = txn.open_table(TABLE).map_err(map_err)?;
                purge(&mut table, now)?
            };
            txn.commit().map_err(map_err)?;
            Ok(removed)
        })
        .await
    }
}

fn purge(table: &mut redb::Table<'_, &str, (i64, &str)>, now: i64) -> Result<usize, KvError> {
    let before = table.len().map_err(map_err)?;
    table
        .retain(|_, (expires, _)| expires > now)
        .map_err(map_err)?;
    let after = table.len().map_err(map_err)?;
    Ok(usize::try_from(before.saturating_sub(after)).unwrap_or(usize::MAX))
}

#[async_trait]
impl KvStore for RedbKvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let options = &self.inner.options;
        options.limits.check_key(key)?;
        let txn = self.inner.db.begin_read().map_err(map_err)?;
        let table = txn.open_table(TABLE).map_err(map_err)?;
        let found = table.get(key).map_err(map_err)?;
        Ok(found.and_then(|guard| {
            let (expires, value) = guard.value();
            (expires > options.now_ms()).then(|| value.to_owned())
        }))
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.inner.options.limits.check_put(key, value)?;
        let inner = self.inner.clone();
        let (key, value) = (key.to_owned(), value.to_owned());
        blocking(move || {
            let options = &inner.options;
            let now = options.now_ms();
            let mut txn = inner.db.begin_write().map_err(map_err)?;
            txn.set_durability(Durability::Immediate);
            {
                let mut table = txn.open_table(TABLE).map_err(map_err)?;
                if let Some(max) = options.limits.max_entries {
                    let live = table
                        .get(key.as_str())
                        .map_err(map_err)?
                        .is_some_and(|g| g.value().0 > now);
                    if !live {
                        let mut count = table.len().map_err(map_err)?;
                        if count >= max as u64 {
                            purge(&mut table, now)?;
                            count = table.len().map_err(map_err)?;
                        }
                        if count >= max as u64 {
                            let actual = usize::try_from(count).unwrap_or(usize::MAX);
                            return Err(KvError::LimitExceeded {
                                what: KvLimit::Entries,
                                actual: actual.saturating_add(1),
                                limit: max,
                            });
                        }
                    }
                }
                table
                    .insert(key.as_str(), (options.expires_ms(now), value.as_str()))
                    .map_err(map_err)?;
            }
            txn.commit().map_err(map_err)
        })
        .await
    }

    async fn del(&self, key: &str) -> Result<(), KvError> {
        self.inner.options.limits.check_key(key)?;
        let inner = self.inner.clone();
        let key = key.to_owned();
        blocking(move || {
            let mut txn = inner.db.begin_write().map_err(map_err)?;
            txn.set_durability(Durability::Immediate);
            let removed = {
                let mut table = txn.open_table(TABLE).map_err(map_err)?;
                let removed = table.remove(key.as_str()).map_err(map_err)?.is_some();
                removed
            };
            if removed {
                txn.commit().map_err(map_err)
            } else {
                txn.abort().map_err(map_err)
            }
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let now = self.inner.options.now_ms();
        let txn = self.inner.db.begin_read().map_err(map_err)?;
        let table = txn.open_table(TABLE).map_err(map_err)?;
        let mut keys = Vec::new();
        for item in table.range(prefix..).map_err(map_err)? {
            let (k, v) = item.map_err(map_err)?;
            let k = k.value();
            if !k.starts_with(prefix) {
                break;
            }
            if v.value().0 > now {
                keys.push(k.to_owned());
            }
        }
        Ok(keys)
    }
}

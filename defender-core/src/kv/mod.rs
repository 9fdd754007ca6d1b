//! The key-value store that actions share: trait, limits, errors, a namespaced view and an
//! in-memory implementation.

#[cfg(feature = "conformance")]
pub mod conformance;
mod memory;

pub use memory::{InMemoryKvStore, DEFAULT_MAX_TOTAL_BYTES};

use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// Dynamic key-value store, as the engine and the runtime hold it.
pub type DynKvStore = dyn KvStore;

/// Which limit a key-value operation broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KvLimit {
    /// Key length in bytes.
    KeyBytes,
    /// Value length in bytes.
    ValueBytes,
    /// Number of live entries.
    Entries,
    /// Bytes of keys plus values the whole store holds (see [`InMemoryKvStore`]).
    TotalBytes,
}

impl std::fmt::Display for KvLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KvLimit::KeyBytes => "key size",
            KvLimit::ValueBytes => "value size",
            KvLimit::Entries => "entry count",
            KvLimit::TotalBytes => "total size",
        })
    }
}

/// Errors of every [`KvStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// A key or value is too large, or the store is full.
    #[error("{what} limit exceeded: {actual} > {limit}")]
    LimitExceeded {
        /// Which limit.
        what: KvLimit,
        /// The size or count that was asked for.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// The key is empty.
    #[error("the key is empty")]
    EmptyKey,
    /// The backend could not be reached or failed; the operation may be retried.
    #[error("key-value backend unavailable: {source}")]
    Unavailable {
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stored data could not be read back.
    #[error("key-value data is corrupt: {message}")]
    Corrupt {
        /// What is wrong.
        message: String,
    },
}

impl KvError {
    /// Wraps a backend error as [`KvError::Unavailable`].
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        KvError::Unavailable {
            source: Box::new(e),
        }
    }
}

/// Defender's limits: keys up to 1 KB, values up to 300 KB, entries expire 90 days after their
/// last put, and an optional cap on the number of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLimits {
    /// Longest key, in bytes (Defender: 1024).
    pub max_key_bytes: usize,
    /// Longest value, in bytes (Defender: 300 * 1024).
    pub max_value_bytes: usize,
    /// Time after the last put when an entry expires (Defender: 90 days).
    pub ttl: Duration,
    /// Most live entries, if capped.
    pub max_entries: Option<usize>,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits {
            max_key_bytes: 1024,
            max_value_bytes: 300 * 1024,
            ttl: Duration::from_secs(90 * 24 * 3600),
            max_entries: None,
        }
    }
}

impl KvLimits {
    /// Checks a key alone.
    pub fn check_key(&self, key: &str) -> Result<(), KvError> {
        if key.is_empty() {
            return Err(KvError::EmptyKey);
        }
        if key.len() > self.max_key_bytes {
            return Err(KvError::LimitExceeded {
                what: KvLimit::KeyBytes,
                actual: key.len(),
                limit: self.max_key_bytes,
            });
        }
        Ok(())
    }

    /// Checks a key and a value for a put.
    pub fn check_put(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.check_key(key)?;
        if value.len() > self.max_value_bytes {
            return Err(KvError::LimitExceeded {
                what: KvLimit::ValueBytes,
                actual: value.len(),
                limit: self.max_value_bytes,
            });
        }
        Ok(())
    }
}

/// A string key-value store shared by actions, with Defender's semantics.
///
/// # Contract
/// - Keys and values are UTF-8 strings. A key is 1 to [`KvLimits::max_key_bytes`] bytes, a value
///   0 to [`KvLimits::max_value_bytes`] bytes; larger ones fail with
///   [`KvError::LimitExceeded`] and change nothing. An empty key fails with [`KvError::EmptyKey`].
/// - `put` creates or overwrites, and restarts the entry's time to live. An entry is never
///   returned by `get` or `list` once its time to live has passed since its last `put`.
/// - A `put` of a new key when the store holds [`KvLimits::max_entries`] live entries fails with
///   `LimitExceeded { what: Entries, .. }`; overwriting an existing key always succeeds.
/// - A store may also bound the bytes it holds in all (as [`InMemoryKvStore`] does): a `put`
///   that would go over fails with `LimitExceeded { what: TotalBytes, .. }` and changes nothing.
/// - `del` of a missing key succeeds.
/// - Once `put` returns `Ok`, a later `get` (from any task, and after a restart for durable
///   backends) sees that value or a newer one: no acknowledged write is lost, none is torn.
/// - [`KvError::Unavailable`] means the backend failed; the operation may or may not have
///   happened and may be retried.
///
/// # Example
/// ```
/// use defender_core::{InMemoryKvStore, KvStore, KvStoreExt};
/// use std::sync::Arc;
/// # tokio_test_block_on(async {
/// let store = Arc::new(InMemoryKvStore::default());
/// store.put("counter", "1").await?;
/// assert_eq!(store.get("counter").await?.as_deref(), Some("1"));
///
/// // Each action can isolate its keys under a prefix.
/// let mine = store.clone().namespaced("action-a/");
/// mine.put("counter", "7").await?;
/// assert_eq!(store.get("action-a/counter").await?.as_deref(), Some("7"));
/// assert_eq!(mine.list("").await?, vec!["counter".to_string()]);
/// # Ok::<_, defender_core::KvError>(()) }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f) }
/// ```
#[async_trait]
pub trait KvStore: Debug + Send + Sync + 'static {
    /// The live value of `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<String>, KvError>;

    /// Creates or overwrites `key`.
    async fn put(&self, key: &str, value: &str) -> Result<(), KvError>;

    /// Removes `key`; succeeds when it is missing.
    async fn del(&self, key: &str) -> Result<(), KvError>;

    /// The live keys that start with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError>;
}

macro_rules! forward_kv_store {
    ($ty:ty) => {
        #[async_trait]
        impl<T: KvStore + ?Sized> KvStore for $ty {
            async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
                (**self).get(key).await
            }
            async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
                (**self).put(key, value).await
            }
            async fn del(&self, key: &str) -> Result<(), KvError> {
                (**self).del(key).await
            }
            async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
                (**self).list(prefix).await
            }
        }
    };
}

forward_kv_store!(Arc<T>);
forward_kv_store!(Box<T>);

/// Conveniences on every [`KvStore`].
pub trait KvStoreExt: KvStore + Sized {
    /// A view in which every key is prefixed by `prefix`; `list` strips it again.
    fn namespaced(self, prefix: impl Into<String>) -> Namespaced<Self> {
        Namespaced {
            inner: self,
            prefix: prefix.into(),
        }
    }
}

impl<T: KvStore + Sized> KvStoreExt for T {}

/// A [`KvStore`] view under a key prefix. Limits apply to the full key.
#[derive(Debug, Clone)]
pub struct Namespaced<S> {
    inner: S,
    prefix: String,
}

impl<S> Namespaced<S> {
    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, key: &str) -> Result<String, KvError> {
        if key.is_empty() {
            return Err(KvError::EmptyKey);
        }
        Ok(format!("{}{}", self.prefix, key))
    }
}

#[async_trait]
impl<S: KvStore> KvStore for Namespaced<S> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.inner.get(&self.key(key)?).await
    }
    async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.inner.put(&self.key(key)?, value).await
    }
    async fn del(&self, key: &str) -> Result<(), KvError> {
        self.inner.del(&self.key(key)?).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let full = format!("{}{}", self.prefix, prefix);
        let keys = self.inner.list(&full).await?;
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned))
            .collect())
    }
}

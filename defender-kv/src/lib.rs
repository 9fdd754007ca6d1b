#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod json_file;
mod redb_store;
#[cfg(feature = "redis")]
mod redis_store;
mod state_redb;
#[cfg(feature = "redis")]
mod state_redis;

pub use defender_core::kv::{
    DynKvStore, InMemoryKvStore, KvError, KvLimit, KvLimits, KvStore, KvStoreExt, Namespaced,
};
pub use defender_core::state::{
    MemoryStateStore, Space, StateError, StateOp, StateStore, StateStoreExt,
};
pub use defender_core::{Clock, ManualClock, SystemClock};
pub use json_file::JsonFileKvStore;
pub use redb_store::RedbKvStore;
#[cfg(feature = "redis")]
pub use redis_store::RedisKvStore;
pub use state_redb::RedbStateStore;
#[cfg(feature = "redis")]
pub use state_redis::RedisStateStore;

use std::sync::Arc;
use std::time::Duration;

/// Limits and clock of a store: [`KvLimits::default`] (Defender's) and the system clock unless
/// changed.
///
/// ```
/// use defender_kv::{KvLimits, KvOptions, ManualClock};
/// use std::sync::Arc;
/// let options = KvOptions::default()
///     .with_limits(KvLimits { max_entries: Some(10_000), ..KvLimits::default() })
///     .with_clock(Arc::new(ManualClock::default()));
/// assert_eq!(options.limits.max_entries, Some(10_000));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KvOptions {
    /// Key and value sizes, time to live, entry cap.
    pub limits: KvLimits,
    /// Where the store reads the time for expiry.
    pub clock: Arc<dyn Clock>,
}

impl Default for KvOptions {
    fn default() -> Self {
        KvOptions {
            limits: KvLimits::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl KvOptions {
    /// These limits.
    pub fn with_limits(mut self, limits: KvLimits) -> Self {
        self.limits = limits;
        self
    }

    /// This clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The clock's time, in milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    /// When an entry put at `now_ms` expires, in milliseconds since the Unix epoch.
    pub(crate) fn expires_ms(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(ttl_ms(self.limits.ttl))
    }
}

/// A time to live in whole milliseconds, saturating.
pub(crate) fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// Runs blocking work off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KvError> + Send + 'static,
) -> Result<T, KvError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(KvError::unavailable(e)),
    }
}

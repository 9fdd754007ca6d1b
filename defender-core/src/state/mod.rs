//! Engine state: checkpoints, the outbox of owed deliveries, delivery markers, relayer nonces
//! and transaction records, webhook tokens, schedule and alert-gate state, run history and
//! secrets, in a store of its own.
//!
//! Engine state never shares a key space with the actions' key-value store
//! ([`KvStore`](crate::KvStore)): it lives behind a different trait, [`StateStore`], which no
//! host function reaches, in a different table or file (redb) or under a different prefix
//! (Redis). The actions' quota and 90-day expiry do not apply to it.
//!
//! Inside a state store, keys live in named [`Space`]s: the same key in two spaces names two
//! entries. On top of any store, [`StateRunStore`] keeps run history and [`StateSecretStore`]
//! keeps secrets encrypted with an operator's [`SecretsKey`].

mod counter;
mod error;
mod keys;
mod lease;
mod memory;
mod runs;
mod secrets;

pub use counter::{decode_counter, encode_counter, next_counter, MAX_COUNTER};
pub use error::StateError;
pub use keys::{check_batch, check_key, Space, StateOp, MAX_KEY_BYTES};
pub use lease::{fence_key, ttl_ms, until_key, Lease};
pub use memory::MemoryStateStore;
pub use runs::StateRunStore;
pub use secrets::{SealedSecretError, SecretsKey, SecretsKeyError, StateSecretStore};

use async_trait::async_trait;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Dynamic state store, as the engine holds it.
pub type DynStateStore = dyn StateStore;
fn encode_json<T: Serialize + ?Sized>(
    space: Space,
    key: &str,
    value: &T,
) -> Result<Bytes, StateError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|source| StateError::Encode {
            space,
            key: key.to_owned(),
            source,
        })
}
/// Durable engine state: binary values under string keys, in named [`Space`]s.
///
/// # Contract
/// - **Keys and spaces.** A key is a string of 1 to [`MAX_KEY_BYTES`] bytes; other keys fail
///   with [`StateError::InvalidKey`] and change nothing. The same key in two spaces names two
///   entries, and nothing done in one space shows in another. Values are bytes of any length,
///   the empty value included (an empty value is not a missing one).
/// - **`get`, `put`, `delete`.** `put` creates or overwrites; `delete` removes and says whether
///   there was an entry. Nothing expires and no quota applies.
/// - **`scan_prefix`** returns the entries of one space whose keys start with `prefix`, sorted
///   by key (byte order), only keys strictly after `after` when it is given, at most `limit`
///   of them. It returns fewer than `limit` only when no more entries match, so a caller pages
///   by passing the last key it got as `after` until a page comes back short.
/// - **`apply`** carries out a batch atomically: all of it or none of it, and no reader sees
///   part of it. Every key is checked first, then every [`StateOp::Expect`] against the
///   state before the batch (the first that fails gives [`StateError::Conflict`] naming its
///   entry), then the writes in order (a later write of the same entry wins). An empty batch
///   succeeds.
/// - **`compare_and_swap`** sets an entry to `new` (`None` deletes it) only when it holds
///   `expected` (`None`: only when there is no entry), atomically; `Ok(false)` when it does
///   not hold it. Of several tasks or processes swapping from the same value, exactly one
///   wins.
/// - **`increment`** adds `by` to the counter under a key atomically and returns the new
///   value; a missing counter counts as 0 (and `increment(.., 0)` creates it). Counters are
///   stored as their decimal digits (see [`encode_counter`]), so `get` reads them and `put`
///   can set them. A value that is not a counter fails with [`StateError::NotACounter`], a
///   result past [`MAX_COUNTER`] with [`StateError::CounterOverflow`]; both change nothing.
///   Concurrent increments by 1 from any number of tasks or processes return distinct,
///   contiguous values.
/// - **Leases** ([`acquire_lease`](Self::acquire_lease), [`renew_lease`](Self::renew_lease),
///   [`release_lease`](Self::release_lease)): at most one holder of a lease name at a time
///   among every task and process sharing the store, until it expires or is released; each
///   new holder gets a larger fencing token, and [`Lease::fence`] in a batch makes the batch
///   fail once the lease has passed to another holder.
/// - **Durability.** Once a write returns `Ok`, every later read sees it or a newer value,
///   also after a restart or a crash for durable backends. [`StateError::Unavailable`] means
///   the backend failed: the operation may or may not have happened.
///
/// Conveniences (typed JSON values, reading a whole prefix, reading a counter) are on
/// [`StateStoreExt`]. `put` and `compare_and_swap` have default implementations on `apply`.
///
/// # Example
/// ```
/// use bytes::Bytes;
/// use defender_core::state::{MemoryStateStore, Space, StateError, StateOp, StateStore, StateStoreExt};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let state = MemoryStateStore::default();
///
/// // A relayer allocates nonces atomically.
/// assert_eq!(state.increment(Space::NONCES, "relayer-1", 1).await?, 1);
/// assert_eq!(state.increment(Space::NONCES, "relayer-1", 1).await?, 2);
///
/// // A monitor writes what it owes and moves its checkpoint in one atomic batch, only if
/// // the checkpoint is still where it read it.
/// state.put_json(Space::CHECKPOINTS, "monitor-1", &100u64).await?;
/// let batch = vec![
///     StateOp::expect(Space::CHECKPOINTS, "monitor-1", Some(Bytes::from("100"))),
///     StateOp::put(Space::OUTBOX, "monitor-1/101/0", r#"{"to":"email"}"#),
///     StateOp::put_json(Space::CHECKPOINTS, "monitor-1", &101u64)?,
/// ];
/// state.apply(batch.clone()).await?;
/// assert_eq!(state.get_json::<u64>(Space::CHECKPOINTS, "monitor-1").await?, Some(101));
///
/// // The same batch again fails as a whole: the checkpoint moved.
/// assert!(matches!(state.apply(batch).await, Err(StateError::Conflict { .. })));
///
/// // Spaces never meet: the outbox key is not a checkpoint.
/// assert_eq!(state.get(Space::CHECKPOINTS, "monitor-1/101/0").await?, None);
/// let owed = state.scan_prefix(Space::OUTBOX, "monitor-1/", None, 100).await?;
/// assert_eq!(owed.len(), 1);
///
/// // Claims: exactly one caller swaps from "absent".
/// assert!(state.compare_and_swap(Space::DELIVERIES, "d1", None, Some(Bytes::from("me"))).await?);
/// assert!(!state.compare_and_swap(Space::DELIVERIES, "d1", None, Some(Bytes::from("you"))).await?);
/// # Ok::<_, StateError>(()) }).unwrap();
/// ```
#[async_trait]
pub trait StateStore: fmt::Debug + Send + Sync + 'static {
    /// The value of `key` in `space`, or `None`.
    async fn get(&self, space: Space, key: &str) -> Result<Option<Bytes>, StateError>;

    /// Creates or overwrites `key` in `space`. By default, a batch of one [`StateOp::Put`].
    async fn put(&self, space: Space, key: &str, value: Bytes) -> Result<(), StateError> {
        self.apply(vec![StateOp::put(space, key, value)]).await
    }

    /// Removes `key` from `space`; returns whether there was an entry.
    async fn delete(&self, space: Space, key: &str) -> Result<bool, StateError>;

    /// Up to `limit` entries of `space` whose keys start with `prefix` and come after `after`,
    /// sorted by key.
    async fn scan_prefix(
        &self,
        space: Space,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Bytes)>, StateError>;

    /// Carries out a batch atomically (see the trait's contract).
    async fn apply(&self, ops: Vec<StateOp>) -> Result<(), StateError>;

    /// Sets `key` to `new` (`None`: deletes it) if it holds `expected` (`None`: if there is no
    /// entry); returns whether it did. By default, a batch of a [`StateOp::Expect`] and the
    /// write.
    async fn compare_and_swap(
        &self,
        space: Space,
        key: &str,
        expected: Option<Bytes>,
        new: Option<Bytes>,
    ) -> Result<bool, StateError> {
        let write = match new {
            Some(value) => StateOp::put(space, key, value),
            None => StateOp::delete(space, key),
        };
        match self
            .apply(vec![StateOp::expect(space, key, expected), write])
            .await
        {
            Ok(()) => Ok(true),
            Err(StateError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Adds `by` to the counter `key` of `space` and returns its new value.
    async fn increment(&self, space: Space, key: &str, by: u64) -> Result<u64, StateError>;

    /// Acquires the lease `name` for `holder` for `ttl`, unless another holder has it and it
    /// has not expired: `Ok(None)` then. A holder acquiring a lease it still holds keeps its
    /// token and renews it; a new holder gets a larger token than any before (see
    /// [`Lease`]).
    ///
    /// By default, entries `fence/<name>` and `until/<name>` of [`Space::LEASES`] written with
    /// [`apply`](Self::apply), the end measured by the system clock (processes sharing the
    /// store need synchronised clocks); a store with expiring keys overrides the three lease
    /// methods to use them.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StateError> {
        let fence = fence_key(name);
        let until = until_key(name);
        let stored_fence = self.get(Space::LEASES, &fence).await?;
        let stored_until = self.get(Space::LEASES, &until).await?;
        let current = stored_fence
            .as_deref()
            .and_then(|v| Lease::from_fence(name, v));
        let until_ms = stored_until
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
            .unwrap_or(0);
        let now = lease::wall_ms();
        let lease = match lease::decide(current.as_ref(), until_ms, holder, now) {
            lease::Acquire::Busy => return Ok(None),
            lease::Acquire::Keep(lease) => lease,
            lease::Acquire::Take(token) => Lease::new(name, holder, token),
        };
        let end = now.saturating_add(ttl_ms(ttl));
        let batch = vec![
            StateOp::expect(Space::LEASES, fence.clone(), stored_fence),
            StateOp::expect(Space::LEASES, until.clone(), stored_until),
            StateOp::put(Space::LEASES, fence, lease.fence_value()),
            StateOp::put(Space::LEASES, until, Bytes::from(end.to_string())),
        ];
        match self.apply(batch).await {
            Ok(()) => Ok(Some(lease)),
            Err(StateError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Extends a lease held by `lease`'s holder for `ttl` from now; `Ok(false)` when another
    /// holder has acquired it since (an expired lease nobody took is renewed).
    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StateError> {
        let end = lease::wall_ms().saturating_add(ttl_ms(ttl));
        let batch = vec![
            lease.fence(),
            StateOp::put(
                Space::LEASES,
                until_key(lease.name()),
                Bytes::from(end.to_string()),
            ),
        ];
        match self.apply(batch).await {
            Ok(()) => Ok(true),
            Err(StateError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends a lease now, if its holder still has it, so that another process acquires it
    /// without waiting for it to expire. The fence stays, so the next holder's token is
    /// larger.
    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        let batch = vec![
            lease.fence(),
            StateOp::put(Space::LEASES, until_key(lease.name()), Bytes::from("0")),
        ];
        match self.apply(batch).await {
            Ok(()) | Err(StateError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

macro_rules! forward_state_store {
    ($ty:ty) => {
        #[async_trait]
        impl<T: StateStore + ?Sized> StateStore for $ty {
            async fn get(&self, space: Space, key: &str) -> Result<Option<Bytes>, StateError> {
                (**self).get(space, key).await
            }
            async fn put(&self, space: Space, key: &str, value: Bytes) -> Result<(), StateError> {
                (**self).put(space, key, value).await
            }
            async fn delete(&self, space: Space, key: &str) -> Result<bool, StateError> {
                (**self).delete(space, key).await
            }
            async fn scan_prefix(
                &self,
                space: Space,
                prefix: &str,
                after: Option<&str>,
                limit: usize,
            ) -> Result<Vec<(String, Bytes)>, StateError> {
                (**self).scan_prefix(space, prefix, after, limit).await
            }
            async fn apply(&self, ops: Vec<StateOp>) -> Result<(), StateError> {
                (**self).apply(ops).await
            }
            async fn compare_and_swap(
                &self,
                space: Space,
                key: &str,
                expected: Option<Bytes>,
                new: Option<Bytes>,
            ) -> Result<bool, StateError> {
                (**self).compare_and_swap(space, key, expected, new).await
            }
            async fn increment(&self, space: Space, key: &str, by: u64) -> Result<u64, StateError> {
                (**self).increment(space, key, by).await
            }
            async fn acquire_lease(
                &self,
                name: &str,
                holder: &str,
                ttl: Duration,
            ) -> Result<Option<Lease>, StateError> {
                (**self).acquire_lease(name, holder, ttl).await
            }
            async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StateError> {
                (**self).renew_lease(lease, ttl).await
            }
            async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
                (**self).release_lease(lease).await
            }
        }
    };
}

forward_state_store!(Arc<T>);
forward_state_store!(Box<T>);

/// How many entries [`StateStoreExt::scan_all`] asks for at a time.
const SCAN_PAGE: usize = 256;

/// Conveniences on every [`StateStore`], `dyn StateStore` included.
#[async_trait]
pub trait StateStoreExt: StateStore {
    /// The value of `key` decoded from JSON, or `None`; a value that does not decode fails with
    /// [`StateError::Decode`].
    async fn get_json<T: DeserializeOwned + Send>(
        &self,
        space: Space,
        key: &str,
    ) -> Result<Option<T>, StateError> {
        let Some(bytes) = self.get(space, key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Decode {
                space,
                key: key.to_owned(),
                source,
            })
    }

    /// Writes `value` as JSON.
    async fn put_json<T: Serialize + Sync + ?Sized>(
        &self,
        space: Space,
        key: &str,
        value: &T,
    ) -> Result<(), StateError> {
        let bytes = encode_json(space, key, value)?;
        self.put(space, key, bytes).await
    }

    /// Every entry of `space` under `prefix`, sorted, read page by page. Not one snapshot: an
    /// entry written meanwhile may or may not show.
    async fn scan_all(
        &self,
        space: Space,
        prefix: &str,
    ) -> Result<Vec<(String, Bytes)>, StateError> {
        let mut all: Vec<(String, Bytes)> = Vec::new();
        loop {
            let after = all.last().map(|(k, _)| k.as_str());
            let page = self.scan_prefix(space, prefix, after, SCAN_PAGE).await?;
            let done = page.len() < SCAN_PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// The counter `key` (0 when missing) without changing it.
    async fn counter(&self, space: Space, key: &str) -> Result<u64, StateError> {
        match self.get(space, key).await? {
            None => Ok(0),
            Some(value) => decode_counter(&value).ok_or_else(|| StateError::NotACounter {
                space,
                key: key.to_owned(),
            }),
        }
    }
}

impl<S: StateStore + ?Sized> StateStoreExt for S {}

#[cfg(all(test, feature = "conformance"))]
mod conformance_tests {
    use super::*;
    use crate::conformance;

    fn memory() -> Arc<dyn StateStore> {
        Arc::new(MemoryStateStore::default())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_state_store_passes_the_suite() {
        conformance::state::run_suite(|| async { MemoryStateStore::default() }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn state_run_store_on_memory_passes_the_run_suite() {
        conformance::runs::run_suite(|| async { StateRunStore::new(memory()) }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn state_secret_store_on_memory_passes_the_secret_suite() {
        let key = SecretsKey::from_bytes([42; 32]);
        conformance::secrets::run_suite(|| {
            let key = key.clone();
            async move {
                StateSecretStore::open(memory(), &key)
                    .await
                    .expect("open secrets")
            }
        })
        .await;
    }
}

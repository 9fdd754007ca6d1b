//! Durable relayer state: the next nonce and every transaction by id.
//!
//! [`StateRelayerStore`] keeps it in the engine state (a [`StateStore`]), where no action
//! reaches it; [`KvRelayerStore`] is the layout of earlier versions, in the actions' key-value
//! store, which [`StateRelayerStore::with_legacy_kv`] reads once to move a relayer over.

use async_trait::async_trait;
use bytes::Bytes;
use defender_core::state::{
    decode_counter, encode_counter, MemoryStateStore, Space, StateError, StateOp, StateStore,
    StateStoreExt, MAX_COUNTER,
};
use defender_core::wire::RelayerTransaction;
use defender_core::{KvError, KvStore};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

mod state;

pub use state::StateRelayerStore;

/// Errors of every [`RelayerStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key-value backend failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The engine state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Other relayers kept taking the nonce being allocated ([`RelayerStore::allocate_nonce`]).
    #[error("nonce allocation kept conflicting with other relayers")]
    Contended,
    /// Stored data could not be decoded.
    #[error("corrupt relayer state: {0}")]
    Corrupt(String),
}

/// A relayed transaction with what the relayer needs to follow it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredTransaction {
    /// What users see.
    pub tx: RelayerTransaction,
    /// Every hash it was submitted under, oldest first.
    pub hashes: Vec<String>,
    /// The latest signed raw transaction (hex), for rebroadcast.
    #[serde(default)]
    pub raw: Option<String>,
    /// Whether the fees were given by the caller (not priced by speed).
    #[serde(default)]
    pub fixed_fees: bool,
    /// The block it was mined in.
    #[serde(default)]
    pub mined_block: Option<u64>,
    /// It was replaced by a no-op (expiry or cancel) whose mining is still followed.
    #[serde(default)]
    pub noop: bool,
    /// The no-op replacing it is mined (the nonce is used).
    #[serde(default)]
    pub settled: bool,
}

/// Where a relayer keeps its nonce and transactions, so that a restart resumes.
///
/// # Contract
/// - `set_next_nonce`, `allocate_nonce`, `release_nonce` and `put_transaction` are durable
///   when they return `Ok`.
/// - `allocate_nonce(floor)` returns the stored next nonce or `floor`, whichever is higher,
///   and stores the one after it. The default implementation reads then writes: atomic only
///   for one relayer that serialises its calls (as [`RpcRelayer`](crate::RpcRelayer) does).
///   [`StateRelayerStore`] allocates atomically in the store, so relayer instances sharing
///   it never hand out the same nonce.
/// - `release_nonce(n)` gives `n` back (stores `n` as the next nonce) only if nothing was
///   allocated after it, and says whether it did.
/// - `transactions` returns the latest version of every transaction put.
#[async_trait]
pub trait RelayerStore: Debug + Send + Sync + 'static {
    /// The next nonce to use, if one was stored.
    async fn next_nonce(&self) -> Result<Option<u64>, StoreError>;
    /// Stores the next nonce (a resynchronisation with the chain).
    async fn set_next_nonce(&self, nonce: u64) -> Result<(), StoreError>;
    /// Takes the next nonce, at least `floor`, and stores the one after it.
    async fn allocate_nonce(&self, floor: u64) -> Result<u64, StoreError> {
        let nonce = self.next_nonce().await?.unwrap_or(0).max(floor);
        let after = nonce
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt(format!("nonce {nonce} has no successor")))?;
        self.set_next_nonce(after).await?;
        Ok(nonce)
    }
    /// Gives `nonce` back if it is the last one allocated.
    async fn release_nonce(&self, nonce: u64) -> Result<bool, StoreError> {
        if self.next_nonce().await? != nonce.checked_add(1) {
            return Ok(false);
        }
        self.set_next_nonce(nonce).await?;
        Ok(true)
    }
    /// Creates or overwrites a transaction.
    async fn put_transaction(&self, tx: &StoredTransaction) -> Result<(), StoreError>;
    /// Every transaction.
    async fn transactions(&self) -> Result<Vec<StoredTransaction>, StoreError>;

    /// Every transaction whose id `known` does not accept (those a relayer instance does not
    /// hold yet), without decoding the others where the store can tell ids apart first.
    async fn transactions_unknown(
        &self,
        known: &(dyn for<'k> Fn(&'k str) -> bool + Send + Sync),
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        let mut all = self.transactions().await?;
        all.retain(|t| !known(&t.tx.transaction_id));
        Ok(all)
    }

    /// One transaction by id. By default, looked up in [`transactions`](Self::transactions).
    async fn transaction(&self, id: &str) -> Result<Option<StoredTransaction>, StoreError> {
        Ok(self
            .transactions()
            .await?
            .into_iter()
            .find(|t| t.tx.transaction_id == id))
    }

    /// Reserves the next nonce (at least `floor`) for a new transaction, which
    /// [`commit_new`](Self::commit_new) then stores. By default the nonce is taken at once
    /// ([`allocate_nonce`](Self::allocate_nonce)).
    async fn reserve_nonce(&self, floor: u64) -> Result<NonceReservation, StoreError> {
        Ok(NonceReservation::Taken(self.allocate_nonce(floor).await?))
    }

    /// Stores a new transaction signed at a reserved nonce; for a reservation not yet taken,
    /// takes the nonce in the same atomic step, or returns `Ok(false)` (nothing written) when
    /// another relayer took it meanwhile: reserve again. So no crash can leave a nonce taken
    /// without its transaction (a gap no one would fill).
    async fn commit_new(
        &self,
        reservation: &NonceReservation,
        tx: &StoredTransaction,
    ) -> Result<bool, StoreError> {
        let _ = reservation;
        self.put_transaction(tx).await?;
        Ok(true)
    }

    /// The stored next nonce (0 when none is stored), read for
    /// [`commit_resynced`](Self::commit_resynced), which checks it is unchanged. By default a
    /// plain read.
    async fn read_nonce(&self) -> Result<NonceReservation, StoreError> {
        Ok(NonceReservation::IfUnchanged {
            nonce: self.next_nonce().await?.unwrap_or(0),
            stored: None,
        })
    }

    /// Stores `next` as the next nonce, and `tx` (if given) with it, provided the stored next
    /// nonce is still the one [`read_nonce`](Self::read_nonce) returned as `read`; `Ok(false)`
    /// (nothing written) when another relayer moved it meanwhile: read again. This is how a
    /// resynchronisation with the chain moves the nonce, down too, without handing out a nonce
    /// another relayer took in between. By default unconditional: for one relayer that
    /// serialises its calls.
    async fn commit_resynced(
        &self,
        read: &NonceReservation,
        next: u64,
        tx: Option<&StoredTransaction>,
    ) -> Result<bool, StoreError> {
        let _ = read;
        if let Some(tx) = tx {
            self.put_transaction(tx).await?;
        }
        self.set_next_nonce(next).await?;
        Ok(true)
    }

    /// Whether this relayer instance is to run the lifecycle (follow, resubmit, expire) now,
    /// for at least `ttl`: with a store shared by several processes, one instance at a time.
    /// By default always (one instance per store).
    async fn lifecycle_turn(&self, ttl: Duration) -> Result<bool, StoreError> {
        let _ = ttl;
        Ok(true)
    }
}

/// A nonce reserved by [`RelayerStore::reserve_nonce`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonceReservation {
    /// Taken already: [`RelayerStore::commit_new`] only stores the transaction.
    Taken(u64),
    /// Free while the stored next nonce is still `stored` (`None`: not stored yet):
    /// [`RelayerStore::commit_new`] takes it with the transaction.
    IfUnchanged {
        /// The nonce.
        nonce: u64,
        /// The stored next nonce it was read from.
        stored: Option<Bytes>,
    },
}

impl NonceReservation {
    /// The reserved nonce.
    pub fn nonce(&self) -> u64 {
        match self {
            NonceReservation::Taken(n) | NonceReservation::IfUnchanged { nonce: n, .. } => *n,
        }
    }
}

/// State in memory: lost on restart.
#[derive(Debug, Default)]
pub struct InMemoryRelayerStore {
    state: Mutex<(Option<u64>, HashMap<String, StoredTransaction>)>,
}

#[async_trait]
impl RelayerStore for InMemoryRelayerStore {
    async fn next_nonce(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.state.lock().await.0)
    }
    async fn set_next_nonce(&self, nonce: u64) -> Result<(), StoreError> {
        self.state.lock().await.0 = Some(nonce);
        Ok(())
    }
    async fn put_transaction(&self, tx: &StoredTransaction) -> Result<(), StoreError> {
        self.state
            .lock()
            .await
            .1
            .insert(tx.tx.transaction_id.clone(), tx.clone());
        Ok(())
    }
    async fn transactions(&self) -> Result<Vec<StoredTransaction>, StoreError> {
        Ok(self.state.lock().await.1.values().cloned().collect())
    }
}

/// State in a [`KvStore`] under `relayer/<relayer id>/`: `nonce` and `tx/<transaction id>`:
/// the layout of earlier versions. A key-value store that actions share lets any action
/// overwrite it and its quota stall the relayer: use [`StateRelayerStore`] (which reads this
/// layout once, with [`StateRelayerStore::with_legacy_kv`]).
#[derive(Debug, Clone)]
pub struct KvRelayerStore {
    kv: Arc<dyn KvStore>,
    prefix: String,
}

impl KvRelayerStore {
    /// State of relayer `relayer_id` in `kv`.
    pub fn new(kv: Arc<dyn KvStore>, relayer_id: &str) -> Self {
        KvRelayerStore {
            kv,
            prefix: format!("relayer/{relayer_id}/"),
        }
    }
}

#[async_trait]
impl RelayerStore for KvRelayerStore {
    async fn next_nonce(&self) -> Result<Option<u64>, StoreError> {
        match self.kv.get(&format!("{}nonce", self.prefix)).await? {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| StoreError::Corrupt(format!("nonce `{s}`"))),
        }
    }
    async fn set_next_nonce(&self, nonce: u64) -> Result<(), StoreError> {
        Ok(self
            .kv
            .put(&format!("{}nonce", self.prefix), &nonce.to_string())
            .await?)
    }
    async fn put_transaction(&self, tx: &StoredTransaction) -> Result<(), StoreError> {
        let json = serde_json::to_string(tx).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(self
            .kv
            .put(
                &format!("{}tx/{}", self.prefix, tx.tx.transaction_id),
                &json,
            )
            .await?)
    }
    async fn transactions(&self) -> Result<Vec<StoredTransaction>, StoreError> {
        let prefix = format!("{}tx/", self.prefix);
        let mut out = Vec::new();
        for key in self.kv.list(&prefix).await? {
            if let Some(v) = self.kv.get(&key).await? {
                out.push(
                    serde_json::from_str(&v)
                        .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?,
                );
            }
        }
        Ok(out)
    }
}

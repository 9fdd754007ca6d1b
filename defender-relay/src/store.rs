//! Durable relayer state: the next nonce and every transaction by id.

use async_trait::async_trait;
use defender_core::wire::RelayerTransaction;
use defender_core::{KvError, KvStore};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Errors of every [`RelayerStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key-value backend failed.
    #[error(transparent)]
    Kv(#[from] KvError),
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
/// - `set_next_nonce` and `put_transaction` are durable when they return `Ok`.
/// - `transactions` returns the latest version of every transaction put.
#[async_trait]
pub trait RelayerStore: Debug + Send + Sync + 'static {
    /// The next nonce to use, if one was stored.
    async fn next_nonce(&self) -> Result<Option<u64>, StoreError>;
    /// Stores the next nonce.
    async fn set_next_nonce(&self, nonce: u64) -> Result<(), StoreError>;
    /// Creates or overwrites a transaction.
    async fn put_transaction(&self, tx: &StoredTransaction) -> Result<(), StoreError>;
    /// Every transaction.
    async fn transactions(&self) -> Result<Vec<StoredTransaction>, StoreError>;
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

/// State in a [`KvStore`] under `relayer/<relayer id>/`: `nonce` and `tx/<transaction id>`.
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

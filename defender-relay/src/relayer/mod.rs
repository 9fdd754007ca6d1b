//! The relayer: [`RpcRelayer`] over JSON-RPC, with durable nonces and a background
//! lifecycle.
//!
//! - `config`: [`RelayerConfig`] and [`ResubmitAfter`].
//! - `fees`: market fees by speed, bumps, the cap, worst-case costs.
//! - `policy`: paused, whitelist, gas price cap and funds checks.
//! - `cache`: the write-through cache of every transaction.
//! - `signing`: transactions, EIP-191 messages and EIP-712 digests.
//! - `submission`: nonces, new transactions, their first broadcast, replacements.
//! - `lifecycle`: the pure transition function of a transaction's life.
//! - `poll`: the background pass that observes the chain and carries the transitions out.
//! - `balance`: the `min-balance` watch and its low-balance alert.
//! - `group`: relayer groups, several relayers behind one id.

mod balance;
mod cache;
mod config;
mod fees;
mod group;
mod lifecycle;
mod policy;
mod poll;
mod signing;
mod submission;

pub use balance::{
    balance_change, low_balance_message, BalanceChange, BalanceWatch, BalanceWatchConfig,
};
pub use config::{RelayerConfig, ResubmitAfter};
pub use group::{pick_member, GroupMember, GroupNotifications, MemberLoad, RelayerGroup};
pub use signing::{eip712_digest, message_bytes};

use crate::hex::{field, u256_of, u64_of};
use crate::rpc::{RpcClient, RpcError};
use crate::signer::RelayerSigner;
use crate::store::{RelayerStore, StoredTransaction};
use alloy_primitives::{Address, U256};
use async_trait::async_trait;
use cache::{fresher, TxCache};
use chrono::{DateTime, Utc};
use defender_core::wire::{
    ListTransactionsQuery, Quantity, RelayerInfo, RelayerStatus, RelayerTransaction,
    SignMessagePayload, SignTypedDataPayload, SignedMessage, Speed, TxRequest, TxStatus,
};
use defender_core::{Clock, Relayer, RelayerError, SystemClock};
use fees::Fees;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;
use tokio::sync::{broadcast, Mutex};

/// A node's JSON-RPC error as is; transport trouble as `Unavailable`, with its source.
fn rpc_to_relayer(e: RpcError) -> RelayerError {
    match e {
        RpcError::Rpc {
            code,
            message,
            data,
        } => RelayerError::Rpc {
            code,
            message,
            data,
        },
        other => RelayerError::Unavailable {
            source: Box::new(other),
        },
    }
}

/// A store failure as `Unavailable`, with its source.
fn store_err(e: crate::store::StoreError) -> RelayerError {
    RelayerError::Unavailable {
        source: Box::new(e),
    }
}

/// A relayer over JSON-RPC: Defender's relayer surface, with durable nonces and a background
/// task that follows, resubmits and expires transactions.
///
/// Built with [`RpcRelayer::start`]; the background task stops when the relayer is dropped or
/// [`RpcRelayer::shutdown`] is called.
#[derive(Debug)]
pub struct RpcRelayer {
    shared: Arc<Shared>,
    task: StdMutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What the relayer's handle and its background task share.
#[derive(Debug)]
struct Shared {
    config: RelayerConfig,
    rpc: RpcClient,
    /// Where private transactions are broadcast (`RelayerConfig::private_url`).
    private_rpc: Option<RpcClient>,
    signer: RelayerSigner,
    address: Address,
    store: Arc<dyn RelayerStore>,
    clock: Arc<dyn Clock>,
    chain_id: u64,
    eip1559: bool,
    /// The next nonce; held while a nonce is allocated, signed and stored.
    nonce: Mutex<u64>,
    /// Every transaction, by id (a write-through cache of the store).
    txs: StdMutex<TxCache>,
    /// Serialises writes of transactions to the store.
    writes: Mutex<()>,
    /// Serialises changes of existing transactions (replace, cancel, lifecycle).
    ops: Mutex<()>,
    events: broadcast::Sender<RelayerTransaction>,
    fee_cache: StdMutex<HashMap<Option<Speed>, (Instant, Fees)>>,
    /// Held while market fees are looked up, so that one lookup serves every waiting sender.
    fee_lookup: Mutex<()>,
    balance_cache: StdMutex<Option<(Instant, U256)>>,
}

impl Drop for RpcRelayer {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }
}

impl RpcRelayer {
    /// Connects, loads the durable state, resynchronises the nonce with the chain, and starts
    /// the background task. Uses the system clock.
    pub async fn start(
        config: RelayerConfig,
        signer: impl Into<RelayerSigner>,
        store: Arc<dyn RelayerStore>,
    ) -> Result<Self, RelayerError> {
        Self::start_with_clock(config, signer, store, Arc::new(SystemClock)).await
    }

    /// [`RpcRelayer::start`] with a clock (tests move time to expire transactions).
    pub async fn start_with_clock(
        config: RelayerConfig,
        signer: impl Into<RelayerSigner>,
        store: Arc<dyn RelayerStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RelayerError> {
        let signer = signer.into();
        let rpc = RpcClient::new(config.urls.clone(), config.retry.clone())
            .map_err(|e| RelayerError::Configuration(e.to_string()))?;
        let private_rpc = match &config.private_url {
            Some(url) => Some(
                RpcClient::new(vec![url.clone()], config.retry.clone())
                    .map_err(|e| RelayerError::Configuration(e.to_string()))?,
            ),
            None => None,
        };
        let chain_id = match config.chain_id {
            Some(c) => c,
            None => {
                let v = rpc
                    .request("eth_chainId", json!([]))
                    .await
                    .map_err(rpc_to_relayer)?;
                u64_of(&v).ok_or_else(|| RelayerError::Configuration("bad chain id".into()))?
            }
        };
        let eip1559 = match config.eip1559 {
            Some(e) => e,
            None => {
                let b = rpc
                    .request("eth_getBlockByNumber", json!(["latest", false]))
                    .await
                    .map_err(rpc_to_relayer)?;
                field(&b, "baseFeePerGas").is_some()
            }
        };
        let address = signer.address();
        let stored = store.transactions().await.map_err(store_err)?;
        let txs: HashMap<String, StoredTransaction> = stored
            .into_iter()
            .map(|t| (t.tx.transaction_id.clone(), t))
            .collect();
        let (events, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            config,
            rpc,
            private_rpc,
            signer,
            address,
            store,
            clock,
            chain_id,
            eip1559,
            nonce: Mutex::new(0),
            txs: StdMutex::new(TxCache::from_map(txs)),
            writes: Mutex::new(()),
            ops: Mutex::new(()),
            events,
            fee_cache: StdMutex::new(HashMap::new()),
            fee_lookup: Mutex::new(()),
            balance_cache: StdMutex::new(None),
        });
        {
            let mut next = shared.nonce.lock().await;
            let stored_next = shared.store.next_nonce().await.map_err(store_err)?;
            // The chain and every instance's in-flight transactions decide, down too (nonces
            // stored and no longer in flight, such as ones a node dropped); conditional on no
            // other instance taking a nonce meanwhile.
            let synced = shared.resync_nonce(None).await?;
            *next = synced;
            if stored_next.is_some_and(|s| s != synced) {
                tracing::info!(stored = ?stored_next, synced, "relayer nonce resynchronised");
            }
        }
        let weak = Arc::downgrade(&shared);
        let interval = shared.config.poll_interval;
        let task = tokio::spawn(async move {
            let mut turn = false;
            loop {
                tokio::time::sleep(interval).await;
                let Some(s) = weak.upgrade() else { return };
                if let Err(e) = s.lifecycle_pass(&mut turn).await {
                    tracing::warn!(error = %e, "relayer lifecycle tick failed");
                }
            }
        });
        Ok(RpcRelayer {
            shared,
            task: StdMutex::new(Some(task)),
        })
    }

    /// Stops the background task.
    pub fn shutdown(&self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }

    /// Status changes of every transaction, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<RelayerTransaction> {
        self.shared.events.subscribe()
    }

    /// The relayer's address.
    pub fn address(&self) -> Address {
        self.shared.address
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.shared.chain_id
    }

    /// The JSON-RPC client.
    pub fn rpc(&self) -> &RpcClient {
        &self.shared.rpc
    }

    /// Every hash a transaction was submitted under, oldest first.
    pub fn transaction_hashes(&self, id: &str) -> Option<Vec<String>> {
        self.shared.get(id).map(|t| t.hashes)
    }

    /// The next nonce the relayer will use.
    pub async fn next_nonce(&self) -> u64 {
        *self.shared.nonce.lock().await
    }

    /// Runs one pass of the lifecycle now (the background task does it every poll interval).
    pub async fn poll_now(&self) -> Result<(), RelayerError> {
        self.shared.tick().await
    }
}

impl Shared {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn rpc(&self, method: &str, params: Value) -> Result<Value, RelayerError> {
        self.rpc
            .request(method, params)
            .await
            .map_err(rpc_to_relayer)
    }
}

#[async_trait]
impl Relayer for RpcRelayer {
    async fn send_transaction(&self, tx: TxRequest) -> Result<RelayerTransaction, RelayerError> {
        self.shared.send(tx).await
    }

    /// From the store, where every instance sharing it keeps its transactions (with this
    /// instance's own view when it is fresher).
    async fn get_transaction(&self, id: &str) -> Result<RelayerTransaction, RelayerError> {
        let stored = self.shared.store.transaction(id).await.map_err(store_err)?;
        fresher(self.shared.get(id), stored)
            .map(|t| t.tx)
            .ok_or_else(|| RelayerError::NotFound(id.to_string()))
    }

    async fn list_transactions(
        &self,
        query: ListTransactionsQuery,
    ) -> Result<Vec<RelayerTransaction>, RelayerError> {
        let mut all: HashMap<String, StoredTransaction> = self
            .shared
            .store
            .transactions()
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|t| (t.tx.transaction_id.clone(), t))
            .collect();
        for mine in self.shared.all() {
            let stored = all.remove(&mine.tx.transaction_id);
            if let Some(t) = fresher(Some(mine), stored) {
                all.insert(t.tx.transaction_id.clone(), t);
            }
        }
        let mut out: Vec<RelayerTransaction> = all
            .into_values()
            .map(|t| t.tx)
            .filter(|t| match query.status {
                None => true,
                Some(TxStatus::Pending) => t.status.is_in_flight(),
                Some(s) => t.status == s,
            })
            .filter(|t| query.since.is_none_or(|s| t.created_at >= s))
            .collect();
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.nonce.cmp(&a.nonce))
        });
        if let Some(l) = query.limit {
            out.truncate(l as usize);
        }
        Ok(out)
    }

    async fn replace_transaction_by_id(
        &self,
        id: &str,
        tx: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError> {
        self.shared.replace(id, Some(tx)).await
    }

    async fn replace_transaction_by_nonce(
        &self,
        nonce: u64,
        tx: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError> {
        let found = self
            .shared
            .all()
            .into_iter()
            .filter(|t| t.tx.nonce == nonce)
            .max_by_key(|t| (t.tx.status.is_in_flight(), t.tx.created_at));
        match found {
            Some(t) => self.shared.replace(&t.tx.transaction_id, Some(tx)).await,
            None => Err(RelayerError::NotFound(format!("nonce {nonce}"))),
        }
    }

    async fn cancel_transaction_by_id(&self, id: &str) -> Result<RelayerTransaction, RelayerError> {
        self.shared.replace(id, None).await
    }

    async fn get_relayer(&self) -> Result<RelayerInfo, RelayerError> {
        let c = &self.shared.config;
        Ok(RelayerInfo {
            relayer_id: c.relayer_id.clone(),
            name: c.name.clone(),
            address: self.shared.address.to_checksum(None),
            network: c.network.clone(),
            paused: c.paused,
        })
    }

    async fn get_relayer_status(&self) -> Result<RelayerStatus, RelayerError> {
        let v = self
            .shared
            .rpc("eth_getBalance", json!([self.shared.address, "latest"]))
            .await?;
        let pending = self
            .shared
            .all()
            .iter()
            .filter(|t| t.tx.status.is_in_flight())
            .count() as u64;
        Ok(RelayerStatus {
            relayer_id: self.shared.config.relayer_id.clone(),
            address: self.shared.address.to_checksum(None),
            nonce: self.next_nonce().await,
            balance: Quantity(u256_of(&v).unwrap_or_default()),
            number_of_pending_transactions: pending,
            paused: self.shared.config.paused,
        })
    }

    async fn sign(&self, payload: SignMessagePayload) -> Result<SignedMessage, RelayerError> {
        self.shared.sign_message(payload).await
    }

    async fn sign_typed_data(
        &self,
        payload: SignTypedDataPayload,
    ) -> Result<SignedMessage, RelayerError> {
        self.shared.sign_typed_data(payload).await
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, RelayerError> {
        self.shared.rpc(method, params).await
    }
}

//! The relayer: pricing, nonces, policies, signing and the background lifecycle.

use crate::hex::{field, quantity, u128_of, u256_of, u64_of};
use crate::rpc::{RetryConfig, RpcClient, RpcError};
use crate::signer::Signer;
use crate::store::{RelayerStore, StoredTransaction};
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, Signature, TxKind, B256, U256};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use defender_core::wire::{
    ListTransactionsQuery, PricingStyle, Quantity, RelayerInfo, RelayerStatus, RelayerTransaction,
    SignMessagePayload, SignTypedDataPayload, SignedMessage, Speed, TxRequest, TxStatus,
};
use defender_core::{Clock, Relayer, RelayerError, SystemClock};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, Mutex};

/// How long an unmined transaction waits before it is resubmitted with higher fees, by speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResubmitAfter {
    /// For `safeLow`.
    pub safe_low: Duration,
    /// For `average`.
    pub average: Duration,
    /// For `fast` and for caller-priced transactions.
    pub fast: Duration,
    /// For `fastest`.
    pub fastest: Duration,
}

impl Default for ResubmitAfter {
    fn default() -> Self {
        ResubmitAfter {
            safe_low: Duration::from_secs(600),
            average: Duration::from_secs(300),
            fast: Duration::from_secs(120),
            fastest: Duration::from_secs(60),
        }
    }
}

impl ResubmitAfter {
    /// The same wait for every speed.
    pub fn all(d: Duration) -> Self {
        ResubmitAfter {
            safe_low: d,
            average: d,
            fast: d,
            fastest: d,
        }
    }

    fn of(&self, speed: Option<Speed>) -> Duration {
        match speed {
            Some(Speed::SafeLow) => self.safe_low,
            Some(Speed::Average) => self.average,
            Some(Speed::Fastest) => self.fastest,
            Some(Speed::Fast) | None => self.fast,
        }
    }
}

/// A relayer's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayerConfig {
    /// The relayer's id (also the namespace of its durable state).
    pub relayer_id: String,
    /// Its name.
    pub name: String,
    /// Its network's name.
    pub network: String,
    /// JSON-RPC URLs of the network, in order of preference.
    pub urls: Vec<String>,
    /// Retries and failover.
    pub retry: RetryConfig,
    /// The chain id; asked from the node when `None`.
    pub chain_id: Option<u64>,
    /// Whether to send EIP-1559 transactions; detected from the latest block when `None`.
    pub eip1559: Option<bool>,
    /// Blocks on top of the mining block before a transaction is `confirmed` (default 12).
    pub confirmations: u64,
    /// How often the background task checks transactions.
    pub poll_interval: Duration,
    /// When unmined transactions are resubmitted.
    pub resubmit_after: ResubmitAfter,
    /// Margin added to estimated gas limits, in percent (default 20).
    pub gas_limit_margin_percent: u64,
    /// Lowest priority fee paid when pricing by speed, in wei.
    pub min_priority_fee: u128,
    /// Highest gas price (or fee cap) paid, in wei; no-op replacements may exceed it.
    pub gas_price_cap: Option<u128>,
    /// When set, only these receivers are allowed.
    pub whitelist: Option<Vec<Address>>,
    /// A paused relayer refuses to send.
    pub paused: bool,
    /// How long a fee estimate is reused.
    pub fee_cache_ttl: Duration,
    /// How long a balance reading is reused by the funds check.
    pub balance_cache_ttl: Duration,
}

impl RelayerConfig {
    /// Defaults for relayer `relayer_id` over `urls`.
    pub fn new(relayer_id: impl Into<String>, urls: Vec<String>) -> Self {
        let relayer_id = relayer_id.into();
        RelayerConfig {
            name: relayer_id.clone(),
            relayer_id,
            network: "unknown".into(),
            urls,
            retry: RetryConfig::default(),
            chain_id: None,
            eip1559: None,
            confirmations: 12,
            poll_interval: Duration::from_secs(2),
            resubmit_after: ResubmitAfter::default(),
            gas_limit_margin_percent: 20,
            min_priority_fee: 1_000_000_000,
            gas_price_cap: None,
            whitelist: None,
            paused: false,
            fee_cache_ttl: Duration::from_secs(1),
            balance_cache_ttl: Duration::from_secs(1),
        }
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the network name.
    pub fn with_network(mut self, network: impl Into<String>) -> Self {
        self.network = network.into();
        self
    }
    /// Sets the retry settings.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }
    /// Sets the number of confirmations.
    pub fn with_confirmations(mut self, n: u64) -> Self {
        self.confirmations = n;
        self
    }
    /// Sets the background poll interval.
    pub fn with_poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }
    /// Sets when transactions are resubmitted.
    pub fn with_resubmit_after(mut self, r: ResubmitAfter) -> Self {
        self.resubmit_after = r;
        self
    }
    /// Sets the gas price cap.
    pub fn with_gas_price_cap(mut self, cap: Option<u128>) -> Self {
        self.gas_price_cap = cap;
        self
    }
    /// Sets the receiver whitelist.
    pub fn with_whitelist(mut self, w: Option<Vec<Address>>) -> Self {
        self.whitelist = w;
        self
    }
    /// Sets whether EIP-1559 is used (`None`: detect).
    pub fn with_eip1559(mut self, e: Option<bool>) -> Self {
        self.eip1559 = e;
        self
    }
    /// Sets the lowest priority fee.
    pub fn with_min_priority_fee(mut self, wei: u128) -> Self {
        self.min_priority_fee = wei;
        self
    }
    /// Pauses or resumes.
    pub fn with_paused(mut self, paused: bool) -> Self {
        self.paused = paused;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fees {
    Legacy(u128),
    Eip1559 { max: u128, prio: u128 },
}

impl Fees {
    fn max_price(self) -> u128 {
        match self {
            Fees::Legacy(p) => p,
            Fees::Eip1559 { max, .. } => max,
        }
    }

    fn of(tx: &RelayerTransaction) -> Option<Fees> {
        match (
            tx.gas_price,
            tx.max_fee_per_gas,
            tx.max_priority_fee_per_gas,
        ) {
            (Some(p), _, _) => Some(Fees::Legacy(p)),
            (None, Some(max), Some(prio)) => Some(Fees::Eip1559 { max, prio }),
            _ => None,
        }
    }

    fn apply(self, tx: &mut RelayerTransaction) {
        match self {
            Fees::Legacy(p) => {
                tx.gas_price = Some(p);
                tx.max_fee_per_gas = None;
                tx.max_priority_fee_per_gas = None;
            }
            Fees::Eip1559 { max, prio } => {
                tx.gas_price = None;
                tx.max_fee_per_gas = Some(max);
                tx.max_priority_fee_per_gas = Some(prio);
            }
        }
    }

    /// At least +10% over `self` on every component, and at least `market`.
    fn bumped(self, market: Fees) -> Fees {
        let up = |x: u128| x.saturating_add(x / 10).saturating_add(1);
        match (self, market) {
            (Fees::Legacy(old), Fees::Legacy(m)) => Fees::Legacy(up(old).max(m)),
            (Fees::Eip1559 { max, prio }, Fees::Eip1559 { max: mm, prio: mp }) => {
                let prio = up(prio).max(mp);
                Fees::Eip1559 {
                    max: up(max).max(mm).max(prio),
                    prio,
                }
            }
            (Fees::Legacy(old), _) => Fees::Legacy(up(old).max(market.max_price())),
            (Fees::Eip1559 { max, prio }, Fees::Legacy(m)) => {
                let prio = up(prio);
                Fees::Eip1559 {
                    max: up(max).max(m).max(prio),
                    prio,
                }
            }
        }
    }

    fn capped(self, cap: Option<u128>) -> Fees {
        let Some(cap) = cap else { return self };
        match self {
            Fees::Legacy(p) => Fees::Legacy(p.min(cap)),
            Fees::Eip1559 { max, prio } => {
                let max = max.min(cap);
                Fees::Eip1559 {
                    max,
                    prio: prio.min(max),
                }
            }
        }
    }
}

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

fn store_err(e: crate::store::StoreError) -> RelayerError {
    RelayerError::Unavailable {
        source: Box::new(e),
    }
}

/// Every transaction by id, with the set still followed by the lifecycle and the worst-case
/// cost of those in flight.
#[derive(Debug, Default)]
struct TxCache {
    map: HashMap<String, StoredTransaction>,
    live: HashSet<String>,
    inflight_cost: U256,
}

impl TxCache {
    fn from_map(map: HashMap<String, StoredTransaction>) -> Self {
        let mut c = TxCache::default();
        for (_, rec) in map {
            c.insert(rec);
        }
        c
    }

    fn is_live(t: &StoredTransaction) -> bool {
        t.tx.status.is_in_flight() || t.tx.status == TxStatus::Mined || (t.noop && !t.settled)
    }

    fn in_flight_cost(t: &StoredTransaction) -> U256 {
        if t.tx.status.is_in_flight() {
            Shared::cost(&t.tx)
        } else {
            U256::ZERO
        }
    }

    /// Inserts; returns whether the status or hash changed.
    fn insert(&mut self, rec: StoredTransaction) -> bool {
        let id = rec.tx.transaction_id.clone();
        if TxCache::is_live(&rec) {
            self.live.insert(id.clone());
        } else {
            self.live.remove(&id);
        }
        self.inflight_cost += TxCache::in_flight_cost(&rec);
        match self.map.insert(id, rec) {
            Some(old) => {
                self.inflight_cost = self
                    .inflight_cost
                    .saturating_sub(TxCache::in_flight_cost(&old));
                let new = self.map.get(&old.tx.transaction_id);
                new.is_none_or(|n| n.tx.status != old.tx.status || n.tx.hash != old.tx.hash)
            }
            None => true,
        }
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

#[derive(Debug)]
struct Shared {
    config: RelayerConfig,
    rpc: RpcClient,
    signer: Arc<dyn Signer>,
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
        signer: Arc<dyn Signer>,
        store: Arc<dyn RelayerStore>,
    ) -> Result<Self, RelayerError> {
        Self::start_with_clock(config, signer, store, Arc::new(SystemClock)).await
    }

    /// [`RpcRelayer::start`] with a clock (tests move time to expire transactions).
    pub async fn start_with_clock(
        config: RelayerConfig,
        signer: Arc<dyn Signer>,
        store: Arc<dyn RelayerStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RelayerError> {
        let rpc = RpcClient::new(config.urls.clone(), config.retry.clone())
            .map_err(|e| RelayerError::Configuration(e.to_string()))?;
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
            balance_cache: StdMutex::new(None),
        });
        {
            let mut next = shared.nonce.lock().await;
            let stored_next = shared.store.next_nonce().await.map_err(store_err)?;
            let synced = shared.synced_nonce(None).await?;
            *next = synced;
            if stored_next.is_some_and(|s| s != synced) {
                tracing::info!(stored = ?stored_next, synced, "relayer nonce resynchronised");
            }
            shared
                .store
                .set_next_nonce(synced)
                .await
                .map_err(store_err)?;
        }
        let weak = Arc::downgrade(&shared);
        let interval = shared.config.poll_interval;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(s) = weak.upgrade() else { return };
                if let Err(e) = s.tick().await {
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

    fn get(&self, id: &str) -> Option<StoredTransaction> {
        self.txs.lock().ok()?.map.get(id).cloned()
    }

    fn all(&self) -> Vec<StoredTransaction> {
        self.txs
            .lock()
            .map(|m| m.map.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stores a new version of a transaction and tells subscribers when its status changed.
    async fn save(&self, rec: StoredTransaction) -> Result<(), RelayerError> {
        self.save_with(rec, true).await
    }

    /// Like [`Shared::save`]; with `persist` false only the cache changes (for transitions a
    /// restart may lose, such as `sent` to `submitted`).
    async fn save_with(&self, rec: StoredTransaction, persist: bool) -> Result<(), RelayerError> {
        let _w = self.writes.lock().await;
        if persist {
            self.store.put_transaction(&rec).await.map_err(store_err)?;
        }
        let changed = match self.txs.lock() {
            Ok(mut c) => c.insert(rec.clone()),
            Err(_) => true,
        };
        if changed {
            let _ = self.events.send(rec.tx);
        }
        Ok(())
    }

    async fn rpc(&self, method: &str, params: Value) -> Result<Value, RelayerError> {
        self.rpc
            .request(method, params)
            .await
            .map_err(rpc_to_relayer)
    }

    /// The nonce to continue from: the chain's pending count, above every in-flight nonce
    /// (except `excluding`'s).
    async fn synced_nonce(&self, excluding: Option<&str>) -> Result<u64, RelayerError> {
        let v = self
            .rpc("eth_getTransactionCount", json!([self.address, "pending"]))
            .await?;
        let chain = u64_of(&v).ok_or_else(|| RelayerError::Rpc {
            code: 0,
            message: "bad transaction count".into(),
            data: None,
        })?;
        let inflight = self
            .live()
            .into_iter()
            .filter(|t| Some(t.tx.transaction_id.as_str()) != excluding)
            .filter(|t| t.tx.status.is_in_flight() || (t.noop && !t.settled))
            .map(|t| t.tx.nonce + 1)
            .max()
            .unwrap_or(0);
        Ok(chain.max(inflight))
    }

    async fn market_fees(&self, speed: Option<Speed>) -> Result<Fees, RelayerError> {
        let ttl = self.config.fee_cache_ttl;
        if let Some((at, f)) = self
            .fee_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&speed).copied())
        {
            if at.elapsed() < ttl {
                return Ok(f);
            }
        }
        let fees = self.fetch_fees(speed.unwrap_or_default()).await?;
        if let Ok(mut c) = self.fee_cache.lock() {
            c.insert(speed, (Instant::now(), fees));
        }
        Ok(fees)
    }

    async fn fetch_fees(&self, speed: Speed) -> Result<Fees, RelayerError> {
        let min_tip = self.config.min_priority_fee;
        if self.eip1559 {
            let pct = [10.0, 50.0, 75.0, 95.0];
            let idx = match speed {
                Speed::SafeLow => 0,
                Speed::Average => 1,
                Speed::Fast => 2,
                Speed::Fastest => 3,
            };
            let h = self
                .rpc("eth_feeHistory", json!([quantity(10u64), "latest", pct]))
                .await?;
            let base = field(&h, "baseFeePerGas")
                .and_then(Value::as_array)
                .and_then(|a| a.last())
                .and_then(u128_of)
                .unwrap_or_default();
            let mut tips: Vec<u128> = field(&h, "reward")
                .and_then(Value::as_array)
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| r.as_array()?.get(idx).and_then(u128_of))
                        .collect()
                })
                .unwrap_or_default();
            tips.sort_unstable();
            let tip = tips.get(tips.len() / 2).copied().unwrap_or(0).max(min_tip);
            Ok(Fees::Eip1559 {
                max: base.saturating_mul(2).saturating_add(tip),
                prio: tip,
            })
        } else {
            let v = self.rpc("eth_gasPrice", json!([])).await?;
            let p = u128_of(&v).unwrap_or_default();
            let pct: u128 = match speed {
                Speed::SafeLow => 100,
                Speed::Average => 110,
                Speed::Fast => 125,
                Speed::Fastest => 150,
            };
            Ok(Fees::Legacy((p.saturating_mul(pct) / 100).max(min_tip)))
        }
    }

    async fn balance(&self) -> Result<U256, RelayerError> {
        if let Some((at, b)) = self.balance_cache.lock().ok().and_then(|c| *c) {
            if at.elapsed() < self.config.balance_cache_ttl {
                return Ok(b);
            }
        }
        let v = self
            .rpc("eth_getBalance", json!([self.address, "latest"]))
            .await?;
        let b = u256_of(&v).unwrap_or_default();
        if let Ok(mut c) = self.balance_cache.lock() {
            *c = Some((Instant::now(), b));
        }
        Ok(b)
    }

    fn cost(tx: &RelayerTransaction) -> U256 {
        let price = Fees::of(tx).map(Fees::max_price).unwrap_or_default();
        U256::from(tx.gas_limit) * U256::from(price) + tx.value.0
    }

    fn pending_cost(&self) -> U256 {
        self.txs.lock().map(|c| c.inflight_cost).unwrap_or_default()
    }

    /// Transactions that still need the lifecycle's attention.
    fn live(&self) -> Vec<StoredTransaction> {
        self.txs
            .lock()
            .map(|c| {
                c.live
                    .iter()
                    .filter_map(|id| c.map.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn sign_raw(&self, tx: &RelayerTransaction) -> Result<(String, String), RelayerError> {
        let to = match &tx.to {
            Some(t) => TxKind::Call(
                t.parse::<Address>()
                    .map_err(|_| RelayerError::Configuration(format!("bad address {t}")))?,
            ),
            None => TxKind::Create,
        };
        let input: Bytes = tx.data.parse().unwrap_or_default();
        let sign_err = |e: crate::signer::SignerError| RelayerError::Signer(e.to_string());
        let envelope: TxEnvelope = match Fees::of(tx) {
            Some(Fees::Eip1559 { max, prio }) => {
                let t = TxEip1559 {
                    chain_id: self.chain_id,
                    nonce: tx.nonce,
                    gas_limit: tx.gas_limit,
                    max_fee_per_gas: max,
                    max_priority_fee_per_gas: prio,
                    to,
                    value: tx.value.0,
                    access_list: Default::default(),
                    input,
                };
                let sig = self
                    .signer
                    .sign_hash(t.signature_hash())
                    .await
                    .map_err(sign_err)?;
                t.into_signed(sig).into()
            }
            Some(Fees::Legacy(p)) => {
                let t = TxLegacy {
                    chain_id: Some(self.chain_id),
                    nonce: tx.nonce,
                    gas_price: p,
                    gas_limit: tx.gas_limit,
                    to,
                    value: tx.value.0,
                    input,
                };
                let sig = self
                    .signer
                    .sign_hash(t.signature_hash())
                    .await
                    .map_err(sign_err)?;
                t.into_signed(sig).into()
            }
            None => {
                return Err(RelayerError::Configuration(
                    "transaction without fees".into(),
                ))
            }
        };
        let hash = format!("{:#x}", envelope.tx_hash());
        let raw = format!(
            "0x{}",
            alloy_primitives::hex::encode(envelope.encoded_2718())
        );
        Ok((hash, raw))
    }

    async fn broadcast_raw(&self, raw: &str) -> Result<(), RpcError> {
        match self
            .rpc
            .request("eth_sendRawTransaction", json!([raw]))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.rpc_message().contains("already known") => Ok(()),
            Err(e) if e.rpc_message().contains("known transaction") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn check_policies(&self, to: Option<Address>) -> Result<(), RelayerError> {
        if self.config.paused {
            return Err(RelayerError::Policy("the relayer is paused".into()));
        }
        if let Some(w) = &self.config.whitelist {
            match to {
                Some(to) if w.contains(&to) => {}
                Some(to) => {
                    return Err(RelayerError::Policy(format!(
                        "receiver {to} is not whitelisted"
                    )))
                }
                None => {
                    return Err(RelayerError::Policy(
                        "deployments are not allowed by the whitelist".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Fees for a request: explicit ones checked against the cap, speed ones capped.
    async fn fees_for(
        &self,
        pricing: PricingStyle,
    ) -> Result<(Fees, Option<Speed>, bool), RelayerError> {
        let cap = self.config.gas_price_cap;
        let over = |p: u128| -> Result<(), RelayerError> {
            match cap {
                Some(c) if p > c => Err(RelayerError::Policy(format!(
                    "gas price {p} is above the relayer's cap {c}"
                ))),
                _ => Ok(()),
            }
        };
        match pricing {
            PricingStyle::Speed(s) => {
                Ok((self.market_fees(Some(s)).await?.capped(cap), Some(s), false))
            }
            PricingStyle::GasPrice(p) => {
                over(p)?;
                Ok((Fees::Legacy(p), None, true))
            }
            PricingStyle::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => {
                over(max_fee_per_gas)?;
                Ok((
                    Fees::Eip1559 {
                        max: max_fee_per_gas,
                        prio: max_priority_fee_per_gas,
                    },
                    None,
                    true,
                ))
            }
        }
    }

    async fn estimate_gas(
        &self,
        to: Option<Address>,
        value: U256,
        data: &Bytes,
    ) -> Result<u64, RelayerError> {
        let mut call = json!({"from": self.address, "value": format!("{value:#x}"), "data": data});
        if let Some(to) = to {
            call["to"] = json!(to);
        }
        let v = self.rpc("eth_estimateGas", json!([call])).await?;
        let g = u64_of(&v).ok_or_else(|| RelayerError::Rpc {
            code: 0,
            message: "bad gas estimate".into(),
            data: None,
        })?;
        Ok(g.saturating_mul(100 + self.config.gas_limit_margin_percent) / 100)
    }

    async fn send(&self, req: TxRequest) -> Result<RelayerTransaction, RelayerError> {
        let now = self.now();
        let v = req.validate(now)?;
        self.check_policies(v.to)?;
        let (fees, speed, fixed) = self.fees_for(v.pricing).await?;
        let gas_limit = match v.gas_limit {
            Some(g) => g,
            None => self.estimate_gas(v.to, v.value, &v.data).await?,
        };
        let balance = self.balance().await?;
        let mut tx = RelayerTransaction {
            transaction_id: uuid::Uuid::new_v4().to_string(),
            hash: String::new(),
            to: v.to.map(|a| a.to_checksum(None)),
            from: self.address.to_checksum(None),
            value: Quantity(v.value),
            data: format!("{}", v.data),
            speed,
            gas_limit,
            nonce: 0,
            status: TxStatus::Sent,
            chain_id: self.chain_id,
            valid_until: v.valid_until,
            created_at: now,
            sent_at: Some(now),
            priced_at: Some(now),
            gas_price: None,
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
            is_private: if v.is_private { Some(true) } else { None },
        };
        fees.apply(&mut tx);
        let rec = {
            let mut next = self.nonce.lock().await;
            let required = Self::cost(&tx);
            let pending = self.pending_cost();
            if pending + required > balance {
                return Err(RelayerError::InsufficientFunds {
                    balance: balance.to_string(),
                    pending_cost: pending.to_string(),
                    required: required.to_string(),
                });
            }
            tx.nonce = *next;
            let (hash, raw) = self.sign_raw(&tx).await?;
            tx.hash = hash.clone();
            let rec = StoredTransaction {
                tx: tx.clone(),
                hashes: vec![hash],
                raw: Some(raw),
                fixed_fees: fixed,
                mined_block: None,
                noop: false,
                settled: false,
            };
            self.save(rec.clone()).await?;
            self.store
                .set_next_nonce(*next + 1)
                .await
                .map_err(store_err)?;
            *next += 1;
            rec
        };
        self.submit_new(rec).await
    }

    /// Broadcasts a newly accepted transaction; on a nonce error, resynchronises and gives it a
    /// new nonce once.
    async fn submit_new(&self, rec: StoredTransaction) -> Result<RelayerTransaction, RelayerError> {
        self.submit_new_attempt(rec, 0).await
    }

    async fn submit_new_attempt(
        &self,
        mut rec: StoredTransaction,
        attempt: u32,
    ) -> Result<RelayerTransaction, RelayerError> {
        let raw = rec.raw.clone().unwrap_or_default();
        match self.broadcast_raw(&raw).await {
            Ok(()) => {
                rec.tx.status = TxStatus::Submitted;
                // Not persisted: after a restart a `sent` transaction is only rebroadcast.
                self.save_with(rec.clone(), false).await?;
                Ok(rec.tx)
            }
            Err(e) => {
                let m = e.rpc_message();
                if m.contains("nonce too low") || m.contains("nonce too high") {
                    tracing::info!(nonce = rec.tx.nonce, error = %e, "nonce resync");
                    {
                        let mut next = self.nonce.lock().await;
                        let synced = self.synced_nonce(Some(&rec.tx.transaction_id)).await?;
                        // Too low: move up. Too high: the nonces below were lost, move down.
                        let n = if m.contains("too low") {
                            (*next).max(synced)
                        } else {
                            synced
                        };
                        rec.tx.nonce = n;
                        let (hash, raw) = self.sign_raw(&rec.tx).await?;
                        rec.tx.hash = hash.clone();
                        rec.hashes = vec![hash];
                        rec.raw = Some(raw);
                        self.save(rec.clone()).await?;
                        *next = n + 1;
                        self.store.set_next_nonce(n + 1).await.map_err(store_err)?;
                    }
                    let raw = rec.raw.clone().unwrap_or_default();
                    if self.broadcast_raw(&raw).await.is_ok() {
                        rec.tx.status = TxStatus::Submitted;
                        self.save(rec.clone()).await?;
                    }
                    Ok(rec.tx)
                } else if !rec.fixed_fees && fee_too_low(&m) && attempt < 3 {
                    // Priced by speed, but the market moved: price again, same nonce.
                    if let Ok(mut c) = self.fee_cache.lock() {
                        c.clear();
                    }
                    let market = self.market_fees(rec.tx.speed).await?;
                    let old = Fees::of(&rec.tx).unwrap_or(market);
                    old.bumped(market)
                        .capped(self.config.gas_price_cap)
                        .apply(&mut rec.tx);
                    let now = self.now();
                    rec.tx.priced_at = Some(now);
                    rec.tx.sent_at = Some(now);
                    let (hash, raw) = self.sign_raw(&rec.tx).await?;
                    rec.tx.hash = hash.clone();
                    rec.hashes.push(hash);
                    rec.raw = Some(raw);
                    self.save(rec.clone()).await?;
                    Box::pin(self.submit_new_attempt(rec, attempt + 1)).await
                } else if matches!(e, RpcError::Rpc { .. }) && e.is_deterministic() {
                    // The node refused it. Give the nonce back if nothing was allocated after
                    // it; otherwise a no-op must use it.
                    rec.tx.status = TxStatus::Failed;
                    let mut next = self.nonce.lock().await;
                    if *next == rec.tx.nonce + 1 {
                        self.save(rec.clone()).await?;
                        *next = rec.tx.nonce;
                        self.store
                            .set_next_nonce(rec.tx.nonce)
                            .await
                            .map_err(store_err)?;
                    } else {
                        rec.noop = true;
                        self.save(rec.clone()).await?;
                    }
                    Err(rpc_to_relayer(e))
                } else {
                    // Transport trouble: it stays `sent`; the lifecycle rebroadcasts it.
                    Ok(rec.tx)
                }
            }
        }
    }

    /// Replaces an in-flight transaction at its nonce with `req`'s content.
    async fn replace(
        &self,
        id: &str,
        req: Option<TxRequest>,
    ) -> Result<RelayerTransaction, RelayerError> {
        let _ops = self.ops.lock().await;
        let mut rec = self
            .get(id)
            .ok_or_else(|| RelayerError::NotFound(id.to_string()))?;
        if !rec.tx.status.is_in_flight() || rec.noop {
            return Err(RelayerError::NotReplaceable {
                id: id.to_string(),
                status: format!("{:?}", rec.tx.status).to_lowercase(),
            });
        }
        let now = self.now();
        let old_fees = Fees::of(&rec.tx).unwrap_or(Fees::Legacy(0));
        match req {
            Some(req) => {
                let v = req.validate(now)?;
                self.check_policies(v.to)?;
                let (fees, speed, fixed) = self.fees_for(v.pricing).await?;
                let fees = if fixed {
                    fees
                } else {
                    old_fees.bumped(fees).capped(self.config.gas_price_cap)
                };
                let gas_limit = match v.gas_limit {
                    Some(g) => g,
                    None => self.estimate_gas(v.to, v.value, &v.data).await?,
                };
                rec.tx.to = v.to.map(|a| a.to_checksum(None));
                rec.tx.value = Quantity(v.value);
                rec.tx.data = format!("{}", v.data);
                rec.tx.gas_limit = gas_limit;
                rec.tx.speed = speed;
                rec.tx.valid_until = v.valid_until;
                rec.fixed_fees = fixed;
                fees.apply(&mut rec.tx);
            }
            None => {
                // Cancel: a no-op self-transfer; the cap never blocks it.
                let market = self.market_fees(Some(Speed::Fastest)).await?;
                rec.tx.to = Some(self.address.to_checksum(None));
                rec.tx.value = Quantity(U256::ZERO);
                rec.tx.data = "0x".into();
                rec.tx.gas_limit = 21_000;
                old_fees.bumped(market).apply(&mut rec.tx);
            }
        }
        rec.tx.priced_at = Some(now);
        rec.tx.sent_at = Some(now);
        self.resend(&mut rec).await?;
        Ok(rec.tx)
    }

    /// Signs and broadcasts the current content of `rec` under a new hash, and stores it.
    async fn resend(&self, rec: &mut StoredTransaction) -> Result<(), RelayerError> {
        let (hash, raw) = self.sign_raw(&rec.tx).await?;
        match self.broadcast_raw(&raw).await {
            Ok(()) => {}
            Err(e @ RpcError::Rpc { .. }) if e.is_deterministic() => return Err(rpc_to_relayer(e)),
            Err(e) => tracing::warn!(error = %e, "resubmission not broadcast; will retry"),
        }
        rec.tx.hash = hash.clone();
        rec.hashes.push(hash);
        rec.raw = Some(raw);
        if rec.tx.status.is_in_flight() {
            rec.tx.status = TxStatus::Submitted;
        }
        self.save(rec.clone()).await
    }

    /// One pass of the lifecycle.
    async fn tick(&self) -> Result<(), RelayerError> {
        let _ops = self.ops.lock().await;
        let live = self.live();
        if live.is_empty() {
            return Ok(());
        }
        let heads = self
            .rpc
            .batch(&[
                ("eth_blockNumber", json!([])),
                ("eth_getTransactionCount", json!([self.address, "latest"])),
            ])
            .await
            .map_err(rpc_to_relayer)?;
        let num = |r: Option<&Result<Value, RpcError>>| -> Result<u64, RelayerError> {
            match r {
                Some(Ok(v)) => u64_of(v).ok_or_else(|| RelayerError::Rpc {
                    code: 0,
                    message: "bad number".into(),
                    data: None,
                }),
                Some(Err(e)) => Err(rpc_to_relayer(e.clone())),
                None => Err(RelayerError::Rpc {
                    code: 0,
                    message: "missing answer".into(),
                    data: None,
                }),
            }
        };
        let head = num(heads.first())?;
        let mined_nonce = num(heads.get(1))?;
        let confirmations = self.config.confirmations;
        // Receipts: of every hash of transactions whose nonce is used, and of mined ones due
        // for confirmation (checking they were not reorged out). Mempool: of the others.
        let mut receipt_calls: Vec<(usize, String)> = Vec::new();
        let mut mempool_calls: Vec<(usize, String)> = Vec::new();
        let mut checked = vec![false; live.len()];
        for (i, t) in live.iter().enumerate() {
            if t.tx.status == TxStatus::Mined {
                let due = t
                    .mined_block
                    .is_none_or(|b| head.saturating_sub(b) >= confirmations);
                if due {
                    checked[i] = true;
                    receipt_calls.push((i, t.tx.hash.clone()));
                }
            } else if t.tx.nonce < mined_nonce {
                checked[i] = true;
                for h in &t.hashes {
                    receipt_calls.push((i, h.clone()));
                }
            } else if t.tx.status == TxStatus::Submitted {
                mempool_calls.push((i, t.tx.hash.clone()));
            }
        }
        let mut receipts: HashMap<usize, (String, Value)> = HashMap::new();
        for chunk in receipt_calls.chunks(500) {
            let calls: Vec<(&str, Value)> = chunk
                .iter()
                .map(|(_, h)| ("eth_getTransactionReceipt", json!([h])))
                .collect();
            let answers = self.rpc.batch(&calls).await.map_err(rpc_to_relayer)?;
            for ((i, h), a) in chunk.iter().zip(answers) {
                match a {
                    Ok(r) if !r.is_null() => {
                        receipts.insert(*i, (h.clone(), r));
                    }
                    Ok(_) => {}
                    // Unknown: do not conclude anything about this one.
                    Err(_) => checked[*i] = false,
                }
            }
        }
        let mut in_mempool = vec![false; live.len()];
        for chunk in mempool_calls.chunks(500) {
            let calls: Vec<(&str, Value)> = chunk
                .iter()
                .map(|(_, h)| ("eth_getTransactionByHash", json!([h])))
                .collect();
            let answers = self.rpc.batch(&calls).await.map_err(rpc_to_relayer)?;
            for ((i, _), a) in chunk.iter().zip(answers) {
                if matches!(a, Ok(ref v) if !v.is_null()) {
                    in_mempool[*i] = true;
                }
            }
        }
        let now = self.now();
        for (i, mut rec) in live.into_iter().enumerate() {
            let receipt = receipts.remove(&i);
            let step = Step {
                receipt,
                checked: checked[i],
                in_mempool: in_mempool[i],
                head,
                now,
            };
            if let Err(e) = self.advance(&mut rec, step).await {
                tracing::warn!(id = %rec.tx.transaction_id, error = %e, "lifecycle step failed");
            }
        }
        Ok(())
    }

    async fn advance(&self, rec: &mut StoredTransaction, step: Step) -> Result<(), RelayerError> {
        let Step {
            receipt,
            checked,
            in_mempool,
            head,
            now,
        } = step;
        if let Some((hash, r)) = receipt {
            let block = field(&r, "blockNumber").and_then(u64_of).unwrap_or(head);
            let success = field(&r, "status")
                .and_then(u64_of)
                .map(|s| s == 1)
                .unwrap_or(true);
            if rec.noop {
                if !rec.settled {
                    rec.settled = true;
                    rec.tx.hash = hash;
                    rec.mined_block = Some(block);
                    self.save(rec.clone()).await?;
                }
                return Ok(());
            }
            if rec.tx.status.is_in_flight() {
                rec.tx.hash = hash;
                rec.mined_block = Some(block);
                rec.tx.status = if success {
                    TxStatus::Mined
                } else {
                    TxStatus::Failed
                };
                self.save(rec.clone()).await?;
            }
            if rec.tx.status == TxStatus::Mined
                && head.saturating_sub(rec.mined_block.unwrap_or(block))
                    >= self.config.confirmations
            {
                rec.tx.status = TxStatus::Confirmed;
                self.save(rec.clone()).await?;
            }
            return Ok(());
        }
        if rec.tx.status == TxStatus::Mined && !checked {
            // Not due for confirmation yet.
            return Ok(());
        }
        if rec.tx.status == TxStatus::Mined {
            // Reorged out: back in flight.
            rec.tx.status = TxStatus::Submitted;
            rec.mined_block = None;
            if let Some(raw) = rec.raw.clone() {
                let _ = self.broadcast_raw(&raw).await;
            }
            self.save(rec.clone()).await?;
            return Ok(());
        }
        let age = rec
            .tx
            .sent_at
            .map(|s| (now - s).to_std().unwrap_or_default())
            .unwrap_or_default();
        // Past validUntil: replace with a 0-value self-transfer at the same nonce.
        if !rec.noop && rec.tx.status.is_in_flight() && now > rec.tx.valid_until {
            return self.expire(rec, now).await;
        }
        if rec.noop {
            if age >= self.config.resubmit_after.fast {
                // A stuck no-op: bump it (the cap does not apply).
                let market = self.market_fees(Some(Speed::Fastest)).await?;
                let fees = Fees::of(&rec.tx).unwrap_or(market).bumped(market);
                fees.apply(&mut rec.tx);
                rec.tx.sent_at = Some(now);
                rec.tx.to = Some(self.address.to_checksum(None));
                rec.tx.value = Quantity(U256::ZERO);
                rec.tx.data = "0x".into();
                rec.tx.gas_limit = 21_000;
                self.resend_or_fail(rec).await?;
            }
            return Ok(());
        }
        if rec.tx.status == TxStatus::Sent || rec.tx.status == TxStatus::Pending {
            if let Some(raw) = rec.raw.clone() {
                match self.broadcast_raw(&raw).await {
                    Ok(()) => {
                        rec.tx.status = TxStatus::Submitted;
                        self.save(rec.clone()).await?;
                    }
                    Err(e) => tracing::debug!(error = %e, "rebroadcast failed"),
                }
            }
            return Ok(());
        }
        if age >= self.config.resubmit_after.of(rec.tx.speed) {
            if rec.fixed_fees {
                // Caller-priced: rebroadcast as is.
                if let Some(raw) = rec.raw.clone() {
                    let _ = self.broadcast_raw(&raw).await;
                }
                rec.tx.sent_at = Some(now);
                self.save(rec.clone()).await?;
                return Ok(());
            }
            let market = self.market_fees(rec.tx.speed).await?;
            let old = Fees::of(&rec.tx).unwrap_or(market);
            let fees = old.bumped(market).capped(self.config.gas_price_cap);
            let enough = match (old, fees) {
                (Fees::Legacy(o), Fees::Legacy(n)) => n >= o + o / 10,
                (Fees::Eip1559 { max: om, prio: op }, Fees::Eip1559 { max: nm, prio: np }) => {
                    nm >= om + om / 10 && np >= op + op / 10
                }
                _ => true,
            };
            if !enough {
                // The cap leaves no room for a +10% bump: keep waiting.
                return Ok(());
            }
            fees.apply(&mut rec.tx);
            rec.tx.sent_at = Some(now);
            rec.tx.priced_at = Some(now);
            return self.resend_or_fail(rec).await;
        }
        if rec.tx.status == TxStatus::Submitted && in_mempool {
            rec.tx.status = TxStatus::Inmempool;
            self.save_with(rec.clone(), false).await?;
        }
        Ok(())
    }

    async fn resend_or_fail(&self, rec: &mut StoredTransaction) -> Result<(), RelayerError> {
        match self.resend(rec).await {
            Err(RelayerError::Rpc { message, .. })
                if message.to_ascii_lowercase().contains("nonce too low") =>
            {
                // The nonce is used. If none of our hashes is mined, something else used it.
                let calls: Vec<(&str, Value)> = rec
                    .hashes
                    .iter()
                    .map(|h| ("eth_getTransactionReceipt", json!([h])))
                    .collect();
                let answers = self.rpc.batch(&calls).await.map_err(rpc_to_relayer)?;
                if answers
                    .iter()
                    .all(|a| matches!(a, Ok(Value::Null) | Err(_)))
                {
                    if rec.noop {
                        rec.settled = true;
                    } else {
                        rec.tx.status = TxStatus::Failed;
                    }
                    self.save(rec.clone()).await?;
                }
                Ok(())
            }
            other => other,
        }
    }

    async fn expire(
        &self,
        rec: &mut StoredTransaction,
        now: DateTime<Utc>,
    ) -> Result<(), RelayerError> {
        let market = self.market_fees(Some(Speed::Fastest)).await?;
        let old = Fees::of(&rec.tx).unwrap_or(market);
        // The cap never blocks a no-op replacement.
        old.bumped(market).apply(&mut rec.tx);
        rec.tx.to = Some(self.address.to_checksum(None));
        rec.tx.value = Quantity(U256::ZERO);
        rec.tx.data = "0x".into();
        rec.tx.gas_limit = 21_000;
        rec.tx.sent_at = Some(now);
        rec.tx.priced_at = Some(now);
        rec.tx.status = TxStatus::Expired;
        rec.noop = true;
        self.resend_or_fail(rec).await
    }

    fn signed(sig: Signature) -> SignedMessage {
        let bytes = sig.as_bytes();
        let v = 27 + u8::from(sig.v());
        SignedMessage {
            sig: format!("0x{}", alloy_primitives::hex::encode(bytes)),
            r: format!("{:#066x}", sig.r()),
            s: format!("{:#066x}", sig.s()),
            v,
        }
    }
}

/// What one lifecycle pass learned about a transaction.
struct Step {
    /// The receipt of one of its hashes, if mined.
    receipt: Option<(String, Value)>,
    /// Whether its receipts were asked for (a missing receipt then means "not mined").
    checked: bool,
    /// Whether the node knows its latest hash.
    in_mempool: bool,
    head: u64,
    now: DateTime<Utc>,
}

fn fee_too_low(message: &str) -> bool {
    [
        "base fee",
        "underpriced",
        "fee cap",
        "fee too low",
        "gas price too low",
    ]
    .iter()
    .any(|p| message.contains(p))
}

fn hex32(s: &str) -> Result<B256, RelayerError> {
    s.parse::<B256>()
        .map_err(|_| RelayerError::Invalid(defender_core::wire::TxValidationError::InvalidData))
}

/// The EIP-712 digest: `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct)`.
pub fn eip712_digest(domain_separator: B256, hash_struct: B256) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(domain_separator.as_slice());
    buf[34..].copy_from_slice(hash_struct.as_slice());
    keccak256(buf)
}

/// The bytes `sign` signs: a `0x` hex message is decoded, anything else is taken as UTF-8.
pub fn message_bytes(message: &str) -> Vec<u8> {
    if let Some(h) = message.strip_prefix("0x") {
        if let Ok(b) = alloy_primitives::hex::decode(h) {
            return b;
        }
    }
    message.as_bytes().to_vec()
}

#[async_trait]
impl Relayer for RpcRelayer {
    async fn send_transaction(&self, tx: TxRequest) -> Result<RelayerTransaction, RelayerError> {
        self.shared.send(tx).await
    }

    async fn get_transaction(&self, id: &str) -> Result<RelayerTransaction, RelayerError> {
        self.shared
            .get(id)
            .map(|t| t.tx)
            .ok_or_else(|| RelayerError::NotFound(id.to_string()))
    }

    async fn list_transactions(
        &self,
        query: ListTransactionsQuery,
    ) -> Result<Vec<RelayerTransaction>, RelayerError> {
        let mut out: Vec<RelayerTransaction> = self
            .shared
            .all()
            .into_iter()
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
        let hash = alloy_primitives::eip191_hash_message(message_bytes(&payload.message));
        let sig = self
            .shared
            .signer
            .sign_hash(hash)
            .await
            .map_err(|e| RelayerError::Signer(e.to_string()))?;
        Ok(Shared::signed(sig))
    }

    async fn sign_typed_data(
        &self,
        payload: SignTypedDataPayload,
    ) -> Result<SignedMessage, RelayerError> {
        let domain = hex32(&payload.domain_separator)?;
        let hs = hex32(&payload.hash_struct_message)?;
        let sig = self
            .shared
            .signer
            .sign_hash(eip712_digest(domain, hs))
            .await
            .map_err(|e| RelayerError::Signer(e.to_string()))?;
        Ok(Shared::signed(sig))
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, RelayerError> {
        self.shared.rpc(method, params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_are_at_least_ten_percent_and_follow_the_market() {
        let old = Fees::Eip1559 { max: 100, prio: 10 };
        assert_eq!(
            old.bumped(Fees::Eip1559 { max: 50, prio: 1 }),
            Fees::Eip1559 { max: 111, prio: 12 }
        );
        assert_eq!(
            old.bumped(Fees::Eip1559 { max: 500, prio: 40 }),
            Fees::Eip1559 { max: 500, prio: 40 }
        );
        assert_eq!(
            Fees::Legacy(1000).bumped(Fees::Legacy(1)),
            Fees::Legacy(1101)
        );
    }

    #[test]
    fn cap_limits_fee_cap_and_tip() {
        let f = Fees::Eip1559 { max: 100, prio: 90 }.capped(Some(50));
        assert_eq!(f, Fees::Eip1559 { max: 50, prio: 50 });
        assert_eq!(Fees::Legacy(10).capped(Some(50)), Fees::Legacy(10));
        assert_eq!(Fees::Legacy(10).capped(None), Fees::Legacy(10));
    }

    #[test]
    fn message_bytes_decode_hex_and_keep_text() {
        assert_eq!(message_bytes("0x6869"), b"hi".to_vec());
        assert_eq!(message_bytes("hi"), b"hi".to_vec());
        assert_eq!(message_bytes("0xzz"), b"0xzz".to_vec());
    }

    #[test]
    fn eip712_digest_prefixes_1901() {
        let d = eip712_digest(B256::ZERO, B256::ZERO);
        let mut buf = vec![0x19, 0x01];
        buf.extend([0u8; 64]);
        assert_eq!(d, keccak256(buf));
    }

    #[test]
    fn rpc_errors_are_classified() {
        let e = |code, m: &str| RpcError::Rpc {
            code,
            message: m.into(),
            data: None,
        };
        assert!(e(-32000, "nonce too low").is_deterministic());
        assert!(e(3, "execution reverted").is_deterministic());
        assert!(!e(-32603, "internal error").is_deterministic());
        assert!(!e(-32005, "limit exceeded").is_deterministic());
        assert!(fee_too_low("max fee per gas less than block base fee"));
        assert!(fee_too_low("replacement transaction underpriced"));
        assert!(!fee_too_low("nonce too low"));
    }
}

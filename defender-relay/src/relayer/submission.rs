//! Submission: nonces, gas estimates, new transactions, their first broadcast (with nonce
//! resynchronisation and repricing), and replacements at the same nonce.

use super::fees::{worst_case_cost, Fees};
use super::{policy, rpc_to_relayer, store_err, Shared};
use crate::hex::u64_of;
use crate::rpc::RpcError;
use crate::store::{NonceReservation, StoreError, StoredTransaction};
use alloy_primitives::{Address, Bytes, U256};
use defender_core::wire::{Quantity, RelayerTransaction, Speed, TxRequest, TxStatus};
use defender_core::RelayerError;
use serde_json::json;

/// Whether a node's error says the fees are too low for the current market.
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

/// Most attempts at taking a nonce against other relayers sharing the store.
const MAX_NONCE_ATTEMPTS: usize = 1000;

impl Shared {
    /// The lowest nonce free for a transaction: the chain's pending count, or above the
    /// highest nonce in flight among the transactions every instance stored (but
    /// `excluding`'s), whichever is higher.
    async fn free_nonce(&self, excluding: Option<&str>) -> Result<u64, RelayerError> {
        let v = self
            .rpc("eth_getTransactionCount", json!([self.address, "pending"]))
            .await?;
        let chain = u64_of(&v).ok_or_else(|| RelayerError::Rpc {
            code: 0,
            message: "bad transaction count".into(),
            data: None,
        })?;
        // The store, not this instance's cache: another instance's transaction stored but not
        // broadcast yet holds its nonce too.
        let inflight = self
            .store
            .transactions()
            .await
            .map_err(store_err)?
            .into_iter()
            .filter(|t| Some(t.tx.transaction_id.as_str()) != excluding)
            .filter(|t| t.tx.status.is_in_flight() || (t.noop && !t.settled))
            .map(|t| t.tx.nonce.saturating_add(1))
            .max()
            .unwrap_or(0);
        Ok(chain.max(inflight))
    }

    /// Resynchronises the stored next nonce with the chain: moves it to
    /// [`free_nonce`](Self::free_nonce), down too (nonces taken whose transactions are no
    /// longer in flight, such as ones a node dropped), and with `rec` given, re-signs and
    /// stores `rec` at that nonce in the same write. The write is conditional on the stored
    /// nonce not moving meanwhile: a transaction another instance stores in between is either
    /// seen or makes the write retry, so no nonce is handed out twice. Returns the new next
    /// nonce. The caller holds the nonce lock.
    pub(super) async fn resync_nonce(
        &self,
        mut rec: Option<&mut StoredTransaction>,
    ) -> Result<u64, RelayerError> {
        for _ in 0..MAX_NONCE_ATTEMPTS {
            // Read before the transactions: see `RelayerStore::commit_resynced`.
            let read = self.store.read_nonce().await.map_err(store_err)?;
            let excluding = rec.as_ref().map(|r| r.tx.transaction_id.clone());
            let free = self.free_nonce(excluding.as_deref()).await?;
            let next = match rec.as_deref_mut() {
                Some(rec) => {
                    rec.tx.nonce = free;
                    let (hash, raw) = self.sign_raw(&rec.tx).await?;
                    rec.tx.hash = hash.clone();
                    rec.hashes = vec![hash];
                    rec.raw = Some(raw);
                    free.checked_add(1).ok_or_else(|| {
                        store_err(StoreError::Corrupt(format!(
                            "nonce {free} has no successor"
                        )))
                    })?
                }
                None => free,
            };
            if self
                .store
                .commit_resynced(&read, next, rec.as_deref())
                .await
                .map_err(store_err)?
            {
                return Ok(next);
            }
        }
        Err(store_err(StoreError::Contended))
    }

    /// A gas limit for a request: the node's estimate plus the configured margin.
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

    /// Broadcasts a signed transaction, a private one to the private endpoint only; a node
    /// that already knows it counts as success.
    pub(super) async fn broadcast_raw(&self, raw: &str, private: bool) -> Result<(), RpcError> {
        let rpc = match (private, &self.private_rpc) {
            (true, Some(p)) => p,
            // Refused when sent: never reached.
            (true, None) => {
                return Err(RpcError::Configuration("no private endpoint".into()));
            }
            (false, _) => &self.rpc,
        };
        match rpc.request("eth_sendRawTransaction", json!([raw])).await {
            Ok(_) => Ok(()),
            Err(e) if e.rpc_message().contains("already known") => Ok(()),
            Err(e) if e.rpc_message().contains("known transaction") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether the (public) node knows transaction `hash`, pending or mined.
    async fn node_knows(&self, hash: &str) -> bool {
        matches!(
            self.rpc.request("eth_getTransactionByHash", json!([hash])).await,
            Ok(v) if !v.is_null()
        )
    }

    /// Validates, prices, checks and signs a new transaction at the next nonce, stores it,
    /// then broadcasts it.
    pub(super) async fn send(&self, req: TxRequest) -> Result<RelayerTransaction, RelayerError> {
        let now = self.now();
        let v = req.validate(now)?;
        policy::check_receiver(&self.config, v.to)?;
        let private = v.is_private || self.config.private_transactions;
        if private && self.private_rpc.is_none() {
            return Err(RelayerError::Configuration(
                "private transactions need a private endpoint (RelayerConfig::private_url)".into(),
            ));
        }
        // Independent lookups (each cached, most often answered at once): side by side.
        let gas = async {
            match v.gas_limit {
                Some(g) => Ok(g),
                None => self.estimate_gas(v.to, v.value, &v.data).await,
            }
        };
        let (priced, gas_limit, balance) =
            tokio::try_join!(self.fees_for(v.pricing), gas, self.balance())?;
        let mut tx = RelayerTransaction {
            transaction_id: uuid::Uuid::new_v4().to_string(),
            hash: String::new(),
            to: v.to.map(|a| a.to_checksum(None)),
            from: self.address.to_checksum(None),
            value: Quantity(v.value),
            data: format!("{}", v.data),
            speed: priced.speed,
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
            is_private: private.then_some(true),
        };
        priced.fees.apply(&mut tx);
        let rec = {
            let mut next = self.nonce.lock().await;
            policy::check_funds(balance, self.pending_cost(), worst_case_cost(&tx))?;
            // The nonce is taken in the store together with the signed transaction, so
            // relayers sharing the store never take the same nonce, and no crash leaves a
            // nonce taken without its transaction.
            let mut attempts = 0;
            let rec = loop {
                attempts += 1;
                let reservation = self.store.reserve_nonce(*next).await.map_err(store_err)?;
                tx.nonce = reservation.nonce();
                let (hash, raw) = match self.sign_raw(&tx).await {
                    Ok(signed) => signed,
                    Err(e) => {
                        if let NonceReservation::Taken(n) = reservation {
                            // Not used: given back unless another relayer took the next one.
                            if let Err(release) = self.store.release_nonce(n).await {
                                tracing::warn!(error = %release, "unused nonce not given back");
                            }
                        }
                        return Err(e);
                    }
                };
                tx.hash = hash.clone();
                let rec = StoredTransaction {
                    tx: tx.clone(),
                    hashes: vec![hash],
                    raw: Some(raw),
                    fixed_fees: priced.fixed,
                    mined_block: None,
                    noop: false,
                    settled: false,
                };
                if self
                    .store
                    .commit_new(&reservation, &rec)
                    .await
                    .map_err(store_err)?
                {
                    break rec;
                }
                if attempts >= MAX_NONCE_ATTEMPTS {
                    return Err(store_err(StoreError::Contended));
                }
            };
            // Stored already: the cache and subscribers only.
            self.save_with(rec.clone(), false).await?;
            *next = tx.nonce + 1;
            rec
        };
        self.submit_new(rec).await
    }

    /// Broadcasts a newly accepted transaction; on a nonce error, resynchronises and gives it a
    /// new nonce once.
    async fn submit_new(&self, rec: StoredTransaction) -> Result<RelayerTransaction, RelayerError> {
        self.submit_new_attempt(rec, 0).await
    }

    /// One broadcast of a new transaction; `attempt` counts the repricings so far.
    async fn submit_new_attempt(
        &self,
        mut rec: StoredTransaction,
        attempt: u32,
    ) -> Result<RelayerTransaction, RelayerError> {
        let raw = rec.raw.clone().unwrap_or_default();
        match self
            .broadcast_raw(&raw, rec.tx.is_private == Some(true))
            .await
        {
            Ok(()) => {
                rec.tx.status = TxStatus::Submitted;
                // Not persisted: after a restart a `sent` transaction is only rebroadcast.
                self.save_with(rec.clone(), false).await?;
                Ok(rec.tx)
            }
            Err(e) => {
                let m = e.rpc_message();
                if m.contains("nonce too low") && self.node_knows(&rec.tx.hash).await {
                    // A retried broadcast whose first attempt got through (and was mined): the
                    // nonce is used by this very transaction.
                    rec.tx.status = TxStatus::Submitted;
                    self.save_with(rec.clone(), false).await?;
                    Ok(rec.tx)
                } else if m.contains("nonce too low") || m.contains("nonce too high") {
                    tracing::info!(nonce = rec.tx.nonce, error = %e, "nonce resync");
                    {
                        // Too low: the nonce is used, move up. Too high: nonces below were
                        // lost (dropped by the node), move down to fill them.
                        let mut next = self.nonce.lock().await;
                        *next = self.resync_nonce(Some(&mut rec)).await?;
                        // Stored already: the cache and subscribers only.
                        self.save_with(rec.clone(), false).await?;
                    }
                    let raw = rec.raw.clone().unwrap_or_default();
                    if self
                        .broadcast_raw(&raw, rec.tx.is_private == Some(true))
                        .await
                        .is_ok()
                    {
                        rec.tx.status = TxStatus::Submitted;
                        self.save(rec.clone()).await?;
                    }
                    Ok(rec.tx)
                } else if !rec.fixed_fees && fee_too_low(&m) && attempt < 3 {
                    // Priced by speed, but the market moved: price again, same nonce.
                    self.clear_fee_cache();
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
                    if *next == rec.tx.nonce + 1
                        && self
                            .store
                            .release_nonce(rec.tx.nonce)
                            .await
                            .map_err(store_err)?
                    {
                        self.save(rec.clone()).await?;
                        *next = rec.tx.nonce;
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

    /// Replaces an in-flight transaction at its nonce with `req`'s content, or cancels it
    /// (`req` is `None`) with a 0-value self-transfer.
    pub(super) async fn replace(
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
                status: rec.tx.status,
            });
        }
        let now = self.now();
        let old_fees = Fees::of(&rec.tx).unwrap_or(Fees::Legacy(0));
        match req {
            Some(req) => {
                let v = req.validate(now)?;
                policy::check_receiver(&self.config, v.to)?;
                let priced = self.fees_for(v.pricing).await?;
                let fees = if priced.fixed {
                    priced.fees
                } else {
                    old_fees
                        .bumped(priced.fees)
                        .capped(self.config.gas_price_cap)
                };
                let gas_limit = match v.gas_limit {
                    Some(g) => g,
                    None => self.estimate_gas(v.to, v.value, &v.data).await?,
                };
                rec.tx.to = v.to.map(|a| a.to_checksum(None));
                rec.tx.value = Quantity(v.value);
                rec.tx.data = format!("{}", v.data);
                rec.tx.gas_limit = gas_limit;
                rec.tx.speed = priced.speed;
                rec.tx.valid_until = v.valid_until;
                rec.fixed_fees = priced.fixed;
                fees.apply(&mut rec.tx);
            }
            None => {
                // Cancel: a no-op self-transfer; the cap never blocks it.
                let market = self.market_fees(Some(Speed::Fastest)).await?;
                self.make_noop(&mut rec);
                old_fees.bumped(market).apply(&mut rec.tx);
            }
        }
        rec.tx.priced_at = Some(now);
        rec.tx.sent_at = Some(now);
        self.resend(&mut rec).await?;
        Ok(rec.tx)
    }

    /// Signs and broadcasts the current content of `rec` under a new hash, and stores it.
    pub(super) async fn resend(&self, rec: &mut StoredTransaction) -> Result<(), RelayerError> {
        let (hash, raw) = self.sign_raw(&rec.tx).await?;
        match self
            .broadcast_raw(&raw, rec.tx.is_private == Some(true))
            .await
        {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

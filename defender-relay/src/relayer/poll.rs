//! The background pass of the lifecycle: it asks the node about every transaction still
//! followed, lets [`lifecycle::next`] decide, and carries the decision out (resubmission,
//! expiry, status changes).

use super::fees::Fees;
use super::lifecycle::{self, Action, Observation, Poll, ReceiptSeen, Rules, TxState};
use super::rpc_to_relayer;
use super::Shared;
use crate::hex::{field, u64_of};
use crate::rpc::RpcError;
use crate::store::StoredTransaction;
use alloy_primitives::U256;
use chrono::{DateTime, Utc};
use defender_core::wire::{Quantity, Speed, TxStatus};
use defender_core::RelayerError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

impl Shared {
    /// How long one lifecycle turn lasts without renewal: a dead instance's lifecycle is taken
    /// over within it (plus a poll interval).
    pub(super) fn lifecycle_ttl(&self) -> Duration {
        self.config
            .poll_interval
            .saturating_mul(4)
            .max(Duration::from_secs(2))
    }

    /// One pass of the background task: when it is this instance's turn (one instance at a
    /// time per store), the transactions other instances stored join the cache (all of them
    /// again when the turn has just come), then [`tick`](Self::tick).
    pub(super) async fn lifecycle_pass(&self, turn: &mut bool) -> Result<(), RelayerError> {
        let mine = self
            .store
            .lifecycle_turn(self.lifecycle_ttl())
            .await
            .map_err(super::store_err)?;
        if !mine {
            *turn = false;
            return Ok(());
        }
        let stored = if *turn {
            // Only those other instances stored since: the others are not even decoded.
            self.store.transactions_unknown(&|id| self.knows(id)).await
        } else {
            self.store.transactions().await
        };
        self.adopt(stored.map_err(super::store_err)?, !*turn);
        *turn = true;
        self.tick().await
    }

    /// One pass of the lifecycle.
    pub(super) async fn tick(&self) -> Result<(), RelayerError> {
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
            let receipt = receipts.remove(&i).map(|(hash, r)| ReceiptSeen {
                hash,
                block: field(&r, "blockNumber").and_then(u64_of),
                success: field(&r, "status")
                    .and_then(u64_of)
                    .map(|s| s == 1)
                    .unwrap_or(true),
            });
            let poll = Poll {
                receipt,
                checked: checked[i],
                in_mempool: in_mempool[i],
                head,
                now,
            };
            if let Err(e) = self.advance(&mut rec, poll).await {
                tracing::warn!(id = %rec.tx.transaction_id, error = %e, "lifecycle step failed");
            }
        }
        Ok(())
    }

    /// Decides what one pass means for `rec` and does it.
    async fn advance(&self, rec: &mut StoredTransaction, poll: Poll) -> Result<(), RelayerError> {
        let now = poll.now;
        let rules = Rules::of(&self.config);
        match lifecycle::next(&TxState::of(rec), &Observation::Poll(poll), &rules) {
            Action::Reorg => {
                rec.tx.status = TxStatus::Submitted;
                rec.mined_block = None;
                if let Some(raw) = rec.raw.clone() {
                    let _ = self
                        .broadcast_raw(&raw, rec.tx.is_private == Some(true))
                        .await;
                }
                self.save(rec.clone()).await
            }
            Action::Expire => self.expire(rec, now).await,
            Action::BumpNoop => {
                // The cap does not apply to a no-op.
                let market = self.market_fees(Some(Speed::Fastest)).await?;
                let fees = Fees::of(&rec.tx).unwrap_or(market).bumped(market);
                fees.apply(&mut rec.tx);
                rec.tx.sent_at = Some(now);
                self.make_noop(rec);
                self.resend_or_fail(rec).await
            }
            Action::Rebroadcast => {
                if let Some(raw) = rec.raw.clone() {
                    match self
                        .broadcast_raw(&raw, rec.tx.is_private == Some(true))
                        .await
                    {
                        Ok(()) => {
                            rec.tx.status = TxStatus::Submitted;
                            self.save(rec.clone()).await?;
                        }
                        Err(e) => tracing::debug!(error = %e, "rebroadcast failed"),
                    }
                }
                Ok(())
            }
            Action::RebroadcastAsIs => {
                if let Some(raw) = rec.raw.clone() {
                    let _ = self
                        .broadcast_raw(&raw, rec.tx.is_private == Some(true))
                        .await;
                }
                rec.tx.sent_at = Some(now);
                self.save(rec.clone()).await
            }
            Action::Resubmit => {
                let market = self.market_fees(rec.tx.speed).await?;
                let old = Fees::of(&rec.tx).unwrap_or(market);
                let Some(fees) = old.resubmission(market, self.config.gas_price_cap) else {
                    // The cap leaves no room for a +10% bump: keep waiting.
                    return Ok(());
                };
                fees.apply(&mut rec.tx);
                rec.tx.sent_at = Some(now);
                rec.tx.priced_at = Some(now);
                self.resend_or_fail(rec).await
            }
            other => self.record(rec, other).await,
        }
    }

    /// Carries out the actions that only change the record.
    async fn record(
        &self,
        rec: &mut StoredTransaction,
        action: Action,
    ) -> Result<(), RelayerError> {
        match action {
            Action::Settle { inclusion } => {
                rec.settled = true;
                if let Some(i) = inclusion {
                    rec.tx.hash = i.hash;
                    rec.mined_block = Some(i.block);
                }
                self.save(rec.clone()).await
            }
            Action::Mine {
                inclusion,
                confirmed,
            } => {
                rec.tx.hash = inclusion.hash;
                rec.mined_block = Some(inclusion.block);
                rec.tx.status = TxStatus::Mined;
                if confirmed {
                    // One store write for both steps; subscribers still see each.
                    self.save_with(rec.clone(), false).await?;
                    rec.tx.status = TxStatus::Confirmed;
                }
                self.save(rec.clone()).await
            }
            Action::Fail { inclusion } => {
                if let Some(i) = inclusion {
                    rec.tx.hash = i.hash;
                    rec.mined_block = Some(i.block);
                }
                rec.tx.status = TxStatus::Failed;
                self.save(rec.clone()).await
            }
            Action::Confirm => {
                rec.tx.status = TxStatus::Confirmed;
                self.save(rec.clone()).await
            }
            Action::MarkInMempool => {
                rec.tx.status = TxStatus::Inmempool;
                // Not persisted: a restart finds it `submitted` and sees the mempool again.
                self.save_with(rec.clone(), false).await
            }
            // The others need I/O (`advance` does them); `Wait` does nothing.
            _ => Ok(()),
        }
    }

    /// Resends `rec`; when the node says its nonce is used, asks whether one of its hashes
    /// was mined and lets the lifecycle decide.
    async fn resend_or_fail(&self, rec: &mut StoredTransaction) -> Result<(), RelayerError> {
        match self.resend(rec).await {
            Err(RelayerError::Rpc { message, .. })
                if message.to_ascii_lowercase().contains("nonce too low") =>
            {
                let calls: Vec<(&str, Value)> = rec
                    .hashes
                    .iter()
                    .map(|h| ("eth_getTransactionReceipt", json!([h])))
                    .collect();
                let answers = self.rpc.batch(&calls).await.map_err(rpc_to_relayer)?;
                let ours_mined = !answers
                    .iter()
                    .all(|a| matches!(a, Ok(Value::Null) | Err(_)));
                let rules = Rules::of(&self.config);
                let observation = Observation::NonceUsed { ours_mined };
                let action = lifecycle::next(&TxState::of(rec), &observation, &rules);
                self.record(rec, action).await
            }
            other => other,
        }
    }

    /// Replaces `rec` with a 0-value self-transfer at its nonce and marks it `expired`.
    async fn expire(
        &self,
        rec: &mut StoredTransaction,
        now: DateTime<Utc>,
    ) -> Result<(), RelayerError> {
        let market = self.market_fees(Some(Speed::Fastest)).await?;
        let old = Fees::of(&rec.tx).unwrap_or(market);
        // The cap never blocks a no-op replacement.
        old.bumped(market).apply(&mut rec.tx);
        self.make_noop(rec);
        rec.tx.sent_at = Some(now);
        rec.tx.priced_at = Some(now);
        rec.tx.status = TxStatus::Expired;
        rec.noop = true;
        self.resend_or_fail(rec).await
    }

    /// Turns the content of `rec` into a 0-value transfer from the relayer to itself (fees
    /// and status unchanged).
    pub(super) fn make_noop(&self, rec: &mut StoredTransaction) {
        rec.tx.to = Some(self.address.to_checksum(None));
        rec.tx.value = Quantity(U256::ZERO);
        rec.tx.data = "0x".into();
        rec.tx.gas_limit = 21_000;
    }
}

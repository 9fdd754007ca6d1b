//! The write-through cache of every transaction: which ones the lifecycle still follows, the
//! worst-case cost of those in flight, and the writes that keep the store and subscribers in
//! step.

use super::fees::worst_case_cost;
use super::{store_err, Shared};
use crate::store::StoredTransaction;
use alloy_primitives::U256;
use defender_core::wire::TxStatus;
use defender_core::RelayerError;
use std::collections::{HashMap, HashSet};

/// Every transaction by id, with the set still followed by the lifecycle and the worst-case
/// cost of those in flight.
#[derive(Debug, Default)]
pub(super) struct TxCache {
    map: HashMap<String, StoredTransaction>,
    live: HashSet<String>,
    inflight_cost: U256,
}

impl TxCache {
    /// A cache of these transactions.
    pub(super) fn from_map(map: HashMap<String, StoredTransaction>) -> Self {
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
            worst_case_cost(&t.tx)
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

/// How far a transaction has come, for [`fresher`].
fn progress(status: TxStatus) -> u8 {
    match status {
        TxStatus::Pending => 0,
        TxStatus::Sent => 1,
        TxStatus::Submitted => 2,
        TxStatus::Inmempool => 3,
        TxStatus::Mined => 4,
        TxStatus::Confirmed => 5,
        TxStatus::Failed | TxStatus::Expired => 6,
    }
}

/// The fresher of this instance's view of a transaction and the stored one: the stored one
/// (another instance may have moved it on), unless it is the same broadcast this instance has
/// seen further (some steps, such as `sent` to `submitted`, are not stored).
pub(super) fn fresher(
    mine: Option<StoredTransaction>,
    stored: Option<StoredTransaction>,
) -> Option<StoredTransaction> {
    match (mine, stored) {
        (Some(m), Some(s))
            if m.tx.hash == s.tx.hash && progress(m.tx.status) > progress(s.tx.status) =>
        {
            Some(m)
        }
        (_, Some(s)) => Some(s),
        (m, None) => m,
    }
}

impl Shared {
    /// Takes stored transactions into the cache: those it does not have, and with `all`
    /// (this instance has just taken the lifecycle over) every one fresher than its own.
    pub(super) fn adopt(&self, stored: Vec<StoredTransaction>, all: bool) {
        let Ok(mut c) = self.txs.lock() else {
            return;
        };
        for rec in stored {
            let mine = c.map.get(&rec.tx.transaction_id).cloned();
            if mine.is_some() && !all {
                continue;
            }
            if let Some(newer) = fresher(mine, Some(rec)) {
                c.insert(newer);
            }
        }
    }

    /// Whether the cache holds transaction `id`.
    pub(super) fn knows(&self, id: &str) -> bool {
        self.txs.lock().is_ok_and(|c| c.map.contains_key(id))
    }

    /// A transaction by id.
    pub(super) fn get(&self, id: &str) -> Option<StoredTransaction> {
        self.txs.lock().ok()?.map.get(id).cloned()
    }

    /// Every transaction.
    pub(super) fn all(&self) -> Vec<StoredTransaction> {
        self.txs
            .lock()
            .map(|m| m.map.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Transactions that still need the lifecycle's attention.
    pub(super) fn live(&self) -> Vec<StoredTransaction> {
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

    /// The worst-case cost of every transaction in flight.
    pub(super) fn pending_cost(&self) -> U256 {
        self.txs.lock().map(|c| c.inflight_cost).unwrap_or_default()
    }

    /// Stores a new version of a transaction and tells subscribers when its status changed.
    pub(super) async fn save(&self, rec: StoredTransaction) -> Result<(), RelayerError> {
        self.save_with(rec, true).await
    }

    /// Like [`Shared::save`]; with `persist` false only the cache changes (for transitions a
    /// restart may lose, such as `sent` to `submitted`).
    pub(super) async fn save_with(
        &self,
        rec: StoredTransaction,
        persist: bool,
    ) -> Result<(), RelayerError> {
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
}

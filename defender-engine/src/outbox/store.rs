//! The outbox's reads and writes in the engine state: items owed, claimed, done, retried,
//! buried and replayed (see the parent module for the layout).

use super::fresh::FreshRecords;
use super::record::{json, RecordWriter};
use super::{
    claim_holds, item_of, AlertRecord, Claim, Claimed, DeadDelivery, DeadLetter, DeliveryTarget,
    Marker, Owed, Pending, ALERT, DEAD, NEXT_ITEM, OWED,
};
use chrono::DateTime;
use defender_core::state::{Space, StateError, StateOp, StateStore, StateStoreExt};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The outbox in an engine state store (see the [outbox](super) module's documentation for
/// its layout).
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    state: Arc<dyn StateStore>,
    fresh: Arc<FreshRecords>,
}

fn decode<T: serde::de::DeserializeOwned>(
    space: Space,
    key: &str,
    bytes: &[u8],
) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|source| StateError::Decode {
        space,
        key: key.to_owned(),
        source,
    })
}

/// The JSON of an outbox value (see [`json`]).
fn encode<T: Serialize>(space: Space, key: &str, value: &T) -> Result<bytes::Bytes, StateError> {
    json(value)
        .map(bytes::Bytes::from)
        .map_err(|source| StateError::Encode {
            space,
            key: key.to_owned(),
            source,
        })
}

impl Outbox {
    pub(crate) fn new(state: Arc<dyn StateStore>) -> Self {
        Outbox {
            state,
            fresh: Arc::default(),
        }
    }

    /// Numbers for `n` new items (`n` > 0): the first of `n` consecutive ones. Numbers of
    /// items never written (the batch failed) are skipped, never reused.
    pub(crate) async fn reserve(&self, n: u64) -> Result<u64, StateError> {
        let last = self.state.increment(Space::OUTBOX, NEXT_ITEM, n).await?;
        // The counter is at least `n` once it has been increased by `n`.
        Ok(last.saturating_sub(n).saturating_add(1))
    }

    /// The item id of number `n`.
    pub(crate) fn item_id(n: u64) -> String {
        format!("{n:020}")
    }

    /// The writes that owe `deliveries` of `record` (written by `writer`) as item `item`, and
    /// what to tell the workers once they are written.
    pub(crate) fn owe_ops(
        item: &str,
        record: &AlertRecord,
        writer: &mut RecordWriter<'_>,
        deliveries: Vec<Owed>,
        ops: &mut Vec<StateOp>,
    ) -> Result<Vec<Pending>, StateError> {
        let key = format!("{ALERT}{item}");
        let value = writer.write(record).map_err(|source| StateError::Encode {
            space: Space::OUTBOX,
            key: key.clone(),
            source,
        })?;
        ops.push(StateOp::Put {
            value: value.into(),
            space: Space::OUTBOX,
            key,
        });
        let mut pending = Vec::with_capacity(deliveries.len());
        let sole = deliveries.len() == 1;
        for (n, mut owed) in deliveries.into_iter().enumerate() {
            owed.sole = sole;
            let key = format!("{OWED}{item}/{n:06}");
            ops.push(StateOp::Put {
                value: encode(Space::OUTBOX, &key, &owed)?,
                space: Space::OUTBOX,
                key: key.clone(),
            });
            pending.push(Pending {
                key,
                target: owed.target,
                due_ms: owed.next_attempt_ms,
            });
        }
        Ok(pending)
    }

    /// Every delivery owed, in item order. Records that do not decode are logged and left.
    pub(crate) async fn pending(&self) -> Result<Vec<Pending>, StateError> {
        let entries = self.state.scan_all(Space::OUTBOX, OWED).await?;
        Ok(entries
            .into_iter()
            .filter_map(
                |(key, bytes)| match decode::<Owed>(Space::OUTBOX, &key, &bytes) {
                    Ok(owed) => Some(Pending {
                        key,
                        target: owed.target,
                        due_ms: owed.next_attempt_ms,
                    }),
                    Err(e) => {
                        tracing::error!(key, error = %e, "undecodable outbox entry left alone");
                        None
                    }
                },
            )
            .collect())
    }

    /// Claims the delivery under `key` for `owner` until `until_ms(target)`, unless another
    /// engine's claim holds at `now_ms`.
    pub(crate) async fn claim(
        &self,
        key: &str,
        owner: &str,
        now_ms: i64,
        until_ms: impl Fn(&DeliveryTarget) -> i64 + Send + Sync,
    ) -> Result<Claim, StateError> {
        // A swap fails only when the entry changed since it was read: read it again.
        for _ in 0..8 {
            let Some(stored) = self.state.get(Space::OUTBOX, key).await? else {
                return Ok(Claim::Gone);
            };
            let mut owed: Owed = decode(Space::OUTBOX, key, &stored)?;
            if let Some(until) = claim_holds(&owed, owner, now_ms) {
                return Ok(Claim::Busy(until));
            }
            owed.claimed_by = Some(owner.to_owned());
            owed.claimed_until_ms = Some(until_ms(&owed.target));
            let claimed = encode(Space::OUTBOX, key, &owed)?;
            if self
                .state
                .compare_and_swap(Space::OUTBOX, key, Some(stored), Some(claimed.clone()))
                .await?
            {
                return Ok(Claim::Mine(Claimed {
                    key: key.to_owned(),
                    stored: claimed,
                    owed,
                }));
            }
        }
        Err(StateError::Conflict {
            space: Space::OUTBOX,
            key: key.to_owned(),
        })
    }

    /// The alert record of `item`.
    pub(crate) async fn alert(&self, item: &str) -> Result<Option<AlertRecord>, StateError> {
        self.state
            .get_json(Space::OUTBOX, &format!("{ALERT}{item}"))
            .await
    }

    /// Keeps the records of items just written for their first delivery attempt (see
    /// [`FreshRecords`]).
    pub(crate) fn keep_fresh(&self, records: Vec<(String, AlertRecord)>) {
        self.fresh.keep(records);
    }

    /// The copy of `item`'s record kept since this process owed it, if any; it is kept no
    /// longer (the stored record is read after it).
    pub(crate) fn take_fresh(&self, item: &str) -> Option<AlertRecord> {
        self.fresh.take(item)
    }

    /// Whether first delivery attempts fall behind what this process owes: more than half the
    /// room for records kept in memory is taken.
    pub(crate) fn first_attempts_behind(&self) -> bool {
        self.fresh.filling()
    }

    /// Records kept in memory for their first delivery attempt.
    #[cfg(test)]
    pub(crate) fn fresh_records(&self) -> usize {
        self.fresh.len()
    }

    /// Forgets the copy of the record of the item of delivery `key`, if any (the delivery
    /// ended elsewhere).
    pub(crate) fn forget_fresh(&self, key: &str) {
        self.fresh.take(item_of(key));
    }

    /// Whether a delivery with this idempotency key was done.
    pub(crate) async fn is_done(&self, idempotency_key: &str) -> Result<bool, StateError> {
        Ok(self
            .state
            .get(Space::DELIVERIES, idempotency_key)
            .await?
            .is_some())
    }

    /// Marks a claimed delivery done: its marker written and the delivery removed, in one
    /// batch. `Ok(false)` when the delivery changed meanwhile (nothing written).
    pub(crate) async fn done(&self, c: &Claimed, now_ms: i64) -> Result<bool, StateError> {
        let marker = Marker {
            item: c.item().to_owned(),
            at_ms: now_ms,
        };
        let mut ops = vec![
            StateOp::expect(Space::OUTBOX, &c.key, Some(c.stored.clone())),
            StateOp::delete(Space::OUTBOX, &c.key),
            StateOp::put_json(Space::DELIVERIES, &c.owed.idempotency_key, &marker)?,
        ];
        if c.owed.sole {
            ops.push(StateOp::delete(
                Space::OUTBOX,
                format!("{ALERT}{}", c.item()),
            ));
        }
        self.finish(c, ops).await
    }

    /// Stores a failed attempt of a claimed delivery (`owed` with its new attempt count and
    /// time), unclaimed. `Ok(false)` when the delivery changed meanwhile.
    pub(crate) async fn retry(&self, c: &Claimed, mut owed: Owed) -> Result<bool, StateError> {
        owed.claimed_by = None;
        owed.claimed_until_ms = None;
        let value = encode(Space::OUTBOX, &c.key, &owed)?;
        self.state
            .compare_and_swap(Space::OUTBOX, &c.key, Some(c.stored.clone()), Some(value))
            .await
    }

    /// Moves a claimed delivery to the dead letters. `Ok(false)` when it changed meanwhile.
    pub(crate) async fn bury(&self, c: &Claimed, mut owed: Owed) -> Result<bool, StateError> {
        owed.claimed_by = None;
        owed.claimed_until_ms = None;
        let dead_key = format!("{DEAD}{}", c.key.strip_prefix(OWED).unwrap_or(&c.key));
        let ops = vec![
            StateOp::expect(Space::OUTBOX, &c.key, Some(c.stored.clone())),
            StateOp::delete(Space::OUTBOX, &c.key),
            StateOp::put_json(Space::OUTBOX, dead_key, &owed)?,
        ];
        self.finish(c, ops).await
    }

    /// Applies a batch that ends a delivery's time in `owed/`, then drops the item's alert
    /// record if nothing else of the item is left (a sole delivery's batch did that already
    /// when it was done, and keeps the record when it was buried).
    async fn finish(&self, c: &Claimed, ops: Vec<StateOp>) -> Result<bool, StateError> {
        match self.state.apply(ops).await {
            Ok(()) => {}
            Err(StateError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        if !c.owed.sole {
            self.tidy(c.item()).await?;
        }
        Ok(true)
    }

    /// Removes the alert record of `item` once it has no delivery owed or dead. Each delivery
    /// calls this after its own removal, so the last one removed sees none left.
    async fn tidy(&self, item: &str) -> Result<(), StateError> {
        for prefix in [OWED, DEAD] {
            let left = self
                .state
                .scan_prefix(Space::OUTBOX, &format!("{prefix}{item}/"), None, 1)
                .await?;
            if !left.is_empty() {
                return Ok(());
            }
        }
        self.state
            .delete(Space::OUTBOX, &format!("{ALERT}{item}"))
            .await?;
        Ok(())
    }

    /// Removes the alert records left without deliveries by a crash between a delivery's
    /// removal and [`tidy`](Self::tidy). Runs before any attempt starts, but while the monitor
    /// path may write items and an operator may replay dead letters.
    pub(crate) async fn tidy_all(&self) -> Result<(), StateError> {
        // Alert records first: an item written after this scan is not a candidate. Then the
        // dead deliveries before the owed ones: a replay moving one from `dead/` to `owed/`
        // between the two scans shows in the second. (The opposite move only happens in an
        // attempt, and none runs yet.)
        let alerts = self.state.scan_all(Space::OUTBOX, ALERT).await?;
        if alerts.is_empty() {
            return Ok(());
        }
        let mut live = std::collections::HashSet::new();
        for prefix in [DEAD, OWED] {
            for (key, _) in self.state.scan_all(Space::OUTBOX, prefix).await? {
                live.insert(item_of(&key).to_owned());
            }
        }
        for (key, _) in alerts {
            if !live.contains(key.strip_prefix(ALERT).unwrap_or(&key)) {
                self.state.delete(Space::OUTBOX, &key).await?;
            }
        }
        Ok(())
    }

    /// Deletes the markers of deliveries done before `before_ms`.
    pub(crate) async fn forget_markers(&self, before_ms: i64) -> Result<usize, StateError> {
        let mut forgotten = 0;
        for (key, bytes) in self.state.scan_all(Space::DELIVERIES, "").await? {
            let old = match decode::<Marker>(Space::DELIVERIES, &key, &bytes) {
                Ok(marker) => marker.at_ms < before_ms,
                // Not ours (nothing else writes this space) or corrupt: of no use either way.
                Err(_) => true,
            };
            if old && self.state.delete(Space::DELIVERIES, &key).await? {
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }

    /// The dead letters, in item order.
    pub(crate) async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        let mut items: BTreeMap<String, Vec<DeadDelivery>> = BTreeMap::new();
        for (key, bytes) in self.state.scan_all(Space::OUTBOX, DEAD).await? {
            let owed: Owed = decode(Space::OUTBOX, &key, &bytes)?;
            items
                .entry(item_of(&key).to_owned())
                .or_default()
                .push(DeadDelivery {
                    target: owed.target,
                    idempotency_key: owed.idempotency_key,
                    attempts: owed.attempts,
                    last_error: owed.last_error,
                });
        }
        let mut letters = Vec::with_capacity(items.len());
        for (id, deliveries) in items {
            let record = self.alert(&id).await?;
            letters.push(DeadLetter {
                monitor_id: record
                    .as_ref()
                    .map(|r| r.monitor_id.clone())
                    .unwrap_or_default(),
                transaction_hash: record
                    .as_ref()
                    .map(|r| r.alert.hash.clone())
                    .unwrap_or_default(),
                subject: record
                    .as_ref()
                    .map(|r| r.subject.clone())
                    .unwrap_or_default(),
                created_at: record.and_then(|r| DateTime::from_timestamp_millis(r.created_ms)),
                id,
                deliveries,
            });
        }
        Ok(letters)
    }

    /// Owes the dead deliveries of item `id` again, from `now_ms`, with a fresh retry
    /// horizon; returns them for the workers. Empty when the item has no dead delivery.
    pub(crate) async fn replay(&self, id: &str, now_ms: i64) -> Result<Vec<Pending>, StateError> {
        if id.len() != 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Vec::new());
        }
        let dead = self
            .state
            .scan_all(Space::OUTBOX, &format!("{DEAD}{id}/"))
            .await?;
        let mut ops = Vec::with_capacity(dead.len() * 3);
        let mut pending = Vec::with_capacity(dead.len());
        for (key, bytes) in dead {
            let owed: Owed = decode(Space::OUTBOX, &key, &bytes)?;
            let again = Owed::new(owed.target, owed.idempotency_key, now_ms);
            let owed_key = format!("{OWED}{}", key.strip_prefix(DEAD).unwrap_or(&key));
            ops.push(StateOp::expect(Space::OUTBOX, &key, Some(bytes)));
            ops.push(StateOp::delete(Space::OUTBOX, &key));
            ops.push(StateOp::put_json(Space::OUTBOX, &owed_key, &again)?);
            pending.push(Pending {
                key: owed_key,
                target: again.target,
                due_ms: now_ms,
            });
        }
        if !ops.is_empty() {
            self.state.apply(ops).await?;
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use defender_core::state::MemoryStateStore;
    use serde_json::json;

    /// The in-memory state, refusing prefix scans: what a sole delivery's end must not need.
    #[derive(Debug, Default)]
    struct NoScans(MemoryStateStore);

    #[async_trait]
    impl StateStore for NoScans {
        async fn get(&self, space: Space, key: &str) -> Result<Option<bytes::Bytes>, StateError> {
            self.0.get(space, key).await
        }
        async fn delete(&self, space: Space, key: &str) -> Result<bool, StateError> {
            self.0.delete(space, key).await
        }
        async fn scan_prefix(
            &self,
            _: Space,
            _: &str,
            _: Option<&str>,
            _: usize,
        ) -> Result<Vec<(String, bytes::Bytes)>, StateError> {
            Err(StateError::Corrupt {
                message: "no scans here".into(),
            })
        }
        async fn apply(&self, ops: Vec<StateOp>) -> Result<(), StateError> {
            self.0.apply(ops).await
        }
        async fn increment(&self, space: Space, key: &str, by: u64) -> Result<u64, StateError> {
            self.0.increment(space, key, by).await
        }
    }

    fn record() -> AlertRecord {
        AlertRecord {
            monitor_id: "m".into(),
            created_ms: 0,
            subject: "s".into(),
            body: "b".into(),
            alert: serde_json::from_value(json!({
                "hash": "0xab",
                "monitor": {"id": "m", "name": "m", "network": "mainnet", "chainId": 1, "addresses": [], "confirmBlocks": 0}
            }))
            .unwrap(),
        }
    }

    /// Writes item 1 owing one delivery per channel named, and claims them all.
    async fn owed_and_claimed(
        state: Arc<dyn StateStore>,
        channels: &[&str],
    ) -> (Outbox, Vec<Claimed>) {
        let outbox = Outbox::new(state.clone());
        let deliveries = channels
            .iter()
            .map(|c| Owed::new(DeliveryTarget::Channel((*c).into()), format!("key-{c}"), 0))
            .collect();
        let mut ops = Vec::new();
        let summaries = std::sync::Mutex::default();
        let mut writer = RecordWriter::new(&summaries);
        let pending = Outbox::owe_ops(
            &Outbox::item_id(1),
            &record(),
            &mut writer,
            deliveries,
            &mut ops,
        )
        .unwrap();
        state.apply(ops).await.unwrap();
        let mut claimed = Vec::new();
        for p in pending {
            match outbox.claim(&p.key, "me", 0, |_| 1_000).await.unwrap() {
                Claim::Mine(c) => claimed.push(c),
                other => panic!("{other:?}"),
            }
        }
        (outbox, claimed)
    }

    #[tokio::test]
    async fn a_record_kept_in_memory_serves_the_first_attempt_only() {
        let state = Arc::new(MemoryStateStore::default());
        let (outbox, claimed) = owed_and_claimed(state.clone(), &["ops"]).await;
        let item = claimed[0].item();
        let mut kept = record();
        kept.subject = "kept".into();
        outbox.keep_fresh(vec![(item.to_owned(), kept)]);
        let first = outbox.take_fresh(item).unwrap();
        assert_eq!(first.subject, "kept");
        assert!(outbox.take_fresh(item).is_none());
        let stored = outbox.alert(item).await.unwrap().unwrap();
        assert_eq!(stored.subject, record().subject);
        // A delivery that ended elsewhere has its copy forgotten.
        outbox.keep_fresh(vec![(item.to_owned(), record())]);
        outbox.forget_fresh(&claimed[0].key);
        assert_eq!(outbox.fresh.len(), 0);
    }

    #[tokio::test]
    async fn a_sole_delivery_takes_its_alert_record_with_it_in_one_batch() {
        let state = Arc::new(NoScans::default());
        let (outbox, claimed) = owed_and_claimed(state.clone(), &["ops"]).await;
        assert!(claimed[0].owed.sole);
        assert!(outbox.alert(claimed[0].item()).await.unwrap().is_some());
        // Done without a scan (this store refuses them): the record went with the batch.
        assert!(outbox.done(&claimed[0], 5).await.unwrap());
        assert!(outbox.alert(claimed[0].item()).await.unwrap().is_none());
        assert!(outbox.is_done("key-ops").await.unwrap());
    }

    #[tokio::test]
    async fn an_alert_record_stays_until_its_last_delivery_ends() {
        let state = Arc::new(MemoryStateStore::default());
        let (outbox, claimed) = owed_and_claimed(state.clone(), &["ops", "pager"]).await;
        assert!(claimed.iter().all(|c| !c.owed.sole));
        assert!(outbox.done(&claimed[0], 5).await.unwrap());
        assert!(outbox.alert(claimed[0].item()).await.unwrap().is_some());
        // The other one given up: the record stays for the dead letter.
        assert!(outbox
            .bury(&claimed[1], claimed[1].owed.clone())
            .await
            .unwrap());
        assert!(outbox.alert(claimed[1].item()).await.unwrap().is_some());
        // A sole delivery given up keeps its record too.
        let state = Arc::new(MemoryStateStore::default());
        let (outbox, claimed) = owed_and_claimed(state.clone(), &["ops"]).await;
        assert!(outbox
            .bury(&claimed[0], claimed[0].owed.clone())
            .await
            .unwrap());
        assert!(outbox.alert(claimed[0].item()).await.unwrap().is_some());
    }

    /// Values the outbox writes read back the same with serde_json: escapes, non-ASCII text,
    /// control characters, floats and big integers in a custom filter's metadata.
    #[test]
    fn encoded_values_read_back_with_serde_json() {
        let tricky = "quote \" backslash \\ slash / tab \t nl \n nul \u{0} bell \u{7} del \u{7f} é 漢 🦀 \u{2028}";
        let alert: defender_core::MonitorMatch = serde_json::from_value(json!({
            "type": "BLOCK",
            "hash": "0xab",
            "timestamp": 1_700_000_000u64,
            "blockNumber": "0x10",
            "blockHash": "0xcd",
            "matchReasons": [{"type": "transaction", "condition": tricky, "args": [tricky, 1.5, -0.0, 1e300, u64::MAX], "params": {"x": tricky}}],
            "matchedAddresses": [],
            "matchedChecksumAddresses": [],
            "monitor": {"id": tricky, "name": tricky, "network": "mainnet", "chainId": 1, "addresses": [], "abi": [{"name": tricky}], "confirmBlocks": 0},
            "metadata": {"f": [0.1, 2.5e-8, 123456789.125, -7], "i": i64::MIN, "s": tricky, "n": null, "b": true}
        }))
        .unwrap();
        let record = AlertRecord {
            monitor_id: tricky.into(),
            created_ms: -1,
            subject: tricky.into(),
            body: tricky.repeat(100),
            alert: Arc::new(alert),
        };
        let bytes = encode(Space::OUTBOX, "alert/1", &record).unwrap();
        let back: AlertRecord = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.alert, record.alert);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&record).unwrap()
        );
        let owed = Owed::new(DeliveryTarget::Channel(tricky.into()), tricky.into(), 5);
        let bytes = encode(Space::OUTBOX, "owed/1/0", &owed).unwrap();
        assert_eq!(serde_json::from_slice::<Owed>(&bytes).unwrap(), owed);
    }
}

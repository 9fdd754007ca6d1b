//! The outbox: what the monitor path owes (notifications and linked-action runs), kept in the
//! engine state until it is done.
//!
//! The monitor path writes a block's admitted alerts here in the same atomic batch that moves
//! its checkpoint (see [`pipeline`](crate::pipeline)), so a crash leaves either both or
//! neither: nothing is lost and nothing is owed twice. The delivery workers
//! ([`delivery`](crate::delivery)) then work through it.
//!
//! Layout, in [`Space::OUTBOX`] (items are numbered by a counter, and their numbers written
//! with 20 digits, so keys sort in the order the items were written):
//! - `next-item`: the counter;
//! - `alert/<item>`: an [`AlertRecord`], the match, its monitor and its rendered message;
//! - `owed/<item>/<n>`: an [`Owed`] delivery, one per notification channel, one for the
//!   linked action and one for the workflow;
//! - `dead/<item>/<n>`: an [`Owed`] delivery given up at the retry horizon: a dead letter, kept
//!   until it is replayed.
//!
//! In [`Space::DELIVERIES`], `<idempotency key>`: a [`Marker`] of a delivery done, written in
//! the batch that removes it from the outbox.

use chrono::{DateTime, Utc};
use defender_core::state::{Space, StateError, StateOp, StateStore, StateStoreExt};
use defender_core::MonitorMatch;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

const NEXT_ITEM: &str = "next-item";
const ALERT: &str = "alert/";
const OWED: &str = "owed/";
const DEAD: &str = "dead/";

/// Longest error message kept with a delivery, in bytes.
const MAX_ERROR_BYTES: usize = 1000;

/// Where one delivery of a monitor alert goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum DeliveryTarget {
    /// The notification channel(s) with this alias.
    Channel(String),
    /// A run of the monitor's linked action, with this id.
    Action(String),
    /// A run of the monitor's workflow (`workflowTrigger`), with this id.
    Workflow(String),
}

impl DeliveryTarget {
    /// `channel` or `action`, as the idempotency key names it.
    fn kind(&self) -> &'static str {
        match self {
            DeliveryTarget::Channel(_) => "channel",
            DeliveryTarget::Action(_) => "action",
            DeliveryTarget::Workflow(_) => "workflow",
        }
    }

    /// The alias or the action id.
    pub fn name(&self) -> &str {
        match self {
            DeliveryTarget::Channel(name)
            | DeliveryTarget::Action(name)
            | DeliveryTarget::Workflow(name) => name,
        }
    }
}

/// The idempotency key of one delivery: the same for every attempt and every redelivery of
/// the alert of monitor `monitor_id` about transaction `tx_hash` to `target`.
///
/// It stands for (monitor id, transaction hash, log index, channel alias or `action`); monitor
/// matches are per transaction, so the log index part is always `tx`. The key is the SHA-256
/// of these parts, each prefixed with its length, in lowercase hex: 64 characters whatever
/// the ids hold, valid as an HTTP header value and as a state key.
pub(crate) fn idempotency_key(monitor_id: &str, tx_hash: &str, target: &DeliveryTarget) -> String {
    let tx_hash = tx_hash.to_ascii_lowercase();
    let mut digest = Sha256::new();
    for part in [monitor_id, &tx_hash, "tx", target.kind(), target.name()] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    hex::encode(digest.finalize())
}

/// What every delivery of one item needs: the match, its monitor and its rendered message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlertRecord {
    pub(crate) monitor_id: String,
    pub(crate) created_ms: i64,
    pub(crate) subject: String,
    pub(crate) body: String,
    pub(crate) alert: MonitorMatch,
}

/// One delivery still owed (or, under `dead/`, given up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Owed {
    pub(crate) target: DeliveryTarget,
    pub(crate) idempotency_key: String,
    /// Failed attempts so far.
    pub(crate) attempts: u32,
    /// When the retry horizon started: the item's creation, or its replay.
    pub(crate) since_ms: i64,
    /// Not before this time (milliseconds since the epoch).
    pub(crate) next_attempt_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
    /// The engine working on it ([`Cluster::instance`](crate::Cluster)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) claimed_by: Option<String>,
    /// Until when the claim holds (ms since the epoch): after it, another engine may take
    /// the delivery over (its claimant died). A claim without it (written by an earlier
    /// version, one process per store) is taken over at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) claimed_until_ms: Option<i64>,
}

impl Owed {
    /// A delivery owed from `now_ms`.
    pub(crate) fn new(target: DeliveryTarget, idempotency_key: String, now_ms: i64) -> Self {
        Owed {
            target,
            idempotency_key,
            attempts: 0,
            since_ms: now_ms,
            next_attempt_ms: now_ms,
            last_error: None,
            claimed_by: None,
            claimed_until_ms: None,
        }
    }

    /// Records a failed attempt, keeping a bounded copy of the error.
    pub(crate) fn failed(&mut self, error: &str, next_attempt_ms: i64) {
        self.attempts = self.attempts.saturating_add(1);
        self.next_attempt_ms = next_attempt_ms;
        let mut end = error.len().min(MAX_ERROR_BYTES);
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        self.last_error = Some(error[..end].to_owned());
    }
}

/// A delivery the workers are to schedule: its key under `owed/`, target and due time.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) key: String,
    pub(crate) target: DeliveryTarget,
    pub(crate) due_ms: i64,
}

/// What a claim found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Claimed by this engine.
    Mine(Claimed),
    /// Claimed by another engine until this time (ms since the epoch).
    Busy(i64),
    /// Done or dead: no longer owed.
    Gone,
}

/// Until when another engine's claim on `owed` holds at `now_ms`; `None` when `owner` may
/// claim it (unclaimed, its own, expired, or from a version without claim times).
pub(crate) fn claim_holds(owed: &Owed, owner: &str, now_ms: i64) -> Option<i64> {
    match (&owed.claimed_by, owed.claimed_until_ms) {
        (Some(by), Some(until)) if by != owner && until > now_ms => Some(until),
        _ => None,
    }
}

/// A delivery claimed by this process: the stored bytes the next write expects.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) key: String,
    pub(crate) stored: bytes::Bytes,
    pub(crate) owed: Owed,
}

impl Claimed {
    /// The item the delivery belongs to.
    pub(crate) fn item(&self) -> &str {
        item_of(&self.key)
    }
}

/// The item part of an `owed/<item>/<n>` key.
fn item_of(key: &str) -> &str {
    let rest = key
        .strip_prefix(OWED)
        .or_else(|| key.strip_prefix(DEAD))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// A delivery done, by idempotency key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Marker {
    pub(crate) item: String,
    pub(crate) at_ms: i64,
}

/// An alert whose delivery to at least one target was given up at the retry horizon
/// ([`EngineBuilder::delivery_horizon`](crate::EngineBuilder::delivery_horizon)). It stays
/// until it is replayed ([`Engine::replay_dead_letter`](crate::Engine::replay_dead_letter)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its id, for [`Engine::replay_dead_letter`](crate::Engine::replay_dead_letter).
    pub id: String,
    /// The monitor that matched.
    pub monitor_id: String,
    /// The matching transaction.
    pub transaction_hash: String,
    /// The alert's rendered subject.
    pub subject: String,
    /// When the alert was written to the outbox.
    pub created_at: Option<DateTime<Utc>>,
    /// The deliveries given up (those that succeeded are not listed).
    pub deliveries: Vec<DeadDelivery>,
}

/// One delivery of a [`DeadLetter`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeadDelivery {
    /// Where it was to go.
    pub target: DeliveryTarget,
    /// Its idempotency key (the `Idempotency-Key` header of webhook channels).
    pub idempotency_key: String,
    /// How many attempts failed.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// The outbox in an engine state store (see the module's documentation for its layout).
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    state: Arc<dyn StateStore>,
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

fn encode<T: Serialize>(space: Space, key: &str, value: &T) -> Result<bytes::Bytes, StateError> {
    serde_json::to_vec(value)
        .map(bytes::Bytes::from)
        .map_err(|source| StateError::Encode {
            space,
            key: key.to_owned(),
            source,
        })
}

impl Outbox {
    pub(crate) fn new(state: Arc<dyn StateStore>) -> Self {
        Outbox { state }
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

    /// The writes that owe `deliveries` of `record` as item `item`, and what to tell the
    /// workers once they are written.
    pub(crate) fn owe_ops(
        item: &str,
        record: &AlertRecord,
        deliveries: Vec<Owed>,
        ops: &mut Vec<StateOp>,
    ) -> Result<Vec<Pending>, StateError> {
        let key = format!("{ALERT}{item}");
        ops.push(StateOp::Put {
            value: encode(Space::OUTBOX, &key, record)?,
            space: Space::OUTBOX,
            key,
        });
        let mut pending = Vec::with_capacity(deliveries.len());
        for (n, owed) in deliveries.into_iter().enumerate() {
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
        let ops = vec![
            StateOp::expect(Space::OUTBOX, &c.key, Some(c.stored.clone())),
            StateOp::delete(Space::OUTBOX, &c.key),
            StateOp::put_json(Space::DELIVERIES, &c.owed.idempotency_key, &marker)?,
        ];
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
    /// record if nothing else of the item is left.
    async fn finish(&self, c: &Claimed, ops: Vec<StateOp>) -> Result<bool, StateError> {
        match self.state.apply(ops).await {
            Ok(()) => {}
            Err(StateError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.tidy(c.item()).await?;
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

    #[test]
    fn idempotency_keys_tell_every_part_apart() {
        let ops = DeliveryTarget::Channel("ops".into());
        let key = idempotency_key("m1", "0xAB", &ops);
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        // The transaction hash is compared without case.
        assert_eq!(key, idempotency_key("m1", "0xab", &ops));
        for other in [
            idempotency_key("m2", "0xab", &ops),
            idempotency_key("m1", "0xac", &ops),
            idempotency_key("m1", "0xab", &DeliveryTarget::Action("ops".into())),
            idempotency_key("m1", "0xab", &DeliveryTarget::Workflow("ops".into())),
            idempotency_key("m1", "0xab", &DeliveryTarget::Channel("ops2".into())),
            // Length prefixes: moving a character from one part to the next is another key.
            idempotency_key("m10", "xab", &ops),
        ] {
            assert_ne!(key, other);
        }
    }

    #[test]
    fn failures_keep_a_bounded_error() {
        let mut owed = Owed::new(DeliveryTarget::Channel("ops".into()), "k".into(), 0);
        owed.failed(&"é".repeat(MAX_ERROR_BYTES), 10);
        assert_eq!(owed.attempts, 1);
        assert_eq!(owed.next_attempt_ms, 10);
        assert!(owed.last_error.unwrap().len() <= MAX_ERROR_BYTES);
    }

    #[test]
    fn claims_hold_only_for_another_live_claimant() {
        let owed = |by: Option<&str>, until: Option<i64>| Owed {
            claimed_by: by.map(str::to_owned),
            claimed_until_ms: until,
            ..Owed::new(DeliveryTarget::Channel("c".into()), "k".into(), 0)
        };
        let table = [
            (owed(None, None), None),
            (owed(Some("me"), Some(200)), None),
            (owed(Some("them"), Some(200)), Some(200)),
            (owed(Some("them"), Some(100)), None),
            (owed(Some("them"), None), None),
        ];
        for (o, want) in table {
            assert_eq!(claim_holds(&o, "me", 100), want, "{o:?}");
        }
    }

    #[test]
    fn items_of_keys() {
        assert_eq!(
            item_of("owed/00000000000000000001/000002"),
            "00000000000000000001"
        );
        assert_eq!(
            item_of("dead/00000000000000000001/000000"),
            "00000000000000000001"
        );
    }
}

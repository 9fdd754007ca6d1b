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
//! the batch that removes it from the outbox. An item's alert record goes once none of its
//! deliveries is left: in that same batch when the item owed only one (`Owed::sole`), else
//! after the batch of the last one.
//!
//! Records are written once per alert: the parts that alerts share (a transaction's receipt,
//! a monitor's summaries) are encoded once and copied ([`record`]). The process that owed an
//! item keeps its record in memory for the first delivery attempt, which then does not read
//! it back ([`fresh`]).
//!
//! [`Space::OUTBOX`]: defender_core::state::Space::OUTBOX
//! [`Space::DELIVERIES`]: defender_core::state::Space::DELIVERIES

mod fresh;
mod record;
mod store;

pub(crate) use record::{RecordWriter, Summaries};
pub(crate) use store::Outbox;

use chrono::{DateTime, Utc};
use defender_core::MonitorMatch;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    /// Shared with the message of the delivery.
    pub(crate) alert: std::sync::Arc<MonitorMatch>,
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
    /// The only delivery its item was owed with: once it is done, the alert record is
    /// removed in the same batch, without looking for the item's other deliveries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) sole: bool,
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
            sole: false,
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

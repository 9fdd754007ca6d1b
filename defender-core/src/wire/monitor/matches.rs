//! Monitor matches: why a transaction (or a Forta alert) matched, the monitor and the
//! receipt a match carries, and the custom filter's request and response.

use super::definition::{ConfirmLevel, MonitorType, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Why a transaction matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchReasonType {
    /// An emitted event.
    Event,
    /// A called function.
    Function,
    /// The transaction condition.
    Transaction,
    /// An internal call: the selected function called by a contract, not by the transaction.
    InternalFunction,
    /// A Forta alert whose alert id is selected (`value`: the alert id).
    AlertId,
    /// A Forta alert at or above the selected severity (`value`: its severity).
    Severity,
}

/// One reason a transaction matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchReason {
    /// What matched.
    #[serde(rename = "type")]
    pub kind: MatchReasonType,
    /// The event or function signature (empty for a transaction condition).
    #[serde(default)]
    pub signature: String,
    /// The condition that held, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The address that emitted the event or received the call.
    #[serde(default)]
    pub address: String,
    /// Every decoded argument by position (numbers as decimal strings).
    #[serde(default)]
    pub args: Vec<Value>,
    /// The named arguments.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// What a Forta condition matched: the alert id or the severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The monitor as a match describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorSummary {
    /// The monitor's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its network.
    pub network: String,
    /// The network's chain id.
    pub chain_id: u64,
    /// The watched addresses.
    pub addresses: Vec<String>,
    /// The parsed ABI, when it has one; shared, since every match of a monitor carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<std::sync::Arc<Value>>,
    /// Confirmations it waits for.
    pub confirm_blocks: ConfirmLevel,
    /// The legacy Sentinel's single address (the first watched one): only in `sentinel`,
    /// for code written for Sentinels (`event.request.body.sentinel.address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The monitor's severity, when it has one (absent otherwise, as in Defender's matches):
    /// what notification templates, PagerDuty, Opsgenie and the metrics read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_level: Option<Severity>,
    /// The monitor's risk category, when it has one (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_category: Option<String>,
    /// A Forta monitor's bot ids (Defender's `agents`); empty for block monitors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
}

/// A log as `eth_getTransactionReceipt` returns it (hex strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EthLog {
    /// Emitting contract.
    pub address: String,
    /// Topics, topic0 first.
    pub topics: Vec<String>,
    /// Non-indexed data.
    pub data: String,
    /// Block number (hex).
    pub block_number: String,
    /// Transaction hash.
    pub transaction_hash: String,
    /// Transaction index (hex).
    pub transaction_index: String,
    /// Block hash.
    pub block_hash: String,
    /// Log index (hex).
    pub log_index: String,
    /// Whether a reorg removed it.
    #[serde(default)]
    pub removed: bool,
}

/// A receipt as `eth_getTransactionReceipt` returns it (hex strings), the `transaction` of a match.
///
/// The default (all empty) is the `transaction` of a Forta match, which has none and does not
/// write it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EthReceipt {
    /// Block hash.
    pub block_hash: String,
    /// Block number (hex).
    pub block_number: String,
    /// Deployed contract, if any.
    #[serde(default)]
    pub contract_address: Option<String>,
    /// Gas used by the block up to this transaction (hex).
    pub cumulative_gas_used: String,
    /// Effective gas price (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_gas_price: Option<String>,
    /// Sender.
    pub from: String,
    /// Gas used (hex).
    pub gas_used: String,
    /// Logs.
    pub logs: Vec<EthLog>,
    /// Bloom filter.
    pub logs_bloom: String,
    /// `0x1` success, `0x0` reverted.
    pub status: String,
    /// Receiver (absent for a deployment).
    #[serde(default)]
    pub to: Option<String>,
    /// Transaction hash.
    pub transaction_hash: String,
    /// Index in the block (hex).
    pub transaction_index: String,
    /// Transaction type (hex).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl EthReceipt {
    /// Whether this is the empty receipt of a match without a transaction (Forta's).
    pub fn is_empty(&self) -> bool {
        self.transaction_hash.is_empty()
    }
}

/// A monitor match: `request.body` of a monitor-triggered action and the notification context.
///
/// Serialization writes the monitor under both `monitor` and `sentinel`; deserialization accepts
/// either. A Forta monitor's match (`type: "FORTA"`) carries the Forta `alert` and no
/// `transaction`, as Defender's `FortaTriggerEvent`; its `hash` is the alert's hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawMonitorMatch")]
pub struct MonitorMatch {
    /// `BLOCK`, or `FORTA` for a Forta monitor's match.
    #[serde(rename = "type")]
    pub kind: MonitorType,
    /// The transaction hash (a Forta match: the alert's hash).
    pub hash: String,
    /// The block's timestamp, in seconds.
    pub timestamp: u64,
    /// The block number (hex).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub block_number: String,
    /// The block hash.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub block_hash: String,
    /// The transaction's receipt (empty, and not written, in a Forta match). Shared: the
    /// matches of one transaction hold the same receipt.
    #[serde(skip_serializing_if = "EthReceipt::is_empty")]
    pub transaction: Arc<EthReceipt>,
    /// The Forta alert of a Forta monitor's match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Box<crate::FortaAlert>>,
    /// Why it matched.
    pub match_reasons: Vec<MatchReason>,
    /// Matched watched addresses (lower case).
    pub matched_addresses: Vec<String>,
    /// The same, checksummed.
    pub matched_checksum_addresses: Vec<String>,
    /// The monitor (shared by its matches).
    pub monitor: Arc<MonitorSummary>,
    /// The same monitor, for code written before the rename.
    pub sentinel: Arc<MonitorSummary>,
    /// Metadata a custom filter attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMonitorMatch {
    #[serde(rename = "type", default)]
    kind: MonitorType,
    hash: String,
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    block_number: String,
    #[serde(default)]
    block_hash: String,
    #[serde(default)]
    transaction: EthReceipt,
    #[serde(default)]
    alert: Option<Box<crate::FortaAlert>>,
    #[serde(default)]
    match_reasons: Vec<MatchReason>,
    #[serde(default)]
    matched_addresses: Vec<String>,
    #[serde(default)]
    matched_checksum_addresses: Vec<String>,
    monitor: Option<MonitorSummary>,
    sentinel: Option<MonitorSummary>,
    #[serde(default)]
    metadata: Option<Value>,
}

impl TryFrom<RawMonitorMatch> for MonitorMatch {
    type Error = String;
    fn try_from(r: RawMonitorMatch) -> Result<Self, String> {
        let (monitor, sentinel) = match (r.monitor, r.sentinel) {
            (Some(m), Some(s)) => (m, s),
            (Some(m), None) => (m.clone(), m),
            (None, Some(s)) => (s.clone(), s),
            (None, None) => return Err("a match needs `monitor` or `sentinel`".into()),
        };
        Ok(MonitorMatch {
            kind: r.kind,
            hash: r.hash,
            timestamp: r.timestamp,
            block_number: r.block_number,
            block_hash: r.block_hash,
            transaction: Arc::new(r.transaction),
            alert: r.alert,
            match_reasons: r.match_reasons,
            matched_addresses: r.matched_addresses,
            matched_checksum_addresses: r.matched_checksum_addresses,
            monitor: Arc::new(monitor),
            sentinel: Arc::new(sentinel),
            metadata: r.metadata,
        })
    }
}

/// Most matches sent to a custom filter action in one call.
pub const MAX_FILTER_BATCH: usize = 25;

/// The body a custom filter action receives: `{ events }`, at most [`MAX_FILTER_BATCH`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorFilterRequest {
    /// The candidate matches.
    pub events: Vec<MonitorMatch>,
}

/// One match a custom filter kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FilterMatch {
    /// The transaction hash of a kept match.
    pub hash: String,
    /// Metadata to attach to the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// What a custom filter action returns: `{ matches: [{ hash, metadata? }] }`.
///
/// An error or an empty object means no match, so [`MonitorFilterResponse::from_result`] maps
/// anything that is not this shape to an empty list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorFilterResponse {
    /// The kept matches.
    #[serde(default)]
    pub matches: Vec<FilterMatch>,
}

impl MonitorFilterResponse {
    /// Reads a filter action's return value; anything unexpected means "no match".
    pub fn from_result(value: &Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}

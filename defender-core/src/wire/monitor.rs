//! Monitor definitions and matches.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// The variables a transaction condition can use.
pub const MONITOR_TX_VARIABLES: &[&str] = &[
    "to",
    "from",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "gasLimit",
    "gasUsed",
    "value",
    "nonce",
    "status",
];

/// How long a monitor waits before it looks at a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfirmLevel {
    /// This many blocks behind the latest (0 is the latest block itself).
    Blocks(u64),
    /// The chain's `safe` head.
    Safe,
    /// The chain's `finalized` head.
    Finalized,
}

impl Default for ConfirmLevel {
    fn default() -> Self {
        ConfirmLevel::Blocks(1)
    }
}

impl Serialize for ConfirmLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ConfirmLevel::Blocks(n) => s.serialize_u64(*n),
            ConfirmLevel::Safe => s.serialize_str("safe"),
            ConfirmLevel::Finalized => s.serialize_str("finalized"),
        }
    }
}

impl<'de> Deserialize<'de> for ConfirmLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ConfirmLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of blocks, \"safe\" or \"finalized\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConfirmLevel, E> {
                Ok(ConfirmLevel::Blocks(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConfirmLevel, E> {
                u64::try_from(v)
                    .map(ConfirmLevel::Blocks)
                    .map_err(|_| E::custom(format!("confirm level {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfirmLevel, E> {
                match v {
                    "safe" => Ok(ConfirmLevel::Safe),
                    "finalized" => Ok(ConfirmLevel::Finalized),
                    "latest" => Ok(ConfirmLevel::Blocks(0)),
                    other => match other.parse::<u64>() {
                        Ok(n) => Ok(ConfirmLevel::Blocks(n)),
                        Err(_) => Err(E::custom(format!(
                            "unknown confirm level `{other}`: expected a number, \"safe\" or \"finalized\""
                        ))),
                    },
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The only monitor type this engine runs: Defender's block monitor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonitorType {
    /// Watches transactions in blocks.
    #[default]
    #[serde(rename = "BLOCK")]
    Block,
}

/// A selected event and its optional condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCondition {
    /// For example `Transfer(address,address,uint256)` or with names.
    pub event_signature: String,
    /// A condition over the event's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// A selected function and its optional condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCondition {
    /// For example `transfer(address,uint256)`.
    pub function_signature: String,
    /// A condition over the call's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// Notify only once `amount` matches happened within `window_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertThreshold {
    /// How many matches.
    pub amount: u32,
    /// Within how many seconds.
    pub window_seconds: u64,
}

/// Alert severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

/// Defender's monitor create request, accepted as configuration as it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorDefinition {
    /// Always `BLOCK`.
    #[serde(rename = "type", default)]
    pub kind: MonitorType,
    /// The monitor's name.
    pub name: String,
    /// The network name (for example `mainnet`, `sepolia`).
    pub network: String,
    /// The watched addresses.
    pub addresses: Vec<String>,
    /// The contract ABI as a JSON string (Defender's shape); a JSON array is accepted too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "abi_string"
    )]
    pub abi: Option<String>,
    /// Paused monitors watch nothing.
    #[serde(default)]
    pub paused: bool,
    /// Confirmations before a block is looked at.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "confirmBlocks"
    )]
    pub confirm_level: Option<ConfirmLevel>,
    /// Selected events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_conditions: Vec<EventCondition>,
    /// Selected functions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub function_conditions: Vec<FunctionCondition>,
    /// A condition over the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_condition: Option<String>,
    /// Alert only above this rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_threshold: Option<AlertThreshold>,
    /// Minimum time between two alerts, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_timeout_ms: Option<u64>,
    /// Aliases of the channels to notify.
    #[serde(default)]
    pub notification_channels: Vec<String>,
    /// Custom subject template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_message_subject: Option<String>,
    /// Custom body template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_message_body: Option<String>,
    /// Severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_level: Option<Severity>,
    /// Risk category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_category: Option<String>,
    /// Action run on each match.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "autotaskTrigger"
    )]
    pub action_trigger: Option<String>,
    /// Action used as a custom filter.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "autotaskCondition"
    )]
    pub action_condition: Option<String>,
}

fn abi_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(v @ Value::Array(_)) => Some(v.to_string()),
        Some(other) => {
            return Err(de::Error::custom(format!(
                "abi must be a JSON string or array, not {other}"
            )))
        }
    })
}

/// What is wrong with a [`MonitorDefinition`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// The name is empty.
    #[error("the monitor has no name")]
    MissingName,
    /// No address to watch.
    #[error("the monitor watches no address")]
    NoAddresses,
    /// An address is not 20 bytes of hex.
    #[error("`{0}` is not an address")]
    InvalidAddress(String),
    /// The ABI is not JSON.
    #[error("the ABI is not valid JSON: {0}")]
    InvalidAbi(String),
    /// Events or functions are selected without an ABI and without full signatures.
    #[error(
        "no notification channel, action trigger or action condition: the monitor would do nothing"
    )]
    NothingToDo,
    /// The alert threshold cannot be met.
    #[error("the alert threshold needs an amount and a window above zero")]
    InvalidThreshold,
}

impl MonitorDefinition {
    /// Checks what Defender rejected at creation; returns every problem, not only the first.
    pub fn validate(&self) -> Result<(), Vec<DefinitionError>> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(DefinitionError::MissingName);
        }
        if self.addresses.is_empty() {
            errors.push(DefinitionError::NoAddresses);
        }
        for a in &self.addresses {
            if a.parse::<alloy_primitives::Address>().is_err() {
                errors.push(DefinitionError::InvalidAddress(a.clone()));
            }
        }
        if let Some(abi) = &self.abi {
            if let Err(e) = serde_json::from_str::<Value>(abi) {
                errors.push(DefinitionError::InvalidAbi(e.to_string()));
            }
        }
        if let Some(t) = self.alert_threshold {
            if t.amount == 0 || t.window_seconds == 0 {
                errors.push(DefinitionError::InvalidThreshold);
            }
        }
        if self.notification_channels.is_empty()
            && self.action_trigger.is_none()
            && self.action_condition.is_none()
        {
            errors.push(DefinitionError::NothingToDo);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

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
    /// An internal call.
    InternalFunction,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// A monitor match: `request.body` of a monitor-triggered action and the notification context.
///
/// Serialization writes the monitor under both `monitor` and `sentinel`; deserialization accepts
/// either.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawMonitorMatch")]
pub struct MonitorMatch {
    /// Always `BLOCK`.
    #[serde(rename = "type")]
    pub kind: MonitorType,
    /// The transaction hash.
    pub hash: String,
    /// The block's timestamp, in seconds.
    pub timestamp: u64,
    /// The block number (hex).
    pub block_number: String,
    /// The block hash.
    pub block_hash: String,
    /// The transaction's receipt.
    pub transaction: EthReceipt,
    /// Why it matched.
    pub match_reasons: Vec<MatchReason>,
    /// Matched watched addresses (lower case).
    pub matched_addresses: Vec<String>,
    /// The same, checksummed.
    pub matched_checksum_addresses: Vec<String>,
    /// The monitor.
    pub monitor: MonitorSummary,
    /// The same monitor, for code written before the rename.
    pub sentinel: MonitorSummary,
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
    timestamp: u64,
    block_number: String,
    block_hash: String,
    transaction: EthReceipt,
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
            transaction: r.transaction,
            match_reasons: r.match_reasons,
            matched_addresses: r.matched_addresses,
            matched_checksum_addresses: r.matched_checksum_addresses,
            monitor,
            sentinel,
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

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
///
/// Deserialization also accepts the shape Defender's API answers with (and its exported
/// JSON): `addressRules` (addresses, ABI, conditions, custom filter), `notifyConfig`
/// (channels by id, linked action, messages, timeout), `blockWatcherId` (the confirmation
/// level), `monitorId`, `createdAt`... Conditions whose signature is empty (`""`, Defender's
/// templates' "no function") select nothing and are dropped.
///
/// ```
/// use defender_core::{ConfirmLevel, MonitorDefinition};
/// let def: MonitorDefinition = serde_json::from_str(r#"{
///   "monitorId": "4b1e...", "type": "BLOCK", "name": "Large transfers", "network": "sepolia",
///   "paused": false, "blockWatcherId": "sepolia-safe",
///   "addressRules": [{
///     "addresses": ["0x0000000000000000000000000000000000000001"],
///     "conditions": [{
///       "eventConditions": [{ "eventSignature": "Transfer(address,address,uint256)", "expression": "value > 10" }],
///       "functionConditions": [{ "functionSignature": "" }],
///       "txConditions": [{ "status": "success", "expression": null }]
///     }]
///   }],
///   "notifyConfig": { "notifications": [{ "notificationId": "ops", "type": "slack" }], "timeoutMs": 0 }
/// }"#).unwrap();
/// assert_eq!(def.addresses, ["0x0000000000000000000000000000000000000001"]);
/// assert_eq!(def.event_conditions.len(), 1);
/// assert!(def.function_conditions.is_empty());
/// assert_eq!(def.tx_condition.as_deref(), Some("status == \"success\""));
/// assert_eq!(def.notification_channels, ["ops"]);
/// assert_eq!(def.confirm_level, Some(ConfirmLevel::Safe));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawMonitorDefinition")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<String>,
    /// Paused monitors watch nothing.
    #[serde(default)]
    pub paused: bool,
    /// Confirmations before a block is looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_trigger: Option<String>,
    /// Action used as a custom filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_condition: Option<String>,
}

/// Every shape a monitor definition is read from: the create request (with its legacy
/// names) and the API response (`addressRules`, `notifyConfig`, `blockWatcherId`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMonitorDefinition {
    #[serde(rename = "type", default)]
    kind: MonitorType,
    name: String,
    network: String,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default, deserialize_with = "abi_string")]
    abi: Option<String>,
    #[serde(default)]
    paused: bool,
    #[serde(default, alias = "confirmBlocks")]
    confirm_level: Option<ConfirmLevel>,
    #[serde(default)]
    event_conditions: Vec<EventCondition>,
    #[serde(default)]
    function_conditions: Vec<FunctionCondition>,
    #[serde(default)]
    tx_condition: Option<String>,
    #[serde(default)]
    alert_threshold: Option<AlertThreshold>,
    #[serde(default)]
    alert_timeout_ms: Option<u64>,
    #[serde(default)]
    notification_channels: Vec<String>,
    #[serde(default)]
    alert_message_subject: Option<String>,
    #[serde(default)]
    alert_message_body: Option<String>,
    #[serde(default)]
    severity_level: Option<Severity>,
    #[serde(default)]
    risk_category: Option<String>,
    #[serde(default, alias = "autotaskTrigger")]
    action_trigger: Option<String>,
    #[serde(default, alias = "autotaskCondition")]
    action_condition: Option<String>,
    // The API response shape.
    #[serde(default)]
    address_rules: Vec<ApiAddressRule>,
    #[serde(default)]
    notify_config: Option<ApiNotifyConfig>,
    #[serde(default)]
    block_watcher_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiAddressRule {
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default, deserialize_with = "abi_string")]
    abi: Option<String>,
    #[serde(default)]
    conditions: Vec<ApiConditionSet>,
    #[serde(default, alias = "autotaskCondition")]
    action_condition: Option<ApiActionRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiConditionSet {
    #[serde(default)]
    event_conditions: Vec<EventCondition>,
    #[serde(default)]
    function_conditions: Vec<FunctionCondition>,
    #[serde(default)]
    tx_conditions: Vec<ApiTxCondition>,
}

#[derive(Deserialize)]
struct ApiTxCondition {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    expression: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiActionRef {
    #[serde(alias = "autotaskId")]
    action_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiNotifyConfig {
    #[serde(default)]
    notifications: Vec<ApiNotificationRef>,
    #[serde(default, alias = "autotaskId")]
    action_id: Option<String>,
    #[serde(default)]
    message_body: Option<String>,
    #[serde(default)]
    message_subject: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    severity_level: Option<Severity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiNotificationRef {
    notification_id: String,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// `<network>-<level>`, as Defender named its block watchers (`sepolia-safe`, `mainnet-1`).
fn level_of_block_watcher(id: &str) -> Option<ConfirmLevel> {
    let (_, level) = id.rsplit_once('-')?;
    match level {
        "safe" => Some(ConfirmLevel::Safe),
        "finalized" => Some(ConfirmLevel::Finalized),
        n => n.parse().ok().map(ConfirmLevel::Blocks),
    }
}

impl TryFrom<RawMonitorDefinition> for MonitorDefinition {
    type Error = String;
    fn try_from(r: RawMonitorDefinition) -> Result<Self, String> {
        let mut addresses = r.addresses;
        let mut abi = r.abi;
        let mut event_conditions = r.event_conditions;
        let mut function_conditions = r.function_conditions;
        let mut tx_conditions: Vec<String> = r.tx_condition.into_iter().collect();
        let mut action_condition = non_empty(r.action_condition);
        for rule in r.address_rules {
            for a in rule.addresses {
                if !addresses.contains(&a) {
                    addresses.push(a);
                }
            }
            if abi.is_none() {
                abi = rule.abi;
            }
            if action_condition.is_none() {
                action_condition = rule.action_condition.map(|a| a.action_id);
            }
            for set in rule.conditions {
                event_conditions.extend(set.event_conditions);
                function_conditions.extend(set.function_conditions);
                for tx in set.tx_conditions {
                    let status = match tx.status.as_deref() {
                        None | Some("any") => None,
                        Some(s @ ("success" | "failed")) => Some(format!("status == \"{s}\"")),
                        Some(other) => {
                            return Err(format!(
                            "unknown transaction status `{other}`: expected any, success or failed"
                        ))
                        }
                    };
                    let expression = non_empty(tx.expression);
                    tx_conditions.extend(match (status, expression) {
                        (Some(s), Some(e)) => Some(format!("({e}) and {s}")),
                        (s, e) => s.or(e),
                    });
                }
            }
        }
        // An empty signature selects nothing ("no function" in Defender's templates).
        event_conditions.retain(|c| !c.event_signature.trim().is_empty());
        function_conditions.retain(|c| !c.function_signature.trim().is_empty());
        for c in &mut event_conditions {
            c.expression = non_empty(c.expression.take());
        }
        for c in &mut function_conditions {
            c.expression = non_empty(c.expression.take());
        }
        let tx_condition = match tx_conditions.len() {
            0 => None,
            1 => tx_conditions.pop(),
            _ => Some(
                tx_conditions
                    .iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
        };
        let mut def = MonitorDefinition {
            kind: r.kind,
            name: r.name,
            network: r.network,
            addresses,
            abi: non_empty(abi),
            paused: r.paused,
            confirm_level: r.confirm_level.or_else(|| {
                r.block_watcher_id
                    .as_deref()
                    .and_then(level_of_block_watcher)
            }),
            event_conditions,
            function_conditions,
            tx_condition: non_empty(tx_condition),
            alert_threshold: r.alert_threshold,
            alert_timeout_ms: r.alert_timeout_ms,
            notification_channels: r.notification_channels,
            alert_message_subject: non_empty(r.alert_message_subject),
            alert_message_body: non_empty(r.alert_message_body),
            severity_level: r.severity_level,
            risk_category: non_empty(r.risk_category),
            action_trigger: non_empty(r.action_trigger),
            action_condition,
        };
        if let Some(n) = r.notify_config {
            for c in n.notifications {
                if !def.notification_channels.contains(&c.notification_id) {
                    def.notification_channels.push(c.notification_id);
                }
            }
            def.action_trigger = def.action_trigger.or(non_empty(n.action_id));
            def.alert_message_body = def.alert_message_body.or(non_empty(n.message_body));
            def.alert_message_subject = def.alert_message_subject.or(non_empty(n.message_subject));
            def.alert_timeout_ms = def.alert_timeout_ms.or(n.timeout_ms);
            def.severity_level = def.severity_level.or(n.severity_level);
        }
        Ok(def)
    }
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

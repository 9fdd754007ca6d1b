//! Our monitor definition: its parts (confirmation level, conditions, threshold, severity)
//! and its validation. What it is read from: module `api`.

use super::api::RawMonitorDefinition;
use crate::wire::notify_settings::with_notify_settings;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
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

/// Defender's monitor types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonitorType {
    /// Watches transactions in blocks.
    #[default]
    #[serde(rename = "BLOCK")]
    Block,
    /// Fed by Forta's alert API (see [`FortaMonitorDefinition`](crate::FortaMonitorDefinition)).
    #[serde(rename = "FORTA")]
    Forta,
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

// The notification settings fields (`alertThreshold` ... `actionCondition`) are declared
// once, with `FortaMonitorDefinition`'s, by `with_notify_settings!`.
with_notify_settings! {
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
    }
    then {
        /// Workflow run on each match, with the match as its input (not in Defender's API, where
        /// workflows were linked in its UI).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub workflow_trigger: Option<String>,
    }
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
    /// A match would notify no channel and run no action or workflow.
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
        errors.extend(self.threshold_error());
        if !self.notifies_or_acts() && self.workflow_trigger.is_none() {
            errors.push(DefinitionError::NothingToDo);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

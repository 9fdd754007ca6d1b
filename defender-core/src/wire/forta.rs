//! Forta monitors: Defender's `type: FORTA` monitor definition, and the Forta alert a Forta
//! monitor's match carries (Defender's `FortaTriggerEvent.alert`).

use super::monitor::{DefinitionError, MonitorType};
use super::notify_settings::with_notify_settings;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Forta's severities, lowest first, with the numbers Defender's `fortaConditions.severity`
/// used (`UNKNOWN` = 0 ... `CRITICAL` = 5).
pub const FORTA_SEVERITIES: [&str; 6] = ["UNKNOWN", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// The networks Forta scanned, by Defender's names, with their chain ids: what a Forta
/// monitor's `network` filters on.
pub const FORTA_NETWORKS: [(&str, u64); 9] = [
    ("mainnet", 1),
    ("optimism", 10),
    ("bsc", 56),
    ("matic", 137),
    ("polygon", 137),
    ("fantom", 250),
    ("base", 8453),
    ("arbitrum", 42161),
    ("avalanche", 43114),
];

/// The rank of a Forta severity (`"HIGH"` is 4), case-insensitive; `None` if unknown.
pub fn forta_severity_rank(severity: &str) -> Option<u8> {
    FORTA_SEVERITIES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(severity))
        .and_then(|i| u8::try_from(i).ok())
}

/// Which Forta alerts a Forta monitor takes (Defender's `fortaConditions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FortaConditions {
    /// Only these alert ids (any when empty).
    #[serde(default, rename = "alertIDs", alias = "alertIds")]
    pub alert_ids: Vec<String>,
    /// Only alerts reported by at least this many scan nodes.
    #[serde(default)]
    pub minimum_scanner_count: u64,
    /// Only alerts at or above this severity (0 `UNKNOWN` ... 5 `CRITICAL`; any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
}

// The notification settings fields (`alertThreshold` ... `actionCondition`) are declared
// once, with `MonitorDefinition`'s, by `with_notify_settings!`.
with_notify_settings! {
    /// Defender's Forta monitor create request, accepted as configuration as it is:
    /// `type: "FORTA"`, the bots (`agentIDs`), `fortaConditions`, and the notification settings
    /// block monitors have. `chainIds` is this engine's addition: the chains to take alerts from
    /// when `network` does not say (any when both are absent).
    ///
    /// ```
    /// use defender_core::FortaMonitorDefinition;
    /// let def: FortaMonitorDefinition = serde_json::from_str(r#"{
    ///   "type": "FORTA", "name": "Low balance", "network": "mainnet",
    ///   "agentIDs": ["0xbot"],
    ///   "fortaConditions": { "alertIDs": ["BALANCE-LOW"], "minimumScannerCount": 2, "severity": 3 },
    ///   "autotaskTrigger": "refill", "notificationChannels": ["ops"]
    /// }"#).unwrap();
    /// assert_eq!(def.agent_ids, ["0xbot"]);
    /// assert_eq!(def.forta_conditions.severity, Some(3));
    /// assert_eq!(def.chain_ids(), vec![1]);
    /// assert_eq!(def.action_trigger.as_deref(), Some("refill"));
    /// ```
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct FortaMonitorDefinition {
        /// Always `FORTA`.
        #[serde(rename = "type", default = "forta_type")]
        pub kind: MonitorType,
        /// The monitor's name.
        pub name: String,
        /// The network the alerts are about (Defender's names: `mainnet`, `bsc`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub network: Option<String>,
        /// Chains to take alerts from, beside `network`'s.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub chain_ids: Vec<u64>,
        /// Only alerts that involve one of these addresses (any when empty).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub addresses: Vec<String>,
        /// A contract ABI, kept for the match's summary.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub abi: Option<String>,
        /// Paused monitors take no alerts.
        #[serde(default)]
        pub paused: bool,
        /// The detection bots whose alerts are taken (Defender's `agentIDs`; any when empty).
        #[serde(default, rename = "agentIDs", alias = "agentIds", alias = "botIds")]
        pub agent_ids: Vec<String>,
        /// Which alerts are taken.
        #[serde(default)]
        pub forta_conditions: FortaConditions,
        /// A private Forta node's id (kept; this engine reads the API it is given).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub private_forta_node_id: Option<String>,
        /// Where the first poll starts (RFC 3339) when the engine has no cursor for the monitor;
        /// without it, at the time the monitor is added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub forta_last_processed_time: Option<String>,
    }
}

fn forta_type() -> MonitorType {
    MonitorType::Forta
}

impl FortaMonitorDefinition {
    /// The chain ids alerts are taken from: `network`'s, then `chainIds` (empty: any).
    pub fn chain_ids(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .network
            .as_deref()
            .and_then(|n| FORTA_NETWORKS.iter().find(|(name, _)| *name == n))
            .map(|(_, id)| *id)
            .into_iter()
            .collect();
        for id in &self.chain_ids {
            if !out.contains(id) {
                out.push(*id);
            }
        }
        out
    }

    /// What Defender rejected: every problem, as text.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if self.kind != MonitorType::Forta {
            errors.push("a Forta monitor has `type: FORTA`".to_owned());
        }
        if self.name.trim().is_empty() {
            errors.push("the monitor has no name".to_owned());
        }
        if let Some(n) = &self.network {
            if !FORTA_NETWORKS.iter().any(|(name, _)| name == n) {
                errors.push(format!(
                    "Forta does not scan network `{n}`: expected one of {}",
                    FORTA_NETWORKS.map(|(n, _)| n).join(", ")
                ));
            }
        }
        if self.agent_ids.is_empty() && self.forta_conditions.alert_ids.is_empty() {
            errors.push("a Forta monitor needs bot ids (`agentIDs`) or alert ids".to_owned());
        }
        if self.forta_conditions.severity.is_some_and(|s| s > 5) {
            errors.push("`fortaConditions.severity` is 0 (UNKNOWN) to 5 (CRITICAL)".to_owned());
        }
        for a in &self.addresses {
            if a.parse::<alloy_primitives::Address>().is_err() {
                errors.push(format!("`{a}` is not an address"));
            }
        }
        if let Some(e) = self.threshold_error() {
            errors.push(e.to_string());
        }
        if let Some(t) = &self.forta_last_processed_time {
            if super::iso8601::parse(t).is_err() {
                errors.push(format!(
                    "`fortaLastProcessedTime` `{t}` is not an RFC 3339 time"
                ));
            }
        }
        if !self.notifies_or_acts() {
            errors.push(DefinitionError::NothingToDo.to_string());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A Forta alert as a Forta monitor's match carries it (`request.body.alert`): Forta's alert
/// with Defender's `alertType` (`TX` or `BLOCK`). Fields this type does not name are kept in
/// `extra` as Forta sent them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FortaAlert {
    /// The alert id (`BALANCE-LOW`).
    #[serde(default)]
    pub alert_id: String,
    /// The alert's hash, unique per alert.
    pub hash: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `UNKNOWN`, `INFO`, `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    #[serde(default)]
    pub severity: String,
    /// `Exploit`, `Suspicious`, `Degraded`, `Info`...
    #[serde(default)]
    pub finding_type: String,
    /// The protocol the bot watches.
    #[serde(default)]
    pub protocol: String,
    /// How many scan nodes reported it.
    #[serde(default)]
    pub scan_node_count: u64,
    /// The addresses involved.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// `TX` (about a transaction) or `BLOCK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    /// When Forta stored it (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// The bot's metadata.
    #[serde(default)]
    pub metadata: Value,
    /// What it is about.
    #[serde(default)]
    pub source: FortaSource,
    /// Every other field Forta sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a Forta alert is about: the bot, the block and the transaction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FortaSource {
    /// The transaction, for a `TX` alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_hash: Option<String>,
    /// The same under Defender's `tx_hash`.
    #[serde(default, rename = "tx_hash", skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// The bot (Defender's name; Forta's API calls it `bot`).
    #[serde(default)]
    pub agent: FortaBot,
    /// The same under Forta's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<FortaBot>,
    /// The block.
    #[serde(default)]
    pub block: FortaBlock,
    /// Every other field Forta sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A detection bot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FortaBot {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Every other field Forta sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The block an alert is about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FortaBlock {
    /// Chain id.
    #[serde(default)]
    pub chain_id: u64,
    /// Block hash.
    #[serde(default)]
    pub hash: String,
    /// Block number.
    #[serde(default)]
    pub number: u64,
    /// Block time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

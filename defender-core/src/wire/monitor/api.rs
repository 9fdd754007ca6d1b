//! Every shape a monitor definition is read from: Defender's create request (with its legacy
//! names) and its API response (`addressRules`, `notifyConfig`, `blockWatcherId`), turned into
//! our [`MonitorDefinition`].

use super::definition::{
    AlertThreshold, ConfirmLevel, EventCondition, FunctionCondition, MonitorDefinition,
    MonitorType, Severity,
};
use serde::{de, Deserialize, Deserializer};
use serde_json::Value;

/// Every shape a monitor definition is read from: the create request (with its legacy
/// names) and the API response (`addressRules`, `notifyConfig`, `blockWatcherId`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawMonitorDefinition {
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
    #[serde(default)]
    workflow_trigger: Option<String>,
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
        if r.kind == MonitorType::Forta {
            return Err(
                "a FORTA monitor is a `FortaMonitorDefinition` (added with `add_forta_monitor`), not a block monitor"
                    .into(),
            );
        }
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
            workflow_trigger: non_empty(r.workflow_trigger),
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

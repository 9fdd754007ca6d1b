//! Forta monitors (`type: FORTA`, defender-as-code's `forta-monitor`) into the SDK's
//! [`FortaMonitorDefinition`]:
//!
//! ```yaml
//! monitors:
//!   forta-exploits:
//!     name: Exploits
//!     type: FORTA
//!     network: mainnet            # optional: the chain the alerts are about
//!     agent-ids: ['0x80ed...']    # the detection bots
//!     addresses: ['0x5fbd...']    # optional: only alerts involving these
//!     conditions:
//!       min-scanner-count: 2
//!       severity: 3               # 0 UNKNOWN ... 5 CRITICAL: this and above
//!       alert-ids: [EXPLOIT]
//!     forta-last-processed-time: '2026-01-01T00:00:00Z'   # where a new monitor starts
//!     notify-config: { channels: [${self:resources.Resources.notifications.ops}] }
//!     action-trigger: ${self:resources.Resources.actions.respond}
//! ```
//!
//! The Forta API the host reads is set in `defender-host.yml` (`forta:`).

use super::monitor::{abi_text, notify_config, threshold, MonitorKeys};
use crate::problem::{index_path, Problems};
use crate::read::fields;
use crate::refs::{Kind, Refs};
use crate::yaml::{Node, Value};
use defender_core::{FortaConditions, FortaMonitorDefinition, MonitorDefinition, MonitorType};

/// Whether a monitor's YAML says `type: FORTA`.
pub(crate) fn is_forta(node: &Node) -> bool {
    node.get("type")
        .is_some_and(|t| matches!(&t.value, Value::Str(s) if s == "FORTA"))
}

pub(crate) fn read(
    node: &Node,
    path: &str,
    keys: &MonitorKeys,
    refs: &Refs<'_>,
    p: &mut Problems,
) -> Option<FortaMonitorDefinition> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let _ = f.req_str("type", p);
    let network = f.str("network", p);
    let addresses: Vec<String> = match f.get("addresses") {
        Some(list) => {
            let lp = f.key_path("addresses");
            let mut out = Vec::new();
            for (i, a) in f.strings("addresses", p).iter().enumerate() {
                let item = match &list.value {
                    Value::Seq(items) => items.get(i).unwrap_or(list),
                    _ => list,
                };
                if let Some(a) = super::relayer::address(a, item, &index_path(&lp, i), p) {
                    out.push(a);
                }
            }
            out
        }
        None => Vec::new(),
    };
    let abi = f
        .get("abi")
        .and_then(|a| abi_text(a, &f.key_path("abi"), p));
    let alert_threshold = f
        .get("alert-threshold")
        .and_then(|t| threshold(t, &f.key_path("alert-threshold"), p));
    let paused = f.bool("paused", p).unwrap_or(false);
    let action_condition = f
        .get(keys.action_condition)
        .and_then(|n| refs.resolve(Kind::Action, n, &f.key_path(keys.action_condition), p));
    let action_trigger = f
        .get(keys.action_trigger)
        .and_then(|n| refs.resolve(Kind::Action, n, &f.key_path(keys.action_trigger), p));
    let agent_ids = f.strings("agent-ids", p);
    let private_forta_node_id = f.str("forta-node-id", p);
    let forta_last_processed_time = f.str("forta-last-processed-time", p);
    let risk_category = f.str("risk-category", p);
    let forta_conditions = match f.get("conditions") {
        Some(c) => conditions(c, &f.key_path("conditions"), p),
        None => FortaConditions::default(),
    };
    // The notification settings are read as a block monitor's, then carried over.
    let mut notify = MonitorDefinition {
        kind: MonitorType::Forta,
        name: String::new(),
        network: String::new(),
        addresses: Vec::new(),
        abi: None,
        paused: false,
        confirm_level: None,
        event_conditions: Vec::new(),
        function_conditions: Vec::new(),
        tx_condition: None,
        alert_threshold: None,
        alert_timeout_ms: None,
        notification_channels: Vec::new(),
        alert_message_subject: None,
        alert_message_body: None,
        severity_level: None,
        risk_category: None,
        action_trigger: None,
        action_condition: None,
        workflow_trigger: None,
    };
    match f.get("notify-config") {
        Some(n) => notify_config(n, &f.key_path("notify-config"), refs, &mut notify, p),
        None => p.at(&node.pos, path, "`notify-config` is required"),
    }
    f.finish(p, &[]);
    let def = FortaMonitorDefinition {
        kind: MonitorType::Forta,
        name: name?,
        network,
        chain_ids: Vec::new(),
        addresses,
        abi,
        paused,
        agent_ids,
        forta_conditions,
        private_forta_node_id,
        forta_last_processed_time,
        alert_threshold,
        alert_timeout_ms: notify.alert_timeout_ms,
        notification_channels: notify.notification_channels,
        alert_message_subject: notify.alert_message_subject,
        alert_message_body: notify.alert_message_body,
        severity_level: notify.severity_level,
        risk_category,
        action_trigger,
        action_condition,
    };
    if let Err(errors) = def.validate() {
        for e in errors {
            // Named as the YAML writes it.
            p.at(&node.pos, path, e.replace("`agentIDs`", "`agent-ids`"));
        }
        return None;
    }
    Some(def)
}

fn conditions(node: &Node, path: &str, p: &mut Problems) -> FortaConditions {
    let Some(mut f) = fields(node, path, p) else {
        return FortaConditions::default();
    };
    let minimum_scanner_count = f
        .uint("min-scanner-count", p)
        .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
        .unwrap_or(1);
    let severity = f.uint("severity", p).and_then(|s| match u8::try_from(s) {
        Ok(s) if s <= 5 => Some(s),
        _ => {
            let at = f.get("severity").unwrap_or(node).pos.clone();
            p.at(
                &at,
                &f.key_path("severity"),
                format!("severity {s} is not 0 (UNKNOWN) to 5 (CRITICAL)"),
            );
            None
        }
    });
    let alert_ids = f.strings("alert-ids", p);
    f.finish(p, &[]);
    FortaConditions {
        alert_ids,
        minimum_scanner_count,
        severity,
    }
}

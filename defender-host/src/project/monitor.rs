//! Block monitors (and legacy sentinels) into the SDK's [`MonitorDefinition`], checked with the
//! engine's own compiler so that what validates is what runs.

use super::action::RISK_CATEGORIES;
use super::Monitor;
use crate::problem::{index_path, Pos, Problems};
use crate::read::fields;
use crate::refs::{Kind, Refs};
use crate::yaml::{Node, Value};
use defender_core::{
    AlertThreshold, ConfirmLevel, DefinitionError, EventCondition, FunctionCondition,
    MonitorDefinition, MonitorType, Severity,
};
use defender_engine::monitor::{Matcher, MonitorError};

/// Key names that differ between defender-as-code and defender-serverless.
pub(crate) struct MonitorKeys {
    pub(crate) action_condition: &'static str,
    pub(crate) action_trigger: &'static str,
}

/// defender-as-code's names.
pub(crate) const DAC_KEYS: MonitorKeys = MonitorKeys {
    action_condition: "action-condition",
    action_trigger: "action-trigger",
};

/// defender-serverless's names.
pub(crate) const LEGACY_KEYS: MonitorKeys = MonitorKeys {
    action_condition: "autotask-condition",
    action_trigger: "autotask-trigger",
};

/// An ABI given as JSON text, a JSON list, or a YAML list: checked, returned as JSON text.
pub(crate) fn abi_text(node: &Node, path: &str, p: &mut Problems) -> Option<String> {
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Seq(_) => node.to_json().to_string(),
        _ => {
            p.at(
                &node.pos,
                path,
                format!(
                    "expected an ABI (JSON text or a list), found {}",
                    node.kind()
                ),
            );
            return None;
        }
    };
    if let Err(e) = serde_json::from_str::<alloy_json_abi::JsonAbi>(&text) {
        p.at(&node.pos, path, format!("the ABI is invalid: {e}"));
        return None;
    }
    Some(text)
}

pub(crate) fn read(
    key: &str,
    node: &Node,
    path: &str,
    keys: &MonitorKeys,
    refs: &Refs<'_>,
    contracts: &std::collections::BTreeMap<String, super::Contract>,
    p: &mut Problems,
) -> Option<Monitor> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let kind = f.req_str("type", p);
    if let Some(k) = &kind {
        if k != "BLOCK" {
            let at = f.get("type").unwrap_or(node).pos.clone();
            // `type: FORTA` monitors are read by `super::forta`.
            let why = format!("unknown monitor type `{k}`: expected BLOCK or FORTA");
            // The whole monitor is refused: its other keys are not looked at.
            p.at(&at, &f.key_path("type"), why);
            return None;
        }
    }
    let network = f.req_str("network", p);
    let mut contract_keys = Vec::new();
    let mut addresses = Vec::new();
    let mut abi = None;
    if let Some(list) = f.get("contracts") {
        let lp = f.key_path("contracts");
        match &list.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(k) = refs.resolve(Kind::Contract, item, &index_path(&lp, i), p) {
                        if let Some(c) = contracts.get(&k) {
                            addresses.push(c.address.clone());
                            if abi.is_none() {
                                abi.clone_from(&c.abi);
                            }
                        }
                        contract_keys.push(k);
                    }
                }
            }
            _ => p.at(
                &list.pos,
                &lp,
                format!("expected a list, found {}", list.kind()),
            ),
        }
    }
    if let Some(list) = f.get("addresses") {
        let lp = f.key_path("addresses");
        for (i, a) in f.strings("addresses", p).iter().enumerate() {
            let item = match &list.value {
                Value::Seq(items) => items.get(i).unwrap_or(list),
                _ => list,
            };
            if let Some(a) = super::relayer::address(a, item, &index_path(&lp, i), p) {
                if !addresses.contains(&a) {
                    addresses.push(a);
                }
            }
        }
    }
    if let Some(a) = f.get("abi") {
        // The monitor's own ABI wins over its first contract's.
        abi = abi_text(a, &f.key_path("abi"), p).or(abi);
    }
    let alert_threshold = f
        .get("alert-threshold")
        .and_then(|t| threshold(t, &f.key_path("alert-threshold"), p));
    let paused = f.bool("paused", p).unwrap_or(false);
    let skip_abi_validation = f.bool("skip-abi-validation", p).unwrap_or(false);
    let action_condition = f
        .get(keys.action_condition)
        .and_then(|n| refs.resolve(Kind::Action, n, &f.key_path(keys.action_condition), p));
    let action_trigger = f
        .get(keys.action_trigger)
        .and_then(|n| refs.resolve(Kind::Action, n, &f.key_path(keys.action_trigger), p));
    // Not in Defender's YAML: workflows had none (module `workflow`).
    let workflow_trigger = f
        .get("workflow-trigger")
        .and_then(|n| refs.resolve(Kind::Workflow, n, &f.key_path("workflow-trigger"), p));
    let confirm_level = f
        .get("confirm-level")
        .and_then(|n| confirm_level(n, &f.key_path("confirm-level"), p));
    let risk_category = f.str("risk-category", p);
    if let Some(r) = &risk_category {
        if !RISK_CATEGORIES.contains(&r.as_str()) {
            let at = f.get("risk-category").unwrap_or(node).pos.clone();
            p.at(
                &at,
                &f.key_path("risk-category"),
                format!(
                    "unknown risk category `{r}`: expected one of {}",
                    RISK_CATEGORIES.join(", ")
                ),
            );
        }
    }
    let mut def = MonitorDefinition {
        kind: MonitorType::Block,
        name: name.clone().unwrap_or_default(),
        network: network.clone().unwrap_or_default(),
        addresses,
        abi,
        paused,
        confirm_level,
        event_conditions: Vec::new(),
        function_conditions: Vec::new(),
        tx_condition: None,
        alert_threshold,
        alert_timeout_ms: None,
        notification_channels: Vec::new(),
        alert_message_subject: None,
        alert_message_body: None,
        severity_level: None,
        risk_category,
        action_trigger,
        action_condition,
        workflow_trigger,
    };
    match f.get("notify-config") {
        Some(n) => notify_config(n, &f.key_path("notify-config"), refs, &mut def, p),
        None => p.at(&node.pos, path, "`notify-config` is required"),
    }
    let mut condition_paths = Vec::new();
    if let Some(c) = f.get("conditions") {
        conditions(
            c,
            &f.key_path("conditions"),
            &mut def,
            &mut condition_paths,
            p,
        );
    }
    f.finish(p, &[]);
    name?;
    network?;
    check(key, &def, node, path, &condition_paths, p);
    Some(Monitor {
        definition: def,
        skip_abi_validation,
        contracts: contract_keys,
    })
}

pub(crate) fn threshold(node: &Node, path: &str, p: &mut Problems) -> Option<AlertThreshold> {
    let mut f = fields(node, path, p)?;
    let amount = f.uint("amount", p);
    let window = f.uint("window-seconds", p);
    f.finish(p, &[]);
    let t = AlertThreshold {
        amount: u32::try_from(amount?).unwrap_or(u32::MAX),
        window_seconds: u64::try_from(window?).unwrap_or(u64::MAX),
    };
    if t.amount == 0 || t.window_seconds == 0 {
        p.at(
            &node.pos,
            path,
            "the alert threshold needs an amount and a window above zero",
        );
        return None;
    }
    Some(t)
}

fn confirm_level(node: &Node, path: &str, p: &mut Problems) -> Option<ConfirmLevel> {
    let level = match &node.value {
        Value::Int(i) => u64::try_from(*i).ok().map(ConfirmLevel::Blocks),
        Value::Str(s) if s == "safe" => Some(ConfirmLevel::Safe),
        Value::Str(s) if s == "finalized" => Some(ConfirmLevel::Finalized),
        _ => None,
    };
    if level.is_none() {
        p.at(&node.pos, path, format!("`{node}` is not a confirmation level: expected a number of blocks, \"safe\" or \"finalized\""));
    }
    level
}

pub(crate) fn notify_config(
    node: &Node,
    path: &str,
    refs: &Refs<'_>,
    def: &mut MonitorDefinition,
    p: &mut Problems,
) {
    let Some(mut f) = fields(node, path, p) else {
        return;
    };
    def.alert_timeout_ms = f
        .uint("timeout", p)
        .map(|t| u64::try_from(t).unwrap_or(u64::MAX));
    def.alert_message_body = f.str("message", p).filter(|s| !s.is_empty());
    def.alert_message_subject = f.str("message-subject", p).filter(|s| !s.is_empty());
    if let Some(s) = f.str("severity-level", p) {
        def.severity_level = match s.to_ascii_uppercase().as_str() {
            "LOW" => Some(Severity::Low),
            "MEDIUM" => Some(Severity::Medium),
            "HIGH" => Some(Severity::High),
            other => {
                let at = f.get("severity-level").unwrap_or(node).pos.clone();
                p.at(
                    &at,
                    &f.key_path("severity-level"),
                    format!("unknown severity `{other}`: expected LOW, MEDIUM or HIGH"),
                );
                None
            }
        };
    }
    if let Some(list) = f.get("channels") {
        let lp = f.key_path("channels");
        match &list.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(k) = refs.resolve(Kind::Notification, item, &index_path(&lp, i), p)
                    {
                        if !def.notification_channels.contains(&k) {
                            def.notification_channels.push(k);
                        }
                    }
                }
            }
            _ => p.at(
                &list.pos,
                &lp,
                format!("expected a list, found {}", list.kind()),
            ),
        }
    }
    f.finish(
        p,
        &[(
            "category",
            "notification categories are not supported yet: list the channels in `channels`",
        )],
    );
}

/// Where each condition is written, to place the engine's errors.
enum CondAt {
    Event(usize, Pos, String),
    Function(usize, Pos, String),
    Transaction(Pos, String),
}

fn conditions(
    node: &Node,
    path: &str,
    def: &mut MonitorDefinition,
    at: &mut Vec<CondAt>,
    p: &mut Problems,
) {
    let Some(mut f) = fields(node, path, p) else {
        return;
    };
    for (kind, is_event) in [("event", true), ("function", false)] {
        let Some(list) = f.get(kind) else { continue };
        let lp = f.key_path(kind);
        let Value::Seq(items) = &list.value else {
            p.at(
                &list.pos,
                &lp,
                format!("expected a list, found {}", list.kind()),
            );
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let ip = index_path(&lp, i);
            let Some(mut c) = fields(item, &ip, p) else {
                continue;
            };
            let signature = c.str("signature", p).unwrap_or_default();
            let expression = c.str("expression", p).filter(|e| !e.trim().is_empty());
            let sig_pos = c.get("signature").unwrap_or(item).pos.clone();
            c.finish(p, &[]);
            if signature.trim().is_empty() {
                // `signature: ""`: Defender's templates' way of selecting nothing.
                if expression.is_some() {
                    p.at(
                        &sig_pos,
                        &format!("{ip}.signature"),
                        "a condition's `expression` needs a `signature`",
                    );
                }
                continue;
            }
            if is_event {
                at.push(CondAt::Event(
                    def.event_conditions.len(),
                    sig_pos,
                    format!("{ip}.signature"),
                ));
                def.event_conditions.push(EventCondition {
                    event_signature: signature,
                    expression,
                });
            } else {
                at.push(CondAt::Function(
                    def.function_conditions.len(),
                    sig_pos,
                    format!("{ip}.signature"),
                ));
                def.function_conditions.push(FunctionCondition {
                    function_signature: signature,
                    expression,
                });
            }
        }
    }
    def.tx_condition = f.str("transaction", p).filter(|t| !t.trim().is_empty());
    if def.tx_condition.is_some() {
        let pos = f.get("transaction").unwrap_or(node).pos.clone();
        at.push(CondAt::Transaction(pos, f.key_path("transaction")));
    }
    f.finish(p, &[]);
}

/// What the engine would refuse: each condition compiled on its own, so every bad one is named.
fn check(
    key: &str,
    def: &MonitorDefinition,
    node: &Node,
    path: &str,
    at: &[CondAt],
    p: &mut Problems,
) {
    if let Err(errors) = def.validate() {
        for e in errors {
            match e {
                // Reported where they are written.
                DefinitionError::InvalidAddress(_)
                | DefinitionError::InvalidAbi(_)
                | DefinitionError::InvalidThreshold => {}
                other => p.at(&node.pos, path, other.to_string()),
            }
        }
    }
    if def.addresses.is_empty()
        || def
            .addresses
            .iter()
            .any(|a| a.parse::<alloy_primitives::Address>().is_err())
    {
        return;
    }
    if def
        .abi
        .as_deref()
        .is_some_and(|a| serde_json::from_str::<alloy_json_abi::JsonAbi>(a).is_err())
    {
        return;
    }
    let base = MonitorDefinition {
        event_conditions: Vec::new(),
        function_conditions: Vec::new(),
        tx_condition: None,
        ..def.clone()
    };
    for c in at {
        let (one, pos, cpath) = match c {
            CondAt::Event(i, pos, cp) => (
                MonitorDefinition {
                    event_conditions: vec![def.event_conditions[*i].clone()],
                    ..base.clone()
                },
                pos,
                cp,
            ),
            CondAt::Function(i, pos, cp) => (
                MonitorDefinition {
                    function_conditions: vec![def.function_conditions[*i].clone()],
                    ..base.clone()
                },
                pos,
                cp,
            ),
            CondAt::Transaction(pos, cp) => (
                MonitorDefinition {
                    tx_condition: def.tx_condition.clone(),
                    ..base.clone()
                },
                pos,
                cp,
            ),
        };
        if let Err(e) = Matcher::new().insert(key, &one, 1) {
            let (message, cpath) = match e {
                MonitorError::InvalidCondition {
                    expression, errors, ..
                } => {
                    let expr_path = match c {
                        CondAt::Transaction(..) => cpath.clone(),
                        _ => cpath.trim_end_matches(".signature").to_owned() + ".expression",
                    };
                    let detail = errors
                        .iter()
                        .map(|e| {
                            format!(
                                "{} at {}..{} (`{}`)",
                                e.message,
                                e.span.start,
                                e.span.end,
                                expression.get(e.span.clone()).unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    (
                        format!("condition `{expression}` is invalid: {detail}"),
                        expr_path,
                    )
                }
                MonitorError::InvalidSignature {
                    signature, message, ..
                } => (
                    format!("`{signature}` is not a valid signature: {message}"),
                    cpath.clone(),
                ),
                MonitorError::UnknownEvent { signature, .. } => {
                    (format!("the ABI has no event `{signature}`"), cpath.clone())
                }
                MonitorError::UnknownFunction { signature, .. } => (
                    format!("the ABI has no function `{signature}`"),
                    cpath.clone(),
                ),
                other => (other.to_string(), cpath.clone()),
            };
            // An expression's line is its own when written; else the signature's.
            let pos = expression_pos(node, &cpath).unwrap_or_else(|| pos.clone());
            p.at(&pos, &cpath, message);
        }
    }
}

/// The position of the node at `path` (relative to the monitor), when it is in the tree.
fn expression_pos(monitor: &Node, path: &str) -> Option<Pos> {
    let rest = path.split_once(".conditions.")?.1;
    let mut cur = monitor.get("conditions")?;
    for seg in rest.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        cur = cur.get(name)?;
        if let Some(i) = index {
            cur = match &cur.value {
                Value::Seq(items) => items.get(i)?,
                _ => return None,
            };
        }
    }
    Some(cur.pos.clone())
}

//! Defender's exported JSON: what its API answered for monitors, actions and notification
//! channels, in one file:
//!
//! ```json
//! { "monitors": [ { "monitorId": "...", "type": "BLOCK", "addressRules": [...], "notifyConfig": {...} } ],
//!   "actions": [ { "actionId": "...", "name": "...", "trigger": { "type": "schedule", "frequencyMinutes": 5 },
//!                  "paused": false, "relayerId": "...", "encodedZippedCode": "UEsDB..." } ],
//!   "notifications": [ { "notificationId": "...", "type": "slack", "name": "Ops", "paused": false,
//!                        "config": { "url": "https://hooks.slack.com/..." } } ],
//!   "secrets": { "NAME": "value" } }
//! ```
//!
//! Resources get keys from their names (`Large transfers` becomes `large-transfers`), and the
//! ids monitors use (channels, linked actions) are mapped to these keys. Legacy names are
//! accepted (`autotaskId`, `subscriberId`, `sentinels`, `autotasks`).

use crate::problem::{child_path, index_path, Problems};
use crate::project::{Action, Monitor, MonitorLink, Notification, Project, ProjectFormat};
use crate::yaml::{self, Node, Value};
use crate::Problem;
use base64::Engine as _;
use defender_core::{CodeSource, MonitorDefinition};
use defender_engine::{ActionSpec, ActionTrigger, Schedule};
use defender_notify::{ChannelConfig, ChannelDefinition};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Reads Defender's exported JSON (`text`) into a project rooted at `dir`.
pub fn import_export(text: &str, dir: &Path) -> Result<Project, Vec<Problem>> {
    let mut p = Problems::default();
    let file: Arc<str> = Arc::from(crate::EXPORT_FILE);
    let root = yaml::parse(text, &file).map_err(|e| vec![e])?;
    let mut project = Project {
        format: ProjectFormat::DefenderExport,
        dir: dir.to_path_buf(),
        service: None,
        stage: "dev".into(),
        stack_name: "defender-export".into(),
        ssot: false,
        actions: BTreeMap::new(),
        monitors: BTreeMap::new(),
        forta_monitors: BTreeMap::new(),
        workflows: BTreeMap::new(),
        notifications: BTreeMap::new(),
        relayers: BTreeMap::new(),
        relayer_groups: BTreeMap::new(),
        policies: BTreeMap::new(),
        secrets: BTreeMap::new(),
        contracts: BTreeMap::new(),
        private_networks: BTreeMap::new(),
        forked_networks: BTreeMap::new(),
        host: Default::default(),
    };
    // A bare monitor, or a list of monitors, is accepted as it is.
    let (monitors, actions, notifications, secrets) = match &root.value {
        Value::Seq(_) => (Some(&root), None, None, None),
        Value::Map(_) if root.get("addressRules").is_some() || root.get("type").is_some() => {
            let list = Node::new(Value::Seq(vec![root.clone()]), root.pos.clone());
            return finish(project, Some(&list), None, None, None, p);
        }
        Value::Map(entries) => {
            for (k, _) in entries {
                if ![
                    "monitors",
                    "sentinels",
                    "actions",
                    "autotasks",
                    "notifications",
                    "secrets",
                ]
                .contains(&k.name.as_str())
                {
                    p.at(&k.pos, &k.name, format!("unknown key `{}`", k.name));
                }
            }
            (
                root.get("monitors").or_else(|| root.get("sentinels")),
                root.get("actions").or_else(|| root.get("autotasks")),
                root.get("notifications"),
                root.get("secrets"),
            )
        }
        _ => {
            p.at(
                &root.pos,
                "",
                "expected a JSON object with `monitors`, `actions`, `notifications`",
            );
            return Err(p.0);
        }
    };
    project.format = ProjectFormat::DefenderExport;
    finish(project, monitors, actions, notifications, secrets, p)
}

fn finish(
    mut project: Project,
    monitors: Option<&Node>,
    actions: Option<&Node>,
    notifications: Option<&Node>,
    secrets: Option<&Node>,
    mut p: Problems,
) -> Result<Project, Vec<Problem>> {
    let p = &mut p;
    let mut channel_ids = BTreeMap::new();
    for (i, n) in items(notifications, "notifications", p) {
        let path = index_path("notifications", i);
        let id = text(n, "notificationId").unwrap_or_default();
        let name = text(n, "name").unwrap_or_else(|| id.clone());
        let kind = text(n, "type").unwrap_or_default();
        let mut config = n
            .get("config")
            .map(Node::to_json)
            .unwrap_or(serde_json::Value::Null);
        if kind == "email" {
            if let Some(c) = config.as_object_mut() {
                c.entry("from").or_insert("".into());
                c.entry("host").or_insert("".into());
            }
        }
        let channel: ChannelConfig =
            match serde_json::from_value(serde_json::json!({ "type": kind, "config": config })) {
                Ok(c) => c,
                Err(e) => {
                    p.at(&n.pos, &path, format!("notification `{name}`: {e}"));
                    continue;
                }
            };
        let key = unique_key(&name, &project.notifications);
        channel_ids.insert(id, key.clone());
        let paused = matches!(n.get("paused").map(|v| &v.value), Some(Value::Bool(true)));
        project.notifications.insert(
            key.clone(),
            Notification {
                name,
                definition: ChannelDefinition {
                    name: key,
                    paused,
                    channel,
                },
            },
        );
    }
    let mut action_ids = BTreeMap::new();
    for (i, n) in items(actions, "actions", p) {
        let path = index_path("actions", i);
        let id = text(n, "actionId")
            .or_else(|| text(n, "autotaskId"))
            .unwrap_or_default();
        let name = text(n, "name").unwrap_or_else(|| id.clone());
        let key = unique_key(&name, &project.actions);
        let Some(code) = action_code(n, &path, p) else {
            continue;
        };
        let (triggers, monitor_link) = action_trigger(n.get("trigger"), &path, p);
        let mut spec = ActionSpec::new(key.clone(), name, "");
        spec.code = code;
        spec.triggers = triggers;
        spec.paused = matches!(n.get("paused").map(|v| &v.value), Some(Value::Bool(true)));
        spec.relayer_id = text(n, "relayerId");
        let environment_variables = match n.get("environmentVariables").map(|e| &e.value) {
            Some(Value::Map(entries)) => entries
                .iter()
                .filter_map(|(k, v)| v.scalar_text().map(|s| (k.name.clone(), s)))
                .collect(),
            _ => BTreeMap::new(),
        };
        action_ids.insert(id, key.clone());
        project.actions.insert(
            key,
            Action {
                spec,
                code_path: project.dir.clone(),
                environment_variables,
                risk_category: None,
                monitor_link,
                webhook_token: None,
            },
        );
    }
    for (i, n) in items(monitors, "monitors", p) {
        let path = index_path("monitors", i);
        let mut def: MonitorDefinition = match serde_json::from_value(n.to_json()) {
            Ok(d) => d,
            Err(e) => {
                p.at(&n.pos, &path, format!("not a Defender monitor: {e}"));
                continue;
            }
        };
        let mut channels = Vec::new();
        for id in &def.notification_channels {
            match channel_ids.get(id) {
                Some(k) => channels.push(k.clone()),
                None if project.notifications.contains_key(id) => channels.push(id.clone()),
                None => p.at(
                    &n.pos,
                    &child_path(&path, "notifyConfig"),
                    format!(
                        "monitor `{}` notifies channel `{id}`, which the export does not contain",
                        def.name
                    ),
                ),
            }
        }
        def.notification_channels = channels;
        for (what, link) in [
            ("actionTrigger", &mut def.action_trigger),
            ("actionCondition", &mut def.action_condition),
        ] {
            if let Some(id) = link.clone() {
                match action_ids.get(&id) {
                    Some(k) => *link = Some(k.clone()),
                    None => {
                        p.at(&n.pos, &child_path(&path, what), format!("monitor `{}` links action `{id}`, which the export does not contain", def.name));
                        *link = None;
                    }
                }
            }
        }
        let key = unique_key(&def.name, &project.monitors);
        if let Err(errors) = def.validate() {
            for e in errors {
                p.at(&n.pos, &path, format!("monitor `{}`: {e}", def.name));
            }
        } else if let Err(e) = defender_engine::monitor::Matcher::new().insert(&key, &def, 1) {
            p.at(&n.pos, &path, e.to_string());
        }
        project.monitors.insert(
            key,
            Monitor {
                definition: def,
                skip_abi_validation: false,
                contracts: Vec::new(),
            },
        );
    }
    if let Some(s) = secrets {
        match &s.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    project.secrets.insert(k.name.clone(), v.scalar_text());
                }
            }
            _ => p.at(&s.pos, "secrets", "expected a mapping of name to value"),
        }
    }
    if p.0.is_empty() {
        Ok(project)
    } else {
        Err(std::mem::take(&mut p.0))
    }
}

fn items<'n>(node: Option<&'n Node>, path: &str, p: &mut Problems) -> Vec<(usize, &'n Node)> {
    match node.map(|n| (&n.value, n)) {
        None => Vec::new(),
        Some((Value::Seq(list), _)) => list.iter().enumerate().collect(),
        Some((_, n)) => {
            p.at(&n.pos, path, format!("expected a list, found {}", n.kind()));
            Vec::new()
        }
    }
}

fn text(n: &Node, key: &str) -> Option<String> {
    match &n.get(key)?.value {
        Value::Str(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A key from a name: lower case, `-` between words; `-2`, `-3`... when taken.
fn unique_key<T>(name: &str, taken: &BTreeMap<String, T>) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    let slug = if slug.is_empty() {
        "resource".to_owned()
    } else {
        slug
    };
    let mut key = slug.clone();
    let mut n = 2;
    while taken.contains_key(&key) {
        key = format!("{slug}-{n}");
        n += 1;
    }
    key
}

fn action_code(n: &Node, path: &str, p: &mut Problems) -> Option<CodeSource> {
    if let Some(code) = text(n, "code") {
        return Some(CodeSource::Script(code));
    }
    let Some(zipped) = text(n, "encodedZippedCode") else {
        p.at(
            &n.pos,
            path,
            "the action has no `encodedZippedCode` or `code`",
        );
        return None;
    };
    let bytes = match base64::engine::general_purpose::STANDARD.decode(zipped.trim()) {
        Ok(b) => b,
        Err(e) => {
            p.at(
                &n.pos,
                &child_path(path, "encodedZippedCode"),
                format!("not base64: {e}"),
            );
            return None;
        }
    };
    match defender_runtime::load_bundle_zip(&bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            p.at(
                &n.pos,
                &child_path(path, "encodedZippedCode"),
                e.to_string(),
            );
            None
        }
    }
}

fn action_trigger(
    t: Option<&Node>,
    path: &str,
    p: &mut Problems,
) -> (Vec<ActionTrigger>, MonitorLink) {
    let Some(t) = t else {
        return (Vec::new(), MonitorLink::None);
    };
    let tp = child_path(path, "trigger");
    match text(t, "type").as_deref() {
        Some("schedule") => {
            let schedule = if let Some(cron) = text(t, "cron") {
                Schedule::Cron(cron)
            } else {
                match t
                    .get("frequencyMinutes")
                    .or_else(|| t.get("frequency"))
                    .map(|f| &f.value)
                {
                    Some(Value::Int(m)) if *m > 0 => Schedule::Interval(Duration::from_secs(
                        u64::try_from(*m).unwrap_or(1).saturating_mul(60),
                    )),
                    _ => {
                        p.at(&t.pos, &tp, "a schedule needs `frequencyMinutes` or `cron`");
                        return (Vec::new(), MonitorLink::None);
                    }
                }
            };
            if let Err(e) = schedule.validate() {
                p.at(&t.pos, &tp, e);
                return (Vec::new(), MonitorLink::None);
            }
            (vec![ActionTrigger::Schedule(schedule)], MonitorLink::None)
        }
        Some("webhook") => (vec![ActionTrigger::Webhook], MonitorLink::None),
        Some("sentinel" | "monitor") => (Vec::new(), MonitorLink::Sentinel),
        Some("monitor-filter") => (Vec::new(), MonitorLink::MonitorFilter),
        Some(other) => {
            p.at(&t.pos, &tp, format!("unknown trigger type `{other}`"));
            (Vec::new(), MonitorLink::None)
        }
        None => (Vec::new(), MonitorLink::None),
    }
}

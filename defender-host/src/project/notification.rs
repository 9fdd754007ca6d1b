//! Notification channels: defender-as-code's `type` and `config` keys into the SDK's
//! [`ChannelDefinition`].

use super::Notification;
use crate::problem::Problems;
use crate::read::{fields, Fields};
use crate::yaml::Node;
use defender_notify::{ChannelConfig, ChannelDefinition};
use serde_json::{json, Map, Value as J};

/// Reads one channel under `path`; `key` is its resource key (the alias monitors use).
pub(crate) fn read(key: &str, node: &Node, path: &str, p: &mut Problems) -> Option<Notification> {
    let mut f = fields(node, path, p)?;
    let name = f.req_str("name", p);
    let kind = f.req_str("type", p);
    let paused = f.bool("paused", p).unwrap_or(false);
    let config_node = f.get("config");
    f.finish(p, &[]);
    let kind = kind?;
    let Some(config_node) = config_node else {
        p.at(&node.pos, path, "`config` is required");
        return None;
    };
    let config_path = format!("{path}.config");
    let mut c = fields(config_node, &config_path, p)?;
    let (tag, config) = match kind.as_str() {
        "slack" | "discord" => ("slack", json!({ "url": c.req_str("url", p)? })),
        "webhook" => {
            let mut o = Map::new();
            o.insert("url".into(), J::from(c.req_str("url", p)?));
            if let Some(s) = c.str("secret", p) {
                o.insert("secret".into(), J::from(s));
            }
            ("webhook", J::Object(o))
        }
        "email" => {
            let emails = c.strings("emails", p);
            if emails.is_empty() {
                p.at(&config_node.pos, &config_path, "`emails` lists no address");
            }
            // The SMTP server and sender come from the host config (`smtp:`).
            ("email", json!({ "emails": emails, "from": "", "host": "" }))
        }
        "telegram" => (
            "telegram",
            json!({ "botToken": c.req_str("bot-token", p)?, "chatId": c.req_str("chat-id", p)? }),
        ),
        "datadog" => (
            "datadog",
            json!({ "apiKey": c.req_str("api-key", p)?, "metricPrefix": c.str("metric-prefix", p).unwrap_or_default() }),
        ),
        "opsgenie" => ("opsgenie", opsgenie(&mut c, p)?),
        "pager-duty" | "pagerduty" => ("pager-duty", pager_duty(&mut c, p)?),
        other => {
            p.at(
                &node.pos,
                &format!("{path}.type"),
                format!("unknown notification type `{other}`: expected slack, email, discord, telegram, datadog, webhook, opsgenie or pager-duty"),
            );
            return None;
        }
    };
    let tag = if kind == "discord" { "discord" } else { tag };
    c.finish(
        p,
        &[
            (
                "alias",
                "Opsgenie's alert alias is the transaction hash of the alert",
            ),
            ("actions", "Opsgenie alert actions are not sent"),
            (
                "details",
                "Opsgenie details are the alert's network, monitor and transaction",
            ),
            (
                "customDetails",
                "PagerDuty custom details are the alert's body and match",
            ),
        ],
    );
    let channel: ChannelConfig =
        match serde_json::from_value(json!({ "type": tag, "config": config })) {
            Ok(c) => c,
            Err(e) => {
                p.at(
                    &config_node.pos,
                    &config_path,
                    format!("invalid {kind} configuration: {e}"),
                );
                return None;
            }
        };
    if !matches!(channel, ChannelConfig::Email(_)) {
        if let Err(e) = defender_notify::build(&channel) {
            p.at(&config_node.pos, &config_path, e.to_string());
        }
    }
    Some(Notification {
        name: name.unwrap_or_else(|| key.to_owned()),
        definition: ChannelDefinition {
            name: key.to_owned(),
            paused,
            channel,
        },
    })
}

fn opsgenie(c: &mut Fields<'_>, p: &mut Problems) -> Option<J> {
    let mut o = Map::new();
    o.insert("apiKey".into(), J::from(c.req_str("apiKey", p)?));
    if let Some(l) = c.str("instanceLocation", p) {
        o.insert("instanceLocation".into(), J::from(l.to_ascii_lowercase()));
    }
    for k in ["priority", "entity", "note"] {
        if let Some(v) = c.str(k, p) {
            o.insert(k.into(), J::from(v));
        }
    }
    let tags = c.strings("tags", p);
    if !tags.is_empty() {
        o.insert("tags".into(), J::from(tags));
    }
    for k in ["responders", "visibleTo"] {
        if let Some(v) = c.get(k) {
            o.insert(k.into(), v.to_json());
        }
    }
    Some(J::Object(o))
}

fn pager_duty(c: &mut Fields<'_>, p: &mut Problems) -> Option<J> {
    let mut o = Map::new();
    // Defender's API token: the Events API v2 needs only the routing key.
    let _ = c.str("token", p);
    if let Some(t) = c.str("eventType", p) {
        if t != "alert" {
            let pos = c.get("eventType").map_or(&c.node().pos, |n| &n.pos).clone();
            p.at(
                &pos,
                &c.key_path("eventType"),
                format!(
                    "PagerDuty `{t}` events are not supported yet: only `alert` events are sent"
                ),
            );
        }
    }
    o.insert("routingKey".into(), J::from(c.req_str("routingKey", p)?));
    for (from, to) in [
        ("eventAction", "eventAction"),
        ("severity", "severity"),
        ("dedupKey", "dedupKey"),
        ("component", "component"),
        ("group", "group"),
        ("class", "class"),
    ] {
        if let Some(v) = c.str(from, p) {
            o.insert(to.into(), J::from(v));
        }
    }
    Some(J::Object(o))
}

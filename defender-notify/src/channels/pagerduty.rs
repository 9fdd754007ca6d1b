//! PagerDuty Events API v2.
//!
//! A monitor alert's event severity comes from the monitor's severity
//! ([`severity_of`]): `HIGH` is `critical`, `MEDIUM` is `error`, `LOW` is `warning`. The
//! channel's configured `severity` is used for alerts of monitors with no severity and for
//! the messages actions send.

use crate::http::{self, HttpRequest};
use crate::markdown;
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError, Severity};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// PagerDuty's Events API.
pub const PAGERDUTY_API: &str = "https://events.pagerduty.com";

/// PagerDuty channel configuration (Defender's `pager-duty` shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagerDutyConfig {
    /// The integration's routing key.
    pub routing_key: String,
    /// `trigger` (default), `acknowledge` or `resolve`.
    #[serde(default = "trigger")]
    pub event_action: String,
    /// `critical`, `error` (default), `warning` or `info`: the severity of messages that do
    /// not come from a monitor with a severity (see [`severity_of`]).
    #[serde(default = "error")]
    pub severity: String,
    /// The event's source; default `defender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Class.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "class")]
    pub class: Option<String>,
    /// A fixed dedup key; default: the transaction hash for monitor alerts, none otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// The API base URL; default `https://events.pagerduty.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

fn trigger() -> String {
    "trigger".into()
}
fn error() -> String {
    "error".into()
}

/// The PagerDuty event severity of a monitor severity: `HIGH` is `critical`, `MEDIUM` is
/// `error`, `LOW` is `warning` (`info` is left to channels configured with it).
pub fn severity_of(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "critical",
        Severity::Medium => "error",
        Severity::Low => "warning",
    }
}

/// POSTs an event to `{base}/v2/enqueue`: `summary` is the subject (plain text, at most 1,024
/// characters), `custom_details` holds the body as plain text and, for a monitor alert, the
/// network, monitor and transaction.
#[derive(Debug, Clone)]
pub struct PagerDutyChannel {
    url: Url,
    config: PagerDutyConfig,
    client: Client,
}

impl PagerDutyChannel {
    /// A channel from its configuration.
    pub fn new(config: &PagerDutyConfig) -> Result<Self, NotifyError> {
        if config.routing_key.trim().is_empty() {
            return Err(NotifyError::Config(
                "pager-duty routingKey is missing".into(),
            ));
        }
        if !["trigger", "acknowledge", "resolve"].contains(&config.event_action.as_str()) {
            return Err(NotifyError::Config(format!(
                "pager-duty eventAction `{}` is not trigger, acknowledge or resolve",
                config.event_action
            )));
        }
        if !["critical", "error", "warning", "info"].contains(&config.severity.as_str()) {
            return Err(NotifyError::Config(format!(
                "pager-duty severity `{}` is not critical, error, warning or info",
                config.severity
            )));
        }
        let base = config.base_url.as_deref().unwrap_or(PAGERDUTY_API);
        Ok(PagerDutyChannel {
            url: http::join("pager-duty baseUrl", base, "/v2/enqueue")?,
            config: config.clone(),
            client: http::default_client()?,
        })
    }

    /// The JSON body sent for `message`, timestamped `timestamp` (RFC 3339).
    pub fn payload(&self, message: &Message, timestamp: &str) -> Value {
        let c = &self.config;
        let mut details = Map::new();
        details.insert(
            "message".into(),
            Value::String(markdown::to_plain(&message.body)),
        );
        if let Some(alert) = &message.alert {
            details.insert(
                "network".into(),
                Value::String(alert.monitor.network.clone()),
            );
            details.insert("monitor".into(), Value::String(alert.monitor.name.clone()));
            details.insert("transactionHash".into(), Value::String(alert.hash.clone()));
            if let Some(r) = &alert.monitor.risk_category {
                details.insert("riskCategory".into(), Value::String(r.clone()));
            }
        }
        let severity = match message
            .alert
            .as_ref()
            .and_then(|a| a.monitor.severity_level)
        {
            Some(s) => severity_of(s),
            None => c.severity.as_str(),
        };
        let mut summary = markdown::to_plain(&message.subject);
        if summary.trim().is_empty() {
            summary = "Defender notification".into();
        }
        let mut payload = json!({
            "summary": super::truncate_chars(&summary, 1024),
            "source": c.source.clone().unwrap_or_else(|| "defender".into()),
            "severity": severity,
            "timestamp": timestamp,
            "custom_details": details,
        });
        for (key, v) in [
            ("component", &c.component),
            ("group", &c.group),
            ("class", &c.class),
        ] {
            if let (Some(v), Some(obj)) = (v, payload.as_object_mut()) {
                obj.insert(key.into(), Value::String(v.clone()));
            }
        }
        let mut body = json!({
            "routing_key": c.routing_key,
            "event_action": c.event_action,
            "payload": payload,
        });
        let dedup = c
            .dedup_key
            .clone()
            .or_else(|| message.alert.as_ref().map(|a| a.hash.clone()));
        if let (Some(d), Some(obj)) = (dedup, body.as_object_mut()) {
            obj.insert("dedup_key".into(), Value::String(d));
        }
        body
    }
}

#[async_trait]
impl Notifier for PagerDutyChannel {
    fn kind(&self) -> &str {
        "pager-duty"
    }

    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let req = HttpRequest::post_json(self.url.clone(), &self.payload(message, &ts))?;
        http::deliver(&self.client, &self.config.retry, self.kind(), &req).await?;
        Ok(())
    }

    async fn send_metric(&self, _metric: &Metric) -> Result<(), NotifyError> {
        Err(super::no_metrics(self.kind()))
    }
}

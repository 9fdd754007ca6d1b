//! Opsgenie alerts.
//!
//! A monitor alert's priority comes from the monitor's severity ([`priority_of`]): `HIGH` is
//! `P1`, `MEDIUM` is `P3`, `LOW` is `P4`. The channel's configured `priority` is used for
//! alerts of monitors with no severity and for the messages actions send (none: Opsgenie's
//! default, `P3`).

use crate::http::{self, HttpRequest};
use crate::markdown;
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError, Severity};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Opsgenie's US API.
pub const OPSGENIE_API_US: &str = "https://api.opsgenie.com";
/// Opsgenie's EU API.
pub const OPSGENIE_API_EU: &str = "https://api.eu.opsgenie.com";

/// Opsgenie channel configuration (Defender's `opsgenie` shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpsgenieConfig {
    /// The API integration key (sent as `Authorization: GenieKey <key>`).
    pub api_key: String,
    /// `us` (default) or `eu`; ignored when `baseUrl` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_location: Option<String>,
    /// Alert priority `P1`..`P5` of messages that do not come from a monitor with a severity
    /// (see [`priority_of`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Responders, in Opsgenie's shape (`[{"type": "team", "name": "ops"}]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responders: Vec<Value>,
    /// Who sees it, in Opsgenie's shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visible_to: Vec<Value>,
    /// Entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The API base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// The Opsgenie priority of a monitor severity: `HIGH` is `P1` (critical), `MEDIUM` is `P3`
/// (moderate, Opsgenie's default), `LOW` is `P4` (low).
pub fn priority_of(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "P1",
        Severity::Medium => "P3",
        Severity::Low => "P4",
    }
}

/// POSTs an alert to `{base}/v2/alerts`: `message` is the subject (plain, at most 130
/// characters), `description` the body (plain, at most 15,000), `alias` the transaction hash of
/// a monitor alert (Opsgenie's de-duplication key), `details` the network, monitor and
/// transaction.
#[derive(Debug, Clone)]
pub struct OpsgenieChannel {
    url: Url,
    config: OpsgenieConfig,
    client: Client,
}

impl OpsgenieChannel {
    /// A channel from its configuration.
    pub fn new(config: &OpsgenieConfig) -> Result<Self, NotifyError> {
        if config.api_key.trim().is_empty() {
            return Err(NotifyError::Config("opsgenie apiKey is missing".into()));
        }
        let base = match (&config.base_url, config.instance_location.as_deref()) {
            (Some(b), _) => b.as_str(),
            (None, None | Some("us") | Some("US")) => OPSGENIE_API_US,
            (None, Some("eu") | Some("EU")) => OPSGENIE_API_EU,
            (None, Some(other)) => {
                return Err(NotifyError::Config(format!(
                    "opsgenie instanceLocation `{other}` is not us or eu"
                )))
            }
        };
        Ok(OpsgenieChannel {
            url: http::join("opsgenie baseUrl", base, "/v2/alerts")?,
            config: config.clone(),
            client: http::default_client()?,
        })
    }

    /// The JSON body sent for `message`.
    pub fn payload(&self, message: &Message) -> Value {
        let c = &self.config;
        let mut subject = markdown::to_plain(&message.subject);
        if subject.trim().is_empty() {
            subject = "Defender notification".into();
        }
        let mut body = Map::new();
        body.insert(
            "message".into(),
            Value::String(super::truncate_chars(&subject, 130)),
        );
        body.insert(
            "description".into(),
            Value::String(super::truncate_chars(
                &markdown::to_plain(&message.body),
                15_000,
            )),
        );
        body.insert("source".into(), Value::String("defender".into()));
        let mut details = Map::new();
        if let Some(alert) = &message.alert {
            body.insert("alias".into(), Value::String(alert.hash.clone()));
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
        body.insert("details".into(), Value::Object(details));
        let priority = message
            .alert
            .as_ref()
            .and_then(|a| a.monitor.severity_level)
            .map(priority_of)
            .or(c.priority.as_deref());
        if let Some(p) = priority {
            body.insert("priority".into(), Value::String(p.to_owned()));
        }
        if !c.tags.is_empty() {
            body.insert(
                "tags".into(),
                c.tags.iter().cloned().map(Value::String).collect(),
            );
        }
        if !c.responders.is_empty() {
            body.insert("responders".into(), Value::Array(c.responders.clone()));
        }
        if !c.visible_to.is_empty() {
            body.insert("visibleTo".into(), Value::Array(c.visible_to.clone()));
        }
        for (key, v) in [("entity", &c.entity), ("note", &c.note)] {
            if let Some(v) = v {
                body.insert(key.into(), Value::String(v.clone()));
            }
        }
        Value::Object(body)
    }
}

#[async_trait]
impl Notifier for OpsgenieChannel {
    fn kind(&self) -> &str {
        "opsgenie"
    }

    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let auth = format!("GenieKey {}", self.config.api_key.trim());
        let req = HttpRequest::post_json(self.url.clone(), &self.payload(message))?
            .header("authorization", &auth)?;
        http::deliver(&self.client, &self.config.retry, self.kind(), &req).await?;
        Ok(())
    }

    async fn send_metric(&self, _metric: &Metric) -> Result<(), NotifyError> {
        Err(super::no_metrics(self.kind()))
    }
}

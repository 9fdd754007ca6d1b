//! Datadog custom metrics.

use crate::http::{self, HttpRequest};
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Datadog's US1 API.
pub const DATADOG_API: &str = "https://api.datadoghq.com";

/// Datadog channel configuration (Defender's `{ apiKey, metricPrefix }`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatadogConfig {
    /// The API key (sent as `DD-API-KEY`).
    pub api_key: String,
    /// Put before every metric name: with `defender.`, monitors send `defender.sentinel`.
    #[serde(default)]
    pub metric_prefix: String,
    /// The API base URL (per Datadog site); default `https://api.datadoghq.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Tags added to every point (`key:value`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// Sends COUNT points to `{base}/api/v1/series` with the `DD-API-KEY` header.
///
/// - `send` of a monitor alert sends `{prefix}sentinel` = 1, tagged `network:<network>` and
///   `sentinel:<monitor name>`, as Defender did (one point per matched transaction). A message
///   with no monitor match is [`NotifyError::Unsupported`].
/// - `send_metric` sends `{prefix}{name}` = value with the metric's tags.
/// - A zero value is not sent (Defender sent no zeros): the call succeeds without a request.
#[derive(Debug, Clone)]
pub struct DatadogChannel {
    url: Url,
    api_key: String,
    prefix: String,
    tags: Vec<String>,
    retry: RetryPolicy,
    client: Client,
}

impl DatadogChannel {
    /// A channel from its configuration.
    pub fn new(config: &DatadogConfig) -> Result<Self, NotifyError> {
        if config.api_key.trim().is_empty() {
            return Err(NotifyError::Config("datadog apiKey is missing".into()));
        }
        let base = config.base_url.as_deref().unwrap_or(DATADOG_API);
        Ok(DatadogChannel {
            url: http::join("datadog baseUrl", base, "/api/v1/series")?,
            api_key: config.api_key.trim().to_owned(),
            prefix: config.metric_prefix.clone(),
            tags: config.tags.clone(),
            retry: config.retry.clone(),
            client: http::default_client()?,
        })
    }

    /// The series body for one point, or `None` for a zero (nothing is sent).
    pub fn payload(&self, metric: &Metric, timestamp: u64) -> Option<serde_json::Value> {
        if metric.value == 0.0 || !metric.value.is_finite() {
            return None;
        }
        let mut tags: Vec<String> = metric
            .tags
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        tags.extend(self.tags.iter().cloned());
        Some(json!({
            "series": [{
                "metric": format!("{}{}", self.prefix, metric.name),
                "type": "count",
                "points": [[timestamp, metric.value]],
                "tags": tags,
            }]
        }))
    }

    async fn post(&self, metric: &Metric) -> Result<(), NotifyError> {
        let now = crate::signature::now_ms() / 1000;
        let Some(body) = self.payload(metric, now) else {
            return Ok(());
        };
        let req =
            HttpRequest::post_json(self.url.clone(), &body)?.header("dd-api-key", &self.api_key)?;
        http::deliver(&self.client, &self.retry, "datadog", &req).await?;
        Ok(())
    }
}

#[async_trait]
impl Notifier for DatadogChannel {
    fn kind(&self) -> &str {
        "datadog"
    }

    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let Some(alert) = &message.alert else {
            return Err(NotifyError::Unsupported {
                channel: "datadog".into(),
                what: "messages without a monitor match",
            });
        };
        let metric = Metric {
            name: "sentinel".into(),
            value: 1.0,
            tags: vec![
                ("network".into(), alert.monitor.network.clone()),
                ("sentinel".into(), alert.monitor.name.clone()),
            ],
        };
        self.post(&metric).await
    }

    async fn send_metric(&self, metric: &Metric) -> Result<(), NotifyError> {
        self.post(metric).await
    }
}

//! Slack incoming webhooks.

use crate::http::{self, HttpRequest};
use crate::markdown;
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Slack channel configuration (Defender's `{ url }`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlackConfig {
    /// The incoming webhook URL (`https://hooks.slack.com/services/...`).
    pub url: String,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// Posts `{"text": <mrkdwn>}` to a Slack incoming webhook; the subject is a bold first line.
#[derive(Debug, Clone)]
pub struct SlackChannel {
    url: Url,
    retry: RetryPolicy,
    client: Client,
}

impl SlackChannel {
    /// A channel from its configuration.
    pub fn new(config: &SlackConfig) -> Result<Self, NotifyError> {
        Ok(SlackChannel {
            url: http::parse_url("slack url", &config.url)?,
            retry: config.retry.clone(),
            client: http::default_client()?,
        })
    }

    /// The JSON body sent for `message`.
    pub fn payload(message: &Message) -> serde_json::Value {
        json!({ "text": markdown::to_slack(&super::titled_markdown(message)) })
    }
}

#[async_trait]
impl Notifier for SlackChannel {
    fn kind(&self) -> &str {
        "slack"
    }

    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let req = HttpRequest::post_json(self.url.clone(), &Self::payload(message))?;
        http::deliver(&self.client, &self.retry, self.kind(), &req).await?;
        Ok(())
    }

    async fn send_metric(&self, _metric: &Metric) -> Result<(), NotifyError> {
        Err(super::no_metrics(self.kind()))
    }
}

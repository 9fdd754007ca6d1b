//! Discord webhooks.

use crate::http::{self, HttpRequest};
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Most characters of a Discord message.
pub const DISCORD_MAX_CHARS: usize = 2000;

/// Discord channel configuration (Defender's `{ url }`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscordConfig {
    /// The webhook URL (`https://discord.com/api/webhooks/<id>/<token>`).
    pub url: String,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// Posts `{"content": <markdown>}` to a Discord webhook (Discord renders Markdown itself); the
/// subject is a bold first line; the text is cut to 2,000 characters.
#[derive(Debug, Clone)]
pub struct DiscordChannel {
    url: Url,
    retry: RetryPolicy,
    client: Client,
}

impl DiscordChannel {
    /// A channel from its configuration.
    pub fn new(config: &DiscordConfig) -> Result<Self, NotifyError> {
        Ok(DiscordChannel {
            url: http::parse_url("discord url", &config.url)?,
            retry: config.retry.clone(),
            client: http::default_client()?,
        })
    }

    /// The JSON body sent for `message`.
    pub fn payload(message: &Message) -> serde_json::Value {
        let text = super::titled_markdown(message);
        json!({ "content": super::truncate_chars(&text, DISCORD_MAX_CHARS) })
    }
}

#[async_trait]
impl Notifier for DiscordChannel {
    fn kind(&self) -> &str {
        "discord"
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

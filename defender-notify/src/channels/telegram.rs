//! Telegram bots (`sendMessage` to a chat).

use crate::http::{self, HttpRequest};
use crate::markdown;
use crate::retry::RetryPolicy;
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Telegram's Bot API.
pub const TELEGRAM_API: &str = "https://api.telegram.org";
/// Most characters of a Telegram message.
pub const TELEGRAM_MAX_CHARS: usize = 4096;

/// Telegram channel configuration (Defender's `{ botToken, chatId }`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelegramConfig {
    /// The token BotFather gave.
    pub bot_token: String,
    /// The chat id (a number such as `-1001234567890`, or `@channelname`).
    pub chat_id: String,
    /// The Bot API base URL; default `https://api.telegram.org`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// Posts `{chat_id, text, parse_mode: "MarkdownV2", disable_web_page_preview: true}` to
/// `{base}/bot<token>/sendMessage`; the text is the subject in bold, then the body, converted to
/// MarkdownV2 with its escaping.
#[derive(Debug, Clone)]
pub struct TelegramChannel {
    url: Url,
    chat_id: String,
    retry: RetryPolicy,
    client: Client,
}

impl TelegramChannel {
    /// A channel from its configuration.
    pub fn new(config: &TelegramConfig) -> Result<Self, NotifyError> {
        let token = config.bot_token.trim();
        if token.is_empty() || token.contains(['/', '?', '#', ' ']) {
            return Err(NotifyError::Config(
                "telegram botToken is missing or malformed".into(),
            ));
        }
        if config.chat_id.trim().is_empty() {
            return Err(NotifyError::Config("telegram chatId is missing".into()));
        }
        let base = config.base_url.as_deref().unwrap_or(TELEGRAM_API);
        Ok(TelegramChannel {
            url: http::join(
                "telegram baseUrl",
                base,
                &format!("/bot{token}/sendMessage"),
            )?,
            chat_id: config.chat_id.trim().to_owned(),
            retry: config.retry.clone(),
            client: http::default_client()?,
        })
    }

    /// The JSON body sent for `message`.
    pub fn payload(&self, message: &Message) -> serde_json::Value {
        let text = markdown::to_telegram(&super::titled_markdown(message));
        json!({
            "chat_id": self.chat_id,
            "text": truncate_escaped(&text, TELEGRAM_MAX_CHARS),
            "parse_mode": "MarkdownV2",
            "disable_web_page_preview": true,
        })
    }
}

/// Cuts MarkdownV2 text without leaving a dangling escape.
fn truncate_escaped(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(6)).collect();
    let trailing = out.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        out.pop();
    }
    out.push_str("\\.\\.\\.");
    out
}

#[async_trait]
impl Notifier for TelegramChannel {
    fn kind(&self) -> &str {
        "telegram"
    }

    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let req = HttpRequest::post_json(self.url.clone(), &self.payload(message))?;
        http::deliver(&self.client, &self.retry, self.kind(), &req).await?;
        Ok(())
    }

    async fn send_metric(&self, _metric: &Metric) -> Result<(), NotifyError> {
        Err(super::no_metrics(self.kind()))
    }
}

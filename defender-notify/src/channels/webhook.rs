//! Generic webhooks, signed as Defender signed them.

use crate::http::{self, HttpRequest};
use crate::retry::RetryPolicy;
use crate::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The header that carries a message's [idempotency key](Message::idempotency_key).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Webhook channel configuration (Defender's `{ url }`, plus the signing secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// The signing secret; without it no signature header is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// POSTs JSON to a URL, with `Defender-Timestamp` and `Defender-Signature` headers when it has a
/// secret (see [`crate::signature`] for the exact signed bytes).
///
/// Bodies:
/// - `send`: `{"subject": ..., "message": ..., "event": <monitor match>}` (`event` only for a
///   monitor alert, in Defender's match shape);
/// - `send_metric`: `{"metric": {"name": ..., "value": ..., "tags": {"k": "v"}}}`.
///
/// The timestamp and signature are computed again for every attempt. A message with an
/// [idempotency key](Message::idempotency_key) carries it in the [`IDEMPOTENCY_KEY_HEADER`]
/// header, the same on every attempt and every redelivery, so the receiver can drop repeats.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    url: Url,
    secret: Option<String>,
    retry: RetryPolicy,
    client: Client,
}

impl WebhookChannel {
    /// A channel from its configuration.
    pub fn new(config: &WebhookConfig) -> Result<Self, NotifyError> {
        Ok(WebhookChannel {
            url: http::parse_url("webhook url", &config.url)?,
            secret: config.secret.clone().filter(|s| !s.is_empty()),
            retry: config.retry.clone(),
            client: http::default_client()?,
        })
    }

    /// The JSON body sent for `message`.
    pub fn payload(message: &Message) -> Value {
        let mut body = Map::new();
        body.insert("subject".into(), Value::String(message.subject.clone()));
        body.insert("message".into(), Value::String(message.body.clone()));
        if let Some(alert) = &message.alert {
            body.insert(
                "event".into(),
                serde_json::to_value(&**alert).unwrap_or(Value::Null),
            );
        }
        Value::Object(body)
    }

    async fn post(&self, body: &Value, idempotency_key: Option<&str>) -> Result<(), NotifyError> {
        let mut base = HttpRequest::post_json(self.url.clone(), body)?;
        if let Some(key) = idempotency_key {
            base = base.header(IDEMPOTENCY_KEY_HEADER, key)?;
        }
        // Each attempt is signed with a fresh timestamp.
        self.retry
            .run("webhook", |_| {
                let mut req = base.clone();
                if let Some(secret) = &self.secret {
                    let ts = signature::now_ms().to_string();
                    let sig = signature::sign(secret.as_bytes(), &ts, &req.body);
                    for (name, value) in [(TIMESTAMP_HEADER, ts), (SIGNATURE_HEADER, sig)] {
                        if let (Ok(n), Ok(v)) = (
                            HeaderName::from_bytes(name.as_bytes()),
                            HeaderValue::from_str(&value),
                        ) {
                            req.headers.insert(n, v);
                        }
                    }
                }
                let client = self.client.clone();
                async move { http::attempt(&client, &req).await }
            })
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Notifier for WebhookChannel {
    fn kind(&self) -> &str {
        "webhook"
    }

    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        self.post(&Self::payload(message), message.idempotency_key.as_deref())
            .await
    }

    async fn send_metric(&self, metric: &Metric) -> Result<(), NotifyError> {
        let tags: Map<String, Value> = metric
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        self.post(
            &json!({ "metric": { "name": metric.name, "value": metric.value, "tags": tags } }),
            None,
        )
        .await
    }
}

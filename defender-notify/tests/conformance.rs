//! The HTTP channels pass the `Notifier` conformance suite of defender-core, directly and
//! through `Box<dyn Notifier>` and `Arc<dyn Notifier>` (`run_suite` does all three), against a
//! real HTTP server on 127.0.0.1 that records what it receives (and answers 503 when the suite
//! asks for a far end that refuses).

mod common;

use async_trait::async_trait;
use common::{Recorder, Reply};
use defender_core::conformance::notify::{self, FarEnd, Inbox};
use defender_core::{Notifier, NotifyError};
use defender_notify::{
    DatadogChannel, DiscordChannel, OpsgenieChannel, PagerDutyChannel, SlackChannel,
    TelegramChannel, WebhookChannel,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// What the local server received: each request's JSON body as its strings and numbers, one
/// per line.
struct ServerInbox(Recorder);

#[async_trait]
impl Inbox for ServerInbox {
    async fn received(&self) -> Vec<String> {
        self.0.received().iter().map(|r| text(&r.body)).collect()
    }
}

fn text(body: &[u8]) -> String {
    fn leaves(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(items) => items.iter().for_each(|x| leaves(x, out)),
            Value::Object(map) => map.values().for_each(|x| leaves(x, out)),
            Value::Bool(_) | Value::Null => {}
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let mut out = Vec::new();
            leaves(&v, &mut out);
            out.join("\n")
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// Few, quick retries, so that a refused delivery fails within a second.
fn retry() -> Value {
    json!({
        "maxAttempts": 2, "initialBackoffMs": 5, "maxBackoffMs": 10,
        "attemptTimeoutMs": 5000, "deadlineMs": 10000
    })
}

/// A fresh local server answering as `far_end` says, and the channel `new` builds from the
/// configuration `config` gives for that server.
async fn channel<C, N>(
    far_end: FarEnd,
    config: impl FnOnce(&Recorder) -> Value,
    new: impl FnOnce(&C) -> Result<N, NotifyError>,
) -> (N, ServerInbox)
where
    C: DeserializeOwned,
    N: Notifier,
{
    let server = Recorder::start().await;
    if far_end == FarEnd::Refuses {
        server.set_default(Reply::status(503));
    }
    let config: C = serde_json::from_value(config(&server)).expect("channel configuration");
    let n = new(&config).expect("build the channel");
    (n, ServerInbox(server))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_passes_the_suite() {
    notify::run_suite(|far_end| {
        channel(
            far_end,
            |s| {
                json!({
                    "url": s.url("/hooks/defender"), "secret": "whsec-suite", "retry": retry()
                })
            },
            WebhookChannel::new,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_passes_the_suite() {
    notify::run_suite(|far_end| {
        channel(
            far_end,
            |s| json!({ "url": s.url("/services/T0/B0/XYZ"), "retry": retry() }),
            SlackChannel::new,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_passes_the_suite() {
    notify::run_suite(|far_end| {
        channel(
            far_end,
            |s| json!({ "url": s.url("/api/webhooks/123/tok"), "retry": retry() }),
            DiscordChannel::new,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_passes_the_suite() {
    notify::run_suite(|far_end| {
        channel(
            far_end,
            |s| {
                json!({
                    "botToken": "123456:ABC-def", "chatId": "-1001234567890",
                    "baseUrl": s.url(""), "retry": retry()
                })
            },
            TelegramChannel::new,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_passes_the_suite() {
    // A metric channel: messages without a monitor match are Unsupported.
    notify::run_suite(|far_end| {
        channel(
            far_end,
            |s| {
                json!({
                    "apiKey": "dd-key-1", "metricPrefix": "defender.", "baseUrl": s.url(""),
                    "retry": retry()
                })
            },
            DatadogChannel::new,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_passes_the_suite() {
    notify::run_suite(|far_end| {
        channel(
            far_end,
            |s| {
                json!({
                    "routingKey": "R0UT1NGKEY", "severity": "critical", "baseUrl": s.url(""),
                    "retry": retry()
                })
            },
            PagerDutyChannel::new,
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsgenie_passes_the_suite() {
    notify::run_suite(|far_end| {
        channel(
            far_end,
            |s| json!({ "apiKey": "og-key", "baseUrl": s.url("/"), "retry": retry() }),
            OpsgenieChannel::new,
        )
    })
    .await;
}

//! Every HTTP channel against a real HTTP server on 127.0.0.1: the exact request it sends.
//! Run with `--nocapture` to print each received request.

mod common;

use common::{example_alert, Received, Recorder};
use defender_core::{AlertFormatter, Message, Metric, Notifier, NotifyError};
use defender_notify::{build, verify_signature, ChannelConfig, TemplateFormatter};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn message() -> Message {
    Message {
        subject: "Large transfer".into(),
        body: "**Value** 5000 _tokens_ on [etherscan](https://etherscan.io/tx/0x1) 1.5!".into(),
        alert: Some(Arc::new(example_alert())),
        idempotency_key: None,
    }
}

fn channel(config: Value) -> Arc<defender_core::DynNotifier> {
    let config: ChannelConfig = serde_json::from_value(config).expect("channel config");
    build(&config).expect("build channel")
}

fn assert_json_post(r: &Received, path: &str) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, path);
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn slack_posts_mrkdwn_text() {
    let server = Recorder::start().await;
    let slack =
        channel(json!({ "type": "slack", "config": { "url": server.url("/services/T0/B0/XYZ") } }));
    assert_eq!(slack.kind(), "slack");
    slack.send(&message()).await.expect("send");
    let r = server.only();
    r.print("slack");
    assert_json_post(&r, "/services/T0/B0/XYZ");
    assert_eq!(
        r.json(),
        json!({ "text": "*Large transfer*\n\n*Value* 5000 _tokens_ on <https://etherscan.io/tx/0x1|etherscan> 1.5!" })
    );
    assert!(matches!(
        slack
            .send_metric(&Metric {
                name: "m".into(),
                value: 1.0,
                tags: vec![]
            })
            .await,
        Err(NotifyError::Unsupported { .. })
    ));
}

#[tokio::test]
async fn discord_posts_markdown_content() {
    let server = Recorder::start().await;
    server.script([common::Reply::Status(204, vec![], String::new())]);
    let discord = channel(
        json!({ "type": "discord", "config": { "url": server.url("/api/webhooks/123/tok") } }),
    );
    discord.send(&message()).await.expect("send");
    let r = server.only();
    r.print("discord");
    assert_json_post(&r, "/api/webhooks/123/tok");
    assert_eq!(
        r.json(),
        json!({ "content": "**Large transfer**\n\n**Value** 5000 _tokens_ on [etherscan](https://etherscan.io/tx/0x1) 1.5!" })
    );
}

#[tokio::test]
async fn telegram_sends_markdown_v2_to_the_chat() {
    let server = Recorder::start().await;
    server.script([common::Reply::ok(
        r#"{"ok":true,"result":{"message_id":1}}"#,
    )]);
    let telegram = channel(json!({ "type": "telegram", "config": {
        "botToken": "123456:ABC-def", "chatId": "-1001234567890", "baseUrl": server.url("")
    } }));
    telegram.send(&message()).await.expect("send");
    let r = server.only();
    r.print("telegram");
    assert_json_post(&r, "/bot123456:ABC-def/sendMessage");
    assert_eq!(
        r.json(),
        json!({
            "chat_id": "-1001234567890",
            "text": "*Large transfer*\n\n*Value* 5000 _tokens_ on [etherscan](https://etherscan.io/tx/0x1) 1\\.5\\!",
            "parse_mode": "MarkdownV2",
            "disable_web_page_preview": true
        })
    );
}

#[tokio::test]
async fn telegram_errors_do_not_leak_the_token() {
    let server = Recorder::start().await;
    server.set_default(common::Reply::Status(
        400,
        vec![],
        r#"{"ok":false,"description":"Bad Request: can't parse entities"}"#.into(),
    ));
    let telegram = channel(json!({ "type": "telegram", "config": {
        "botToken": "123456:SECRET", "chatId": "1", "baseUrl": server.url("/")
    } }));
    let err = telegram.send(&message()).await.expect_err("400");
    let text = err.to_string();
    assert!(text.contains("can't parse entities"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    assert!(matches!(err, NotifyError::Delivery { attempts: 1, .. }));
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn datadog_counts_matches_and_skips_zeros() {
    let server = Recorder::start().await;
    server.set_default(common::Reply::Status(
        202,
        vec![],
        r#"{"status":"ok"}"#.into(),
    ));
    let dd = channel(json!({ "type": "datadog", "config": {
        "apiKey": "dd-key-1", "metricPrefix": "defender.", "baseUrl": server.url("")
    } }));
    // A monitor alert: COUNT 1 of `{prefix}sentinel`, tagged network and monitor name.
    dd.send(&message()).await.expect("send");
    // An action's metric: the given name and value under the prefix.
    dd.send_metric(&Metric {
        name: "datadog-test-metric".into(),
        value: 3.0,
        tags: vec![],
    })
    .await
    .expect("metric");
    // Zeros are not sent.
    dd.send_metric(&Metric {
        name: "zero".into(),
        value: 0.0,
        tags: vec![],
    })
    .await
    .expect("zero");
    // A message that is no monitor alert cannot become a count.
    assert!(matches!(
        dd.send(&Message::new("s", "b")).await,
        Err(NotifyError::Unsupported { .. })
    ));
    let received = server.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    received[0].print("datadog (monitor alert)");
    received[1].print("datadog (sendMetric)");
    for r in &received {
        assert_json_post(r, "/api/v1/series");
        assert_eq!(r.header("dd-api-key"), Some("dd-key-1"));
    }
    let mut alert = received[0].json();
    let ts = alert["series"][0]["points"][0][0]
        .as_u64()
        .expect("timestamp");
    assert!(ts.abs_diff(now_s()) < 120, "{ts}");
    alert["series"][0]["points"][0][0] = json!(0);
    assert_eq!(
        alert,
        json!({ "series": [{
            "metric": "defender.sentinel", "type": "count", "points": [[0, 1.0]],
            "tags": ["network:mainnet", "sentinel:Large transfer"]
        }]})
    );
    let mut metric = received[1].json();
    metric["series"][0]["points"][0][0] = json!(0);
    assert_eq!(
        metric,
        json!({ "series": [{
            "metric": "defender.datadog-test-metric", "type": "count", "points": [[0, 3.0]], "tags": []
        }]})
    );
}

#[tokio::test]
async fn webhook_posts_signed_json() {
    let server = Recorder::start().await;
    let hook = channel(json!({ "type": "webhook", "config": {
        "url": server.url("/hooks/defender?team=ops"), "secret": "whsec-123"
    } }));
    hook.send(&message()).await.expect("send");
    hook.send_metric(&Metric {
        name: "runs".into(),
        value: 2.0,
        tags: vec![("env".into(), "prod".into())],
    })
    .await
    .expect("metric");
    let received = server.received();
    assert_eq!(received.len(), 2);
    let r = &received[0];
    r.print("webhook");
    assert_json_post(r, "/hooks/defender?team=ops");
    let ts = r.header("defender-timestamp").expect("timestamp header");
    let sig = r.header("defender-signature").expect("signature header");
    assert_eq!(sig.len(), 64);
    verify_signature(
        b"whsec-123",
        ts,
        &r.body,
        sig,
        Some(Duration::from_secs(300)),
    )
    .expect("valid signature");
    assert!(verify_signature(b"wrong", ts, &r.body, sig, None).is_err());
    assert_eq!(
        r.json(),
        json!({
            "subject": "Large transfer",
            "message": "**Value** 5000 _tokens_ on [etherscan](https://etherscan.io/tx/0x1) 1.5!",
            "event": serde_json::to_value(example_alert()).unwrap(),
        })
    );
    let m = &received[1];
    verify_signature(
        b"whsec-123",
        m.header("defender-timestamp").unwrap(),
        &m.body,
        m.header("defender-signature").unwrap(),
        None,
    )
    .expect("metric signed");
    assert_eq!(
        m.json(),
        json!({ "metric": { "name": "runs", "value": 2.0, "tags": { "env": "prod" } } })
    );
}

#[tokio::test]
async fn webhook_without_secret_is_unsigned() {
    let server = Recorder::start().await;
    let hook = channel(json!({ "type": "webhook", "config": { "url": server.url("/") } }));
    hook.send(&Message::new("s", "b")).await.expect("send");
    let r = server.only();
    assert_eq!(r.header("defender-signature"), None);
    assert_eq!(r.json(), json!({ "subject": "s", "message": "b" }));
}

#[tokio::test]
async fn webhook_sends_the_idempotency_key_as_a_header() {
    let server = Recorder::start().await;
    let hook = channel(json!({ "type": "webhook", "config": { "url": server.url("/") } }));
    hook.send(&Message::new("s", "b").with_idempotency_key("m1-0xab-tx-ops"))
        .await
        .expect("send");
    hook.send(&Message::new("s", "b")).await.expect("send");
    let received = server.received();
    assert_eq!(
        received[0].header("idempotency-key"),
        Some("m1-0xab-tx-ops")
    );
    assert_eq!(received[1].header("idempotency-key"), None);
    // A key that is no header value is a configuration error, not a panic.
    let bad = hook
        .send(&Message::new("s", "b").with_idempotency_key("line\nbreak"))
        .await;
    assert!(
        matches!(bad, Err(defender_core::NotifyError::Config(_))),
        "{bad:?}"
    );
}

#[tokio::test]
async fn pagerduty_enqueues_an_events_v2_trigger() {
    let server = Recorder::start().await;
    server.set_default(common::Reply::Status(
        202,
        vec![],
        r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#.into(),
    ));
    let pd = channel(json!({ "type": "pager-duty", "config": {
        "routingKey": "R0UT1NGKEY", "severity": "critical", "component": "vault",
        "baseUrl": server.url("")
    } }));
    assert_eq!(pd.kind(), "pager-duty");
    pd.send(&message()).await.expect("send");
    let r = server.only();
    r.print("pager-duty");
    assert_json_post(&r, "/v2/enqueue");
    let mut body = r.json();
    let ts = body["payload"]["timestamp"]
        .as_str()
        .expect("timestamp")
        .to_owned();
    assert!(chrono::DateTime::parse_from_rfc3339(&ts).is_ok(), "{ts}");
    body["payload"]["timestamp"] = json!("T");
    let hash = example_alert().hash;
    assert_eq!(
        body,
        json!({
            "routing_key": "R0UT1NGKEY",
            "event_action": "trigger",
            "dedup_key": hash,
            "payload": {
                "summary": "Large transfer",
                "source": "defender",
                "severity": "critical",
                "timestamp": "T",
                "component": "vault",
                "custom_details": {
                    "message": "Value 5000 tokens on etherscan (https://etherscan.io/tx/0x1) 1.5!",
                    "network": "mainnet",
                    "monitor": "Large transfer",
                    "transactionHash": hash,
                }
            }
        })
    );
}

#[tokio::test]
async fn opsgenie_creates_an_alert() {
    let server = Recorder::start().await;
    server.set_default(common::Reply::Status(
        202,
        vec![],
        r#"{"result":"Request will be processed","requestId":"r"}"#.into(),
    ));
    let og = channel(json!({ "type": "opsgenie", "config": {
        "apiKey": "og-key", "priority": "P2", "tags": ["defender", "mainnet"],
        "responders": [{ "type": "team", "name": "ops" }], "baseUrl": server.url("/")
    } }));
    og.send(&message()).await.expect("send");
    let r = server.only();
    r.print("opsgenie");
    assert_json_post(&r, "/v2/alerts");
    assert_eq!(r.header("authorization"), Some("GenieKey og-key"));
    let hash = example_alert().hash;
    assert_eq!(
        r.json(),
        json!({
            "message": "Large transfer",
            "description": "Value 5000 tokens on etherscan (https://etherscan.io/tx/0x1) 1.5!",
            "source": "defender",
            "alias": hash,
            "details": { "network": "mainnet", "monitor": "Large transfer", "transactionHash": hash },
            "priority": "P2",
            "tags": ["defender", "mainnet"],
            "responders": [{ "type": "team", "name": "ops" }],
        })
    );
}

/// Defender's default alert, rendered and sent to Slack and Telegram, as monitors do.
#[tokio::test]
async fn default_monitor_alert_through_slack_and_telegram() {
    let server = Recorder::start().await;
    let message = TemplateFormatter::new()
        .format(&example_alert(), None, None)
        .expect("format");
    let slack = channel(json!({ "type": "slack", "config": { "url": server.url("/slack") } }));
    let telegram = channel(json!({ "type": "telegram", "config": {
        "botToken": "1:t", "chatId": "42", "baseUrl": server.url("")
    } }));
    slack.send(&message).await.expect("slack");
    telegram.send(&message).await.expect("telegram");
    let received = server.received();
    received[0].print("slack (default monitor alert)");
    received[1].print("telegram (default monitor alert)");
    let text = received[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("*Monitor Large transfer triggered*\n\n*Monitor Name*\n\nLarge transfer\n\n*Network*\n\nmainnet"), "{text}");
    assert!(text.contains("<https://etherscan.io/tx/0x1dc91b98249fa9f2c5c37486a2427a3a7825be240c1c84961dfb3063d9c04d50|Block Explorer>"), "{text}");
    assert!(text.contains("_Condition:_ value &gt; 1000"), "{text}");
    let tg = received[1].json()["text"].as_str().unwrap().to_owned();
    assert!(
        tg.starts_with("*Monitor Large transfer triggered*\n\n*Monitor Name*"),
        "{tg}"
    );
    assert!(tg.contains("_Condition:_ value \\> 1000"), "{tg}");
    assert!(
        tg.contains("_Signature:_ Transfer\\(address,address,uint256\\)"),
        "{tg}"
    );
}

#[test]
fn bad_configs_are_config_errors() {
    for config in [
        json!({ "type": "slack", "config": { "url": "not a url" } }),
        json!({ "type": "slack", "config": { "url": "ftp://x/y" } }),
        json!({ "type": "telegram", "config": { "botToken": "", "chatId": "1" } }),
        json!({ "type": "datadog", "config": { "apiKey": " " } }),
        json!({ "type": "pager-duty", "config": { "routingKey": "k", "severity": "huge" } }),
        json!({ "type": "opsgenie", "config": { "apiKey": "k", "instanceLocation": "mars" } }),
    ] {
        let c: ChannelConfig = serde_json::from_value(config.clone()).expect("parses");
        assert!(matches!(build(&c), Err(NotifyError::Config(_))), "{config}");
    }
    assert!(serde_json::from_value::<ChannelConfig>(
        json!({ "type": "carrier-pigeon", "config": {} })
    )
    .is_err());
}

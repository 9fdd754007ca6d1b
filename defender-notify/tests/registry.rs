//! Channels built from Defender-shaped JSON in the core registry: shared aliases, pausing,
//! unknown aliases and per-channel failures, against real HTTP servers on 127.0.0.1.

mod common;

use common::{Recorder, Reply};
use defender_core::{Message, Metric, NotifierRegistry, NotifyError};
use defender_notify::{register, ChannelDefinition};
use serde_json::json;

fn defs(v: serde_json::Value) -> Vec<ChannelDefinition> {
    serde_json::from_value(v).expect("definitions")
}

#[tokio::test]
async fn every_channel_sharing_an_alias_is_notified() {
    let a = Recorder::start().await;
    let b = Recorder::start().await;
    let registry = NotifierRegistry::default();
    register(
        &registry,
        &defs(json!([
            { "type": "slack", "name": "ops", "config": { "url": a.url("/slack") } },
            { "type": "discord", "name": "ops", "config": { "url": b.url("/discord") } },
        ])),
    )
    .expect("register");
    let report = registry
        .send("ops", &Message::new("hello", "world"))
        .await
        .expect("known alias");
    assert!(report.all_delivered(), "{report:?}");
    assert_eq!(report.results.len(), 2);
    assert_eq!(a.received().len(), 1);
    assert_eq!(b.received().len(), 1);
}

#[tokio::test]
async fn unknown_and_paused_aliases_are_errors() {
    let a = Recorder::start().await;
    let registry = NotifierRegistry::default();
    register(
        &registry,
        &defs(json!([
            { "type": "slack", "name": "quiet", "paused": true, "config": { "url": a.url("/q") } },
            { "type": "slack", "name": "mixed", "config": { "url": a.url("/m1") } },
            { "alias": "mixed", "type": "slack", "paused": true, "config": { "url": a.url("/m2") } },
        ])),
    )
    .expect("register");
    let m = Message::new("s", "b");
    assert!(
        matches!(registry.send("nobody", &m).await, Err(NotifyError::UnknownAlias(a)) if a == "nobody")
    );
    assert!(matches!(
        registry.send("quiet", &m).await,
        Err(NotifyError::Paused(_))
    ));
    let report = registry
        .send("mixed", &m)
        .await
        .expect("one active channel");
    assert_eq!(report.results.len(), 1);
    let paths: Vec<String> = a.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/m1"], "paused channels got nothing");
    registry.set_paused("quiet", false);
    registry.send("quiet", &m).await.expect("resumed");
    assert_eq!(a.received().len(), 2);
}

#[tokio::test]
async fn a_failing_channel_is_reported_without_stopping_the_others() {
    let good = Recorder::start().await;
    let bad = Recorder::start().await;
    bad.set_default(Reply::status(500));
    let retry = json!({ "maxAttempts": 2, "initialBackoffMs": 5, "maxBackoffMs": 5 });
    let registry = NotifierRegistry::default();
    register(
        &registry,
        &defs(json!([
            { "type": "webhook", "name": "ops", "config": { "url": good.url("/ok"), "retry": retry } },
            { "type": "slack", "name": "ops", "config": { "url": bad.url("/down"), "retry": retry } },
        ])),
    )
    .expect("register");
    let report = registry
        .send("ops", &Message::new("s", "b"))
        .await
        .expect("known alias");
    assert!(!report.all_delivered());
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "slack");
    assert!(
        matches!(failures[0].1, NotifyError::Delivery { attempts: 2, .. }),
        "{:?}",
        failures[0].1
    );
    assert_eq!(good.received().len(), 1);
    assert_eq!(bad.received().len(), 2);
}

#[tokio::test]
async fn metrics_go_to_datadog_through_the_registry() {
    let dd = Recorder::start().await;
    let registry = NotifierRegistry::default();
    register(
        &registry,
        &defs(json!([
            { "type": "datadog", "name": "metrics", "config": { "apiKey": "k", "metricPrefix": "app.", "baseUrl": dd.url("") } },
        ])),
    )
    .expect("register");
    let report = registry
        .send_metric(
            "metrics",
            &Metric {
                name: "datadog-test-metric".into(),
                value: 1.0,
                tags: vec![],
            },
        )
        .await
        .expect("alias");
    assert!(report.all_delivered());
    assert_eq!(
        dd.only().json()["series"][0]["metric"],
        "app.datadog-test-metric"
    );
}

#[test]
fn an_invalid_definition_registers_nothing() {
    let registry = NotifierRegistry::default();
    let err = register(
        &registry,
        &defs(json!([
            { "type": "slack", "name": "ok", "config": { "url": "http://127.0.0.1:1/" } },
            { "type": "slack", "name": "broken", "config": { "url": "nope" } },
        ])),
    )
    .expect_err("invalid");
    assert!(
        matches!(&err, NotifyError::Config(m) if m.contains("broken")),
        "{err:?}"
    );
    assert!(registry.aliases().is_empty());
}

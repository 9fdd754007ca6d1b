//! A project's `type: FORTA` monitor (tests/projects/e2e-forta) loaded into the SDK's
//! definition and run by the host against a local server on 127.0.0.1 that answers as
//! Forta's GraphQL API: the selected alert reaches the webhook channel and the linked action
//! (run by the real QuickJS runtime) with Defender's Forta payload.

mod support;

use axum::routing::post;
use axum::{Json, Router};
use defender_core::{MonitorType, RunStatus};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{load, project, start_host, Sink};

const BOT: &str = "0x80ed808b586aeebe9cdd4088ea4dea0a8e322909c0e4493c993e060e89c09ed1";

/// An alert of the bot, created after the monitor's `forta-last-processed-time`.
fn alert(hash: &str, alert_id: &str, severity: &str) -> Value {
    json!({
        "alertId": alert_id, "hash": hash, "name": "Exploit", "description": "funds at risk",
        "severity": severity, "findingType": "Exploit", "protocol": "ethereum",
        "scanNodeCount": 3, "createdAt": "2026-01-01T00:00:01.500Z", "addresses": [],
        "metadata": {},
        "source": { "transactionHash": "0xfeed", "bot": { "id": BOT },
                    "block": { "number": 7, "hash": "0xb10c", "chainId": 1 } }
    })
}

/// A Forta API on 127.0.0.1 whose `/graphql` answers the `alerts` query with every alert it
/// holds (the host checks them against the monitor); returns its URL.
async fn forta_api(alerts: Arc<Mutex<Vec<Value>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/graphql",
        post(move |Json(_): Json<Value>| {
            let alerts = alerts.clone();
            async move {
                let page = alerts.lock().unwrap().clone();
                Json(json!({ "data": { "alerts": {
                    "alerts": page, "pageInfo": { "hasNextPage": false }
                } } }))
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forta_monitor_loads_and_runs_its_action_and_channel() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let forta = forta_api(alerts.clone()).await;
    let (sink, sink_url) = Sink::start().await;
    let state = tempfile::tempdir().unwrap();
    let since = "2026-01-01T00:00:00Z";
    let env = support::env_map(&[
        ("E2E_FORTA", &forta),
        ("E2E_SINK", &sink_url),
        ("E2E_STATE", state.path().to_str().unwrap()),
        ("E2E_API_KEY", "forta-test-management-key"),
        ("E2E_SINCE", since),
    ]);
    let project = load(&project("e2e-forta"), &env);

    // Loaded into the SDK's definition.
    let def = &project.forta_monitors["exploits"];
    assert_eq!(def.kind, MonitorType::Forta);
    assert_eq!(def.agent_ids, [BOT]);
    assert_eq!(def.forta_conditions.alert_ids, ["EXPLOIT"]);
    assert_eq!(def.forta_conditions.minimum_scanner_count, 2);
    assert_eq!(def.forta_conditions.severity, Some(3));
    assert_eq!(def.chain_ids(), [1]);
    assert_eq!(def.notification_channels, ["sink"]);
    assert_eq!(def.action_trigger.as_deref(), Some("respond"));
    assert_eq!(def.forta_last_processed_time.as_deref(), Some(since));
    assert!(project.monitors.is_empty());
    // A network's trace source, for block monitors' internal calls.
    assert_eq!(
        project.host.networks["mainnet"].trace,
        Some(defender_engine::monitor::TraceMethod::DebugCallTracer)
    );

    let host = start_host(&project, &env).await;
    {
        let mut a = alerts.lock().unwrap();
        a.push(alert("0xa1", "EXPLOIT", "HIGH"));
        a.push(alert("0xb1", "EXPLOIT", "LOW"));
        a.push(alert("0xb2", "PHISHING", "CRITICAL"));
    }
    let engine = host.engine();
    let mut runs = Vec::new();
    for _ in 0..300 {
        engine.flush_alerts().await;
        runs = engine.runs("respond", 10).await.unwrap();
        if !runs.is_empty() && !sink.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, RunStatus::Success, "{:#?}", runs[0]);
    let result: Value = serde_json::from_str(runs[0].result.as_deref().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({ "type": "FORTA", "alertId": "EXPLOIT", "severity": "HIGH", "hash": "0xa1" })
    );
    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert!(received[0].to_string().contains("0xa1"), "{}", received[0]);
    host.shutdown().await;
}

//! Forta monitors against a local server on 127.0.0.1 that answers the `alerts` query as
//! Forta's GraphQL API does (its filters, `createdSince` in milliseconds ago, pages of at most
//! two alerts with an `endCursor`): the alerts a monitor selects reach its channel and its
//! linked action with Defender's Forta payload, each once, across a restart on the same
//! engine state.

use async_trait::async_trait;
use axum::extract::State;
use axum::routing::post;
use axum::Json;
use defender_core::state::{MemoryStateStore, StateStore};
use defender_core::{
    ActionCode, ActionRuntime, FortaMonitorDefinition, RecordingNotifier, RunOutcome, RunRequest,
};
use defender_engine::forta::FortaApi;
use defender_engine::{ActionSpec, Engine};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BOT: &str = "0x80ed808b586aeebe9cdd4088ea4dea0a8e322909c0e4493c993e060e89c09ed1";

/// The alerts the fake API holds, and the `input` of every query it answered.
#[derive(Default)]
struct Api {
    alerts: Mutex<Vec<Value>>,
    inputs: Mutex<Vec<Value>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn alerts_query(State(api): State<Arc<Api>>, Json(body): Json<Value>) -> Json<Value> {
    let input = body["variables"]["input"].clone();
    api.inputs.lock().unwrap().push(input.clone());
    let strings = |k: &str| -> Option<Vec<String>> {
        input[k].as_array().map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    let since = now_ms() - input["createdSince"].as_i64().unwrap_or(i64::MAX / 2);
    let mut alerts: Vec<Value> = api
        .alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| {
            let created = chrono::DateTime::parse_from_rfc3339(a["createdAt"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            let has = |k: &str, v: &Value| {
                strings(k).is_none_or(|list| list.iter().any(|x| Some(x.as_str()) == v.as_str()))
            };
            created >= since
                && has("bots", &a["source"]["bot"]["id"])
                && has("alertIds", &a["alertId"])
                && has("severities", &a["severity"])
                && input["chainId"]
                    .as_u64()
                    .is_none_or(|c| a["source"]["block"]["chainId"] == c)
        })
        .cloned()
        .collect();
    // Newest block first, as Forta sorts by default; pages of at most two.
    alerts.sort_by_key(|a| std::cmp::Reverse(a["source"]["block"]["number"].as_u64()));
    let start = match input["after"]["alertId"].as_str() {
        Some(after) => alerts
            .iter()
            .position(|a| a["hash"] == after)
            .map_or(0, |i| i + 1),
        None => 0,
    };
    let page: Vec<Value> = alerts.iter().skip(start).take(2).cloned().collect();
    let has_next = start + page.len() < alerts.len();
    let end = page
        .last()
        .map(|a| json!({ "alertId": a["hash"], "blockNumber": a["source"]["block"]["number"] }));
    Json(json!({ "data": { "alerts": {
        "alerts": page,
        "pageInfo": { "hasNextPage": has_next, "endCursor": end }
    } } }))
}

async fn serve(api: Arc<Api>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/graphql", post(alerts_query))
        .with_state(api);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

fn alert(
    hash: &str,
    alert_id: &str,
    severity: &str,
    bot: &str,
    chain: u64,
    scanners: u64,
) -> Value {
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "alertId": alert_id, "hash": hash, "name": format!("{alert_id} found"),
        "description": "funds at risk", "severity": severity, "findingType": "Exploit",
        "protocol": "ethereum", "scanNodeCount": scanners, "createdAt": created,
        "addresses": ["0x5fbdb2315678afecb367f032d93f642f64180aa3"], "metadata": { "amount": "5" },
        "source": {
            "transactionHash": format!("0xfeed{hash}"),
            "bot": { "id": bot },
            "block": { "number": 100 + hash.len() as u64, "hash": "0xb10c", "chainId": chain,
                       "timestamp": created }
        }
    })
}

/// Records the `request.body` of every run of the linked action.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Value>>);
#[async_trait]
impl ActionRuntime for Recorder {
    async fn run(&self, _: &ActionCode, req: RunRequest) -> RunOutcome {
        let body = req.event.request.and_then(|r| r.body).unwrap_or_default();
        self.0.lock().unwrap().push(body);
        RunOutcome {
            result: Ok(Value::Null),
            logs: vec![],
        }
    }
}

/// The monitor, taking alerts created after `since` (RFC 3339) when it has no cursor.
fn monitor(since: &str) -> FortaMonitorDefinition {
    serde_json::from_value(json!({
        "fortaLastProcessedTime": since,
        "type": "FORTA",
        "name": "Exploits",
        "network": "mainnet",
        "agentIDs": [BOT],
        "fortaConditions": { "alertIDs": ["EXPLOIT"], "minimumScannerCount": 2, "severity": 3 },
        "notificationChannels": ["ops"],
        "actionTrigger": "on-alert",
        "riskCategory": "SUSPICIOUS"
    }))
    .unwrap()
}

async fn engine(
    state: Arc<dyn StateStore>,
    url: &str,
    since: &str,
) -> (Engine, Arc<RecordingNotifier>, Arc<Recorder>) {
    let ops = Arc::new(RecordingNotifier::default());
    let runs = Arc::new(Recorder::default());
    let engine = Engine::builder(runs.clone())
        .notifier("ops", ops.clone())
        .state(state)
        .build();
    engine.set_forta_api(FortaApi {
        url: url.to_owned(),
        poll_interval: Duration::from_millis(50),
        ..FortaApi::default()
    });
    engine
        .add_action(ActionSpec::new(
            "on-alert",
            "on alert",
            "exports.handler = async () => 1",
        ))
        .await
        .unwrap();
    engine
        .add_forta_monitor("exploits", monitor(since))
        .await
        .unwrap();
    (engine, ops, runs)
}

/// Waits (15 s at most) until `ops` has `n` messages and the action `n` runs.
async fn wait_for(engine: &Engine, ops: &RecordingNotifier, runs: &Recorder, n: usize) {
    for _ in 0..300 {
        engine.flush_alerts().await;
        if ops.messages().len() >= n && runs.0.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the API has answered `n` more queries.
async fn polls(api: &Api, n: usize) {
    let from = api.inputs.lock().unwrap().len();
    for _ in 0..300 {
        if api.inputs.lock().unwrap().len() >= from + n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the monitor stopped polling");
}

fn hashes(ops: &RecordingNotifier) -> Vec<String> {
    let mut h: Vec<String> = ops
        .messages()
        .iter()
        .map(|m| m.alert.as_ref().unwrap().hash.clone())
        .collect();
    h.sort();
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forta_alerts_reach_channels_and_actions_once_across_a_restart() {
    let api = Arc::new(Api::default());
    let url = serve(api.clone()).await;
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    // The monitor starts a second before the alerts: without its cursor in the engine state,
    // the restarted engine would take them all again.
    let since = (chrono::Utc::now() - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (first, ops, runs) = engine(state.clone(), &url, &since).await;

    // Selected: three (more than one page). Not: low severity, another bot, another alert
    // id, one scanner, another chain.
    {
        let mut alerts = api.alerts.lock().unwrap();
        alerts.push(alert("0xa1", "EXPLOIT", "HIGH", BOT, 1, 3));
        alerts.push(alert("0xa22", "EXPLOIT", "CRITICAL", BOT, 1, 2));
        alerts.push(alert("0xa333", "EXPLOIT", "MEDIUM", BOT, 1, 4));
        alerts.push(alert("0xb1", "EXPLOIT", "LOW", BOT, 1, 3));
        alerts.push(alert("0xb22", "EXPLOIT", "HIGH", "0xother", 1, 3));
        alerts.push(alert("0xb333", "PHISHING", "HIGH", BOT, 1, 3));
        alerts.push(alert("0xb4444", "EXPLOIT", "HIGH", BOT, 1, 1));
        alerts.push(alert("0xb55555", "EXPLOIT", "HIGH", BOT, 56, 3));
    }
    wait_for(&first, &ops, &runs, 3).await;
    polls(&api, 4).await;
    first.flush_alerts().await;
    assert_eq!(hashes(&ops), ["0xa1", "0xa22", "0xa333"]);
    assert_eq!(runs.0.lock().unwrap().len(), 3);

    // The query carried the monitor's filters.
    let input = api.inputs.lock().unwrap().last().cloned().unwrap();
    assert_eq!(input["bots"], json!([BOT]));
    assert_eq!(input["alertIds"], json!(["EXPLOIT"]));
    assert_eq!(input["severities"], json!(["MEDIUM", "HIGH", "CRITICAL"]));
    assert_eq!(input["chainId"], 1);
    assert_eq!(input["scanNodeConfirmations"]["gte"], 2);

    // Defender's Forta payload, as the linked action receives it.
    let body = runs
        .0
        .lock()
        .unwrap()
        .iter()
        .find(|b| b["hash"] == "0xa1")
        .cloned()
        .unwrap();
    assert_eq!(body["type"], "FORTA");
    assert!(body.get("transaction").is_none(), "{body}");
    assert_eq!(body["alert"]["alertId"], "EXPLOIT");
    assert_eq!(body["alert"]["severity"], "HIGH");
    assert_eq!(body["alert"]["alertType"], "TX");
    assert_eq!(body["alert"]["scanNodeCount"], 3);
    assert_eq!(body["alert"]["metadata"]["amount"], "5");
    assert_eq!(body["alert"]["source"]["agent"]["id"], BOT);
    assert_eq!(body["alert"]["source"]["tx_hash"], "0xfeed0xa1");
    assert_eq!(body["alert"]["source"]["block"]["chainId"], 1);
    assert_eq!(
        body["matchReasons"],
        json!([{ "type": "alert-id", "value": "EXPLOIT", "signature": "", "address": "",
                 "args": [], "params": {} },
               { "type": "severity", "value": "HIGH", "signature": "", "address": "",
                 "args": [], "params": {} }])
    );
    assert_eq!(body["sentinel"]["agents"], json!([BOT]));
    assert_eq!(body["sentinel"]["name"], "Exploits");
    assert_eq!(body["monitor"]["id"], "exploits");
    assert_eq!(body["monitor"]["chainId"], 1);
    assert_eq!(body["monitor"]["riskCategory"], "SUSPICIOUS");
    // The notification carries the same match.
    let message = ops
        .messages()
        .into_iter()
        .find(|m| m.alert.as_ref().unwrap().hash == "0xa1")
        .unwrap();
    assert!(message.body.contains("EXPLOIT found"), "{}", message.body);
    first.shutdown_and_wait().await;

    // A new engine on the same state: only the new alert.
    let (second, ops2, runs2) = engine(state, &url, &since).await;
    api.alerts
        .lock()
        .unwrap()
        .push(alert("0xa4444", "EXPLOIT", "HIGH", BOT, 1, 2));
    wait_for(&second, &ops2, &runs2, 1).await;
    polls(&api, 4).await;
    second.flush_alerts().await;
    assert_eq!(hashes(&ops2), ["0xa4444"]);
    assert_eq!(runs2.0.lock().unwrap().len(), 1);
    second.shutdown_and_wait().await;
}

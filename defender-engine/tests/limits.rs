//! Execution limits end to end, with the QuickJS runtime: runs beyond an action's or the
//! engine's concurrency, from a webhook (over HTTP), by hand or on a schedule, are recorded as
//! `throttled` and not started; a quota window shared by two engines on one state store is
//! used up, then resets with the next window; a monitor's linked action over its quota is
//! throttled, and its delivery retried until the next window runs it.

use defender_core::{
    Clock, InMemoryChain, ManualClock, MemoryStateStore, MonitorDefinition, Receipt, RunRecord,
    RunStatus, StateStore, Transaction, Trigger,
};
use defender_engine::{
    ActionSpec, ActionTrigger, Engine, ExecutionLimits, NetworkSpec, QuotaPeriod, Schedule,
    StartAt, WebhookRequest,
};
use defender_runtime::QuickJsRuntime;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Holds its run until the key-value store says `go` when asked to (`{ hold: true }`);
/// otherwise answers at once.
const HOLDER: &str = r"
const { KeyValueStoreClient } = require('defender-kvstore-client');
exports.handler = async (event) => {
  const body = (event.request && event.request.body) || {};
  if (body.hold) {
    const store = new KeyValueStoreClient(event);
    while ((await store.get('go')) !== '1') await new Promise((r) => setTimeout(r, 5));
  }
  return 'done';
};
";

fn runtime() -> Arc<QuickJsRuntime> {
    Arc::new(QuickJsRuntime::default())
}

/// Waits until action `id` has a run in progress (it then holds its place).
async fn until_pending(engine: &Engine, id: &str) {
    loop {
        let runs = engine.runs(id, 5).await.unwrap();
        if runs.iter().any(|r| r.status == RunStatus::Pending) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn statuses(runs: &[RunRecord]) -> Vec<RunStatus> {
    runs.iter().map(|r| r.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_and_manual_runs_beyond_an_actions_concurrency_are_throttled() {
    let engine = Engine::builder(runtime()).build();
    let token = engine
        .add_action(
            ActionSpec::new("hook", "Hook", HOLDER)
                .trigger(ActionTrigger::Webhook)
                .limits(ExecutionLimits::default().max_concurrency(1)),
        )
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/actions/hook/runs/webhook/{token}",
        listener.local_addr().unwrap()
    );
    let app = defender_engine::webhook_router(engine.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();

    let held = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .run_action("hook", Trigger::Manual, Some(json!({ "hold": true })))
                .await
                .unwrap()
        }
    });
    until_pending(&engine, "hook").await;

    // The webhook caller is told at once, with the throttled run's id.
    let answer = http
        .post(&url)
        .json(&json!({ "x": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 429);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["status"], "throttled");
    assert_eq!(body["autotaskId"], "hook");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Concurrency limit of 1"),
        "{body}"
    );
    let hook_run = body["autotaskRunId"].as_str().unwrap().to_owned();

    let manual = engine
        .run_action("hook", Trigger::Manual, None)
        .await
        .unwrap();
    assert_eq!(manual.status, RunStatus::Throttled);
    assert_eq!(manual.error_type, None);
    assert!(manual.encoded_logs.is_empty(), "a throttled run ran");

    engine.kv().put("go", "1").await.unwrap();
    assert_eq!(held.await.unwrap().status, RunStatus::Success);

    // Its place is free again.
    let answer = http
        .post(&url)
        .json(&json!({ "x": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["status"], "success");

    // The run list shows every run with its status, newest first.
    let runs = engine.runs("hook", 10).await.unwrap();
    assert_eq!(
        statuses(&runs),
        [
            RunStatus::Success,
            RunStatus::Throttled,
            RunStatus::Throttled,
            RunStatus::Success
        ]
    );
    assert_eq!(runs[2].action_run_id, hook_run);
    assert_eq!(runs[2].trigger, Trigger::Webhook);
    let listed = serde_json::to_value(&runs[2]).unwrap();
    assert_eq!(listed["status"], "throttled", "{listed}");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_beyond_the_engines_concurrency_are_throttled() {
    let engine = Engine::builder(runtime())
        .execution_limits(ExecutionLimits::default().max_concurrency(1))
        .build();
    engine
        .add_action(ActionSpec::new("holder", "Holder", HOLDER))
        .await
        .unwrap();
    let held = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .run_action("holder", Trigger::Manual, Some(json!({ "hold": true })))
                .await
                .unwrap()
        }
    });
    until_pending(&engine, "holder").await;

    // Another action, on a schedule: while the holder runs, the engine has no place for it.
    engine
        .add_action(
            ActionSpec::new("tick", "Tick", HOLDER).trigger(ActionTrigger::Schedule(
                Schedule::Interval(Duration::from_millis(20)),
            )),
        )
        .await
        .unwrap();
    let throttled = loop {
        let runs = engine.runs("tick", 30).await.unwrap();
        if runs.len() >= 2 {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    for run in &throttled {
        assert_eq!(run.status, RunStatus::Throttled, "{run:?}");
        assert_eq!(run.trigger, Trigger::Schedule);
        let message = run.message.as_deref().unwrap_or_default();
        assert!(message.contains("all actions of the engine"), "{message}");
    }

    engine.kv().put("go", "1").await.unwrap();
    assert_eq!(held.await.unwrap().status, RunStatus::Success);
    // Then the schedule's runs start.
    loop {
        let runs = engine.runs("tick", 30).await.unwrap();
        if runs.iter().any(|r| r.status == RunStatus::Success) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    engine.shutdown();
}

fn webhook(token: &str) -> WebhookRequest {
    WebhookRequest {
        action_id: "q".into(),
        token: token.into(),
        method: "POST".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        query: Vec::new(),
        body: bytes::Bytes::from_static(b"{}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_shared_through_the_state_is_used_up_then_resets() {
    // Two engines (as two processes would) on one state store and one clock.
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new("2026-11-29T16:05:00Z".parse().unwrap()));
    let spec = || {
        ActionSpec::new("q", "Quota", HOLDER)
            .trigger(ActionTrigger::Webhook)
            .limits(ExecutionLimits::default().quota(2, QuotaPeriod::Minute))
    };
    let mut engines = Vec::new();
    let mut token = String::new();
    for _ in 0..2 {
        let engine = Engine::builder(runtime())
            .state(state.clone())
            .clock(clock.clone())
            .build();
        token = engine.add_action(spec()).await.unwrap().unwrap();
        engines.push(engine);
    }
    let (a, b) = (&engines[0], &engines[1]);

    let first = a.run_action("q", Trigger::Manual, None).await.unwrap();
    assert_eq!(first.status, RunStatus::Success);
    let second = b.handle_webhook(webhook(&token)).await;
    assert_eq!(
        (second.status, &second.body["status"]),
        (200, &json!("success"))
    );

    // The window is used up, in both engines: Defender's answer to a webhook over its quota.
    let refused = a.handle_webhook(webhook(&token)).await;
    assert_eq!(refused.status, 402);
    assert_eq!(
        refused.body["message"],
        "Quota of 2 for autotask runs exceeded"
    );
    assert_eq!(refused.body["status"], "throttled");
    let manual = b.run_action("q", Trigger::Manual, None).await.unwrap();
    assert_eq!(manual.status, RunStatus::Throttled);
    assert!(
        manual
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("2 runs per minute of action `q`"),
        "{manual:?}"
    );

    // The next minute is a new window.
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(clock.now().to_rfc3339(), "2026-11-29T16:06:00+00:00");
    let again = b.run_action("q", Trigger::Manual, None).await.unwrap();
    assert_eq!(again.status, RunStatus::Success);
    let again = a.handle_webhook(webhook(&token)).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        a.handle_webhook(webhook(&token)).await.status,
        402,
        "the new window has its own 2 runs"
    );

    let runs = a.runs("q", 10).await.unwrap();
    assert_eq!(
        statuses(&runs),
        [
            RunStatus::Throttled,
            RunStatus::Success,
            RunStatus::Success,
            RunStatus::Throttled,
            RunStatus::Throttled,
            RunStatus::Success,
            RunStatus::Success
        ]
    );
}

/// Says which transaction it was run for.
const REACT: &str = "exports.handler = async (event) => event.request.body.hash;";

/// The contract the monitor watches.
const WATCHED: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/// A successful call to [`WATCHED`] sending `value` wei.
fn call(value: u64) -> Transaction {
    Transaction {
        hash: alloy_primitives::keccak256(format!("call-{value}")),
        from: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
            .parse()
            .unwrap(),
        to: Some(WATCHED.parse().unwrap()),
        value: alloy_primitives::U256::from(value),
        nonce: value,
        receipt: Receipt {
            success: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_action_over_its_quota_is_throttled_then_delivered_in_the_next_window() {
    let chain = Arc::new(InMemoryChain::new(31337));
    chain.mine(vec![]);
    let clock = Arc::new(ManualClock::new("2026-11-29T16:05:00Z".parse().unwrap()));
    let engine = Engine::builder(runtime())
        .clock(clock.clone())
        .delivery_retry(Duration::from_millis(10), Duration::from_millis(20))
        .build();
    engine
        .add_network(NetworkSpec {
            start: StartAt::Block(0),
            poll_interval: Duration::from_millis(10),
            ..NetworkSpec::new("local", chain.clone())
        })
        .await
        .unwrap();
    engine
        .add_action(
            ActionSpec::new("react", "React", REACT)
                .limits(ExecutionLimits::default().quota(1, QuotaPeriod::Minute)),
        )
        .await
        .unwrap();
    let monitor: MonitorDefinition = serde_json::from_value(json!({
        "type": "BLOCK",
        "name": "Calls with value",
        "network": "local",
        "addresses": [WATCHED],
        "confirmLevel": 0,
        "txCondition": "value > 0",
        "notificationChannels": [],
        "actionTrigger": "react"
    }))
    .unwrap();
    engine.add_monitor("m", monitor).await.unwrap();
    chain.mine(vec![call(1), call(2)]);

    // One match runs the action; the other is over the quota: recorded as throttled.
    let runs = loop {
        let runs = engine.runs("react", 10).await.unwrap();
        if runs.len() == 2 && runs.iter().all(|r| r.status != RunStatus::Pending) {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut seen = statuses(&runs);
    seen.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(seen, [RunStatus::Success, RunStatus::Throttled]);
    assert!(runs.iter().all(|r| r.trigger == Trigger::Monitor));

    // The delivery is retried (Defender dropped it); in the next window it runs.
    clock.advance(chrono::Duration::seconds(60));
    let runs = loop {
        let runs = engine.runs("react", 10).await.unwrap();
        if runs.iter().all(|r| r.status == RunStatus::Success) {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut hashes: Vec<String> = runs
        .iter()
        .map(|r| serde_json::from_str(r.result.as_deref().unwrap()).unwrap())
        .collect();
    hashes.sort();
    let mut want = vec![call(1).hash.to_string(), call(2).hash.to_string()];
    want.sort();
    assert_eq!(hashes, want, "each match ran the action once");
    engine.shutdown();
}

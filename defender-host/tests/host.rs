//! Projects in both formats, run end to end against anvil through `defender_host::run::Host`:
//! a schedule with its relayer, a webhook with a stable URL across a restart, a monitor whose
//! custom filter drops a match and whose alert reaches a local sink and runs its linked
//! action; and the management API with and without its key.

mod support;

use defender_core::RunStatus;
use defender_host::run::Host;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use support::{
    deploy_token, get_json, load, post_json, project, rpc, start_host, transfer, wait_for, Anvil,
    Sink, RELAYER_ADDRESS, RELAYER_KEY,
};

const API_KEY: &str = "e2e-management-key";
const HOOK_TOKEN: &str = "e2e-fixed-hook-token-0123";

/// Anvil mining a block a second, with the demo token deployed; returns it and the token.
async fn chain() -> (Anvil, String) {
    let anvil = Anvil::start(&["--block-time", "1"]).await;
    let token = deploy_token(&anvil, 1_000_000_000).await;
    (anvil, token)
}

fn env(anvil: &Anvil, token: &str, sink: &str, state: &Path) -> BTreeMap<String, String> {
    support::env_map(&[
        ("E2E_RPC", anvil.url.as_str()),
        ("E2E_TOKEN", token),
        ("E2E_SINK", sink),
        ("E2E_STATE", state.to_str().unwrap()),
        ("E2E_API_KEY", API_KEY),
        ("E2E_RELAYER_KEY", RELAYER_KEY),
        ("E2E_HOOK_TOKEN", HOOK_TOKEN),
    ])
}

async fn start(name: &str, env: &BTreeMap<String, String>) -> Host {
    start_host(&load(&project(name), env), env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defender_as_code_project_runs_schedule_webhook_monitor_filter_and_linked_action() {
    let (anvil, token) = chain().await;
    let (sink, sink_url) = Sink::start().await;
    let state = tempfile::tempdir().unwrap();
    let env = env(&anvil, &token, &sink_url, state.path());
    let host = start("e2e-dac", &env).await;
    let engine = host.engine().clone();

    // The schedule (every second) runs with its relayer, its own process.env and a secret.
    let tick = wait_for("a scheduled run", async || {
        let runs = engine.runs("tick", 10).await.ok()?;
        runs.into_iter().find(|r| r.status == RunStatus::Success)
    })
    .await;
    let result: Value = serde_json::from_str(tick.result.as_deref().unwrap()).unwrap();
    assert_eq!(result["who"], "tick");
    assert_eq!(result["relayer"], RELAYER_ADDRESS);
    // Stored runs have the run's secret values redacted.
    assert_eq!(result["shared"], "[REDACTED]");

    // The webhook, at the URL its fixed token makes.
    let url = host.webhook_urls()["hook"].clone();
    assert!(
        url.ends_with(&format!("/actions/hook/runs/webhook/{HOOK_TOKEN}")),
        "{url}"
    );
    let (status, answer) = post_json(&url, None, json!({"name": "alice"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "success");
    let result: Value = serde_json::from_str(answer["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({"greeting": "hello", "who": null, "scoped": "stack-value", "name": "alice"})
    );
    let (status, _) = post_json(
        &url.replace(HOOK_TOKEN, "wrong-token-0123456789"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(status, 403);

    // Two transfers pass the condition (value > 1000); the custom filter keeps the large one.
    transfer(&anvil, &token, 2000).await;
    let large = transfer(&anvil, &token, 9000).await;
    let linked = wait_for("the linked action's run", async || {
        let runs = engine.runs("on-transfer", 10).await.ok()?;
        runs.into_iter().find(|r| r.status != RunStatus::Pending)
    })
    .await;
    assert_eq!(linked.status, RunStatus::Success, "{linked:?}");
    let result: Value = serde_json::from_str(linked.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"value": "9000", "hash": large}));
    engine.flush_alerts().await;
    let alerts = wait_for("the alert at the sink", async || {
        let r = sink.received();
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        alerts[0]["subject"].as_str(),
        Some("Transfer of 9000"),
        "{alerts:#?}"
    );
    let filter_runs = engine.runs("only-large", 10).await.unwrap();
    assert!(filter_runs.iter().all(|r| r.status == RunStatus::Success));
    assert!(!engine
        .runs("on-transfer", 10)
        .await
        .unwrap()
        .iter()
        .any(|r| r.result.as_deref().is_some_and(|s| s.contains("\"2000\""))));

    // /health and /metrics are served.
    let (status, health) = get_json(&format!("{}/health", host.base_url()), None).await;
    assert_eq!((status, health["actions"].as_u64()), (200, Some(4)));
    let metrics = reqwest::get(format!("{}/metrics", host.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("defender_action_runs"), "{metrics}");

    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_api_answers_with_the_key_and_401_without() {
    let (anvil, token) = chain().await;
    let (_sink, sink_url) = Sink::start().await;
    let state = tempfile::tempdir().unwrap();
    let env = env(&anvil, &token, &sink_url, state.path());
    let host = start("e2e-dac", &env).await;
    let base = host.base_url();
    let key = Some(API_KEY);

    // No key, a wrong key: 401, for reads and writes alike.
    assert_eq!(get_json(&format!("{base}/actions"), None).await.0, 401);
    assert_eq!(
        get_json(&format!("{base}/actions"), Some("wrong")).await.0,
        401
    );
    let (status, body) = post_json(&format!("{base}/actions/hook/runs"), None, json!({})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    // Authorization: Bearer works as X-Api-Key does.
    let bearer = reqwest::Client::new()
        .get(format!("{base}/monitors"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 200);

    // Actions in Defender's shape, at its paths and ours.
    let (status, list) = get_json(&format!("{base}/actions"), key).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["actionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["hook", "on-transfer", "only-large", "tick"]);
    let (_, tick) = get_json(&format!("{base}/autotasks/tick"), key).await;
    assert_eq!(
        tick,
        json!({"actionId": "tick", "name": "Tick", "paused": false, "relayerId": "relayer-1",
               "trigger": {"type": "schedule", "cron": "* * * * * *"}})
    );
    assert_eq!(get_json(&format!("{base}/actions/nope"), key).await.0, 404);

    // Run by hand, then the runs with their logs.
    let (status, run) = post_json(
        &format!("{base}/actions/hook/runs"),
        key,
        json!({"name": "api"}),
    )
    .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["trigger"], "manual-api");
    assert!(run["decodedLogs"]
        .as_str()
        .unwrap()
        .contains(r#"webhook called with {"name":"api"}"#));
    let (_, runs) = get_json(&format!("{base}/actions/hook/runs"), key).await;
    assert_eq!(runs["items"][0]["actionRunId"], run["actionRunId"]);
    let id = run["actionRunId"].as_str().unwrap();
    let (status, one) = get_json(&format!("{base}/autotasks/runs/{id}"), key).await;
    assert_eq!((status, &one["actionId"]), (200, &json!("hook")));

    // New code, then pause and unpause.
    let update = reqwest::Client::new()
        .put(format!("{base}/actions/hook/code"))
        .header("X-Api-Key", API_KEY)
        .json(&json!({"code": "exports.handler = async () => 'v2';"}))
        .send()
        .await
        .unwrap();
    assert_eq!(update.status().as_u16(), 200);
    let (_, run) = post_json(
        &format!("{base}/autotasks/hook/runs/manual"),
        key,
        json!({}),
    )
    .await;
    assert_eq!(run["result"], r#""v2""#);
    let (_, paused) = post_json(&format!("{base}/actions/hook/pause"), key, json!({})).await;
    assert_eq!(paused["paused"], true);
    let (status, body) = post_json(&format!("{base}/actions/hook/runs"), key, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("ACTION_PAUSED"))
    );
    let (_, resumed) = post_json(&format!("{base}/actions/hook/unpause"), key, json!({})).await;
    assert_eq!(resumed["paused"], false);

    // Monitors: list, get, pause, test conditions on the block of a transfer.
    let (_, monitors) = get_json(&format!("{base}/subscribers"), key).await;
    assert_eq!(monitors["items"][0]["monitorId"], "transfers");
    let (_, m) = post_json(&format!("{base}/monitors/transfers/pause"), key, json!({})).await;
    assert_eq!(m["paused"], true);
    let (_, m) = post_json(
        &format!("{base}/monitors/transfers/unpause"),
        key,
        json!({}),
    )
    .await;
    assert_eq!(m["paused"], false);
    let hash = transfer(&anvil, &token, 7000).await;
    let receipt = wait_for("the transfer", async || {
        let r = rpc(&anvil.url, "eth_getTransactionReceipt", json!([hash])).await;
        (!r.is_null()).then_some(r)
    })
    .await;
    let (status, tested) = post_json(
        &format!("{base}/monitors/transfers/test"),
        key,
        json!({"transactionHash": hash}),
    )
    .await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["matches"][0]["hash"], json!(hash));
    assert_eq!(
        tested["matches"][0]["matchReasons"][0]["params"]["value"],
        "7000"
    );
    let block = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let (_, tested) = post_json(
        &format!("{base}/monitors/transfers/test"),
        key,
        json!({"blockNumber": block}),
    )
    .await;
    assert_eq!(tested["matches"].as_array().map(Vec::len), Some(1));
    let (status, _) = post_json(
        &format!("{base}/monitors/transfers/test"),
        key,
        json!({"blockNumber": 1, "recentBlocks": 2}),
    )
    .await;
    assert_eq!(status, 400);

    // Dead letters (none), an unknown one, and the webhook URLs.
    let (_, dead) = get_json(&format!("{base}/dead-letters"), key).await;
    assert_eq!(dead["items"], json!([]));
    assert_eq!(
        post_json(&format!("{base}/dead-letters/nope/replay"), key, json!({}))
            .await
            .0,
        404
    );
    let (_, hooks) = get_json(&format!("{base}/webhooks"), key).await;
    assert_eq!(hooks["items"][0]["actionId"], "hook");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_project_runs_and_its_webhook_url_survives_a_restart() {
    let (anvil, token) = chain().await;
    let (sink, sink_url) = Sink::start().await;
    let state = tempfile::tempdir().unwrap();
    let env = env(&anvil, &token, &sink_url, state.path());

    let host = start("e2e-legacy", &env).await;
    let url = host.webhook_urls()["legacy-hook"].clone();
    let (status, answer) = post_json(&url, None, json!({"n": 1})).await;
    assert_eq!(status, 200, "{answer}");
    let result: Value = serde_json::from_str(answer["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({"legacy": true, "secret": "legacy-value", "body": {"n": 1}})
    );

    // A sentinel with autotask-trigger: the alert reaches the sink, the autotask runs.
    transfer(&anvil, &token, 1234).await;
    let engine = host.engine().clone();
    let run = wait_for("the autotask-trigger run", async || {
        let runs = engine.runs("legacy-on-transfer", 10).await.ok()?;
        runs.into_iter().find(|r| r.status != RunStatus::Pending)
    })
    .await;
    assert_eq!(run.result.as_deref(), Some(r#"{"value":"1234"}"#));
    engine.flush_alerts().await;
    wait_for("the alert at the sink", async || {
        (!sink.received().is_empty()).then_some(())
    })
    .await;
    // The state file is released once the last engine handle is gone.
    drop(engine);
    host.shutdown().await;

    // Restarted on the same state: the same URL (a token kept in the state) still runs it.
    let host = start("e2e-legacy", &env).await;
    let again = host.webhook_urls()["legacy-hook"].clone();
    let (old_path, new_path) = (
        url.split_once("/actions/").unwrap().1,
        again.split_once("/actions/").unwrap().1,
    );
    assert_eq!(old_path, new_path);
    let (status, _) = post_json(&again, None, json!({"n": 2})).await;
    assert_eq!(status, 200);
    let runs = host.engine().runs("legacy-hook", 10).await.unwrap();
    assert_eq!(runs.len(), 2, "run history is kept across the restart");
    host.shutdown().await;
}

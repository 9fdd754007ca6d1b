//! Actions that manage the engine from inside (JavaScript through the QuickJS runtime): the
//! defender-sdk's `action`, `monitor` and `notificationChannel` clients, the legacy
//! autotask, sentinel and admin clients, the nesting bound of `runAction`, and team keys.

use defender_core::{
    ActionRuntime, InMemoryChain, MonitorDefinition, NotifierRegistry, RecordingNotifier,
    RunLimits, RunRequest, RunServices, RunStatus, Trigger,
};
use defender_engine::{ActionSpec, ActionTrigger, Engine, NetworkSpec, Schedule, StartAt};
use defender_runtime::QuickJsRuntime;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "0x1000000000000000000000000000000000000001";

const ADDER: &str = r#"
exports.handler = async function (event) {
  const body = event.request.body;
  return { sum: body.a + body.b };
};"#;

const MANAGER: &str = r#"
const { Defender } = require('@openzeppelin/defender-sdk');
exports.handler = async function (event) {
  const client = new Defender(event);
  const list = await client.action.list();
  const one = await client.action.get({ actionId: 'adder' });
  const run = await client.action.runAction({ actionId: 'adder', data: { a: 2, b: 3 } });
  const paused = await client.monitor.pause({ monitorId: 'm1' });
  const monitors = await client.monitor.list();
  const channels = await client.notificationChannel.list();
  const channel = await client.notificationChannel.get({ type: 'recording', notificationId: 'ops' });
  let create;
  try { await client.action.create({ name: 'x' }); } catch (e) { create = { code: e.code, message: e.message }; }
  let missing;
  try { await client.monitor.get({ monitorId: 'nope' }); } catch (e) { missing = { code: e.code, status: e.response.status }; }
  return {
    list: { ids: list.items.map((a) => a.actionId), hasCounts: 'runsQuotaUsage' in list },
    one,
    run: { status: run.status, result: JSON.parse(run.result), trigger: run.trigger, actionId: run.actionId,
           hasRunId: typeof run.actionRunId === 'string', logs: typeof run.decodedLogs },
    paused: { monitorId: paused.monitorId, subscriberId: paused.subscriberId, paused: paused.paused, type: paused.type,
              network: paused.network, addresses: paused.addressRules[0].addresses,
              channels: paused.notifyConfig.notifications.map((n) => n.notificationId) },
    monitors: monitors.items.map((m) => [m.monitorId, m.paused]),
    channels, channel, create, missing,
  };
};"#;

const LEGACY: &str = r#"
const { AutotaskClient } = require('defender-autotask-client');
const { SentinelClient } = require('@openzeppelin/defender-sentinel-client');
const { AdminClient } = require('defender-admin-client');
exports.handler = async function () {
  const creds = { apiKey: 'team-key', apiSecret: 'team-secret' };
  const autotask = new AutotaskClient(creds);
  const list = await autotask.list();
  const one = await autotask.get('adder');
  const run = await autotask.runAutotask('adder', { a: 10, b: 5 });
  const sentinel = new SentinelClient(creds);
  const unpaused = await sentinel.unpause('m1');
  const sentinels = await sentinel.list();
  const admin = new AdminClient(creds);
  let adminError;
  try { await admin.createProposal({ contract: {} }); } catch (e) { adminError = { code: e.code, message: e.message }; }
  const paused = await autotask.update({ autotaskId: 'adder', name: 'Adder', paused: true });
  let pausedRun;
  try { await autotask.runAutotask('adder', {}); } catch (e) { pausedRun = { code: e.code, status: e.response.status }; }
  const resumed = await autotask.update({ autotaskId: 'adder', paused: false });
  let codeUpdate;
  try { await autotask.update({ autotaskId: 'adder', encodedZippedCode: 'UEsDBA==' }); } catch (e) { codeUpdate = e.code; }
  return {
    ids: list.items.map((a) => a.autotaskId), one,
    run: { autotaskId: run.autotaskId, hasRunId: typeof run.autotaskRunId === 'string', status: run.status, result: JSON.parse(run.result) },
    unpaused: [unpaused.subscriberId, unpaused.paused],
    sentinels: sentinels.items.map((s) => [s.subscriberId, s.paused]),
    adminError, paused: paused.paused, pausedRun, resumed: resumed.paused, codeUpdate,
  };
};"#;

const RECURSIVE: &str = r#"
const { Defender } = require('@openzeppelin/defender-sdk');
exports.handler = async function (event) {
  const depth = (event.request && event.request.body && event.request.body.depth) || 0;
  try {
    const r = await new Defender(event).action.runAction({ actionId: 'recursive', data: { depth: depth + 1 } });
    if (r.status !== 'success') return { depth, nestedFailed: r.message };
    return JSON.parse(r.result);
  } catch (e) {
    return { depth, code: e.code, message: e.message };
  }
};"#;

const BAD_KEY: &str = r#"
const { Defender } = require('@openzeppelin/defender-sdk');
const { AutotaskClient } = require('defender-autotask-client');
exports.handler = async function () {
  const out = {};
  try { await new Defender({ apiKey: 'team-key', apiSecret: 'wrong' }).action.list(); out.sdk = 'listed'; }
  catch (e) { out.sdk = { code: e.code, status: e.response.status, message: e.message }; }
  try { await new AutotaskClient({ apiKey: 'unknown', apiSecret: 'x' }).list(); out.legacy = 'listed'; }
  catch (e) { out.legacy = e.code; }
  // The right key works.
  out.ok = (await new Defender({ apiKey: 'team-key', apiSecret: 'team-secret' }).notificationChannel.list()).length;
  return out;
};"#;

fn definition() -> MonitorDefinition {
    serde_json::from_value(json!({
        "type": "BLOCK",
        "name": "Large transfers",
        "network": "local",
        "addresses": [TOKEN],
        "confirmLevel": 0,
        "eventConditions": [{
            "eventSignature": "Transfer(address indexed from, address indexed to, uint256 value)",
            "expression": "value > 1000"
        }],
        "notificationChannels": ["ops"],
        "actionTrigger": "adder"
    }))
    .unwrap()
}

async fn engine() -> Engine {
    let runtime = Arc::new(QuickJsRuntime::default());
    let engine = Engine::builder(runtime)
        .notifier("ops", Arc::new(RecordingNotifier::default()))
        .team_api_key("team-key", "team-secret")
        .limits(RunLimits {
            timeout: Duration::from_secs(20),
            ..RunLimits::default()
        })
        .build();
    let chain = Arc::new(InMemoryChain::new(31337));
    chain.mine(vec![]);
    engine
        .add_network(NetworkSpec {
            start: StartAt::Block(0),
            poll_interval: Duration::from_millis(50),
            ..NetworkSpec::new("local", chain)
        })
        .await
        .unwrap();
    engine.add_monitor("m1", definition()).await.unwrap();
    let mut adder = ActionSpec::new("adder", "Adder", ADDER);
    adder = adder.trigger(ActionTrigger::Schedule(Schedule::Cron("0 0 1 1 *".into())));
    for spec in [
        adder,
        ActionSpec::new("manager", "Manager", MANAGER),
        ActionSpec::new("legacy", "Legacy", LEGACY),
        ActionSpec::new("recursive", "Recursive", RECURSIVE),
        ActionSpec::new("bad-key", "Bad key", BAD_KEY),
    ] {
        engine.add_action(spec).await.unwrap();
    }
    engine
}

async fn run(engine: &Engine, id: &str) -> Value {
    let record = engine.run_action(id, Trigger::Manual, None).await.unwrap();
    assert_eq!(
        record.status,
        RunStatus::Success,
        "{id} failed: {:?}",
        record.message
    );
    serde_json::from_str(record.result.as_deref().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_clients_list_run_and_pause_through_the_engine() {
    let engine = engine().await;
    let out = run(&engine, "manager").await;
    assert_eq!(
        out["list"],
        json!({"ids": ["adder", "bad-key", "legacy", "manager", "recursive"], "hasCounts": true})
    );
    assert_eq!(
        out["one"],
        json!({"actionId": "adder", "name": "Adder", "paused": false,
               "trigger": {"type": "schedule", "cron": "0 0 1 1 *"}})
    );
    assert_eq!(
        out["run"],
        json!({"status": "success", "result": {"sum": 5}, "trigger": "manual-api",
               "actionId": "adder", "hasRunId": true, "logs": "string"})
    );
    assert_eq!(
        out["paused"],
        json!({"monitorId": "m1", "subscriberId": "m1", "paused": true, "type": "BLOCK",
               "network": "local", "addresses": [TOKEN], "channels": ["ops"]})
    );
    assert_eq!(out["monitors"], json!([["m1", true]]));
    assert_eq!(
        out["channels"],
        json!([{"notificationId": "ops", "name": "ops", "type": "recording"}])
    );
    assert_eq!(
        out["channel"],
        json!({"notificationId": "ops", "name": "ops", "type": "recording"})
    );
    assert_eq!(out["create"]["code"], "NOT_SUPPORTED");
    assert!(
        out["create"]["message"]
            .as_str()
            .unwrap()
            .contains("client.action.create"),
        "{out}"
    );
    assert_eq!(out["missing"], json!({"code": "NOT_FOUND", "status": 404}));
    // The engine reports the monitor paused.
    assert!(engine.monitor("m1").unwrap().paused);
    // The run of `adder` is in its history, as a manual API run.
    let runs = engine.runs("adder", 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, Trigger::ManualApi);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_clients_do_the_same_with_a_team_key() {
    let engine = engine().await;
    engine.set_monitor_paused("m1", true).await.unwrap();
    let out = run(&engine, "legacy").await;
    assert_eq!(
        out["ids"],
        json!(["adder", "bad-key", "legacy", "manager", "recursive"])
    );
    assert_eq!(out["one"]["autotaskId"], "adder");
    assert!(out["one"].get("actionId").is_none());
    assert_eq!(
        out["run"],
        json!({"autotaskId": "adder", "hasRunId": true, "status": "success", "result": {"sum": 15}})
    );
    assert_eq!(out["unpaused"], json!(["m1", false]));
    assert_eq!(out["sentinels"], json!([["m1", false]]));
    assert!(!engine.monitor("m1").unwrap().paused);
    assert_eq!(out["adminError"]["code"], "NOT_SUPPORTED");
    assert!(
        out["adminError"]["message"]
            .as_str()
            .unwrap()
            .contains("AdminClient.createProposal is not supported"),
        "{out}"
    );
    assert_eq!(out["paused"], true);
    // A paused action cannot be run: Defender's error, with its status.
    assert_eq!(
        out["pausedRun"],
        json!({"code": "ACTION_PAUSED", "status": 409})
    );
    assert_eq!(out["resumed"], false);
    assert_eq!(out["codeUpdate"], "NOT_SUPPORTED");
    // Resumed: runs again.
    assert!(engine
        .run_action("adder", Trigger::Manual, Some(json!({"a": 1, "b": 1})))
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_running_itself_stops_at_the_nesting_bound() {
    let engine = engine().await;
    let out = run(&engine, "recursive").await;
    assert_eq!(out["depth"], defender_core::MAX_RUN_NESTING);
    assert_eq!(out["code"], "RUN_NESTING_LIMIT");
    // One run per level: the first one and MAX_RUN_NESTING nested ones.
    let runs = engine.runs("recursive", 30).await.unwrap();
    assert_eq!(runs.len(), 1 + defender_core::MAX_RUN_NESTING as usize);
    assert!(runs.iter().all(|r| r.status == RunStatus::Success));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_team_keys_are_refused() {
    let engine = engine().await;
    let out = run(&engine, "bad-key").await;
    assert_eq!(out["sdk"]["code"], "UNAUTHORIZED");
    assert_eq!(out["sdk"]["status"], 401);
    assert_eq!(out["legacy"], "UNAUTHORIZED");
    assert_eq!(out["ok"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_engine_the_clients_say_so() {
    let runtime = QuickJsRuntime::default();
    let code = defender_core::ActionCode {
        action_id: "alone".into(),
        version: 1,
        source: defender_core::CodeSource::Script(
            r#"
            const { Defender } = require('@openzeppelin/defender-sdk');
            exports.handler = async (event) => {
              try { await new Defender(event).action.list(); return 'listed'; }
              catch (e) { return { code: e.code, message: e.message }; }
            };"#
            .into(),
        ),
    };
    let request = RunRequest {
        event: defender_core::ActionEvent::new("alone", "Alone", "run-1"),
        services: RunServices {
            kv: Arc::new(defender_core::InMemoryKvStore::default()),
            relayer: None,
            relayer_keys: Default::default(),
            notifiers: Arc::new(NotifierRegistry::default()),
            manage: None,
        },
        limits: RunLimits::default(),
    };
    let out = runtime.run(&code, request).await.result.unwrap();
    assert_eq!(out["code"], "NOT_AVAILABLE");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("not available: this run has no management API"),
        "{out}"
    );
}

//! End to end against a real anvil, with the real parts: the QuickJS runtime running Defender
//! JavaScript, the redb key-value store, the alloy relayer, the signed webhook channel and the
//! RPC block source. Covers every trigger, an ERC-20 transfer monitor with a condition on the
//! value, a reorg through `anvil_reorg`, a restart resuming at the checkpoint, and alert
//! threshold and timeout with an injectable clock.

use defender_core::*;
use defender_engine::{
    webhook_router, ActionSpec, ActionTrigger, Engine, NetworkSpec, Schedule, StartAt,
};
use defender_examples::*;
use defender_kv::RedbKvStore;
use defender_notify::TemplateFormatter;
use defender_relay::{
    KvRelayerStore, LocalSigner, RelayerConfig, RpcBlockSource, RpcClient, RpcRelayer,
};
use defender_runtime::QuickJsRuntime;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "e2e-secret";

struct World {
    anvil: Anvil,
    token: String,
    sink: WebhookSink,
}

async fn world() -> World {
    let anvil = Anvil::start().await.expect("anvil");
    let token = anvil.deploy_token().await.expect("token");
    let sink = WebhookSink::start(SECRET).await.expect("sink");
    World { anvil, token, sink }
}

fn source(anvil: &Anvil) -> Arc<dyn BlockSource> {
    Arc::new(RpcBlockSource::new(
        RpcClient::new(vec![anvil.url.clone()], Default::default()).expect("rpc client"),
    ))
}

/// An engine with the embedded defaults and the webhook sink as channel `alerts`.
async fn engine(w: &World, kv: Arc<dyn KvStore>, clock: Option<Arc<ManualClock>>) -> Engine {
    engine_on(w, kv, None, clock).await
}

/// [`engine`] with its engine state in `state` (default: in memory).
async fn engine_on(
    w: &World,
    kv: Arc<dyn KvStore>,
    state: Option<Arc<dyn defender_kv::StateStore>>,
    clock: Option<Arc<ManualClock>>,
) -> Engine {
    let notifiers = Arc::new(NotifierRegistry::default());
    let channels: Vec<defender_notify::ChannelDefinition> = serde_json::from_value(json!([{
        "type": "webhook", "name": "alerts",
        "config": { "url": w.sink.url, "secret": SECRET }
    }]))
    .unwrap();
    defender_notify::register(&notifiers, &channels).unwrap();
    let mut builder = Engine::builder(Arc::new(QuickJsRuntime::default()))
        .kv(kv)
        .notifiers(notifiers)
        .alert_formatter(Arc::new(TemplateFormatter::new()));
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    if let Some(state) = state {
        builder = builder.state(state);
    }
    let engine = builder.build();
    engine
        .add_network(NetworkSpec {
            start: StartAt::Head,
            poll_interval: Duration::from_millis(50),
            ..NetworkSpec::new("local", source(&w.anvil))
        })
        .await
        .unwrap();
    engine
}

fn transfer_monitor(w: &World, extra: Value) -> MonitorDefinition {
    let mut def = json!({
        "type": "BLOCK",
        "name": "Large DEMO transfers",
        "network": "local",
        "addresses": [w.token],
        "abi": token_abi(),
        "confirmLevel": 0,
        "eventConditions": [{
            "eventSignature": "Transfer(address,address,uint256)",
            "expression": "value > 1000000000000000000000"
        }],
        "notificationChannels": ["alerts"],
        "alertMessageSubject": "{{ monitor.name }}: {{ matchReasons[0].params.value }}"
    });
    for (k, v) in extra.as_object().unwrap() {
        def[k] = v.clone();
    }
    serde_json::from_value(def).unwrap()
}

fn alerted_hashes(w: &World) -> Vec<String> {
    w.sink
        .received()
        .iter()
        .map(|r| {
            assert!(r.signature_ok, "an alert's signature did not verify");
            r.body["event"]["hash"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn temp_kv(name: &str) -> (Arc<RedbKvStore>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("defender-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kv.redb");
    (Arc::new(RedbKvStore::open(&path).unwrap()), path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfers_notify_once_each_with_the_match() {
    let w = world().await;
    let (kv, _) = temp_kv("transfers");
    let engine = engine(&w, kv, None).await;
    engine
        .add_monitor("large", transfer_monitor(&w, json!({})))
        .await
        .unwrap();

    let mut large = Vec::new();
    for amount in [10, 5000, 999, 1001] {
        let hash = w.anvil.transfer(&w.token, BOB, amount).await.unwrap();
        if amount > 1000 {
            large.push(hash);
        }
    }
    let got = wait_for(Duration::from_secs(20), async || {
        let h = alerted_hashes(&w);
        (h.len() >= 2).then_some(h)
    })
    .await
    .expect("two alerts");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        alerted_hashes(&w),
        large,
        "exactly the large transfers, in order"
    );
    assert_eq!(got.len(), 2);

    let first = &w.sink.received()[0].body;
    assert_eq!(
        first["subject"],
        "Large DEMO transfers: 5000000000000000000000"
    );
    let event = &first["event"];
    assert_eq!(
        event["matchReasons"][0]["params"]["value"],
        "5000000000000000000000"
    );
    assert_eq!(
        event["matchReasons"][0]["params"]["to"].as_str().unwrap(),
        BOB
    );
    assert_eq!(event["sentinel"]["name"], "Large DEMO transfers");
    // The legacy Sentinel's single address, for code written before the rename.
    assert_eq!(
        event["sentinel"]["address"]
            .as_str()
            .map(str::to_ascii_lowercase),
        Some(w.token.to_ascii_lowercase())
    );
    assert_eq!(event["transaction"]["status"], "0x1");
    assert_eq!(
        event["matchedAddresses"][0].as_str().unwrap(),
        w.token.to_ascii_lowercase()
    );
    engine.shutdown();
}

const MONITOR_ACTION: &str = r#"
const { KeyValueStoreClient } = require('defender-kvstore-client');
const { Relayer } = require('defender-relay-client');
exports.handler = async function (event) {
  const match = event.request.body;
  const store = new KeyValueStoreClient(event);
  const seen = Number((await store.get('seen')) || '0') + 1;
  await store.put('seen', String(seen));
  await store.put('last-hash', match.hash);
  const relayer = new Relayer(event);
  const tx = await relayer.sendTransaction({ to: match.matchReasons[0].params.to, value: 1, speed: 'fast', gasLimit: 21000 });
  return { seen, tx: tx.transactionId };
};
"#;

const SCHEDULED_ACTION: &str = r#"
const { Defender } = require('@openzeppelin/defender-sdk');
exports.handler = async function (event) {
  const client = new Defender(event);
  const n = Number((await client.keyValueStore.get('ticks')) || '0') + 1;
  await client.keyValueStore.put('ticks', String(n));
  return n;
};
"#;

const WEBHOOK_ACTION: &str = r#"
exports.handler = async function (event) {
  const { body, headers, queryParameters } = event.request;
  if (body.value !== event.secrets.expectedValue) return { accepted: false };
  return { accepted: true, caller: headers['x-caller'], q: queryParameters.q, auth: headers['authorization'] || null };
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trigger_runs_defender_javascript() {
    let w = world().await;
    let (kv, _) = temp_kv("triggers");
    let kv: Arc<dyn KvStore> = kv;
    let relayer = Arc::new(
        RpcRelayer::start(
            RelayerConfig::new("main", vec![w.anvil.url.clone()])
                .with_confirmations(1)
                .with_poll_interval(Duration::from_millis(100)),
            Arc::new(LocalSigner::from_private_key(RELAYER_KEY).unwrap()),
            Arc::new(KvRelayerStore::new(kv.clone(), "main")),
        )
        .await
        .unwrap(),
    );
    let engine = engine(&w, kv.clone(), None).await;
    engine.set_relayer("main", relayer.clone());
    engine.secrets().put("expectedValue", "42").await.unwrap();

    // Monitor trigger.
    engine
        .add_action(ActionSpec::new("on-transfer", "On transfer", MONITOR_ACTION).relayer("main"))
        .await
        .unwrap();
    engine
        .add_monitor(
            "large",
            transfer_monitor(&w, json!({"actionTrigger": "on-transfer"})),
        )
        .await
        .unwrap();
    // Schedule trigger.
    engine
        .add_action(ActionSpec::new("tick", "Tick", SCHEDULED_ACTION).trigger(
            ActionTrigger::Schedule(Schedule::Interval(Duration::from_millis(300))),
        ))
        .await
        .unwrap();
    // Webhook trigger, served over HTTP by the axum router.
    let token = engine
        .add_action(ActionSpec::new("hook", "Hook", WEBHOOK_ACTION).trigger(ActionTrigger::Webhook))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = webhook_router(engine.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    tokio::time::sleep(Duration::from_millis(200)).await;
    let hash = w.anvil.transfer(&w.token, ALICE, 5000).await.unwrap();

    let run = wait_for(Duration::from_secs(30), async || {
        engine
            .runs("on-transfer", 5)
            .await
            .ok()?
            .into_iter()
            .find(|r| r.status != RunStatus::Pending)
    })
    .await
    .expect("the monitor-triggered action ran");
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.message);
    assert_eq!(run.trigger, Trigger::Monitor);
    assert_eq!(kv.get("seen").await.unwrap().as_deref(), Some("1"));
    assert_eq!(kv.get("last-hash").await.unwrap(), Some(hash.clone()));
    let result: Value = serde_json::from_str(run.result.as_deref().unwrap()).unwrap();
    let reward = relayer
        .get_transaction(result["tx"].as_str().unwrap())
        .await
        .unwrap();
    assert!(reward.to.unwrap().eq_ignore_ascii_case(ALICE));
    let mined = wait_for(Duration::from_secs(20), async || {
        let tx = relayer.get_transaction(&reward.transaction_id).await.ok()?;
        matches!(tx.status, TxStatus::Mined | TxStatus::Confirmed).then_some(tx)
    })
    .await;
    assert!(mined.is_some(), "the reward transaction was mined");

    let http = reqwest::Client::new();
    let url = format!("{base}/actions/hook/runs/webhook/{token}?q=1");
    let answer: Value = http
        .post(&url)
        .header("x-caller", "e2e")
        .header("authorization", "Bearer not-passed")
        .json(&json!({"value": "42"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "success");
    let result: Value = serde_json::from_str(answer["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({"accepted": true, "caller": "e2e", "q": "1", "auth": null})
    );
    let get = http.get(&url).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 403);
    let wrong = http
        .post(format!("{base}/actions/hook/runs/webhook/wrong"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);

    let manual = engine
        .run_action("hook", Trigger::Manual, Some(json!({"value": "41"})))
        .await
        .unwrap();
    assert_eq!(manual.result.as_deref(), Some(r#"{"accepted":false}"#));

    let ticks = wait_for(Duration::from_secs(20), async || {
        let runs = engine.runs("tick", 30).await.ok()?;
        (runs
            .iter()
            .filter(|r| r.status == RunStatus::Success)
            .count()
            >= 2)
            .then_some(runs)
    })
    .await
    .expect("the schedule ran twice");
    assert!(ticks.iter().all(|r| r.trigger == Trigger::Schedule));
    let stored: u64 = kv.get("ticks").await.unwrap().unwrap().parse().unwrap();
    assert!(stored >= 2);
    engine.shutdown();
    relayer.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphaned_transfer_is_never_notified() {
    let w = world().await;
    let (kv, _) = temp_kv("reorg");
    let engine = engine(&w, kv, None).await;
    engine
        .add_monitor("large", transfer_monitor(&w, json!({"confirmLevel": 2})))
        .await
        .unwrap();

    let orphan = w.anvil.transfer(&w.token, BOB, 6000).await.unwrap();
    // Replace the block holding it by one holding a different large transfer.
    let data = transfer_calldata(ALICE.parse().unwrap(), tokens(7000));
    w.anvil
        .rpc(
            "anvil_reorg",
            json!([1, [[{"from": DEPLOYER, "to": w.token, "data": data}, 0]]]),
        )
        .await
        .unwrap();
    w.anvil.rpc("anvil_mine", json!(["0x3"])).await.unwrap();
    let got = wait_for(Duration::from_secs(20), async || {
        let h = alerted_hashes(&w);
        (!h.is_empty()).then_some(h)
    })
    .await
    .expect("the replacement transfer is notified");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = alerted_hashes(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_ne!(got[0], orphan, "the orphaned transfer was notified");
    let value = &w.sink.received()[0].body["event"]["matchReasons"][0]["params"]["value"];
    assert_eq!(value, "7000000000000000000000");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_at_the_checkpoint() {
    let w = world().await;
    let (kv, path) = temp_kv("restart");
    // The checkpoint is engine state, in a file of its own.
    let state_path = path.with_file_name("state.redb");
    let state = Arc::new(defender_kv::RedbStateStore::open(&state_path).unwrap());
    let first = engine_on(&w, kv.clone(), Some(state.clone()), None).await;
    first
        .add_monitor("large", transfer_monitor(&w, json!({})))
        .await
        .unwrap();
    let mut expected = vec![w.anvil.transfer(&w.token, BOB, 2001).await.unwrap()];
    wait_for(Duration::from_secs(20), async || {
        (alerted_hashes(&w).len() == 1).then_some(())
    })
    .await
    .expect("the first alert");
    first.shutdown_and_wait().await;
    drop(first);
    drop(kv);
    drop(state);

    // Transfers while the engine is down are caught up after the restart.
    expected.push(w.anvil.transfer(&w.token, BOB, 2002).await.unwrap());
    w.anvil.transfer(&w.token, BOB, 5).await.unwrap();
    expected.push(w.anvil.transfer(&w.token, ALICE, 2003).await.unwrap());

    // A write already handed to the blocking pool may still hold the file for a moment.
    let kv = wait_for(Duration::from_secs(5), async || {
        RedbKvStore::open(&path).ok()
    })
    .await
    .map(Arc::new)
    .expect("the store reopens");
    let state = wait_for(Duration::from_secs(5), async || {
        defender_kv::RedbStateStore::open(&state_path).ok()
    })
    .await
    .map(Arc::new)
    .expect("the state reopens");
    let second = engine_on(&w, kv, Some(state), None).await;
    second
        .add_monitor("large", transfer_monitor(&w, json!({})))
        .await
        .unwrap();
    expected.push(w.anvil.transfer(&w.token, ALICE, 2004).await.unwrap());
    wait_for(Duration::from_secs(20), async || {
        (alerted_hashes(&w).len() >= 4).then_some(())
    })
    .await
    .expect("four alerts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(alerted_hashes(&w), expected, "none missed, none twice");
    second.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_threshold_and_timeout_use_the_injected_clock() {
    let w = world().await;
    let (kv, _) = temp_kv("threshold");
    let clock = Arc::new(ManualClock::new("2026-11-23T12:00:00Z".parse().unwrap()));
    let engine = engine(&w, kv, Some(clock.clone())).await;
    engine
        .add_monitor(
            "large",
            transfer_monitor(
                &w,
                json!({"alertThreshold": {"amount": 2, "windowSeconds": 60}, "alertTimeoutMs": 600000}),
            ),
        ).await
        .unwrap();

    let settle = || tokio::time::sleep(Duration::from_millis(600));
    w.anvil.transfer(&w.token, BOB, 3000).await.unwrap();
    settle().await;
    assert_eq!(
        alerted_hashes(&w).len(),
        0,
        "one match is below the threshold"
    );

    clock.advance(chrono::Duration::seconds(90));
    w.anvil.transfer(&w.token, BOB, 3000).await.unwrap();
    settle().await;
    assert_eq!(
        alerted_hashes(&w).len(),
        0,
        "the first match left the window"
    );

    clock.advance(chrono::Duration::seconds(10));
    let third = w.anvil.transfer(&w.token, BOB, 3000).await.unwrap();
    wait_for(Duration::from_secs(10), async || {
        (!alerted_hashes(&w).is_empty()).then_some(())
    })
    .await
    .expect("two matches within the window notify");
    assert_eq!(alerted_hashes(&w), [third]);

    clock.advance(chrono::Duration::seconds(10));
    w.anvil.transfer(&w.token, BOB, 3000).await.unwrap();
    settle().await;
    assert_eq!(
        alerted_hashes(&w).len(),
        1,
        "the timeout holds the next alert back"
    );

    // After the timeout, the threshold still needs two matches within the window.
    clock.advance(chrono::Duration::minutes(11));
    w.anvil.transfer(&w.token, BOB, 3000).await.unwrap();
    settle().await;
    assert_eq!(alerted_hashes(&w).len(), 1);
    let after = w.anvil.transfer(&w.token, BOB, 3000).await.unwrap();
    wait_for(Duration::from_secs(10), async || {
        (alerted_hashes(&w).len() == 2).then_some(())
    })
    .await
    .expect("after the timeout alerts resume");
    assert_eq!(alerted_hashes(&w)[1], after);
    engine.shutdown();
}

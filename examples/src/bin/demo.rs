//! The end-to-end demo on the embedded defaults. It starts anvil, deploys a token through the
//! relayer, and runs Defender-style automation on it:
//!
//! - a monitor on `Transfer` with a condition on `value`, notifying a signed webhook channel
//!   pointed at a local sink and triggering an action;
//! - that monitor-triggered action, which counts large transfers in the key-value store and
//!   sends a reward transaction through the relayer;
//! - a scheduled action and a webhook action;
//!
//! and prints what happened, step by step. Run it with `scripts/demo.sh`.

use defender_core::{
    KvStore, MonitorDefinition, Relayer, RunLimits, RunStatus, SecretStore, TxStatus,
};
use defender_engine::{
    ActionSpec, ActionTrigger, Engine, NetworkSpec, Schedule, StartAt, WebhookRequest,
};
use defender_examples::*;
use defender_kv::{RedbKvStore, RedbStateStore, StateStore};
use defender_notify::TemplateFormatter;
use defender_relay::{
    LocalSigner, RelayerConfig, RpcBlockSource, RpcClient, RpcRelayer, StateRelayerStore,
};
use defender_runtime::QuickJsRuntime;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const SINK_SECRET: &str = "demo-webhook-secret";

/// The monitor-triggered action: Defender JavaScript, unchanged.
const ON_LARGE_TRANSFER: &str = r#"
const { KeyValueStoreClient } = require('defender-kvstore-client');
const { Relayer } = require('defender-relay-client');

exports.handler = async function (event) {
  const match = event.request.body;
  const reason = match.matchReasons[0];
  const store = new KeyValueStoreClient(event);
  const seen = Number((await store.get('large-transfers')) || '0') + 1;
  await store.put('large-transfers', String(seen));
  console.log(`large transfer #${seen}: ${reason.params.value} to ${reason.params.to} in ${match.hash}`);

  // Reward the receiver with a little ether, through the linked relayer.
  const relayer = new Relayer(event);
  const tx = await relayer.sendTransaction({
    to: reason.params.to, value: '1000000000000000', speed: 'fast', gasLimit: 21000,
  });
  console.log(`reward sent as ${tx.transactionId}`);
  return { seen, reward: tx.transactionId };
};
"#;

/// The scheduled action.
const HEARTBEAT: &str = r#"
const { Defender } = require('@openzeppelin/defender-sdk');

exports.handler = async function (event) {
  const client = new Defender(event);
  const beats = Number((await client.keyValueStore.get('heartbeats')) || '0') + 1;
  await client.keyValueStore.put('heartbeats', String(beats));
  console.log(`heartbeat ${beats}`);
  return { beats };
};
"#;

/// The webhook action, with the secrets check of Defender's complete example.
const HELLO_WEBHOOK: &str = r#"
exports.handler = async function (event) {
  const { body, headers, queryParameters } = event.request;
  if (body.value !== event.secrets.expectedValue) return { accepted: false };
  console.log('webhook from', headers['x-caller'], 'with', JSON.stringify(queryParameters));
  return { accepted: true, hello: body.name };
};
"#;

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    step(1, "starting anvil on 127.0.0.1");
    let anvil = Anvil::start().await?;
    println!("    anvil at {}", anvil.url);

    let data_dir = std::env::temp_dir().join(format!("defender-demo-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let kv: Arc<dyn KvStore> = Arc::new(RedbKvStore::open(data_dir.join("kv.redb"))?);
    // Engine state (checkpoints, nonces, webhook tokens, runs...) in a file of its own, which
    // no action reaches.
    let state: Arc<dyn StateStore> = Arc::new(RedbStateStore::open(data_dir.join("state.redb"))?);
    println!(
        "    key-value store: {}",
        data_dir.join("kv.redb").display()
    );

    step(
        2,
        "starting the relayer (durable nonces in the engine state)",
    );
    let signer = Arc::new(LocalSigner::from_private_key(RELAYER_KEY)?);
    let relayer = Arc::new(
        RpcRelayer::start(
            RelayerConfig::new("demo-relayer", vec![anvil.url.clone()])
                .with_network("local")
                .with_confirmations(1)
                .with_poll_interval(Duration::from_millis(200)),
            signer,
            Arc::new(
                StateRelayerStore::new(state.clone(), "demo-relayer").with_legacy_kv(kv.clone()),
            ),
        )
        .await?,
    );
    let info = relayer.get_relayer().await?;
    println!("    relayer {} at {}", info.relayer_id, info.address);

    step(3, "deploying DemoToken through the relayer");
    let deploy = relayer
        .send_transaction(serde_json::from_value(json!({
            "data": token_creation_code(tokens(1_000_000)),
            "speed": "fast"
        }))?)
        .await?;
    let mined = wait_for(Duration::from_secs(30), async || {
        let tx = relayer.get_transaction(&deploy.transaction_id).await.ok()?;
        matches!(tx.status, TxStatus::Mined | TxStatus::Confirmed).then_some(tx)
    })
    .await
    .ok_or("the deployment was not mined")?;
    let receipt = relayer
        .call("eth_getTransactionReceipt", json!([mined.hash]))
        .await?;
    let token = receipt["contractAddress"]
        .as_str()
        .ok_or("no contract address in the receipt")?
        .to_owned();
    println!("    token at {token} (tx {})", mined.hash);

    step(
        4,
        "assembling the engine: QuickJS runtime, redb store, relayer, notifications",
    );
    let sink = WebhookSink::start(SINK_SECRET).await?;
    let notifiers = Arc::new(defender_core::NotifierRegistry::default());
    let channels: Vec<defender_notify::ChannelDefinition> = serde_json::from_value(json!([{
        "type": "webhook", "name": "demo-webhook",
        "config": { "url": sink.url, "secret": SINK_SECRET }
    }]))?;
    defender_notify::register(&notifiers, &channels)?;
    let engine = Engine::builder(Arc::new(QuickJsRuntime::default()))
        .kv(kv.clone())
        .state(state.clone())
        .relayer("demo-relayer", relayer.clone())
        .notifiers(notifiers)
        .alert_formatter(Arc::new(TemplateFormatter::new()))
        .limits(RunLimits {
            timeout: Duration::from_secs(30),
            ..RunLimits::default()
        })
        .build();
    engine.secrets().put("expectedValue", "42").await?;
    engine
        .add_network(NetworkSpec {
            start: StartAt::Head,
            poll_interval: Duration::from_millis(200),
            ..NetworkSpec::new(
                "local",
                Arc::new(RpcBlockSource::new(RpcClient::new(
                    vec![anvil.url.clone()],
                    Default::default(),
                )?)),
            )
        })
        .await?;
    println!("    notification channel demo-webhook -> {}", sink.url);

    step(
        5,
        "registering actions: monitor-triggered, scheduled (every 2 s), webhook",
    );
    engine
        .add_action(
            ActionSpec::new(
                "on-large-transfer",
                "Reward large transfers",
                ON_LARGE_TRANSFER,
            )
            .relayer("demo-relayer"),
        )
        .await?;
    engine
        .add_action(
            ActionSpec::new("heartbeat", "Heartbeat", HEARTBEAT).trigger(ActionTrigger::Schedule(
                Schedule::Interval(Duration::from_secs(2)),
            )),
        )
        .await?;
    let token_url = engine
        .add_action(
            ActionSpec::new("hello", "Hello webhook", HELLO_WEBHOOK)
                .trigger(ActionTrigger::Webhook),
        )
        .await?
        .ok_or("the webhook action has no token")?;

    step(
        6,
        "registering the monitor: Transfer with value > 1000 tokens",
    );
    let monitor: MonitorDefinition = serde_json::from_value(json!({
        "type": "BLOCK",
        "name": "Large DEMO transfers",
        "network": "local",
        "addresses": [token],
        "abi": token_abi(),
        "confirmLevel": 0,
        "eventConditions": [{
            "eventSignature": "Transfer(address,address,uint256)",
            "expression": "value > 1000000000000000000000"
        }],
        "notificationChannels": ["demo-webhook"],
        "alertMessageSubject": "{{ monitor.name }}: {{ matchReasons[0].params.value }} moved",
        "actionTrigger": "on-large-transfer"
    }))?;
    engine.add_monitor("large-transfers", monitor).await?;

    step(
        7,
        "sending two transfers: 10 DEMO to Alice, 5000 DEMO to Bob",
    );
    let token_address: alloy_primitives::Address = token.parse()?;
    for (who, to, amount) in [("Alice", ALICE, 10u64), ("Bob", BOB, 5000)] {
        let tx = relayer
            .send_transaction(serde_json::from_value(json!({
                "to": token_address.to_string(),
                "data": transfer_calldata(to.parse()?, tokens(amount)),
                "speed": "fast"
            }))?)
            .await?;
        println!(
            "    {amount} DEMO to {who}: transaction {}",
            tx.transaction_id
        );
    }

    step(
        8,
        "waiting for the monitor's alert and the triggered action",
    );
    let alert = wait_for(Duration::from_secs(60), async || {
        sink.received().into_iter().next()
    })
    .await
    .ok_or("no alert reached the webhook sink")?;
    println!(
        "    webhook sink received: {} (signature verified: {})",
        alert.body["subject"].as_str().unwrap_or_default(),
        alert.signature_ok
    );
    let reward_run = wait_for(Duration::from_secs(60), async || {
        let runs = engine.runs("on-large-transfer", 10).await.ok()?;
        runs.into_iter().find(|r| r.status != RunStatus::Pending)
    })
    .await
    .ok_or("the monitor-triggered action did not run")?;
    println!(
        "    action on-large-transfer: {:?}, result {}",
        reward_run.status,
        reward_run.result.as_deref().unwrap_or("-")
    );
    print_logs(&reward_run.encoded_logs);

    step(9, "calling the webhook action over HTTP");
    let answer = engine
        .handle_webhook(WebhookRequest {
            action_id: "hello".into(),
            token: token_url,
            method: "POST".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-caller".into(), "demo".into()),
            ],
            query: vec![("source".into(), "demo".into())],
            body: r#"{"value":"42","name":"world"}"#.into(),
        })
        .await;
    println!("    HTTP {}: {}", answer.status, answer.body);

    step(10, "letting the schedule run");
    wait_for(Duration::from_secs(20), async || {
        let runs = engine.runs("heartbeat", 10).await.ok()?;
        (runs
            .iter()
            .filter(|r| r.status == RunStatus::Success)
            .count()
            >= 2)
            .then_some(())
    })
    .await
    .ok_or("the scheduled action did not run twice")?;

    step(11, "what happened");
    for id in engine.action_ids() {
        let runs = engine.runs(&id, 30).await?;
        let ok = runs
            .iter()
            .filter(|r| r.status == RunStatus::Success)
            .count();
        println!("    action {id:<18} {} run(s), {ok} successful", runs.len());
    }
    for key in ["large-transfers", "heartbeats"] {
        println!(
            "    kv {key:<16} = {}",
            kv.get(key).await?.unwrap_or_default()
        );
    }
    let txs = relayer.list_transactions(Default::default()).await?;
    println!("    relayer sent {} transaction(s):", txs.len());
    for tx in txs.iter().rev() {
        println!(
            "      nonce {:>2} {:<10} {}",
            tx.nonce,
            format!("{:?}", tx.status).to_lowercase(),
            tx.hash
        );
    }
    // Alerts are delivered off the block loop; wait for those still on their way.
    engine.flush_alerts().await;
    let alerts = sink.received();
    println!(
        "    webhook sink received {} signed alert(s):",
        alerts.len()
    );
    for a in &alerts {
        println!(
            "      {} (signature ok: {})",
            a.body["subject"].as_str().unwrap_or_default(),
            a.signature_ok
        );
    }
    let metrics = engine.metrics_text();
    for line in metrics.lines().filter(|l| {
        l.starts_with("defender_monitor_matches") || l.starts_with("defender_action_runs_total")
    }) {
        println!("    metric {line}");
    }

    engine.shutdown();
    relayer.shutdown();
    let _ = std::fs::remove_dir_all(&data_dir);
    println!("\ndemo finished");
    Ok(())
}

fn print_logs(encoded: &str) {
    use base64::Engine as _;
    if let Ok(text) = base64::engine::general_purpose::STANDARD.decode(encoded) {
        for line in String::from_utf8_lossy(&text).lines() {
            println!("      log | {line}");
        }
    }
}

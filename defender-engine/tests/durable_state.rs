//! Engine state across restarts, on the embedded (redb) and the Redis backend: an engine is
//! built on a state store, used, shut down and dropped, and a new engine is built on the same
//! store (the redb file reopened, a new connection to the same redis-server). Webhook URLs,
//! run history and `previousRun`, sealed secrets, schedule phases, alert-gate timeouts and
//! monitor checkpoints (on anvil) carry over; a wrong secrets key fails clearly; and an action
//! writing every key it can think of in its key-value store changes no engine state.
//!
//! Needs `anvil` and `redis-server` (set `DEFENDER_SKIP_EXTERNAL=1` to skip without them).
//! Time is a `ManualClock`, moved by hand between engines: nothing waits for a schedule.

use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, Utc};
use defender_core::state::{SealedSecretError, SecretsKey, Space, StateStore, StateStoreExt};
use defender_core::{
    KvStore, ManualClock, Message, Metric, Notifier, NotifyError, RunStatus, Trigger,
};
use defender_engine::{
    ActionSpec, ActionTrigger, Engine, EngineError, MissedRuns, NetworkSpec, Schedule,
    WebhookRequest,
};
use defender_kv::{RedbKvStore, RedbStateStore, RedisKvStore, RedisStateStore};
use defender_relay::{RelayerStore, RetryConfig, RpcBlockSource, RpcClient, StateRelayerStore};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use defender_testkit::RedisServer;
use serde_json::{json, Value};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the monitors look: transfers to this address match.
const WATCHED: &str = "0x00000000000000000000000000000000000d3f3d";
/// Anvil's first account (unlocked).
const SENDER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// A token a team kept from Defender.
const MIGRATED_TOKEN: &str = "kept-from-defender_0123456789abcdef";
const SECRET: &str = "s3cr3t-api-key";
const HOUR: Duration = Duration::from_secs(3600);

/// Reports the run it follows and a secret.
const HOOK: &str = r"
exports.handler = async (event) => ({
  previous: event.previousRun ? event.previousRun.actionRunId : null,
  secret: event.secrets.apiKey || null,
});
";

/// Writes what engine state would be under, in every layout it can think of.
const VANDAL: &str = r#"
const { KeyValueStoreClient } = require('defender-kvstore-client');
exports.handler = async (event) => {
  const store = new KeyValueStoreClient(event);
  const spaces = ['checkpoints', 'nonces', 'transactions', 'webhook-tokens', 'schedules',
    'alert-gates', 'runs', 'run-history', 'secrets', 'outbox', 'deliveries', 'leases'];
  const ids = ['anvil/0', 'hook', 'migrated', 'tick', '["tick","interval:3600000"]',
    'timeout', 'main', '#key-check'];
  const prefixes = ['', '__defender/', '{defender-state}:v:', 'defender-state:', 'state/'];
  let written = 0;
  for (const p of prefixes) for (const s of spaces) for (const id of ids) {
    await store.put(p + s + '/' + id, '{"number":0}');
    written += 1;
  }
  const zero = '0x' + '00'.repeat(32);
  await store.put('__defender/monitor/checkpoint/anvil/0',
    JSON.stringify({ number: 0, hash: zero, recent: [] }));
  await store.put('relayer/main/nonce', '0');
  await store.put('relayer/main/tx/forged', '{}');
  return { written: written + 3 };
};
"#;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// An anvil node on 127.0.0.1, killed on drop.
struct Node {
    child: Child,
    rpc: RpcClient,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    async fn start() -> Option<Node> {
        let Some(bin) = defender_testkit::anvil_binary() else {
            if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") {
                eprintln!("skipping: anvil not found");
                return None;
            }
            panic!("anvil not found: run scripts/install-anvil.sh or set DEFENDER_SKIP_EXTERNAL=1");
        };
        let (child, addr) = defender_testkit::spawn_anvil(&bin, &[]).expect("spawn anvil");
        let url = format!("http://{}", addr.expect("anvil did not start"));
        let rpc = RpcClient::new(vec![url], RetryConfig::default()).expect("rpc client");
        let node = Node { child, rpc };
        for _ in 0..200 {
            if node.rpc.request("eth_chainId", json!([])).await.is_ok() {
                return Some(node);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("anvil did not answer");
    }

    fn source(&self) -> Arc<RpcBlockSource> {
        Arc::new(RpcBlockSource::new(self.rpc.clone()))
    }

    /// Sends 1 wei to the watched address; returns the transaction hash and its block.
    async fn transfer(&self) -> (String, u64) {
        let hash = self
            .rpc
            .request(
                "eth_sendTransaction",
                json!([{"from": SENDER, "to": WATCHED, "value": "0x1"}]),
            )
            .await
            .expect("send");
        let hash = hash.as_str().expect("a hash").to_owned();
        // Anvil mines each transaction at once, yet may answer before the receipt is stored.
        for _ in 0..500 {
            let receipt = self
                .rpc
                .request("eth_getTransactionReceipt", json!([hash]))
                .await
                .expect("receipt");
            if let Some(block) = receipt["blockNumber"].as_str() {
                let block =
                    u64::from_str_radix(block.trim_start_matches("0x"), 16).expect("a number");
                return (hash, block);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{hash} was not mined")
    }
}

/// A notification channel that keeps the hashes of the alerts it gets.
#[derive(Debug, Default)]
struct Inbox(Mutex<Vec<String>>);

impl Inbox {
    fn hashes(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The hashes, once there are at least `n` (deliveries are off the block loop, retried).
    async fn at_least(&self, n: usize) -> Vec<String> {
        for _ in 0..1500 {
            if self.hashes().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.hashes()
    }
}

#[async_trait]
impl Notifier for Inbox {
    fn kind(&self) -> &str {
        "inbox"
    }
    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let hash = message
            .alert
            .as_ref()
            .map(|a| a.hash.clone())
            .unwrap_or_default();
        self.0.lock().unwrap().push(hash);
        Ok(())
    }
    async fn send_metric(&self, _: &Metric) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// Where the engine state and the actions' key-value store live.
enum Backend {
    Redb(tempfile::TempDir),
    Redis(RedisServer),
}

impl Backend {
    /// Opens the stores, again after a restart. A redb file is released once the last task of
    /// the previous engine holding it has ended: retried until then.
    async fn open(&self) -> (Arc<dyn StateStore>, Arc<dyn KvStore>) {
        match self {
            Backend::Redb(dir) => {
                let state =
                    retry(|| RedbStateStore::open(dir.path().join("state.redb")).ok()).await;
                let kv = retry(|| RedbKvStore::open(dir.path().join("kv.redb")).ok()).await;
                (Arc::new(state), Arc::new(kv))
            }
            Backend::Redis(server) => {
                let state = RedisStateStore::connect(&server.url).await.expect("state");
                let kv = RedisKvStore::connect(&server.url).await.expect("kv");
                (Arc::new(state), Arc::new(kv))
            }
        }
    }
}

async fn retry<T>(mut open: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = open() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the store stayed locked by the previous engine");
}

fn t0() -> DateTime<Utc> {
    "2026-03-01T00:00:00Z".parse().unwrap()
}

fn monitor(channel: &str, timeout_ms: Option<u64>) -> defender_core::MonitorDefinition {
    let mut def = json!({
        "type": "BLOCK",
        "name": channel,
        "network": "anvil",
        "addresses": [WATCHED],
        "confirmLevel": 0,
        "notificationChannels": [channel],
    });
    if let Some(ms) = timeout_ms {
        def["alertTimeoutMs"] = json!(ms);
    }
    serde_json::from_value(def).unwrap()
}

/// One engine on the stores, with its monitors, actions and channels.
struct Running {
    engine: Engine,
    state: Arc<dyn StateStore>,
    /// Alerts of the monitor with a one-day timeout.
    timeout: Arc<Inbox>,
    /// Alerts of the monitor without one.
    every: Arc<Inbox>,
    hook_token: String,
}

async fn start(
    backend: &Backend,
    node: &Node,
    clock: &Arc<ManualClock>,
    policy: MissedRuns,
) -> Running {
    let (state, kv) = backend.open().await;
    let (timeout, every) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    let engine = Engine::builder(Arc::new(QuickJsRuntime::new(RuntimeConfig::default())))
        .state(state.clone())
        .kv(kv)
        .secrets_key(SecretsKey::from_bytes([7; 32]))
        .missed_runs(policy)
        .clock(clock.clone())
        .notifier("timeout", timeout.clone())
        .notifier("every", every.clone())
        .try_build()
        .await
        .expect("the secrets key opens the state's secrets");
    engine
        .add_network(NetworkSpec {
            poll_interval: Duration::from_millis(20),
            ..NetworkSpec::new("anvil", node.source())
        })
        .await
        .unwrap();
    // The loop starts with the first monitor: "every", which must see the blocks mined while
    // no engine ran, comes first.
    engine
        .add_monitor("every", monitor("every", None))
        .await
        .unwrap();
    engine
        .add_monitor("timeout", monitor("timeout", Some(24 * 3_600_000)))
        .await
        .unwrap();
    let hook_token = engine
        .add_action(ActionSpec::new("hook", "hook", HOOK).trigger(ActionTrigger::Webhook))
        .await
        .unwrap()
        .expect("a webhook token");
    engine
        .add_action(ActionSpec::new("migrated", "migrated", HOOK).trigger(ActionTrigger::Webhook))
        .await
        .unwrap();
    engine
        .add_action(
            ActionSpec::new("tick", "tick", HOOK)
                .trigger(ActionTrigger::Schedule(Schedule::Interval(HOUR))),
        )
        .await
        .unwrap();
    Running {
        engine,
        state,
        timeout,
        every,
        hook_token,
    }
}

impl Running {
    /// Waits until the monitors have handled `block` and its alerts are out.
    async fn handled(&self, block: u64) {
        for _ in 0..1500 {
            let cp = self.state.get(Space::CHECKPOINTS, "anvil/0").await.unwrap();
            let number = cp
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v["number"].as_u64());
            if number.is_some_and(|n| n >= block) {
                self.engine.flush_alerts().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("block {block} was not handled");
    }

    /// Waits until the schedule of `tick` plans its next tick at `next`.
    async fn tick_planned_at(&self, next: DateTime<Utc>) {
        let key = r#"["tick","interval:3600000"]"#;
        let mut seen = None;
        for _ in 0..1500 {
            seen = self
                .state
                .get_json::<Value>(Space::SCHEDULES, key)
                .await
                .unwrap();
            if seen.as_ref().and_then(|s| s["nextTickMs"].as_i64()) == Some(next.timestamp_millis())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the next tick is not {next}: {seen:?}");
    }

    async fn stop(self) {
        self.engine.shutdown_and_wait().await;
    }
}

fn result(record: &defender_core::RunRecord) -> Value {
    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    serde_json::from_str(record.result.as_deref().unwrap()).unwrap()
}

/// Every entry of the spaces an action must never change.
async fn engine_state(state: &dyn StateStore) -> Vec<(Space, String, Vec<u8>)> {
    let mut all = Vec::new();
    for space in [
        Space::CHECKPOINTS,
        Space::NONCES,
        Space::TRANSACTIONS,
        Space::WEBHOOK_TOKENS,
        Space::SCHEDULES,
        Space::ALERT_GATES,
        Space::SECRETS,
    ] {
        for (k, v) in state.scan_all(space, "").await.unwrap() {
            all.push((space, k, v.to_vec()));
        }
    }
    all
}

// ---------------------------------------------------------------------------------------------
// The scenario, on each backend

async fn restarts_keep_engine_state(backend: Backend) {
    let Some(node) = Node::start().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(t0()));

    // First engine, at t0.
    let first = start(&backend, &node, &clock, MissedRuns::Skip).await;
    let e = &first.engine;
    assert!(matches!(
        e.set_webhook_token("migrated", "short").await,
        Err(EngineError::InvalidWebhookToken { .. })
    ));
    assert!(matches!(
        e.set_webhook_token("migrated", &format!("{MIGRATED_TOKEN}/.."))
            .await,
        Err(EngineError::InvalidWebhookToken { .. })
    ));
    e.set_webhook_token("migrated", MIGRATED_TOKEN)
        .await
        .unwrap();
    e.secrets().put("apiKey", SECRET).await.unwrap();
    first.tick_planned_at(t0() + Span::hours(1)).await;
    let run1 = e.run_action("hook", Trigger::Manual, None).await.unwrap();
    assert_eq!(result(&run1), json!({"previous": null, "secret": SECRET}));
    let (tx1, b1) = node.transfer().await;
    first.handled(b1).await;
    assert_eq!(first.every.at_least(1).await, std::slice::from_ref(&tx1));
    assert_eq!(first.timeout.at_least(1).await, [tx1]);
    let hook_token = first.hook_token.clone();
    first.stop().await;

    // Mined while no engine runs; 2.5 hours later the second engine starts.
    let (tx2, _) = node.transfer().await;
    clock.advance(Span::minutes(150));
    let second = start(&backend, &node, &clock, MissedRuns::Skip).await;
    let e = &second.engine;
    assert_eq!(second.hook_token, hook_token, "the webhook URL is kept");
    assert_eq!(
        e.webhook_token("migrated").unwrap().as_deref(),
        Some(MIGRATED_TOKEN)
    );
    // The phase of t0, not of this start; the two ticks missed are skipped.
    second.tick_planned_at(t0() + Span::hours(3)).await;
    assert!(e.runs("tick", 10).await.unwrap().is_empty());
    // History, previousRun and the sealed secret, through the kept webhook URL.
    let answer = e
        .handle_webhook(WebhookRequest {
            action_id: "hook".into(),
            token: hook_token.clone(),
            method: "POST".into(),
            body: "{}".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let runs = e.runs("hook", 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].action_run_id, run1.action_run_id);
    // The caller gets the secret the run read; the stored record has it redacted.
    assert!(answer.body.to_string().contains(SECRET), "{answer:?}");
    assert_eq!(
        result(&runs[0]),
        json!({"previous": run1.action_run_id, "secret": "[REDACTED]"})
    );
    // The checkpoint resumes after the first engine's last block: the transfer mined while
    // down alerts once, and the one-day timeout still holds back the second alert.
    let (tx3, b3) = node.transfer().await;
    second.handled(b3).await;
    assert_eq!(second.every.at_least(2).await, [tx2, tx3]);
    second.engine.flush_alerts().await;
    assert!(second.timeout.hashes().is_empty(), "the timeout holds");

    // An action writing every key it can think of changes no engine state.
    StateRelayerStore::new(second.state.clone(), "main")
        .allocate_nonce(3)
        .await
        .unwrap();
    let before = engine_state(second.state.as_ref()).await;
    assert!(before.iter().any(|(s, ..)| *s == Space::NONCES));
    e.add_action(ActionSpec::new("vandal", "vandal", VANDAL))
        .await
        .unwrap();
    let vandal = e.run_action("vandal", Trigger::Manual, None).await.unwrap();
    assert!(result(&vandal)["written"].as_u64().unwrap() > 400);
    assert_eq!(engine_state(second.state.as_ref()).await, before);
    second.stop().await;

    // Third engine, 3 hours later, catching up once.
    clock.advance(Span::hours(3));
    let third = start(&backend, &node, &clock, MissedRuns::CatchUpOnce).await;
    third.tick_planned_at(t0() + Span::hours(6)).await;
    let ticks = third.engine.runs("tick", 10).await.unwrap();
    assert_eq!(ticks.len(), 1, "one catch-up run for three missed ticks");
    assert_eq!(ticks[0].trigger, Trigger::Schedule);
    // The forged legacy checkpoint was not read: nothing is delivered again.
    let (tx4, b4) = node.transfer().await;
    third.handled(b4).await;
    assert_eq!(third.every.at_least(1).await, [tx4]);
    third.stop().await;

    // A wrong secrets key: refused by `try_build`, and with `build` every run fails clearly.
    let (state, _) = backend.open().await;
    let wrong = || {
        Engine::builder(Arc::new(QuickJsRuntime::new(RuntimeConfig::default())))
            .state(state.clone())
            .secrets_key(SecretsKey::from_bytes([8; 32]))
    };
    assert!(matches!(
        wrong().try_build().await,
        Err(SealedSecretError::WrongKey)
    ));
    let engine = wrong().build();
    engine
        .add_action(ActionSpec::new("hook", "hook", HOOK))
        .await
        .unwrap();
    let failed = engine
        .run_action("hook", Trigger::Manual, None)
        .await
        .unwrap();
    assert_eq!(failed.status, RunStatus::Error);
    let message = failed.message.unwrap_or_default();
    assert!(message.contains("secrets key does not match"), "{message}");
    assert!(!message.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_keep_engine_state_on_redb() {
    let dir = tempfile::tempdir().expect("tempdir");
    restarts_keep_engine_state(Backend::Redb(dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_keep_engine_state_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    restarts_keep_engine_state(Backend::Redis(server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_kept_in_the_key_value_store_is_read_once() {
    let Some(node) = Node::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = Backend::Redb(dir);
    // An earlier version's checkpoint, in the actions' store, at the block before a transfer.
    let (tx0, b0) = node.transfer().await;
    let before = node
        .rpc
        .request(
            "eth_getBlockByNumber",
            json!([format!("{:#x}", b0 - 1), false]),
        )
        .await
        .unwrap();
    {
        let (_, kv) = backend.open().await;
        let hash = &before["hash"];
        let cp = json!({"number": b0 - 1, "hash": hash, "recent": [[b0 - 1, hash]]});
        kv.put("__defender/monitor/checkpoint/anvil/0", &cp.to_string())
            .await
            .unwrap();
    }
    let clock = Arc::new(ManualClock::new(t0()));
    let running = start(&backend, &node, &clock, MissedRuns::Skip).await;
    let (tx1, b1) = node.transfer().await;
    running.handled(b1).await;
    // Continued after the legacy checkpoint (not at the head): the transfer before the start
    // is delivered, once, and the checkpoint is now in the engine state.
    assert_eq!(running.every.at_least(2).await, [tx0, tx1]);
    running.stop().await;
}

//! The SIGKILL test: an engine process on anvil, with its state in a redb file (then in
//! Redis), is killed with SIGKILL 20 times at random moments and started again, while the
//! test sends a steady stream of matching transfers. Its monitor notifies a webhook sink run
//! by the test and triggers a linked action (JavaScript, in the real QuickJS runtime) that
//! POSTs the match to the same sink. At the end every transfer must have been notified and
//! must have had its action run; the test prints how many deliveries the sink saw more than
//! once (a kill after a send and before the outbox recorded it: at-least-once delivery, which
//! the `Idempotency-Key` header lets a sink drop) and how many were lost, and asserts that
//! none was.
//!
//! The engine process is this test binary itself, run again with the ignored test
//! `engine_under_test` selected and its configuration in the environment variable
//! `DEFENDER_ENGINE_UNDER_TEST`: it builds with the test, nothing else to build or install.
//!
//! Needs `anvil` and, for the Redis half, `redis-server` (see `scripts/install-test-deps.sh`);
//! `DEFENDER_SKIP_EXTERNAL=1` skips what is missing.
#![cfg(unix)]

mod delivery_support;

use defender_core::state::StateStore;
use defender_engine::{ActionSpec, Cluster, Engine, NetworkSpec, StartAt};
use defender_kv::{RedbStateStore, RedisStateStore};
use defender_relay::{RetryConfig, RpcBlockSource, RpcClient};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use delivery_support::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const KILLS: usize = 20;
/// The two tests take turns: each is busy enough for the machine alone.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const CHILD_ENV: &str = "DEFENDER_ENGINE_UNDER_TEST";

/// The linked action: Defender JavaScript that reports its match to the sink.
const ON_TRANSFER: &str = r#"
exports.handler = async function (event) {
  const match = event.request.body;
  const res = await fetch(process.env.SINK + '/action', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hash: match.hash }),
  });
  if (!res.ok) throw new Error(`the sink answered ${res.status}`);
  return { posted: match.hash };
};
"#;

/// Where the engine process keeps its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Store {
    Redb(std::path::PathBuf),
    Redis(String),
}

/// What the engine process is told.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EngineConfig {
    anvil: String,
    sink: String,
    first_block: u64,
    store: Store,
}

// ---------------------------------------------------------------------------------------------
// The engine process

#[test]
#[ignore = "the engine process of the kill tests, which start it themselves"]
fn engine_under_test() {
    let Ok(config) = std::env::var(CHILD_ENV) else {
        eprintln!("engine_under_test runs only when started by the kill tests");
        return;
    };
    let config: EngineConfig = serde_json::from_str(&config).expect("engine configuration");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run_engine(config));
}

/// Runs the engine until the process is killed (or, if the test that started it is gone, for
/// at most 5 minutes).
async fn run_engine(config: EngineConfig) {
    let state: Arc<dyn StateStore> = match &config.store {
        Store::Redb(path) => Arc::new(RedbStateStore::open(path).expect("open the redb state")),
        Store::Redis(url) => Arc::new(
            RedisStateStore::connect(url)
                .await
                .expect("connect the Redis state"),
        ),
    };
    let sink_host = config.sink.trim_start_matches("http://").to_owned();
    let runtime = QuickJsRuntime::new(
        RuntimeConfig::default()
            .allow_fetch(sink_host)
            .with_env("SINK", config.sink.clone()),
    );
    let engine = Engine::builder(Arc::new(runtime))
        // Restarted under its name: it takes its leases and claims back at once.
        .cluster(Cluster {
            instance: "kill-test-engine".into(),
            ..Cluster::default()
        })
        .state(state)
        .notifier(
            "sink",
            webhook_channel(&format!("{}/alert", config.sink), Duration::from_secs(2)),
        )
        .notification_timeout(Duration::from_secs(3))
        .delivery_retry(Duration::from_millis(50), Duration::from_millis(500))
        .build();
    let rpc = RpcClient::new(vec![config.anvil.clone()], RetryConfig::default()).expect("rpc");
    engine
        .add_network(NetworkSpec {
            start: StartAt::Block(config.first_block),
            poll_interval: Duration::from_millis(20),
            ..NetworkSpec::new("local", Arc::new(RpcBlockSource::new(rpc)))
        })
        .await
        .expect("add the network");
    engine
        .add_action(ActionSpec::new("on-transfer", "On transfer", ON_TRANSFER))
        .await
        .expect("add the action");
    engine
        .add_monitor(
            "m1",
            monitor_of_transfers_to_bob(json!({
                "notificationChannels": ["sink"],
                "actionTrigger": "on-transfer"
            })),
        )
        .await
        .expect("add the monitor");
    tokio::time::sleep(Duration::from_secs(300)).await;
}

// ---------------------------------------------------------------------------------------------
// The test

/// An engine process, killed with SIGKILL when dropped.
struct EngineProcess(Child);

impl EngineProcess {
    fn start(config: &EngineConfig) -> EngineProcess {
        let exe = std::env::current_exe().expect("the test binary");
        let child = Command::new(exe)
            .args(["engine_under_test", "--exact", "--ignored", "--nocapture"])
            .env(CHILD_ENV, serde_json::to_string(config).expect("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the engine process");
        EngineProcess(child)
    }

    /// Kills it with SIGKILL (`Child::kill` on Unix) and checks that it had not ended on its
    /// own (a crash of the engine would).
    fn kill(mut self) {
        if let Ok(Some(status)) = self.0.try_wait() {
            panic!("the engine process ended by itself: {status}");
        }
        self.0.kill().expect("SIGKILL");
        let status = self.0.wait().expect("wait for the engine process");
        assert!(status.code().is_none(), "killed by a signal: {status}");
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Duplicates and losses of one kind of delivery.
#[derive(Debug)]
struct Tally {
    delivered: usize,
    duplicates: usize,
    lost: usize,
}

fn tally(sent: &BTreeSet<String>, hashes: Vec<String>) -> Tally {
    let seen: BTreeSet<String> = hashes.iter().cloned().collect();
    Tally {
        delivered: hashes.len(),
        duplicates: repeats(hashes.iter().map(String::as_str)),
        lost: sent.difference(&seen).count(),
    }
}

async fn kill_test(name: &str, store: Store) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(anvil) = Anvil::start().await else {
        return;
    };
    let anvil = Arc::new(anvil);
    let sink = Sink::start(Mode::Accept).await;
    // A remote receiver's latency: deliveries take long enough for kills to land mid-way.
    sink.set_latency(Duration::from_millis(30));
    let config = EngineConfig {
        anvil: anvil.url.clone(),
        sink: sink.url.clone(),
        first_block: anvil.block_number().await + 1,
        store,
    };

    // A steady stream of matching transfers, one every 100 ms, until told to stop.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sender = tokio::spawn({
        let anvil = anvil.clone();
        async move {
            let mut sent = BTreeSet::new();
            while !*stopped.borrow() {
                sent.insert(anvil.transfer().await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            sent
        }
    });

    for _ in 0..KILLS {
        let engine = EngineProcess::start(&config);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(100..1500))).await;
        engine.kill();
    }
    let _ = stop.send(true);
    let sent = sender.await.expect("the transfer stream");
    let before_last = sink.accepted("/alert").len();

    // A last engine delivers what is still owed.
    let engine = EngineProcess::start(&config);
    let alerts = |sink: &Sink| -> Vec<String> {
        sink.accepted("/alert")
            .iter()
            .map(|r| {
                r.body["event"]["hash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .collect()
    };
    let runs = |sink: &Sink| -> Vec<String> {
        sink.accepted("/action")
            .iter()
            .map(|r| {
                r.body["hash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .collect()
    };
    let all_there = |hashes: Vec<String>| sent.is_subset(&hashes.into_iter().collect());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline
        && !(all_there(alerts(&sink)) && all_there(runs(&sink)))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.kill();

    let keys: Vec<String> = sink
        .accepted("/alert")
        .into_iter()
        .map(|r| r.key.expect("every alert has an idempotency key"))
        .collect();
    let distinct_keys: BTreeSet<&String> = keys.iter().collect();
    let alerts = tally(&sent, alerts(&sink));
    let runs = tally(&sent, runs(&sink));
    println!(
        "kill test ({name}): {} transfers, {KILLS} SIGKILLs; alerts: {} delivered ({before_last} \
         before the last start), {} duplicates, {} lost; linked-action runs: {} delivered, {} \
         duplicates, {} lost",
        sent.len(),
        alerts.delivered,
        alerts.duplicates,
        alerts.lost,
        runs.delivered,
        runs.duplicates,
        runs.lost
    );
    assert_eq!(alerts.lost, 0, "alerts lost: {alerts:?}");
    assert_eq!(runs.lost, 0, "linked-action runs lost: {runs:?}");
    // A redelivered alert carries the key of its first delivery: the sink can drop it.
    assert_eq!(
        distinct_keys.len(),
        sent.len(),
        "one idempotency key per alert"
    );
    assert_eq!(keys.len() - distinct_keys.len(), alerts.duplicates);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_engine_on_redb_loses_no_alert_and_no_linked_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    kill_test("redb", Store::Redb(dir.path().join("state.redb"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_engine_on_redis_loses_no_alert_and_no_linked_run() {
    let Some(redis) = defender_testkit::RedisServer::start() else {
        return;
    };
    kill_test("redis", Store::Redis(redis.url.clone())).await;
}

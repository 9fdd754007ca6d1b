//! The cluster test: three `defender-host run` processes share one redis-server (engine state
//! and key-value store) and one anvil, running `tests/projects/e2e-cluster`: five schedules
//! firing every second, a webhook that sends relayer transactions, and a monitor of transfers
//! to Bob notifying the test's sink. While the test drives 500 transfers and 300 webhook
//! sends (to any of the three processes), it SIGKILLs the process leading the network (the
//! holder of its lease) every few seconds, measures how long until another process holds the
//! lease, and restarts the killed one under its name.
//!
//! At the end: every transfer was notified (duplicates and losses counted), every scheduled
//! tick between the first and the end ran (each tick's run id is the same in every process, so
//! a tick run twice counts 2 in the key-value store), every acknowledged relayer send is mined,
//! no send was mined twice and the relayer's nonces have no gap left. It prints the counts and
//! the takeover times.
//!
//! Needs `anvil` and `redis-server` (see `scripts/install-test-deps.sh`).
#![cfg(unix)]

mod support;

use chrono::{DateTime, TimeZone, Utc};
use defender_core::KvStore;
use defender_engine::Schedule;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{
    number, request_json, rpc, wait_for, Anvil, KillOnDrop, Sink, DEPLOYER, RELAYER_KEY,
};

const BIN: &str = env!("CARGO_BIN_EXE_defender-host");
const BOB: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
/// Anvil's second account: the relayer.
const RELAYER: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const HOOK_TOKEN: &str = "cluster-hook-token-0123456789";
/// The management API key the cluster project reads from `E2E_API_KEY`.
const API_KEY: &str = "cluster-api-key";
const PROCESSES: usize = 3;
const TRANSFERS: usize = 500;
const SENDS: usize = 300;
const TICK_ACTIONS: usize = 5;
const MIN_TICKS: usize = 200;
/// How long the transfers and sends are spread over.
const LOAD: Duration = Duration::from_secs(42);
/// Time between two kills of the leader.
const KILL_EVERY: Duration = Duration::from_secs(5);
/// The lease of the network's blocks, as `RedisStateStore` keeps it.
const LEASE_KEY: &str = "{defender-state}:lease:monitor/local/0";

/// One `defender-host run` process.
struct HostProcess {
    process: KillOnDrop,
    url: String,
}

impl HostProcess {
    fn start(env: &BTreeMap<String, String>, instance: &str) -> HostProcess {
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/projects/e2e-cluster");
        let mut child = Command::new(BIN)
            .arg("run")
            .arg(&project)
            .args(["--poll-interval-ms", "200"])
            .envs(env)
            .env("E2E_INSTANCE", instance)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start defender-host");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("defender-host listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("defender-host prints where it listens");
        let url = if addr.starts_with("http") {
            addr
        } else {
            format!("http://{addr}")
        };
        HostProcess {
            process: KillOnDrop(child),
            url,
        }
    }

    /// SIGKILL, checking it had not ended by itself (a crash would).
    fn kill(&mut self) {
        if let Ok(Some(status)) = self.process.0.try_wait() {
            panic!("a host process ended by itself: {status}");
        }
        self.process.0.kill().expect("SIGKILL");
        let status = self.process.0.wait().expect("wait");
        assert!(status.code().is_none(), "killed by a signal: {status}");
    }
}

/// The hash of each alert's match the sink received, in lower case.
fn notified_hashes(sink: &Sink) -> Vec<String> {
    sink.received()
        .iter()
        .map(|body| {
            let hash = body["event"]["hash"].as_str().unwrap_or_default();
            hash.to_ascii_lowercase()
        })
        .collect()
}

/// The holder of the network's lease, from Redis.
async fn leader(redis: &mut redis::aio::MultiplexedConnection) -> Option<String> {
    let value: Option<String> = redis::cmd("GET")
        .arg(LEASE_KEY)
        .query_async(redis)
        .await
        .ok()?;
    value.and_then(|v| v.get(21..).map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_redis_survive_their_leader_being_killed() {
    let Some(redis_server) = defender_testkit::RedisServer::start() else {
        return;
    };
    let anvil = Arc::new(Anvil::start(&["--block-time", "1"]).await);
    let (sink, sink_url) = Sink::start().await;
    let state = tempfile::tempdir().unwrap();
    let env = support::env_map(&[
        ("E2E_RPC", anvil.url.as_str()),
        ("E2E_SINK", sink_url.as_str()),
        ("E2E_STATE", state.path().to_str().unwrap()),
        ("E2E_API_KEY", API_KEY),
        ("E2E_RELAYER_KEY", RELAYER_KEY),
        ("E2E_HOOK_TOKEN", HOOK_TOKEN),
        ("E2E_REDIS", redis_server.url.as_str()),
    ]);

    let mut redis = redis::Client::open(redis_server.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let names: Vec<String> = (0..PROCESSES).map(|i| format!("host-{i}")).collect();
    // One after the other: the first creates the state directory's keys file.
    let mut hosts: Vec<Option<HostProcess>> = Vec::new();
    for name in &names {
        hosts.push(Some(HostProcess::start(&env, name)));
    }
    let urls: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
        hosts.iter().flatten().map(|h| h.url.clone()).collect(),
    ));
    let begin = Utc::now();

    // Transfers to Bob, spread over the load period.
    let transfers = tokio::spawn({
        let anvil = anvil.clone();
        async move {
            let mut sent = BTreeSet::new();
            let gap = LOAD / TRANSFERS as u32;
            for _ in 0..TRANSFERS {
                let hash = rpc(
                    &anvil.url,
                    "eth_sendTransaction",
                    json!([{"from": DEPLOYER, "to": BOB, "value": "0x1"}]),
                )
                .await;
                sent.insert(hash.as_str().unwrap().to_ascii_lowercase());
                tokio::time::sleep(gap).await;
            }
            sent
        }
    });
    // Relayer sends through the webhook, each to the next process in turn; a send whose
    // process is killed mid-request is not acknowledged (and may or may not be mined).
    let sends = tokio::spawn({
        let urls = urls.clone();
        async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let mut acknowledged = BTreeMap::new();
            let gap = LOAD / SENDS as u32;
            for i in 0..SENDS {
                let marker = 1_000_000 + i as u64;
                // A process that is down refuses the connection (nothing ran): the next one.
                let mut answer = None;
                for turn in 0..PROCESSES * 4 {
                    let base = {
                        let urls = urls.lock().unwrap();
                        urls[(i + turn) % urls.len()].clone()
                    };
                    let url = format!("{base}/actions/send/runs/webhook/{HOOK_TOKEN}");
                    match client
                        .post(&url)
                        .json(&json!({ "marker": marker }))
                        .send()
                        .await
                    {
                        Err(e) if e.is_connect() => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => {
                            answer = Some(((i + turn) % PROCESSES, other));
                            break;
                        }
                    }
                }
                if let Some((via, Ok(resp))) = answer {
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    let result: Value = body["result"]
                        .as_str()
                        .and_then(|r| serde_json::from_str(r).ok())
                        .unwrap_or(Value::Null);
                    if body["status"] == "success" && result["id"].is_string() {
                        acknowledged.insert(marker, (via, result));
                    }
                }
                tokio::time::sleep(gap).await;
            }
            acknowledged
        }
    });

    // The killer: the leader, every few seconds, until the load is over.
    let mut takeovers = Vec::new();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    while started.elapsed() < LOAD {
        let Some(victim) = leader(&mut redis).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let Some(i) = names.iter().position(|n| *n == victim) else {
            panic!("an unknown lease holder: {victim}");
        };
        let killed_at = Instant::now();
        hosts[i].take().expect("the leader runs").kill();
        let new = loop {
            match leader(&mut redis).await {
                Some(holder) if holder != victim => break holder,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            assert!(
                killed_at.elapsed() < Duration::from_secs(30),
                "no process took over"
            );
        };
        let took = killed_at.elapsed();
        println!(
            "killed {victim}; {new} took over in {} ms",
            took.as_millis()
        );
        takeovers.push(took);
        let restarted = HostProcess::start(&env, &victim);
        urls.lock().unwrap()[i] = restarted.url.clone();
        hosts[i] = Some(restarted);
        tokio::time::sleep(KILL_EVERY.saturating_sub(killed_at.elapsed())).await;
    }
    let sent = transfers.await.unwrap();
    let acknowledged = sends.await.unwrap();
    let load_end = Utc::now();

    // Everything settles: every transfer notified, every acknowledged send mined. Within a few
    // seconds as a rule; the bound is past the relayer's resubmission of a `fast` transaction
    // (120 s), because anvil, when transactions of one sender reach it out of order, now and
    // then files the one at the sender's nonce among its queued ones and never mines it:
    // only the resubmission, with bumped fees, replaces it and gets it mined (as a relayer
    // does with a transaction any node leaves behind).
    let deadline = Instant::now() + Duration::from_secs(150);
    let relayer_txs = loop {
        let notified: BTreeSet<String> = notified_hashes(&sink).into_iter().collect();
        let txs = relayer_transactions(&anvil.url).await;
        let mined: BTreeSet<u64> = txs.iter().map(|(_, v)| *v).collect();
        let done = sent.is_subset(&notified)
            && acknowledged.keys().all(|m| mined.contains(m))
            && number(
                &rpc(
                    &anvil.url,
                    "eth_getTransactionCount",
                    json!([RELAYER, "pending"]),
                )
                .await,
            ) == number(
                &rpc(
                    &anvil.url,
                    "eth_getTransactionCount",
                    json!([RELAYER, "latest"]),
                )
                .await,
            );
        if done || Instant::now() > deadline {
            break txs;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Matches: duplicates and losses.
    let hashes = notified_hashes(&sink);
    let notified: BTreeSet<&String> = hashes.iter().filter(|h| sent.contains(*h)).collect();
    let alert_duplicates = hashes.iter().filter(|h| sent.contains(*h)).count() - notified.len();
    let alerts_lost = sent.len() - notified.len();

    // Ticks: every whole second from the first tick seen to a little before the end.
    let kv = defender_kv::RedisKvStore::connect(&redis_server.url)
        .await
        .unwrap();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for key in kv.list("tick/").await.unwrap() {
        let n = kv
            .get(&key)
            .await
            .unwrap()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        counts.insert(key, n);
    }
    let schedule = Schedule::Cron("* * * * * *".into());
    let end = load_end - chrono::Duration::seconds(2);
    let (mut ticks, mut ticks_lost, mut tick_duplicates) = (0usize, 0usize, 0u64);
    for a in 1..=TICK_ACTIONS {
        let action = format!("tick-{a}");
        let seconds: Vec<DateTime<Utc>> = (begin.timestamp()..=end.timestamp())
            .filter_map(|s| Utc.timestamp_opt(s, 0).single())
            .collect();
        let count_of = |t: &DateTime<Utc>| {
            counts
                .get(&format!("tick/{action}/{}", schedule.run_id(&action, *t)))
                .copied()
        };
        let Some(first) = seconds.iter().position(|t| count_of(t).is_some()) else {
            panic!("{action} never ran");
        };
        for t in &seconds[first..] {
            ticks += 1;
            match count_of(t) {
                None => ticks_lost += 1,
                Some(n) => tick_duplicates += n.saturating_sub(1),
            }
        }
    }

    // Relayer: acknowledged sends mined, none twice, nonces without a gap.
    let mined: Vec<u64> = relayer_txs.iter().map(|(_, v)| *v).collect();
    let distinct: BTreeSet<u64> = mined.iter().copied().collect();
    let sends_lost = acknowledged
        .keys()
        .filter(|m| !distinct.contains(m))
        .count();
    let send_duplicates = mined.len() - distinct.len();
    let nonces: Vec<u64> = relayer_txs.iter().map(|(n, _)| *n).collect();
    let contiguous = nonces.iter().enumerate().all(|(i, n)| *n == i as u64);
    let latest = number(
        &rpc(
            &anvil.url,
            "eth_getTransactionCount",
            json!([RELAYER, "latest"]),
        )
        .await,
    );
    let pending = number(
        &rpc(
            &anvil.url,
            "eth_getTransactionCount",
            json!([RELAYER, "pending"]),
        )
        .await,
    );

    let ms: Vec<u128> = takeovers.iter().map(Duration::as_millis).collect();
    println!(
        "cluster test: {PROCESSES} processes, {} leader kills; takeover ms: {ms:?} (max {}, mean {}); \
         transfers: {} sent, {} duplicate alerts, {} lost; ticks: {ticks} checked, {tick_duplicates} \
         run twice, {ticks_lost} lost; relayer: {} acknowledged of {SENDS} sends, {} mined, \
         {send_duplicates} duplicates, {sends_lost} lost, nonces 0..{latest} contiguous: \
         {contiguous}, pending {pending}",
        takeovers.len(),
        ms.iter().max().copied().unwrap_or(0),
        ms.iter().sum::<u128>() / ms.len().max(1) as u128,
        sent.len(),
        alert_duplicates,
        alerts_lost,
        acknowledged.len(),
        mined.len(),
    );
    // Any process answers for any transaction, and changes made through one process reach
    // the others: the webhook's new code (put through one process) looks transactions up, run
    // by another process than the one that sent each.
    let urls: Vec<String> = urls.lock().unwrap().clone();
    let lookup = r#"
const { Relayer } = require('@openzeppelin/defender-relay-client');
exports.handler = async function (event) {
  const tx = await new Relayer(event).query(event.request.body.id);
  return { version: 2, status: tx.status, hash: tx.hash, nonce: tx.nonce };
};
"#;
    let (status, answer) = api(
        &urls[0],
        "PUT",
        "/actions/send/code",
        json!({ "code": lookup }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let client = reqwest::Client::new();
    let mut looked_up = 0;
    for (marker, (via, sent_tx)) in acknowledged.iter().step_by(15) {
        let other = &urls[(via + 1) % PROCESSES];
        let url = format!("{other}/actions/send/runs/webhook/{HOOK_TOKEN}");
        let found = wait_for("the new code on another process", async || {
            let body: Value = client
                .post(&url)
                .json(&json!({ "id": sent_tx["id"] }))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let result: Value = serde_json::from_str(body["result"].as_str()?).ok()?;
            (result["version"] == 2).then_some(result)
        })
        .await;
        let on_chain = relayer_txs
            .iter()
            .any(|(n, v)| Some(*n) == found["nonce"].as_u64() && v == marker);
        assert!(
            on_chain,
            "transaction {sent_tx} as another process reports it: {found}"
        );
        assert!(
            matches!(found["status"].as_str(), Some("mined" | "confirmed")),
            "{found}"
        );
        looked_up += 1;
    }
    let (status, _) = api(&urls[1], "POST", "/actions/tick-5/pause", Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = api(&urls[2], "POST", "/monitors/to-bob/pause", Value::Null).await;
    assert_eq!(status, 200);
    wait_for("the pauses on every process", async || {
        for url in &urls {
            let (_, action) = api(url, "GET", "/actions/tick-5", Value::Null).await;
            let (_, monitor) = api(url, "GET", "/monitors/to-bob", Value::Null).await;
            if action["paused"] != true || monitor["paused"] != true {
                return None;
            }
        }
        Some(())
    })
    .await;
    println!("{looked_up} transactions looked up through another process than their sender's");

    assert!(
        takeovers.len() >= 5,
        "the leader was killed {} times",
        takeovers.len()
    );
    assert_eq!(alerts_lost, 0, "every transfer is notified");
    assert!(ticks >= MIN_TICKS, "{ticks} ticks checked");
    assert_eq!(ticks_lost, 0, "every tick runs");
    assert_eq!(sends_lost, 0, "every acknowledged send is mined");
    assert_eq!(send_duplicates, 0, "no send is mined twice");
    assert!(contiguous && pending == latest, "no nonce gap: {nonces:?}");
    assert!(
        acknowledged.len() * 10 >= SENDS * 8,
        "most sends are acknowledged: {}",
        acknowledged.len()
    );
    // Duplicates need a kill between a delivery and its record: rare, counted above.
    assert!(
        alert_duplicates <= takeovers.len(),
        "{alert_duplicates} duplicate alerts"
    );
    assert!(
        tick_duplicates <= takeovers.len() as u64,
        "{tick_duplicates} ticks run twice"
    );
    drop(hosts);
}

/// A management API call with the cluster project's key.
async fn api(base: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    request_json(method, &format!("{base}{path}"), Some(API_KEY), body).await
}

/// The relayer's mined transactions in nonce order: (nonce, value).
async fn relayer_transactions(url: &str) -> Vec<(u64, u64)> {
    let latest = number(&rpc(url, "eth_blockNumber", json!([])).await);
    let mut out = Vec::new();
    for b in 0..=latest {
        let block = rpc(
            url,
            "eth_getBlockByNumber",
            json!([format!("{b:#x}"), true]),
        )
        .await;
        for tx in block["transactions"].as_array().into_iter().flatten() {
            if tx["from"].as_str().map(str::to_ascii_lowercase).as_deref() == Some(RELAYER) {
                out.push((number(&tx["nonce"]), number(&tx["value"])));
            }
        }
    }
    out.sort();
    out
}

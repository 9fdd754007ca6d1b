//! Fixtures of the delivery tests (`outbox.rs`, `kill.rs`): a webhook sink on 127.0.0.1 that
//! can be told to fail or to hang, and anvil with a JSON-RPC client.
#![allow(dead_code, unreachable_pub)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use defender_relay::{RetryConfig, RpcClient};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200.
    Accept,
    /// 500.
    Fail,
    /// Never.
    Hang,
}

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path.
    pub path: String,
    /// The `Idempotency-Key` header.
    pub key: Option<String>,
    /// The JSON body (`null` if it was not JSON).
    pub body: Value,
    /// Whether it was answered 200.
    pub accepted: bool,
}

#[derive(Debug)]
struct SinkState {
    mode: Mutex<Mode>,
    /// How long it takes to answer.
    latency: Mutex<Duration>,
    received: Mutex<Vec<Received>>,
}

/// A webhook receiver on 127.0.0.1: it records every POST, answering per its [`Mode`].
#[derive(Debug)]
pub struct Sink {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    state: Arc<SinkState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    /// A sink on a port of its own.
    pub async fn start(mode: Mode) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        Self::serve(listener, mode)
    }

    /// A sink on `port` (one reserved with [`free_port`], where nothing listened until now).
    pub async fn start_on(port: u16, mode: Mode) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the sink on its reserved port");
        Self::serve(listener, mode)
    }

    fn serve(listener: TcpListener, mode: Mode) -> Sink {
        let addr = listener.local_addr().expect("sink address");
        let state = Arc::new(SinkState {
            mode: Mutex::new(mode),
            latency: Mutex::new(Duration::ZERO),
            received: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(post(receive))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Sink {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// Changes how it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Takes this long to answer each request from now on (a remote receiver's latency).
    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock().unwrap() = latency;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The requests answered 200 on `path`.
    pub fn accepted(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.accepted && r.path == path)
            .collect()
    }
}

async fn receive(
    State(state): State<Arc<SinkState>>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let latency = *state.latency.lock().unwrap();
    tokio::time::sleep(latency).await;
    let mode = *state.mode.lock().unwrap();
    let received = Received {
        path: uri.path().to_owned(),
        key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        accepted: mode == Mode::Accept,
    };
    state.received.lock().unwrap().push(received);
    match mode {
        Mode::Accept => StatusCode::OK,
        Mode::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Mode::Hang => std::future::pending().await,
    }
}

/// A port where nothing listens (a refused connection), free to [`Sink::start_on`] later.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// How many times each key occurs beyond its first.
pub fn repeats<'a>(keys: impl IntoIterator<Item = &'a str>) -> usize {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for k in keys {
        *seen.entry(k).or_default() += 1;
    }
    seen.values().map(|n| n - 1).sum()
}

/// Waits up to `within` for `check`, polling every 20 ms.
pub async fn eventually(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Anvil's first dev account (unlocked): the sender of the test transfers.
pub const DEV0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Where the test transfers go: the address the monitors watch.
pub const BOB: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/// Anvil on 127.0.0.1 (automining: a block per transaction), killed on drop.
pub struct Anvil {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// A client of it.
    pub rpc: RpcClient,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    /// Starts anvil, or returns `None` when it is missing and `DEFENDER_SKIP_EXTERNAL=1`.
    pub async fn start() -> Option<Anvil> {
        let Some(bin) = defender_testkit::anvil_binary() else {
            if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") {
                eprintln!("skipping: anvil not found");
                return None;
            }
            panic!(
                "anvil not found; install it with scripts/install-anvil.sh or set \
                 DEFENDER_SKIP_EXTERNAL=1"
            );
        };
        let (child, addr) = defender_testkit::spawn_anvil(&bin, &[]).expect("spawn anvil");
        let url = format!("http://{}", addr.expect("anvil did not start"));
        let rpc = RpcClient::new(vec![url.clone()], RetryConfig::default()).expect("rpc client");
        let anvil = Anvil { child, url, rpc };
        for _ in 0..200 {
            if anvil.rpc.request("eth_chainId", json!([])).await.is_ok() {
                return Some(anvil);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("anvil did not answer on {}", anvil.url);
    }

    /// The latest block number.
    pub async fn block_number(&self) -> u64 {
        let n = self
            .rpc
            .request("eth_blockNumber", json!([]))
            .await
            .expect("eth_blockNumber");
        u64::from_str_radix(n.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// Sends 1 wei from [`DEV0`] to [`BOB`] (mined at once); returns the transaction hash,
    /// lowercase.
    pub async fn transfer(&self) -> String {
        let hash = self
            .rpc
            .request(
                "eth_sendTransaction",
                json!([{ "from": DEV0, "to": BOB, "value": "0x1" }]),
            )
            .await
            .expect("eth_sendTransaction");
        hash.as_str().unwrap().to_ascii_lowercase()
    }
}

/// A monitor of every transaction to [`BOB`] on network `local`, with these extra fields.
pub fn monitor_of_transfers_to_bob(extra: Value) -> defender_core::MonitorDefinition {
    let mut def = json!({
        "type": "BLOCK",
        "name": "Transfers to Bob",
        "network": "local",
        "addresses": [BOB],
        "confirmLevel": 0,
    });
    if let (Some(d), Some(e)) = (def.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(def).expect("monitor definition")
}

/// A webhook channel to `url` that tries once per delivery (the engine's outbox retries),
/// waiting up to `timeout` for an answer.
pub fn webhook_channel(url: &str, timeout: Duration) -> Arc<dyn defender_core::Notifier> {
    let ms = timeout.as_millis() as u64;
    let config: defender_notify::WebhookConfig = serde_json::from_value(json!({
        "url": url,
        "retry": {
            "maxAttempts": 1,
            "initialBackoffMs": 10,
            "maxBackoffMs": 10,
            "attemptTimeoutMs": ms,
            "deadlineMs": ms
        }
    }))
    .expect("webhook config");
    Arc::new(defender_notify::WebhookChannel::new(&config).expect("webhook channel"))
}

/// The network `local` on anvil, starting after its current head, polled every 20 ms.
pub async fn anvil_network(anvil: &Anvil) -> defender_engine::NetworkSpec {
    let source = defender_relay::RpcBlockSource::new(anvil.rpc.clone());
    defender_engine::NetworkSpec {
        start: defender_engine::StartAt::Block(anvil.block_number().await + 1),
        poll_interval: Duration::from_millis(20),
        ..defender_engine::NetworkSpec::new("local", Arc::new(source))
    }
}

/// The block number of the checkpoint of network `local` at confirmation level 0, if any.
pub async fn checkpoint(state: &dyn defender_core::state::StateStore) -> Option<u64> {
    use defender_core::state::{Space, StateStoreExt};
    let cp: Value = state
        .get_json(Space::CHECKPOINTS, "local/0")
        .await
        .expect("read the checkpoint")?;
    cp["number"].as_u64()
}

//! The harness shared by defender-host's integration tests: anvil and child processes killed on
//! drop, JSON-RPC and JSON-over-HTTP helpers, bounded polling, an HTTP sink on 127.0.0.1, the
//! demo token, and loading and starting projects; `relayer_api`, the relayer API's own.

// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

pub(crate) mod relayer_api;

use axum::routing::post;
use axum::{Json, Router};
use defender_host::run::{Host, RunOptions};
use defender_host::{Problem, Project};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Anvil's first account (unlocked in anvil): deploys the token and sends transfers.
pub(crate) const DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Anvil's second account's key (public knowledge): the relayer's.
pub(crate) const RELAYER_KEY: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// The address of [`RELAYER_KEY`].
pub(crate) const RELAYER_ADDRESS: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// Anvil's third account, without `0x` and in lower case (as it stands in calldata).
pub(crate) const BOB: &str = "3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
/// The demo ERC-20's artifact (its constructor takes the initial supply).
pub(crate) const TOKEN_ARTIFACT: &str = include_str!("../../../examples/contracts/DemoToken.json");

/// A child process killed (and reaped) on drop.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An anvil node on 127.0.0.1, killed on drop.
pub(crate) struct Anvil {
    /// Its JSON-RPC endpoint.
    pub(crate) url: String,
    _process: KillOnDrop,
}

impl Anvil {
    /// Starts anvil with `args` and waits until it answers JSON-RPC.
    pub(crate) async fn start(args: &[&str]) -> Anvil {
        let bin = defender_testkit::anvil_binary().expect("anvil (scripts/install-test-deps.sh)");
        let (child, addr) = defender_testkit::spawn_anvil(&bin, args).expect("anvil starts");
        let anvil = Anvil {
            _process: KillOnDrop(child),
            url: format!("http://{}", addr.expect("anvil started")),
        };
        let client = reqwest::Client::new();
        let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []});
        wait_for("anvil to answer", async || {
            client.post(&anvil.url).json(&ping).send().await.ok()
        })
        .await;
        anvil
    }
}

/// Calls `method` on the node at `url`; a JSON-RPC error fails the test.
pub(crate) async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("anvil answers")
        .json()
        .await
        .expect("JSON");
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

/// A JSON-RPC quantity (`"0x1f"`) as a number; anything else is 0.
pub(crate) fn number(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0)
}

/// Polls `f` until it gives a value, for at most ~60 s (a failure, not a timing assertion).
pub(crate) async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what}");
}

/// Polls `f` until it holds (see [`wait_for`]).
pub(crate) async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    wait_for(what, async || f().await.then_some(())).await
}

/// The receipt of the transaction `hash`, once mined.
pub(crate) async fn mined(url: &str, hash: &Value) -> Value {
    wait_for(&format!("{hash} to be mined"), async || {
        let r = rpc(url, "eth_getTransactionReceipt", json!([hash])).await;
        (!r.is_null()).then_some(r)
    })
    .await
}

/// Deploys the demo token with `supply` held by [`DEPLOYER`]; returns its address.
pub(crate) async fn deploy_token(anvil: &Anvil, supply: u64) -> String {
    let artifact: Value = serde_json::from_str(TOKEN_ARTIFACT).expect("the artifact is JSON");
    let bytecode = artifact["bytecode"]
        .as_str()
        .expect("the artifact's bytecode");
    let code = format!("{bytecode}{supply:064x}");
    let hash = rpc(
        &anvil.url,
        "eth_sendTransaction",
        json!([{"from": DEPLOYER, "data": code}]),
    )
    .await;
    mined(&anvil.url, &hash).await["contractAddress"]
        .as_str()
        .expect("a deployment's receipt has the contract's address")
        .to_owned()
}

/// Sends `value` of `token` from [`DEPLOYER`] to [`BOB`]; returns the transaction's hash.
pub(crate) async fn transfer(anvil: &Anvil, token: &str, value: u64) -> String {
    let data = format!("0xa9059cbb000000000000000000000000{BOB}{value:064x}");
    let hash = rpc(
        &anvil.url,
        "eth_sendTransaction",
        json!([{"from": DEPLOYER, "to": token, "data": data}]),
    )
    .await;
    hash.as_str().expect("a transaction hash").to_owned()
}

/// An HTTP server on 127.0.0.1 that keeps the JSON bodies posted to it.
#[derive(Clone, Default)]
pub(crate) struct Sink(Arc<Mutex<Vec<Value>>>);

impl Sink {
    /// Starts the sink; returns it and the URL to post to.
    pub(crate) async fn start() -> (Sink, String) {
        let sink = Sink::default();
        let kept = sink.clone();
        let app = Router::new().route(
            "/alerts",
            post(move |Json(body): Json<Value>| {
                let kept = kept.clone();
                async move {
                    kept.0.lock().unwrap().push(body);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (sink, url)
    }

    /// The bodies received so far, in order.
    pub(crate) fn received(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

/// `pairs` as an environment map.
pub(crate) fn env_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The project `name` under `tests/projects`.
pub(crate) fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/projects")
        .join(name)
}

/// A temporary project folder holding `files` (path, text).
pub(crate) fn write_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Problems as `defender-host validate` prints them.
pub(crate) fn lines(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// The project in `dir`, loaded as `defender-host run` would; a problem fails the test.
pub(crate) fn load(dir: &Path, env: &BTreeMap<String, String>) -> Project {
    defender_host::validate(dir, None, env).unwrap_or_else(|e| panic!("{:#?}", lines(&e)))
}

/// Starts `project` in-process on a free port of 127.0.0.1, polling its chains every 100 ms.
pub(crate) async fn start_host(project: &Project, env: &BTreeMap<String, String>) -> Host {
    Host::start(
        project,
        RunOptions::new(env.clone())
            .listen("127.0.0.1:0".parse().unwrap())
            .poll_interval(Duration::from_millis(100)),
    )
    .await
    .expect("the host starts")
}

/// Posts `body` to `url` (with `X-Api-Key: key` if any): the status and the JSON answer (or null).
pub(crate) async fn post_json(url: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    send_json(reqwest::Client::new().post(url).json(&body), key).await
}

/// Gets `url` (with `X-Api-Key: key` if any): the status and the JSON answer (or null).
pub(crate) async fn get_json(url: &str, key: Option<&str>) -> (u16, Value) {
    send_json(reqwest::Client::new().get(url), key).await
}

/// Sends `body` (none when null) to `url` with `method` (with `X-Api-Key: key` if any): the
/// status and the JSON answer (or null).
pub(crate) async fn request_json(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut req = reqwest::Client::new().request(method, url);
    if !body.is_null() {
        req = req.json(&body);
    }
    send_json(req, key).await
}

async fn send_json(mut req: reqwest::RequestBuilder, key: Option<&str>) -> (u16, Value) {
    if let Some(k) = key {
        req = req.header("X-Api-Key", k);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

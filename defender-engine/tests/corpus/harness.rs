//! The world the corpus runs in: anvil with the corpus contracts, two relayers of
//! `defender-relay`, one local HTTP server standing for every third-party service (price API,
//! subgraph, exchange, Datadog, Slack, a signed webhook), and the engine with the QuickJS
//! runtime over Defender's pre-installed packages.

use base64::Engine as _;
use bytes::Bytes;
use defender_core::{NotifierRegistry, RunLimits, RunRecord, RunStatus, Trigger};
use defender_engine::{ActionSpec, Engine};
use defender_relay::{InMemoryRelayerStore, LocalSigner, RelayerConfig, RpcRelayer};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Anvil's first account: deploys the contracts (unlocked on anvil).
pub(crate) const DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Anvil's second account: the key of relayer `main`.
pub(crate) const MAIN_KEY: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// The address of relayer `main`.
pub(crate) const MAIN: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// Anvil's third account: the key of relayer `treasury`.
pub(crate) const TREASURY_KEY: &str =
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// The address of relayer `treasury`.
pub(crate) const TREASURY: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
/// The first contract the deployer creates on a fresh anvil: the keeper (`canExecute()`,
/// `execute()` increments storage slot 0), hand-assembled.
pub(crate) const KEEPER: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const KEEPER_CODE: &str = "0x6034600c60003960346000f360003560e01c806378b9033714601e5780636146195414602957600080fd5b600160005260206000f35b60005460010160005500";
/// The second: the ERC-20 DemoToken (`contracts/DemoToken.json`), 1,000,000 tokens.
pub(crate) const TOKEN: &str = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const TOKEN_ARTIFACT: &str = include_str!("contracts/DemoToken.json");

/// API keys and secrets of the two relayers (`new Relayer({ apiKey, apiSecret })`).
pub(crate) const HOT_API_KEY: &str = "hot-wallet-key-7Qk3";
pub(crate) const HOT_API_SECRET: &str = "hot-wallet-secret-d0a9f1c2";
pub(crate) const TREASURY_API_KEY: &str = "treasury-key-Lw3yH6";
pub(crate) const TREASURY_API_SECRET: &str = "treasury-secret-5gA8sLw3";
/// The exchange's HMAC secret and the webhook channel's signing secret.
pub(crate) const EXCHANGE_SECRET: &str = "exchange-hmac-secret-91f3";
pub(crate) const WEBHOOK_CHANNEL_SECRET: &str = "webhook-channel-secret";
pub(crate) const PARTNER_TOKEN: &str = "partner-token-c81b4e2a";

/// The corpus folder.
pub(crate) fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The `index.js` of a corpus action, as its author wrote it.
pub(crate) fn action_source(name: &str) -> String {
    let path = corpus_dir().join(name).join("index.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn skip_external() -> bool {
    std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1")
}

/// Whether Defender's pre-installed packages and the corpus's npm packages are installed;
/// panics with the fix when they are not, unless `DEFENDER_SKIP_EXTERNAL=1`.
pub(crate) fn packages_ready() -> bool {
    let preinstalled = RuntimeConfig::default_preinstalled().is_some_and(|d| d.is_dir());
    let corpus = corpus_dir().join("node_modules/.bin").is_dir();
    if preinstalled && corpus {
        return true;
    }
    if skip_external() {
        eprintln!("npm packages missing; skipped (DEFENDER_SKIP_EXTERNAL=1)");
        return false;
    }
    panic!(
        "run scripts/install-preinstalled.sh defender-runtime/preinstalled defender-engine/tests/corpus \
         (or scripts/install-test-deps.sh) first, or set DEFENDER_SKIP_EXTERNAL=1"
    );
}

// ---------------------------------------------------------------------------------------------
// anvil

/// An anvil node on 127.0.0.1, killed on drop.
pub(crate) struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub(crate) url: String,
    http: reqwest::Client,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    async fn start() -> Option<Anvil> {
        let Some(bin) = defender_testkit::anvil_binary() else {
            if skip_external() {
                eprintln!("anvil not found; skipped (DEFENDER_SKIP_EXTERNAL=1)");
                return None;
            }
            panic!("anvil not found: run scripts/install-anvil.sh or set DEFENDER_SKIP_EXTERNAL=1");
        };
        let (child, addr) = defender_testkit::spawn_anvil(&bin, &[]).expect("spawn anvil");
        let anvil = Anvil {
            child,
            url: format!("http://{}", addr.expect("anvil did not start")),
            http: reqwest::Client::new(),
        };
        for _ in 0..200 {
            if anvil.rpc("eth_chainId", json!([])).await.is_ok() {
                return Some(anvil);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("anvil did not answer on {}", anvil.url);
    }

    /// One JSON-RPC call: its `result`, or the error object as text.
    pub(crate) async fn rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match answer.get("error") {
            Some(e) => Err(e.to_string()),
            None => Ok(answer["result"].clone()),
        }
    }

    /// The receipt of `hash`, once mined (at most 20 s).
    pub(crate) async fn receipt(&self, hash: &str) -> Value {
        for _ in 0..400 {
            let r = self
                .rpc("eth_getTransactionReceipt", json!([hash]))
                .await
                .unwrap();
            if !r.is_null() {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("transaction {hash} was not mined");
    }

    async fn send_from(&self, from: &str, to: Option<&str>, data: &str) -> Value {
        let mut tx = json!({"from": from, "data": data, "gas": "0x300000"});
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash = self.rpc("eth_sendTransaction", json!([tx])).await.unwrap();
        self.receipt(hash.as_str().unwrap()).await
    }

    /// A quantity the node answers (`eth_getBalance`, `eth_getStorageAt`...), as a u128.
    pub(crate) async fn quantity(&self, method: &str, params: Value) -> u128 {
        let v = self.rpc(method, params).await.unwrap();
        u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// The keeper's counter (its storage slot 0).
    pub(crate) async fn keeper_count(&self) -> u128 {
        self.quantity("eth_getStorageAt", json!([KEEPER, "0x0", "latest"]))
            .await
    }

    /// The ETH balance of `who`, in wei.
    pub(crate) async fn balance(&self, who: &str) -> u128 {
        self.quantity("eth_getBalance", json!([who, "latest"]))
            .await
    }

    /// The DemoToken balance of `who`, in base units.
    pub(crate) async fn token_balance(&self, who: &str) -> u128 {
        let data = format!("0x70a08231{:0>64}", who.trim_start_matches("0x"));
        self.quantity("eth_call", json!([{"to": TOKEN, "data": data}, "latest"]))
            .await
    }

    /// Waits until `check` holds (at most 20 s).
    pub(crate) async fn until(&self, what: &str, mut check: impl AsyncFnMut(&Anvil) -> bool) {
        for _ in 0..400 {
            if check(self).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what}: not seen on chain within 20 s");
    }

    /// Transfers `tokens` whole DemoTokens from the deployer to `to`; the transaction hash.
    pub(crate) async fn transfer_tokens(&self, to: &str, tokens: u128) -> String {
        let value = tokens * 10u128.pow(18);
        let data = format!(
            "0xa9059cbb{:0>64}{:064x}",
            to.trim_start_matches("0x").to_ascii_lowercase(),
            value
        );
        let r = self.send_from(DEPLOYER, Some(TOKEN), &data).await;
        r["transactionHash"].as_str().unwrap().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// The third-party services

/// One request the local server received.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// Method and path.
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    /// Headers, names in lower case.
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Bytes,
    /// Whether its signature verified (HMAC order, signed webhook), where there is one.
    pub(crate) verified: Option<bool>,
}

impl Hit {
    /// The body as JSON (`null` when it is not).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An HTTP server on 127.0.0.1 that answers as the services of the corpus do and records
/// every request.
#[derive(Clone)]
pub(crate) struct Services {
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    /// `127.0.0.1:<port>`, for the fetch allowlist.
    pub(crate) host: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

fn hmac_hex(secret: &str, text: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text);
    hex::encode(mac.finalize().into_bytes())
}

fn answer(hits: &[Hit], hit: &mut Hit) -> (u16, Value) {
    let header = |n: &str| hit.headers.get(n).cloned().unwrap_or_default();
    match hit.path.as_str() {
        // Fails twice, then answers.
        "/flaky/price" => {
            let before = hits.iter().filter(|h| h.path == hit.path).count();
            if before < 2 {
                (503, json!({"error": "upstream unavailable"}))
            } else {
                (200, json!({"symbol": "ETH", "price": 3456.78}))
            }
        }
        "/graphql" => {
            let q = hit.json()["query"].as_str().unwrap_or_default().to_owned();
            if q.contains("pool(id: $id)") {
                (
                    200,
                    json!({"data": {"pool": {"id": hit.json()["variables"]["id"],
                        "token0": {"symbol": "USDC"}, "token1": {"symbol": "WETH"},
                        "totalValueLockedUSD": "250000.5"}}}),
                )
            } else {
                (400, json!({"errors": [{"message": "unknown query"}]}))
            }
        }
        "/api/v3/order" => {
            let mut signed = header("x-timestamp").into_bytes();
            signed.extend_from_slice(b"POST/api/v3/order");
            signed.extend_from_slice(&hit.body);
            let ok = header("x-api-key") == "exchange-key"
                && header("x-signature") == hmac_hex(EXCHANGE_SECRET, &signed);
            hit.verified = Some(ok);
            if ok {
                (200, json!({"orderId": 4242, "status": "NEW"}))
            } else {
                (401, json!({"error": "bad signature"}))
            }
        }
        "/api/v1/series" => (202, json!({"status": "ok"})),
        "/v1/positions" => {
            if header("authorization") == format!("Bearer {PARTNER_TOKEN}") {
                (200, json!([{"market": "ETH-PERP", "size": 2.5}]))
            } else {
                (401, json!({"error": "unauthorized"}))
            }
        }
        "/slack" => (200, json!("ok")),
        "/webhook" => {
            hit.verified = Some(
                defender_notify::verify_signature(
                    WEBHOOK_CHANNEL_SECRET.as_bytes(),
                    &header("defender-timestamp"),
                    &hit.body,
                    &header("defender-signature"),
                    None,
                )
                .is_ok(),
            );
            (200, json!("ok"))
        }
        _ => (404, json!({"error": "not found"})),
    }
}

impl Services {
    async fn start() -> Services {
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let store = hits.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let store = store.clone();
                async move {
                    let mut hit = Hit {
                        method: method.to_string(),
                        path: uri.path().to_owned(),
                        query: uri.query().unwrap_or_default().to_owned(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body,
                        verified: None,
                    };
                    let mut hits = store.lock().unwrap_or_else(|e| e.into_inner());
                    let (status, body) = answer(&hits, &mut hit);
                    hits.push(hit);
                    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Services {
            url: format!("http://{host}"),
            host,
            hits,
        }
    }

    /// The requests received on `path`, in order.
    pub(crate) fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The world

/// anvil with the corpus contracts, the relayers, the services and the engine.
pub(crate) struct World {
    pub(crate) anvil: Anvil,
    pub(crate) services: Services,
    pub(crate) engine: Engine,
    pub(crate) main: Arc<RpcRelayer>,
    pub(crate) treasury: Arc<RpcRelayer>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.engine.shutdown();
        self.main.shutdown();
        self.treasury.shutdown();
    }
}

async fn relayer(anvil: &Anvil, id: &str, key: &str) -> Arc<RpcRelayer> {
    let config = RelayerConfig::new(id, vec![anvil.url.clone()])
        .with_confirmations(1)
        .with_poll_interval(Duration::from_millis(100));
    Arc::new(
        RpcRelayer::start(
            config,
            Arc::new(LocalSigner::from_private_key(key).unwrap()),
            Arc::new(InMemoryRelayerStore::default()),
        )
        .await
        .expect("relayer starts"),
    )
}

/// Generous limits: ethers and web3 load slowly on the published QuickJS in a debug build.
pub(crate) fn limits() -> RunLimits {
    RunLimits {
        timeout: Duration::from_secs(90),
        ..RunLimits::default()
    }
}

impl World {
    /// Starts everything; `None` when anvil or the npm packages are missing and
    /// `DEFENDER_SKIP_EXTERNAL=1`.
    pub(crate) async fn start() -> Option<World> {
        if !packages_ready() {
            return None;
        }
        let anvil = Anvil::start().await?;
        let keeper = anvil.send_from(DEPLOYER, None, KEEPER_CODE).await;
        assert_eq!(
            keeper["contractAddress"].as_str().unwrap(),
            KEEPER.to_ascii_lowercase()
        );
        let artifact: Value = serde_json::from_str(TOKEN_ARTIFACT).unwrap();
        let supply = 1_000_000u128 * 10u128.pow(18);
        let code = format!("{}{supply:064x}", artifact["bytecode"].as_str().unwrap());
        let token = anvil.send_from(DEPLOYER, None, &code).await;
        assert_eq!(
            token["contractAddress"].as_str().unwrap(),
            TOKEN.to_ascii_lowercase()
        );
        anvil.transfer_tokens(MAIN, 1000).await;

        let services = Services::start().await;
        let main = relayer(&anvil, "main", MAIN_KEY).await;
        let treasury = relayer(&anvil, "treasury", TREASURY_KEY).await;
        let notifiers = Arc::new(NotifierRegistry::default());
        let channels: Vec<defender_notify::ChannelDefinition> = serde_json::from_value(json!([
            {"type": "slack", "name": "ops-slack", "config": {"url": format!("{}/slack", services.url)}},
            {"type": "webhook", "name": "ops-webhook",
             "config": {"url": format!("{}/webhook", services.url), "secret": WEBHOOK_CHANNEL_SECRET}}
        ]))
        .unwrap();
        defender_notify::register(&notifiers, &channels).unwrap();
        // The services are on loopback, which the default policy refuses: allowed by name.
        let runtime = QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(&services.host));
        let engine = Engine::builder(Arc::new(runtime))
            .notifiers(notifiers)
            .relayer("main", main.clone())
            .relayer("treasury", treasury.clone())
            .relayer_api_key("main", HOT_API_KEY, HOT_API_SECRET)
            .relayer_api_key("treasury", TREASURY_API_KEY, TREASURY_API_SECRET)
            .limits(limits())
            .build();
        Some(World {
            anvil,
            services,
            engine,
            main,
            treasury,
        })
    }

    /// Registers corpus action `name` (its `index.js`), linked to relayer `main`.
    pub(crate) async fn add(&self, name: &str) {
        self.add_spec(ActionSpec::new(name, name, action_source(name)).relayer("main"))
            .await;
    }

    /// Registers an action.
    pub(crate) async fn add_spec(&self, spec: ActionSpec) {
        self.engine.add_action(spec).await.expect("action added");
    }

    /// Sets the engine's secrets.
    pub(crate) async fn secrets(&self, pairs: &[(&str, &str)]) {
        for (k, v) in pairs {
            self.engine.secrets().put(k, v).await.unwrap();
        }
    }

    /// Runs action `id` by hand with `body`.
    pub(crate) async fn run(&self, id: &str, body: Option<Value>) -> RunRecord {
        self.engine
            .run_action(id, Trigger::Manual, body)
            .await
            .expect("the action runs")
    }
}

/// The logs of a run, as text.
pub(crate) fn logs(run: &RunRecord) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&run.encoded_logs)
        .unwrap_or_default();
    String::from_utf8_lossy(&raw).into_owned()
}

/// The result of a successful run; panics with its message and logs otherwise.
pub(crate) fn success(run: &RunRecord) -> Value {
    assert_eq!(
        run.status,
        RunStatus::Success,
        "{:?}: {:?}\nlogs:\n{}",
        run.error_type,
        run.message,
        logs(run)
    );
    serde_json::from_str(run.result.as_deref().unwrap_or("null")).unwrap()
}

/// The message of a failed run; panics when it succeeded.
pub(crate) fn failure(run: &RunRecord) -> String {
    assert_eq!(
        run.status,
        RunStatus::Error,
        "the run should fail: {:?}\nlogs:\n{}",
        run.result,
        logs(run)
    );
    run.message.clone().unwrap_or_default()
}

/// Runs `node` with `script` in the pre-installed packages' directory: Node's answer.
pub(crate) fn node(script: &str) -> String {
    let dir = RuntimeConfig::default_preinstalled().expect("pre-installed packages");
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .current_dir(dir.parent().unwrap())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Builds a corpus bundle with its bundler (`rollup` or `webpack`, from the corpus's
/// node_modules) into a fresh directory; the files of the bundle.
pub(crate) fn build_bundle(name: &str, bundler: &str) -> BTreeMap<String, Bytes> {
    let dir = corpus_dir().join(name);
    let out = std::env::temp_dir().join(format!("defender-corpus-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let (cli, config) = match bundler {
        "rollup" => ("rollup/dist/bin/rollup", "rollup.config.mjs"),
        _ => ("webpack-cli/bin/cli.js", "webpack.config.js"),
    };
    let status = std::process::Command::new("node")
        .arg(corpus_dir().join("node_modules").join(cli))
        .args(["--config", config])
        .env("CORPUS_OUT", &out)
        .current_dir(&dir)
        .output()
        .expect("node runs the bundler");
    assert!(
        status.status.success(),
        "{bundler} failed: {}{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    let index = std::fs::read(out.join("index.js")).expect("the bundle's index.js");
    let _ = std::fs::remove_dir_all(&out);
    BTreeMap::from([("index.js".to_owned(), Bytes::from(index))])
}

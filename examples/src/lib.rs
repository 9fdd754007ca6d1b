//! Pieces shared by the demo and the end-to-end tests: an anvil node on loopback, the demo
//! token, ABI helpers, and a webhook sink that receives signed notifications.

use alloy_primitives::{Address, U256};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Anvil's first default account (its private key is public knowledge): the demo's relayer.
pub const RELAYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Anvil's second default account.
pub const ALICE: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// Anvil's third default account.
pub const BOB: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/// The demo token's compiled artifact (see `examples/contracts`).
pub const TOKEN_ARTIFACT: &str = include_str!("../contracts/DemoToken.json");

/// An anvil node on 127.0.0.1, killed on drop.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
    /// Its port.
    pub port: u16,
}

impl Anvil {
    /// Starts anvil with automatic mining and waits until it answers.
    pub async fn start() -> Result<Self, String> {
        Self::start_with(&[]).await
    }

    /// Starts anvil with extra arguments and waits until it answers.
    pub async fn start_with(args: &[&str]) -> Result<Self, String> {
        let bin = defender_testkit::anvil_binary()
            .ok_or("anvil not found: run scripts/install-test-deps.sh (npm package @foundry-rs/anvil-linux-amd64)")?;
        let (child, addr) = defender_testkit::spawn_anvil(&bin, args)
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let port = addr
            .as_deref()
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok());
        let mut anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{}", port.unwrap_or(0)),
            port: port.unwrap_or(0),
        };
        if port.is_some() && anvil.wait_ready().await {
            return Ok(anvil);
        }
        Err("anvil did not start".into())
    }

    async fn wait_ready(&mut self) -> bool {
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.rpc("eth_chainId", serde_json::json!([])).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// One JSON-RPC call; returns `result` or the error object as text.
    pub async fn rpc(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: serde_json::Value = reqwest::Client::new()
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
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The creation code of the demo token with a supply of `supply` base units.
pub fn token_creation_code(supply: U256) -> String {
    let artifact: serde_json::Value =
        serde_json::from_str(TOKEN_ARTIFACT).unwrap_or(serde_json::Value::Null);
    let code = artifact["bytecode"].as_str().unwrap_or("0x");
    format!(
        "{code}{}",
        alloy_primitives::hex::encode(supply.to_be_bytes::<32>())
    )
}

/// The demo token's ABI as a JSON string (Defender's `abi` field).
pub fn token_abi() -> String {
    let artifact: serde_json::Value =
        serde_json::from_str(TOKEN_ARTIFACT).unwrap_or(serde_json::Value::Null);
    artifact["abi"].to_string()
}

/// Calldata of `transfer(to, value)`.
pub fn transfer_calldata(to: Address, value: U256) -> String {
    let selector = &alloy_primitives::keccak256("transfer(address,uint256)")[..4];
    let mut data = selector.to_vec();
    data.extend_from_slice(alloy_primitives::B256::left_padding_from(to.as_slice()).as_slice());
    data.extend_from_slice(&value.to_be_bytes::<32>());
    format!("0x{}", alloy_primitives::hex::encode(data))
}

/// `n` whole tokens of 18 decimals.
pub fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// One request the webhook sink received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The JSON body.
    pub body: serde_json::Value,
    /// Whether `Defender-Signature` verified with the shared secret.
    pub signature_ok: bool,
}

/// An HTTP server on 127.0.0.1 that receives signed webhook notifications.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    /// Its URL.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl WebhookSink {
    /// Starts the sink; notifications are verified with `secret`.
    pub async fn start(secret: &'static str) -> std::io::Result<Self> {
        use axum::http::HeaderMap;
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = received.clone();
        let app = axum::Router::new().route(
            "/alerts",
            axum::routing::post(move |headers: HeaderMap, body: bytes::Bytes| {
                let store = store.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let signature_ok = defender_notify::verify_signature(
                        secret.as_bytes(),
                        &header("defender-timestamp"),
                        &body,
                        &header("defender-signature"),
                        None,
                    )
                    .is_ok();
                    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    store
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Received { body, signature_ok });
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/alerts", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(WebhookSink { url, received })
    }

    /// What it received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `timeout`.
pub async fn wait_for<T>(
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Anvil's first default account, unlocked on anvil (the demo's relayer).
pub const DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

impl Anvil {
    /// Sends a transaction from one of anvil's unlocked accounts and waits for its receipt.
    pub async fn send_from(
        &self,
        from: &str,
        to: Option<&str>,
        data: &str,
    ) -> Result<serde_json::Value, String> {
        let mut tx = serde_json::json!({"from": from, "data": data, "gas": "0x200000"});
        if let Some(to) = to {
            tx["to"] = serde_json::json!(to);
        }
        let hash = self
            .rpc("eth_sendTransaction", serde_json::json!([tx]))
            .await?;
        let receipt = wait_for(Duration::from_secs(10), async || {
            let r = self
                .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
                .await
                .ok()?;
            (!r.is_null()).then_some(r)
        })
        .await;
        receipt.ok_or_else(|| format!("transaction {hash} was not mined"))
    }

    /// Deploys the demo token from [`DEPLOYER`] with 1,000,000 tokens; returns its address.
    pub async fn deploy_token(&self) -> Result<String, String> {
        let receipt = self
            .send_from(DEPLOYER, None, &token_creation_code(tokens(1_000_000)))
            .await?;
        receipt["contractAddress"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no contract address".to_string())
    }

    /// Transfers `amount` whole tokens from [`DEPLOYER`] to `to`; returns the transaction hash.
    pub async fn transfer(&self, token: &str, to: &str, amount: u64) -> Result<String, String> {
        let to: Address = to.parse().map_err(|e| format!("{e}"))?;
        let receipt = self
            .send_from(
                DEPLOYER,
                Some(token),
                &transfer_calldata(to, tokens(amount)),
            )
            .await?;
        receipt["transactionHash"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no transaction hash".to_string())
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64, String> {
        let n = self.rpc("eth_blockNumber", serde_json::json!([])).await?;
        u64::from_str_radix(n.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)
            .map_err(|e| e.to_string())
    }
}

//! Test fixtures: a real anvil on a free 127.0.0.1 port, and local HTTP servers in front of it
//! or in its place (`servers`).

#![allow(dead_code, unreachable_pub)]

pub mod servers;

use defender_relay::{RetryConfig, RpcClient};
use serde_json::{json, Value};
use std::process::Child;
use std::time::Duration;

/// Anvil's first default account (funded).
pub const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Anvil's second default account (funded); its address is [`OTHER`].
pub const KEY2: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// Anvil's third default account (funded); its address is [`ADDRESS3`].
pub const KEY3: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// The address of [`KEY2`]: where test transfers go.
pub const OTHER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// The address of [`KEY3`].
pub const ADDRESS3: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/// A 127.0.0.1 port that nothing listens on (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A running anvil, killed on drop.
pub struct Anvil {
    child: Child,
    pub url: String,
    pub rpc: RpcClient,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    /// Starts anvil with extra arguments; `None` when anvil is missing and
    /// `DEFENDER_SKIP_EXTERNAL=1`. Panics when it is missing otherwise.
    pub async fn start(args: &[&str]) -> Option<Anvil> {
        let Some(bin) = defender_testkit::anvil_binary() else {
            if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") {
                eprintln!("anvil not found; skipped (DEFENDER_SKIP_EXTERNAL=1)");
                return None;
            }
            panic!("anvil not found on PATH: run scripts/install-anvil.sh (or set DEFENDER_SKIP_EXTERNAL=1)");
        };
        let (child, addr) = defender_testkit::spawn_anvil(&bin, args).expect("spawn anvil");
        let url = format!("http://{}", addr.expect("anvil did not start"));
        let rpc = RpcClient::new(vec![url.clone()], quick_retry()).expect("client");
        let anvil = Anvil { child, url, rpc };
        for _ in 0..200 {
            if anvil.rpc.request("eth_chainId", json!([])).await.is_ok() {
                return Some(anvil);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("anvil did not start");
    }

    /// Calls `method` on anvil; panics with the method's name when it fails.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.rpc.request(method, params).await.expect(method)
    }

    /// Mines `blocks` blocks at once.
    pub async fn mine(&self, blocks: u64) {
        for _ in 0..blocks {
            self.call("evm_mine", json!([])).await;
        }
    }

    /// Sets the balance of `address` to `wei`.
    pub async fn set_balance(&self, address: &str, wei: u128) {
        self.call("anvil_setBalance", json!([address, format!("{wei:#x}")]))
            .await;
    }

    /// The transaction count of `address` at block `tag` (`latest`, `pending`).
    pub async fn nonce(&self, address: &str, tag: &str) -> u64 {
        let v = self
            .call("eth_getTransactionCount", json!([address, tag]))
            .await;
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
}

/// Retries that give up quickly: two rounds, 20 ms apart.
pub fn quick_retry() -> RetryConfig {
    RetryConfig {
        rounds: 2,
        backoff: Duration::from_millis(20),
        request_timeout: Duration::from_secs(10),
    }
}

/// Waits (polling the relayer's lifecycle) until `cond` holds, for at most ~20 s.
pub async fn wait_for<F, Fut>(mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

//! Test fixtures: a real anvil on a free 127.0.0.1 port, and tiny failing JSON-RPC servers.

#![allow(dead_code, unreachable_pub)]

use defender_relay::{RetryConfig, RpcClient};
use serde_json::{json, Value};
use std::process::Child;
use std::time::Duration;

pub const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const KEY2: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const OTHER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

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

    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.rpc.request(method, params).await.expect(method)
    }

    pub async fn mine(&self, blocks: u64) {
        for _ in 0..blocks {
            self.call("evm_mine", json!([])).await;
        }
    }

    pub async fn nonce(&self, address: &str, tag: &str) -> u64 {
        let v = self
            .call("eth_getTransactionCount", json!([address, tag]))
            .await;
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
}

pub fn quick_retry() -> RetryConfig {
    RetryConfig {
        rounds: 2,
        backoff: Duration::from_millis(20),
        request_timeout: Duration::from_secs(10),
    }
}

/// A JSON-RPC server on 127.0.0.1 that always answers with `status` and `body`; returns its
/// URL and a counter of requests it received.
pub async fn failing_server(
    status: u16,
    body: Value,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::http::StatusCode;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let h = h.clone();
            let body = body.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, hits)
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

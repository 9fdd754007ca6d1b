//! The `min-balance` watch against a real anvil: one alert when a send takes the balance below
//! the minimum, none while it stays there however often it is read, another after it went
//! back above and fell again.

mod common;

use alloy_primitives::U256;
use async_trait::async_trait;
use common::*;
use defender_core::wire::{TxRequest, TxStatus};
use defender_core::{Message, Metric, Notifier, NotifyError, Relayer};
use defender_relay::{
    BalanceWatch, BalanceWatchConfig, InMemoryRelayerStore, LocalSigner, RelayerConfig,
    ResubmitAfter, RpcRelayer,
};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Anvil's fourth account, with the balance the test gives it.
const KEY4: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const ADDRESS4: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const ETH: u128 = 1_000_000_000_000_000_000;

/// A channel that keeps what it is sent.
#[derive(Debug, Default)]
struct Inbox(Mutex<Vec<Message>>);

impl Inbox {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[async_trait]
impl Notifier for Inbox {
    fn kind(&self) -> &str {
        "inbox"
    }
    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
    async fn send_metric(&self, _: &Metric) -> Result<(), NotifyError> {
        Err(NotifyError::Unsupported {
            channel: "inbox".into(),
            what: "metrics",
        })
    }
}

/// A JSON-RPC proxy to `upstream` that counts `eth_getBalance` requests.
async fn balance_counting_proxy(upstream: String) -> (String, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let count = reads.clone();
    let http = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (http, upstream, count) = (http.clone(), upstream.clone(), count.clone());
            async move {
                let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let methods: Vec<Value> = match req {
                    Value::Array(items) => items.iter().map(|r| r["method"].clone()).collect(),
                    one => vec![one["method"].clone()],
                };
                let n = methods.iter().filter(|m| *m == "eth_getBalance").count();
                count.fetch_add(n, Ordering::SeqCst);
                let answer = http
                    .post(&upstream)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("upstream")
                    .bytes()
                    .await
                    .expect("upstream body");
                ([("content-type", "application/json")], answer.to_vec())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, reads)
}

fn transfer(value: u128) -> TxRequest {
    serde_json::from_value(json!({
        "to": OTHER, "value": value.to_string(), "speed": "fast", "gasLimit": 21000
    }))
    .unwrap()
}

async fn set_balance(anvil: &Anvil, wei: u128) {
    anvil
        .call("anvil_setBalance", json!([ADDRESS4, format!("{wei:#x}")]))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_per_crossing_below_the_minimum() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    set_balance(&anvil, 2 * ETH).await;
    let (url, reads) = balance_counting_proxy(anvil.url.clone()).await;
    let config = RelayerConfig::new("low", vec![url])
        .with_name("Low relayer")
        .with_network("anvil")
        .with_retry(quick_retry())
        .with_poll_interval(Duration::from_millis(100))
        .with_confirmations(1)
        .with_resubmit_after(ResubmitAfter::all(Duration::from_secs(3600)));
    let relayer = Arc::new(
        RpcRelayer::start(
            config,
            Arc::new(LocalSigner::from_private_key(KEY4).unwrap()),
            Arc::new(InMemoryRelayerStore::default()),
        )
        .await
        .unwrap(),
    );
    let inbox = Arc::new(Inbox::default());
    let watch = BalanceWatch::start(
        &relayer,
        BalanceWatchConfig::new(U256::from(ETH))
            .with_interval(Duration::from_millis(50))
            .with_channel("inbox", inbox.clone() as Arc<dyn Notifier>),
    );
    // Read a few times above the minimum: nothing sent.
    let start = reads.load(Ordering::SeqCst);
    assert!(wait_for(|| async { reads.load(Ordering::SeqCst) >= start + 3 }).await);
    assert_eq!(inbox.len(), 0);
    assert!(!watch.is_below());

    // A send takes it below: one alert, naming the relayer and the amounts.
    let tx = relayer
        .send_transaction(transfer(3 * ETH / 2))
        .await
        .unwrap();
    assert!(wait_for(|| async { inbox.len() == 1 }).await, "alerted");
    assert!(watch.is_below());
    {
        let m = &inbox.0.lock().unwrap()[0];
        assert_eq!(m.subject, "Relayer Low relayer is low on funds");
        assert!(m.body.contains(ADDRESS4), "{}", m.body);
        assert!(m.body.contains("1000000000000000000 wei"), "{}", m.body);
    }
    let r = relayer.clone();
    let id = tx.transaction_id.clone();
    assert!(
        wait_for(|| async {
            matches!(
                r.get_transaction(&id).await.unwrap().status,
                TxStatus::Mined | TxStatus::Confirmed
            )
        })
        .await
    );
    // Still below, read many more times, and after another send: no second alert.
    relayer.send_transaction(transfer(1)).await.unwrap();
    let later = reads.load(Ordering::SeqCst);
    assert!(wait_for(|| async { reads.load(Ordering::SeqCst) >= later + 5 }).await);
    assert_eq!(inbox.len(), 1, "not alerted again while still below");

    // Back above (funded), then below again: alerted again.
    set_balance(&anvil, 3 * ETH).await;
    assert!(wait_for(|| async { !watch.is_below() }).await, "recovered");
    assert_eq!(inbox.len(), 1);
    set_balance(&anvil, ETH / 10).await;
    assert!(
        wait_for(|| async { inbox.len() == 2 }).await,
        "alerted again"
    );
    assert!(watch.is_below());
    drop(watch);
}

//! Helpers of the relayer tests (`relay.rs`, `relay_sending.rs`): a relayer on anvil with
//! quick retries and polling, transaction requests, and waits on a transaction's status.
#![allow(dead_code, unreachable_pub)]

use crate::common::{quick_retry, wait_for, Anvil, KEY, OTHER};
use defender_core::wire::{TxRequest, TxStatus};
use defender_core::{Clock, Relayer, SystemClock};
use defender_relay::{
    InMemoryRelayerStore, LocalSigner, RelayerConfig, RelayerStore, ResubmitAfter, RpcRelayer,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub fn config(urls: Vec<String>) -> RelayerConfig {
    RelayerConfig::new("test-relayer", urls)
        .with_network("anvil")
        .with_retry(quick_retry())
        .with_poll_interval(Duration::from_millis(100))
        .with_confirmations(2)
        .with_resubmit_after(ResubmitAfter::all(Duration::from_secs(3600)))
}

pub async fn start(cfg: RelayerConfig) -> RpcRelayer {
    start_with(
        cfg,
        KEY,
        Arc::new(InMemoryRelayerStore::default()),
        Arc::new(SystemClock),
    )
    .await
}

pub async fn start_with(
    cfg: RelayerConfig,
    key: &str,
    store: Arc<dyn RelayerStore>,
    clock: Arc<dyn Clock>,
) -> RpcRelayer {
    let signer = LocalSigner::from_private_key(key).expect("key");
    RpcRelayer::start_with_clock(cfg, Arc::new(signer), store, clock)
        .await
        .expect("relayer starts")
}

pub fn req(v: Value) -> TxRequest {
    serde_json::from_value(v).expect("request parses")
}

pub fn transfer(value: u64) -> TxRequest {
    req(json!({"to": OTHER, "value": value, "speed": "fast", "gasLimit": 21000}))
}

pub async fn status_of(r: &RpcRelayer, id: &str) -> TxStatus {
    r.get_transaction(id).await.expect("known").status
}

pub async fn wait_status(r: &RpcRelayer, id: &str, want: TxStatus) -> bool {
    wait_for(|| async { status_of(r, id).await == want }).await
}

pub async fn chain_tx(anvil: &Anvil, hash: &str) -> Value {
    anvil.call("eth_getTransactionByHash", json!([hash])).await
}

pub fn hexnum(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

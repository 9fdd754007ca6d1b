//! Helpers of the relayer tests: a relayer on anvil with quick retries and polling, transaction
//! requests, waits on a transaction's status, and what the chain says of a transaction.
#![allow(dead_code, unreachable_pub)]

use crate::common::{quick_retry, wait_for, Anvil, KEY, OTHER};
use alloy_primitives::{Address, Signature};
use defender_core::wire::{TxRequest, TxStatus};
use defender_core::{Clock, Relayer};
use defender_relay::{
    InMemoryRelayerStore, LocalSigner, RelayerConfig, RelayerSigner, RelayerStore, ResubmitAfter,
    RpcRelayer,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the relayer `relayer_id` on anvil: quick retries, polling every 100 ms, and no
/// resubmission within a test. Confirmations are left to the test.
pub fn config_for(relayer_id: &str, urls: Vec<String>) -> RelayerConfig {
    RelayerConfig::new(relayer_id, urls)
        .with_network("anvil")
        .with_retry(quick_retry())
        .with_poll_interval(Duration::from_millis(100))
        .with_resubmit_after(ResubmitAfter::all(Duration::from_secs(3600)))
}

/// [`config_for`] `test-relayer`, confirmed after two blocks.
pub fn config(urls: Vec<String>) -> RelayerConfig {
    config_for("test-relayer", urls).with_confirmations(2)
}

/// Starts a relayer signing with [`KEY`], its state in memory, on the system clock.
pub async fn start(cfg: RelayerConfig) -> RpcRelayer {
    start_keyed(cfg, KEY).await
}

/// Starts a relayer signing with the private key `key`, its state in memory, on the system
/// clock.
pub async fn start_keyed(cfg: RelayerConfig, key: &str) -> RpcRelayer {
    let signer = LocalSigner::from_private_key(key).expect("key");
    start_signed(cfg, Arc::new(signer)).await
}

/// Starts a relayer signing with `signer`, its state in memory, on the system clock.
pub async fn start_signed(cfg: RelayerConfig, signer: impl Into<RelayerSigner>) -> RpcRelayer {
    RpcRelayer::start(cfg, signer, Arc::new(InMemoryRelayerStore::default()))
        .await
        .expect("relayer starts")
}

/// Starts a relayer signing with the private key `key`, its state in `store`, on `clock`.
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

/// A transaction request from its JSON, as an action sends it.
pub fn req(v: Value) -> TxRequest {
    serde_json::from_value(v).expect("request parses")
}

/// A fast transfer of `value` wei to [`OTHER`].
pub fn transfer(value: u64) -> TxRequest {
    req(json!({"to": OTHER, "value": value, "speed": "fast", "gasLimit": 21000}))
}

/// The status of the relayer's transaction `id`; panics when the relayer does not know it.
pub async fn status_of(r: &RpcRelayer, id: &str) -> TxStatus {
    r.get_transaction(id).await.expect("known").status
}

/// Waits until the relayer's transaction `id` is `want`; `false` when it never is.
pub async fn wait_status(r: &RpcRelayer, id: &str, want: TxStatus) -> bool {
    wait_for(|| async { status_of(r, id).await == want }).await
}

/// Waits until the transaction `id` of `relayer` (a relayer or a group) is mined or confirmed;
/// `false` when it never is.
pub async fn wait_mined<R: Relayer + ?Sized>(relayer: &R, id: &str) -> bool {
    wait_for(|| async {
        matches!(
            relayer.get_transaction(id).await.map(|t| t.status),
            Ok(TxStatus::Mined | TxStatus::Confirmed)
        )
    })
    .await
}

/// The transaction `hash` as anvil has it (`null` when it has none).
pub async fn chain_tx(anvil: &Anvil, hash: &str) -> Value {
    anvil.call("eth_getTransactionByHash", json!([hash])).await
}

/// The account that sent the transaction `hash`, as anvil has it.
pub async fn sender_of(anvil: &Anvil, hash: &str) -> Address {
    chain_tx(anvil, hash).await["from"]
        .as_str()
        .expect("a sender")
        .parse()
        .expect("an address")
}

/// The signature of a relayer's `sign`/`signTypedData` answer (`sig`, 0x-hex).
pub fn signature(sig: &str) -> Signature {
    sig.parse::<alloy_primitives::Bytes>().expect("hex")[..]
        .try_into()
        .expect("a 65-byte signature")
}

/// A JSON-RPC quantity (`0x` hex) as a number.
pub fn hexnum(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

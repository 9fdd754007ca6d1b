//! The relayer's transaction lifecycle against a real anvil: nonces, statuses, resubmission,
//! repricing, replacement and cancellation, restart from the store; and the block source
//! (what a relayer's send goes through: `relay_sending.rs`).

mod common;
mod relay_support;

use alloy_primitives::Address;
use common::servers::*;
use common::*;
use defender_core::wire::{ListTransactionsQuery, TxStatus};
use defender_core::{
    BlockSource, BlockTag, Clock, InMemoryKvStore, KvStore, ManualClock, Relayer, RelayerError,
    SystemClock,
};
use defender_relay::{
    InMemoryRelayerStore, KvRelayerStore, LocalSigner, RelayerStore, ResubmitAfter, RpcBlockSource,
    RpcClient,
};
use relay_support::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn concurrent_sends_get_contiguous_nonces_and_all_mine() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    // The durable default: state in a KvStore.
    let kv: Arc<dyn KvStore> = Arc::new(InMemoryKvStore::default());
    // Resubmission after 5 s, as a relayer in production would after its speed's wait: about
    // once in a hundred runs on a loaded machine, anvil files the transaction at the account's
    // nonce among its queued ones when a hundred arrive out of order at once, and never mines
    // it (mining a block does not promote it; rebroadcasting it is "already known"). The
    // resubmission, with bumped fees, replaces it in the pool and gets it mined.
    let relayer = Arc::new(
        start_with(
            config(vec![anvil.url.clone()])
                .with_resubmit_after(ResubmitAfter::all(Duration::from_secs(5))),
            KEY,
            Arc::new(KvRelayerStore::new(kv.clone(), "concurrent")),
            Arc::new(SystemClock),
        )
        .await,
    );
    let from = relayer.address().to_checksum(None);
    let start_nonce = relayer.next_nonce().await;
    let sends = (0..100).map(|i| {
        let r = relayer.clone();
        tokio::spawn(async move { r.send_transaction(transfer(i + 1)).await })
    });
    let mut txs = Vec::new();
    for s in futures::future::join_all(sends).await {
        txs.push(s.expect("task").expect("send"));
    }
    let mut nonces: Vec<u64> = txs.iter().map(|t| t.nonce).collect();
    nonces.sort_unstable();
    assert_eq!(nonces, (start_nonce..start_nonce + 100).collect::<Vec<_>>());
    let ids: std::collections::HashSet<_> = txs.iter().map(|t| &t.transaction_id).collect();
    assert_eq!(ids.len(), 100);
    // Every transaction is mined and the chain's nonce moved by exactly 100: no gap, no dup.
    assert!(
        wait_for(|| async { anvil.nonce(&from, "latest").await == start_nonce + 100 }).await,
        "chain nonce is {}",
        anvil.nonce(&from, "latest").await
    );
    for t in &txs {
        assert!(
            wait_for(|| async {
                status_of(&relayer, &t.transaction_id).await != TxStatus::Submitted
                    && status_of(&relayer, &t.transaction_id).await != TxStatus::Inmempool
            })
            .await
        );
    }
    anvil.mine(3).await;
    for t in &txs {
        assert!(wait_status(&relayer, &t.transaction_id, TxStatus::Confirmed).await);
    }
    let status = relayer.get_relayer_status().await.expect("status");
    assert_eq!(status.nonce, start_nonce + 100);
    assert_eq!(kv.list("relayer/concurrent/tx/").await.unwrap().len(), 100);
    assert_eq!(
        kv.get("relayer/concurrent/nonce").await.unwrap(),
        Some((start_nonce + 100).to_string())
    );
    assert_eq!(status.number_of_pending_transactions, 0);
}

#[tokio::test]
async fn lifecycle_statuses_are_observable_until_confirmed() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    let relayer = start(config(vec![anvil.url.clone()])).await;
    let mut events = relayer.subscribe();
    let tx = relayer.send_transaction(transfer(5)).await.expect("send");
    assert_eq!(tx.status, TxStatus::Submitted);
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Inmempool).await);
    anvil.mine(1).await;
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    anvil.mine(2).await;
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Confirmed).await);
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.transaction_id == tx.transaction_id {
            seen.push(e.status);
        }
    }
    assert_eq!(
        seen,
        vec![
            TxStatus::Sent,
            TxStatus::Submitted,
            TxStatus::Inmempool,
            TxStatus::Mined,
            TxStatus::Confirmed
        ]
    );
    // The JSON that JavaScript sees.
    let js =
        serde_json::to_value(relayer.get_transaction(&tx.transaction_id).await.unwrap()).unwrap();
    assert_eq!(js["status"], "confirmed");
    assert_eq!(js["speed"], "fast");
    assert!(js["maxFeePerGas"].is_number() && js["maxPriorityFeePerGas"].is_number());
}

#[tokio::test]
async fn stuck_transaction_is_resubmitted_with_higher_fees_then_mined() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    let cfg = config(vec![anvil.url.clone()])
        .with_resubmit_after(ResubmitAfter::all(Duration::from_millis(300)));
    let relayer = start(cfg).await;
    let first = relayer.send_transaction(transfer(7)).await.expect("send");
    let id = first.transaction_id.clone();
    assert!(
        wait_for(|| async { relayer.transaction_hashes(&id).unwrap().len() >= 2 }).await,
        "never resubmitted"
    );
    let now = relayer.get_transaction(&id).await.unwrap();
    assert_eq!(now.transaction_id, id);
    assert_eq!(now.nonce, first.nonce);
    assert_ne!(now.hash, first.hash);
    let (f0, p0) = (
        first.max_fee_per_gas.unwrap(),
        first.max_priority_fee_per_gas.unwrap(),
    );
    let (f1, p1) = (
        now.max_fee_per_gas.unwrap(),
        now.max_priority_fee_per_gas.unwrap(),
    );
    assert!(
        f1 >= f0 + f0 / 10 && p1 >= p0 + p0 / 10,
        "{f0}/{p0} -> {f1}/{p1}"
    );
    // Stop resubmitting, then mine: the latest submission is the one mined.
    relayer.shutdown();
    let latest = relayer.get_transaction(&id).await.unwrap();
    anvil.mine(1).await;
    relayer.poll_now().await.expect("poll");
    let mined = relayer.get_transaction(&id).await.unwrap();
    assert_eq!(mined.status, TxStatus::Mined);
    assert_eq!(mined.hash, latest.hash);
    let onchain = anvil
        .call("eth_getTransactionReceipt", json!([mined.hash]))
        .await;
    assert_eq!(onchain["status"], "0x1");
}

#[tokio::test]
async fn fee_too_low_is_repriced_at_the_same_nonce_then_mined() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let relayer = start(config(vec![anvil.url.clone()])).await;
    // Prime the fee estimate (cached for a second), then the base fee jumps to 100 gwei: the
    // cached price is now too low and the node refuses it.
    let first = relayer.send_transaction(transfer(1)).await.expect("send");
    assert!(wait_status(&relayer, &first.transaction_id, TxStatus::Mined).await);
    let hundred_gwei = 100_000_000_000u128;
    anvil
        .call(
            "anvil_setNextBlockBaseFeePerGas",
            json!([format!("{hundred_gwei:#x}")]),
        )
        .await;
    let tx = relayer.send_transaction(transfer(2)).await.expect("send");
    assert_eq!(tx.nonce, first.nonce + 1);
    let hashes = relayer.transaction_hashes(&tx.transaction_id).unwrap();
    assert!(hashes.len() >= 2, "repriced: {hashes:?}");
    assert!(tx.max_fee_per_gas.unwrap() >= hundred_gwei);
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    let mined = relayer.get_transaction(&tx.transaction_id).await.unwrap();
    assert_eq!(&mined.hash, hashes.last().unwrap());
    // A caller-fixed fee below the base fee is the caller's error: refused, nonce given back.
    let low = relayer
        .send_transaction(req(json!({
            "to": OTHER, "value": 1, "gasLimit": 21000,
            "maxFeePerGas": "2000000000", "maxPriorityFeePerGas": "1000000000"
        })))
        .await;
    assert!(matches!(low, Err(RelayerError::Rpc { .. })), "{low:?}");
    let next = relayer.send_transaction(transfer(3)).await.expect("send");
    assert_eq!(
        next.nonce,
        tx.nonce + 1,
        "no gap after a refused transaction"
    );
    assert!(wait_status(&relayer, &next.transaction_id, TxStatus::Mined).await);
}

#[tokio::test]
async fn past_valid_until_is_replaced_by_a_noop_at_the_same_nonce() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let relayer = start_with(
        config(vec![anvil.url.clone()]),
        KEY,
        Arc::new(InMemoryRelayerStore::default()),
        clock.clone(),
    )
    .await;
    relayer.shutdown(); // drive the lifecycle by hand
    let valid_until = (clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let tx = relayer
        .send_transaction(req(json!({
            "to": OTHER, "value": "1000", "speed": "average", "gasLimit": 50000,
            "validUntil": valid_until
        })))
        .await
        .expect("send");
    relayer.poll_now().await.unwrap();
    assert_eq!(
        status_of(&relayer, &tx.transaction_id).await,
        TxStatus::Inmempool
    );
    clock.advance(chrono::Duration::hours(2));
    relayer.poll_now().await.unwrap();
    let expired = relayer.get_transaction(&tx.transaction_id).await.unwrap();
    assert_eq!(expired.status, TxStatus::Expired);
    assert_ne!(expired.hash, tx.hash);
    let noop = chain_tx(&anvil, &expired.hash).await;
    let me = relayer.address();
    assert_eq!(noop["to"].as_str().unwrap().parse::<Address>().unwrap(), me);
    assert_eq!(noop["value"], "0x0");
    assert_eq!(noop["nonce"].as_str().unwrap(), format!("{:#x}", tx.nonce));
    assert!(hexnum(&noop["maxFeePerGas"]) >= tx.max_fee_per_gas.unwrap() * 11 / 10);
    anvil.mine(1).await;
    relayer.poll_now().await.unwrap();
    let receipt = anvil
        .call("eth_getTransactionReceipt", json!([expired.hash]))
        .await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        anvil.nonce(&me.to_checksum(None), "latest").await,
        tx.nonce + 1
    );
    assert_eq!(
        status_of(&relayer, &tx.transaction_id).await,
        TxStatus::Expired
    );
    // The original transfer never happened.
    let original = anvil
        .call("eth_getTransactionReceipt", json!([tx.hash]))
        .await;
    assert!(original.is_null());
}

#[tokio::test]
async fn restart_resumes_nonces_and_tracking_from_the_kv_store() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    let kv: Arc<dyn KvStore> = Arc::new(InMemoryKvStore::default());
    let store = || -> Arc<dyn RelayerStore> { Arc::new(KvRelayerStore::new(kv.clone(), "r1")) };
    let cfg = config(vec![anvil.url.clone()]);
    let first = start_with(cfg.clone(), KEY, store(), Arc::new(SystemClock)).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(first.send_transaction(transfer(i + 1)).await.expect("send"));
    }
    let next = first.next_nonce().await;
    drop(first);
    assert_eq!(
        kv.get("relayer/r1/nonce").await.unwrap().as_deref(),
        Some(next.to_string().as_str())
    );
    let second = start_with(cfg, KEY, store(), Arc::new(SystemClock)).await;
    assert_eq!(second.next_nonce().await, next);
    for t in &ids {
        let again = second
            .get_transaction(&t.transaction_id)
            .await
            .expect("still tracked");
        assert_eq!(again.nonce, t.nonce);
    }
    let fourth = second.send_transaction(transfer(9)).await.expect("send");
    assert_eq!(fourth.nonce, next);
    anvil.mine(1).await;
    for t in ids.iter().chain([&fourth]) {
        assert!(wait_status(&second, &t.transaction_id, TxStatus::Mined).await);
    }
    let listed = second
        .list_transactions(ListTransactionsQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(
        listed[0].transaction_id, fourth.transaction_id,
        "newest first"
    );
}

#[tokio::test]
async fn nonce_resyncs_when_the_key_is_used_elsewhere() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let relayer = start(config(vec![anvil.url.clone()])).await;
    let a = relayer.send_transaction(transfer(1)).await.expect("send");
    // Another client uses the same key: the relayer's next nonce is now too low.
    let other = start(config(vec![anvil.url.clone()])).await;
    let b = other.send_transaction(transfer(2)).await.expect("send");
    assert_eq!(b.nonce, a.nonce + 1);
    // Mined, so that the relayer's next nonce is too low rather than a replacement of `b`
    // (on a loaded machine anvil may still hold `b` in its pool).
    assert!(wait_status(&other, &b.transaction_id, TxStatus::Mined).await);
    let c = relayer.send_transaction(transfer(3)).await.expect("send");
    assert_eq!(c.nonce, a.nonce + 2, "resynchronised after nonce too low");
    assert!(wait_status(&relayer, &c.transaction_id, TxStatus::Mined).await);
}

#[tokio::test]
async fn replace_by_id_by_nonce_and_cancel() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    let relayer = start(config(vec![anvil.url.clone()])).await;
    let a = relayer.send_transaction(transfer(1)).await.expect("send");
    let b = relayer.send_transaction(transfer(2)).await.expect("send");
    let c = relayer.send_transaction(transfer(3)).await.expect("send");
    let ra = relayer
        .replace_transaction_by_id(&a.transaction_id, transfer(100))
        .await
        .expect("replace by id");
    assert_eq!(
        (ra.transaction_id.as_str(), ra.nonce),
        (a.transaction_id.as_str(), a.nonce)
    );
    assert_ne!(ra.hash, a.hash);
    assert_eq!(ra.value.to_string(), "100");
    let rb = relayer
        .replace_transaction_by_nonce(b.nonce, transfer(200))
        .await
        .expect("replace by nonce");
    assert_eq!(rb.transaction_id, b.transaction_id);
    let cc = relayer
        .cancel_transaction_by_id(&c.transaction_id)
        .await
        .expect("cancel");
    assert_eq!(cc.nonce, c.nonce);
    assert_eq!(
        cc.to.as_deref().unwrap().parse::<Address>().unwrap(),
        relayer.address()
    );
    anvil.mine(1).await;
    for (t, value) in [(&ra, "0x64"), (&rb, "0xc8"), (&cc, "0x0")] {
        assert!(wait_status(&relayer, &t.transaction_id, TxStatus::Mined).await);
        let mined = relayer.get_transaction(&t.transaction_id).await.unwrap();
        assert_eq!(chain_tx(&anvil, &mined.hash).await["value"], value);
    }
    // A mined transaction cannot be replaced; the error says why.
    match relayer
        .replace_transaction_by_id(&a.transaction_id, transfer(5))
        .await
    {
        Err(e @ RelayerError::NotReplaceable { status, .. }) => {
            assert!(matches!(status, TxStatus::Mined | TxStatus::Confirmed));
            assert!(e.to_string().contains(&format!("is {status} and")), "{e}");
        }
        other => panic!("expected not replaceable, got {other:?}"),
    }
    assert!(matches!(
        relayer.replace_transaction_by_nonce(999, transfer(5)).await,
        Err(RelayerError::NotFound(_))
    ));
}

#[tokio::test]
async fn block_source_reads_blocks_receipts_logs_and_heads() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let relayer = start(config(vec![anvil.url.clone()])).await;
    // A deployment whose constructor emits one empty log (PUSH1 0 PUSH1 0 LOG0 STOP).
    let deploy = relayer
        .send_transaction(req(json!({"data": "0x60006000a000", "speed": "fast"})))
        .await
        .expect("deploy");
    let transfer_tx = relayer.send_transaction(transfer(1)).await.expect("send");
    assert!(wait_status(&relayer, &transfer_tx.transaction_id, TxStatus::Mined).await);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let source =
        RpcBlockSource::new(RpcClient::new(vec![dead, anvil.url.clone()], quick_retry()).unwrap());
    assert_eq!(source.chain_id().await.unwrap(), 31337);
    let n = source
        .transaction_block(deploy.hash.parse().unwrap())
        .await
        .unwrap()
        .expect("mined");
    let block = source.block(n).await.unwrap().expect("block");
    let tx = block
        .transactions
        .iter()
        .find(|t| format!("{:#x}", t.hash) == deploy.hash)
        .expect("deployment in its block");
    assert!(tx.to.is_none());
    assert!(tx.receipt.success);
    assert_eq!(tx.receipt.logs.len(), 1);
    let created = tx.receipt.contract_address.expect("contract address");
    assert_eq!(tx.receipt.logs[0].address, created);
    assert_eq!(tx.from, relayer.address());
    let latest = source.head(BlockTag::Latest).await.unwrap();
    let refs = source
        .block_refs(&[latest - 1, latest, latest + 5])
        .await
        .unwrap();
    assert_eq!(refs[1].unwrap().parent_hash, refs[0].unwrap().hash);
    assert!(refs[2].is_none());
    assert!(source.head(BlockTag::Finalized).await.unwrap() <= latest);
    defender_core::conformance::chain::run_all(&source).await;
}

/// A JSON-RPC proxy on 127.0.0.1 in front of `upstream` that answers the first `refuse`
/// `eth_sendRawTransaction` requests with `nonce too high` (HTTP 200), as a node that refuses
/// future nonces does (anvil queues them instead). Everything else, batches included, is
/// forwarded as is. Returns its URL and the nonce of every raw transaction it saw, with whether
/// it was refused.
async fn nonce_too_high_proxy(
    upstream: String,
    refuse: usize,
) -> (String, Arc<std::sync::Mutex<Vec<(u64, bool)>>>) {
    use alloy::consensus::{Transaction, TxEnvelope};
    use alloy::eips::eip2718::Decodable2718;
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(u64, bool)>::new()));
    let log = seen.clone();
    let url = rpc_proxy(upstream, move |req| {
        if req["method"] != "eth_sendRawTransaction" {
            return None;
        }
        let raw = req["params"][0].as_str().unwrap_or_default();
        let bytes = alloy_primitives::hex::decode(raw).expect("raw hex");
        let nonce = TxEnvelope::decode_2718(&mut bytes.as_slice())
            .expect("raw transaction")
            .nonce();
        let mut log = log.lock().unwrap();
        let refused = log.iter().filter(|(_, r)| *r).count() < refuse;
        log.push((nonce, refused));
        refused.then(|| {
            json!({"jsonrpc": "2.0", "id": req["id"],
                "error": {"code": -32000, "message": "nonce too high"}})
        })
    })
    .await;
    (url, seen)
}

#[tokio::test]
async fn nonce_resyncs_down_when_the_node_answers_nonce_too_high() {
    let Some(anvil) = Anvil::start(&["--no-mining"]).await else {
        return;
    };
    let me = LocalSigner::from_private_key(KEY).unwrap().address();
    let from = me.to_checksum(None);
    let n = anvil.nonce(&from, "latest").await;
    // A transaction of the same key is pending when the relayer starts, whose stored next nonce
    // is (deliberately) far ahead: the start resynchronises to the chain's pending count.
    let lost = anvil
        .call(
            "eth_sendTransaction",
            json!([{"from": from, "to": OTHER, "value": "0x1", "gas": "0x5208"}]),
        )
        .await;
    assert_eq!(anvil.nonce(&from, "pending").await, n + 1);
    let kv: Arc<dyn KvStore> = Arc::new(InMemoryKvStore::default());
    kv.put("relayer/too-high/nonce", &(n + 10).to_string())
        .await
        .unwrap();
    let (proxy, seen) = nonce_too_high_proxy(anvil.url.clone(), 1).await;
    let relayer = start_with(
        config(vec![proxy]),
        KEY,
        Arc::new(KvRelayerStore::new(kv.clone(), "too-high")),
        Arc::new(SystemClock),
    )
    .await;
    assert_eq!(relayer.next_nonce().await, n + 1, "start resync");
    // The pending transaction is lost (dropped from the mempool): nonce n is free again and the
    // relayer's next nonce runs ahead of the chain.
    anvil.call("anvil_dropTransaction", json!([lost])).await;
    assert_eq!(anvil.nonce(&from, "pending").await, n);
    // Its broadcast at n + 1 is refused with "nonce too high": the relayer resynchronises down
    // to the chain's nonce, re-signs at n and broadcasts again.
    let tx = relayer.send_transaction(transfer(1)).await.expect("send");
    assert_eq!(*seen.lock().unwrap(), vec![(n + 1, true), (n, false)]);
    assert_eq!(tx.nonce, n, "moved down to the chain's nonce");
    assert_eq!(tx.status, TxStatus::Submitted);
    assert_eq!(
        relayer.transaction_hashes(&tx.transaction_id).unwrap(),
        vec![tx.hash.clone()]
    );
    assert_eq!(
        relayer.next_nonce().await,
        n + 1,
        "next nonce resynchronised"
    );
    assert_eq!(
        kv.get("relayer/too-high/nonce").await.unwrap(),
        Some((n + 1).to_string())
    );
    anvil.mine(1).await;
    assert!(wait_status(&relayer, &tx.transaction_id, TxStatus::Mined).await);
    let onchain = chain_tx(&anvil, &tx.hash).await;
    assert_eq!(
        onchain["nonce"].as_str().unwrap(),
        format!("{n:#x}"),
        "no gap"
    );
    assert_eq!(
        anvil
            .call("eth_getTransactionReceipt", json!([tx.hash]))
            .await["status"],
        "0x1"
    );
    assert_eq!(anvil.nonce(&from, "latest").await, n + 1);
    // The next send gets the next contiguous nonce, accepted at once.
    let next = relayer.send_transaction(transfer(2)).await.expect("send");
    assert_eq!(next.nonce, n + 1);
    assert_eq!(seen.lock().unwrap().last(), Some(&(n + 1, false)));
    anvil.mine(1).await;
    assert!(wait_status(&relayer, &next.transaction_id, TxStatus::Mined).await);
    assert_eq!(anvil.nonce(&from, "latest").await, n + 2);
    assert_eq!(relayer.next_nonce().await, n + 2);
}

/// The engine state with a hook run once, before the first batch that writes a relayer's
/// next nonce: another process acting in the instant between a relayer's reads and its write.
struct BeforeNonceWrite {
    inner: Arc<defender_core::state::MemoryStateStore>,
    hook: tokio::sync::Mutex<Option<futures::future::BoxFuture<'static, ()>>>,
}

impl std::fmt::Debug for BeforeNonceWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeforeNonceWrite").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl defender_core::state::StateStore for BeforeNonceWrite {
    async fn get(
        &self,
        space: defender_core::state::Space,
        key: &str,
    ) -> Result<Option<bytes::Bytes>, defender_core::state::StateError> {
        self.inner.get(space, key).await
    }
    async fn delete(
        &self,
        space: defender_core::state::Space,
        key: &str,
    ) -> Result<bool, defender_core::state::StateError> {
        self.inner.delete(space, key).await
    }
    async fn scan_prefix(
        &self,
        space: defender_core::state::Space,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, bytes::Bytes)>, defender_core::state::StateError> {
        self.inner.scan_prefix(space, prefix, after, limit).await
    }
    async fn apply(
        &self,
        ops: Vec<defender_core::state::StateOp>,
    ) -> Result<(), defender_core::state::StateError> {
        use defender_core::state::{Space, StateOp};
        let writes_nonce = ops
            .iter()
            .any(|op| matches!(op, StateOp::Put { space, .. } if *space == Space::NONCES));
        if writes_nonce {
            let hook = self.hook.lock().await.take();
            if let Some(hook) = hook {
                hook.await;
            }
        }
        self.inner.apply(ops).await
    }
    async fn increment(
        &self,
        space: defender_core::state::Space,
        key: &str,
        by: u64,
    ) -> Result<u64, defender_core::state::StateError> {
        self.inner.increment(space, key, by).await
    }
}

/// A process restarting its relayer while another process's relayer, on the same engine state,
/// takes a nonce between the starting one's reads and its write: the start must not move the
/// stored nonce back under the other's transaction. (The cluster test lost an acknowledged send
/// that way, once: its nonce was handed out again.)
#[tokio::test]
async fn a_relayer_starting_beside_another_instance_never_hands_out_its_nonce_again() {
    let Some(anvil) = Anvil::start(&[]).await else {
        return;
    };
    let me = LocalSigner::from_private_key(KEY).unwrap().address();
    let from = me.to_checksum(None);
    let n = anvil.nonce(&from, "pending").await;
    let inner = Arc::new(defender_core::state::MemoryStateStore::default());
    // Process `x` ran the relayer's lifecycle and was killed; it restarts under its name and
    // takes the lifecycle back at once, while process `y` keeps sending.
    let killed = defender_relay::StateRelayerStore::new(inner.clone(), "shared").with_instance("x");
    assert!(killed
        .lifecycle_turn(Duration::from_secs(60))
        .await
        .unwrap());
    let other = Arc::new(
        start_with(
            config_for("shared", vec![anvil.url.clone()]),
            KEY,
            Arc::new(
                defender_relay::StateRelayerStore::new(inner.clone(), "shared").with_instance("y"),
            ),
            Arc::new(SystemClock),
        )
        .await,
    );
    assert_eq!(other.next_nonce().await, n);
    let sent = Arc::new(std::sync::Mutex::new(None));
    let hook = {
        let (other, sent) = (other.clone(), sent.clone());
        Box::pin(async move {
            let tx = other.send_transaction(transfer(1)).await.expect("send");
            *sent.lock().unwrap() = Some(tx);
        }) as futures::future::BoxFuture<'static, ()>
    };
    let state = Arc::new(BeforeNonceWrite {
        inner,
        hook: tokio::sync::Mutex::new(Some(hook)),
    });
    let starting = start_with(
        config_for("shared", vec![anvil.url.clone()]),
        KEY,
        Arc::new(
            defender_relay::StateRelayerStore::new(state.clone(), "shared").with_instance("x"),
        ),
        Arc::new(SystemClock),
    )
    .await;
    let theirs = sent
        .lock()
        .unwrap()
        .clone()
        .expect("the other instance sent meanwhile");
    assert_eq!(theirs.nonce, n);
    assert_eq!(
        starting.next_nonce().await,
        n + 1,
        "the start saw the other instance's transaction"
    );
    let mine = starting.send_transaction(transfer(2)).await.expect("send");
    assert_eq!(mine.nonce, n + 1);
    assert!(wait_status(&other, &theirs.transaction_id, TxStatus::Mined).await);
    assert!(wait_status(&starting, &mine.transaction_id, TxStatus::Mined).await);
    assert_eq!(anvil.nonce(&from, "latest").await, n + 2);
}

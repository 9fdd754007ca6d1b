//! Monitors end to end against a real anvil: an ERC-20 transfer monitor with a condition on
//! the value, reorgs through `anvil_reorg`, restart from the checkpoint, `safe`/`finalized`
//! confirmation levels and the "test conditions" tool.
//!
//! Needs `anvil` on PATH (`npm install -g @foundry-rs/anvil-linux-amd64`, or foundryup).
//! Set `DEFENDER_SKIP_EXTERNAL=1` to skip when it is missing.
//!
//! The block source is a minimal JSON-RPC client written over a plain TCP socket (HTTP/1.1,
//! one connection per call; in `monitor_anvil_support`), because the workspace's RPC block
//! source (`defender-relay`) was not available when these tests were written.

mod monitor_anvil_support;

use alloy_primitives::B256;
use defender_core::state::{Space, StateStore};
use defender_core::{BlockSource, BlockTag, ConfirmLevel};
use defender_engine::monitor::{
    test_conditions, BlockWatcher, StartAt, TestScope, WatchError, WatcherConfig,
};
use monitor_anvil_support::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn erc20_transfer_monitor_with_a_value_condition() {
    let Some(s) = setup(json!(1), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let small = transfer(rpc, s.token, DEV0, 5).await;
    let big = transfer(rpc, s.token, DEV0, 5000).await;
    let other = transfer(rpc, s.token, DEV1, 7).await;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(1), start);

    // One confirmation: the last transfer's block is not processed yet.
    assert_eq!(w.poll().await.unwrap(), 2);
    assert_eq!(sink.numbers(), [start, start + 1]);
    assert_eq!(sink.matched_txs(), [big.to_string()]);
    mine(rpc, 1).await;
    assert_eq!(w.poll().await.unwrap(), 1);
    assert_eq!(w.poll().await.unwrap(), 0);
    assert_eq!(sink.matched_txs(), [big.to_string()]);

    let blocks = sink.blocks.lock().unwrap().clone();
    let m = &blocks[1].1[0];
    let receipt = rpc
        .call("eth_getTransactionReceipt", json!([big.to_string()]))
        .await
        .unwrap();
    // The payload's transaction is the node's receipt, field for field.
    let ours = serde_json::to_value(&m.transaction).unwrap();
    for key in [
        "blockHash",
        "blockNumber",
        "from",
        "to",
        "gasUsed",
        "cumulativeGasUsed",
        "status",
        "transactionHash",
        "transactionIndex",
        "logsBloom",
        "effectiveGasPrice",
        "type",
        "contractAddress",
    ] {
        assert_eq!(ours[key], receipt[key], "{key}");
    }
    assert_eq!(ours["logs"][0]["topics"], receipt["logs"][0]["topics"]);
    assert_eq!(ours["logs"][0]["data"], receipt["logs"][0]["data"]);
    assert_eq!(ours["logs"][0]["logIndex"], receipt["logs"][0]["logIndex"]);
    let r = &m.match_reasons[0];
    assert_eq!(r.params["value"], json!("5000"));
    assert_eq!(r.params["from"], json!(DEV0));
    assert_eq!(r.params["to"], json!(RECIPIENT));
    assert_eq!(r.address, s.token.to_checksum(None));
    assert_eq!(m.matched_checksum_addresses, [s.token.to_checksum(None)]);
    assert_eq!(m.monitor.chain_id, 31337);

    // The "test conditions" tool over the same chain.
    let def = large_transfers(s.token, json!(1));
    let found = test_conditions("t", &def, rpc.as_ref(), TestScope::RecentBlocks(5))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.hash.clone()).collect::<Vec<_>>(),
        [big.to_string()]
    );
    let found = test_conditions("t", &def, rpc.as_ref(), TestScope::Transaction(big))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        test_conditions("t", &def, rpc.as_ref(), TestScope::Transaction(small))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        test_conditions("t", &def, rpc.as_ref(), TestScope::Block(start + 2))
            .await
            .unwrap()
            .is_empty()
    );
    // A function condition on the call itself, from the other account.
    let mut by_call = def.clone();
    by_call.event_conditions.clear();
    by_call.function_conditions = serde_json::from_value(
        json!([{"functionSignature": "transfer(address,uint256)", "expression": "amount < 10"}]),
    )
    .unwrap();
    by_call.tx_condition = Some(format!("from == '{}'", DEV1.to_lowercase()));
    let found = test_conditions("t", &by_call, rpc.as_ref(), TestScope::RecentBlocks(5))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.hash.clone()).collect::<Vec<_>>(),
        [other.to_string()]
    );
    assert!(matches!(
        test_conditions(
            "t",
            &def,
            rpc.as_ref(),
            TestScope::Transaction(B256::repeat_byte(1))
        )
        .await,
        Err(WatchError::TransactionNotFound(_))
    ));
}

#[tokio::test]
async fn a_reorg_before_confirmation_is_never_notified() {
    let Some(s) = setup(json!(2), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(2), start);
    let orphaned = transfer(rpc, s.token, DEV0, 5000).await;
    let k = latest(rpc).await;
    assert_eq!(w.poll().await.unwrap(), 0);
    // Replace block k with one holding a different transfer.
    let data = transfer_calldata(RECIPIENT, 6000);
    rpc.call(
        "anvil_reorg",
        json!([1, [[{"from": DEV1, "to": s.token.to_string(), "data": data}, 0]]]),
    )
    .await
    .unwrap();
    let replaced = rpc.block(k).await.unwrap().unwrap();
    assert_eq!(replaced.transactions.len(), 1);
    let canonical = replaced.transactions[0].hash;
    assert_ne!(canonical, orphaned);
    mine(rpc, 2).await;
    assert_eq!(w.poll().await.unwrap(), 1);
    assert_eq!(sink.numbers(), [k]);
    assert_eq!(sink.matched_txs(), [canonical.to_string()]);
}

#[tokio::test]
async fn a_reorg_below_the_checkpoint_resumes_at_the_fork_point() {
    let Some(s) = setup(json!(0), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start);
    let first = transfer(rpc, s.token, DEV0, 5000).await;
    let orphaned = transfer(rpc, s.token, DEV0, 7000).await;
    let k = latest(rpc).await;
    assert_eq!(w.poll().await.unwrap(), 2);
    assert_eq!(
        sink.matched_txs(),
        [first.to_string(), orphaned.to_string()]
    );
    let data = transfer_calldata(RECIPIENT, 8000);
    rpc.call(
        "anvil_reorg",
        json!([1, [[{"from": DEV1, "to": s.token.to_string(), "data": data}, 0]]]),
    )
    .await
    .unwrap();
    let canonical = rpc.block(k).await.unwrap().unwrap().transactions[0].hash;
    mine(rpc, 1).await;
    // Block k+1's parent is the new block k: the watcher goes back to k-1 and delivers the new k.
    assert_eq!(w.poll().await.unwrap(), 2);
    assert_eq!(sink.numbers(), [k - 1, k, k, k + 1]);
    let blocks = sink.blocks.lock().unwrap().clone();
    assert_ne!(blocks[1].0.hash, blocks[2].0.hash);
    assert_eq!(blocks[2].1[0].hash, canonical.to_string());
    assert_eq!(blocks[3].0.parent_hash, blocks[2].0.hash);
    let cp = w.checkpoint().await.unwrap().unwrap();
    assert_eq!(cp.number, k + 1);
    assert_eq!(
        cp.recent.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [k - 1, k, k + 1]
    );
}

#[tokio::test]
async fn restart_resumes_at_the_checkpoint_without_gaps_or_duplicates() {
    let Some(s) = setup(json!(0), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let mut sent = Vec::new();
    for v in [2000, 3000, 4000] {
        sent.push(transfer(rpc, s.token, DEV0, v).await.to_string());
    }
    let sink = Arc::new(Recorder::default());
    *sink.fail_at.lock().unwrap() = Some(start + 1);
    {
        let w = watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start);
        // The sink fails on the second block: the first is checkpointed, the rest is not.
        assert!(matches!(w.poll().await, Err(WatchError::Sink { .. })));
        assert_eq!(sink.numbers(), [start]);
        let cp = w.checkpoint().await.unwrap().unwrap();
        assert_eq!(cp.number, start);
        // The process "dies" here.
    }
    for v in [5000, 6000] {
        sent.push(transfer(rpc, s.token, DEV0, v).await.to_string());
    }
    // A new watcher over the same store runs until it has caught up.
    let w = Arc::new(watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let w = w.clone();
        async move {
            w.run(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let end = latest(rpc).await;
    for _ in 0..200 {
        if sink.numbers().last() == Some(&end) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(sink.numbers(), (start..=end).collect::<Vec<_>>());
    assert_eq!(sink.matched_txs(), sent);
    // And once more: nothing new, nothing repeated.
    let again = watcher(&s, sink.clone(), ConfirmLevel::Blocks(0), start);
    assert_eq!(again.poll().await.unwrap(), 0);
    assert_eq!(sink.matched_txs(), sent);
    let stored = s
        .state
        .get(Space::CHECKPOINTS, &again.checkpoint_key())
        .await
        .unwrap()
        .unwrap();
    let stored = String::from_utf8(stored.to_vec()).unwrap();
    assert!(stored.contains(&format!("\"number\":{end}")), "{stored}");
}

#[tokio::test]
async fn finalized_monitors_wait_for_the_finalized_head() {
    let Some(s) = setup(json!("finalized"), &["--slots-in-an-epoch", "1"]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let big = transfer(rpc, s.token, DEV0, 5000).await;
    let sink = Arc::new(Recorder::default());
    let w = watcher(&s, sink.clone(), ConfirmLevel::Finalized, start);
    let finalized = rpc.head(BlockTag::Finalized).await.unwrap();
    assert!(
        finalized < start,
        "finalized {finalized}, transfer in {start}"
    );
    assert_eq!(w.poll().await.unwrap(), 0);
    mine(rpc, 5).await;
    let finalized = rpc.head(BlockTag::Finalized).await.unwrap();
    assert!(finalized >= start);
    let n = w.poll().await.unwrap();
    assert_eq!(n, finalized - start + 1);
    assert_eq!(sink.matched_txs(), [big.to_string()]);
    // The same monitor set seen by a latest-block watcher matches nothing: levels are separate.
    let other = watcher(
        &s,
        Arc::new(Recorder::default()),
        ConfirmLevel::Blocks(0),
        start,
    );
    other.poll().await.unwrap();
    assert_ne!(other.checkpoint_key(), w.checkpoint_key());
}

#[tokio::test]
async fn a_reorg_deeper_than_the_window_redelivers_the_remembered_blocks() {
    let Some(s) = setup(json!(0), &[]).await else {
        return;
    };
    let rpc = &s.node.rpc;
    let start = latest(rpc).await + 1;
    let sink = Arc::new(Recorder::default());
    let mut config = WatcherConfig::new("anvil", ConfirmLevel::Blocks(0));
    config.start = StartAt::Block(start);
    config.reorg_window = 2;
    let w = BlockWatcher::new(
        rpc.clone(),
        s.matcher.clone(),
        s.state.clone(),
        sink.clone(),
        config,
    );
    for v in [2000, 3000, 4000] {
        transfer(rpc, s.token, DEV0, v).await;
    }
    let k = latest(rpc).await;
    assert_eq!(w.poll().await.unwrap(), 3);
    // Both remembered blocks are replaced: no common ancestor in the window.
    let data = transfer_calldata(RECIPIENT, 9000);
    rpc.call(
        "anvil_reorg",
        json!([2, [[{"from": DEV1, "to": s.token.to_string(), "data": data}, 1]]]),
    )
    .await
    .unwrap();
    let canonical = rpc.block(k).await.unwrap().unwrap().transactions[0].hash;
    mine(rpc, 1).await;
    assert_eq!(w.poll().await.unwrap(), 3);
    assert_eq!(sink.numbers(), [k - 2, k - 1, k, k - 1, k, k + 1]);
    let blocks = sink.blocks.lock().unwrap().clone();
    // The re-delivered blocks form a chain on top of the unchanged block k-2.
    assert_eq!(blocks[3].0.parent_hash, blocks[0].0.hash);
    assert_eq!(blocks[4].0.parent_hash, blocks[3].0.hash);
    assert_eq!(blocks[5].0.parent_hash, blocks[4].0.hash);
    assert_eq!(blocks[4].1.last().unwrap().hash, canonical.to_string());
}

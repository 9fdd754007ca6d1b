//! The engine's monitor side over the in-memory chain: notifications and linked actions,
//! the custom filter in batches of 25, alert threshold and timeout with a manual clock, reorgs,
//! restart from the checkpoint, pausing, and the test-conditions tool. The same flows run
//! against anvil in `examples/tests`.

mod engine_monitors_support;

use async_trait::async_trait;
use defender_core::*;
use defender_engine::monitor::{MonitorError, TestScope};
use defender_engine::{ActionSpec, EngineError};
use engine_monitors_support::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn matches_notify_and_trigger_the_linked_action() {
    let s = setup(None, None).await;
    s.engine
        .add_action(ActionSpec::new("react", "react", "code"))
        .await
        .unwrap();
    s.engine
        .add_monitor("m1", definition(json!({"actionTrigger": "react"})))
        .await
        .unwrap();
    s.chain.mine(vec![transfer(1, ALICE, BOB, 500)]);
    let big = transfer(2, ALICE, BOB, 5000);
    s.chain.mine(vec![big.clone()]);
    processed(&s, "0", 2).await;
    eventually("a notification", || !s.ops.messages().is_empty()).await;

    let messages = s.ops.messages();
    assert_eq!(messages.len(), 1, "only the transfer above 1000 notifies");
    let alert = messages[0].alert.as_ref().expect("the match rides along");
    assert_eq!(alert.hash, big.hash.to_string());
    assert_eq!(alert.match_reasons[0].params["value"], "5000");
    assert!(messages[0].subject.contains("Large transfers"));
    assert!(messages[0].body.contains(&big.hash.to_string()));

    eventually("the linked action", || {
        !s.runtime.triggered(Trigger::Monitor).is_empty()
    })
    .await;
    let runs = s.engine.runs("react", 10).await.unwrap();
    assert!(runs.iter().all(|r| r.trigger == Trigger::Monitor));
    let event = &s.runtime.triggered(Trigger::Monitor)[0];
    let body = event.request.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(body["hash"], big.hash.to_string());
    assert_eq!(body["sentinel"]["name"], "Large transfers");
    assert_eq!(body["monitor"]["id"], "m1");
    assert_eq!(
        body["matchReasons"][0]["signature"],
        "Transfer(address,address,uint256)"
    );
    s.engine.shutdown();
}

#[tokio::test]
async fn custom_filter_sees_batches_of_25_and_keeps_what_it_returns() {
    let s = setup(None, None).await;
    s.engine
        .add_action(ActionSpec::new("filter", "filter", "code"))
        .await
        .unwrap();
    s.engine
        .add_monitor("m1", definition(json!({"actionCondition": "filter"})))
        .await
        .unwrap();
    let txs: Vec<Transaction> = (0..30).map(|i| transfer(i, ALICE, BOB, 2000 + i)).collect();
    s.chain.mine(txs);
    processed(&s, "0", 1).await;

    let calls = s.runtime.triggered(Trigger::MonitorFilter);
    let sizes: Vec<usize> = calls
        .iter()
        .map(|e| {
            e.request.as_ref().unwrap().body.as_ref().unwrap()["events"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [25, 5]);
    let runs = s.engine.runs("filter", 10).await.unwrap();
    assert!(runs.iter().all(|r| r.trigger == Trigger::MonitorFilter));

    let messages = s.ops.messages();
    assert_eq!(messages.len(), 15, "the even values are kept");
    for m in &messages {
        let alert = m.alert.as_ref().unwrap();
        assert_eq!(alert.metadata, Some(json!({"even": true})));
    }
    s.engine.shutdown();
}

#[tokio::test]
async fn alert_threshold_and_timeout_follow_the_clock() {
    let s = setup(None, None).await;
    s.engine
        .add_monitor(
            "m1",
            definition(json!({
                "alertThreshold": {"amount": 2, "windowSeconds": 60},
                "alertTimeoutMs": 3_600_000
            })),
        )
        .await
        .unwrap();
    // First match: below the threshold.
    s.chain.mine(vec![transfer(1, ALICE, BOB, 5000)]);
    processed(&s, "0", 1).await;
    assert_eq!(s.ops.messages().len(), 0);
    // Second within the window: notifies.
    s.clock.advance(chrono::Duration::seconds(10));
    s.chain.mine(vec![transfer(2, ALICE, BOB, 5000)]);
    processed(&s, "0", 2).await;
    assert_eq!(s.ops.messages().len(), 1);
    // A third at once: above the threshold, but within the timeout.
    s.chain.mine(vec![transfer(3, ALICE, BOB, 5000)]);
    processed(&s, "0", 3).await;
    assert_eq!(s.ops.messages().len(), 1);
    // After the timeout, two matches in the window notify again.
    s.clock.advance(chrono::Duration::hours(2));
    s.chain.mine(vec![
        transfer(4, ALICE, BOB, 5000),
        transfer(5, ALICE, BOB, 6000),
    ]);
    processed(&s, "0", 4).await;
    assert_eq!(s.ops.messages().len(), 2);
    s.engine.shutdown();
}

#[tokio::test]
async fn orphaned_transactions_are_never_notified() {
    let s = setup(None, None).await;
    // Wait for one confirmation.
    s.engine
        .add_monitor("m1", definition(json!({"confirmLevel": 1})))
        .await
        .unwrap();
    let orphan = transfer(1, ALICE, BOB, 7777);
    s.chain.mine(vec![orphan.clone()]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Block 1 is replaced before it gets its confirmation.
    s.chain.reorg(1);
    let kept = transfer(2, ALICE, BOB, 8888);
    s.chain.mine(vec![kept.clone()]);
    s.chain.mine(vec![]);
    processed(&s, "1", 1).await;
    let hashes: Vec<String> = s
        .ops
        .messages()
        .iter()
        .map(|m| m.alert.as_ref().unwrap().hash.clone())
        .collect();
    assert_eq!(hashes, [kept.hash.to_string()]);
    s.engine.shutdown();
}

#[tokio::test]
async fn a_restart_resumes_at_the_checkpoint_without_gaps_or_duplicates() {
    let first = setup(None, None).await;
    first
        .engine
        .add_monitor("m1", definition(json!({})))
        .await
        .unwrap();
    first.chain.mine(vec![transfer(1, ALICE, BOB, 2001)]);
    first.chain.mine(vec![transfer(2, ALICE, BOB, 2002)]);
    processed(&first, "0", 2).await;
    first.engine.shutdown();
    let before: Vec<String> = first
        .ops
        .messages()
        .iter()
        .map(|m| m.alert.as_ref().unwrap().hash.clone())
        .collect();
    assert_eq!(before.len(), 2);

    // Blocks mined while the engine is down are not missed.
    first.chain.mine(vec![transfer(3, ALICE, BOB, 2003)]);
    first.chain.mine(vec![transfer(4, ALICE, BOB, 2004)]);
    let second = setup(
        Some((first.kv.clone(), first.state.clone())),
        Some(first.chain.clone()),
    )
    .await;
    second
        .engine
        .add_monitor("m1", definition(json!({})))
        .await
        .unwrap();
    processed(&second, "0", 4).await;
    second.chain.mine(vec![transfer(5, ALICE, BOB, 2005)]);
    processed(&second, "0", 5).await;
    let after: Vec<String> = second
        .ops
        .messages()
        .iter()
        .map(|m| {
            m.alert.as_ref().unwrap().match_reasons[0].params["value"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        after,
        ["2003", "2004", "2005"],
        "resumed after block 2, each block once"
    );
    second.engine.shutdown();
}

#[tokio::test]
async fn paused_and_removed_monitors_are_silent() {
    let s = setup(None, None).await;
    s.engine
        .add_monitor("m1", definition(json!({})))
        .await
        .unwrap();
    s.engine.set_monitor_paused("m1", true).await.unwrap();
    s.chain.mine(vec![transfer(1, ALICE, BOB, 5000)]);
    processed(&s, "0", 1).await;
    assert!(s.ops.messages().is_empty());
    s.engine.set_monitor_paused("m1", false).await.unwrap();
    s.chain.mine(vec![transfer(2, ALICE, BOB, 5000)]);
    processed(&s, "0", 2).await;
    assert_eq!(s.ops.messages().len(), 1);
    s.engine.remove_monitor("m1").unwrap();
    s.chain.mine(vec![transfer(3, ALICE, BOB, 5000)]);
    processed(&s, "0", 3).await;
    assert_eq!(s.ops.messages().len(), 1);
    assert!(s.engine.remove_monitor("m1").is_err());
    s.engine.shutdown();
}

#[tokio::test]
async fn invalid_monitors_are_refused_with_the_reason() {
    let s = setup(None, None).await;
    let mut bad = definition(json!({}));
    bad.event_conditions[0].expression = Some("valu > 1000".into());
    let err = s.engine.add_monitor("m1", bad).await.unwrap_err();
    assert!(err.to_string().contains("valu"), "{err}");
    // The condition language's own errors, with their byte spans, are kept.
    match &err {
        EngineError::MonitorDefinition {
            id,
            source: MonitorError::InvalidCondition { errors, .. },
        } => {
            assert_eq!(id, "m1");
            assert_eq!(errors[0].span, 0..4, "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&err).is_some());
    let err = s
        .engine
        .add_monitor("m2", definition(json!({"network": "mars"})))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("mars"), "{err}");
    assert!(s.engine.monitor_ids().is_empty());
}

#[tokio::test]
async fn test_conditions_by_block_and_by_transaction() {
    let s = setup(None, None).await;
    let big = transfer(1, ALICE, BOB, 9000);
    s.chain.mine(vec![transfer(0, ALICE, BOB, 10), big.clone()]);
    s.chain.mine(vec![]);
    let def = definition(json!({}));
    let by_block = s
        .engine
        .test_monitor_conditions(&def, TestScope::Block(1))
        .await
        .unwrap();
    assert_eq!(by_block.len(), 1);
    assert_eq!(by_block[0].hash, big.hash.to_string());
    let recent = s
        .engine
        .test_monitor_conditions(&def, TestScope::RecentBlocks(5))
        .await
        .unwrap();
    assert_eq!(recent.len(), 1);
    let by_tx = s
        .engine
        .test_monitor_conditions(&def, TestScope::Transaction(big.hash))
        .await
        .unwrap();
    assert_eq!(by_tx.len(), 1);
    assert!(s.ops.messages().is_empty(), "testing notifies nobody");
}

/// A notification channel that takes a message and never answers.
#[derive(Debug, Default)]
struct Dead {
    calls: AtomicUsize,
}

#[async_trait]
impl Notifier for Dead {
    fn kind(&self) -> &str {
        "dead"
    }
    async fn send(&self, _: &Message) -> Result<(), NotifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
    async fn send_metric(&self, _: &Metric) -> Result<(), NotifyError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_dead_channel_does_not_stall_blocks() {
    let dead = Arc::new(Dead::default());
    let s = setup_with(None, None, |b| b.notifier("dead", dead.clone())).await;
    s.engine
        .add_action(ActionSpec::new("react", "react", "code"))
        .await
        .unwrap();
    // m1 alerts only the dead channel and triggers an action; m2 alerts `ops`.
    s.engine
        .add_monitor(
            "m1",
            definition(json!({"notificationChannels": ["dead"], "actionTrigger": "react"})),
        )
        .await
        .unwrap();
    s.engine
        .add_monitor("m2", definition(json!({})))
        .await
        .unwrap();
    for i in 1..=5 {
        s.chain.mine(vec![transfer(i, ALICE, BOB, 5000 + i)]);
    }
    // Every block goes through while the first alert to the dead channel hangs (the default
    // timeout is a minute).
    checkpoint_reaches(&s, "0", 5).await;
    eventually("the first alert reaches the dead channel", || {
        dead.calls.load(Ordering::SeqCst) == 1
    })
    .await;
    // The other stages of every block happened: m1's linked action ran for each match, and
    // m2's alerts went out.
    eventually("five linked runs", || {
        s.runtime.triggered(Trigger::Monitor).len() == 5
    })
    .await;
    eventually("five alerts on ops", || s.ops.messages().len() == 5).await;
    // More blocks still go through.
    s.chain.mine(vec![transfer(6, ALICE, BOB, 6000)]);
    checkpoint_reaches(&s, "0", 6).await;
    eventually("six alerts on ops", || s.ops.messages().len() == 6).await;
    assert_eq!(
        dead.calls.load(Ordering::SeqCst),
        1,
        "the rest wait in m1's queue"
    );
    s.engine.shutdown();
}

#[tokio::test]
async fn a_channel_that_times_out_lets_the_next_alerts_go() {
    let dead = Arc::new(Dead::default());
    let s = setup_with(None, None, |b| {
        b.notifier("dead", dead.clone())
            .notification_timeout(Duration::from_millis(20))
    })
    .await;
    s.engine
        .add_monitor(
            "m1",
            definition(json!({"notificationChannels": ["dead", "ops"]})),
        )
        .await
        .unwrap();
    for i in 1..=3 {
        s.chain.mine(vec![transfer(i, ALICE, BOB, 5000 + i)]);
    }
    processed(&s, "0", 3).await;
    assert_eq!(dead.calls.load(Ordering::SeqCst), 3, "each alert was tried");
    assert_eq!(
        s.ops.messages().len(),
        3,
        "the live channel got every alert"
    );
    s.engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_receives_many_alerts_once_each_in_the_order_they_were_owed() {
    let s = setup(None, None).await;
    s.engine
        .add_monitor("m1", definition(json!({})))
        .await
        .unwrap();
    // More alerts than one delivery task takes for a channel, over several blocks.
    let sent = mine_transfers(&s, 0..4, 45);
    processed(&s, "0", 4).await;
    let received = alert_hashes(&s, sent.len()).await;
    assert_eq!(
        received, sent,
        "each alert once, in block and transaction order"
    );
    s.engine.shutdown();
}

/// The engine state of [`a_failed_block_batch_handles_the_block_again_and_loses_nothing`]:
/// the in-memory store, whose batch moving the checkpoint to `block` fails once (a state
/// backend failing on demand, which a real one cannot be made to do).
#[derive(Debug)]
struct FailsOneCheckpoint {
    inner: Arc<MemoryStateStore>,
    block: u64,
    armed: std::sync::atomic::AtomicBool,
}

impl FailsOneCheckpoint {
    fn moves_checkpoint_to_block(&self, ops: &[state::StateOp]) -> bool {
        ops.iter().any(|op| match op {
            state::StateOp::Put { space, value, .. } if *space == state::Space::CHECKPOINTS => {
                serde_json::from_slice::<serde_json::Value>(value)
                    .is_ok_and(|cp| cp["number"].as_u64() == Some(self.block))
            }
            _ => false,
        })
    }
}

#[async_trait]
impl state::StateStore for FailsOneCheckpoint {
    async fn get(
        &self,
        space: state::Space,
        key: &str,
    ) -> Result<Option<bytes::Bytes>, state::StateError> {
        self.inner.get(space, key).await
    }
    async fn delete(&self, space: state::Space, key: &str) -> Result<bool, state::StateError> {
        self.inner.delete(space, key).await
    }
    async fn scan_prefix(
        &self,
        space: state::Space,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, bytes::Bytes)>, state::StateError> {
        self.inner.scan_prefix(space, prefix, after, limit).await
    }
    async fn apply(&self, ops: Vec<state::StateOp>) -> Result<(), state::StateError> {
        if self.moves_checkpoint_to_block(&ops) && self.armed.swap(false, Ordering::SeqCst) {
            return Err(state::StateError::unavailable(std::io::Error::other(
                "injected failure",
            )));
        }
        self.inner.apply(ops).await
    }
    async fn increment(
        &self,
        space: state::Space,
        key: &str,
        by: u64,
    ) -> Result<u64, state::StateError> {
        self.inner.increment(space, key, by).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_block_batch_handles_the_block_again_and_loses_nothing() {
    let memory = Arc::new(MemoryStateStore::default());
    let failing = Arc::new(FailsOneCheckpoint {
        inner: memory.clone(),
        block: 3,
        armed: true.into(),
    });
    let stores = (Arc::new(InMemoryKvStore::default()), memory);
    let s = setup_with(Some(stores), None, |b| b.state(failing.clone())).await;
    s.engine
        .add_monitor("m1", definition(json!({})))
        .await
        .unwrap();
    // Several alerts a block, so that the blocks after 3 are read while its batch fails.
    let sent = mine_transfers(&s, 1..6, 20);
    processed(&s, "0", 5).await;
    assert!(
        !failing.armed.load(Ordering::SeqCst),
        "the batch of block 3 failed once"
    );
    let received = alert_hashes(&s, sent.len()).await;
    assert_eq!(
        received, sent,
        "each alert once, in order, block 3's after its retry"
    );
    s.engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_channel_gets_every_alert_once_it_recovers_in_order() {
    let s = setup(None, None).await;
    s.engine
        .add_monitor("m1", definition(json!({})))
        .await
        .unwrap();
    s.ops.fail_with(Some("down"));
    let txs: Vec<Transaction> = (0..40).map(|i| transfer(i, ALICE, BOB, 2000 + i)).collect();
    let sent: Vec<String> = txs.iter().map(|t| t.hash.to_string()).collect();
    s.chain.mine(txs);
    checkpoint_reaches(&s, "0", 1).await;
    // Each alert had one failed attempt (a batch stops at its first failure; the rest go
    // back to the queue and are attempted by the next one).
    for _ in 0..500 {
        let owed = s
            .state
            .scan_prefix(state::Space::OUTBOX, "owed/", None, 1000)
            .await
            .unwrap();
        let attempted = owed
            .iter()
            .filter(|(_, v)| {
                serde_json::from_slice::<serde_json::Value>(v).unwrap()["attempts"] == 1
            })
            .count();
        if attempted == sent.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(s.ops.messages().is_empty());
    s.ops.fail_with(None);
    s.clock.advance(chrono::Duration::seconds(5));
    let received = alert_hashes(&s, sent.len()).await;
    assert_eq!(received, sent, "each alert once, in order");
    s.engine.shutdown();
}

/// Mines one block of `per_block` matching transfers per number of `blocks`: their hashes, in
/// block and transaction order.
fn mine_transfers(s: &Setup, blocks: std::ops::Range<u64>, per_block: u64) -> Vec<String> {
    let mut sent = Vec::new();
    for block in blocks {
        let txs: Vec<Transaction> = (0..per_block)
            .map(|i| transfer(block * 100 + i, ALICE, BOB, 2000 + i))
            .collect();
        sent.extend(txs.iter().map(|t| t.hash.to_string()));
        s.chain.mine(txs);
    }
    sent
}

/// The transaction hashes of the first `n` alerts the channel received, once it has that
/// many.
async fn alert_hashes(s: &Setup, n: usize) -> Vec<String> {
    eventually("every alert", || s.ops.messages().len() >= n).await;
    s.ops
        .messages()
        .iter()
        .map(|m| m.alert.as_ref().expect("the match").hash.clone())
        .collect()
}

//! The outbox end to end on anvil: a webhook sink that is down (500s) for a while receives
//! every alert once it is back, each under the idempotency key of its first attempt; a
//! channel that stays dead (refused connections) past the retry horizon leaves dead letters,
//! listed and replayed once the sink is back; a dead channel (never answering) holds up
//! neither blocks, nor other channels, nor linked actions.
//!
//! Needs `anvil` (see `scripts/install-anvil.sh`); `DEFENDER_SKIP_EXTERNAL=1` skips when it is
//! missing.

mod delivery_support;

use async_trait::async_trait;
use defender_core::state::{MemoryStateStore, Space, StateStore};
use defender_core::{ActionCode, ActionRuntime, RecordingNotifier, RunOutcome, RunRequest};
use defender_engine::{ActionSpec, DeliveryTarget, Engine, EngineError};
use delivery_support::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

/// A runtime that records the match of each linked-action run.
#[derive(Debug, Default)]
struct Runs {
    hashes: Mutex<Vec<String>>,
}

#[async_trait]
impl ActionRuntime for Runs {
    async fn run(&self, _: &ActionCode, req: RunRequest) -> RunOutcome {
        let body = req.event.request.and_then(|r| r.body).unwrap_or_default();
        let hash = body["hash"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.hashes.lock().unwrap().push(hash);
        RunOutcome {
            result: Ok(json!({})),
            logs: vec![],
        }
    }
}

/// The transaction hashes (lowercase) of alerts received at `path`.
fn alert_hashes(received: &[Received]) -> BTreeSet<String> {
    received
        .iter()
        .map(|r| {
            r.body["event"]["hash"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .collect()
}

/// Every delivery still owed in the outbox.
async fn owed(state: &dyn StateStore) -> usize {
    state
        .scan_prefix(Space::OUTBOX, "owed/", None, 1000)
        .await
        .expect("scan the outbox")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_down_for_a_while_receives_every_alert_once_it_is_back() {
    let Some(anvil) = Anvil::start().await else {
        return;
    };
    let sink = Sink::start(Mode::Fail).await;
    let state = Arc::new(MemoryStateStore::default());
    let engine = Engine::builder(Arc::new(Runs::default()))
        .state(state.clone())
        .notifier(
            "hook",
            webhook_channel(&format!("{}/alert", sink.url), 2000 * MS),
        )
        .delivery_retry(50 * MS, 200 * MS)
        .build();
    engine
        .add_network(anvil_network(&anvil).await)
        .await
        .unwrap();
    engine
        .add_monitor(
            "m1",
            monitor_of_transfers_to_bob(json!({"notificationChannels": ["hook"]})),
        )
        .await
        .unwrap();

    let mut txs = BTreeSet::new();
    for _ in 0..5 {
        txs.insert(anvil.transfer().await);
    }
    let last = anvil.block_number().await;
    // Blocks go through while the sink is down, and every alert is tried again and again.
    eventually(
        "the checkpoint at the last block",
        30_000 * MS,
        async || checkpoint(state.as_ref()).await >= Some(last),
    )
    .await;
    eventually("two failed attempts per alert", 30_000 * MS, async || {
        sink.received().len() >= 10
    })
    .await;
    assert!(sink.accepted("/alert").is_empty());

    sink.set_mode(Mode::Accept);
    eventually("every alert accepted", 30_000 * MS, async || {
        alert_hashes(&sink.accepted("/alert")) == txs
    })
    .await;
    engine.flush_alerts().await;

    let accepted = sink.accepted("/alert");
    let accepted_keys: BTreeSet<String> = accepted.iter().filter_map(|r| r.key.clone()).collect();
    assert_eq!(accepted_keys.len(), txs.len(), "one key per alert");
    let duplicates = repeats(accepted.iter().filter_map(|r| r.key.as_deref()));
    println!(
        "sink: {} requests, {} accepted, {duplicates} accepted more than once",
        sink.received().len(),
        accepted.len()
    );
    // Redeliveries carry the key of the first attempt.
    for r in sink.received() {
        let key = r.key.expect("every delivery has an idempotency key");
        assert!(
            accepted_keys.contains(&key),
            "a failed attempt's key is accepted later"
        );
    }
    assert_eq!(owed(state.as_ref()).await, 0, "nothing is owed any more");
    assert!(engine.dead_letters().await.unwrap().is_empty());
    engine.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_dead_past_the_horizon_leaves_dead_letters_that_replay() {
    let Some(anvil) = Anvil::start().await else {
        return;
    };
    // Nothing listens on the port yet: connections are refused.
    let port = free_port();
    let ops = Arc::new(RecordingNotifier::default());
    let state = Arc::new(MemoryStateStore::default());
    let engine = Engine::builder(Arc::new(Runs::default()))
        .state(state.clone())
        .notifier(
            "gone",
            webhook_channel(&format!("http://127.0.0.1:{port}/alert"), 2000 * MS),
        )
        .notifier("ops", ops.clone())
        .delivery_retry(20 * MS, 50 * MS)
        .delivery_horizon(400 * MS)
        .build();
    engine
        .add_network(anvil_network(&anvil).await)
        .await
        .unwrap();
    engine
        .add_monitor(
            "m1",
            monitor_of_transfers_to_bob(json!({"notificationChannels": ["gone", "ops"]})),
        )
        .await
        .unwrap();
    let mut txs = BTreeSet::new();
    for _ in 0..3 {
        txs.insert(anvil.transfer().await);
    }

    eventually("three dead letters", 30_000 * MS, async || {
        engine.dead_letters().await.unwrap().len() == 3
    })
    .await;
    let letters = engine.dead_letters().await.unwrap();
    let mut dead_keys = BTreeSet::new();
    for letter in &letters {
        assert_eq!(letter.monitor_id, "m1");
        assert!(txs.contains(&letter.transaction_hash.to_ascii_lowercase()));
        assert!(letter.created_at.is_some());
        assert_eq!(
            letter.deliveries.len(),
            1,
            "only the dead channel's delivery"
        );
        let d = &letter.deliveries[0];
        assert_eq!(d.target, DeliveryTarget::Channel("gone".into()));
        assert!(d.attempts >= 2, "retried before giving up: {d:?}");
        assert!(d.last_error.as_deref().is_some_and(|e| !e.is_empty()));
        assert_eq!(d.idempotency_key.len(), 64);
        dead_keys.insert(d.idempotency_key.clone());
    }
    let letter_hashes: BTreeSet<String> = letters
        .iter()
        .map(|l| l.transaction_hash.to_ascii_lowercase())
        .collect();
    assert_eq!(letter_hashes, txs);
    // The live channel got every alert, under keys of its own.
    let messages = ops.messages();
    assert_eq!(messages.len(), 3);
    for m in &messages {
        let key = m.idempotency_key.as_ref().expect("a key");
        assert!(!dead_keys.contains(key));
    }
    assert_eq!(owed(state.as_ref()).await, 0);

    // The sink comes back; the dead letters are replayed.
    let sink = Sink::start_on(port, Mode::Accept).await;
    for letter in &letters {
        assert_eq!(engine.replay_dead_letter(&letter.id).await.unwrap(), 1);
    }
    eventually("the replayed alerts", 30_000 * MS, async || {
        alert_hashes(&sink.accepted("/alert")) == txs
    })
    .await;
    let replayed_keys: BTreeSet<String> = sink
        .accepted("/alert")
        .into_iter()
        .filter_map(|r| r.key)
        .collect();
    assert_eq!(
        replayed_keys, dead_keys,
        "replays keep their idempotency keys"
    );
    eventually("no dead letter left", 10_000 * MS, async || {
        engine.dead_letters().await.unwrap().is_empty()
    })
    .await;
    assert_eq!(
        ops.messages().len(),
        3,
        "the live channel is not notified again"
    );
    for id in [letters[0].id.as_str(), "nonsense", ""] {
        assert!(
            matches!(
                engine.replay_dead_letter(id).await,
                Err(EngineError::UnknownDeadLetter(_))
            ),
            "{id:?}"
        );
    }
    engine.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_channel_holds_up_neither_blocks_nor_other_channels_nor_actions() {
    let Some(anvil) = Anvil::start().await else {
        return;
    };
    let dead = Sink::start(Mode::Hang).await;
    let live = Sink::start(Mode::Accept).await;
    let runs = Arc::new(Runs::default());
    let state = Arc::new(MemoryStateStore::default());
    // The dead channel never answers, and neither the channel nor the engine gives up on it
    // within the test.
    let forever = Duration::from_secs(600);
    let engine = Engine::builder(runs.clone())
        .state(state.clone())
        .notifier(
            "dead",
            webhook_channel(&format!("{}/alert", dead.url), forever),
        )
        .notifier(
            "live",
            webhook_channel(&format!("{}/alert", live.url), 2000 * MS),
        )
        .notification_timeout(forever)
        .build();
    engine
        .add_network(anvil_network(&anvil).await)
        .await
        .unwrap();
    engine
        .add_action(ActionSpec::new("react", "react", "code"))
        .await
        .unwrap();
    engine
        .add_monitor(
            "m1",
            monitor_of_transfers_to_bob(json!({
                "notificationChannels": ["dead", "live"],
                "actionTrigger": "react"
            })),
        )
        .await
        .unwrap();

    let mut txs = BTreeSet::new();
    for round in [5, 3] {
        for _ in 0..round {
            txs.insert(anvil.transfer().await);
        }
        let last = anvil.block_number().await;
        eventually(
            "the checkpoint at the last block",
            30_000 * MS,
            async || checkpoint(state.as_ref()).await >= Some(last),
        )
        .await;
        eventually("every alert on the live channel", 30_000 * MS, async || {
            alert_hashes(&live.accepted("/alert")) == txs
        })
        .await;
        eventually("every linked action run", 30_000 * MS, async || {
            runs.hashes
                .lock()
                .unwrap()
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                == txs
        })
        .await;
    }
    // The dead channel took its first alert and never answered: the others wait behind it.
    assert_eq!(dead.received().len(), 1);
    let waiting = state
        .scan_prefix(Space::OUTBOX, "owed/", None, 1000)
        .await
        .unwrap();
    assert_eq!(
        waiting.len(),
        txs.len(),
        "one delivery per alert still owed to `dead`"
    );
    for (_, v) in waiting {
        let owed: Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(owed["target"], json!({"channel": "dead"}));
    }
    engine.shutdown();
}

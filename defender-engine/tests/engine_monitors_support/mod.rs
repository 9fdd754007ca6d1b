//! The world of the engine's monitor tests (`engine_monitors.rs`): token transfers on the
//! in-memory chain, a runtime that records what it runs (and filters as a custom filter would),
//! an engine with a manual clock and a recording channel, and waits on the watcher's progress.
#![allow(dead_code, unreachable_pub)]

use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, U256};
use async_trait::async_trait;
use defender_core::state::{MemoryStateStore, Space, StateStore};
use defender_core::*;
use defender_engine::monitor::StartAt;
use defender_engine::{Engine, EngineBuilder, NetworkSpec};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The watched token contract.
pub const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
/// A sender.
pub const ALICE: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// A receiver.
pub const BOB: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/// `s` as an address.
pub fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

/// `a` as an indexed topic.
pub fn topic(a: Address) -> B256 {
    B256::left_padding_from(a.as_slice())
}

/// A transaction calling the token that emits `Transfer(from, to, value)`.
pub fn transfer(seq: u64, from: &str, to: &str, value: u64) -> Transaction {
    let log = Log {
        address: addr(TOKEN),
        topics: vec![
            keccak256("Transfer(address,address,uint256)"),
            topic(addr(from)),
            topic(addr(to)),
        ],
        data: Bytes::from(U256::from(value).to_be_bytes::<32>().to_vec()),
        log_index: 0,
    };
    let mut input = keccak256("transfer(address,uint256)")[..4].to_vec();
    input.extend_from_slice(topic(addr(to)).as_slice());
    input.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
    Transaction {
        hash: keccak256(format!("tx-{seq}-{value}")),
        index: 0,
        from: addr(from),
        to: Some(addr(TOKEN)),
        value: U256::ZERO,
        nonce: seq,
        gas_limit: 100_000,
        gas_price: Some(1_000_000_000),
        max_fee_per_gas: None,
        max_priority_fee_per_gas: None,
        input: Bytes::from(input),
        kind: 0,
        receipt: Receipt {
            success: true,
            gas_used: 51_000,
            cumulative_gas_used: 51_000,
            effective_gas_price: 1_000_000_000,
            contract_address: None,
            logs: vec![log],
            logs_bloom: Bloom::default(),
        },
    }
}

/// Records the events it runs; a filter keeps matches whose value is even.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Mutex<Vec<ActionEvent>>,
}

#[async_trait]
impl ActionRuntime for Recorder {
    async fn run(&self, _: &ActionCode, req: RunRequest) -> RunOutcome {
        self.events.lock().unwrap().push(req.event.clone());
        let body = req.event.request.and_then(|r| r.body).unwrap_or_default();
        let result = match body.get("events").and_then(Value::as_array) {
            // A custom filter: keep even values, tagging them.
            Some(events) => {
                let matches: Vec<Value> = events
                    .iter()
                    .filter(|e| {
                        e["matchReasons"][0]["params"]["value"]
                            .as_str()
                            .and_then(|v| v.parse::<u64>().ok())
                            .is_some_and(|v| v % 2 == 0)
                    })
                    .map(|e| json!({"hash": e["hash"], "metadata": {"even": true}}))
                    .collect();
                json!({ "matches": matches })
            }
            None => json!({"seen": body["hash"]}),
        };
        RunOutcome {
            result: Ok(result),
            logs: vec![],
        }
    }
}

impl Recorder {
    /// The events of runs started as a custom filter (`MonitorFilter`) or as a linked action.
    pub fn triggered(&self, trigger: Trigger) -> Vec<ActionEvent> {
        let is_filter = |e: &ActionEvent| {
            e.request
                .as_ref()
                .and_then(|r| r.body.as_ref())
                .is_some_and(|b| b.get("events").is_some())
        };
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| is_filter(e) == (trigger == Trigger::MonitorFilter))
            .cloned()
            .collect()
    }
}

/// A BLOCK monitor of [`TOKEN`] for transfers above 1000, alerting `ops`; `extra` overrides
/// its keys.
pub fn definition(extra: Value) -> MonitorDefinition {
    let mut def = json!({
        "type": "BLOCK",
        "name": "Large transfers",
        "network": "local",
        "addresses": [TOKEN],
        "confirmLevel": 0,
        "eventConditions": [{
            "eventSignature": "Transfer(address indexed from, address indexed to, uint256 value)",
            "expression": "value > 1000"
        }],
        "notificationChannels": ["ops"]
    });
    if let (Some(d), Some(e)) = (def.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(def).unwrap()
}

/// An engine watching the in-memory chain, and what it is built on.
pub struct Setup {
    pub engine: Engine,
    pub chain: Arc<InMemoryChain>,
    pub ops: Arc<RecordingNotifier>,
    pub runtime: Arc<Recorder>,
    pub kv: Arc<InMemoryKvStore>,
    pub state: Arc<MemoryStateStore>,
    pub clock: Arc<ManualClock>,
}

/// The stores an engine restarted on the same data shares with the first one.
pub type Stores = (Arc<InMemoryKvStore>, Arc<MemoryStateStore>);

/// A [`Setup`] on `stores` and `chain`, or fresh ones.
pub async fn setup(stores: Option<Stores>, chain: Option<Arc<InMemoryChain>>) -> Setup {
    setup_with(stores, chain, |b| b).await
}

/// [`setup`], with more done to the engine's builder.
pub async fn setup_with(
    stores: Option<Stores>,
    chain: Option<Arc<InMemoryChain>>,
    configure: impl FnOnce(EngineBuilder) -> EngineBuilder,
) -> Setup {
    let chain = chain.unwrap_or_else(|| {
        let c = Arc::new(InMemoryChain::new(31337));
        c.mine(vec![]);
        c
    });
    let ops = Arc::new(RecordingNotifier::default());
    let runtime = Arc::new(Recorder::default());
    let (kv, state) = stores.unwrap_or_default();
    let clock = Arc::new(ManualClock::new("2026-11-23T12:00:00Z".parse().unwrap()));
    let engine = configure(
        Engine::builder(runtime.clone())
            .kv(kv.clone())
            .state(state.clone())
            .notifier("ops", ops.clone())
            .clock(clock.clone()),
    )
    .build();
    engine
        .add_network(NetworkSpec {
            start: StartAt::Block(0),
            poll_interval: Duration::from_millis(10),
            ..NetworkSpec::new("local", chain.clone())
        })
        .await
        .unwrap();
    Setup {
        engine,
        chain,
        ops,
        runtime,
        kv,
        state,
        clock,
    }
}

/// Polls `check` until it holds (a failure after ~5 s, not a timing assertion).
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the checkpoint reaches `block`, and no longer: alerts may still be on their way.
pub async fn checkpoint_reaches(s: &Setup, level: &str, block: u64) {
    let key = format!("local/{level}");
    for _ in 0..500 {
        if let Some(cp) = s.state.get(Space::CHECKPOINTS, &key).await.unwrap() {
            let cp: Value = serde_json::from_slice(&cp).unwrap();
            if cp["number"].as_u64().is_some_and(|n| n >= block) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("block {block} was not processed");
}

/// Lets the watcher catch up: waits until the checkpoint reaches `block`, then until the
/// alerts of the blocks processed so far have been delivered (delivery is off the block loop).
pub async fn processed(s: &Setup, level: &str, block: u64) {
    let key = format!("local/{level}");
    for _ in 0..500 {
        if let Some(cp) = s.state.get(Space::CHECKPOINTS, &key).await.unwrap() {
            let cp: Value = serde_json::from_slice(&cp).unwrap();
            if cp["number"].as_u64().is_some_and(|n| n >= block) {
                s.engine.flush_alerts().await;
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("block {block} was not processed");
}

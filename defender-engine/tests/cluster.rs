//! Two engines on one engine state and one key-value store (in memory, in one process): a
//! schedule runs in one of them at a time and moves to the other when the first stops, each
//! tick once; a pause and a code update made on one reach the other. The same over Redis,
//! with three processes SIGKILLed under load: `defender-host/tests/cluster.rs`.

use defender_core::state::{MemoryStateStore, StateStore};
use defender_core::{CodeSource, InMemoryKvStore, KvStore, Trigger};
use defender_engine::{ActionSpec, ActionTrigger, Cluster, Engine, Schedule};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Counts its runs by run id in the shared key-value store, with the engine that ran it.
const TICK: &str = r#"
const { KeyValueStoreClient } = require('defender-kvstore-client');
exports.handler = async function (event) {
  const store = new KeyValueStoreClient(event);
  const key = `tick/${event.actionRunId}`;
  const before = JSON.parse((await store.get(key)) || '{"runs":0}');
  await store.put(key, JSON.stringify({ runs: before.runs + 1, engine: process.env.ENGINE, at: Date.now() }));
  return process.env.ENGINE;
};
"#;

fn engine(name: &str, state: &Arc<MemoryStateStore>, kv: &Arc<InMemoryKvStore>) -> Engine {
    let runtime = QuickJsRuntime::new(RuntimeConfig::default().with_env("ENGINE", name));
    Engine::builder(Arc::new(runtime))
        .cluster(Cluster {
            instance: name.into(),
            lease_ttl: Duration::from_millis(600),
        })
        .state(state.clone() as Arc<dyn StateStore>)
        .kv(kv.clone() as Arc<dyn KvStore>)
        .build()
}

/// The runs counted so far: run id -> (runs, engine, time in ms).
async fn runs(kv: &InMemoryKvStore) -> BTreeMap<String, (u64, String, u64)> {
    let mut out = BTreeMap::new();
    for key in kv.list("tick/").await.unwrap() {
        let v: serde_json::Value =
            serde_json::from_str(&kv.get(&key).await.unwrap().unwrap()).unwrap();
        out.insert(
            key.trim_start_matches("tick/").to_owned(),
            (
                v["runs"].as_u64().unwrap(),
                v["engine"].as_str().unwrap().to_owned(),
                v["at"].as_u64().unwrap(),
            ),
        );
    }
    out
}

async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_runs_in_one_engine_at_a_time_and_moves_when_it_stops() {
    let state = Arc::new(MemoryStateStore::default());
    let kv = Arc::new(InMemoryKvStore::default());
    let every = Schedule::Interval(Duration::from_millis(200));
    let spec =
        || ActionSpec::new("tick", "Tick", TICK).trigger(ActionTrigger::Schedule(every.clone()));
    let a = engine("a", &state, &kv);
    a.add_action(spec()).await.unwrap();
    wait_until("a's first run", async || !runs(&kv).await.is_empty()).await;
    let b = engine("b", &state, &kv);
    b.add_action(spec()).await.unwrap();
    wait_until("a few ticks", async || runs(&kv).await.len() >= 6).await;
    let before = runs(&kv).await;
    assert!(
        before.values().all(|(_, engine, _)| engine == "a"),
        "only the holder of the schedule's lease runs it: {before:?}"
    );

    // a stops (releasing its leases): b goes on with the schedule's phase.
    a.shutdown_and_wait().await;
    let stopped = before.len();
    wait_until("b's ticks", async || runs(&kv).await.len() >= stopped + 6).await;
    b.shutdown_and_wait().await;
    let all = runs(&kv).await;
    assert!(
        all.values().any(|(_, engine, _)| engine == "b"),
        "b took over: {all:?}"
    );
    assert!(
        all.values().all(|(n, _, _)| *n == 1),
        "each tick ran once: {all:?}"
    );
    // Each run's id is its tick's: the ticks are every 200 ms from the first, with none
    // missing in between.
    let mut times: Vec<u64> = all.values().map(|(_, _, at)| *at).collect();
    times.sort();
    let first = times[0];
    let anchor_candidates = (first.saturating_sub(400)..=first).step_by(1);
    let anchor = anchor_candidates
        .filter_map(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
        .find(|t| all.contains_key(&every.run_id("tick", *t)))
        .expect("the first run's id is the id of a tick shortly before it ran");
    let expected: Vec<String> = (0..all.len() as i64)
        .map(|k| every.run_id("tick", anchor + chrono::Duration::milliseconds(200 * k)))
        .collect();
    for id in &expected {
        assert!(all.contains_key(id), "tick {id} ran; runs: {all:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pauses_and_code_updates_reach_the_other_engine() {
    let state = Arc::new(MemoryStateStore::default());
    let kv = Arc::new(InMemoryKvStore::default());
    let (a, b) = (engine("a", &state, &kv), engine("b", &state, &kv));
    for e in [&a, &b] {
        e.add_action(ActionSpec::new(
            "x",
            "X",
            "exports.handler = async () => 'v1';",
        ))
        .await
        .unwrap();
    }
    a.update_code(
        "x",
        CodeSource::Script("exports.handler = async () => 'v2';".into()),
    )
    .unwrap();
    wait_until("b runs the new code", async || {
        let run = b.run_action("x", Trigger::Manual, None).await.unwrap();
        run.result.as_deref() == Some("\"v2\"")
    })
    .await;
    b.set_action_paused("x", true).unwrap();
    wait_until("a sees the pause", async || {
        a.manage().get_action("x").await.unwrap().paused
    })
    .await;
    a.set_action_paused("x", false).unwrap();
    wait_until("b sees the resume", async || {
        !b.manage().get_action("x").await.unwrap().paused
    })
    .await;
}

//! The [`StateStore`] contract: entries in spaces that never meet; sorted prefix scans with a
//! limit and a cursor; atomic batches with preconditions; compare-and-swap of which exactly
//! one racer wins; atomic counters; large, empty and binary values.
//!
//! ```
//! use defender_core::conformance::state;
//! use defender_core::state::MemoryStateStore;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! state::run_suite(|| async { MemoryStateStore::default() }).await;
//! # });
//! ```

use super::Via;
use crate::state::{
    Space, StateError, StateOp, StateStore, StateStoreExt, MAX_COUNTER, MAX_KEY_BYTES,
};
use bytes::Bytes;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

/// A space of the suite's own, beside the engine's.
const OTHER: Space = Space::new("conformance-other");

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs every check, each on a fresh store built by `make`, directly, through
/// `Box<dyn StateStore>` and through `Arc<dyn StateStore>`.
///
/// `make` must return an empty store.
pub async fn run_suite<F, Fut, S>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: StateStore,
{
    for via in Via::ALL {
        reach!(forwarding StateStore, via, make().await, |s| get_put_delete(s).await);
        reach!(forwarding StateStore, via, make().await, |s| spaces_are_isolated(s).await);
        reach!(forwarding StateStore, via, make().await, |s| scan_sorted_with_prefix_limit_and_cursor(s).await);
        reach!(forwarding StateStore, via, make().await, |s| apply_is_all_or_nothing(s).await);
        reach!(forwarding StateStore, via, make().await, |s| compare_and_swap_rules(s).await);
        reach!(forwarding StateStore, via, make().await, |s| increment_rules(s).await);
        reach!(forwarding StateStore, via, make().await, |s| large_empty_and_binary_values(s).await);
        reach!(forwarding StateStore, via, make().await, |s| invalid_keys_change_nothing(s).await);
        reach!(forwarding StateStore, via, make().await, |s| typed_json_values(s).await);
        eprintln!("conformance: cas_race {via}");
        cas_race(share!(forwarding StateStore, via, make().await), 8).await;
        eprintln!("conformance: concurrent_increments {via}");
        concurrent_increments(share!(forwarding StateStore, via, make().await), 16, 25).await;
    }
}

/// `put` creates and overwrites, `get` reads, `delete` removes and says whether there was an
/// entry; an empty value is not a missing one.
pub async fn get_put_delete(store: &dyn StateStore) {
    let s = Space::CHECKPOINTS;
    assert_eq!(store.get(s, "m1").await.expect("get"), None);
    store.put(s, "m1", b("100")).await.expect("put");
    assert_eq!(store.get(s, "m1").await.expect("get"), Some(b("100")));
    store.put(s, "m1", b("101")).await.expect("overwrite");
    assert_eq!(
        store.get(s, "m1").await.expect("get"),
        Some(b("101")),
        "put overwrites"
    );
    store
        .put(s, "empty", Bytes::new())
        .await
        .expect("put empty");
    assert_eq!(
        store.get(s, "empty").await.expect("get"),
        Some(Bytes::new()),
        "an empty value is an entry"
    );
    assert!(
        store.delete(s, "m1").await.expect("delete"),
        "delete reports an entry"
    );
    assert!(
        !store.delete(s, "m1").await.expect("delete"),
        "delete reports a missing entry"
    );
    assert_eq!(store.get(s, "m1").await.expect("get"), None);
    assert!(store.delete(s, "empty").await.expect("delete"));
    assert_eq!(store.get(s, "empty").await.expect("get"), None);
}

/// The same key in two spaces names two entries; writes, deletes, scans and counters of one
/// space never show in another.
pub async fn spaces_are_isolated(store: &dyn StateStore) {
    store
        .put(Space::OUTBOX, "k", b("outbox"))
        .await
        .expect("put");
    store.put(OTHER, "k", b("other")).await.expect("put");
    store.put(Space::OUTBOX, "k2", b("x")).await.expect("put");
    assert_eq!(
        store.get(Space::OUTBOX, "k").await.expect("get"),
        Some(b("outbox"))
    );
    assert_eq!(store.get(OTHER, "k").await.expect("get"), Some(b("other")));
    assert_eq!(store.get(Space::CHECKPOINTS, "k").await.expect("get"), None);
    let other: Vec<_> = store
        .scan_prefix(OTHER, "", None, 100)
        .await
        .expect("scan")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(other, ["k"], "a scan sees its own space only");
    assert!(store.delete(OTHER, "k").await.expect("delete"));
    assert_eq!(
        store.get(Space::OUTBOX, "k").await.expect("get"),
        Some(b("outbox")),
        "a delete in one space leaves the other"
    );
    assert_eq!(
        store.increment(Space::NONCES, "k", 5).await.expect("incr"),
        5
    );
    assert_eq!(
        store.get(Space::OUTBOX, "k").await.expect("get"),
        Some(b("outbox")),
        "a counter in one space leaves the other"
    );
    // Space names that prefix each other stay apart.
    const RUN: Space = Space::new("run");
    const RUNS: Space = Space::new("runs");
    store.put(RUN, "s/x", b("1")).await.expect("put");
    store.put(RUNS, "x", b("2")).await.expect("put");
    assert_eq!(store.get(RUN, "sx").await.expect("get"), None);
    assert_eq!(store.get(RUNS, "/x").await.expect("get"), None);
    assert_eq!(
        store
            .scan_prefix(RUNS, "", None, 10)
            .await
            .expect("scan")
            .len(),
        1
    );
    assert_eq!(
        store
            .scan_prefix(RUN, "", None, 10)
            .await
            .expect("scan")
            .len(),
        1
    );
}

/// `scan_prefix` returns one space's entries under a prefix, sorted by key bytes, after the
/// cursor, at most `limit`, fewer only at the end.
pub async fn scan_sorted_with_prefix_limit_and_cursor(store: &dyn StateStore) {
    let s = Space::TRANSACTIONS;
    let keys = [
        "relayer-b/0002",
        "relayer-a/0010",
        "relayer-a/0002",
        "relayer-a",
        "relayer-a/é",
        "relayer-a/z",
        "relayer-a0",
        "relayer-a/0001",
        "relayer-",
        "zzz",
        "Relayer-a/0003",
    ];
    for (i, k) in keys.iter().enumerate() {
        store
            .put(s, k, Bytes::from(format!("v{i}")))
            .await
            .expect("put");
    }
    store
        .put(OTHER, "relayer-a/0000", b("other"))
        .await
        .expect("put");
    let all: Vec<String> = store
        .scan_prefix(s, "", None, 100)
        .await
        .expect("scan all")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    assert_eq!(all, sorted, "a scan is sorted by key bytes");

    let under: Vec<(String, Bytes)> = store
        .scan_prefix(s, "relayer-a/", None, 100)
        .await
        .expect("scan prefix");
    let under_keys: Vec<&str> = under.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        under_keys,
        [
            "relayer-a/0001",
            "relayer-a/0002",
            "relayer-a/0010",
            "relayer-a/z",
            "relayer-a/é"
        ],
        "only keys under the prefix, sorted, of this space"
    );
    assert_eq!(under[0].1, b("v7"), "a scan returns values");

    let first_two = store
        .scan_prefix(s, "relayer-a/", None, 2)
        .await
        .expect("scan limit");
    assert_eq!(first_two.len(), 2, "limit honoured");
    assert_eq!(first_two[1].0, "relayer-a/0002");
    let next = store
        .scan_prefix(s, "relayer-a/", Some("relayer-a/0002"), 2)
        .await
        .expect("scan after");
    let next_keys: Vec<&str> = next.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        next_keys,
        ["relayer-a/0010", "relayer-a/z"],
        "strictly after the cursor"
    );
    assert!(store
        .scan_prefix(s, "relayer-a/", None, 0)
        .await
        .expect("scan 0")
        .is_empty());
    assert!(store
        .scan_prefix(s, "relayer-a/", Some("relayer-a/é"), 10)
        .await
        .expect("scan past the end")
        .is_empty());
    assert_eq!(
        store
            .scan_prefix(s, "relayer-a/", Some("a"), 1)
            .await
            .expect("cursor before the prefix")[0]
            .0,
        "relayer-a/0001",
        "a cursor before the prefix starts at the prefix"
    );
    assert!(store
        .scan_prefix(s, "nothing", None, 10)
        .await
        .expect("scan")
        .is_empty());

    // Paging with the last key as the cursor visits every entry once.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .scan_prefix(s, "", after.as_deref(), 3)
            .await
            .expect("page");
        let short = page.len() < 3;
        after = page.last().map(|(k, _)| k.clone()).or(after);
        paged.extend(page.into_iter().map(|(k, _)| k));
        if short {
            break;
        }
    }
    assert_eq!(paged, sorted, "paging visits every entry once, in order");
    assert_eq!(
        store
            .scan_all(s, "relayer-a/")
            .await
            .expect("scan_all")
            .len(),
        5
    );
}

/// A batch writes all or nothing: a failed precondition or an invalid key anywhere in it
/// leaves every entry as it was; preconditions see the state before the batch; later writes
/// of an entry win.
pub async fn apply_is_all_or_nothing(store: &dyn StateStore) {
    store
        .put(Space::CHECKPOINTS, "m", b("1"))
        .await
        .expect("put");
    store.put(Space::OUTBOX, "old", b("o")).await.expect("put");
    store.apply(Vec::new()).await.expect("an empty batch");

    let moved = vec![
        StateOp::expect(Space::CHECKPOINTS, "m", Some(b("1"))),
        StateOp::expect(Space::OUTBOX, "new", None),
        StateOp::put(Space::OUTBOX, "new", b("owed")),
        StateOp::delete(Space::OUTBOX, "old"),
        StateOp::put(Space::CHECKPOINTS, "m", b("2")),
    ];
    store
        .apply(moved.clone())
        .await
        .expect("a batch whose preconditions hold");
    assert_eq!(
        store.get(Space::CHECKPOINTS, "m").await.expect("get"),
        Some(b("2"))
    );
    assert_eq!(
        store.get(Space::OUTBOX, "new").await.expect("get"),
        Some(b("owed"))
    );
    assert_eq!(store.get(Space::OUTBOX, "old").await.expect("get"), None);

    // A precondition that fails after writes in the batch: nothing is written.
    let stale = vec![
        StateOp::put(Space::OUTBOX, "stale", b("x")),
        StateOp::delete(Space::OUTBOX, "new"),
        StateOp::put(Space::CHECKPOINTS, "m", b("3")),
        StateOp::expect(Space::CHECKPOINTS, "m", Some(b("1"))),
    ];
    match store.apply(stale).await {
        Err(StateError::Conflict { space, key }) => {
            assert_eq!((space, key.as_str()), (Space::CHECKPOINTS, "m"));
        }
        other => panic!("a failed precondition gives Conflict, got {other:?}"),
    }
    assert_eq!(store.get(Space::OUTBOX, "stale").await.expect("get"), None);
    assert_eq!(
        store.get(Space::OUTBOX, "new").await.expect("get"),
        Some(b("owed"))
    );
    assert_eq!(
        store.get(Space::CHECKPOINTS, "m").await.expect("get"),
        Some(b("2"))
    );

    // Expecting absence of a present entry fails too.
    let present = vec![
        StateOp::put(Space::OUTBOX, "x", b("x")),
        StateOp::expect(Space::OUTBOX, "new", None),
    ];
    assert!(matches!(
        store.apply(present).await,
        Err(StateError::Conflict { .. })
    ));
    assert_eq!(store.get(Space::OUTBOX, "x").await.expect("get"), None);

    // An invalid key anywhere: nothing is written.
    let invalid = vec![
        StateOp::put(Space::OUTBOX, "a", b("a")),
        StateOp::delete(Space::OUTBOX, "new"),
        StateOp::put(Space::OUTBOX, "", b("empty key")),
    ];
    assert!(matches!(
        store.apply(invalid).await,
        Err(StateError::InvalidKey { .. })
    ));
    assert_eq!(store.get(Space::OUTBOX, "a").await.expect("get"), None);
    assert_eq!(
        store.get(Space::OUTBOX, "new").await.expect("get"),
        Some(b("owed"))
    );

    // Preconditions see the state before the batch; the last write of an entry wins.
    let ordered = vec![
        StateOp::put(Space::OUTBOX, "seq", b("first")),
        StateOp::expect(Space::OUTBOX, "seq", None),
        StateOp::delete(Space::OUTBOX, "seq"),
        StateOp::put(Space::OUTBOX, "seq", b("last")),
    ];
    store.apply(ordered).await.expect("ordered batch");
    assert_eq!(
        store.get(Space::OUTBOX, "seq").await.expect("get"),
        Some(b("last"))
    );
    let deleted_last = vec![
        StateOp::put(Space::OUTBOX, "seq", b("again")),
        StateOp::delete(Space::OUTBOX, "seq"),
    ];
    store.apply(deleted_last).await.expect("batch");
    assert_eq!(store.get(Space::OUTBOX, "seq").await.expect("get"), None);
}

/// `compare_and_swap` writes only over the expected value (or absence), deletes with `None`,
/// and changes nothing when it returns `false`.
pub async fn compare_and_swap_rules(store: &dyn StateStore) {
    let s = Space::LEASES;
    assert!(store
        .compare_and_swap(s, "l", None, Some(b("a")))
        .await
        .expect("cas"));
    assert!(
        !store
            .compare_and_swap(s, "l", None, Some(b("b")))
            .await
            .expect("cas"),
        "absence was expected but there is an entry"
    );
    assert!(
        !store
            .compare_and_swap(s, "l", Some(b("x")), Some(b("b")))
            .await
            .expect("cas"),
        "another value was expected"
    );
    assert_eq!(store.get(s, "l").await.expect("get"), Some(b("a")));
    assert!(store
        .compare_and_swap(s, "l", Some(b("a")), Some(b("b")))
        .await
        .expect("cas"));
    assert_eq!(store.get(s, "l").await.expect("get"), Some(b("b")));
    assert!(
        !store
            .compare_and_swap(s, "l", Some(Bytes::new()), None)
            .await
            .expect("cas"),
        "an empty expected value is not a wildcard"
    );
    assert!(store
        .compare_and_swap(s, "l", Some(b("b")), None)
        .await
        .expect("cas delete"));
    assert_eq!(store.get(s, "l").await.expect("get"), None);
    assert!(
        !store
            .compare_and_swap(s, "l", Some(b("b")), None)
            .await
            .expect("cas"),
        "nothing to delete"
    );
    store.put(s, "e", Bytes::new()).await.expect("put");
    assert!(
        !store
            .compare_and_swap(s, "e", None, Some(b("x")))
            .await
            .expect("cas"),
        "an empty value is not absence"
    );
    assert!(store
        .compare_and_swap(s, "e", Some(Bytes::new()), Some(b("x")))
        .await
        .expect("cas"));
}

/// Counters: a missing one counts as 0; values are stored as decimal digits; values that are
/// not counters and results past [`MAX_COUNTER`] fail and change nothing.
pub async fn increment_rules(store: &dyn StateStore) {
    let s = Space::NONCES;
    assert_eq!(store.increment(s, "r", 1).await.expect("incr"), 1);
    assert_eq!(store.increment(s, "r", 10).await.expect("incr"), 11);
    assert_eq!(store.increment(s, "r", 0).await.expect("incr"), 11);
    assert_eq!(
        store.get(s, "r").await.expect("get"),
        Some(b("11")),
        "decimal digits"
    );
    assert_eq!(store.counter(s, "r").await.expect("counter"), 11);
    assert_eq!(store.increment(s, "zero", 0).await.expect("incr 0"), 0);
    assert_eq!(
        store.get(s, "zero").await.expect("get"),
        Some(b("0")),
        "increment by 0 creates the counter"
    );
    store.put(s, "set", b("41")).await.expect("put");
    assert_eq!(
        store.increment(s, "set", 1).await.expect("incr"),
        42,
        "put sets a counter"
    );

    for bad in [
        "x",
        "",
        "-1",
        "+1",
        "01",
        "1.5",
        " 1",
        "9223372036854775808",
    ] {
        store.put(s, "bad", b(bad)).await.expect("put");
        assert!(
            matches!(
                store.increment(s, "bad", 1).await,
                Err(StateError::NotACounter { .. })
            ),
            "{bad:?} is not a counter"
        );
        assert_eq!(
            store.get(s, "bad").await.expect("get"),
            Some(b(bad)),
            "unchanged"
        );
    }
    store
        .put(s, "big", encode(MAX_COUNTER - 1))
        .await
        .expect("put");
    assert_eq!(
        store.increment(s, "big", 1).await.expect("to the max"),
        MAX_COUNTER
    );
    assert!(matches!(
        store.increment(s, "big", 1).await,
        Err(StateError::CounterOverflow { .. })
    ));
    assert_eq!(store.counter(s, "big").await.expect("counter"), MAX_COUNTER);
    assert!(matches!(
        store.increment(s, "huge", u64::MAX).await,
        Err(StateError::CounterOverflow { .. })
    ));
    assert_eq!(store.get(s, "huge").await.expect("get"), None, "unchanged");
    assert_eq!(
        store
            .scan_prefix(s, "huge", None, 10)
            .await
            .expect("scan")
            .len(),
        0
    );
    assert_eq!(
        store
            .scan_prefix(s, "r", None, 10)
            .await
            .expect("scan")
            .len(),
        1,
        "a counter is an entry"
    );
}

fn encode(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}

/// Values of 8 MiB, empty values and every byte value come back exactly, from `get` and
/// `scan_prefix`.
pub async fn large_empty_and_binary_values(store: &dyn StateStore) {
    let s = Space::OUTBOX;
    let large: Bytes = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect::<Vec<u8>>()
        .into();
    let binary: Bytes = (0..=255u8).collect::<Vec<u8>>().into();
    store
        .put(s, "large", large.clone())
        .await
        .expect("put large");
    store
        .put(s, "binary", binary.clone())
        .await
        .expect("put binary");
    store
        .put(s, "empty", Bytes::new())
        .await
        .expect("put empty");
    assert!(
        store.get(s, "large").await.expect("get") == Some(large.clone()),
        "a large value comes back whole"
    );
    assert_eq!(
        store.get(s, "binary").await.expect("get"),
        Some(binary.clone())
    );
    let scanned = store.scan_prefix(s, "", None, 10).await.expect("scan");
    assert_eq!(scanned.len(), 3);
    assert_eq!(scanned[0], ("binary".to_string(), binary));
    assert_eq!(scanned[1], ("empty".to_string(), Bytes::new()));
    assert!(scanned[2].0 == "large" && scanned[2].1 == large);
    let key = "k".repeat(MAX_KEY_BYTES);
    store
        .put(s, &key, b("longest key"))
        .await
        .expect("the longest key");
    assert_eq!(
        store.get(s, &key).await.expect("get"),
        Some(b("longest key"))
    );
}

/// Empty and too long keys fail with [`StateError::InvalidKey`] everywhere and change
/// nothing.
pub async fn invalid_keys_change_nothing(store: &dyn StateStore) {
    let s = Space::SCHEDULES;
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    for key in ["", long.as_str()] {
        let invalid = |r: &Result<_, StateError>| matches!(r, Err(StateError::InvalidKey { .. }));
        assert!(invalid(&store.get(s, key).await.map(|_| ())), "get");
        assert!(invalid(&store.put(s, key, b("v")).await), "put");
        assert!(invalid(&store.delete(s, key).await.map(|_| ())), "delete");
        assert!(
            invalid(
                &store
                    .compare_and_swap(s, key, None, Some(b("v")))
                    .await
                    .map(|_| ())
            ),
            "compare_and_swap"
        );
        assert!(
            invalid(&store.increment(s, key, 1).await.map(|_| ())),
            "increment"
        );
    }
    assert!(store
        .scan_prefix(s, "", None, 10)
        .await
        .expect("scan")
        .is_empty());
}

/// Typed values through [`StateStoreExt`]: JSON in, JSON out, a typed error for a value of
/// another shape.
pub async fn typed_json_values(store: &dyn StateStore) {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Gate {
        hits: u32,
        since: String,
    }
    let gate = Gate {
        hits: 3,
        since: "2026-01-01".into(),
    };
    store
        .put_json(Space::ALERT_GATES, "g", &gate)
        .await
        .expect("put_json");
    assert_eq!(
        store
            .get_json::<Gate>(Space::ALERT_GATES, "g")
            .await
            .expect("get_json"),
        Some(gate)
    );
    assert_eq!(
        store
            .get_json::<Gate>(Space::ALERT_GATES, "none")
            .await
            .expect("get_json"),
        None
    );
    assert!(matches!(
        store.get_json::<u64>(Space::ALERT_GATES, "g").await,
        Err(StateError::Decode { .. })
    ));
    let op = StateOp::put_json(Space::ALERT_GATES, "h", &[1, 2]).expect("an op");
    store.apply(vec![op]).await.expect("apply");
    assert_eq!(
        store.get(Space::ALERT_GATES, "h").await.expect("get"),
        Some(b("[1,2]"))
    );
}

/// Tasks racing to swap the same entry from the same value: exactly one wins each round.
pub async fn cas_race(store: Arc<dyn StateStore>, tasks: usize) {
    let s = Space::LEASES;
    let mut current: Option<Bytes> = None;
    for round in 0..5 {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let store = store.clone();
            let expected = current.clone();
            handles.push(tokio::spawn(async move {
                let mine = Bytes::from(format!("round {round} task {t}"));
                let won = store
                    .compare_and_swap(s, "race", expected, Some(mine.clone()))
                    .await
                    .expect("cas");
                won.then_some(mine)
            }));
        }
        let mut winners = Vec::new();
        for h in handles {
            if let Some(mine) = h.await.expect("a racing task panicked") {
                winners.push(mine);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one of {tasks} swaps wins, not {}",
            winners.len()
        );
        let stored = store.get(s, "race").await.expect("get");
        assert_eq!(
            stored.as_ref(),
            winners.first(),
            "the winner's value is stored"
        );
        current = stored;
    }
}

/// `tasks` tasks incrementing one counter `per_task` times by 1 get distinct values, 1 to
/// `tasks * per_task`, and the counter ends there.
pub async fn concurrent_increments(store: Arc<dyn StateStore>, tasks: usize, per_task: usize) {
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                got.push(
                    store
                        .increment(Space::NONCES, "shared", 1)
                        .await
                        .expect("increment"),
                );
            }
            got
        }));
    }
    let mut all = BTreeSet::new();
    let mut count = 0usize;
    for h in handles {
        for v in h.await.expect("an incrementing task panicked") {
            count += 1;
            assert!(all.insert(v), "value {v} was handed out twice");
        }
    }
    let total = u64::try_from(tasks * per_task).unwrap_or(u64::MAX);
    assert_eq!(count, tasks * per_task);
    assert_eq!(
        all,
        (1..=total).collect::<BTreeSet<u64>>(),
        "values are contiguous from 1"
    );
    assert_eq!(
        store
            .counter(Space::NONCES, "shared")
            .await
            .expect("counter"),
        total
    );
}

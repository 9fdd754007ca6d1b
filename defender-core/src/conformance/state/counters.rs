//! Atomic counters: their rules, and concurrent increments.

use super::b;
use crate::state::{Space, StateError, StateStore, StateStoreExt, MAX_COUNTER};
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::Arc;

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

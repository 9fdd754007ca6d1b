//! Single entries: get, put and delete; spaces that never meet; large, empty and binary
//! values; invalid keys; typed JSON values.

use super::{b, OTHER};
use crate::state::{Space, StateError, StateOp, StateStore, StateStoreExt, MAX_KEY_BYTES};
use bytes::Bytes;

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

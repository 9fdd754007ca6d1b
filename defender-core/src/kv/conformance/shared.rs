//! Checks on a store shared between views and tasks: namespaced views, concurrent writers,
//! and the quota under contention.

use super::assert_limit;
use crate::kv::{KvError, KvLimit, KvLimits, KvStore, KvStoreExt};
use std::sync::Arc;

/// Two namespaced views of one store isolate their keys; `list` strips the prefix; the limits
/// apply to the full key.
pub async fn namespacing(store: Arc<dyn KvStore>) {
    let a = store.clone().namespaced("action-a/");
    let b = store.clone().namespaced("action-b/");
    assert_eq!(a.prefix(), "action-a/");
    a.put("lastBlock", "100").await.expect("put a");
    b.put("lastBlock", "200").await.expect("put b");
    assert_eq!(
        a.get("lastBlock").await.expect("get").as_deref(),
        Some("100")
    );
    assert_eq!(
        b.get("lastBlock").await.expect("get").as_deref(),
        Some("200")
    );
    assert_eq!(
        store
            .get("action-a/lastBlock")
            .await
            .expect("get")
            .as_deref(),
        Some("100"),
        "a namespaced key is the prefix plus the key"
    );
    assert_eq!(store.get("lastBlock").await.expect("get"), None);
    a.put("sub/1", "x").await.expect("put");
    assert_eq!(
        a.list("").await.expect("list"),
        vec!["lastBlock".to_string(), "sub/1".to_string()],
        "list in a namespace strips the prefix"
    );
    assert_eq!(
        a.list("sub/").await.expect("list"),
        vec!["sub/1".to_string()]
    );
    a.del("lastBlock").await.expect("del");
    assert_eq!(a.get("lastBlock").await.expect("get"), None);
    assert_eq!(
        b.get("lastBlock").await.expect("get").as_deref(),
        Some("200"),
        "del is isolated"
    );
    assert!(
        matches!(a.put("", "v").await, Err(KvError::EmptyKey)),
        "empty key in a namespace"
    );

    // Limits apply to the full key.
    let room = KvLimits::default().max_key_bytes - "action-a/".len();
    a.put(&"k".repeat(room), "fits")
        .await
        .expect("prefix + key = 1024 bytes");
    assert_limit(
        a.put(&"k".repeat(room + 1), "v").await,
        KvLimit::KeyBytes,
        1025,
        1024,
        "prefix + key",
    );
    let nested = store.clone().namespaced("outer/").namespaced("inner/");
    nested.put("k", "v").await.expect("nested put");
    assert_eq!(
        store.get("outer/inner/k").await.expect("get").as_deref(),
        Some("v")
    );
}

/// `writers` tasks put `per_writer` keys each, all at once; every task also overwrites one
/// shared key. Afterwards every acknowledged put is there with its exact value (no lost
/// update), each writer read its own writes, and the shared key holds one of the written
/// values (no torn or mixed value).
pub async fn concurrent_writers(store: Arc<dyn KvStore>, writers: usize, per_writer: usize) {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let key = format!("w{w:03}/k{i:04}");
                let value = format!("writer {w} item {i} {}", "x".repeat(i * 7));
                store.put(&key, &value).await.expect("concurrent put");
                assert_eq!(
                    store.get(&key).await.expect("get").as_deref(),
                    Some(value.as_str()),
                    "a writer reads its own write"
                );
                store
                    .put("shared", &format!("shared by writer {w} item {i}"))
                    .await
                    .expect("concurrent overwrite");
            }
        }));
    }
    for t in tasks {
        t.await.expect("a writer task panicked");
    }
    for w in 0..writers {
        for i in 0..per_writer {
            let key = format!("w{w:03}/k{i:04}");
            let value = format!("writer {w} item {i} {}", "x".repeat(i * 7));
            assert_eq!(
                store.get(&key).await.expect("get").as_deref(),
                Some(value.as_str()),
                "an acknowledged concurrent put was lost: {key}"
            );
        }
        assert_eq!(
            store.list(&format!("w{w:03}/")).await.expect("list").len(),
            per_writer,
            "list sees every write of writer {w}"
        );
    }
    let shared = store
        .get("shared")
        .await
        .expect("get")
        .expect("the shared key exists");
    let ok = (0..writers)
        .any(|w| (0..per_writer).any(|i| shared == format!("shared by writer {w} item {i}")));
    assert!(ok, "the shared key holds a value nobody wrote: {shared:?}");
    assert_eq!(
        store.list("").await.expect("list").len(),
        writers * per_writer + 1
    );
}

/// `racers` tasks each try to add `max` new keys to a store capped at `max` entries, all at
/// once: exactly `max` puts succeed, the rest fail with the quota error, and the store holds
/// exactly the acknowledged keys. The store must have
/// [`quota_limits`](super::quota_limits)`(max)`.
pub async fn quota_under_contention(store: Arc<dyn KvStore>, max: usize, racers: usize) {
    let mut tasks = Vec::new();
    for r in 0..racers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for i in 0..max {
                let key = format!("r{r}/{i}");
                match store.put(&key, "v").await {
                    Ok(()) => won.push(key),
                    Err(KvError::LimitExceeded {
                        what: KvLimit::Entries,
                        ..
                    }) => {}
                    Err(e) => panic!("unexpected error under contention: {e}"),
                }
            }
            won
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("a racer task panicked"));
    }
    acknowledged.sort();
    assert_eq!(
        acknowledged.len(),
        max,
        "the cap must hold under concurrent puts"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        acknowledged,
        "exactly the acknowledged keys"
    );
}

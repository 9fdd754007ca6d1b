//! The embedded redb backend: durability across reopen, purge, locking, bad files.

use defender_kv::{KvError, KvLimits, KvOptions, KvStore, ManualClock, RedbKvStore};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn data_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kv.redb");
    let store = RedbKvStore::open(&path).expect("open");
    store.put("a", "1").await.expect("put");
    store
        .put("b", &"é".repeat(150 * 1024))
        .await
        .expect("put 300 KiB");
    store.put("c", "3").await.expect("put");
    store.del("c").await.expect("del");
    drop(store);
    let store = RedbKvStore::open(&path).expect("reopen");
    assert_eq!(store.path(), path);
    assert_eq!(store.get("a").await.expect("get").as_deref(), Some("1"));
    assert_eq!(
        store.get("b").await.expect("get").map(|v| v.len()),
        Some(300 * 1024)
    );
    assert_eq!(store.get("c").await.expect("get"), None);
}

#[tokio::test]
async fn one_process_opens_the_file_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kv.redb");
    let _store = RedbKvStore::open(&path).expect("open");
    assert!(
        matches!(RedbKvStore::open(&path), Err(KvError::Unavailable { .. })),
        "a second open of the same file fails"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kv.redb");
    std::fs::write(&path, vec![0x5a; 8192]).expect("write garbage");
    let err = RedbKvStore::open(&path).expect_err("garbage is not a database");
    assert!(
        matches!(err, KvError::Corrupt { .. } | KvError::Unavailable { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn purge_removes_expired_entries_and_expiry_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kv.redb");
    let clock = Arc::new(ManualClock::new(
        "2026-01-01T00:00:00Z".parse().expect("time"),
    ));
    let options = KvOptions::default()
        .with_limits(KvLimits {
            ttl: Duration::from_secs(10),
            ..KvLimits::default()
        })
        .with_clock(clock.clone());
    let store = RedbKvStore::open_with(&path, options.clone()).expect("open");
    for i in 0..5 {
        store.put(&format!("old{i}"), "v").await.expect("put");
    }
    clock.advance(chrono::Duration::seconds(5));
    store.put("new", "v").await.expect("put");
    drop(store);
    clock.advance(chrono::Duration::seconds(5));
    let store = RedbKvStore::open_with(&path, options).expect("reopen");
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["new"],
        "expiry times are stored"
    );
    assert_eq!(store.purge_expired().await.expect("purge"), 5);
    assert_eq!(store.purge_expired().await.expect("purge"), 0);
    assert_eq!(store.get("new").await.expect("get").as_deref(), Some("v"));
}

//! Defender's limits: key and value sizes, expiry after the last put, and the entry quota.

use super::assert_limit;
use crate::clock::ManualClock;
use crate::kv::{KvLimit, KvLimits, KvStore};
use std::time::Duration;

/// Defender's limits, at the boundary and one past it: a key of 1024 bytes and a value of
/// 300 KiB (307 200 bytes) are accepted; one byte more fails with a typed error naming the
/// limit and changes nothing. Sizes are UTF-8 bytes, not characters. The store must have
/// [`KvLimits::default`].
pub async fn defender_limits_at_the_boundary(store: &dyn KvStore) {
    let limits = KvLimits::default();
    assert_eq!(limits.max_key_bytes, 1024);
    assert_eq!(limits.max_value_bytes, 300 * 1024);

    // Keys: 512 two-byte characters are 1024 bytes.
    let key_max = "é".repeat(512);
    let key_over = format!("k{key_max}");
    assert_eq!(key_max.len(), 1024);
    store
        .put(&key_max, "at the limit")
        .await
        .expect("a 1024-byte key is accepted");
    assert_eq!(
        store.get(&key_max).await.expect("get").as_deref(),
        Some("at the limit")
    );
    assert_limit(
        store.put(&key_over, "v").await,
        KvLimit::KeyBytes,
        1025,
        1024,
        "put, 1025-byte key",
    );
    assert_limit(
        store.get(&key_over).await,
        KvLimit::KeyBytes,
        1025,
        1024,
        "get, 1025-byte key",
    );
    assert_limit(
        store.del(&key_over).await,
        KvLimit::KeyBytes,
        1025,
        1024,
        "del, 1025-byte key",
    );
    store.del(&key_max).await.expect("del of a 1024-byte key");

    // Values: exactly 300 KiB, then one byte more (a three-byte character pushes it over).
    let value_max = "v".repeat(300 * 1024);
    store
        .put("big", &value_max)
        .await
        .expect("a 300 KiB value is accepted");
    assert_eq!(
        store.get("big").await.expect("get").map(|v| v.len()),
        Some(300 * 1024),
        "a 300 KiB value reads back whole"
    );
    assert!(store.get("big").await.expect("get").as_deref() == Some(value_max.as_str()));
    let value_over = format!("{}€", "v".repeat(300 * 1024 - 2));
    assert_eq!(value_over.len(), 300 * 1024 + 1);
    assert_limit(
        store.put("big", &value_over).await,
        KvLimit::ValueBytes,
        300 * 1024 + 1,
        300 * 1024,
        "put, value of 300 KiB + 1 byte",
    );
    assert!(
        store.get("big").await.expect("get").as_deref() == Some(value_max.as_str()),
        "a refused put leaves the old value"
    );
    assert_limit(
        store.put("new-big", &value_over).await,
        KvLimit::ValueBytes,
        300 * 1024 + 1,
        300 * 1024,
        "put of a new key, value of 300 KiB + 1 byte",
    );
    assert_eq!(
        store.get("new-big").await.expect("get"),
        None,
        "a refused put stores nothing"
    );
    assert_eq!(store.list("").await.expect("list"), vec!["big".to_string()]);
}

/// An entry expires `ttl` after its **last** put, by the store's clock: it is there 1 ms
/// before and gone at the instant; a put restarts the time; an expired key reads as missing,
/// is not listed, and can be written again. The store must use `clock` and this `ttl`.
pub async fn expiry(store: &dyn KvStore, clock: &ManualClock, ttl: Duration) {
    let ttl = chrono::Duration::from_std(ttl).expect("ttl fits");
    let ms = chrono::Duration::milliseconds(1);
    store.put("short", "1").await.expect("put");
    store.put("other", "stays").await.expect("put");
    clock.advance(ttl / 2);
    store
        .put("other", "refreshed")
        .await
        .expect("put restarts the time to live");
    clock.advance(ttl / 2 - ms);
    assert_eq!(
        store.get("short").await.expect("get").as_deref(),
        Some("1"),
        "an entry lives until its time to live has passed"
    );
    clock.advance(ms);
    assert_eq!(
        store.get("short").await.expect("get"),
        None,
        "an expired entry is never returned"
    );
    assert_eq!(
        store.get("other").await.expect("get").as_deref(),
        Some("refreshed"),
        "a put restarts the time to live"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["other".to_string()],
        "expired keys are not listed"
    );
    store
        .del("short")
        .await
        .expect("del of an expired key succeeds");
    store
        .put("short", "2")
        .await
        .expect("an expired key can be written again");
    assert_eq!(store.get("short").await.expect("get").as_deref(), Some("2"));
    clock.advance(ttl / 2);
    assert_eq!(
        store.get("other").await.expect("get"),
        None,
        "the refreshed entry expires too"
    );
    assert_eq!(store.get("short").await.expect("get").as_deref(), Some("2"));
    clock.advance(ttl);
    assert!(
        store.list("").await.expect("list").is_empty(),
        "everything has expired"
    );
    assert_eq!(store.get("short").await.expect("get"), None);
}

/// With [`KvLimits::default`], entries live 90 days after their last put.
pub async fn default_ttl_is_90_days(store: &dyn KvStore, clock: &ManualClock) {
    store.put("k", "v").await.expect("put");
    clock.advance(chrono::Duration::days(90) - chrono::Duration::seconds(1));
    assert_eq!(
        store.get("k").await.expect("get").as_deref(),
        Some("v"),
        "alive after 89.99 days"
    );
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        store.get("k").await.expect("get"),
        None,
        "expired after 90 days"
    );
}

/// With `max_entries = Some(max)`: a new key past the cap fails with a typed quota error and
/// stores nothing; overwriting an existing key always succeeds; deleted and expired entries
/// free their place. The store must have [`quota_limits`](super::quota_limits)`(max)`, use
/// `clock`, and `max >= 2`.
pub async fn quota(store: &dyn KvStore, clock: &ManualClock, max: usize) {
    assert!(max >= 2, "the quota check needs max >= 2");
    for i in 0..max {
        store
            .put(&format!("q{i}"), "v")
            .await
            .expect("put under the cap");
    }
    assert_limit(
        store.put("one-more", "v").await,
        KvLimit::Entries,
        max + 1,
        max,
        "put past the cap",
    );
    assert_eq!(
        store.get("one-more").await.expect("get"),
        None,
        "a refused put stores nothing"
    );
    store
        .put("q0", "overwritten")
        .await
        .expect("overwriting at the cap succeeds");
    assert_eq!(
        store.get("q0").await.expect("get").as_deref(),
        Some("overwritten")
    );
    store.del("q1").await.expect("del");
    store
        .put("one-more", "v")
        .await
        .expect("a deleted entry frees its place");
    assert_limit(
        store.put("two-more", "v").await,
        KvLimit::Entries,
        max + 1,
        max,
        "full again",
    );

    // Expired entries do not count.
    clock.advance(chrono::Duration::from_std(KvLimits::default().ttl).expect("ttl") / 2);
    store.put("q0", "refreshed").await.expect("overwrite");
    clock.advance(chrono::Duration::from_std(KvLimits::default().ttl).expect("ttl") / 2);
    // Only q0 is alive now.
    assert_eq!(store.list("").await.expect("list"), vec!["q0".to_string()]);
    for i in 1..max {
        store
            .put(&format!("n{i}"), "v")
            .await
            .expect("expired entries free their places");
    }
    assert_limit(
        store.put("n-last", "v").await,
        KvLimit::Entries,
        max + 1,
        max,
        "full of live entries",
    );
}

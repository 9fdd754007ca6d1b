//! The [`KvStore`] contract, as a suite that every backend runs (feature `conformance`).
//!
//! Most checks are plain async functions taking `&dyn KvStore` on an **empty** store; the ones
//! that need a particular configuration say which [`KvLimits`] and clock the store must have.
//! [`run_suite`] takes a factory that builds a fresh, empty store from limits and a
//! [`ManualClock`], and runs every check three times: on the store itself, through
//! `Box<dyn KvStore>` and through `Arc<dyn KvStore>` (see [`crate::conformance`]).
//!
//! Each function panics with a message naming the broken rule, like an assertion in a test.
//! Run it from a multi-threaded tokio runtime (`#[tokio::test(flavor = "multi_thread")]`) so
//! that the concurrency checks really run in parallel.
//!
//! ```
//! use defender_core::kv::conformance;
//! use defender_core::InMemoryKvStore;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! conformance::run_suite(|limits, clock| async move { InMemoryKvStore::new(limits, clock) })
//!     .await;
//! # });
//! ```

use super::{KvError, KvLimit, KvLimits, KvStore, KvStoreExt};
use crate::clock::{Clock, ManualClock};
use crate::conformance::{reach, share, Via};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The time every [`run_suite`] clock starts at: a whole second, so that backends that keep
/// milliseconds lose nothing.
pub fn start_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

/// The limits [`run_suite`] uses for its quota checks: Defender's, capped at `max` entries.
pub fn quota_limits(max: usize) -> KvLimits {
    KvLimits {
        max_entries: Some(max),
        ..KvLimits::default()
    }
}

/// The limits [`run_suite`] uses for its expiry checks: Defender's, with this time to live.
pub fn ttl_limits(ttl: Duration) -> KvLimits {
    KvLimits {
        ttl,
        ..KvLimits::default()
    }
}

/// Runs every check, each on a fresh store built by `make` from limits and a clock stopped at
/// [`start_time`], once directly, once through `Box<dyn KvStore>`, once through
/// `Arc<dyn KvStore>`.
///
/// `make` must return an empty store that honours the limits and reads the time from the
/// clock. A backend that shares one database between calls gives each call its own key space.
/// Return the concrete store so that the direct run calls it without a forwarding layer (a
/// `Box<dyn KvStore>` is accepted too).
pub async fn run_suite<F, Fut, S>(make: F)
where
    F: Fn(KvLimits, Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = S>,
    S: KvStore,
{
    for via in Via::ALL {
        run_suite_via(&make, via).await;
    }
}

/// The same as [`run_suite`], under the name the first backends used.
pub async fn run_all<F, Fut, S>(make: F)
where
    F: Fn(KvLimits, Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = S>,
    S: KvStore,
{
    run_suite(make).await;
}

async fn run_suite_via<F, Fut, S>(make: &F, via: Via)
where
    F: Fn(KvLimits, Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = S>,
    S: KvStore,
{
    let fresh = |limits: KvLimits| async move {
        let clock = Arc::new(ManualClock::new(start_time()));
        let store = make(limits, clock.clone()).await;
        (store, clock)
    };

    macro_rules! check {
        ($limits:expr, |$s:ident, $c:ident| $body:expr) => {{
            let (store, clock) = fresh($limits).await;
            let $c: &ManualClock = &clock;
            let _ = $c;
            reach!(forwarding KvStore, via, store, |$s| $body);
        }};
    }

    check!(KvLimits::default(), |s, _c| get_put_del(s).await);
    check!(KvLimits::default(), |s, _c| missing_keys(s).await);
    check!(KvLimits::default(), |s, _c| overwrite(s).await);
    check!(KvLimits::default(), |s, _c| empty_values(s).await);
    check!(KvLimits::default(), |s, _c| unicode(s).await);
    check!(KvLimits::default(), |s, _c| empty_key(s).await);
    check!(KvLimits::default(), |s, _c| {
        defender_limits_at_the_boundary(s).await
    });
    check!(KvLimits::default(), |s, _c| list_by_prefix(s).await);
    check!(ttl_limits(Duration::from_secs(3600)), |s, c| {
        expiry(s, c, Duration::from_secs(3600)).await
    });
    check!(KvLimits::default(), |s, c| default_ttl_is_90_days(s, c)
        .await);
    check!(quota_limits(3), |s, c| quota(s, c, 3).await);

    // The checks that need an owned, shareable store; through `Box`, the `Arc` holds the
    // `Box`, so calls go through both forwarding impls.
    let (store, _clock) = fresh(KvLimits::default()).await;
    eprintln!("conformance: namespacing {via}");
    namespacing(share!(forwarding KvStore, via, store)).await;
    let (store, _clock) = fresh(KvLimits::default()).await;
    eprintln!("conformance: concurrent_writers {via}");
    concurrent_writers(share!(forwarding KvStore, via, store), 8, 16).await;
    let (store, _clock) = fresh(quota_limits(10)).await;
    eprintln!("conformance: quota_under_contention {via}");
    quota_under_contention(share!(forwarding KvStore, via, store), 10, 8).await;
}

fn assert_limit<T: std::fmt::Debug>(
    got: Result<T, KvError>,
    what: KvLimit,
    actual: usize,
    limit: usize,
    context: &str,
) {
    match got {
        Err(KvError::LimitExceeded {
            what: w,
            actual: a,
            limit: l,
        }) => {
            assert_eq!(w, what, "{context}: wrong limit named");
            assert_eq!(a, actual, "{context}: wrong actual size in the error");
            assert_eq!(l, limit, "{context}: wrong limit in the error");
        }
        other => panic!("{context}: expected LimitExceeded({what}), got {other:?}"),
    }
}

/// A value is written, read back, deleted, and gone.
pub async fn get_put_del(store: &dyn KvStore) {
    store.put("myKey", "myValue").await.expect("put");
    assert_eq!(
        store.get("myKey").await.expect("get").as_deref(),
        Some("myValue"),
        "get returns what put wrote"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["myKey".to_string()]
    );
    store.del("myKey").await.expect("del");
    assert_eq!(
        store.get("myKey").await.expect("get"),
        None,
        "del removes the key"
    );
    assert!(
        store.list("").await.expect("list").is_empty(),
        "del removes the key from list"
    );
}

/// Missing keys read as `None`, deleting them succeeds, and keys are case-sensitive.
pub async fn missing_keys(store: &dyn KvStore) {
    assert_eq!(
        store.get("nope").await.expect("get"),
        None,
        "a missing key is None"
    );
    store
        .del("nope")
        .await
        .expect("del of a missing key succeeds");
    store.put("Case", "1").await.expect("put");
    assert_eq!(
        store.get("case").await.expect("get"),
        None,
        "keys are case-sensitive"
    );
    assert_eq!(
        store.get("Case ").await.expect("get"),
        None,
        "keys are not trimmed"
    );
    store.del("Case").await.expect("del");
    store.del("Case").await.expect("a second del succeeds");
}

/// A put overwrites: one key, the newest value.
pub async fn overwrite(store: &dyn KvStore) {
    store.put("k", "first").await.expect("put");
    store.put("k", "second").await.expect("overwrite");
    store
        .put("k", "third, longer than the others")
        .await
        .expect("overwrite");
    store
        .put("k", "4")
        .await
        .expect("overwrite with a shorter value");
    assert_eq!(
        store.get("k").await.expect("get").as_deref(),
        Some("4"),
        "the last put wins"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["k".to_string()],
        "no duplicate key"
    );
}

/// An empty value is a value, not a missing key.
pub async fn empty_values(store: &dyn KvStore) {
    store.put("empty", "").await.expect("put of an empty value");
    assert_eq!(
        store.get("empty").await.expect("get").as_deref(),
        Some(""),
        "an empty value reads back as Some(\"\")"
    );
    assert_eq!(
        store.list("").await.expect("list"),
        vec!["empty".to_string()]
    );
    store.put("empty", "now set").await.expect("overwrite");
    store.put("empty", "").await.expect("overwrite with empty");
    assert_eq!(store.get("empty").await.expect("get").as_deref(), Some(""));
}

/// Unicode keys and values, and characters that need escaping in many formats, round-trip
/// exactly.
pub async fn unicode(store: &dyn KvStore) {
    let pairs = [
        ("clé", "valeur à l'été"),
        ("ключ", "значение"),
        ("鍵/🔑", "值 🦀 \u{1F600}"),
        ("quotes\"and\\slashes", "{\"json\": [1, 2]}\n\ttabbed\r\n"),
        ("colon:key:1", "12:34:not-a-timestamp"),
        ("nul\u{0}inside", "a\u{0}b"),
        ("combining e\u{301}", "\u{FEFF}bom and \u{200B}zero width"),
    ];
    for (k, v) in pairs {
        store.put(k, v).await.expect("put unicode");
    }
    for (k, v) in pairs {
        assert_eq!(
            store.get(k).await.expect("get unicode").as_deref(),
            Some(v),
            "unicode key {k:?} round-trips"
        );
    }
    let mut keys: Vec<String> = pairs.iter().map(|(k, _)| (*k).to_string()).collect();
    keys.sort();
    assert_eq!(
        store.list("").await.expect("list"),
        keys,
        "list is sorted by bytes"
    );
    assert_eq!(
        store.list("鍵").await.expect("list"),
        vec!["鍵/🔑".to_string()]
    );
    // "e" followed by a combining accent is not the precomposed "é": no normalisation.
    assert_eq!(
        store.get("combining \u{e9}").await.expect("get"),
        None,
        "no normalisation"
    );
}

/// The empty key is refused by every operation.
pub async fn empty_key(store: &dyn KvStore) {
    assert!(
        matches!(store.put("", "v").await, Err(KvError::EmptyKey)),
        "put(\"\")"
    );
    assert!(
        matches!(store.get("").await, Err(KvError::EmptyKey)),
        "get(\"\")"
    );
    assert!(
        matches!(store.del("").await, Err(KvError::EmptyKey)),
        "del(\"\")"
    );
    assert!(
        store.list("").await.expect("list").is_empty(),
        "a refused put stores nothing"
    );
}

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

/// `list(prefix)` returns the live keys starting with `prefix`, sorted by bytes.
pub async fn list_by_prefix(store: &dyn KvStore) {
    for k in ["b", "a", "ab", "abc", "a/1", "a/2", "b/1", "ä", "A"] {
        store.put(k, "x").await.expect("put");
    }
    let s = |v: &[&str]| v.iter().map(|k| (*k).to_string()).collect::<Vec<_>>();
    assert_eq!(
        store.list("").await.expect("list"),
        s(&["A", "a", "a/1", "a/2", "ab", "abc", "b", "b/1", "ä"]),
        "the empty prefix lists every key, sorted"
    );
    assert_eq!(
        store.list("a").await.expect("list"),
        s(&["a", "a/1", "a/2", "ab", "abc"])
    );
    assert_eq!(store.list("a/").await.expect("list"), s(&["a/1", "a/2"]));
    assert_eq!(
        store.list("abc").await.expect("list"),
        s(&["abc"]),
        "a prefix may be a whole key"
    );
    assert_eq!(store.list("abcd").await.expect("list"), s(&[]));
    assert_eq!(store.list("c").await.expect("list"), s(&[]));
    assert_eq!(store.list("ä").await.expect("list"), s(&["ä"]));
    store.del("a/1").await.expect("del");
    assert_eq!(
        store.list("a/").await.expect("list"),
        s(&["a/2"]),
        "deleted keys are not listed"
    );
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
/// free their place. The store must have [`quota_limits`]`(max)`, use `clock`, and `max >= 2`.
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
/// exactly the acknowledged keys. The store must have [`quota_limits`]`(max)`.
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

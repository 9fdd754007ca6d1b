//! The Redis backend against a real redis-server: native expiry, key layout, prefixes,
//! sharing between processes' connections, and an unreachable server.

use defender_kv::{KvError, KvLimits, KvOptions, KvStore, ManualClock, RedisKvStore};
use defender_testkit::RedisServer;
use std::sync::Arc;
use std::time::Duration;

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

#[tokio::test]
async fn sets_native_expiry_and_keeps_the_documented_layout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisKvStore::connect(&server.url).await.expect("connect");
    assert_eq!(store.prefix(), "defender-kv:");
    store.put("myKey", "my:value").await.expect("put");
    let mut conn = raw(&server.url).await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg("defender-kv:v:myKey")
        .query_async(&mut conn)
        .await
        .expect("pttl");
    let ninety_days = 90 * 24 * 3600 * 1000;
    assert!(
        pttl > ninety_days - 60_000 && pttl <= ninety_days,
        "native TTL is 90 days: {pttl}"
    );
    let stored: String = redis::cmd("GET")
        .arg("defender-kv:v:myKey")
        .query_async(&mut conn)
        .await
        .expect("get");
    let (expires, value) = stored.split_once(':').expect("<expiry>:<value>");
    assert_eq!(value, "my:value");
    let expires: i64 = expires.parse().expect("ms");
    let indexed: i64 = redis::cmd("EXISTS")
        .arg("defender-kv:index")
        .query_async(&mut conn)
        .await
        .expect("exists");
    assert_eq!(indexed, 0, "an uncapped store keeps no index");
    assert!(expires > 0);

    // With an entry cap, keys are indexed by expiry time.
    let capped = RedisKvStore::connect_with(
        &server.url,
        "capped:",
        KvOptions::default().with_limits(KvLimits {
            max_entries: Some(10),
            ..KvLimits::default()
        }),
    )
    .await
    .expect("connect");
    capped.put("c", "v").await.expect("put");
    let stored: String = redis::cmd("GET")
        .arg("capped:v:c")
        .query_async(&mut conn)
        .await
        .expect("get");
    let expires: i64 = stored
        .split_once(':')
        .expect("<expiry>:<value>")
        .0
        .parse()
        .expect("ms");
    let score: f64 = redis::cmd("ZSCORE")
        .arg("capped:index")
        .arg("c")
        .query_async(&mut conn)
        .await
        .expect("zscore");
    assert_eq!(
        score as i64, expires,
        "the index scores keys by expiry time"
    );
    capped.del("c").await.expect("del");
    let exists: i64 = redis::cmd("EXISTS")
        .arg("capped:v:c")
        .arg("capped:index")
        .query_async(&mut conn)
        .await
        .expect("exists");
    assert_eq!(exists, 0, "del removes the value and the index entry");
    store.del("myKey").await.expect("del");
    let exists: i64 = redis::cmd("EXISTS")
        .arg("defender-kv:v:myKey")
        .query_async(&mut conn)
        .await
        .expect("exists");
    assert_eq!(exists, 0, "del removes the value");
}

#[tokio::test]
async fn redis_reclaims_expired_entries_by_itself() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let options = KvOptions::default().with_limits(KvLimits {
        ttl: Duration::from_millis(200),
        ..KvLimits::default()
    });
    let store = RedisKvStore::connect_with(&server.url, "short:", options)
        .await
        .expect("connect");
    store.put("k", "v").await.expect("put");
    let mut conn = raw(&server.url).await;
    // Wait (without asserting on time) until Redis has dropped the key.
    for _ in 0..200 {
        let exists: i64 = redis::cmd("EXISTS")
            .arg("short:v:k")
            .query_async(&mut conn)
            .await
            .expect("exists");
        if exists == 0 {
            assert_eq!(store.get("k").await.expect("get"), None);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis never reclaimed an entry with a 200 ms TTL");
}

#[tokio::test]
async fn prefixes_isolate_stores_and_connections_share_data() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let clock = Arc::new(ManualClock::default());
    let options = KvOptions::default().with_clock(clock);
    let a = RedisKvStore::connect_with(&server.url, "a:", options.clone())
        .await
        .expect("a");
    let b = RedisKvStore::connect_with(&server.url, "b:", options.clone())
        .await
        .expect("b");
    let a_again = RedisKvStore::connect_with(&server.url, "a:", options)
        .await
        .expect("a2");
    a.put("k", "from a").await.expect("put");
    b.put("k", "from b").await.expect("put");
    assert_eq!(
        a_again.get("k").await.expect("get").as_deref(),
        Some("from a")
    );
    assert_eq!(b.get("k").await.expect("get").as_deref(), Some("from b"));
    assert_eq!(a_again.list("").await.expect("list"), vec!["k"]);
}

#[tokio::test]
async fn list_treats_glob_characters_in_prefixes_literally() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisKvStore::connect_with(&server.url, "g[1]*?:", KvOptions::default())
        .await
        .expect("connect");
    for k in ["a*b", "a?c", "a[x]", "a\\d", "aXb", "ab"] {
        store.put(k, "v").await.expect("put");
    }
    let other = RedisKvStore::connect_with(&server.url, "g1x:", KvOptions::default())
        .await
        .expect("connect");
    other.put("a*b", "other prefix").await.expect("put");
    assert_eq!(store.list("a*").await.expect("list"), vec!["a*b"]);
    assert_eq!(store.list("a?").await.expect("list"), vec!["a?c"]);
    assert_eq!(store.list("a[").await.expect("list"), vec!["a[x]"]);
    assert_eq!(store.list("a\\").await.expect("list"), vec!["a\\d"]);
    assert_eq!(store.list("").await.expect("list").len(), 6);
    assert_eq!(other.list("").await.expect("list"), vec!["a*b"]);
}

#[tokio::test]
async fn a_server_that_is_down_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let err = RedisKvStore::connect(&format!("redis://127.0.0.1:{port}/"))
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, KvError::Unavailable { .. }), "{err:?}");
}

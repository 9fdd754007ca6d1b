//! Run history and secrets on durable state: they survive a reopen, secrets are sealed at
//! rest (the plaintext is nowhere in the file or on the server), a wrong key fails clearly,
//! and the Redis layout keeps engine state apart from the actions' key-value store.

use bytes::Bytes;
use defender_core::state::{
    SealedSecretError, SecretsKey, StateRunStore, StateSecretStore, StateStore,
};
use defender_core::{RunRecord, RunStatus, RunStore, SecretError, SecretStore, Trigger};
use defender_kv::{KvStore, RedbStateStore, RedisKvStore, RedisStateStore, Space};
use defender_testkit::RedisServer;
use std::sync::Arc;

const PLAINTEXT: &str = "very-secret-plaintext-0xdeadbeef";

fn key(byte: u8) -> SecretsKey {
    SecretsKey::from_bytes([byte; 32])
}

fn run(action: &str, i: usize) -> RunRecord {
    RunRecord {
        action_run_id: format!("{action}-{i}"),
        action_id: action.to_owned(),
        trigger: Trigger::Schedule,
        status: RunStatus::Success,
        created_at: chrono::DateTime::from_timestamp(1_700_000_000 + i as i64, 0).expect("a time"),
        finished_at: None,
        result: Some(format!("{{\"i\":{i}}}")),
        message: None,
        error_type: None,
        encoded_logs: String::new(),
        request_id: None,
    }
}

fn ids(runs: &[RunRecord]) -> Vec<&str> {
    runs.iter().map(|r| r.action_run_id.as_str()).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_keeps_runs_and_secrets_across_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.redb");
    {
        let state: Arc<dyn StateStore> = Arc::new(RedbStateStore::open(&path).expect("open"));
        let runs = StateRunStore::new(state.clone()).with_capacity(3);
        for i in 0..5 {
            runs.record(run("a", i)).await.expect("record");
        }
        runs.record(run("b", 0)).await.expect("record");
        let secrets = StateSecretStore::open(state, &key(1)).await.expect("open");
        secrets.put("apiKey", PLAINTEXT).await.expect("put");
        secrets.put("other", "2").await.expect("put");
    }
    let state: Arc<dyn StateStore> = Arc::new(RedbStateStore::open(&path).expect("reopen"));
    let runs = StateRunStore::new(state.clone()).with_capacity(3);
    assert_eq!(
        ids(&runs.list("a", 10).await.expect("list")),
        ["a-4", "a-3", "a-2"]
    );
    assert!(runs.get("a-1").await.expect("get").is_none(), "pruned");
    assert_eq!(
        runs.get("b-0")
            .await
            .expect("get")
            .expect("b-0")
            .result
            .as_deref(),
        Some("{\"i\":0}")
    );
    // The sequence goes on after the reopen: a new run is the newest.
    runs.record(run("a", 5)).await.expect("record");
    assert_eq!(
        ids(&runs.list("a", 10).await.expect("list")),
        ["a-5", "a-4", "a-3"]
    );

    let secrets = StateSecretStore::open(state.clone(), &key(1))
        .await
        .expect("the same key opens");
    assert_eq!(secrets.names().await.expect("names"), ["apiKey", "other"]);
    let loaded = secrets.load_for_run().await.expect("load").into_inner();
    assert_eq!(loaded["apiKey"], PLAINTEXT);

    match StateSecretStore::open(state, &key(2)).await {
        Err(SealedSecretError::WrongKey) => {}
        other => panic!("a wrong key must fail with WrongKey, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_not_in_the_redb_file_in_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.redb");
    let state = Arc::new(RedbStateStore::open(&path).expect("open"));
    let secrets = StateSecretStore::open(state.clone(), &key(3))
        .await
        .expect("open");
    secrets.put("apiKey", PLAINTEXT).await.expect("put");
    let sealed = state
        .get(Space::SECRETS, "apiKey")
        .await
        .expect("get")
        .expect("stored");
    assert!(!contains(&sealed, PLAINTEXT.as_bytes()), "stored in clear");
    assert!(sealed.len() > PLAINTEXT.len(), "nonce and tag are stored");
    // A second put of the same value seals it with a new nonce.
    secrets.put("apiKey", PLAINTEXT).await.expect("put");
    let resealed = state
        .get(Space::SECRETS, "apiKey")
        .await
        .expect("get")
        .expect("stored");
    assert_ne!(sealed, resealed, "every value gets its own nonce");
    drop(secrets);
    drop(state);
    let file = std::fs::read(&path).expect("read the file");
    assert!(
        !contains(&file, PLAINTEXT.as_bytes()),
        "the plaintext is in the database file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_moved_to_another_name_does_not_decrypt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = Arc::new(RedbStateStore::open(dir.path().join("s.redb")).expect("open"));
    let secrets = StateSecretStore::open(state.clone(), &key(4))
        .await
        .expect("open");
    secrets.put("a", "value of a").await.expect("put");
    let sealed = state
        .get(Space::SECRETS, "a")
        .await
        .expect("get")
        .expect("stored");
    state
        .put(Space::SECRETS, "b", sealed)
        .await
        .expect("swap by hand");
    let err = secrets
        .load_for_run()
        .await
        .expect_err("b must not decrypt");
    let SecretError::Unavailable { source } = err else {
        panic!("expected Unavailable, got {err:?}");
    };
    match source.downcast_ref::<SealedSecretError>() {
        Some(SealedSecretError::Undecryptable { name }) => assert_eq!(name, "b"),
        other => panic!("expected Undecryptable for b, got {other:?}"),
    }
    // A flipped bit fails the same way.
    state.delete(Space::SECRETS, "b").await.expect("delete");
    let mut bad = state
        .get(Space::SECRETS, "a")
        .await
        .expect("get")
        .expect("stored")
        .to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    state
        .put(Space::SECRETS, "a", Bytes::from(bad))
        .await
        .expect("tamper");
    assert!(secrets.load_for_run().await.is_err(), "a tampered value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keeps_state_apart_from_the_kv_store_and_secrets_sealed() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let kv = RedisKvStore::connect(&server.url).await.expect("kv");
    let state = Arc::new(RedisStateStore::connect(&server.url).await.expect("state"));
    assert_eq!(state.prefix(), "{defender-state}:");
    kv.put("checkpoints", "user data").await.expect("kv put");
    state
        .put(Space::CHECKPOINTS, "m1", Bytes::from_static(b"42"))
        .await
        .expect("state put");
    assert_eq!(
        kv.get("checkpoints").await.expect("kv get").as_deref(),
        Some("user data")
    );
    assert_eq!(kv.list("").await.expect("kv list"), ["checkpoints"]);

    let secrets = StateSecretStore::open(state.clone(), &key(5))
        .await
        .expect("open");
    secrets.put("apiKey", PLAINTEXT).await.expect("put");

    let mut conn = redis::Client::open(server.url.as_str())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("{defender-state}:*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    keys.sort();
    assert_eq!(
        keys,
        [
            "{defender-state}:k:checkpoints",
            "{defender-state}:k:secrets",
            "{defender-state}:v:checkpoints",
            "{defender-state}:v:secrets",
        ],
        "the documented layout"
    );
    let checkpoint: Vec<u8> = redis::cmd("HGET")
        .arg("{defender-state}:v:checkpoints")
        .arg("m1")
        .query_async(&mut conn)
        .await
        .expect("hget");
    assert_eq!(checkpoint, b"42");
    let all: Vec<Vec<u8>> = redis::cmd("HGETALL")
        .arg("{defender-state}:v:secrets")
        .query_async(&mut conn)
        .await
        .expect("hgetall");
    assert!(all.iter().any(|v| v == b"apiKey"), "names are keys");
    assert!(
        all.iter().all(|v| !contains(v, PLAINTEXT.as_bytes())),
        "a secret is stored in clear"
    );

    // Another process (connection) with the wrong key is refused; with the right one it reads.
    let elsewhere = Arc::new(RedisStateStore::connect(&server.url).await.expect("state"));
    assert!(matches!(
        StateSecretStore::open(elsewhere.clone(), &key(6)).await,
        Err(SealedSecretError::WrongKey)
    ));
    let secrets = StateSecretStore::open(elsewhere, &key(5))
        .await
        .expect("right key");
    assert_eq!(
        secrets.load_for_run().await.expect("load").into_inner()["apiKey"],
        PLAINTEXT
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let err = RedisStateStore::connect(&format!("redis://127.0.0.1:{port}/"))
        .await
        .expect_err("nothing listens there");
    assert!(
        matches!(err, defender_kv::StateError::Unavailable { .. }),
        "{err:?}"
    );
}

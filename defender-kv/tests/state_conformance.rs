//! The state backends pass the `StateStore` conformance suite of defender-core, and the run
//! history and secrets built on them pass the `RunStore` and `SecretStore` suites (each
//! directly and through `Box<dyn _>` and `Arc<dyn _>`).

use defender_core::conformance;
use defender_core::state::{SecretsKey, StateRunStore, StateSecretStore, StateStore};
use defender_kv::{RedbStateStore, RedisStateStore};
use defender_testkit::RedisServer;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn redb_in(dir: &Path) -> RedbStateStore {
    RedbStateStore::open(dir.join(format!("state-{}.redb", unique()))).expect("open redb")
}

async fn redis_at(url: &str) -> RedisStateStore {
    RedisStateStore::connect_with(url, format!("{{suite{}}}:", unique()))
        .await
        .expect("connect to redis")
}

fn key() -> SecretsKey {
    SecretsKey::from_bytes([9; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redb_passes_the_state_suite() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    conformance::state::run_suite(|| {
        let store = redb_in(dir.path());
        async move { store }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_passes_the_state_suite() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url.clone();
    conformance::state::run_suite(|| {
        let url = url.clone();
        async move { redis_at(&url).await }
    })
    .await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_history_on_redb_passes_the_run_suite() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    conformance::runs::run_suite(|| {
        let store: Arc<dyn StateStore> = Arc::new(redb_in(dir.path()));
        async move { StateRunStore::new(store) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_on_redb_pass_the_secret_suite() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    conformance::secrets::run_suite(|| {
        let store: Arc<dyn StateStore> = Arc::new(redb_in(dir.path()));
        async move {
            StateSecretStore::open(store, &key())
                .await
                .expect("open secrets")
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_history_and_secrets_on_redis_pass_their_suites() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url.clone();
    conformance::runs::run_suite(|| {
        let url = url.clone();
        async move { StateRunStore::new(Arc::new(redis_at(&url).await)) }
    })
    .await;
    conformance::secrets::run_suite(|| {
        let url = url.clone();
        async move {
            StateSecretStore::open(Arc::new(redis_at(&url).await), &key())
                .await
                .expect("open secrets")
        }
    })
    .await;
    drop(server);
}

//! Every backend passes the `KvStore` conformance suite of defender-core, directly and
//! through `Box<dyn KvStore>` and `Arc<dyn KvStore>` (`run_suite` does all three).

use defender_core::kv::conformance;
use defender_kv::{InMemoryKvStore, JsonFileKvStore, KvOptions, RedbKvStore, RedisKvStore};
use defender_testkit::RedisServer;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_passes_the_suite() {
    conformance::run_suite(|limits, clock| async move { InMemoryKvStore::new(limits, clock) })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redb_passes_the_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Arc::new(dir);
    conformance::run_suite(|limits, clock| {
        let path = dir.path().join(format!("store-{}.redb", unique()));
        async move {
            let options = KvOptions::default().with_limits(limits).with_clock(clock);
            RedbKvStore::open_with(path, options).expect("open redb")
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_file_passes_the_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Arc::new(dir);
    conformance::run_suite(|limits, clock| {
        let path = dir.path().join(format!("store-{}.json", unique()));
        async move {
            let options = KvOptions::default().with_limits(limits).with_clock(clock);
            JsonFileKvStore::open_with(path, options).expect("open json")
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_passes_the_suite() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url.clone();
    conformance::run_suite(|limits, clock| {
        let url = url.clone();
        async move {
            let options = KvOptions::default().with_limits(limits).with_clock(clock);
            let prefix = format!("suite{}:", unique());
            RedisKvStore::connect_with(&url, prefix, options)
                .await
                .expect("connect to redis")
        }
    })
    .await;
    drop(server);
}

//! The in-memory implementations pass their conformance suites, directly and through
//! `Box<dyn _>` and `Arc<dyn _>`.
#![cfg(feature = "conformance")]

use defender_core::conformance;
use defender_core::*;
use std::sync::Arc;

#[tokio::test]
async fn in_memory_secret_store() {
    conformance::secrets::run_all(&InMemorySecretStore::default()).await;
    let boxed: Box<dyn SecretStore> = Box::new(InMemorySecretStore::default());
    conformance::secrets::run_all(boxed.as_ref()).await;
    let shared: Arc<dyn SecretStore> = Arc::new(InMemorySecretStore::default());
    conformance::secrets::run_all(&shared).await;
}

#[tokio::test]
async fn in_memory_run_store() {
    conformance::runs::run_all(&InMemoryRunStore::default()).await;
    let boxed: Box<dyn RunStore> = Box::new(InMemoryRunStore::default());
    conformance::runs::run_all(boxed.as_ref()).await;
    let shared: Arc<dyn RunStore> = Arc::new(InMemoryRunStore::default());
    conformance::runs::run_all(&shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_kv_store() {
    conformance::kv::run_all(|limits, clock| async move {
        Box::new(InMemoryKvStore::new(limits, clock)) as Box<dyn KvStore>
    })
    .await;
}

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

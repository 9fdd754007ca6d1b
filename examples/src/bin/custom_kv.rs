//! A key-value backend of your own: implement the four methods of `KvStore`, apply
//! Defender's limits with `KvLimits`, and the engine hands it to every action's
//! `KeyValueStoreClient`.
//!
//! Run with `cargo run -p defender-examples --bin custom_kv`.

use async_trait::async_trait;
use defender_core::{KvError, KvLimits, KvStore, KvStoreExt};
use std::collections::BTreeMap;
use tokio::sync::RwLock;

/// Keeps entries in a map and counts writes; entries never expire (a real backend would
/// store the last-put time and honour `KvLimits::ttl`).
#[derive(Debug, Default)]
struct CountingStore {
    limits: KvLimits,
    map: RwLock<BTreeMap<String, String>>,
    writes: std::sync::atomic::AtomicU64,
}

#[async_trait]
impl KvStore for CountingStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.limits.check_key(key)?;
        Ok(self.map.read().await.get(key).cloned())
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.limits.check_put(key, value)?;
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.map.write().await.insert(key.into(), value.into());
        Ok(())
    }

    async fn del(&self, key: &str) -> Result<(), KvError> {
        self.limits.check_key(key)?;
        self.map.write().await.remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        Ok(self
            .map
            .read()
            .await
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

#[tokio::main]
async fn main() -> Result<(), KvError> {
    let store = std::sync::Arc::new(CountingStore::default());
    store.put("myKey", "myValue").await?;
    println!("myKey = {:?}", store.get("myKey").await?);

    // Each action isolates its keys under a prefix.
    let action_a = store.clone().namespaced("action-a/");
    action_a.put("lastBlock", "19000000").await?;
    println!("keys under action-a/: {:?}", action_a.list("").await?);

    // Defender's limits come with the trait's helpers.
    match store.put(&"k".repeat(1025), "v").await {
        Err(e @ KvError::LimitExceeded { .. }) => println!("refused as expected: {e}"),
        other => panic!("expected a limit error, got {other:?}"),
    }
    println!(
        "writes: {}",
        store.writes.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(())
}

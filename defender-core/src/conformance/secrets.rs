//! The [`SecretStore`] contract: secrets are written, overwritten, listed by name and
//! deleted; names are validated and case-sensitive; values reach runs through
//! [`SecretStore::load_for_run`] and never show in `Debug` output.
//!
//! ```
//! use defender_core::conformance::secrets;
//! use defender_core::InMemorySecretStore;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! secrets::run_suite(|| async { InMemorySecretStore::default() }).await;
//! # });
//! ```

use super::Via;
use crate::SecretStore;
use std::future::Future;

/// Runs every check, each on a fresh store built by `make`, directly, through
/// `Box<dyn SecretStore>` and through `Arc<dyn SecretStore>`.
///
/// `make` must return an empty store.
pub async fn run_suite<F, Fut, S>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: SecretStore,
{
    for via in Via::ALL {
        reach!(deref SecretStore, via, make().await, |s| put_delete_and_names(s).await);
        reach!(deref SecretStore, via, make().await, |s| values_reach_runs_only(s).await);
        reach!(deref SecretStore, via, make().await, |s| invalid_names(s).await);
    }
}

/// Runs every check once, in turn, on one empty store.
pub async fn run_all(store: &dyn SecretStore) {
    put_delete_and_names(store).await;
    values_reach_runs_only(store).await;
    invalid_names(store).await;
}

/// Secrets are written, overwritten, listed by name and deleted; names are case-sensitive.
pub async fn put_delete_and_names(store: &dyn SecretStore) {
    store.put("apiKey", "1").await.expect("put");
    store.put("apikey", "2").await.expect("put");
    store.put("apiKey", "3").await.expect("overwrite");
    assert_eq!(
        store.names().await.expect("names"),
        vec!["apiKey".to_string(), "apikey".to_string()],
        "names are sorted and case-sensitive"
    );
    assert!(
        store.delete("apiKey").await.expect("delete"),
        "delete reports an existing secret"
    );
    assert!(
        !store.delete("apiKey").await.expect("delete"),
        "delete reports a missing secret"
    );
    assert!(store.delete("apikey").await.expect("delete"));
    assert!(store.names().await.expect("names").is_empty());
}

/// `load_for_run` returns the values, and its `Debug` output never shows them.
pub async fn values_reach_runs_only(store: &dyn SecretStore) {
    store.put("token", "s3cr3t-value").await.expect("put");
    let run = store.load_for_run().await.expect("load");
    assert!(
        !format!("{run:?}").contains("s3cr3t-value"),
        "Debug leaks a secret value"
    );
    assert!(
        !format!("{store:?}").contains("s3cr3t-value"),
        "the store's Debug leaks a value"
    );
    assert_eq!(
        run.into_inner().get("token").map(String::as_str),
        Some("s3cr3t-value")
    );
    store.delete("token").await.expect("delete");
    assert!(store.load_for_run().await.expect("load").is_empty());
}

/// Empty names and names with spaces or slashes are refused.
pub async fn invalid_names(store: &dyn SecretStore) {
    for bad in ["", "has space", "a/b"] {
        assert!(
            matches!(
                store.put(bad, "v").await,
                Err(crate::SecretError::InvalidName(_))
            ),
            "secret name {bad:?} was accepted"
        );
    }
}

//! Secrets sealed in the engine state with the operator's key, opened when first used, so
//! that [`EngineBuilder::build`](crate::EngineBuilder::build) stays synchronous.

use async_trait::async_trait;
use defender_core::state::{SealedSecretError, SecretsKey, StateSecretStore, StateStore};
use defender_core::{SecretError, SecretMap, SecretStore};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// A [`StateSecretStore`] opened on first use. Until it opens, every call tries to open it:
/// a store that was unavailable is retried, and a wrong key fails every call with
/// [`SealedSecretError::WrongKey`] as the source of [`SecretError::Unavailable`].
#[derive(Debug)]
pub(crate) struct SealedSecrets {
    state: Arc<dyn StateStore>,
    key: SecretsKey,
    opened: OnceCell<StateSecretStore>,
}

impl SealedSecrets {
    pub(crate) fn new(state: Arc<dyn StateStore>, key: SecretsKey) -> Self {
        SealedSecrets {
            state,
            key,
            opened: OnceCell::new(),
        }
    }

    /// Opens the store now: a wrong key fails here with [`SealedSecretError::WrongKey`].
    pub(crate) async fn open(&self) -> Result<&StateSecretStore, SealedSecretError> {
        self.opened
            .get_or_try_init(|| StateSecretStore::open(self.state.clone(), &self.key))
            .await
    }

    async fn store(&self) -> Result<&StateSecretStore, SecretError> {
        self.open().await.map_err(|e| SecretError::Unavailable {
            source: Box::new(e),
        })
    }
}

#[async_trait]
impl SecretStore for SealedSecrets {
    async fn put(&self, name: &str, value: &str) -> Result<(), SecretError> {
        self.store().await?.put(name, value).await
    }

    async fn delete(&self, name: &str) -> Result<bool, SecretError> {
        self.store().await?.delete(name).await
    }

    async fn names(&self) -> Result<Vec<String>, SecretError> {
        self.store().await?.names().await
    }

    async fn load_for_run(&self) -> Result<SecretMap, SecretError> {
        self.store().await?.load_for_run().await
    }
}

//! Secrets: written and deleted by operators, injected into runs, never read back.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// Dynamic secret store, as the engine holds it.
pub type DynSecretStore = dyn SecretStore;

/// Errors of every [`SecretStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// A name is empty or has characters other than letters, digits, `_` and `-`.
    #[error("invalid secret name `{0}`")]
    InvalidName(String),
    /// The backend failed.
    #[error("secret backend unavailable: {source}")]
    Unavailable {
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The secrets injected into one run. `Debug` shows names only, never values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretMap(BTreeMap<String, String>);

impl SecretMap {
    /// Names and values, for injection into `event.secrets`.
    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }

    /// The values, for redaction from logs and results.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl FromIterator<(String, String)> for SecretMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        SecretMap(iter.into_iter().collect())
    }
}

/// Where secrets live.
///
/// # Contract
/// - Operators `put` and `delete` secrets by name; names are case-sensitive, values are never
///   listed. Only [`SecretStore::load_for_run`] returns values, and the engine hands them only to
///   the run they are injected into.
/// - Secrets are shared by all actions, as in Defender.
///
/// # Example
/// ```
/// use defender_core::{InMemorySecretStore, SecretStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let secrets = InMemorySecretStore::default();
/// secrets.put("expectedValue", "42").await.unwrap();
/// assert_eq!(secrets.names().await.unwrap(), vec!["expectedValue"]);
/// let run = secrets.load_for_run().await.unwrap();
/// assert!(!format!("{run:?}").contains("42"));
/// # });
/// ```
#[async_trait]
pub trait SecretStore: fmt::Debug + Send + Sync + 'static {
    /// Creates or overwrites a secret.
    async fn put(&self, name: &str, value: &str) -> Result<(), SecretError>;
    /// Deletes a secret; returns whether it existed.
    async fn delete(&self, name: &str) -> Result<bool, SecretError>;
    /// The names, sorted.
    async fn names(&self) -> Result<Vec<String>, SecretError>;
    /// All secrets, for injection into one run.
    async fn load_for_run(&self) -> Result<SecretMap, SecretError>;
}

/// Checks a secret name: 1 to 256 letters, digits, `_`, `-` or `.`.
pub fn validate_secret_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SecretError::InvalidName(name.to_owned()))
    }
}

/// Secrets in memory.
#[derive(Default)]
pub struct InMemorySecretStore(RwLock<BTreeMap<String, String>>);

impl fmt::Debug for InMemorySecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        f.debug_struct("InMemorySecretStore")
            .field("names", &names)
            .finish()
    }
}

#[async_trait]
impl SecretStore for InMemorySecretStore {
    async fn put(&self, name: &str, value: &str) -> Result<(), SecretError> {
        validate_secret_name(name)?;
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), value.to_owned());
        Ok(())
    }
    async fn delete(&self, name: &str) -> Result<bool, SecretError> {
        Ok(self
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .is_some())
    }
    async fn names(&self) -> Result<Vec<String>, SecretError> {
        Ok(self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect())
    }
    async fn load_for_run(&self) -> Result<SecretMap, SecretError> {
        Ok(SecretMap(
            self.0.read().unwrap_or_else(|e| e.into_inner()).clone(),
        ))
    }
}

#[async_trait]
impl<T: SecretStore + ?Sized> SecretStore for Arc<T> {
    async fn put(&self, name: &str, value: &str) -> Result<(), SecretError> {
        (**self).put(name, value).await
    }
    async fn delete(&self, name: &str) -> Result<bool, SecretError> {
        (**self).delete(name).await
    }
    async fn names(&self) -> Result<Vec<String>, SecretError> {
        (**self).names().await
    }
    async fn load_for_run(&self) -> Result<SecretMap, SecretError> {
        (**self).load_for_run().await
    }
}

//! The host's own keys, kept in the state directory: the key that seals the project's secrets
//! in the engine state, and the API secrets of the relayers' `api-keys`.
//!
//! Choice: rather than refuse to start without a key (or store secrets in plain text), the
//! host generates a key on first start and keeps it in `<state-dir>/host-keys.json`, created
//! with mode 0600 and logged, so a fresh project runs at once and its secrets are sealed at
//! rest. An operator who keeps the key elsewhere sets `DEFENDER_HOST_SECRETS_KEY` (64 hex
//! digits or base64): it then takes precedence and is never written.

use super::HostError;
use chacha20poly1305::aead::{KeyInit, OsRng};
use chacha20poly1305::XChaCha20Poly1305;
use defender_core::state::SecretsKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The keys file's name in the state directory.
pub const KEYS_FILE: &str = "host-keys.json";

/// The environment variable that gives the secrets key (over the keys file's).
pub const SECRETS_KEY_ENV: &str = "DEFENDER_HOST_SECRETS_KEY";

/// Largest keys file read.
const MAX_KEYS_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeysFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secrets_key: Option<String>,
    #[serde(default)]
    relayer_api_secrets: BTreeMap<String, String>,
}

/// The keys a host runs with.
pub(crate) struct HostKeys {
    pub(crate) secrets_key: SecretsKey,
    /// API secret by relayer API key label.
    pub(crate) relayer_api_secrets: BTreeMap<String, String>,
    /// Where they are kept.
    pub(crate) path: PathBuf,
}

/// 32 random bytes from the operating system, hex.
fn random_hex() -> String {
    hex::encode(XChaCha20Poly1305::generate_key(&mut OsRng))
}

impl HostKeys {
    /// Reads the keys file of `state_dir` (creating it, 0600, when missing) and makes what is
    /// missing: the secrets key (unless `env` gives one) and a secret per relayer API key label.
    pub(crate) fn load_or_create(
        state_dir: &Path,
        labels: &[String],
        env: &BTreeMap<String, String>,
    ) -> Result<Self, HostError> {
        let path = state_dir.join(KEYS_FILE);
        let mut file = read(&path)?;
        let mut changed = false;
        let from_env = env.get(SECRETS_KEY_ENV).filter(|v| !v.trim().is_empty());
        let secrets_key = match from_env {
            Some(text) => text
                .parse::<SecretsKey>()
                .map_err(|e| HostError::Keys(format!("{SECRETS_KEY_ENV}: {e}")))?,
            None => {
                let text = match &file.secrets_key {
                    Some(t) => t.clone(),
                    None => {
                        let t = random_hex();
                        file.secrets_key = Some(t.clone());
                        changed = true;
                        tracing::warn!(
                            file = %path.display(),
                            "generated the key that seals this project's secrets; keep {} (or set {SECRETS_KEY_ENV})",
                            path.display()
                        );
                        t
                    }
                };
                text.parse::<SecretsKey>()
                    .map_err(|e| HostError::Keys(format!("{}: secretsKey: {e}", path.display())))?
            }
        };
        for label in labels {
            if !file.relayer_api_secrets.contains_key(label) {
                file.relayer_api_secrets.insert(label.clone(), random_hex());
                changed = true;
            }
        }
        if changed {
            write(&path, &file)?;
        }
        Ok(HostKeys {
            secrets_key,
            relayer_api_secrets: file.relayer_api_secrets,
            path,
        })
    }
}

fn read(path: &Path) -> Result<KeysFile, HostError> {
    let fail = |m: String| HostError::Keys(format!("{}: {m}", path.display()));
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(KeysFile::default()),
        Err(e) => return Err(fail(e.to_string())),
    };
    if meta.len() > MAX_KEYS_FILE_BYTES {
        return Err(fail(format!("over {MAX_KEYS_FILE_BYTES} bytes")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "the keys file is readable by others: chmod 600 it");
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| fail(e.to_string()))
}

/// Writes the file whole, readable by its owner only, then renames it into place.
fn write(path: &Path, keys: &KeysFile) -> Result<(), HostError> {
    let fail = |e: std::io::Error| HostError::Keys(format!("{}: {e}", path.display()));
    let text = serde_json::to_string_pretty(keys)
        .map_err(|e| HostError::Keys(format!("{}: {e}", path.display())))?;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_once_kept_private_and_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        let labels = vec!["k1".to_string()];
        let a = HostKeys::load_or_create(dir.path(), &labels, &BTreeMap::new()).unwrap();
        let b = HostKeys::load_or_create(dir.path(), &labels, &BTreeMap::new()).unwrap();
        assert_eq!(a.relayer_api_secrets, b.relayer_api_secrets);
        assert_eq!(a.relayer_api_secrets["k1"].len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEYS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let bad = BTreeMap::from([(SECRETS_KEY_ENV.to_string(), "nope".to_string())]);
        assert!(matches!(
            HostKeys::load_or_create(dir.path(), &labels, &bad),
            Err(HostError::Keys(m)) if m.contains(SECRETS_KEY_ENV)
        ));
    }
}

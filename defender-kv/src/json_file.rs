//! Defender's local development store: a JSON file holding a flat object of key -> value.

use crate::{blocking, KvOptions};
use async_trait::async_trait;
use defender_core::kv::{KvError, KvLimit, KvStore};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A [`KvStore`] in the JSON file format of Defender's local key-value client
/// (`new KeyValueStoreClient({ path })` in `defender-kvstore-client` and
/// `@openzeppelin/defender-kvstore-client`), so a team can open the development store it
/// already has, and hand the file back to those tools.
///
/// # The file
/// One JSON object of string keys to string values, written with two-space indentation and a
/// final newline, as Defender's client writes it:
/// ```json
/// {
///   "lastBlock": "19000000",
///   "owner": "0xabc"
/// }
/// ```
/// - A missing or empty file is an empty store, as in Defender. `null` values (which
///   Defender's client writes for `put(key, null)`) read as missing keys.
/// - Unlike Defender's client, which silently treats an unreadable file as empty and then
///   overwrites it, a file that is not such an object fails [`open`](Self::open) with
///   [`KvError::Corrupt`]: nothing is lost.
/// - Every write replaces the file atomically (write a temporary file in the same directory,
///   fsync, rename, fsync the directory), so a crash leaves the old or the new file, never a
///   torn one, and an acknowledged write is on disk.
///
/// # Expiry
/// Defender's file has no room for expiry times, so they live beside it in
/// `<file>.expiry.json` (`{"version": 1, "expiresAt": {"key": <ms since the Unix epoch>}}`),
/// which Defender's tools ignore. A key in the main file without an expiry time (a store
/// written by Defender's tools) counts as put when the store is opened. Expired entries are
/// never returned and are dropped from both files at the next write.
///
/// # Sharing
/// The store reads the files when opened and then owns them: changes made by another program
/// while it is open are not seen, and are overwritten by the next write. Writes are serialized;
/// reads never wait for the disk.
#[derive(Clone)]
pub struct JsonFileKvStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    expiry_path: PathBuf,
    options: KvOptions,
    /// The committed state; swapped whole after both files are written.
    state: Mutex<Arc<State>>,
    /// Serializes writers.
    writer: Mutex<()>,
    tmp_counter: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct State {
    values: BTreeMap<String, String>,
    expires: BTreeMap<String, i64>,
}

impl State {
    fn live(&self, key: &str, now: i64) -> Option<&String> {
        let value = self.values.get(key)?;
        (self.expires.get(key).copied().unwrap_or(i64::MAX) > now).then_some(value)
    }

    fn purge(&mut self, now: i64) {
        let expires = &self.expires;
        self.values
            .retain(|k, _| expires.get(k).copied().unwrap_or(i64::MAX) > now);
        let values = &self.values;
        self.expires.retain(|k, _| values.contains_key(k));
    }
}

impl std::fmt::Debug for JsonFileKvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonFileKvStore")
            .field("path", &self.inner.path)
            .field("limits", &self.inner.options.limits)
            .finish_non_exhaustive()
    }
}

fn corrupt(path: &Path, what: impl std::fmt::Display) -> KvError {
    KvError::Corrupt {
        message: format!("{}: {what}", path.display()),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, KvError> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(corrupt(path, "not UTF-8")),
        Err(e) => Err(KvError::unavailable(e)),
    }
}

/// Reads Defender's flat object of key -> string value.
fn parse_values(path: &Path, text: &str) -> Result<BTreeMap<String, String>, KvError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(path, e))?;
    let serde_json::Value::Object(object) = json else {
        return Err(corrupt(path, "the file is not a JSON object"));
    };
    let mut values = BTreeMap::new();
    for (key, value) in object {
        match value {
            serde_json::Value::String(s) => {
                values.insert(key, s);
            }
            serde_json::Value::Null => {}
            other => {
                return Err(corrupt(
                    path,
                    format!("the value of {key:?} is not a string: {other}"),
                ))
            }
        }
    }
    Ok(values)
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExpiryFile {
    version: u32,
    expires_at: BTreeMap<String, i64>,
}

impl JsonFileKvStore {
    /// Opens the store in the JSON file at `path` (created at the first write if missing) with
    /// Defender's limits and the system clock.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KvError> {
        Self::open_with(path, KvOptions::default())
    }

    /// Opens the store in the JSON file at `path` with these limits and clock.
    pub fn open_with(path: impl AsRef<Path>, options: KvOptions) -> Result<Self, KvError> {
        let path = path.as_ref().to_path_buf();
        let mut expiry_name = path
            .file_name()
            .ok_or_else(|| corrupt(&path, "the path has no file name"))?
            .to_os_string();
        expiry_name.push(".expiry.json");
        let expiry_path = path.with_file_name(expiry_name);

        let values = match read_optional(&path)? {
            Some(text) => parse_values(&path, &text)?,
            None => BTreeMap::new(),
        };
        let mut expires = match read_optional(&expiry_path)? {
            Some(text) => {
                let file: ExpiryFile =
                    serde_json::from_str(&text).map_err(|e| corrupt(&expiry_path, e))?;
                if file.version != 1 {
                    return Err(corrupt(
                        &expiry_path,
                        format!("unknown version {}", file.version),
                    ));
                }
                file.expires_at
            }
            None => BTreeMap::new(),
        };
        expires.retain(|k, _| values.contains_key(k));
        let opened = options.expires_ms(options.now_ms());
        for key in values.keys() {
            expires.entry(key.clone()).or_insert(opened);
        }
        Ok(JsonFileKvStore {
            inner: Arc::new(Inner {
                path,
                expiry_path,
                options,
                state: Mutex::new(Arc::new(State { values, expires })),
                writer: Mutex::new(()),
                tmp_counter: AtomicU64::new(0),
            }),
        })
    }

    /// The JSON file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The file that holds the expiry times.
    pub fn expiry_path(&self) -> &Path {
        &self.inner.expiry_path
    }
}

impl Inner {
    fn snapshot(&self) -> Arc<State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Writes `bytes` to `path` atomically and durably.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), KvError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(KvError::unavailable)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, path)?;
            #[cfg(unix)]
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(())
        })();
        result.map_err(|e: std::io::Error| {
            let _ = std::fs::remove_file(&tmp);
            KvError::unavailable(e)
        })
    }

    fn write_values(&self, state: &State) -> Result<(), KvError> {
        let mut text = serde_json::to_string_pretty(&state.values).map_err(KvError::unavailable)?;
        text.push('\n');
        self.write_atomic(&self.path, text.as_bytes())
    }

    fn write_expiry(&self, state: &State) -> Result<(), KvError> {
        let file = ExpiryFile {
            version: 1,
            expires_at: state.expires.clone(),
        };
        let mut text = serde_json::to_string(&file).map_err(KvError::unavailable)?;
        text.push('\n');
        self.write_atomic(&self.expiry_path, text.as_bytes())
    }

    fn put(&self, key: String, value: String) -> Result<(), KvError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.options.now_ms();
        let mut next = (*self.snapshot()).clone();
        next.purge(now);
        if let Some(max) = self.options.limits.max_entries {
            if !next.values.contains_key(&key) && next.values.len() >= max {
                return Err(KvError::LimitExceeded {
                    what: KvLimit::Entries,
                    actual: next.values.len() + 1,
                    limit: max,
                });
            }
        }
        next.expires
            .insert(key.clone(), self.options.expires_ms(now));
        next.values.insert(key, value);
        // The expiry first: a crash in between leaves the old value with a later expiry.
        self.write_expiry(&next)?;
        self.write_values(&next)?;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }

    fn del(&self, key: &str) -> Result<(), KvError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot();
        if !current.values.contains_key(key) {
            return Ok(());
        }
        let mut next = (*current).clone();
        next.purge(self.options.now_ms());
        next.values.remove(key);
        next.expires.remove(key);
        // The values first: a crash in between leaves a stray expiry time, which is ignored.
        self.write_values(&next)?;
        self.write_expiry(&next)?;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }
}

#[async_trait]
impl KvStore for JsonFileKvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.inner.options.limits.check_key(key)?;
        let now = self.inner.options.now_ms();
        Ok(self.inner.snapshot().live(key, now).cloned())
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.inner.options.limits.check_put(key, value)?;
        let inner = self.inner.clone();
        let (key, value) = (key.to_owned(), value.to_owned());
        blocking(move || inner.put(key, value)).await
    }

    async fn del(&self, key: &str) -> Result<(), KvError> {
        self.inner.options.limits.check_key(key)?;
        let inner = self.inner.clone();
        let key = key.to_owned();
        blocking(move || inner.del(&key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let now = self.inner.options.now_ms();
        let state = self.inner.snapshot();
        Ok(state
            .values
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| state.live(k, now).is_some())
            .map(|(k, _)| k.clone())
            .collect())
    }
}

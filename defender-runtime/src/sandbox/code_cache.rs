//! Compiled code and `require` resolutions shared by all runs of a runtime, bounded in entries
//! and in bytes.

use crate::files::{self, Files, ACTION_ROOT};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Compiled code of one file.
#[derive(Clone)]
pub(crate) enum Compiled {
    /// A CommonJS file: a script whose completion value is the module wrapper function.
    Cjs(Arc<[u8]>),
    /// An ES module.
    Esm(Arc<[u8]>),
}

impl Compiled {
    fn bytes(&self) -> usize {
        match self {
            Compiled::Cjs(b) | Compiled::Esm(b) => b.len(),
        }
    }
}

/// A `require` from a directory of a scope: `(scope, directory, request)`.
type ResolveKey = (Arc<str>, String, String);

/// Requests longer than this are resolved but their resolution is not remembered (a script
/// could otherwise fill the shared map with long distinct spellings).
const MAX_REMEMBERED_REQUEST: usize = 512;

/// Bytes of remembered resolutions (keys and values) before the map is cleared.
const MAX_RESOLVED_BYTES: usize = 4 * 1024 * 1024;

/// A map whose total size is bounded: it is cleared when an insertion would pass either
/// bound (what a later run needs is compiled or resolved again).
struct Bounded<K, V> {
    map: HashMap<K, V>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> Bounded<K, V> {
    fn new(max_entries: usize, max_bytes: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    fn get(&self, k: &K) -> Option<V> {
        self.map.get(k).cloned()
    }

    /// Inserts unless the entry alone is over the byte bound.
    fn insert(&mut self, k: K, v: V, size: usize) {
        if size > self.max_bytes {
            return;
        }
        if self.map.len() >= self.max_entries || self.bytes.saturating_add(size) > self.max_bytes {
            self.map.clear();
            self.bytes = 0;
        }
        if self.map.insert(k, v).is_none() {
            self.bytes = self.bytes.saturating_add(size);
        }
    }
}

/// Bytecode shared by all runs: per `(scope, file)`, where the scope is `action_id@version`
/// for the action's files (keyed by their normalized path) and `node_modules` for the
/// mounted packages (keyed by the file's real path on the host, so that every spelling of
/// a path, and every symbolic link to a file, shares one entry).
pub(crate) struct CodeCache {
    map: Mutex<Bounded<(Arc<str>, String), Compiled>>,
    /// `require` resolutions, per `(scope, directory of the requiring file, request)`: the
    /// files behind a scope do not change, and resolving walks the file system.
    resolved: Mutex<Bounded<ResolveKey, String>>,
    /// Real host paths of `/node_modules/...` files, per virtual path: following symbolic
    /// links takes a `readlink` per path component, and every context loading a package
    /// asks again.
    real_paths: Mutex<Bounded<String, Arc<str>>>,
    /// The scope of the mounted `node_modules`.
    node_modules: Arc<str>,
    /// Identifies the owning `QuickJsRuntime` (for spare instances).
    pub(crate) id: u64,
    /// `process.env` of every run, as JSON.
    pub(crate) env_json: Arc<str>,
    /// `process.env` of the runs of these actions (by action id), as JSON.
    action_env_json: HashMap<String, Arc<str>>,
}

impl CodeCache {
    pub(crate) fn new(max_entries: usize, max_bytes: usize, env_json: Arc<str>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        CodeCache {
            map: Mutex::new(Bounded::new(max_entries, max_bytes)),
            resolved: Mutex::new(Bounded::new(max_entries, MAX_RESOLVED_BYTES)),
            real_paths: Mutex::new(Bounded::new(max_entries, MAX_RESOLVED_BYTES)),
            node_modules: Arc::from("node_modules"),
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            env_json,
            action_env_json: HashMap::new(),
        }
    }

    /// With `process.env` JSON for the runs of these actions (by action id).
    pub(crate) fn with_action_env(mut self, by_action: HashMap<String, Arc<str>>) -> Self {
        self.action_env_json = by_action;
        self
    }

    /// `process.env` as JSON for a run of scope `action_id@version` (the default one when no
    /// run is in progress or the action has no variables of its own).
    pub(crate) fn env_json_for(&self, scope: Option<&str>) -> &Arc<str> {
        scope
            .and_then(|s| s.rsplit_once('@'))
            .and_then(|(action_id, _version)| self.action_env_json.get(action_id))
            .unwrap_or(&self.env_json)
    }

    /// The cache scope of the file at `path`: the action's own files are per action version.
    fn scope_of<'a>(&'a self, action_scope: &'a Arc<str>, path: &str) -> &'a Arc<str> {
        if path.starts_with(ACTION_ROOT) {
            action_scope
        } else {
            &self.node_modules
        }
    }

    /// [`Files::resolve`], remembered per scope.
    pub(crate) fn resolve(
        &self,
        files: &Files,
        action_scope: &Arc<str>,
        from: &str,
        request: &str,
    ) -> Result<String, String> {
        let remember = request.len() <= MAX_REMEMBERED_REQUEST;
        let key = (
            self.scope_of(action_scope, from).clone(),
            files::dirname(from).to_owned(),
            request.to_owned(),
        );
        let lock = || self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if remember {
            if let Some(hit) = lock().get(&key) {
                return Ok(hit);
            }
        }
        let found = files.resolve(from, request)?;
        if remember {
            let size = key.1.len() + key.2.len() + found.len();
            lock().insert(key, found.clone(), size);
        }
        Ok(found)
    }

    /// The cache key of the file at the virtual `path`, or `None` when it cannot be cached
    /// (a `node_modules` file whose real path cannot be read).
    pub(crate) fn key(
        &self,
        files: &Files,
        action_scope: &Arc<str>,
        path: &str,
    ) -> Option<(Arc<str>, String)> {
        let scope = self.scope_of(action_scope, path).clone();
        if path.starts_with(ACTION_ROOT) {
            return Some((scope, path.to_owned()));
        }
        let lock = || self.real_paths.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(real) = lock().get(&path.to_owned()) {
            return Some((scope, real.to_string()));
        }
        let real: Arc<str> = Arc::from(files.real_path(path)?.to_string_lossy());
        if path.len() <= MAX_REMEMBERED_REQUEST {
            let size = path.len() + real.len();
            lock().insert(path.to_owned(), real.clone(), size);
        }
        Some((scope, real.to_string()))
    }

    pub(crate) fn get(&self, key: &(Arc<str>, String)) -> Option<Compiled> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(key)
    }

    pub(crate) fn put(&self, key: (Arc<str>, String), c: Compiled) {
        let size = key.1.len() + c.bytes();
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, c, size);
    }

    /// Number of cached files.
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).map.len()
    }

    /// Bytes of cached bytecode and keys.
    pub(crate) fn bytes(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_map_is_cleared_at_its_byte_bound() {
        let mut m = Bounded::new(100, 10);
        m.insert(1, 'a', 4);
        m.insert(2, 'b', 4);
        assert_eq!(m.bytes, 8);
        m.insert(3, 'c', 4);
        assert_eq!((m.map.len(), m.bytes), (1, 4));
        // An entry over the bound alone is not kept.
        m.insert(4, 'd', 11);
        assert_eq!(m.get(&4), None);
        // Replacing a key does not count it twice.
        m.insert(3, 'e', 4);
        assert_eq!((m.map.len(), m.bytes), (1, 4));
    }

    #[test]
    fn bounded_map_is_cleared_at_its_entry_bound() {
        let mut m = Bounded::new(2, 1000);
        m.insert(1, 'a', 1);
        m.insert(2, 'b', 1);
        m.insert(3, 'c', 1);
        assert_eq!(m.map.len(), 1);
        assert_eq!(m.get(&3), Some('c'));
    }
}

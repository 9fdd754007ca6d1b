//! Run history per action.

use crate::wire::RunRecord;
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// Dynamic run store, as the engine holds it.
pub type DynRunStore = dyn RunStore;

/// How many runs per action Defender kept in its history.
pub const DEFAULT_RUN_HISTORY: usize = 30;

/// Errors of every [`RunStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunStoreError {
    /// The backend failed.
    #[error("run store unavailable: {source}")]
    Unavailable {
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored record could not be read back.
    #[error("run record is corrupt: {0}")]
    Corrupt(String),
}

/// Run history.
///
/// # Contract
/// - `record` inserts a run, or replaces the run with the same `actionRunId` (a pending run
///   that finished). It keeps at least the newest [`DEFAULT_RUN_HISTORY`] runs per action
///   (by insertion) and may drop older ones.
/// - `list` returns an action's runs newest first; `get` finds one by id.
///
/// # Example
/// ```
/// use defender_core::{InMemoryRunStore, RunStore, RunRecord, RunStatus, Trigger};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let runs = InMemoryRunStore::default();
/// let record: RunRecord = serde_json::from_value(serde_json::json!({
///     "actionRunId": "r1", "actionId": "a", "trigger": "manual", "status": "success",
///     "createdAt": "2026-11-23T10:00:00.000Z", "encodedLogs": ""
/// })).unwrap();
/// runs.record(record).await.unwrap();
/// assert_eq!(runs.list("a", 10).await.unwrap()[0].status, RunStatus::Success);
/// # });
/// ```
#[async_trait]
pub trait RunStore: Debug + Send + Sync + 'static {
    /// Inserts or replaces a run.
    async fn record(&self, run: RunRecord) -> Result<(), RunStoreError>;
    /// At most `limit` runs of `action_id`, newest first.
    async fn list(&self, action_id: &str, limit: usize) -> Result<Vec<RunRecord>, RunStoreError>;
    /// One run by id.
    async fn get(&self, run_id: &str) -> Result<Option<RunRecord>, RunStoreError>;
}

#[async_trait]
impl<T: RunStore + ?Sized> RunStore for Arc<T> {
    async fn record(&self, run: RunRecord) -> Result<(), RunStoreError> {
        (**self).record(run).await
    }
    async fn list(&self, action_id: &str, limit: usize) -> Result<Vec<RunRecord>, RunStoreError> {
        (**self).list(action_id, limit).await
    }
    async fn get(&self, run_id: &str) -> Result<Option<RunRecord>, RunStoreError> {
        (**self).get(run_id).await
    }
}

/// Run history in memory, keeping the newest `capacity` runs per action.
#[derive(Debug)]
pub struct InMemoryRunStore {
    capacity: usize,
    runs: Mutex<HashMap<String, VecDeque<RunRecord>>>,
}

impl Default for InMemoryRunStore {
    fn default() -> Self {
        InMemoryRunStore::with_capacity(DEFAULT_RUN_HISTORY)
    }
}

impl InMemoryRunStore {
    /// Keeps the newest `capacity` runs per action.
    pub fn with_capacity(capacity: usize) -> Self {
        InMemoryRunStore {
            capacity: capacity.max(1),
            runs: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl RunStore for InMemoryRunStore {
    async fn record(&self, run: RunRecord) -> Result<(), RunStoreError> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let list = runs.entry(run.action_id.clone()).or_default();
        if let Some(existing) = list
            .iter_mut()
            .find(|r| r.action_run_id == run.action_run_id)
        {
            *existing = run;
            return Ok(());
        }
        list.push_front(run);
        list.truncate(self.capacity);
        Ok(())
    }

    async fn list(&self, action_id: &str, limit: usize) -> Result<Vec<RunRecord>, RunStoreError> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        Ok(runs
            .get(action_id)
            .map(|l| l.iter().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn get(&self, run_id: &str) -> Result<Option<RunRecord>, RunStoreError> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        Ok(runs
            .values()
            .flat_map(|l| l.iter())
            .find(|r| r.action_run_id == run_id)
            .cloned())
    }
}

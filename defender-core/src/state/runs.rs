//! Run history on a [`StateStore`].

use super::{Space, StateError, StateOp, StateStore, StateStoreExt, MAX_COUNTER};
use crate::runs::{RunStore, RunStoreError, DEFAULT_RUN_HISTORY};
use crate::wire::RunRecord;
use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use std::sync::Arc;

/// The key of the sequence counter in [`Space::RUN_HISTORY`]; `#` is outside the base64
/// alphabet of the index keys, so it never shows in an action's listing.
const SEQUENCE_KEY: &str = "#seq";

/// How many index entries pruning reads at a time.
const PRUNE_PAGE: usize = 256;

/// A durable [`RunStore`] on any [`StateStore`]: run history survives restarts with the store.
///
/// # Layout
/// - [`Space::RUNS`]: run id → the record as JSON (Defender's run-record shape).
/// - [`Space::RUN_HISTORY`]: `<action id in URL-safe base64>:<19 digits>` → run id, where the
///   digits are [`MAX_COUNTER`] minus a sequence number drawn from the counter `#seq`, so a
///   prefix scan lists an action's runs newest first. The base64 alphabet has no `:`, so no
///   action's prefix is another's.
///
/// # Behaviour
/// A new run is written with its index entry in one atomic batch, on the condition that its
/// id is new (so two concurrent first records of one run never index it twice); recording a
/// known id replaces the record in place. After each new run, the runs of its action past the
/// newest `capacity` ([`DEFAULT_RUN_HISTORY`] unless set) are deleted, record and index entry
/// together. `list` returns at most `capacity` runs.
///
/// ```
/// use defender_core::state::{MemoryStateStore, StateRunStore};
/// use defender_core::{RunRecord, RunStore};
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let runs = StateRunStore::new(Arc::new(MemoryStateStore::default())).with_capacity(2);
/// for id in ["r1", "r2", "r3"] {
///     let record: RunRecord = serde_json::from_value(serde_json::json!({
///         "actionRunId": id, "actionId": "a", "trigger": "manual", "status": "success",
///         "createdAt": "2026-11-23T10:00:00.000Z", "encodedLogs": ""
///     })).unwrap();
///     runs.record(record).await.unwrap();
/// }
/// let ids: Vec<_> = runs.list("a", 10).await.unwrap().into_iter().map(|r| r.action_run_id).collect();
/// assert_eq!(ids, ["r3", "r2"]);
/// assert!(runs.get("r1").await.unwrap().is_none(), "pruned");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct StateRunStore {
    store: Arc<dyn StateStore>,
    capacity: usize,
}

impl StateRunStore {
    /// Run history in `store`, keeping [`DEFAULT_RUN_HISTORY`] runs per action.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        StateRunStore {
            store,
            capacity: DEFAULT_RUN_HISTORY,
        }
    }

    /// Keeps the newest `capacity` runs per action (at least 1).
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// How many runs per action it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Deletes the runs of the action under `prefix` past the newest `capacity`.
    async fn prune(&self, prefix: &str) -> Result<(), StateError> {
        let mut seen = 0usize;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .scan_prefix(Space::RUN_HISTORY, prefix, after.as_deref(), PRUNE_PAGE)
                .await?;
            let done = page.len() < PRUNE_PAGE;
            after = page.last().map(|(k, _)| k.clone());
            let mut batch = Vec::new();
            for (index_key, run_id) in page {
                seen = seen.saturating_add(1);
                if seen <= self.capacity {
                    continue;
                }
                if let Ok(run_id) = std::str::from_utf8(&run_id) {
                    if !run_id.is_empty() {
                        batch.push(StateOp::delete(Space::RUNS, run_id));
                    }
                }
                batch.push(StateOp::delete(Space::RUN_HISTORY, index_key));
            }
            if !batch.is_empty() {
                self.store.apply(batch).await?;
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// The index prefix of an action's runs.
fn action_prefix(action_id: &str) -> String {
    let mut prefix = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(action_id);
    prefix.push(':');
    prefix
}

fn unavailable(e: StateError) -> RunStoreError {
    match e {
        StateError::Decode { .. } | StateError::Corrupt { .. } => {
            RunStoreError::Corrupt(e.to_string())
        }
        other => RunStoreError::Unavailable {
            source: Box::new(other),
        },
    }
}

#[async_trait]
impl RunStore for StateRunStore {
    async fn record(&self, run: RunRecord) -> Result<(), RunStoreError> {
        let id = run.action_run_id.clone();
        let encoded = Bytes::from(serde_json::to_vec(&run).map_err(|e| {
            RunStoreError::Corrupt(format!("run {id} does not encode as JSON: {e}"))
        })?);
        // Known run: replace it in place, keeping its place in the history.
        if self
            .store
            .get(Space::RUNS, &id)
            .await
            .map_err(unavailable)?
            .is_some()
        {
            return self
                .store
                .put(Space::RUNS, &id, encoded)
                .await
                .map_err(unavailable);
        }
        let seq = self
            .store
            .increment(Space::RUN_HISTORY, SEQUENCE_KEY, 1)
            .await
            .map_err(unavailable)?;
        let prefix = action_prefix(&run.action_id);
        let index_key = format!("{prefix}{:019}", MAX_COUNTER.saturating_sub(seq));
        let batch = vec![
            StateOp::expect(Space::RUNS, id.as_str(), None),
            StateOp::put(Space::RUNS, id.as_str(), encoded.clone()),
            StateOp::put(Space::RUN_HISTORY, index_key, Bytes::from(id.clone())),
        ];
        match self.store.apply(batch).await {
            Ok(()) => {}
            // Recorded meanwhile by another task: replace that record.
            Err(StateError::Conflict { .. }) => {
                return self
                    .store
                    .put(Space::RUNS, &id, encoded)
                    .await
                    .map_err(unavailable);
            }
            Err(e) => return Err(unavailable(e)),
        }
        self.prune(&prefix).await.map_err(unavailable)
    }

    async fn list(&self, action_id: &str, limit: usize) -> Result<Vec<RunRecord>, RunStoreError> {
        let limit = limit.min(self.capacity);
        let index = self
            .store
            .scan_prefix(Space::RUN_HISTORY, &action_prefix(action_id), None, limit)
            .await
            .map_err(unavailable)?;
        let mut runs = Vec::with_capacity(index.len());
        for (_, run_id) in index {
            let Ok(run_id) = std::str::from_utf8(&run_id) else {
                return Err(RunStoreError::Corrupt(
                    "a run-history entry is not UTF-8".into(),
                ));
            };
            // Pruned between the scan and this read: skip it.
            if let Some(run) = self.get(run_id).await? {
                if run.action_id == action_id {
                    runs.push(run);
                }
            }
        }
        Ok(runs)
    }

    async fn get(&self, run_id: &str) -> Result<Option<RunRecord>, RunStoreError> {
        if run_id.is_empty() || run_id.len() > super::MAX_KEY_BYTES {
            return Ok(None);
        }
        self.store
            .get_json(Space::RUNS, run_id)
            .await
            .map_err(unavailable)
    }
}

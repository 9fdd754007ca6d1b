//! Configuration changes shared by the engines on one engine state: an action paused or
//! resumed, its code updated or its relayer changed, a monitor paused or resumed through one
//! engine (its API, the host's management API, or an action's
//! `client.action`/`client.monitor`) reach every other engine within [`SYNC_EVERY`].
//! Adding and removing actions and monitors is not shared: each engine adds its own (the host
//! loads the same project in every process).
//!
//! Each change is kept in the engine state (space `config`) as the latest change of its
//! subject (`action/<id>/paused`, `action/<id>/code`, `action/<id>/relayer`,
//! `monitor/<id>/paused`),
//! numbered by a counter (`seq`) written in the same atomic batch. Every engine reads the
//! counter every [`SYNC_EVERY`] and, when it moved (or its own actions and monitors changed),
//! applies the changes it has not applied yet to the actions and monitors it has. An engine
//! started later (a restarted process that loads its project again) applies them all once
//! its actions and monitors are added, so the changes outlive restarts.

use crate::actions::Actions;
use crate::registry::Monitors;
use base64::Engine as _;
use bytes::Bytes;
use defender_core::state::{Space, StateError, StateOp, StateStore, StateStoreExt};
use defender_core::CodeSource;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The space of shared configuration changes.
const CONFIG: Space = Space::new("config");
/// The counter numbering the changes.
const SEQ: &str = "seq";
/// How often an engine looks for changes made by others.
pub(crate) const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Most attempts at numbering one change against other engines writing at once.
const MAX_ATTEMPTS: usize = 100;

/// One configuration change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Change {
    /// An action paused or resumed.
    ActionPaused { id: String, paused: bool },
    /// An action's new code.
    ActionCode { id: String, code: StoredCode },
    /// An action's relayer linked or unlinked.
    ActionRelayer { id: String, relayer: Option<String> },
    /// A monitor paused or resumed.
    MonitorPaused { id: String, paused: bool },
}

impl Change {
    /// The subject it changes: its key in the space.
    fn subject(&self) -> String {
        match self {
            Change::ActionPaused { id, .. } => format!("action/{id}/paused"),
            Change::ActionCode { id, .. } => format!("action/{id}/code"),
            Change::ActionRelayer { id, .. } => format!("action/{id}/relayer"),
            Change::MonitorPaused { id, .. } => format!("monitor/{id}/paused"),
        }
    }
}

/// Code as stored: a script, or a bundle's files in base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum StoredCode {
    Script(String),
    Bundle(BTreeMap<String, String>),
}

impl From<&CodeSource> for StoredCode {
    fn from(code: &CodeSource) -> Self {
        match code {
            CodeSource::Script(s) => StoredCode::Script(s.clone()),
            CodeSource::Bundle(files) => StoredCode::Bundle(
                files
                    .iter()
                    .map(|(p, c)| {
                        (
                            p.clone(),
                            base64::engine::general_purpose::STANDARD.encode(c),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

impl StoredCode {
    fn source(&self) -> Option<CodeSource> {
        Some(match self {
            StoredCode::Script(s) => CodeSource::Script(s.clone()),
            StoredCode::Bundle(files) => CodeSource::Bundle(
                files
                    .iter()
                    .map(|(p, c)| {
                        base64::engine::general_purpose::STANDARD
                            .decode(c)
                            .ok()
                            .map(|c| (p.clone(), Bytes::from(c)))
                    })
                    .collect::<Option<_>>()?,
            ),
        })
    }
}

/// A change as stored: its number, the engine that made it, and the change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    seq: u64,
    origin: String,
    change: Change,
}

/// Writes this engine's changes and applies the others'.
#[derive(Debug)]
pub(crate) struct ConfigSync {
    changes: mpsc::UnboundedSender<Change>,
    /// Bumped when this engine's set of actions or monitors changes, so that changes to
    /// subjects it did not have yet are applied.
    generation: Arc<AtomicU64>,
    /// Turns true at shutdown: the writer writes what is queued, then both tasks end.
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl ConfigSync {
    /// Starts the writer and the reader (when there is a tokio runtime; without one,
    /// changes stay local).
    pub(crate) fn start(
        state: Arc<dyn StateStore>,
        instance: String,
        actions: Weak<Actions>,
        monitors: Weak<Monitors>,
    ) -> Self {
        let (changes, inbox) = mpsc::unbounded_channel();
        let generation = Arc::new(AtomicU64::new(0));
        let applied = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let writer = Writer {
                state: state.clone(),
                instance: instance.clone(),
                applied: applied.clone(),
            };
            tasks.push(runtime.spawn(writer.run(inbox, stopped.clone())));
            let reader = Reader {
                state,
                actions,
                monitors,
                applied,
                generation: generation.clone(),
            };
            tasks.push(runtime.spawn(reader.run(stopped)));
        }
        ConfigSync {
            changes,
            generation,
            stop,
            tasks: std::sync::Mutex::new(tasks),
        }
    }

    /// Writes the changes queued, stops reading others', and waits until both tasks have
    /// ended (and let the state store go).
    pub(crate) async fn stop(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Shares a change made on this engine with the others.
    pub(crate) fn record(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    /// Notes that this engine's actions or monitors changed.
    pub(crate) fn touched(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }
}

/// The latest change applied per subject: its number.
type Applied = Arc<std::sync::Mutex<HashMap<String, u64>>>;

struct Writer {
    state: Arc<dyn StateStore>,
    instance: String,
    applied: Applied,
}

impl Writer {
    /// Writes changes in the order they were made; ends with the engine, or at a stop once
    /// the changes queued are written.
    async fn run(
        self,
        mut inbox: mpsc::UnboundedReceiver<Change>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let change = tokio::select! {
                change = inbox.recv() => change,
                _ = stop.wait_for(|s| *s) => inbox.try_recv().ok(),
            };
            let Some(change) = change else {
                return;
            };
            match self.write(&change).await {
                Ok(seq) => {
                    // Made here: applied already.
                    self.applied
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(change.subject(), seq);
                }
                Err(e) => {
                    tracing::warn!(error = %e, subject = %change.subject(), "configuration change not shared with other engines");
                }
            }
        }
    }

    /// Numbers and stores one change in one batch; returns its number.
    async fn write(&self, change: &Change) -> Result<u64, StateError> {
        for _ in 0..MAX_ATTEMPTS {
            let stored = self.state.get(CONFIG, SEQ).await?;
            let seq = match &stored {
                None => 1,
                Some(b) => defender_core::state::decode_counter(b)
                    .ok_or_else(|| StateError::NotACounter {
                        space: CONFIG,
                        key: SEQ.into(),
                    })?
                    .saturating_add(1),
            };
            let record = Record {
                seq,
                origin: self.instance.clone(),
                change: change.clone(),
            };
            let batch = vec![
                StateOp::expect(CONFIG, SEQ, stored),
                StateOp::put(CONFIG, SEQ, defender_core::state::encode_counter(seq)),
                StateOp::put_json(CONFIG, change.subject(), &record)?,
            ];
            match self.state.apply(batch).await {
                Ok(()) => return Ok(seq),
                Err(StateError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StateError::Conflict {
            space: CONFIG,
            key: SEQ.into(),
        })
    }
}

struct Reader {
    state: Arc<dyn StateStore>,
    actions: Weak<Actions>,
    monitors: Weak<Monitors>,
    applied: Applied,
    generation: Arc<AtomicU64>,
}

impl Reader {
    /// Applies others' changes as they come; ends with the engine or at a stop.
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let (mut seen_seq, mut seen_generation) = (None, None);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SYNC_EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if self.actions.strong_count() == 0 {
                return;
            }
            let seq = match self.state.get(CONFIG, SEQ).await {
                Ok(seq) => seq,
                Err(e) => {
                    tracing::warn!(error = %e, "configuration changes not read");
                    continue;
                }
            };
            let generation = self.generation.load(Ordering::Relaxed);
            if seq.is_none()
                || (seen_seq == Some(seq.clone()) && seen_generation == Some(generation))
            {
                continue;
            }
            match self.apply_all().await {
                Ok(()) => {
                    seen_seq = Some(seq);
                    seen_generation = Some(generation);
                }
                Err(e) => tracing::warn!(error = %e, "configuration changes not read"),
            }
        }
    }

    /// Applies every stored change newer than the one applied to its subject, to the
    /// subjects this engine has.
    async fn apply_all(&self) -> Result<(), StateError> {
        let records = self.state.scan_all(CONFIG, "").await?;
        for (key, bytes) in records {
            if key == SEQ {
                continue;
            }
            let record: Record = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(key, error = %e, "undecodable configuration change left alone");
                    continue;
                }
            };
            let done = self
                .applied
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .is_some_and(|&seq| seq >= record.seq);
            if done {
                continue;
            }
            if self.apply(&record.change).await {
                tracing::info!(subject = %key, seq = record.seq, origin = %record.origin, "configuration change applied");
                self.applied
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, record.seq);
            }
        }
        Ok(())
    }

    /// Applies one change locally (without sharing it again); false when this engine does
    /// not have its subject (yet).
    async fn apply(&self, change: &Change) -> bool {
        let (Some(actions), Some(monitors)) = (self.actions.upgrade(), self.monitors.upgrade())
        else {
            return false;
        };
        match change {
            Change::ActionPaused { id, paused } => actions.set_paused(id, *paused).is_ok(),
            Change::ActionCode { id, code } => match code.source() {
                Some(code) => actions.update_code(id, code).is_ok(),
                None => false,
            },
            Change::ActionRelayer { id, relayer } => {
                actions.set_relayer(id, relayer.clone()).is_ok()
            }
            Change::MonitorPaused { id, paused } => {
                if monitors.definition(id).is_some_and(|d| d.paused == *paused) {
                    return true;
                }
                monitors.set_paused(id, *paused).await.is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_round_trips_and_subjects_are_distinct() {
        let bundle = CodeSource::Bundle(BTreeMap::from([(
            "index.js".to_owned(),
            Bytes::from_static(b"\x00\xffexports.handler=1"),
        )]));
        for code in [CodeSource::Script("x".into()), bundle] {
            assert_eq!(StoredCode::from(&code).source(), Some(code));
        }
        let a = Change::ActionPaused {
            id: "a".into(),
            paused: true,
        };
        let b = Change::ActionCode {
            id: "a".into(),
            code: StoredCode::Script(String::new()),
        };
        assert_ne!(a.subject(), b.subject());
    }
}

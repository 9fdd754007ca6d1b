//! Actions: their configuration and the registry of the engine's actions (registration with
//! schedules, code updates, pausing). Running them is [`crate::run`]'s.

use crate::error::EngineError;
use crate::limits::{ActionLimits, ExecutionLimits};
use crate::run::{ActionEntry, Runner};
use crate::schedule::{self, Schedule};
use defender_core::{ActionCode, CodeSource};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::task::JoinHandle;

/// What starts an action, besides manual runs (always possible) and monitors (which name the
/// action in their definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionTrigger {
    /// A schedule: an interval or a cron expression.
    Schedule(Schedule),
    /// A webhook URL with a secret token.
    Webhook,
}

/// An action's configuration.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// Unique id (`actionId`).
    pub id: String,
    /// Name (`actionName`).
    pub name: String,
    /// The code.
    pub code: CodeSource,
    /// Triggers.
    pub triggers: Vec<ActionTrigger>,
    /// Id of the linked relayer, if any.
    pub relayer_id: Option<String>,
    /// Paused actions do not run.
    pub paused: bool,
    /// Its concurrency and quotas; runs beyond them are recorded as `throttled` (default: no
    /// limit; see [`ExecutionLimits`]).
    pub limits: ExecutionLimits,
}

impl ActionSpec {
    /// An action with a single script, no trigger and no relayer.
    pub fn new(id: impl Into<String>, name: impl Into<String>, script: impl Into<String>) -> Self {
        ActionSpec {
            id: id.into(),
            name: name.into(),
            code: CodeSource::Script(script.into()),
            triggers: Vec::new(),
            relayer_id: None,
            paused: false,
            limits: ExecutionLimits::default(),
        }
    }

    /// Sets its concurrency and quotas.
    pub fn limits(mut self, limits: ExecutionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds a trigger.
    pub fn trigger(mut self, trigger: ActionTrigger) -> Self {
        self.triggers.push(trigger);
        self
    }

    /// Links a relayer.
    pub fn relayer(mut self, relayer_id: impl Into<String>) -> Self {
        self.relayer_id = Some(relayer_id.into());
        self
    }
}

/// Defender's code-size rule: at most 5 MB once zipped and base64-encoded.
fn check_code(id: &str, code: &CodeSource) -> Result<(), EngineError> {
    defender_core::check_code_size(code)
        .map(drop)
        .map_err(|source| EngineError::CodeTooLarge {
            id: id.to_owned(),
            source,
        })
}

/// A new random webhook token: 256 bits, hex.
pub(crate) fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The engine's actions by id.
#[derive(Debug)]
pub(crate) struct Actions {
    map: RwLock<HashMap<String, Arc<ActionEntry>>>,
    /// Turns true at a graceful shutdown: schedules end once their tick under way is done.
    stop: tokio::sync::watch::Sender<bool>,
}

impl Default for Actions {
    fn default() -> Self {
        Actions {
            map: RwLock::default(),
            stop: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Actions {
    /// The action with this id, if any.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<ActionEntry>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The action with this id, or [`EngineError::UnknownAction`].
    pub(crate) fn entry(&self, id: &str) -> Result<Arc<ActionEntry>, EngineError> {
        self.get(id)
            .ok_or_else(|| EngineError::UnknownAction(id.to_owned()))
    }

    /// Registers an action and starts its schedules on `runner`. Returns the webhook token if
    /// it has a webhook trigger.
    pub(crate) fn add(
        &self,
        runner: &Arc<Runner>,
        spec: ActionSpec,
    ) -> Result<Option<String>, EngineError> {
        check_code(&spec.id, &spec.code)?;
        let mut schedules = Vec::new();
        let mut webhook = false;
        for t in &spec.triggers {
            match t {
                ActionTrigger::Schedule(s) => {
                    s.validate().map_err(|message| EngineError::InvalidAction {
                        id: spec.id.clone(),
                        message,
                    })?;
                    schedules.push(s.clone());
                }
                ActionTrigger::Webhook => webhook = true,
            }
        }
        let token = webhook.then(new_token);
        let entry = Arc::new(ActionEntry {
            id: spec.id.clone(),
            name: RwLock::new(spec.name),
            code: RwLock::new(Arc::new(ActionCode {
                action_id: spec.id.clone(),
                version: 1,
                source: spec.code,
            })),
            relayer_id: RwLock::new(spec.relayer_id),
            paused: AtomicBool::new(spec.paused),
            webhook_token: RwLock::new(token.clone()),
            limits: ActionLimits::new(spec.limits),
            versions: AtomicU64::new(1),
            schedules: Mutex::new(Vec::new()),
        });
        {
            let mut actions = self.map.write().unwrap_or_else(|e| e.into_inner());
            if actions.contains_key(&spec.id) {
                return Err(EngineError::DuplicateAction(spec.id));
            }
            actions.insert(spec.id.clone(), entry.clone());
        }
        let handles = schedules
            .into_iter()
            .map(|s| {
                let stop = self.stop.subscribe();
                schedule::spawn(Arc::downgrade(runner), Arc::downgrade(&entry), s, stop)
            })
            .collect();
        *entry.schedules.lock().unwrap_or_else(|e| e.into_inner()) = handles;
        Ok(token)
    }

    /// Removes an action and stops its schedules.
    pub(crate) fn remove(&self, id: &str) -> Result<(), EngineError> {
        let entry = self
            .map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .ok_or_else(|| EngineError::UnknownAction(id.to_owned()))?;
        entry.stop_schedules();
        Ok(())
    }

    /// Pauses or resumes an action.
    pub(crate) fn set_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        self.entry(id)?.paused.store(paused, Ordering::SeqCst);
        Ok(())
    }

    /// Replaces an action's code; returns the new version.
    pub(crate) fn update_code(&self, id: &str, code: CodeSource) -> Result<u64, EngineError> {
        check_code(id, &code)?;
        let entry = self.entry(id)?;
        let version = entry.versions.fetch_add(1, Ordering::SeqCst) + 1;
        *entry.code.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ActionCode {
            action_id: id.to_owned(),
            version,
            source: code,
        });
        Ok(version)
    }

    /// Links (or unlinks) a relayer.
    pub(crate) fn set_relayer(
        &self,
        id: &str,
        relayer_id: Option<String>,
    ) -> Result<(), EngineError> {
        *self
            .entry(id)?
            .relayer_id
            .write()
            .unwrap_or_else(|e| e.into_inner()) = relayer_id;
        Ok(())
    }

    /// The ids, sorted.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// Asks every schedule to end once its tick under way (if any) is done.
    pub(crate) fn stop_schedules_gracefully(&self) {
        self.stop.send_replace(true);
    }

    /// The handles of every schedule, taken (the schedules are stopped by aborting them).
    pub(crate) fn take_schedules(&self) -> Vec<JoinHandle<()>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .flat_map(|a| a.take_schedules())
            .collect()
    }
}

//! Forta monitors: Defender's `type: FORTA` monitors, fed by Forta's GraphQL alert API.
//!
//! Each Forta monitor ([`Engine::add_forta_monitor`] with Defender's
//! [`FortaMonitorDefinition`]) has a poll task: every [`FortaApi::poll_interval`] it asks the
//! API ([`Engine::set_forta_api`]) for the alerts of its bots, alert ids, severities (at or
//! above the monitor's), chains and addresses created since its cursor, page by page; checks
//! each alert against the monitor again (the API's filters are not trusted), including the
//! minimum scanner count; and takes each alert through the same stages as a block monitor's
//! match: custom filter, alert gate, and dispatch to the outbox, whose delivery workers notify
//! the channels and run the linked action with Defender's Forta payload
//! (`{ type: "FORTA", hash, alert, matchReasons, monitor, sentinel }`) as `request.body`.
//!
//! The cursor is kept in the engine state (space `checkpoints`, key `forta/<monitor id>`) and
//! written in one batch with what the alerts owe, so a restart neither repeats nor loses an
//! alert: the newest `createdAt` taken, and the hashes taken within the last
//! [`LATE_ALERTS_MS`] (the API may index an alert after newer ones; those are asked for again
//! and the ones already taken are dropped). A new monitor starts at its
//! `fortaLastProcessedTime`, or at the time it is added.
//!
//! Limits: at most [`MAX_ALERTS_PER_POLL`] alerts are read in one poll (more are taken at the
//! next polls only if they are newer than the cursor); each page is at most
//! [`MAX_PAGE_BYTES`]. A failed poll is retried with the block monitors' backoff.
//!
//! Each poll task is started like a network's monitor loop: by
//! `FortaMonitors::ensure_loop` when the monitor is added or resumed, stopped by
//! `FortaMonitors::stop_loops` at shutdown.

mod client;
mod poll;

pub use client::{FortaApi, FortaError, FORTA_API_URL, MAX_PAGE_BYTES, PAGE_SIZE};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::monitor::poll_wait;
use crate::network::{LoopHandle, MonitorMatches};
use crate::pipeline::Stages;
use crate::run::Runner;
use client::{AlertsInput, FortaClient, ScanNodes};
use defender_core::state::{Lease, Space, StateError, StateOp, StateStoreExt};
use defender_core::wire::iso8601;
use defender_core::{
    forta_severity_rank, FortaAlert, FortaMonitorDefinition, MatchReason, MatchReasonType,
    MonitorDefinition, MonitorMatch, MonitorSummary, MonitorType, FORTA_SEVERITIES,
};
use poll::FortaLoop;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Most alerts read in one poll of one monitor.
pub const MAX_ALERTS_PER_POLL: usize = 5_000;

/// How far behind the newest alert taken the API is asked again, for alerts it indexes late
/// (10 minutes).
pub const LATE_ALERTS_MS: i64 = 10 * 60 * 1000;

/// Most alert hashes a cursor remembers.
const MAX_SEEN: usize = 50_000;

/// The checkpoint key of a Forta monitor.
pub fn forta_checkpoint_key(monitor_id: &str) -> String {
    format!("forta/{monitor_id}")
}

/// Where a Forta monitor is in the alert stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    /// Alerts created at or before this (ms) are never taken: when the monitor started.
    start_ms: i64,
    /// The newest `createdAt` (ms) taken.
    newest_ms: i64,
    /// The hashes taken within [`LATE_ALERTS_MS`] of `newest_ms`, with their `createdAt`.
    seen: Vec<(String, i64)>,
}

impl Cursor {
    /// Alerts created after this are asked for.
    fn floor_ms(&self) -> i64 {
        self.start_ms
            .max(self.newest_ms.saturating_sub(LATE_ALERTS_MS))
    }
}

/// The engine's Forta monitors and the API they read.
#[derive(Debug)]
pub(crate) struct FortaMonitors {
    stages: Weak<Stages>,
    runner: Arc<Runner>,
    client: RwLock<Arc<FortaClient>>,
    monitors: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    def: Arc<FortaMonitorDefinition>,
    handle: Option<LoopHandle>,
}

impl FortaMonitors {
    pub(crate) fn new(stages: Weak<Stages>, runner: Arc<Runner>) -> Self {
        FortaMonitors {
            stages,
            runner,
            client: RwLock::new(Arc::new(FortaClient::new(FortaApi::default()))),
            monitors: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.monitors.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn client(&self) -> Arc<FortaClient> {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts the poll task of monitor `id` unless it runs or the monitor is paused.
    pub(crate) fn ensure_loop(&self, id: &str) {
        let mut monitors = self.lock();
        let Some(entry) = monitors.get_mut(id) else {
            return;
        };
        if entry.def.paused || entry.handle.as_ref().is_some_and(LoopHandle::is_running) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no tokio runtime: Forta monitors are not polled");
            return;
        };
        let Some(stages) = self.stages.upgrade() else {
            return;
        };
        let (stop, stopped) = watch::channel(false);
        let (lease, holding) = crate::lease::hold(
            stages.runner.state.clone(),
            format!("forta/{id}"),
            &stages.runner.cluster,
            stopped.clone(),
        );
        let poll = FortaLoop {
            lease,
            holding: Some(holding),
            id: id.to_owned(),
            def: entry.def.clone(),
            notify: Arc::new(notify_definition(&entry.def)),
            client: self.client(),
            stages: Arc::downgrade(&stages),
            stop: stopped,
            cursor: None,
        };
        let span = tracing::info_span!("forta_monitor", monitor_id = %id);
        let task = runtime.spawn(poll.run().instrument(span));
        entry.handle = Some(LoopHandle { task, stop });
        // The delivery workers, if the engine was built outside a runtime or shut down.
        stages.dispatcher.start();
    }

    /// Stops every poll task; returns them, each ending at its next stop point.
    pub(crate) fn stop_loops(&self) -> Vec<JoinHandle<()>> {
        self.lock()
            .values_mut()
            .filter_map(|e| e.handle.take())
            .map(LoopHandle::stop)
            .collect()
    }

    fn stop_one(&self, id: &str) {
        if let Some(h) = self.lock().get_mut(id).and_then(|e| e.handle.take()) {
            drop(h.stop());
        }
    }

    /// Writes the first cursor of a monitor that has none.
    async fn init_cursor(&self, id: &str, def: &FortaMonitorDefinition) -> Result<(), StateError> {
        let key = forta_checkpoint_key(id);
        let state = &self.runner.state;
        if state
            .get_json::<Cursor>(Space::CHECKPOINTS, &key)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let start_ms = def
            .forta_last_processed_time
            .as_deref()
            .and_then(|t| iso8601::parse(t).ok())
            .map(|t| t.timestamp_millis())
            .unwrap_or_else(|| self.runner.clock.now().timestamp_millis());
        let cursor = Cursor {
            start_ms,
            newest_ms: start_ms,
            seen: Vec::new(),
        };
        state
            .apply(vec![
                StateOp::expect(Space::CHECKPOINTS, key.clone(), None),
                StateOp::put_json(Space::CHECKPOINTS, key, &cursor)?,
            ])
            .await
            .or_else(|e| match e {
                // Another engine on the same state wrote it first: theirs stands.
                StateError::Conflict { .. } => Ok(()),
                e => Err(e),
            })
    }
}

impl Engine {
    /// Where Forta monitors read alerts (Forta's public API by default). Running poll tasks
    /// restart with it.
    pub fn set_forta_api(&self, api: FortaApi) {
        let service = self.forta_service();
        *service.client.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(FortaClient::new(api));
        let ids: Vec<String> = service.lock().keys().cloned().collect();
        for id in ids {
            service.stop_one(&id);
            service.ensure_loop(&id);
        }
    }

    /// The Forta API the engine reads.
    pub fn forta_api(&self) -> FortaApi {
        self.forta_service().client().api().clone()
    }

    /// Adds (or replaces) a Forta monitor and starts polling for its alerts unless it is
    /// paused. Its cursor, if the engine state has one for `id`, is kept (a restart resumes
    /// where it was); else it starts at `fortaLastProcessedTime` or now.
    pub async fn add_forta_monitor(
        &self,
        id: &str,
        def: FortaMonitorDefinition,
    ) -> Result<(), EngineError> {
        let invalid = |message: String| EngineError::InvalidMonitor {
            id: id.to_owned(),
            message,
        };
        if id.is_empty() || id.len() > 256 {
            return Err(invalid("a monitor id is 1 to 256 bytes".into()));
        }
        def.validate()
            .map_err(|errors| invalid(errors.join("; ")))?;
        if self.monitor(id).is_some() {
            return Err(invalid("a block monitor has this id".into()));
        }
        let service = self.forta_service();
        service.init_cursor(id, &def).await?;
        service.stop_one(id);
        service.lock().insert(
            id.to_owned(),
            Entry {
                def: Arc::new(def),
                handle: None,
            },
        );
        service.ensure_loop(id);
        Ok(())
    }

    /// Removes a Forta monitor and stops its polling; its cursor stays in the engine state.
    pub fn remove_forta_monitor(&self, id: &str) -> Result<(), EngineError> {
        let service = self.forta_service();
        service.stop_one(id);
        match service.lock().remove(id) {
            Some(_) => Ok(()),
            None => Err(EngineError::UnknownMonitor(id.to_owned())),
        }
    }

    /// Pauses (stops polling) or resumes a Forta monitor.
    pub fn set_forta_monitor_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        let service = self.forta_service();
        {
            let mut monitors = service.lock();
            let entry = monitors
                .get_mut(id)
                .ok_or_else(|| EngineError::UnknownMonitor(id.to_owned()))?;
            Arc::make_mut(&mut entry.def).paused = paused;
        }
        if paused {
            service.stop_one(id);
        } else {
            service.ensure_loop(id);
        }
        Ok(())
    }

    /// A Forta monitor's definition.
    pub fn forta_monitor(&self, id: &str) -> Option<Arc<FortaMonitorDefinition>> {
        self.forta_service().lock().get(id).map(|e| e.def.clone())
    }

    /// The ids of the Forta monitors.
    pub fn forta_monitor_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.forta_service().lock().keys().cloned().collect();
        ids.sort();
        ids
    }
}

/// The definition the shared stages read (channels, linked action, templates, threshold,
/// timeout, custom filter) of a Forta monitor.
fn notify_definition(def: &FortaMonitorDefinition) -> MonitorDefinition {
    // Read as a block monitor's (which `MonitorDefinition` is), then marked as Forta's.
    let value = serde_json::json!({
        "type": "BLOCK",
        "name": def.name,
        "network": def.network.clone().unwrap_or_default(),
        "addresses": def.addresses,
        "abi": def.abi,
        "paused": def.paused,
        "alertThreshold": def.alert_threshold,
        "alertTimeoutMs": def.alert_timeout_ms,
        "notificationChannels": def.notification_channels,
        "alertMessageSubject": def.alert_message_subject,
        "alertMessageBody": def.alert_message_body,
        "severityLevel": def.severity_level,
        "riskCategory": def.risk_category,
        "actionTrigger": def.action_trigger,
        "actionCondition": def.action_condition,
    });
    let def_of = serde_json::from_value::<MonitorDefinition>(value).map(|mut d| {
        d.kind = MonitorType::Forta;
        d
    });
    def_of.unwrap_or_else(|e| {
        // Every field above is one `MonitorDefinition` reads; should it refuse one, the
        // monitor still notifies its channels.
        tracing::warn!(error = %e, "Forta monitor settings not all carried over");
        MonitorDefinition {
            kind: MonitorType::Forta,
            name: def.name.clone(),
            network: def.network.clone().unwrap_or_default(),
            addresses: def.addresses.clone(),
            abi: None,
            paused: def.paused,
            confirm_level: None,
            event_conditions: Vec::new(),
            function_conditions: Vec::new(),
            tx_condition: None,
            alert_threshold: def.alert_threshold,
            alert_timeout_ms: def.alert_timeout_ms,
            notification_channels: def.notification_channels.clone(),
            alert_message_subject: def.alert_message_subject.clone(),
            alert_message_body: def.alert_message_body.clone(),
            severity_level: def.severity_level,
            risk_category: def.risk_category.clone(),
            action_trigger: def.action_trigger.clone(),
            action_condition: def.action_condition.clone(),
            workflow_trigger: None,
        }
    })
}

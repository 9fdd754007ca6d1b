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

/// What one poll did.
enum Poll {
    /// Alerts were read (and those taken dispatched); `more` when the API has more now.
    Read {
        more: bool,
    },
    Stopped,
}

/// The poll task of one Forta monitor.
struct FortaLoop {
    id: String,
    def: Arc<FortaMonitorDefinition>,
    notify: Arc<MonitorDefinition>,
    client: Arc<FortaClient>,
    stages: Weak<Stages>,
    stop: watch::Receiver<bool>,
    /// Loaded from the engine state at the first poll (and again on each new lease).
    cursor: Option<Cursor>,
    /// This monitor's lease (`forta/<id>`): only its holder polls, among the engines sharing
    /// the state.
    lease: crate::lease::Held,
    /// The task holding it, awaited when the loop ends.
    holding: Option<JoinHandle<()>>,
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Api(#[from] FortaError),
    #[error("engine state: {0}")]
    State(#[from] StateError),
}

impl FortaLoop {
    async fn run(mut self) {
        self.run_until_stopped().await;
        let holding = self.holding.take();
        // Dropping the lease's receiver ends the holding task, which releases the lease.
        drop(self);
        if let Some(h) = holding {
            let _ = h.await;
        }
    }

    async fn run_until_stopped(&mut self) {
        let interval = self.client.api().poll_interval;
        let mut failures: u32 = 0;
        let mut token = None;
        loop {
            // Leadership: on each new lease, resume at the shared cursor and gate state.
            let lease = match crate::lease::current(&self.lease) {
                Some(lease) => lease,
                None => tokio::select! {
                    _ = stopped(&mut self.stop) => return,
                    lease = crate::lease::acquired(&mut self.lease) => match lease {
                        Some(lease) => lease,
                        None => return,
                    },
                },
            };
            if token != Some(lease.token()) {
                token = Some(lease.token());
                self.cursor = None;
                if let Some(stages) = self.stages.upgrade() {
                    if let Err(e) = stages.gate.reload(&self.id).await {
                        tracing::warn!(error = %e, "alert-gate state not reloaded");
                    }
                }
            }
            match self.poll(&lease).await {
                Ok(Poll::Stopped) => return,
                Ok(Poll::Read { more }) => {
                    failures = 0;
                    if more {
                        tokio::task::yield_now().await;
                        continue;
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "Forta poll failed; retrying");
                    if matches!(&e, PollError::State(StateError::Conflict { space, .. }) if *space == Space::LEASES)
                    {
                        // Fenced off: another engine holds the lease now.
                        token = None;
                    }
                }
            }
            tokio::select! {
                _ = stopped(&mut self.stop) => return,
                _ = tokio::time::sleep(poll_wait(interval, failures)) => {}
            }
        }
    }

    /// One poll: read, check, dispatch, move the cursor.
    async fn poll(&mut self, lease: &Lease) -> Result<Poll, PollError> {
        let Some(stages) = self.stages.upgrade() else {
            return Ok(Poll::Stopped);
        };
        let state = stages.runner.state.clone();
        let key = forta_checkpoint_key(&self.id);
        let cursor = match self.cursor.clone() {
            Some(c) => c,
            None => {
                let c = state
                    .get_json::<Cursor>(Space::CHECKPOINTS, &key)
                    .await?
                    .unwrap_or_default();
                self.cursor = Some(c.clone());
                c
            }
        };
        let now_ms = stages.runner.clock.now().timestamp_millis();
        let def = self.def.clone();
        let mut input = query_of(&def, &cursor, now_ms);

        // Read every page (within the bound); a stop ends the poll here.
        let mut alerts: Vec<FortaAlert> = Vec::new();
        let mut more = false;
        loop {
            let page = tokio::select! {
                _ = stopped(&mut self.stop) => return Ok(Poll::Stopped),
                page = self.client.page(&input) => page?,
            };
            alerts.extend(page.alerts);
            match page.next {
                Some(next) if alerts.len() < MAX_ALERTS_PER_POLL => input.after = Some(next),
                Some(_) => {
                    tracing::warn!(
                        max = MAX_ALERTS_PER_POLL,
                        "more Forta alerts than one poll reads; the rest at the next polls"
                    );
                    more = true;
                    break;
                }
                None => break,
            }
        }

        let (taken, next_cursor) = take(&def, &cursor, alerts);
        if taken.is_empty() {
            return Ok(Poll::Read { more: false });
        }
        let matches: Vec<MonitorMatch> = taken
            .into_iter()
            .map(|(alert, _)| forta_match(&self.id, &def, alert))
            .collect();
        let group = MonitorMatches {
            id: self.id.clone(),
            def: self.notify.clone(),
            matches,
        };
        let admitted = tokio::select! {
            _ = stopped(&mut self.stop) => return Ok(Poll::Stopped),
            alerts = stages.admit(group) => alerts,
        };
        // From here the alerts are handled to the end, stop or not: owed and the cursor moved
        // in one batch.
        let mut owing = stages.dispatcher.owe(admitted).await?;
        owing
            .ops
            .push(StateOp::put_json(Space::CHECKPOINTS, key, &next_cursor)?);
        // Fenced: a former holder's late batch fails.
        owing.ops.push(lease.fence());
        state.apply(owing.ops).await?;
        self.cursor = Some(next_cursor);
        stages.dispatcher.owed(owing.pending);
        Ok(Poll::Read { more })
    }
}

/// The `alerts` query of a monitor from its cursor.
fn query_of(def: &FortaMonitorDefinition, cursor: &Cursor, now_ms: i64) -> AlertsInput {
    let chain_ids = def.chain_ids();
    let min = def.forta_conditions.severity.map(usize::from);
    // Asked a little further back than the floor: clocks differ; `take` drops what is older.
    let since = now_ms
        .saturating_sub(cursor.floor_ms())
        .saturating_add(60_000);
    AlertsInput {
        bots: def.agent_ids.clone(),
        alert_ids: def.forta_conditions.alert_ids.clone(),
        severities: min
            .map(|m| {
                FORTA_SEVERITIES
                    .iter()
                    .skip(m)
                    .map(|s| (*s).to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        addresses: def
            .addresses
            .iter()
            .map(|a| a.to_ascii_lowercase())
            .collect(),
        chain_id: (chain_ids.len() == 1).then(|| chain_ids[0]),
        created_since: u64::try_from(since).unwrap_or(0),
        scan_node_confirmations: (def.forta_conditions.minimum_scanner_count > 1).then(|| {
            ScanNodes {
                gte: def.forta_conditions.minimum_scanner_count,
                lte: u64::from(u32::MAX),
            }
        }),
        first: PAGE_SIZE,
        after: None,
    }
}

/// Whether an alert is one the monitor takes, whatever the API filtered.
fn selected(def: &FortaMonitorDefinition, alert: &FortaAlert) -> bool {
    let c = &def.forta_conditions;
    let bot = alert
        .source
        .bot
        .as_ref()
        .map_or(alert.source.agent.id.as_str(), |b| b.id.as_str());
    if !def.agent_ids.is_empty() && !def.agent_ids.iter().any(|b| b.eq_ignore_ascii_case(bot)) {
        return false;
    }
    if !c.alert_ids.is_empty() && !c.alert_ids.contains(&alert.alert_id) {
        return false;
    }
    if let Some(min) = c.severity {
        if forta_severity_rank(&alert.severity).is_none_or(|rank| rank < min) {
            return false;
        }
    }
    if alert.scan_node_count < c.minimum_scanner_count {
        return false;
    }
    let chains = def.chain_ids();
    if !chains.is_empty() && !chains.contains(&alert.source.block.chain_id) {
        return false;
    }
    if !def.addresses.is_empty()
        && !alert
            .addresses
            .iter()
            .any(|a| def.addresses.iter().any(|w| w.eq_ignore_ascii_case(a)))
    {
        return false;
    }
    true
}

/// The alerts to take, oldest first, each once, and the cursor after them.
fn take(
    def: &FortaMonitorDefinition,
    cursor: &Cursor,
    alerts: Vec<FortaAlert>,
) -> (Vec<(FortaAlert, i64)>, Cursor) {
    let floor = cursor.floor_ms();
    let mut seen: HashSet<String> = cursor.seen.iter().map(|(h, _)| h.clone()).collect();
    let mut taken: Vec<(FortaAlert, i64)> = Vec::new();
    for alert in alerts {
        let Some(created) = iso8601::parse(&alert.created_at)
            .ok()
            .map(|t| t.timestamp_millis())
        else {
            tracing::warn!(hash = %alert.hash, created_at = %alert.created_at, "Forta alert without a readable createdAt skipped");
            continue;
        };
        if created <= floor || !selected(def, &alert) {
            continue;
        }
        let hash = alert.hash.to_ascii_lowercase();
        if !seen.insert(hash) {
            continue;
        }
        taken.push((alert, created));
    }
    taken.sort_by(|(a, ta), (b, tb)| ta.cmp(tb).then_with(|| a.hash.cmp(&b.hash)));
    let newest = taken
        .iter()
        .map(|(_, t)| *t)
        .max()
        .unwrap_or(cursor.newest_ms)
        .max(cursor.newest_ms);
    let mut next = Cursor {
        start_ms: cursor.start_ms,
        newest_ms: newest,
        seen: cursor
            .seen
            .iter()
            .cloned()
            .chain(taken.iter().map(|(a, t)| (a.hash.to_ascii_lowercase(), *t)))
            .collect(),
    };
    let keep_after = next.floor_ms();
    next.seen.retain(|(_, t)| *t > keep_after);
    if next.seen.len() > MAX_SEEN {
        next.seen.sort_by_key(|(_, t)| *t);
        let excess = next.seen.len() - MAX_SEEN;
        next.seen.drain(..excess);
    }
    (taken, next)
}

/// Defender's Forta payload for one alert.
fn forta_match(id: &str, def: &FortaMonitorDefinition, alert: FortaAlert) -> MonitorMatch {
    let c = &def.forta_conditions;
    let mut reasons = Vec::new();
    let reason = |kind, value: &str| MatchReason {
        kind,
        signature: String::new(),
        condition: None,
        address: String::new(),
        args: Vec::new(),
        params: serde_json::Map::new(),
        value: Some(value.to_owned()),
    };
    if !c.alert_ids.is_empty() {
        reasons.push(reason(MatchReasonType::AlertId, &alert.alert_id));
    }
    if c.severity.is_some() {
        reasons.push(reason(MatchReasonType::Severity, &alert.severity));
    }
    let matched: Vec<&String> = def
        .addresses
        .iter()
        .filter(|w| alert.addresses.iter().any(|a| a.eq_ignore_ascii_case(w)))
        .collect();
    let checksummed = |a: &String| {
        a.parse::<alloy_primitives::Address>()
            .map(|a| a.to_checksum(None))
            .unwrap_or_else(|_| a.clone())
    };
    let chain_id = def
        .chain_ids()
        .first()
        .copied()
        .unwrap_or(alert.source.block.chain_id);
    let summary = MonitorSummary {
        id: id.to_owned(),
        name: def.name.clone(),
        network: def.network.clone().unwrap_or_default(),
        chain_id,
        addresses: def.addresses.clone(),
        abi: def
            .abi
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .map(Arc::new),
        confirm_blocks: Default::default(),
        address: None,
        severity_level: def.severity_level,
        risk_category: def.risk_category.clone(),
        agents: def.agent_ids.clone(),
    };
    let legacy = MonitorSummary {
        address: def.addresses.first().cloned(),
        ..summary.clone()
    };
    let block = &alert.source.block;
    let timestamp = block
        .timestamp
        .as_deref()
        .or(Some(alert.created_at.as_str()))
        .and_then(|t| iso8601::parse(t).ok())
        .and_then(|t| u64::try_from(t.timestamp()).ok())
        .unwrap_or_default();
    MonitorMatch {
        kind: MonitorType::Forta,
        hash: alert.hash.clone(),
        timestamp,
        block_number: if block.number > 0 {
            format!("{:#x}", block.number)
        } else {
            String::new()
        },
        block_hash: block.hash.clone(),
        transaction: Default::default(),
        alert: Some(Box::new(alert)),
        match_reasons: reasons,
        matched_addresses: matched.iter().map(|a| a.to_ascii_lowercase()).collect(),
        matched_checksum_addresses: matched.into_iter().map(checksummed).collect(),
        monitor: summary,
        sentinel: legacy,
        metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> FortaMonitorDefinition {
        serde_json::from_value(serde_json::json!({
            "type": "FORTA", "name": "f", "network": "mainnet", "agentIDs": ["0xBOT"],
            "fortaConditions": { "alertIDs": ["A"], "minimumScannerCount": 2, "severity": 3 },
            "notificationChannels": ["ops"]
        }))
        .unwrap()
    }

    fn alert(hash: &str, created: &str, severity: &str, scanners: u64) -> FortaAlert {
        serde_json::from_value(serde_json::json!({
            "alertId": "A", "hash": hash, "severity": severity, "createdAt": created,
            "scanNodeCount": scanners,
            "source": { "agent": { "id": "0xbot" }, "block": { "chainId": 1, "number": 3 } }
        }))
        .unwrap()
    }

    #[test]
    fn take_checks_every_condition_and_each_alert_once() {
        let start = iso8601::parse("2026-01-01T00:00:00Z")
            .unwrap()
            .timestamp_millis();
        let cursor = Cursor {
            start_ms: start,
            newest_ms: start,
            seen: Vec::new(),
        };
        let alerts = vec![
            alert("0x2", "2026-01-01T00:00:02Z", "HIGH", 2),
            alert("0x1", "2026-01-01T00:00:01Z", "MEDIUM", 3),
            alert("0x1", "2026-01-01T00:00:01Z", "MEDIUM", 3),
            alert("0x3", "2026-01-01T00:00:03Z", "LOW", 3),
            alert("0x4", "2026-01-01T00:00:04Z", "CRITICAL", 1),
            alert("0x0", "2025-12-31T23:59:59Z", "HIGH", 3),
        ];
        let (taken, next) = take(&def(), &cursor, alerts.clone());
        let hashes: Vec<&str> = taken.iter().map(|(a, _)| a.hash.as_str()).collect();
        assert_eq!(hashes, ["0x1", "0x2"]);
        assert_eq!(next.newest_ms, start + 2000);
        // The same answer again takes nothing.
        let (again, _) = take(&def(), &next, alerts);
        assert!(again.is_empty());
        let m = forta_match("m", &def(), taken[0].0.clone());
        let body = serde_json::to_value(&m).unwrap();
        assert_eq!(body["type"], "FORTA");
        assert!(body.get("transaction").is_none());
        assert_eq!(body["matchReasons"][0]["type"], "alert-id");
        assert_eq!(body["matchReasons"][1]["value"], "MEDIUM");
        assert_eq!(body["sentinel"]["agents"][0], "0xBOT");
        assert_eq!(body["alert"]["source"]["agent"]["id"], "0xbot");
        let back: MonitorMatch = serde_json::from_value(body).unwrap();
        assert_eq!(back, m);
    }
}

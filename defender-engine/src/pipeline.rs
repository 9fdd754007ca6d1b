//! The monitor path of the engine, top to bottom in one place.
//!
//! One task per network and confirmation level runs [`MonitorLoop::run`]; each turn of its
//! loop is [`MonitorLoop::step`], one block through every stage in order:
//!
//! 1. **block source**: the next block at the confirmation level, canonical
//!    ([`BlockCursor::next`]: confirmations, reorgs);
//! 2. **matcher**: the block against the network's monitors of that level ([`Matcher`]);
//! 3. **custom filter**: the monitor's filter action, if it has one, in batches of 25;
//! 4. **alert gate**: threshold and timeout ([`AlertGate`]);
//! 5. **dispatch**: each alert goes to its monitor's delivery queue (a task per monitor sends
//!    it to the notification channels) and the linked action starts in the background; neither
//!    is waited for, so a slow or dead channel or a long action never holds up blocks;
//! 6. **checkpoint**: [`BlockCursor::commit`].
//!
//! A stop (engine shutdown) ends the loop while it waits for a block or runs a custom filter,
//! never between dispatch and checkpoint: a block's alerts are dispatched and its checkpoint
//! written together, so a restart after a shutdown neither repeats nor skips them. The
//! delivery queues are in memory: alerts still queued when the process dies are lost, and a
//! process that dies between dispatch and checkpoint may send that block's alerts twice.
//!
//! State, one copy each: a monitor's definition and paused flag are in its network's
//! [`Matcher`]; the checkpoint is the [`BlockCursor`]'s; the alert gate's history and the
//! delivery queues are per monitor id here.

use crate::actions::Actions;
use crate::error::EngineError;
use crate::metrics::Metrics;
use crate::monitor::{
    log_poll_error, poll_wait, test_conditions, AlertGate, BlockCursor, Matcher,
    PlainAlertFormatter, StartAt, TestScope, WatchError, WatcherConfig,
};
use crate::run::{new_run_id, Runner};
use defender_core::{
    ActionRequest, AlertFormatter, Block, BlockSource, BlockTag, ConfirmLevel, MonitorDefinition,
    MonitorFilterRequest, MonitorFilterResponse, MonitorMatch, RunStatus, Trigger,
    MAX_FILTER_BATCH,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How a network's blocks are read.
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    /// The network's name, as monitor definitions write it (`mainnet`, `sepolia`...).
    pub name: String,
    /// Where its blocks come from.
    pub source: Arc<dyn BlockSource>,
    /// Where a watcher without a checkpoint starts.
    pub start: StartAt,
    /// Time between polls.
    pub poll_interval: Duration,
}

impl NetworkSpec {
    /// A network polled every 2 seconds, starting at the head on first run.
    pub fn new(name: impl Into<String>, source: Arc<dyn BlockSource>) -> Self {
        NetworkSpec {
            name: name.into(),
            source,
            start: StartAt::Head,
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// Bounds of alert delivery.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryLimits {
    /// Longest wait for one channel to take one alert.
    pub(crate) timeout: Duration,
    /// Alerts waiting per monitor; beyond, new alerts are dropped (and logged).
    pub(crate) queue: usize,
}

/// A network, its monitors and the tasks that watch it.
#[derive(Debug)]
struct Network {
    spec: NetworkSpec,
    chain_id: u64,
    /// The network's monitors: each one's definition (paused flag included), compiled. The
    /// engine keeps no other copy.
    monitors: RwLock<Matcher>,
    /// One [`MonitorLoop`] task per confirmation level in use. Dropping the network drops the
    /// stop senders, which stops the loops.
    loops: Mutex<HashMap<ConfirmLevel, LoopHandle>>,
}

/// A running [`MonitorLoop`]: its task and the sender that stops it.
#[derive(Debug)]
struct LoopHandle {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl LoopHandle {
    fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Asks the loop to stop; returns its task, which ends at the loop's next stop point.
    fn stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(true);
        self.task
    }
}

impl Network {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Matcher> {
        self.monitors.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Matcher> {
        self.monitors.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stage 2: the block's matches at `level`, grouped by monitor (in the order of their
    /// first match, each monitor's matches in transaction order), with the definition each
    /// monitor had when the block was matched.
    fn match_block(&self, block: &Block, level: ConfirmLevel) -> Vec<MonitorMatches> {
        let matcher = self.read();
        let mut out: Vec<MonitorMatches> = Vec::new();
        for m in matcher.match_block_at(block, level) {
            match out.iter_mut().find(|g| g.id == m.monitor.id) {
                Some(g) => g.matches.push(m),
                None => {
                    let Some(def) = matcher.definition(&m.monitor.id) else {
                        continue;
                    };
                    out.push(MonitorMatches {
                        id: m.monitor.id.clone(),
                        def,
                        matches: vec![m],
                    });
                }
            }
        }
        out
    }
}

/// One monitor's matches in one block.
struct MonitorMatches {
    id: String,
    def: Arc<MonitorDefinition>,
    matches: Vec<MonitorMatch>,
}

/// An alert that passed the gate: to be dispatched.
struct Alert {
    id: String,
    def: Arc<MonitorDefinition>,
    alert: Arc<MonitorMatch>,
}

/// What a monitor's delivery task is asked to do.
#[derive(Debug)]
enum Delivery {
    /// Send an alert to the monitor's channels.
    Alert {
        def: Arc<MonitorDefinition>,
        alert: Arc<MonitorMatch>,
    },
    /// Answer once everything queued before has been handled.
    Flush(oneshot::Sender<()>),
}

/// The engine's monitors: networks, the alert gate, delivery queues, and what the filter and
/// linked actions run on.
#[derive(Debug)]
pub(crate) struct Monitors {
    networks: RwLock<HashMap<String, Arc<Network>>>,
    gate: AlertGate,
    deliveries: Mutex<HashMap<String, mpsc::Sender<Delivery>>>,
    runner: Arc<Runner>,
    actions: Arc<Actions>,
    formatter: Option<Arc<dyn AlertFormatter>>,
    limits: DeliveryLimits,
}

impl Monitors {
    pub(crate) fn new(
        runner: Arc<Runner>,
        actions: Arc<Actions>,
        formatter: Option<Arc<dyn AlertFormatter>>,
        limits: DeliveryLimits,
    ) -> Self {
        Monitors {
            networks: RwLock::new(HashMap::new()),
            gate: AlertGate::new(runner.clock.clone()),
            deliveries: Mutex::new(HashMap::new()),
            runner,
            actions,
            formatter,
            limits,
        }
    }

    fn network(&self, name: &str) -> Option<Arc<Network>> {
        self.networks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn networks(&self) -> Vec<Arc<Network>> {
        self.networks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Adds (or replaces) a network; returns its chain id, read from the source.
    pub(crate) async fn add_network(&self, spec: NetworkSpec) -> Result<u64, EngineError> {
        let chain_id =
            spec.source
                .chain_id()
                .await
                .map_err(|source| EngineError::NetworkUnavailable {
                    network: spec.name.clone(),
                    source,
                })?;
        let network = Arc::new(Network {
            chain_id,
            monitors: RwLock::new(Matcher::new()),
            loops: Mutex::new(HashMap::new()),
            spec,
        });
        self.networks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(network.spec.name.clone(), network);
        Ok(chain_id)
    }

    /// Adds or replaces a monitor and starts the loop of its network and level.
    pub(crate) async fn add_monitor(
        self: &Arc<Self>,
        id: &str,
        def: MonitorDefinition,
    ) -> Result<(), EngineError> {
        let invalid = |message: String| EngineError::InvalidMonitor {
            id: id.to_owned(),
            message,
        };
        def.validate().map_err(|errors| {
            invalid(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let network = self
            .network(&def.network)
            .ok_or_else(|| invalid(format!("network `{}` has not been added", def.network)))?;
        let level = def.confirm_level.unwrap_or_default();
        network
            .write()
            .insert(id, &def, network.chain_id)
            .map_err(|source| EngineError::MonitorDefinition {
                id: id.to_owned(),
                source,
            })?;
        // A monitor moved to another network leaves the one it was on.
        for other in self.networks() {
            if other.spec.name != network.spec.name {
                other.write().remove(id);
            }
        }
        self.gate.forget(id);
        self.ensure_loop(&network, level).await;
        Ok(())
    }

    /// Removes a monitor. Alerts already queued for it are still delivered.
    pub(crate) fn remove_monitor(&self, id: &str) -> Result<(), EngineError> {
        let mut found = false;
        for n in self.networks() {
            found |= n.write().remove(id);
        }
        if !found {
            return Err(EngineError::UnknownMonitor(id.to_owned()));
        }
        self.gate.forget(id);
        // The delivery task ends once it has sent what is queued.
        self.deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        Ok(())
    }

    /// Pauses or resumes a monitor.
    pub(crate) async fn set_paused(
        self: &Arc<Self>,
        id: &str,
        paused: bool,
    ) -> Result<(), EngineError> {
        for n in self.networks() {
            let level = {
                let mut monitors = n.write();
                if !monitors.set_paused(id, paused) {
                    continue;
                }
                monitors
                    .definition(id)
                    .and_then(|d| d.confirm_level)
                    .unwrap_or_default()
            };
            if !paused {
                self.ensure_loop(&n, level).await;
            }
            return Ok(());
        }
        Err(EngineError::UnknownMonitor(id.to_owned()))
    }

    /// The ids of the monitors, sorted.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .networks()
            .iter()
            .flat_map(|n| n.read().ids().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Defender's "test conditions" tool over the definition's network.
    pub(crate) async fn test_conditions(
        &self,
        def: &MonitorDefinition,
        scope: TestScope,
    ) -> Result<Vec<MonitorMatch>, EngineError> {
        let invalid = |message: String| EngineError::InvalidMonitor {
            id: def.name.clone(),
            message,
        };
        let network = self
            .network(&def.network)
            .ok_or_else(|| invalid(format!("network `{}` has not been added", def.network)))?;
        test_conditions("test", def, network.spec.source.as_ref(), scope)
            .await
            .map_err(|source| EngineError::TestConditions {
                id: def.name.clone(),
                source,
            })
    }

    /// Starts the loop of a network and confirmation level unless it runs. Without a
    /// checkpoint, a new loop starts after the block that is the latest now, so that a monitor
    /// sees exactly the blocks mined after it was added.
    async fn ensure_loop(self: &Arc<Self>, network: &Arc<Network>, level: ConfirmLevel) {
        let running = |n: &Network| {
            n.loops
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&level)
                .is_some_and(LoopHandle::is_running)
        };
        if running(network) {
            return;
        }
        let start = match network.spec.start {
            StartAt::Head => match network.spec.source.head(BlockTag::Latest).await {
                Ok(latest) => StartAt::Block(latest + 1),
                Err(e) => {
                    tracing::warn!(error = %e, "head unavailable; the watcher starts at the head");
                    StartAt::Head
                }
            },
            at => at,
        };
        let mut loops = network.loops.lock().unwrap_or_else(|e| e.into_inner());
        if loops.get(&level).is_some_and(LoopHandle::is_running) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no tokio runtime: monitors are not watched");
            return;
        };
        let config = WatcherConfig {
            start,
            poll_interval: network.spec.poll_interval,
            ..WatcherConfig::new(network.spec.name.clone(), level)
        };
        let (stop, stopped) = watch::channel(false);
        let task = MonitorLoop {
            monitors: Arc::downgrade(self),
            stop: stopped,
            network: Arc::downgrade(network),
            level,
            poll_interval: network.spec.poll_interval,
            cursor: BlockCursor::new(network.spec.source.clone(), self.runner.kv.clone(), config),
        };
        let span =
            tracing::info_span!("monitor_watcher", network = %network.spec.name, level = ?level);
        let task = runtime.spawn(task.run().instrument(span));
        loops.insert(level, LoopHandle { task, stop });
    }

    /// Stops every monitor loop; returns their tasks, which end at the loops' next stop point
    /// (see the module's documentation).
    pub(crate) fn stop_loops(&self) -> Vec<JoinHandle<()>> {
        self.networks()
            .iter()
            .flat_map(|n| {
                n.loops
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .drain()
                    .map(|(_, h)| h.stop())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Waits until every alert queued so far has been sent (or has failed or timed out).
    pub(crate) async fn flush(&self) {
        let queues: Vec<mpsc::Sender<Delivery>> = self
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for queue in queues {
            let (done, wait) = oneshot::channel();
            if queue.send(Delivery::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Stages 3 to 5.

    /// Stages 3 (custom filter) and 4 (alert gate) for one monitor's matches in one block: the
    /// alerts to dispatch.
    async fn admit(&self, group: MonitorMatches) -> Vec<Alert> {
        let MonitorMatches { id, def, matches } = group;
        let matches = match &def.action_condition {
            Some(filter_id) => self.filter(filter_id, matches).await,
            None => matches,
        };
        self.runner.metrics.matched(&id, matches.len() as u64);
        let mut alerts = Vec::new();
        for m in matches {
            tracing::info!(tx = %m.hash, "monitor matched");
            if !self.gate.admit_def(&id, &def) {
                tracing::debug!(tx = %m.hash, "alert held back by threshold or timeout");
                continue;
            }
            alerts.push(Alert {
                id: id.clone(),
                def: def.clone(),
                alert: Arc::new(m),
            });
        }
        alerts
    }

    /// Stage 3: asks the custom filter action which matches to keep, in batches of at most
    /// 25. A failed run or an unexpected answer keeps nothing, as in Defender.
    async fn filter(&self, filter_id: &str, matches: Vec<MonitorMatch>) -> Vec<MonitorMatch> {
        let Some(entry) = self.actions.get(filter_id) else {
            tracing::warn!(
                filter_id,
                "monitor's filter action does not exist; nothing kept"
            );
            return Vec::new();
        };
        let mut kept = Vec::new();
        for batch in matches.chunks(MAX_FILTER_BATCH) {
            let body = match serde_json::to_value(MonitorFilterRequest {
                events: batch.to_vec(),
            }) {
                Ok(b) => b,
                Err(_) => continue,
            };
            let request = ActionRequest {
                body: Some(body),
                ..Default::default()
            };
            let run = self
                .runner
                .execute(&entry, Trigger::MonitorFilter, Some(request), new_run_id())
                .await;
            if run.status != RunStatus::Success {
                continue;
            }
            let answer = run
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .map(|v| MonitorFilterResponse::from_result(&v))
                .unwrap_or_default();
            let wanted: HashMap<String, Option<serde_json::Value>> = answer
                .matches
                .into_iter()
                .map(|f| (f.hash.to_ascii_lowercase(), f.metadata))
                .collect();
            for m in batch {
                if let Some(metadata) = wanted.get(&m.hash.to_ascii_lowercase()) {
                    let mut m = m.clone();
                    if metadata.is_some() {
                        m.metadata = metadata.clone();
                    }
                    kept.push(m);
                }
            }
        }
        kept
    }

    /// Stage 5: the alert to its monitor's delivery queue, the linked action started. Returns
    /// at once.
    fn dispatch(&self, Alert { id, def, alert }: Alert) {
        if let Some(action_id) = &def.action_trigger {
            self.trigger_action(action_id, &alert);
        }
        if !def.notification_channels.is_empty() {
            self.enqueue(&id, Delivery::Alert { def, alert });
        }
    }

    /// Puts an alert in the monitor's delivery queue, starting its delivery task if needed. A
    /// full queue (its channels are slower than its alerts) drops the alert, logged and counted
    /// as failed, rather than hold up blocks.
    fn enqueue(&self, id: &str, job: Delivery) {
        let mut queues = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        let mut job = job;
        for _ in 0..2 {
            let queue = queues
                .entry(id.to_owned())
                .or_insert_with(|| self.spawn_delivery(id));
            match queue.try_send(job) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(Delivery::Alert { def, alert })) => {
                    tracing::error!(
                        monitor_id = id,
                        tx = %alert.hash,
                        capacity = self.limits.queue,
                        "alert dropped: the monitor's delivery queue is full"
                    );
                    for alias in &def.notification_channels {
                        self.runner.metrics.notification(alias, false);
                    }
                    return;
                }
                Err(mpsc::error::TrySendError::Full(_)) => return,
                Err(mpsc::error::TrySendError::Closed(back)) => {
                    // The delivery task is gone (it panicked): start another one.
                    queues.remove(id);
                    job = back;
                }
            }
        }
    }

    fn spawn_delivery(&self, id: &str) -> mpsc::Sender<Delivery> {
        let (tx, rx) = mpsc::channel(self.limits.queue.max(1));
        let worker = DeliveryTask {
            runner: self.runner.clone(),
            formatter: self.formatter.clone(),
            timeout: self.limits.timeout,
        };
        let span = tracing::info_span!("monitor_delivery", monitor_id = %id);
        tokio::spawn(worker.run(rx).instrument(span));
        tx
    }

    /// Runs the linked action with the match as `request.body`, in the background: a slow
    /// action does not hold up monitoring. The run is in the action's history.
    fn trigger_action(&self, action_id: &str, m: &MonitorMatch) {
        let Some(entry) = self.actions.get(action_id) else {
            tracing::warn!(action_id, "monitor triggers an action that does not exist");
            return;
        };
        if entry.is_paused() {
            return;
        }
        let body = match serde_json::to_value(m) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "match not serializable");
                return;
            }
        };
        let runner = self.runner.clone();
        tokio::spawn(async move {
            let request = ActionRequest {
                body: Some(body),
                ..Default::default()
            };
            runner
                .execute(&entry, Trigger::Monitor, Some(request), new_run_id())
                .await;
        });
    }
}

/// What one turn of a [`MonitorLoop`] did.
enum Step {
    /// A block went through every stage.
    Handled,
    /// No block is ready yet.
    CaughtUp,
    /// The loop was stopped, or the engine or the network is gone.
    Stopped,
}

/// The loop of one network and confirmation level.
struct MonitorLoop {
    monitors: Weak<Monitors>,
    /// Turns true (or its sender is dropped) when the loop is to stop.
    stop: watch::Receiver<bool>,
    network: Weak<Network>,
    level: ConfirmLevel,
    poll_interval: Duration,
    cursor: BlockCursor,
}

/// Completes once `stop` turns true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl MonitorLoop {
    /// Handles blocks as they come; after a failure the wait doubles, up to 60 seconds.
    /// Errors never stop the loop, and the checkpoint only moves after a block went through
    /// every stage, so nothing is skipped while failing.
    async fn run(mut self) {
        let mut failures: u32 = 0;
        loop {
            match self.step().await {
                Ok(Step::Handled) => {
                    failures = 0;
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(Step::CaughtUp) => failures = 0,
                Ok(Step::Stopped) => return,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    log_poll_error(&self.cursor.config().network, &e);
                }
            }
            tokio::select! {
                _ = stopped(&mut self.stop) => return,
                _ = tokio::time::sleep(poll_wait(self.poll_interval, failures)) => {}
            }
        }
    }

    /// One block through the monitor path.
    async fn step(&mut self) -> Result<Step, WatchError> {
        let (Some(monitors), Some(network)) = (self.monitors.upgrade(), self.network.upgrade())
        else {
            return Ok(Step::Stopped);
        };
        let Self {
            stop,
            cursor,
            level,
            ..
        } = self;

        // 1. Block source: the next block at this confirmation level, still canonical.
        let block = tokio::select! {
            _ = stopped(stop) => return Ok(Step::Stopped),
            block = cursor.next() => block?,
        };
        let Some(block) = block else {
            return Ok(Step::CaughtUp);
        };
        if Metrics::ENABLED {
            if let Ok(head) = cursor.source().head(BlockTag::Latest).await {
                let lag = head.saturating_sub(block.header.number);
                monitors.runner.metrics.block_lag(&network.spec.name, lag);
            }
        }

        // 2. Matcher: each monitor's matches, with its definition.
        let matched = network.match_block(&block, *level);

        // 3. Custom filter and 4. alert gate, per monitor in order: the alerts to send.
        let admitted = async {
            let mut alerts = Vec::new();
            for group in matched {
                let span = tracing::info_span!("monitor_match", monitor_id = %group.id, block = block.header.number);
                alerts.extend(monitors.admit(group).instrument(span).await);
            }
            alerts
        };
        let alerts = tokio::select! {
            _ = stopped(stop) => return Ok(Step::Stopped),
            alerts = admitted => alerts,
        };

        // From here the block is handled to the end, stop or not.
        // 5. Dispatch: to the delivery queues and the linked actions, without waiting.
        for alert in alerts {
            monitors.dispatch(alert);
        }

        // 6. Checkpoint.
        cursor.commit(&block.header).await?;
        Ok(Step::Handled)
    }
}

/// Sends a monitor's alerts to its channels, one alert at a time, in order.
struct DeliveryTask {
    runner: Arc<Runner>,
    formatter: Option<Arc<dyn AlertFormatter>>,
    timeout: Duration,
}

impl DeliveryTask {
    /// Ends once the queue is closed (the monitor was removed, or the engine is gone) and
    /// empty.
    async fn run(self, mut queue: mpsc::Receiver<Delivery>) {
        while let Some(job) = queue.recv().await {
            match job {
                Delivery::Alert { def, alert } => self.notify(&def, &alert).await,
                Delivery::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Renders the alert and sends it to each of the monitor's channels, concurrently, each
    /// within the delivery timeout.
    async fn notify(&self, def: &MonitorDefinition, alert: &Arc<MonitorMatch>) {
        let formatter: &dyn AlertFormatter = match &self.formatter {
            Some(f) => f.as_ref(),
            None => &PlainAlertFormatter,
        };
        let mut message = match formatter.format(
            alert,
            def.alert_message_subject.as_deref(),
            def.alert_message_body.as_deref(),
        ) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(error = %e, "alert template failed; sending the default text");
                match PlainAlertFormatter.format(alert, None, None) {
                    Ok(message) => message,
                    Err(_) => return,
                }
            }
        };
        message.alert = Some(alert.clone());
        let message = &message;
        let sends = def.notification_channels.iter().map(|alias| async move {
            let sent =
                tokio::time::timeout(self.timeout, self.runner.notifiers.send(alias, message))
                    .await;
            let metrics = &self.runner.metrics;
            match sent {
                Ok(Ok(report)) => {
                    for (channel, result) in &report.results {
                        if let Err(e) = result {
                            tracing::warn!(alias = %alias, channel = %channel, error = %e, "notification failed");
                        }
                        metrics.notification(alias, result.is_ok());
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(alias = %alias, error = %e, "notification not sent");
                    metrics.notification(alias, false);
                }
                Err(_) => {
                    tracing::warn!(
                        alias = %alias,
                        timeout_ms = self.timeout.as_millis() as u64,
                        "notification timed out"
                    );
                    metrics.notification(alias, false);
                }
            }
        });
        futures::future::join_all(sends).await;
    }
}

//! Monitors in the engine: networks with their block watchers, and what happens to a match
//! (custom filter, alert threshold and timeout, notifications, the linked action).

use super::actions::{execute, new_run_id};
use super::alerts::PlainAlertFormatter;
use super::{Engine, EngineError, Inner};
use crate::monitor::{
    test_conditions, AlertGate, BlockWatcher, MatchSink, Matcher, StartAt, TestScope, WatchError,
    WatcherConfig,
};
use crate::wire::{
    ActionRequest, ConfirmLevel, MonitorDefinition, MonitorFilterRequest, MonitorFilterResponse,
    MonitorMatch, RunStatus, Trigger, MAX_FILTER_BATCH,
};
use crate::{AlertFormatter, BlockRef, BlockSource, BlockTag};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
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

#[derive(Debug)]
pub(crate) struct Network {
    spec: NetworkSpec,
    chain_id: u64,
    matcher: Arc<RwLock<Matcher>>,
    watchers: std::sync::Mutex<HashMap<ConfirmLevel, JoinHandle<()>>>,
}

impl Drop for Network {
    fn drop(&mut self) {
        for (_, h) in self
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            h.abort();
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Monitors {
    networks: RwLock<HashMap<String, Arc<Network>>>,
    definitions: RwLock<HashMap<String, MonitorDefinition>>,
    gate: RwLock<Option<Arc<AlertGate>>>,
}

impl Monitors {
    fn gate(&self, inner: &Inner) -> Arc<AlertGate> {
        let mut g = self.gate.write().unwrap_or_else(|e| e.into_inner());
        g.get_or_insert_with(|| Arc::new(AlertGate::new(inner.clock.clone())))
            .clone()
    }

    fn definition(&self, id: &str) -> Option<MonitorDefinition> {
        self.definitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn network(&self, name: &str) -> Option<Arc<Network>> {
        self.networks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

impl Engine {
    /// Adds a network that monitors can watch. Its chain id is read from the source.
    pub async fn add_network(&self, spec: NetworkSpec) -> Result<u64, EngineError> {
        let chain_id = spec
            .source
            .chain_id()
            .await
            .map_err(|e| EngineError::InvalidMonitor {
                id: spec.name.clone(),
                message: format!("network unavailable: {e}"),
            })?;
        let network = Arc::new(Network {
            chain_id,
            matcher: Arc::new(RwLock::new(Matcher::new())),
            watchers: std::sync::Mutex::new(HashMap::new()),
            spec,
        });
        self.inner
            .monitors
            .networks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(network.spec.name.clone(), network);
        Ok(chain_id)
    }

    /// Adds a monitor from Defender's definition JSON, or replaces the monitor with this id.
    /// Its network must have been added. The monitor sees every block mined after this call
    /// returns (and, when its network already has a checkpoint for its confirmation level,
    /// every block after that checkpoint).
    pub async fn add_monitor(&self, id: &str, def: MonitorDefinition) -> Result<(), EngineError> {
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
            .inner
            .monitors
            .network(&def.network)
            .ok_or_else(|| invalid(format!("network `{}` has not been added", def.network)))?;
        network
            .matcher
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, &def, network.chain_id)
            .map_err(|e| invalid(e.to_string()))?;
        let level = def.confirm_level.unwrap_or_default();
        self.inner.monitors.gate(&self.inner).forget(id);
        self.inner
            .monitors
            .definitions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), def);
        self.ensure_watcher(&network, level).await;
        Ok(())
    }

    /// Removes a monitor.
    pub fn remove_monitor(&self, id: &str) -> Result<(), EngineError> {
        let def = self
            .inner
            .monitors
            .definitions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .ok_or_else(|| EngineError::UnknownMonitor(id.to_owned()))?;
        if let Some(n) = self.inner.monitors.network(&def.network) {
            n.matcher
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        }
        self.inner.monitors.gate(&self.inner).forget(id);
        Ok(())
    }

    /// Pauses or resumes a monitor: a paused monitor matches nothing.
    pub async fn set_monitor_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        let (network, level) = {
            let mut defs = self
                .inner
                .monitors
                .definitions
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let def = defs
                .get_mut(id)
                .ok_or_else(|| EngineError::UnknownMonitor(id.to_owned()))?;
            def.paused = paused;
            (def.network.clone(), def.confirm_level.unwrap_or_default())
        };
        if let Some(n) = self.inner.monitors.network(&network) {
            n.matcher
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .set_paused(id, paused);
            if !paused {
                self.ensure_watcher(&n, level).await;
            }
        }
        Ok(())
    }

    /// The ids of the monitors, sorted.
    pub fn monitor_ids(&self) -> Vec<String> {
        super::sorted_keys(&self.inner.monitors.definitions)
    }

    /// Defender's "test conditions" tool: the matches a definition would produce over recent
    /// blocks, one block or one transaction of its network. Nothing is notified.
    pub async fn test_monitor_conditions(
        &self,
        def: &MonitorDefinition,
        scope: TestScope,
    ) -> Result<Vec<MonitorMatch>, EngineError> {
        let network = self.inner.monitors.network(&def.network).ok_or_else(|| {
            EngineError::InvalidMonitor {
                id: def.name.clone(),
                message: format!("network `{}` has not been added", def.network),
            }
        })?;
        test_conditions("test", def, network.spec.source.as_ref(), scope)
            .await
            .map_err(|e| EngineError::InvalidMonitor {
                id: def.name.clone(),
                message: e.to_string(),
            })
    }

    /// Starts the watcher of a network and confirmation level unless it runs. Without a
    /// checkpoint, a new watcher starts after the block that is the latest now, so that a
    /// monitor sees exactly the blocks mined after it was added.
    async fn ensure_watcher(&self, network: &Arc<Network>, level: ConfirmLevel) {
        let running = |n: &Network| {
            n.watchers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&level)
                .is_some_and(|h| !h.is_finished())
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
        let mut watchers = network.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if watchers.get(&level).is_some_and(|h| !h.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no tokio runtime: monitors are not watched");
            return;
        };
        let sink = Arc::new(EngineSink {
            inner: Arc::downgrade(&self.inner),
            network: network.spec.name.clone(),
            source: network.spec.source.clone(),
            marker_key: format!(
                "{}/delivered",
                crate::monitor::checkpoint_key(&network.spec.name, level)
            ),
        });
        let config = WatcherConfig {
            start,
            poll_interval: network.spec.poll_interval,
            ..WatcherConfig::new(network.spec.name.clone(), level)
        };
        let watcher = BlockWatcher::new(
            network.spec.source.clone(),
            network.matcher.clone(),
            self.inner.kv.clone(),
            sink,
            config,
        );
        let span =
            tracing::info_span!("monitor_watcher", network = %network.spec.name, level = ?level);
        let handle = runtime.spawn(
            async move {
                if let Err(e) = watcher.run(std::future::pending()).await {
                    tracing::error!(error = %e, "monitor watcher stopped");
                }
            }
            .instrument(span),
        );
        watchers.insert(level, handle);
    }

    pub(crate) fn take_watchers(&self) -> Vec<JoinHandle<()>> {
        let networks = self
            .inner
            .monitors
            .networks
            .read()
            .unwrap_or_else(|e| e.into_inner());
        networks
            .values()
            .flat_map(|n| {
                n.watchers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .drain()
                    .map(|(_, h)| h)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Receives each block's matches from a watcher and acts on them.
#[derive(Debug)]
struct EngineSink {
    inner: Weak<Inner>,
    network: String,
    source: Arc<dyn BlockSource>,
    /// Key of the last block this sink finished, so that a block redelivered after a crash
    /// between the sink's success and the checkpoint write is not notified twice.
    marker_key: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the engine is gone")]
struct EngineGone;

#[async_trait]
impl MatchSink for EngineSink {
    async fn on_block(
        &self,
        block: &BlockRef,
        matches: Vec<MonitorMatch>,
    ) -> Result<(), WatchError> {
        let inner = self
            .inner
            .upgrade()
            .ok_or_else(|| WatchError::sink(EngineGone))?;
        let marker = format!("{}:{}", block.number, block.hash);
        if inner.kv.get(&self.marker_key).await?.as_deref() == Some(marker.as_str()) {
            return Ok(());
        }
        if let Ok(head) = self.source.head(BlockTag::Latest).await {
            inner
                .metrics
                .block_lag(&self.network, head.saturating_sub(block.number));
        }
        // Matches of one monitor stay together and in order.
        let mut by_monitor: Vec<(String, Vec<MonitorMatch>)> = Vec::new();
        for m in matches {
            match by_monitor.iter_mut().find(|(id, _)| *id == m.monitor.id) {
                Some((_, list)) => list.push(m),
                None => by_monitor.push((m.monitor.id.clone(), vec![m])),
            }
        }
        for (monitor_id, list) in by_monitor {
            let Some(def) = inner.monitors.definition(&monitor_id) else {
                continue;
            };
            if def.paused {
                continue;
            }
            let span = tracing::info_span!("monitor_match", monitor_id = %monitor_id, block = block.number);
            handle_monitor_matches(&inner, &monitor_id, &def, list)
                .instrument(span)
                .await;
        }
        inner.kv.put(&self.marker_key, &marker).await?;
        Ok(())
    }
}

async fn handle_monitor_matches(
    inner: &Arc<Inner>,
    monitor_id: &str,
    def: &MonitorDefinition,
    matches: Vec<MonitorMatch>,
) {
    let matches = match &def.action_condition {
        Some(filter_id) => apply_filter(inner, filter_id, matches).await,
        None => matches,
    };
    inner.metrics.matched(monitor_id, matches.len() as u64);
    let gate = inner.monitors.gate(inner);
    for m in matches {
        tracing::info!(tx = %m.hash, "monitor matched");
        if !gate.admit_def(monitor_id, def) {
            tracing::debug!(tx = %m.hash, "alert held back by threshold or timeout");
            continue;
        }
        let m = Arc::new(m);
        notify(inner, def, &m).await;
        if let Some(action_id) = &def.action_trigger {
            trigger_action(inner, action_id, &m);
        }
    }
}

async fn notify(inner: &Inner, def: &MonitorDefinition, m: &Arc<MonitorMatch>) {
    if def.notification_channels.is_empty() {
        return;
    }
    let formatter: &dyn AlertFormatter = match &inner.formatter {
        Some(f) => f.as_ref(),
        None => &PlainAlertFormatter,
    };
    let mut message = match formatter.format(
        m,
        def.alert_message_subject.as_deref(),
        def.alert_message_body.as_deref(),
    ) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(error = %e, "alert template failed; sending the default text");
            match PlainAlertFormatter.format(m, None, None) {
                Ok(message) => message,
                Err(_) => return,
            }
        }
    };
    message.alert = Some(m.clone());
    for alias in &def.notification_channels {
        match inner.notifiers.send(alias, &message).await {
            Ok(report) => {
                for (channel, result) in &report.results {
                    if let Err(e) = result {
                        tracing::warn!(alias = %alias, channel = %channel, error = %e, "notification failed");
                    }
                    inner.metrics.notification(alias, result.is_ok());
                }
            }
            Err(e) => {
                tracing::warn!(alias = %alias, error = %e, "notification not sent");
                inner.metrics.notification(alias, false);
            }
        }
    }
}

/// Runs the linked action with the match as `request.body`, in the background: a slow action
/// does not hold up monitoring. The run is in the action's history.
fn trigger_action(inner: &Arc<Inner>, action_id: &str, m: &MonitorMatch) {
    let entry = inner
        .actions
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(action_id)
        .cloned();
    let Some(entry) = entry else {
        tracing::warn!(action_id, "monitor triggers an action that does not exist");
        return;
    };
    if entry.paused.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let body = match serde_json::to_value(m) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "match not serializable");
            return;
        }
    };
    let inner = inner.clone();
    tokio::spawn(async move {
        let request = ActionRequest {
            body: Some(body),
            ..Default::default()
        };
        execute(
            &inner,
            &entry,
            Trigger::Monitor,
            Some(request),
            new_run_id(),
        )
        .await;
    });
}

/// Asks the custom filter action which matches to keep, in batches of at most 25. A failed
/// run or an unexpected answer keeps nothing, as in Defender.
async fn apply_filter(
    inner: &Arc<Inner>,
    filter_id: &str,
    matches: Vec<MonitorMatch>,
) -> Vec<MonitorMatch> {
    let entry = inner
        .actions
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(filter_id)
        .cloned();
    let Some(entry) = entry else {
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
        let run = execute(
            inner,
            &entry,
            Trigger::MonitorFilter,
            Some(request),
            new_run_id(),
        )
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

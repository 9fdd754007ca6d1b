//! The registry of networks and monitors: adding networks; adding, replacing, removing,
//! pausing and resuming monitors; testing conditions; and the monitor loops' lifecycle, one
//! per network and confirmation level in use, started when a monitor needs it and stopped at
//! shutdown. What the loops do with each block is in [`pipeline`](crate::pipeline).

use crate::actions::Actions;
use crate::delivery::DeliveryLimits;
use crate::error::EngineError;
use crate::monitor::{
    checkpoint_key, test_conditions, BlockCursor, StartAt, TestScope, WatcherConfig,
};
use crate::network::{LoopHandle, Network, NetworkSpec};
use crate::outbox::DeadLetter;
use crate::pipeline::{MonitorLoop, Stages};
use crate::run::Runner;
use defender_core::{AlertFormatter, BlockTag, ConfirmLevel, MonitorDefinition, MonitorMatch};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The engine's monitors: networks, and what the monitor path runs on (the alert gate, the
/// outbox and its delivery workers, and what the filter and linked actions run on).
#[derive(Debug)]
pub(crate) struct Monitors {
    networks: RwLock<HashMap<String, Arc<Network>>>,
    /// Held weakly by the loops, which stop once it is gone.
    stages: Arc<Stages>,
}

impl Monitors {
    pub(crate) fn new(
        runner: Arc<Runner>,
        actions: Arc<Actions>,
        formatter: Option<Arc<dyn AlertFormatter>>,
        limits: DeliveryLimits,
    ) -> Self {
        let stages = Stages::new(runner, actions, formatter, limits);
        stages.gate.attach_store(stages.runner.state.clone());
        Monitors {
            networks: RwLock::new(HashMap::new()),
            stages: Arc::new(stages),
        }
    }

    /// The stages the monitor loops share, for other alert sources (Forta monitors).
    pub(crate) fn stages(&self) -> std::sync::Weak<Stages> {
        Arc::downgrade(&self.stages)
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
        let network = Arc::new(Network::new(spec, chain_id));
        self.networks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(network.spec.name.clone(), network);
        Ok(chain_id)
    }

    /// Adds or replaces a monitor and starts the loop of its network and level.
    pub(crate) async fn add_monitor(
        &self,
        id: &str,
        def: MonitorDefinition,
    ) -> Result<(), EngineError> {
        let (network, level) = self.insert_monitor(id, def).await?;
        self.ensure_loop(&network, level).await;
        Ok(())
    }

    /// Adds monitors, all of them before any of their loops starts, so that the blocks a loop
    /// replays from its checkpoint after a restart are matched against every monitor. Stops
    /// at the first invalid one: those before it are added and watched.
    pub(crate) async fn add_monitors(
        &self,
        monitors: impl IntoIterator<Item = (String, MonitorDefinition)>,
    ) -> Result<(), EngineError> {
        let mut loops: Vec<(Arc<Network>, ConfirmLevel)> = Vec::new();
        let mut failure = None;
        for (id, def) in monitors {
            match self.insert_monitor(&id, def).await {
                Ok((network, level)) => {
                    if !loops
                        .iter()
                        .any(|(n, l)| Arc::ptr_eq(n, &network) && *l == level)
                    {
                        loops.push((network, level));
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        for (network, level) in &loops {
            self.ensure_loop(network, *level).await;
        }
        failure.map_or(Ok(()), Err)
    }

    /// Validates a monitor and puts it in its network's matcher (and its alert-gate history
    /// in the gate), without starting a loop: its network and confirmation level.
    async fn insert_monitor(
        &self,
        id: &str,
        def: MonitorDefinition,
    ) -> Result<(Arc<Network>, ConfirmLevel), EngineError> {
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
        let replaced = self.definition(id).is_some();
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
        // A redefined monitor starts its alert history over; a monitor added again after a
        // restart continues the one the engine state keeps.
        if replaced {
            self.stages.gate.forget(id);
        } else if let Err(e) = self.stages.gate.load(id).await {
            tracing::warn!(monitor_id = id, error = %e, "alert-gate state unreadable; started over");
        }
        Ok((network, level))
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
        self.stages.gate.forget(id);
        // What its alerts owe stays in the outbox and is still delivered.
        Ok(())
    }

    /// Pauses or resumes a monitor.
    pub(crate) async fn set_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
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

    /// A monitor's definition, with its current `paused` flag.
    pub(crate) fn definition(&self, id: &str) -> Option<Arc<MonitorDefinition>> {
        self.networks().iter().find_map(|n| n.read().definition(id))
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
    async fn ensure_loop(&self, network: &Arc<Network>, level: ConfirmLevel) {
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
        let (lease, holding) = crate::lease::hold(
            self.stages.runner.state.clone(),
            format!("monitor/{}", checkpoint_key(&network.spec.name, level)),
            &self.stages.runner.cluster,
            stopped.clone(),
        );
        let task = MonitorLoop {
            lease,
            holding: Some(holding),
            writing: None,
            stages: Arc::downgrade(&self.stages),
            stop: stopped,
            network: Arc::downgrade(network),
            level,
            poll_interval: network.spec.poll_interval,
            cursor: BlockCursor::new(
                network.spec.source.clone(),
                self.stages.runner.state.clone(),
                config,
            )
            .with_legacy_kv(self.stages.runner.kv.clone()),
        };
        let span =
            tracing::info_span!("monitor_watcher", network = %network.spec.name, level = ?level);
        let task = runtime.spawn(task.run().instrument(span));
        loops.insert(level, LoopHandle { task, stop });
        // The delivery workers, if the engine was built outside a runtime or shut down.
        self.stages.dispatcher.start();
    }

    /// Stops every monitor loop and the delivery workers; returns their tasks, which end at
    /// the loops' next stop point (see [`pipeline`](crate::pipeline)) and once the deliveries
    /// under way have ended.
    pub(crate) fn stop_loops(&self) -> Vec<JoinHandle<()>> {
        let workers = self.stages.dispatcher.stop();
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
            .chain(workers)
            .collect()
    }

    /// The dead letters of the outbox.
    pub(crate) async fn dead_letters(&self) -> Result<Vec<DeadLetter>, EngineError> {
        Ok(self.stages.dispatcher.dead_letters().await?)
    }

    /// Owes the dead deliveries of dead letter `id` again; returns how many.
    pub(crate) async fn replay_dead_letter(&self, id: &str) -> Result<usize, EngineError> {
        match self.stages.dispatcher.replay(id).await? {
            0 => Err(EngineError::UnknownDeadLetter(id.to_owned())),
            n => Ok(n),
        }
    }

    /// Waits until every alert queued so far has been sent (or has failed or timed out).
    pub(crate) async fn flush(&self) {
        self.stages.dispatcher.flush().await;
        if let Err(e) = self.stages.gate.flush().await {
            tracing::warn!(error = %e, "alert-gate state not saved");
        }
    }

    /// Writes the alert gate's last changes and stops its writer (at shutdown).
    pub(crate) async fn close_gate(&self) {
        self.stages.gate.close().await;
    }
}

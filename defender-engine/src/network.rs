//! The networks monitors watch: how a network's blocks are read ([`NetworkSpec`]), its
//! monitors, compiled in one [`Matcher`] (the only copy of each monitor's definition and paused
//! flag), and the handles of the loops that watch it; and stage 2 of the monitor path,
//! matching a block against the network's monitors ([`Network::match_block`]).

use crate::monitor::{Matcher, StartAt};
use defender_core::{Block, BlockSource, ConfirmLevel, MonitorDefinition, MonitorMatch};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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

/// A network, its monitors and the tasks that watch it.
#[derive(Debug)]
pub(crate) struct Network {
    pub(crate) spec: NetworkSpec,
    pub(crate) chain_id: u64,
    /// The network's monitors: each one's definition (paused flag included), compiled. The
    /// engine keeps no other copy.
    monitors: RwLock<Matcher>,
    /// One [`MonitorLoop`](crate::pipeline::MonitorLoop) task per confirmation level in use.
    /// Dropping the network drops the stop senders, which stops the loops.
    pub(crate) loops: Mutex<HashMap<ConfirmLevel, LoopHandle>>,
}

/// A running [`MonitorLoop`](crate::pipeline::MonitorLoop): its task and the sender that stops it.
#[derive(Debug)]
pub(crate) struct LoopHandle {
    pub(crate) task: JoinHandle<()>,
    pub(crate) stop: watch::Sender<bool>,
}

impl LoopHandle {
    pub(crate) fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Asks the loop to stop; returns its task, which ends at the loop's next stop point.
    pub(crate) fn stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(true);
        self.task
    }
}

impl Network {
    /// A network without monitors or loops.
    pub(crate) fn new(spec: NetworkSpec, chain_id: u64) -> Self {
        Network {
            chain_id,
            monitors: RwLock::new(Matcher::new()),
            loops: Mutex::new(HashMap::new()),
            spec,
        }
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Matcher> {
        self.monitors.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Matcher> {
        self.monitors.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stage 2: the block's matches at `level`, grouped by monitor (in the order of their
    /// first match, each monitor's matches in transaction order), with the definition each
    /// monitor had when the block was matched.
    pub(crate) fn match_block(&self, block: &Block, level: ConfirmLevel) -> Vec<MonitorMatches> {
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
pub(crate) struct MonitorMatches {
    pub(crate) id: String,
    pub(crate) def: Arc<MonitorDefinition>,
    pub(crate) matches: Vec<MonitorMatch>,
}

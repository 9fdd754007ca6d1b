//! The networks monitors watch: how a network's blocks are read ([`NetworkSpec`]), its
//! monitors, compiled in one [`Matcher`] (the only copy of each monitor's definition and paused
//! flag), and the handles of the loops that watch it; and stage 2 of the monitor path,
//! matching a block against the network's monitors ([`Network::match_block`]).

use crate::monitor::{BlockCalls, Matcher, StartAt, TraceSource};
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
    /// Where the network's internal calls come from, to match functions that contracts call
    /// (opt-in; see [`monitor::TraceSource`](crate::monitor::TraceSource)). Blocks are traced
    /// only while a monitor of the network selects functions.
    pub trace: Option<Arc<dyn TraceSource>>,
}

impl NetworkSpec {
    /// A network polled every 2 seconds, starting at the head on first run.
    pub fn new(name: impl Into<String>, source: Arc<dyn BlockSource>) -> Self {
        NetworkSpec {
            name: name.into(),
            source,
            start: StartAt::Head,
            poll_interval: Duration::from_secs(2),
            trace: None,
        }
    }

    /// The network with internal calls read from `trace`.
    pub fn with_trace(mut self, trace: Arc<dyn TraceSource>) -> Self {
        self.trace = Some(trace);
        self
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
    pub(crate) fn match_block(
        &self,
        block: &Block,
        level: ConfirmLevel,
        calls: Option<&BlockCalls>,
    ) -> Vec<MonitorMatches> {
        let matcher = self.read();
        let mut out: Vec<MonitorMatches> = Vec::new();
        let matches = match calls {
            Some(calls) => matcher.match_block_traced(block, Some(level), calls),
            None => matcher.match_block_at(block, level),
        };
        // Each monitor's group, in the order of their first match.
        let mut groups: HashMap<String, usize> = HashMap::new();
        for m in matches {
            match groups.get(m.monitor.id.as_str()) {
                Some(&g) => out[g].matches.push(m),
                None => {
                    let Some(def) = matcher.definition(&m.monitor.id) else {
                        continue;
                    };
                    groups.insert(m.monitor.id.clone(), out.len());
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

    /// The internal calls of `block` when the network has a trace source and a monitor of
    /// `level` selects functions. A node answer that cannot be read is logged and the block
    /// is matched without them; an unavailable node is an error, so the block is retried.
    pub(crate) async fn block_calls(
        &self,
        block: &Block,
        level: ConfirmLevel,
    ) -> Result<Option<BlockCalls>, defender_core::ChainError> {
        let Some(trace) = &self.spec.trace else {
            return Ok(None);
        };
        if !self.read().watches_functions(level) {
            return Ok(None);
        }
        match trace.block_calls(block.header.number).await {
            Ok(calls) => Ok(Some(calls)),
            Err(e @ defender_core::ChainError::Unavailable { .. }) => Err(e),
            Err(e) => {
                tracing::warn!(
                    network = %self.spec.name,
                    block = block.header.number,
                    error = %e,
                    "internal calls unreadable; the block is matched without them"
                );
                Ok(None)
            }
        }
    }
}

/// One monitor's matches in one block.
pub(crate) struct MonitorMatches {
    pub(crate) id: String,
    pub(crate) def: Arc<MonitorDefinition>,
    pub(crate) matches: Vec<MonitorMatch>,
}

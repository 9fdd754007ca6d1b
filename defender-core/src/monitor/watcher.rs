//! The block pipeline of one network and one confirmation level: confirmations, reorg checks,
//! matching, delivery to a sink, and a durable checkpoint.

use super::error::WatchError;
use super::matcher::Matcher;
use crate::wire::{ConfirmLevel, MonitorMatch};
use crate::{BlockRef, BlockSource, BlockTag, KvStore};
use alloy_primitives::B256;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where a [`BlockWatcher`] delivers each processed block and its matches.
///
/// Called once per block, in block order, including blocks without matches. The watcher's
/// checkpoint advances only after `on_block` returns `Ok`; after an error or a crash the same
/// block is offered again. Delivery is therefore at least once, and exactly once for a sink
/// that ignores a block number it has already handled (blocks are numbered; after a reorg a
/// number may come again with a different hash, and must then be handled).
#[async_trait]
pub trait MatchSink: std::fmt::Debug + Send + Sync + 'static {
    /// Handles one block's matches.
    async fn on_block(
        &self,
        block: &BlockRef,
        matches: Vec<MonitorMatch>,
    ) -> Result<(), WatchError>;
}

/// Where a watcher without a checkpoint starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StartAt {
    /// At the newest block the confirmation level allows (no history is replayed).
    #[default]
    Head,
    /// At this block number.
    Block(u64),
}

/// What a [`BlockWatcher`] watches and how.
#[derive(Clone, Debug)]
pub struct WatcherConfig {
    /// The network name, part of the checkpoint key.
    pub network: String,
    /// The confirmation level of the monitors this watcher serves.
    pub level: ConfirmLevel,
    /// Where to start when there is no checkpoint.
    pub start: StartAt,
    /// Time between two polls in [`BlockWatcher::run`].
    pub poll_interval: Duration,
    /// How many delivered block refs are remembered to find the fork point of a reorg.
    pub reorg_window: usize,
}

impl WatcherConfig {
    /// Defaults: start at the head, poll every 2 seconds, remember 64 blocks.
    pub fn new(network: impl Into<String>, level: ConfirmLevel) -> Self {
        WatcherConfig {
            network: network.into(),
            level,
            start: StartAt::Head,
            poll_interval: Duration::from_secs(2),
            reorg_window: 64,
        }
    }
}

/// The stored progress of a watcher: the last delivered block and a few before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last delivered block.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Recently delivered blocks, oldest first, the last one included.
    #[serde(default)]
    pub recent: Vec<(u64, B256)>,
}

/// The checkpoint key of a network and confirmation level.
pub fn checkpoint_key(network: &str, level: ConfirmLevel) -> String {
    let level = match level {
        ConfirmLevel::Blocks(n) => n.to_string(),
        ConfirmLevel::Safe => "safe".into(),
        ConfirmLevel::Finalized => "finalized".into(),
    };
    format!("__defender/monitor/checkpoint/{network}/{level}")
}

/// Reads blocks of one network as they reach one confirmation level, matches them against the
/// monitors of that level, and hands each block's matches to a [`MatchSink`].
///
/// - **Confirmations**: with [`ConfirmLevel::Blocks`]`(n)` the newest block processed is
///   `latest - n`; with `Safe` or `Finalized` it is the chain's safe or finalized head.
///   Monitors with different levels are served by different watchers (one per level; see
///   [`Matcher::levels`]), each matching only its level's monitors, each with its own
///   checkpoint; they can share one [`Matcher`].
/// - **Order and checkpoint**: blocks are processed one at a time in number order. After the
///   sink accepts a block, the checkpoint (number, hash and the last `reorg_window` refs) is
///   written to the [`KvStore`] under [`checkpoint_key`]. A new watcher over the same store
///   resumes at the next block: no block is skipped, and none is delivered twice unless the
///   process stopped between the sink's `Ok` and the checkpoint write.
/// - **Reorgs**: each block's parent hash must be the hash of the last delivered block. If it
///   is not, the watcher walks back through its recent refs to the newest one still on the
///   chain and continues after it, so the new branch's blocks are delivered. Right before
///   delivery the block's hash is checked again against the node; if it changed the block is
///   re-read, so matches from a block orphaned while it was being processed are never emitted.
///   Only a reorg deeper than the confirmation level can orphan an already delivered block
///   (its matches were sent; the new branch's blocks are delivered after it). A reorg deeper
///   than `reorg_window` delivered blocks cannot be traced back: the watcher re-delivers from
///   the oldest remembered block, and new-branch blocks before it are not seen.
#[derive(Debug)]
pub struct BlockWatcher {
    source: Arc<dyn BlockSource>,
    matcher: Arc<RwLock<Matcher>>,
    kv: Arc<dyn KvStore>,
    sink: Arc<dyn MatchSink>,
    config: WatcherConfig,
    state: tokio::sync::Mutex<Option<Option<Checkpoint>>>,
}

/// Most re-reads (a block whose hash changed, or a reorg rewind) during one poll.
const MAX_REREADS: usize = 8;

impl BlockWatcher {
    /// A watcher; nothing happens until [`poll`](Self::poll) or [`run`](Self::run).
    pub fn new(
        source: Arc<dyn BlockSource>,
        matcher: Arc<RwLock<Matcher>>,
        kv: Arc<dyn KvStore>,
        sink: Arc<dyn MatchSink>,
        config: WatcherConfig,
    ) -> Self {
        BlockWatcher {
            source,
            matcher,
            kv,
            sink,
            config,
            state: tokio::sync::Mutex::new(None),
        }
    }

    /// The shared monitor set; add, replace, pause or remove monitors through it at any time.
    pub fn matcher(&self) -> &Arc<RwLock<Matcher>> {
        &self.matcher
    }

    /// The key of this watcher's checkpoint.
    pub fn checkpoint_key(&self) -> String {
        checkpoint_key(&self.config.network, self.config.level)
    }

    /// The stored checkpoint, if any.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, WatchError> {
        let key = self.checkpoint_key();
        match self.kv.get(&key).await? {
            None => Ok(None),
            Some(text) => {
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| WatchError::CorruptCheckpoint {
                        key,
                        message: e.to_string(),
                    })
            }
        }
    }

    async fn target(&self) -> Result<Option<u64>, WatchError> {
        Ok(match self.config.level {
            ConfirmLevel::Blocks(n) => self.source.head(BlockTag::Latest).await?.checked_sub(n),
            ConfirmLevel::Safe => Some(self.source.head(BlockTag::Safe).await?),
            ConfirmLevel::Finalized => Some(self.source.head(BlockTag::Finalized).await?),
        })
    }

    /// Processes every block that has reached the confirmation level since the last one;
    /// returns how many were delivered.
    pub async fn poll(&self) -> Result<u64, WatchError> {
        let mut state = self.state.lock().await;
        let mut cp = match state.take() {
            Some(cp) => cp,
            None => self.checkpoint().await?,
        };
        let result = self.poll_from(&mut cp).await;
        *state = Some(cp);
        result
    }

    async fn poll_from(&self, cp: &mut Option<Checkpoint>) -> Result<u64, WatchError> {
        let mut delivered = 0;
        let mut rereads = 0;
        let Some(mut target) = self.target().await? else {
            return Ok(0);
        };
        loop {
            let next = match cp {
                Some(c) => c.number + 1,
                None => match self.config.start {
                    StartAt::Head => target,
                    StartAt::Block(n) => n,
                },
            };
            if next > target {
                // Catch up with blocks that arrived while this poll ran.
                match self.target().await? {
                    Some(t) if t > target => {
                        target = t;
                        continue;
                    }
                    _ => return Ok(delivered),
                }
            }
            let Some(block) = self.source.block(next).await? else {
                return Ok(delivered);
            };
            if let Some(c) = cp.as_ref() {
                if block.header.parent_hash != c.hash {
                    tracing::warn!(
                        network = %self.config.network,
                        block = next,
                        "reorg: the parent of block {next} is not the last delivered block"
                    );
                    rereads += 1;
                    if rereads > MAX_REREADS {
                        // The node keeps contradicting itself; try again on the next poll.
                        return Ok(delivered);
                    }
                    *cp = self.fork_point(c).await?;
                    continue;
                }
            }
            let matches = {
                let m = self.matcher.read().unwrap_or_else(|e| e.into_inner());
                m.match_block_at(&block, self.config.level)
            };
            // The block must still be canonical right before delivery.
            match self.source.block_ref(next).await? {
                Some(r) if r.hash == block.header.hash => {}
                _ => {
                    rereads += 1;
                    if rereads > MAX_REREADS {
                        return Ok(delivered);
                    }
                    tracing::debug!(block = next, "block changed while processed; re-reading");
                    continue;
                }
            }
            self.sink.on_block(&block.header, matches).await?;
            let mut recent = cp.take().map(|c| c.recent).unwrap_or_default();
            recent.push((block.header.number, block.header.hash));
            let excess = recent.len().saturating_sub(self.config.reorg_window.max(1));
            recent.drain(..excess);
            let new = Checkpoint {
                number: block.header.number,
                hash: block.header.hash,
                recent,
            };
            let text = serde_json::to_string(&new).map_err(|e| WatchError::CorruptCheckpoint {
                key: self.checkpoint_key(),
                message: e.to_string(),
            })?;
            *cp = Some(new);
            self.kv.put(&self.checkpoint_key(), &text).await?;
            delivered += 1;
        }
    }

    /// The newest remembered block that is still on the chain, as a checkpoint; `None` (start
    /// over from the configured start) if the reorg is deeper than the window.
    async fn fork_point(&self, c: &Checkpoint) -> Result<Option<Checkpoint>, WatchError> {
        let mut recent = c.recent.clone();
        while let Some((number, hash)) = recent.pop() {
            if let Some(r) = self.source.block_ref(number).await? {
                if r.hash == hash {
                    recent.push((number, hash));
                    tracing::warn!(
                        network = %self.config.network,
                        fork_point = number,
                        "reorg: resuming after the common ancestor"
                    );
                    return Ok(Some(Checkpoint {
                        number,
                        hash,
                        recent,
                    }));
                }
            }
        }
        let oldest = c.recent.first().map_or(c.number, |(n, _)| *n);
        tracing::error!(
            network = %self.config.network,
            "reorg deeper than the remembered {} blocks; delivering again from block {oldest} \
             (blocks of the new branch before it are not seen)",
            c.recent.len()
        );
        // Re-deliver the whole window on the new chain rather than skip a block.
        let Some(prev) = oldest.checked_sub(1) else {
            return Ok(None);
        };
        let r = self
            .source
            .block_ref(prev)
            .await?
            .ok_or(WatchError::BlockNotFound(prev))?;
        Ok(Some(Checkpoint {
            number: prev,
            hash: r.hash,
            recent: vec![(prev, r.hash)],
        }))
    }

    /// Polls until `shutdown` completes, waiting `poll_interval` between polls.
    ///
    /// Errors never stop the loop: transient ones (node, store or sink unavailable) are logged
    /// as warnings, others (a corrupt checkpoint, a node answer that cannot be decoded) as
    /// errors; after consecutive failures the wait doubles, up to 60 seconds. The checkpoint
    /// only moves after a block is delivered, so nothing is skipped while failing. Returns
    /// `Ok(())` once `shutdown` completes.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), WatchError> {
        tokio::pin!(shutdown);
        let mut failures: u32 = 0;
        loop {
            match self.poll().await {
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if e.is_transient() {
                        tracing::warn!(network = %self.config.network, error = %e, "monitor poll failed; retrying");
                    } else {
                        tracing::error!(network = %self.config.network, error = %e, "monitor poll failed; retrying");
                    }
                }
            }
            let wait = if failures == 0 {
                self.config.poll_interval
            } else {
                let factor = 1u32 << failures.min(16);
                self.config
                    .poll_interval
                    .saturating_mul(factor)
                    .min(Duration::from_secs(60))
                    .max(self.config.poll_interval)
            };
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

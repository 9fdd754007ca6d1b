//! The block source stage of one network and one confirmation level: confirmations, reorg
//! checks and a durable checkpoint in the engine state ([`BlockCursor`]), and [`BlockWatcher`],
//! which matches each block and hands its matches to a [`MatchSink`] for programs that use the
//! monitor parts without the engine.

use super::error::WatchError;
use super::matcher::Matcher;
use alloy_primitives::B256;
use async_trait::async_trait;
use defender_core::state::{Space, StateOp, StateStore};
use defender_core::{Block, BlockRef, BlockSource, BlockTag, ConfirmLevel, KvStore, MonitorMatch};
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
    /// Time between two polls in [`BlockWatcher::run`] (and the engine's monitor loop).
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

fn level_name(level: ConfirmLevel) -> String {
    match level {
        ConfirmLevel::Blocks(n) => n.to_string(),
        ConfirmLevel::Safe => "safe".into(),
        ConfirmLevel::Finalized => "finalized".into(),
    }
}

/// The checkpoint key of a network and confirmation level in [`Space::CHECKPOINTS`]:
/// `<network>/<level>` (the level has no `/`, so no two pairs share a key).
pub fn checkpoint_key(network: &str, level: ConfirmLevel) -> String {
    format!("{network}/{}", level_name(level))
}

/// Where earlier versions kept the checkpoint, in the actions' key-value store:
/// `__defender/monitor/checkpoint/<network>/<level>`. Read once, when the engine state has no
/// checkpoint yet (see [`BlockCursor::with_legacy_kv`]); never written.
pub fn legacy_checkpoint_key(network: &str, level: ConfirmLevel) -> String {
    format!(
        "__defender/monitor/checkpoint/{network}/{}",
        level_name(level)
    )
}

/// The next canonical block of one network at one confirmation level, and the checkpoint that
/// says which block was handled last.
///
/// [`next`](Self::next) returns the block after the checkpoint once it has reached the
/// confirmation level and only if it is still canonical; [`commit`](Self::commit) moves the
/// checkpoint to it after the caller has handled it. Until `commit`, `next` returns the same
/// block number again (re-read from the node), so a block whose handling failed is offered
/// again and none is skipped.
///
/// - **Confirmations**: with [`ConfirmLevel::Blocks`]`(n)` the newest block returned is
///   `latest - n`; with `Safe` or `Finalized` it is the chain's safe or finalized head.
/// - **Checkpoint**: the number, hash and the last `reorg_window` refs of committed blocks,
///   written to the engine state ([`StateStore`], [`Space::CHECKPOINTS`]) under
///   [`checkpoint_key`] by each `commit`. A new cursor over the same state resumes at the next
///   block. No action reaches the engine state, so no action can move a checkpoint. A
///   checkpoint an earlier version kept in the actions' [`KvStore`] is read once when the
///   state has none ([`with_legacy_kv`](Self::with_legacy_kv)), and copied to the state.
/// - **Reorgs**: each block's parent hash must be the hash of the last committed block. If it
///   is not, the cursor walks back through its recent refs to the newest one still on the chain
///   and continues after it, so the new branch's blocks are returned. Right before returning a
///   block its hash is checked again against the node; if it changed the block is re-read.
///   Only a reorg deeper than the confirmation level can orphan an already committed block. A
///   reorg deeper than `reorg_window` committed blocks cannot be traced back: the cursor
///   returns blocks again from the oldest remembered one, and new-branch blocks before it are
///   not seen.
#[derive(Debug)]
pub struct BlockCursor {
    source: Arc<dyn BlockSource>,
    state: Arc<dyn StateStore>,
    /// Where an earlier version kept the checkpoint, read when the state has none.
    legacy: Option<Arc<dyn KvStore>>,
    config: WatcherConfig,
    /// The checkpoint: `None` until read from the store, then the stored value.
    checkpoint: Option<Option<Checkpoint>>,
    /// The newest block the confirmation level allows, as last read from the node.
    target: Option<u64>,
    /// Re-reads (a block whose hash changed, or a reorg rewind) since a block was returned.
    rereads: usize,
}

/// Most re-reads (a block whose hash changed, or a reorg rewind) before [`BlockCursor::next`]
/// gives up until the next poll.
const MAX_REREADS: usize = 8;

impl BlockCursor {
    /// A cursor whose checkpoint is in `state`; the checkpoint is read on first use.
    pub fn new(
        source: Arc<dyn BlockSource>,
        state: Arc<dyn StateStore>,
        config: WatcherConfig,
    ) -> Self {
        BlockCursor {
            source,
            state,
            legacy: None,
            config,
            checkpoint: None,
            target: None,
            rereads: 0,
        }
    }

    /// What this cursor watches.
    pub fn config(&self) -> &WatcherConfig {
        &self.config
    }

    /// The block source.
    pub fn source(&self) -> &Arc<dyn BlockSource> {
        &self.source
    }

    /// Reads the checkpoint an earlier version kept in the actions' key-value store
    /// ([`legacy_checkpoint_key`]) when the engine state has none: it is copied to the state
    /// once, and from then on only the state's is used.
    pub fn with_legacy_kv(mut self, kv: Arc<dyn KvStore>) -> Self {
        self.legacy = Some(kv);
        self
    }

    /// Reads the checkpoint from the state again on the next [`next`](Self::next): another
    /// process may have moved it.
    pub fn reread_checkpoint(&mut self) {
        self.checkpoint = None;
        self.target = None;
        self.rereads = 0;
    }

    /// The key of this cursor's checkpoint in [`Space::CHECKPOINTS`].
    pub fn checkpoint_key(&self) -> String {
        checkpoint_key(&self.config.network, self.config.level)
    }

    /// The stored checkpoint, if any, read from the state (or migrated from the legacy
    /// key-value store).
    pub async fn stored_checkpoint(&self) -> Result<Option<Checkpoint>, WatchError> {
        let key = self.checkpoint_key();
        if let Some(cp) = read_checkpoint(self.state.as_ref(), &key).await? {
            return Ok(Some(cp));
        }
        let Some(kv) = &self.legacy else {
            return Ok(None);
        };
        let legacy_key = legacy_checkpoint_key(&self.config.network, self.config.level);
        let Some(text) = kv.get(&legacy_key).await? else {
            return Ok(None);
        };
        let legacy: Checkpoint =
            serde_json::from_str(&text).map_err(|e| WatchError::CorruptCheckpoint {
                key: legacy_key,
                message: e.to_string(),
            })?;
        // Only where the state still has none: a checkpoint written meanwhile wins.
        let copied = self
            .state
            .compare_and_swap(
                Space::CHECKPOINTS,
                &key,
                None,
                Some(encode_checkpoint(&key, &legacy)?),
            )
            .await?;
        if copied {
            tracing::info!(
                network = %self.config.network,
                block = legacy.number,
                "monitor checkpoint moved from the key-value store to the engine state"
            );
            return Ok(Some(legacy));
        }
        read_checkpoint(self.state.as_ref(), &key).await
    }

    async fn target(&self) -> Result<Option<u64>, WatchError> {
        Ok(match self.config.level {
            ConfirmLevel::Blocks(n) => self.source.head(BlockTag::Latest).await?.checked_sub(n),
            ConfirmLevel::Safe => Some(self.source.head(BlockTag::Safe).await?),
            ConfirmLevel::Finalized => Some(self.source.head(BlockTag::Finalized).await?),
        })
    }

    /// The next block to handle, or `None` when there is none yet (the chain has not reached
    /// the confirmation level, or the node keeps contradicting itself; try again later).
    pub async fn next(&mut self) -> Result<Option<Block>, WatchError> {
        if self.checkpoint.is_none() {
            self.checkpoint = Some(self.stored_checkpoint().await?);
        }
        loop {
            let cp = self.checkpoint.clone().flatten();
            let next = match &cp {
                Some(c) => c.number + 1,
                None => match self.config.start {
                    StartAt::Head => match self.target {
                        Some(t) => t,
                        None => match self.target().await? {
                            Some(t) => {
                                self.target = Some(t);
                                t
                            }
                            None => return Ok(None),
                        },
                    },
                    StartAt::Block(n) => n,
                },
            };
            if self.target.is_none_or(|t| next > t) {
                // Catch up with blocks that arrived since the head was last read.
                self.target = self.target().await?;
                if self.target.is_none_or(|t| next > t) {
                    self.rereads = 0;
                    return Ok(None);
                }
            }
            let Some(block) = self.source.block(next).await? else {
                self.rereads = 0;
                return Ok(None);
            };
            if let Some(c) = &cp {
                if block.header.parent_hash != c.hash {
                    tracing::warn!(
                        network = %self.config.network,
                        block = next,
                        "reorg: the parent of block {next} is not the last delivered block"
                    );
                    if !self.reread() {
                        return Ok(None);
                    }
                    let fork = self.fork_point(c).await?;
                    self.checkpoint = Some(fork);
                    continue;
                }
            }
            // The block must still be canonical when it is handed out.
            match self.source.block_ref(next).await? {
                Some(r) if r.hash == block.header.hash => {}
                _ => {
                    if !self.reread() {
                        return Ok(None);
                    }
                    tracing::debug!(block = next, "block changed while read; re-reading");
                    continue;
                }
            }
            self.rereads = 0;
            return Ok(Some(block));
        }
    }

    /// Counts a re-read; false once there were too many (the node keeps contradicting itself;
    /// try again on the next poll).
    fn reread(&mut self) -> bool {
        self.rereads += 1;
        if self.rereads > MAX_REREADS {
            self.rereads = 0;
            return false;
        }
        true
    }

    /// Moves the checkpoint to `block` (the block [`next`](Self::next) returned, now handled)
    /// and writes it to the state.
    pub async fn commit(&mut self, block: &BlockRef) -> Result<(), WatchError> {
        self.commit_with(block, Vec::new()).await
    }

    /// [`commit`](Self::commit), writing `ops` (what handling the block owes, say) in the
    /// same atomic batch as the checkpoint: both are written or neither is. When the batch
    /// fails the cursor's checkpoint does not move.
    pub async fn commit_with(
        &mut self,
        block: &BlockRef,
        ops: Vec<StateOp>,
    ) -> Result<(), WatchError> {
        let before = self.checkpoint.clone();
        let commit = self.advance(block)?;
        if let Err(e) = commit.write(ops).await {
            self.checkpoint = before;
            return Err(e);
        }
        Ok(())
    }

    /// Moves the cursor past `block` (the block [`next`](Self::next) returned) at once, and
    /// returns the write that makes it the stored checkpoint: the next block can be read and
    /// matched while this one's batch is written. Should that write fail, the caller rereads
    /// the stored checkpoint ([`reread_checkpoint`](Self::reread_checkpoint)) so that the block
    /// is handled again.
    pub(crate) fn advance(&mut self, block: &BlockRef) -> Result<CheckpointWrite, WatchError> {
        let mut recent = self
            .checkpoint
            .clone()
            .flatten()
            .map(|c| c.recent)
            .unwrap_or_default();
        recent.push((block.number, block.hash));
        let excess = recent.len().saturating_sub(self.config.reorg_window.max(1));
        recent.drain(..excess);
        let new = Checkpoint {
            number: block.number,
            hash: block.hash,
            recent,
        };
        let key = self.checkpoint_key();
        let op = StateOp::put(
            Space::CHECKPOINTS,
            key.clone(),
            encode_checkpoint(&key, &new)?,
        );
        self.checkpoint = Some(Some(new));
        Ok(CheckpointWrite {
            state: self.state.clone(),
            op,
        })
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
}

/// The write that stores a checkpoint ([`BlockCursor::advance`]), with what handling its
/// block owes.
#[derive(Debug)]
pub(crate) struct CheckpointWrite {
    state: Arc<dyn StateStore>,
    op: StateOp,
}

impl CheckpointWrite {
    /// Writes `ops` and the checkpoint in one atomic batch: both are written or neither is.
    pub(crate) async fn write(self, mut ops: Vec<StateOp>) -> Result<(), WatchError> {
        ops.push(self.op);
        self.state.apply(ops).await?;
        Ok(())
    }
}

/// How long to wait before the next poll: the poll interval, doubled after each consecutive
/// failure up to 60 seconds.
pub(crate) fn poll_wait(poll_interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return poll_interval;
    }
    let factor = 1u32 << failures.min(16);
    poll_interval
        .saturating_mul(factor)
        .min(Duration::from_secs(60))
        .max(poll_interval)
}

/// Logs a failed poll: transient errors (node, store or sink unavailable) as warnings, others
/// (a corrupt checkpoint, a node answer that cannot be decoded) as errors.
pub(crate) fn log_poll_error(network: &str, e: &WatchError) {
    if e.is_transient() {
        tracing::warn!(network = %network, error = %e, "monitor poll failed; retrying");
    } else {
        tracing::error!(network = %network, error = %e, "monitor poll failed; retrying");
    }
}

/// The checkpoint stored under `key` in [`Space::CHECKPOINTS`], if any.
async fn read_checkpoint(
    state: &dyn StateStore,
    key: &str,
) -> Result<Option<Checkpoint>, WatchError> {
    match state.get(Space::CHECKPOINTS, key).await? {
        None => Ok(None),
        Some(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| WatchError::CorruptCheckpoint {
                    key: key.to_owned(),
                    message: e.to_string(),
                })
        }
    }
}

/// A checkpoint's stored form: JSON.
fn encode_checkpoint(key: &str, cp: &Checkpoint) -> Result<bytes::Bytes, WatchError> {
    serde_json::to_vec(cp)
        .map(bytes::Bytes::from)
        .map_err(|e| WatchError::CorruptCheckpoint {
            key: key.to_owned(),
            message: e.to_string(),
        })
}

/// Reads blocks of one network as they reach one confirmation level, matches them against the
/// monitors of that level, and hands each block's matches to a [`MatchSink`]: the monitor
/// parts without the engine (the engine's own loop, with alert gate and dispatch, is
/// `Engine::add_monitor`'s).
///
/// Blocks come from a [`BlockCursor`] (confirmations, reorgs, checkpoint; see there).
/// Monitors with different levels are served by different watchers (one per level; see
/// [`Matcher::levels`]), each matching only its level's monitors, each with its own
/// checkpoint; they can share one [`Matcher`]. Blocks are processed one at a time in number
/// order; the checkpoint moves after the sink accepts a block, so no block is skipped, and
/// none is delivered twice unless the process stopped between the sink's `Ok` and the
/// checkpoint write.
#[derive(Debug)]
pub struct BlockWatcher {
    matcher: Arc<RwLock<Matcher>>,
    state: Arc<dyn StateStore>,
    sink: Arc<dyn MatchSink>,
    cursor: tokio::sync::Mutex<BlockCursor>,
    key: String,
    network: String,
    level: ConfirmLevel,
    poll_interval: Duration,
}

impl BlockWatcher {
    /// A watcher whose checkpoint is in `state`; nothing happens until [`poll`](Self::poll)
    /// or [`run`](Self::run).
    pub fn new(
        source: Arc<dyn BlockSource>,
        matcher: Arc<RwLock<Matcher>>,
        state: Arc<dyn StateStore>,
        sink: Arc<dyn MatchSink>,
        config: WatcherConfig,
    ) -> Self {
        BlockWatcher {
            matcher,
            state: state.clone(),
            sink,
            key: checkpoint_key(&config.network, config.level),
            network: config.network.clone(),
            level: config.level,
            poll_interval: config.poll_interval,
            cursor: tokio::sync::Mutex::new(BlockCursor::new(source, state, config)),
        }
    }

    /// Reads a checkpoint kept by an earlier version in the actions' key-value store (see
    /// [`BlockCursor::with_legacy_kv`]).
    pub fn with_legacy_kv(mut self, kv: Arc<dyn KvStore>) -> Self {
        let cursor = self.cursor.get_mut();
        cursor.legacy = Some(kv);
        self
    }

    /// The shared monitor set; add, replace, pause or remove monitors through it at any time.
    pub fn matcher(&self) -> &Arc<RwLock<Matcher>> {
        &self.matcher
    }

    /// The key of this watcher's checkpoint in [`Space::CHECKPOINTS`].
    pub fn checkpoint_key(&self) -> String {
        self.key.clone()
    }

    /// The stored checkpoint, if any.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, WatchError> {
        read_checkpoint(self.state.as_ref(), &self.key).await
    }

    /// Processes every block that has reached the confirmation level since the last one;
    /// returns how many were delivered.
    pub async fn poll(&self) -> Result<u64, WatchError> {
        let mut cursor = self.cursor.lock().await;
        let mut delivered = 0;
        while let Some(block) = cursor.next().await? {
            let matches = {
                let m = self.matcher.read().unwrap_or_else(|e| e.into_inner());
                m.match_block_at(&block, self.level)
            };
            self.sink.on_block(&block.header, matches).await?;
            cursor.commit(&block.header).await?;
            delivered += 1;
        }
        Ok(delivered)
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
                    log_poll_error(&self.network, &e);
                }
            }
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = tokio::time::sleep(poll_wait(self.poll_interval, failures)) => {}
            }
        }
    }
}

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
//! 5. **dispatch**: each alert becomes an outbox item owing one delivery per notification
//!    channel and one run of the linked action ([`Dispatcher::owe`]);
//! 6. **checkpoint**: the outbox items and the checkpoint are written in one atomic batch
//!    ([`BlockCursor::advance`] gives the checkpoint's write), then the delivery workers are
//!    told of the new items.
//!
//! Stages 5 and 6 of a block run in a task of their own while stages 1 and 2 of the next
//! block run (when a block has many alerts, rendering and encoding them takes tasks of their
//! own, which other workers pick up); stage 3 of that next block waits for the batch. Should
//! the batch fail, the block read ahead is dropped and the cursor goes back to the stored
//! checkpoint, so the failed block is handled again.
//!
//! Delivery happens off this loop (module [`delivery`](crate::delivery)), so a slow or dead
//! channel or a long action never holds up blocks. Because an alert is owed durably in the
//! batch that moves the checkpoint past its block, a crash at any point neither loses an
//! alert nor owes it twice: either the batch was written and the workers resume it at the
//! next start, or it was not and the block is handled again.
//!
//! A stop (engine shutdown) ends the loop while it waits for a block or runs a custom filter,
//! never between dispatch and checkpoint.
//!
//! State, one copy each: a monitor's definition and paused flag are in its network's
//! [`Matcher`]; the checkpoint is the [`BlockCursor`]'s; the alert gate's history is per
//! monitor id in [`Stages`]; what is owed is in the outbox, in the engine state.
//!
//! Beside this module: the networks and stage 2 in [`network`](crate::network), stage 5 in
//! [`dispatch`](crate::dispatch), the outbox in [`outbox`](crate::outbox), and the registry
//! that adds networks and monitors and starts and stops the loops in
//! [`registry`](crate::registry).
//!
//! [`Matcher`]: crate::monitor::Matcher
//! [`Dispatcher::owe`]: crate::dispatch::Dispatcher::owe

use crate::actions::Actions;
use crate::delivery::DeliveryLimits;
use crate::dispatch::{Alert, Dispatcher};
use crate::lease::{self, Held};
use crate::metrics::Metrics;
use crate::monitor::{log_poll_error, poll_wait, AlertGate, BlockCursor, WatchError};
use crate::network::{MonitorMatches, Network};
use crate::run::{new_run_id, Runner};
use defender_core::state::{Lease, Space, StateError};
use defender_core::{
    ActionRequest, AlertFormatter, BlockTag, ConfirmLevel, MonitorFilterRequest,
    MonitorFilterResponse, MonitorMatch, RunStatus, Trigger, MAX_FILTER_BATCH,
};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// What one turn of a [`MonitorLoop`] did.
enum Step {
    /// A block went through every stage.
    Handled {
        /// The first delivery attempts fall behind what was owed.
        deliveries_behind: bool,
    },
    /// No block is ready yet.
    CaughtUp,
    /// The loop was stopped, or the engine or the network is gone.
    Stopped,
}

/// The loop of one network and confirmation level.
pub(crate) struct MonitorLoop {
    /// What stages 3 to 5 run on; gone once the engine is.
    pub(crate) stages: Weak<Stages>,
    /// Turns true (or its sender is dropped) when the loop is to stop.
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) network: Weak<Network>,
    pub(crate) level: ConfirmLevel,
    pub(crate) poll_interval: Duration,
    pub(crate) cursor: BlockCursor,
    /// This loop's lease: only its holder handles the network's blocks at this level.
    pub(crate) lease: Held,
    /// The task holding it, awaited when the loop ends (it then lets the store go).
    pub(crate) holding: Option<tokio::task::JoinHandle<()>>,
    /// Stages 5 and 6 of the last block handled, under way while the next block is read and
    /// matched: its outbox items and checkpoint, written in one batch.
    pub(crate) writing: Option<tokio::task::JoinHandle<Result<(), WatchError>>>,
}

/// What stages 1 and 2 found: the next block and each monitor's matches in it.
enum ReadAhead {
    Block(defender_core::Block, Vec<MonitorMatches>),
    /// No block to handle: caught up, or stopped.
    Done(Step),
}

/// Longest a catching-up loop runs before it lets the other tasks of its worker run.
const YIELD_AFTER: Duration = Duration::from_millis(5);

/// Completes once `stop` turns true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl MonitorLoop {
    /// Handles blocks as they come; after a failure the wait doubles, up to 60 seconds.
    /// Errors never stop the loop, and the checkpoint only moves after a block went through
    /// every stage, so nothing is skipped while failing.
    pub(crate) async fn run(mut self) {
        self.run_until_stopped().await;
        if let Err(e) = self.settle().await {
            log_poll_error(&self.cursor.config().network, &e);
        }
        let holding = self.holding.take();
        crate::lease::let_go(self, holding).await;
    }

    async fn run_until_stopped(&mut self) {
        let mut failures: u32 = 0;
        let mut token = None;
        let mut ran_since = std::time::Instant::now();
        loop {
            // 0. Leadership: wait for this loop's lease; on each new acquisition, resume at
            // the shared checkpoint and alert-gate state (another process may have moved
            // them on).
            let lease = match lease::current(&self.lease) {
                Some(lease) => lease,
                None => tokio::select! {
                    _ = stopped(&mut self.stop) => return,
                    lease = lease::acquired(&mut self.lease) => match lease {
                        Some(lease) => lease,
                        None => return,
                    },
                },
            };
            if token != Some(lease.token()) {
                token = Some(lease.token());
                if !self.take_over().await {
                    return;
                }
            }
            match self.step(&lease).await {
                Ok(Step::Handled { deliveries_behind }) => {
                    failures = 0;
                    // Catching up, every block may be ready at once: let the worker's other
                    // tasks run now and then. Not after each block unless the deliveries fall
                    // behind: a yield waits behind every task queued meanwhile (the block's
                    // own deliveries among them), which held the loop up about as long as it
                    // took to handle a block. Deliveries that fall further behind would find
                    // their records no longer kept in memory, and read them back from the
                    // engine state, which costs more than writing them.
                    if deliveries_behind || ran_since.elapsed() >= YIELD_AFTER {
                        tokio::task::yield_now().await;
                        ran_since = std::time::Instant::now();
                    }
                    continue;
                }
                Ok(Step::CaughtUp) => failures = 0,
                Ok(Step::Stopped) => return,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    log_poll_error(&self.cursor.config().network, &e);
                    if matches!(&e, WatchError::State(StateError::Conflict { space, .. }) if *space == Space::LEASES)
                    {
                        // Fenced off: another process holds the lease now. Start over from
                        // what it wrote once the lease comes back.
                        token = None;
                    }
                }
            }
            tokio::select! {
                _ = stopped(&mut self.stop) => return,
                _ = tokio::time::sleep(poll_wait(self.poll_interval, failures)) => {}
            }
            ran_since = std::time::Instant::now();
        }
    }

    /// Forgets the checkpoint and alert-gate state read so far, so that the next block is the
    /// one after the shared checkpoint; false once the engine or the network is gone.
    async fn take_over(&mut self) -> bool {
        // The batch under way is this holder's last: whether it was written or not, the stored
        // checkpoint is where to go on.
        if let Err(e) = self.settle().await {
            log_poll_error(&self.cursor.config().network, &e);
        }
        let (Some(stages), Some(network)) = (self.stages.upgrade(), self.network.upgrade()) else {
            return false;
        };
        self.cursor.reread_checkpoint();
        let ids: Vec<String> = network.read().ids().map(str::to_owned).collect();
        for id in ids {
            if let Err(e) = stages.gate.reload(&id).await {
                tracing::warn!(monitor = %id, error = %e, "alert-gate state not reloaded");
            }
        }
        true
    }

    /// Waits for the batch of the last block handled. If it failed, the cursor goes back to
    /// the stored checkpoint, so that the block is handled again.
    async fn settle(&mut self) -> Result<(), WatchError> {
        let Some(writing) = self.writing.take() else {
            return Ok(());
        };
        let written = match writing.await {
            Ok(written) => written,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: only when the runtime shuts down.
            Err(e) => Err(WatchError::State(StateError::unavailable(e))),
        };
        if written.is_err() {
            self.cursor.reread_checkpoint();
        }
        written
    }

    /// One block through the monitor path. Stages 1 and 2 of a block run while the batch of
    /// the one before (stages 5 and 6) is written; stage 3 waits for that batch.
    async fn step(&mut self, lease: &Lease) -> Result<Step, WatchError> {
        let (Some(stages), Some(network)) = (self.stages.upgrade(), self.network.upgrade()) else {
            self.settle().await?;
            return Ok(Step::Stopped);
        };
        let ahead = self.read_ahead(&stages, &network).await;
        // The block before is written (or, if its batch failed, handled again: the block read
        // ahead is dropped).
        self.settle().await?;
        let (block, matched) = match ahead? {
            ReadAhead::Block(block, matched) => (block, matched),
            ReadAhead::Done(step) => return Ok(step),
        };

        // 3. Custom filter and 4. alert gate, per monitor in order: the alerts to send.
        let admitted = async {
            let mut alerts = Vec::new();
            for group in matched {
                let span = tracing::info_span!("monitor_match", monitor_id = %group.id, block = block.header.number);
                alerts.extend(stages.admit(group).instrument(span).await);
            }
            alerts
        };
        let alerts = tokio::select! {
            _ = stopped(&mut self.stop) => return Ok(Step::Stopped),
            alerts = admitted => alerts,
        };

        // From here the block is handled to the end, stop or not.
        // 5. Dispatch: what the alerts owe, as outbox writes; 6. checkpoint, in the same batch
        // as the outbox writes and fenced by the lease (a former holder's late batch fails);
        // then the workers deliver. The cursor moves on at once; the next step waits for the
        // batch.
        let checkpoint = self.cursor.advance(&block.header)?;
        let fence = lease.fence();
        let owing = stages.dispatcher.owe(alerts).await;
        let deliveries_behind = stages.dispatcher.first_attempts_behind();
        let write = async move {
            let mut owing = owing?.await?;
            let mut ops = std::mem::take(&mut owing.ops);
            ops.push(fence);
            checkpoint.write(ops).await?;
            stages.dispatcher.owed(owing);
            Ok(())
        };
        self.writing = Some(tokio::spawn(write.in_current_span()));
        Ok(Step::Handled { deliveries_behind })
    }

    /// Stages 1 and 2: the next block and each monitor's matches in it.
    async fn read_ahead(
        &mut self,
        stages: &Stages,
        network: &Network,
    ) -> Result<ReadAhead, WatchError> {
        let Self {
            stop,
            cursor,
            level,
            ..
        } = self;

        // 1. Block source: the next block at this confirmation level, still canonical.
        let block = tokio::select! {
            _ = stopped(stop) => return Ok(ReadAhead::Done(Step::Stopped)),
            block = cursor.next() => block?,
        };
        let Some(block) = block else {
            return Ok(ReadAhead::Done(Step::CaughtUp));
        };
        if Metrics::ENABLED {
            if let Ok(head) = cursor.source().head(BlockTag::Latest).await {
                let lag = head.saturating_sub(block.header.number);
                stages.runner.metrics.block_lag(&network.spec.name, lag);
            }
        }

        // 2. Matcher: each monitor's matches, with its definition; with the block's internal
        //    calls when the network traces them and a monitor selects functions.
        let calls = tokio::select! {
            _ = stopped(stop) => return Ok(ReadAhead::Done(Step::Stopped)),
            calls = network.block_calls(&block, *level) => calls?,
        };
        let matched = network.match_block(&block, *level, calls.as_ref());
        Ok(ReadAhead::Block(block, matched))
    }
}

/// What stages 3 to 5 run on, shared by every loop: the alert gate, the runner and actions of
/// custom filters, and the dispatcher.
#[derive(Debug)]
pub(crate) struct Stages {
    pub(crate) gate: AlertGate,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) runner: Arc<Runner>,
    actions: Arc<Actions>,
}

impl Stages {
    pub(crate) fn new(
        runner: Arc<Runner>,
        actions: Arc<Actions>,
        formatter: Option<Arc<dyn AlertFormatter>>,
        limits: DeliveryLimits,
    ) -> Self {
        Stages {
            gate: AlertGate::new(runner.clock.clone()),
            dispatcher: Dispatcher::new(runner.clone(), actions.clone(), formatter, limits),
            runner,
            actions,
        }
    }

    /// Stages 3 (custom filter) and 4 (alert gate) for one monitor's matches in one block: the
    /// alerts to dispatch.
    pub(crate) async fn admit(&self, group: MonitorMatches) -> Vec<Alert> {
        let MonitorMatches { id, def, matches } = group;
        let matches = match &def.action_condition {
            Some(filter_id) => self.filter(filter_id, matches).await,
            None => matches,
        };
        self.runner
            .metrics
            .matched(&id, def.severity_level, matches.len() as u64);
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
}

//! The scheduler of the delivery workers: the index of what is owed, per-target queues,
//! bounded concurrency, retries on time, and `flush`.

use super::{millis, Deliverer};
use crate::outbox::{DeliveryTarget, Pending};
use futures::FutureExt;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

/// Deliveries of one notification channel alias at a time: one, so that a channel receives
/// its alerts in order.
const CHANNEL_CONCURRENCY: usize = 1;
/// Runs of one linked action at a time.
const ACTION_CONCURRENCY: usize = 16;
/// Attempts at a time, in all.
const MAX_IN_FLIGHT: usize = 256;
/// Most deliveries of one channel alias that one task attempts, one after the other, up to
/// the first that fails: a channel takes one delivery at a time anyway, and a task per
/// delivery cost more than a no-op delivery itself (spawning, waking a worker thread,
/// joining).
const CHANNEL_BATCH: usize = 32;
/// Longest sleep of the scheduler: it looks at the clock at least this often (a test clock
/// may jump).
const MAX_IDLE: Duration = Duration::from_secs(1);
/// How often the outbox is read again for deliveries owed by other engines sharing the state
/// (or left by one that died).
const RESCAN_EVERY: Duration = Duration::from_secs(2);
/// How often markers of old deliveries are deleted.
const MARKER_SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How long a stop waits for the attempts under way before it cancels them (they stay owed,
/// and the next start delivers them again).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the scheduler is told.
enum Event {
    /// Deliveries newly owed (or replayed).
    Owed(Vec<Pending>),
    /// Answer once every delivery due now has had an attempt.
    Flush(oneshot::Sender<()>),
}

/// The running scheduler: how to reach and stop it.
#[derive(Debug)]
struct Running {
    events: mpsc::UnboundedSender<Event>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The handle of the delivery workers: started once there is a tokio runtime, stopped at
/// shutdown.
#[derive(Debug, Default)]
pub(crate) struct Workers {
    running: Mutex<Option<Running>>,
}

impl Workers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the scheduler unless it runs; it first resumes every delivery in the outbox.
    /// Without a tokio runtime, does nothing (the next call will).
    pub(crate) fn start(&self, deliverer: &Arc<Deliverer>) {
        let mut running = self.lock();
        if running.as_ref().is_some_and(|r| !r.task.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (events, inbox) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let scheduler = Scheduler::new(deliverer.clone(), stopped.clone());
        let span = tracing::info_span!("delivery_workers");
        let task = runtime.spawn(scheduler.run(inbox, stopped).instrument(span));
        *running = Some(Running { events, stop, task });
    }

    /// Tells the scheduler of deliveries just written. Without a running scheduler they wait
    /// in the outbox for the next start.
    pub(crate) fn owed(&self, pending: Vec<Pending>) {
        if pending.is_empty() {
            return;
        }
        if let Some(r) = self.lock().as_ref() {
            let _ = r.events.send(Event::Owed(pending));
        }
    }

    /// Stops the scheduler: it starts no more attempts, and its task ends once those under
    /// way have ended, or after a few seconds cancelling them (they stay owed).
    pub(crate) fn stop(&self) -> Option<JoinHandle<()>> {
        let running = self.lock().take()?;
        let _ = running.stop.send(true);
        Some(running.task)
    }

    /// Waits until every delivery due now has had an attempt (delivered, failed or timed
    /// out); those waiting for a retry are not waited for. Returns at once when the
    /// scheduler does not run.
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        let sent = match self.lock().as_ref() {
            Some(r) => r.events.send(Event::Flush(done)).is_ok(),
            None => false,
        };
        if sent {
            let _ = wait.await;
        }
    }
}

/// What a task of attempts leaves: its target, and what became of each delivery it took.
type Attempted = (DeliveryTarget, Vec<(String, Tried)>);

/// What became of a delivery a task took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tried {
    /// Attempted: when to try again (`None`: done or given up).
    Attempted(Option<i64>),
    /// Not attempted (an attempt before it in the batch failed, or the workers are
    /// stopping): still due, back in its queue.
    Not,
}

/// Where a delivery of the index stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Due at this time.
    Waiting(i64),
    /// Due, in its target's queue.
    Ready,
    /// An attempt is under way.
    Running,
}

#[derive(Debug)]
struct Entry {
    target: DeliveryTarget,
    stage: Stage,
}

/// The scheduler's state: the index of deliveries owed, by key.
struct Scheduler {
    deliverer: Arc<Deliverer>,
    entries: HashMap<String, Entry>,
    /// Waiting deliveries by due time.
    timers: BTreeSet<(i64, String)>,
    /// Ready deliveries per target, oldest item first.
    ready: HashMap<DeliveryTarget, BTreeSet<String>>,
    running: HashMap<DeliveryTarget, usize>,
    /// Tasks under way, each attempting one delivery (or, for a channel, a batch in order):
    /// what each attempt leaves, by key.
    attempts: JoinSet<Attempted>,
    flushes: Vec<(HashSet<String>, oneshot::Sender<()>)>,
    /// Turns true when the workers are to stop: a batch under way attempts no more.
    stop: watch::Receiver<bool>,
}

impl Scheduler {
    fn new(deliverer: Arc<Deliverer>, stop: watch::Receiver<bool>) -> Self {
        Scheduler {
            deliverer,
            entries: HashMap::new(),
            timers: BTreeSet::new(),
            ready: HashMap::new(),
            running: HashMap::new(),
            attempts: JoinSet::new(),
            flushes: Vec::new(),
            stop,
        }
    }

    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        mut stop: watch::Receiver<bool>,
    ) {
        if !self.resume(&mut stop).await {
            return;
        }
        let mut next_sweep = tokio::time::Instant::now();
        let mut next_rescan = tokio::time::Instant::now() + RESCAN_EVERY;
        loop {
            if tokio::time::Instant::now() >= next_sweep {
                self.sweep_markers().await;
                next_sweep = tokio::time::Instant::now() + MARKER_SWEEP_EVERY;
            }
            if tokio::time::Instant::now() >= next_rescan {
                self.rescan().await;
                next_rescan = tokio::time::Instant::now() + RESCAN_EVERY;
            }
            let now = self.deliverer.now_ms();
            self.promote(now);
            self.start_ready();
            let idle = self.timers.first().map_or(MAX_IDLE, |(due, _)| {
                Duration::from_millis(u64::try_from(due.saturating_sub(now)).unwrap_or(0))
                    .min(MAX_IDLE)
            });
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                event = events.recv() => match event {
                    Some(Event::Owed(pending)) => pending.into_iter().for_each(|p| self.add(p)),
                    Some(Event::Flush(done)) => self.flush(done),
                    None => break,
                },
                Some(finished) = self.attempts.join_next(), if !self.attempts.is_empty() => {
                    self.finished(finished);
                }
                _ = tokio::time::sleep(idle) => {}
            }
        }
        // Attempts under way get a moment to end; what they leave owed (cancelled ones
        // included) waits in the outbox for the next start.
        let drain = async { while self.attempts.join_next().await.is_some() {} };
        if tokio::time::timeout(STOP_GRACE, drain).await.is_err() {
            self.attempts.shutdown().await;
        }
    }

    /// Reads every delivery owed from the outbox into the index, retrying while the store
    /// fails; false if stopped meanwhile.
    async fn resume(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let outbox = &self.deliverer.outbox;
        loop {
            let read = async {
                outbox.tidy_all().await?;
                outbox.pending().await
            };
            match read.await {
                Ok(pending) => {
                    if !pending.is_empty() {
                        tracing::info!(deliveries = pending.len(), "resuming owed deliveries");
                    }
                    pending.into_iter().for_each(|p| self.add(p));
                    return true;
                }
                Err(e) => tracing::warn!(error = %e, "outbox unavailable; retrying"),
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return false,
                _ = tokio::time::sleep(MAX_IDLE) => {}
            }
        }
    }

    /// Adds the deliveries owed in the outbox that the index does not have: written by
    /// another engine, or left by one that died (their claims are taken over once expired).
    async fn rescan(&mut self) {
        match self.deliverer.outbox.pending().await {
            Ok(pending) => pending.into_iter().for_each(|p| self.add(p)),
            Err(e) => tracing::warn!(error = %e, "outbox not read again"),
        }
    }

    async fn sweep_markers(&self) {
        let retention = millis(
            self.deliverer
                .limits
                .horizon
                .max(Duration::from_secs(86_400)),
        );
        let before = self.deliverer.now_ms().saturating_sub(retention);
        match self.deliverer.outbox.forget_markers(before).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(markers = n, "markers of old deliveries deleted"),
            Err(e) => tracing::warn!(error = %e, "delivery markers not swept"),
        }
    }

    /// Adds a delivery to the index, unless it is there.
    fn add(&mut self, p: Pending) {
        if self.entries.contains_key(&p.key) {
            return;
        }
        self.timers.insert((p.due_ms, p.key.clone()));
        self.entries.insert(
            p.key,
            Entry {
                target: p.target,
                stage: Stage::Waiting(p.due_ms),
            },
        );
    }

    /// Moves the deliveries due by `now` to their targets' queues.
    fn promote(&mut self, now: i64) {
        while let Some((due, key)) = self.timers.first().cloned() {
            if due > now {
                break;
            }
            self.timers.pop_first();
            if let Some(entry) = self.entries.get_mut(&key) {
                entry.stage = Stage::Ready;
                self.ready
                    .entry(entry.target.clone())
                    .or_default()
                    .insert(key);
            }
        }
    }

    /// Starts the ready deliveries their targets and the overall bound leave room for: a
    /// task per action or workflow run, a task per batch of up to [`CHANNEL_BATCH`] deliveries
    /// for a channel.
    fn start_ready(&mut self) {
        let targets: Vec<DeliveryTarget> = self.ready.keys().cloned().collect();
        for target in targets {
            let (limit, batch) = match target {
                DeliveryTarget::Channel(_) => (CHANNEL_CONCURRENCY, CHANNEL_BATCH),
                DeliveryTarget::Action(_) | DeliveryTarget::Workflow(_) => (ACTION_CONCURRENCY, 1),
            };
            loop {
                let busy = self.running.get(&target).copied().unwrap_or(0);
                if busy >= limit || self.attempts.len() >= MAX_IN_FLIGHT {
                    break;
                }
                let Some(queue) = self.ready.get_mut(&target) else {
                    break;
                };
                let keys: Vec<String> = std::iter::from_fn(|| queue.pop_first())
                    .take(batch)
                    .collect();
                if queue.is_empty() {
                    self.ready.remove(&target);
                }
                if keys.is_empty() {
                    break;
                }
                for key in &keys {
                    if let Some(entry) = self.entries.get_mut(key) {
                        entry.stage = Stage::Running;
                    }
                }
                *self.running.entry(target.clone()).or_default() += 1;
                let deliverer = self.deliverer.clone();
                let stop = self.stop.clone();
                let batch_target = target.clone();
                let span =
                    tracing::info_span!("delivery", target = ?target, deliveries = keys.len());
                self.attempts.spawn(
                    async move {
                        let mut tried = Vec::with_capacity(keys.len());
                        let mut keys = keys.into_iter();
                        // Up to the first attempt that leaves its delivery owed (a failure:
                        // the rest wait behind its retry, as without batches) or a stop.
                        while !*stop.borrow() {
                            let Some(key) = keys.next() else { break };
                            let next = attempt(&deliverer, &key).await;
                            tried.push((key, Tried::Attempted(next)));
                            if next.is_some() {
                                break;
                            }
                        }
                        tried.extend(keys.map(|key| (key, Tried::Not)));
                        (batch_target, tried)
                    }
                    .instrument(span),
                );
            }
        }
    }

    /// Takes the outcome of a task's attempts: each delivery waits for its next attempt,
    /// leaves the index, or (not attempted) goes back to its target's queue.
    fn finished(&mut self, finished: Result<Attempted, tokio::task::JoinError>) {
        let Ok((target, done)) = finished else {
            // Cancelled: only at runtime shutdown, when nothing runs after.
            return;
        };
        if let Some(busy) = self.running.get_mut(&target) {
            *busy = busy.saturating_sub(1);
        }
        for (key, tried) in done {
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            match tried {
                Tried::Not => {
                    entry.stage = Stage::Ready;
                    self.ready.entry(target.clone()).or_default().insert(key);
                    continue;
                }
                Tried::Attempted(Some(due)) => {
                    entry.stage = Stage::Waiting(due);
                    self.timers.insert((due, key.clone()));
                }
                Tried::Attempted(None) => {
                    self.entries.remove(&key);
                }
            }
            for (keys, _) in &mut self.flushes {
                keys.remove(&key);
            }
        }
        let (answered, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(keys, _)| keys.is_empty());
        self.flushes = waiting;
        for (_, done) in answered {
            let _ = done.send(());
        }
    }

    /// Answers `done` once every delivery due now has had an attempt.
    fn flush(&mut self, done: oneshot::Sender<()>) {
        let now = self.deliverer.now_ms();
        self.promote(now);
        self.start_ready();
        let keys: HashSet<String> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.stage, Stage::Ready | Stage::Running))
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            let _ = done.send(());
        } else {
            self.flushes.push((keys, done));
        }
    }
}

/// One attempt at the delivery under `key`: when to try again, if ever. A panic in a channel
/// or the runtime (their contracts forbid it) retries the delivery rather than losing track of
/// it. Boxed: the attempt's state is several kilobytes.
async fn attempt(deliverer: &Deliverer, key: &str) -> Option<i64> {
    match AssertUnwindSafe(Box::pin(deliverer.attempt(key)))
        .catch_unwind()
        .await
    {
        Ok(next) => next,
        Err(_) => Some(
            deliverer
                .now_ms()
                .saturating_add(millis(deliverer.limits.first_retry)),
        ),
    }
}

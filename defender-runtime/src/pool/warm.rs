//! Warm contexts, as Defender's Lambda kept a warm container per function: one context per
//! action version, each on a thread of its own (a QuickJS context cannot move between
//! threads), kept between runs of that version only, bounded in number and in total bytes,
//! the least recently used evicted first.

use crate::sandbox::{Instance, Job, RunOutput};
use defender_core::RunError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// A run whose heap peaked this much above what its context keeps is followed by a garbage
/// collection and the return of free pages to the system.
const GIVE_BACK_BYTES: usize = 4 << 20;

/// Where a run's output goes.
pub(crate) type Reply = tokio::sync::oneshot::Sender<RunOutput>;

/// The warm contexts of one `QuickJsRuntime`.
pub(crate) struct WarmContexts {
    slots: Arc<Mutex<Slots>>,
    bounds: Bounds,
    stack: usize,
    next_id: AtomicU64,
}

/// How many warm contexts, and how many bytes of them, a runtime keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// Most warm contexts (one per action version).
    pub(crate) contexts: usize,
    /// Most bytes all warm contexts hold together, as their allocators count them.
    pub(crate) bytes: usize,
    /// A context unused this long is dropped.
    pub(crate) idle: Duration,
}

/// The warm contexts by scope (`action_id@version#fingerprint`), with a clock for recency.
#[derive(Default)]
struct Slots {
    map: HashMap<Arc<str>, Slot>,
    clock: u64,
}

/// The thread that owns the warm context of one action version. Dropping it (and so its
/// sender) ends the thread once it is idle, and frees the context.
struct Slot {
    id: u64,
    tx: mpsc::Sender<(Job, Reply)>,
    /// A run is in the context, or on its way to it: another run of the version gets a fresh
    /// context meanwhile.
    busy: bool,
    /// Bytes the context's QuickJS runtime held after its last run.
    bytes: usize,
    /// The clock when the slot last took a run.
    last_used: u64,
}

impl Slots {
    fn total_bytes(&self) -> usize {
        self.map
            .values()
            .fold(0usize, |sum, s| sum.saturating_add(s.bytes))
    }

    /// Evicts the least recently used idle context; `false` when all are busy.
    fn evict_lru(&mut self) -> bool {
        let victim = self
            .map
            .iter()
            .filter(|(_, s)| !s.busy)
            .min_by_key(|(_, s)| s.last_used)
            .map(|(scope, _)| scope.clone());
        match victim {
            Some(scope) => self.map.remove(&scope).is_some(),
            None => false,
        }
    }

    /// Evicts idle contexts, least recently used first, until all hold at most `max` bytes
    /// together (or every one left is busy).
    fn evict_over(&mut self, max: usize) {
        while self.total_bytes() > max {
            if !self.evict_lru() {
                return;
            }
        }
    }
}

impl WarmContexts {
    pub(crate) fn new(bounds: Bounds, stack: usize) -> Self {
        WarmContexts {
            slots: Arc::default(),
            bounds,
            stack,
            next_id: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `job` to the warm context of its action version when that one is free (or
    /// starts one, evicting the least recently used context when there are as many as the
    /// bound); gives the job back when it must run in a fresh context instead.
    pub(crate) fn try_run(&self, job: Job, reply: Reply) -> Option<(Job, Reply)> {
        if self.bounds.contexts == 0 {
            return Some((job, reply));
        }
        let mut slots = self.lock();
        slots.clock += 1;
        let now = slots.clock;
        if let Some(slot) = slots.map.get_mut(&job.scope) {
            if slot.busy {
                return Some((job, reply));
            }
            slot.busy = true;
            slot.last_used = now;
            return match slot.tx.send((job, reply)) {
                Ok(()) => None,
                Err(mpsc::SendError((job, reply))) => {
                    slots.map.remove(&job.scope);
                    Some((job, reply))
                }
            };
        }
        if slots.map.len() >= self.bounds.contexts && !slots.evict_lru() {
            return Some((job, reply));
        }
        let (tx, rx) = mpsc::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let thread = WarmThread {
            rx,
            slots: self.slots.clone(),
            scope: job.scope.clone(),
            id,
            bounds: self.bounds,
        };
        let spawned = std::thread::Builder::new()
            .name("defender-js-warm".into())
            .stack_size(self.stack)
            .spawn(move || thread.serve());
        if spawned.is_err() {
            return Some((job, reply));
        }
        let scope = job.scope.clone();
        let sent = tx.send((job, reply));
        slots.map.insert(
            scope,
            Slot {
                id,
                tx,
                busy: true,
                bytes: 0,
                last_used: now,
            },
        );
        sent.err().map(|mpsc::SendError(back)| back)
    }

    /// Warm contexts kept now.
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Bytes the warm contexts held after their last runs, together.
    pub(crate) fn bytes(&self) -> usize {
        self.lock().total_bytes()
    }
}

impl Drop for WarmContexts {
    /// The threads end (and free their contexts) once their senders are gone.
    fn drop(&mut self) {
        self.lock().map.clear();
    }
}

/// What a warm context's thread needs.
struct WarmThread {
    rx: mpsc::Receiver<(Job, Reply)>,
    slots: Arc<Mutex<Slots>>,
    scope: Arc<str>,
    id: u64,
    bounds: Bounds,
}

impl WarmThread {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this thread's slot is still the one in the map.
    fn is_current(slots: &Slots, scope: &str, id: u64) -> bool {
        slots.map.get(scope).is_some_and(|s| s.id == id)
    }

    /// Runs the jobs of one action version in one context until the slot is evicted or
    /// idle for `bounds.idle`.
    fn serve(self) {
        let mut instance: Option<Instance> = None;
        // Runs served by `instance`.
        let mut runs = 0u64;
        loop {
            let next = match super::spin_for(&self.rx) {
                Some(x) => Ok(x),
                None => self.rx.recv_timeout(self.bounds.idle),
            };
            let (job, reply) = match next {
                Ok(x) => x,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let mut slots = self.lock();
                    if !Self::is_current(&slots, &self.scope, self.id) {
                        return;
                    }
                    if slots.map.get(&self.scope).is_some_and(|s| !s.busy) {
                        slots.map.remove(&self.scope);
                        drop(slots);
                        drop(instance);
                        crate::alloc::return_free_memory();
                        return;
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    drop(instance);
                    crate::alloc::return_free_memory();
                    return;
                }
            };
            let limit = job.limits.memory_bytes;
            let out = super::run_caught(|| {
                if instance.is_none() {
                    match Instance::new(&job.limits, &job.cache) {
                        Ok(i) => instance = Some(i),
                        Err(e) => return (Err(e), vec![]),
                    }
                }
                match instance.as_mut() {
                    Some(i) => i.run(job),
                    None => (Err(RunError::Internal("no instance".into())), vec![]),
                }
            });
            // A context that broke a limit (timeout, memory, stack) or met a host failure is
            // discarded, and so is one that holds more than half of the run's memory limit
            // (the next run would start with less than half) or more than all warm contexts
            // may hold together.
            let bytes = instance.as_ref().map_or(0, Instance::total_bytes);
            let discard = instance.as_ref().is_none_or(|i| {
                i.poisoned || i.heap_bytes() > limit / 2 || bytes > self.bounds.bytes
            }) || matches!(out.0, Err(RunError::Internal(_)));
            let mut dropped = if discard { instance.take() } else { None };
            if instance.is_none() {
                runs = 0;
            }
            {
                let mut slots = self.lock();
                if Self::is_current(&slots, &self.scope, self.id) {
                    if discard {
                        // The slot goes with its context: the thread ends.
                        slots.map.remove(&self.scope);
                    } else if let Some(slot) = slots.map.get_mut(&self.scope) {
                        slot.busy = false;
                        slot.bytes = bytes;
                    }
                }
                slots.evict_over(self.bounds.bytes);
                if !Self::is_current(&slots, &self.scope, self.id) {
                    // Evicted: the context goes (the thread ends on the next receive).
                    dropped = instance.take().or(dropped);
                }
            }
            let _ = reply.send(out);
            // Freed after the reply, off the run's latency.
            if dropped.is_some() {
                drop(dropped);
                crate::alloc::return_free_memory();
            }
            // The first run of a context (loading modules, most often) and a run that grew
            // the heap well past what the context keeps leave garbage and free pages: collect
            // both, so that the context costs what it holds, and count that.
            runs += 1;
            if let Some(i) = instance.as_ref().filter(|i| {
                runs == 1 || i.peak_bytes() > i.total_bytes().saturating_add(GIVE_BACK_BYTES)
            }) {
                i.collect();
                crate::alloc::return_free_memory();
                let bytes = i.total_bytes();
                let mut slots = self.lock();
                if let Some(slot) = slots.map.get_mut(&self.scope).filter(|s| s.id == self.id) {
                    slot.bytes = bytes;
                }
            }
        }
    }
}

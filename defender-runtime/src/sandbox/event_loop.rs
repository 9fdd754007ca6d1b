//! The event loop of a run: microtasks, completed host operations and due timers, until the
//! prelude reports how the handler ended, the deadline passes, or nothing can settle the
//! handler's promise any more. Also the per-run state the host functions share with it.

use super::crypto::Hashes;
use super::errors::{self, Finish, Observed};
use super::instance::Interrupt;
use super::zlib::Streams;
use crate::alloc::Budget;
use crate::files::Files;
use crate::host::{self, FetchPolicy, OpError};
use chrono::Utc;
use defender_core::redact::Redactor;
use defender_core::{LogEntry, LogLevel, RunError, RunLimits, RunServices};
use rquickjs::{Ctx, Exception, Function, Object};
use serde_json::Value as Json;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Most bytes of logs one run keeps, each entry counted with its text and the size of a
/// [`LogEntry`] (so that many empty lines are bounded too).
pub const MAX_LOG_BYTES: usize = 4 * 1024 * 1024;

/// Most log entries one run keeps.
pub const MAX_LOG_ENTRIES: usize = 50_000;

/// What an entry costs besides its text (its struct and time stamp), so that many empty
/// lines are bounded too.
const LOG_ENTRY_OVERHEAD: usize = std::mem::size_of::<LogEntry>();

/// What a pending timer costs the host, charged to the run.
const TIMER_BYTES: usize = 96;

/// A completed host operation: its id, its answer (JSON text) or error, and the bytes
/// charged to the run for it until it is delivered.
pub(super) type OpResult = (u32, Result<(String, Vec<String>), OpError>, usize);

/// What the run in progress uses; set when it starts, dropped when it ends.
pub(super) struct RunContext {
    pub(super) services: Arc<RunServices>,
    pub(super) fetch: Arc<FetchPolicy>,
    pub(super) handle: tokio::runtime::Handle,
    pub(super) files: Files,
    pub(super) scope: Arc<str>,
    pub(super) redactor: Redactor,
    pub(super) budget: Budget,
    /// Asked by host functions that work long without running JavaScript.
    pub(super) interrupt: Interrupt,
}

impl RunContext {
    /// What a host function that works long needs: the budget it charges and the deadline
    /// it stops at.
    pub(super) fn resources(&self) -> (Budget, Interrupt) {
        (self.budget.clone(), self.interrupt.clone())
    }
}

/// State shared by the host functions of a context and its event loop.
#[derive(Default)]
pub(super) struct LoopState {
    logs: Vec<LogEntry>,
    log_bytes: usize,
    logs_truncated: bool,
    pub(super) finished: Option<Finish>,
    timers: BTreeSet<(Instant, u32)>,
    timer_due: HashMap<u32, Instant>,
    next_timer: u32,
    next_op: u32,
    /// Host operations in flight: their tasks, and whether the task may finish after the
    /// run ended (see [`LoopState::add_op`]).
    ops: HashMap<u32, (tokio::task::JoinHandle<()>, bool)>,
    pub(super) run: Option<RunContext>,
    /// The `crypto.createHash`/`createHmac` states of the run (charged to its budget).
    pub(super) hashes: Hashes,
    /// The `zlib` streams of the run (charged to its budget).
    pub(super) zlib_streams: Streams,
    /// Relayer errors delivered to the script during the run.
    pub(super) observed: Observed,
}

impl LoopState {
    /// The run in progress; a JavaScript error when there is none.
    pub(super) fn current_run(&self, ctx: &Ctx<'_>) -> rquickjs::Result<&RunContext> {
        self.run
            .as_ref()
            .ok_or_else(|| Exception::throw_message(ctx, "no run in progress"))
    }

    /// Bytes of log text the run may still add.
    pub(super) fn log_room(&self) -> usize {
        MAX_LOG_BYTES.saturating_sub(self.log_bytes + LOG_ENTRY_OVERHEAD)
    }

    /// Adds a log entry, unless the run's log is full (a warning says so, once).
    pub(super) fn log(&mut self, level: LogLevel, message: String) {
        let cost = message.len().saturating_add(LOG_ENTRY_OVERHEAD);
        if self.logs.len() >= MAX_LOG_ENTRIES || self.log_bytes.saturating_add(cost) > MAX_LOG_BYTES
        {
            if !self.logs_truncated {
                self.logs_truncated = true;
                self.logs.push(LogEntry {
                    level: LogLevel::Warn,
                    timestamp: Utc::now(),
                    message: format!(
                        "log output truncated at {MAX_LOG_ENTRIES} entries or {MAX_LOG_BYTES} bytes"
                    ),
                });
            }
            return;
        }
        self.log_bytes += cost;
        self.logs.push(LogEntry {
            level,
            timestamp: Utc::now(),
            message,
        });
    }

    /// Schedules a timer `ms` from now; `None` when the run's memory cannot hold it.
    pub(super) fn add_timer(&mut self, ms: f64) -> Option<u32> {
        if !self.run.as_ref()?.budget.charge(TIMER_BYTES) {
            return None;
        }
        self.next_timer = self.next_timer.wrapping_add(1).max(1);
        let id = self.next_timer;
        let ms = if ms.is_finite() {
            ms.clamp(0.0, 2_147_483_647.0)
        } else {
            0.0
        };
        let due = Instant::now() + Duration::from_micros((ms * 1000.0) as u64);
        if let Some(old) = self.timer_due.insert(id, due) {
            self.timers.remove(&(old, id));
        }
        self.timers.insert((due, id));
        Some(id)
    }

    pub(super) fn clear_timer(&mut self, id: u32) {
        if let Some(due) = self.timer_due.remove(&id) {
            self.timers.remove(&(due, id));
            if let Some(run) = &self.run {
                run.budget.uncharge(TIMER_BYTES);
            }
        }
    }

    /// Takes the timers due by `now`.
    fn take_due(&mut self, now: Instant) -> Vec<u32> {
        let due: Vec<(Instant, u32)> = self.timers.range(..=(now, u32::MAX)).copied().collect();
        for k in &due {
            self.timers.remove(k);
            self.timer_due.remove(&k.1);
        }
        if let Some(run) = &self.run {
            run.budget.uncharge(TIMER_BYTES.saturating_mul(due.len()));
        }
        due.into_iter().map(|k| k.1).collect()
    }

    /// A new operation id, and the handle of its task once spawned.
    pub(super) fn next_op_id(&mut self) -> u32 {
        self.next_op = self.next_op.wrapping_add(1).max(1);
        self.next_op
    }

    /// Records an operation's task. An `outlives_run` operation (a notification) is let
    /// finish when the run ends before it: Defender's own examples call
    /// `notificationClient.send` without awaiting it, and the message must still go out.
    /// It is bounded by the notifier's own timeout, and its answer reaches no later run.
    pub(super) fn add_op(
        &mut self,
        id: u32,
        task: tokio::task::JoinHandle<()>,
        outlives_run: bool,
    ) {
        if let Some((old, _)) = self.ops.insert(id, (task, outlives_run)) {
            old.abort();
        }
    }

    /// Prepares the state for a run.
    pub(super) fn start(&mut self, run: RunContext) {
        self.finished = None;
        self.timers.clear();
        self.timer_due.clear();
        self.logs.clear();
        self.log_bytes = 0;
        self.logs_truncated = false;
        self.observed = Observed::default();
        self.hashes.clear();
        self.zlib_streams.clear();
        self.run = Some(run);
    }

    /// Ends the run: its host operations are aborted, its timers, hash states and zlib
    /// streams dropped; its logs.
    pub(super) fn end(&mut self) -> Vec<LogEntry> {
        for (_, (h, outlives_run)) in self.ops.drain() {
            if !outlives_run {
                h.abort();
            }
        }
        self.hashes.clear();
        self.zlib_streams.clear();
        self.run = None;
        self.timers.clear();
        self.timer_due.clear();
        std::mem::take(&mut self.logs)
    }
}

/// The log level of the prelude's number for it.
pub(super) fn level(n: i32) -> LogLevel {
    match n {
        0 => LogLevel::Debug,
        2 => LogLevel::Warn,
        3 => LogLevel::Error,
        _ => LogLevel::Info,
    }
}

/// What the loop needs besides the context.
pub(super) struct Driver<'a> {
    pub(super) state: &'a Rc<RefCell<LoopState>>,
    pub(super) rx: &'a mpsc::Receiver<OpResult>,
    pub(super) deadline: Instant,
    pub(super) interrupted: &'a Cell<bool>,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) limits: RunLimits,
    /// What the host has seen so far (limits, stack overflows, relayer errors).
    pub(super) observe: &'a dyn Fn(&Ctx<'_>) -> Observed,
}

impl Driver<'_> {
    /// Starts the handler of `entry` with the event and runs the loop until the run ends.
    pub(super) fn drive(
        &self,
        ctx: &Ctx<'_>,
        api: &Object<'_>,
        entry: &str,
        event_json: &str,
    ) -> Result<Json, RunError> {
        let limits = self.limits;
        let fail = |e: rquickjs::Error| errors::failure(ctx, e, (self.observe)(ctx), &limits);
        let timeout = || RunError::Timeout(limits.timeout);
        let resolve_op: Function<'_> = api.get("resolveOp").map_err(fail)?;
        let fire: Function<'_> = api.get("fire").map_err(fail)?;
        let start: Function<'_> = api.get("start").map_err(fail)?;
        start.call::<_, ()>((entry, event_json)).map_err(fail)?;

        loop {
            // Microtasks.
            while ctx.execute_pending_job() {
                if self.interrupted.get() {
                    return Err(timeout());
                }
            }
            if self.interrupted.get() {
                return Err(timeout());
            }
            let finished = self.state.borrow_mut().finished.take();
            if let Some(finish) = finished {
                return self.finish(ctx, finish);
            }
            // Completed host operations.
            let mut progressed = false;
            while let Ok(done) = self.rx.try_recv() {
                progressed = true;
                deliver(self.state, &resolve_op, done).map_err(fail)?;
            }
            // Due timers.
            let due = self.state.borrow_mut().take_due(Instant::now());
            for id in due {
                progressed = true;
                // An uncaught error in a timer callback fails the run, as in Node.
                fire.call::<_, ()>((id,)).map_err(fail)?;
            }
            if progressed {
                continue;
            }
            let (next_timer, ops_pending) = {
                let st = self.state.borrow();
                (st.timers.first().map(|k| k.0), !st.ops.is_empty())
            };
            if next_timer.is_none() && !ops_pending {
                // Nothing can ever settle the handler's promise.
                return Err(timeout());
            }
            let until = next_timer.map_or(self.deadline, |t| t.min(self.deadline));
            let now = Instant::now();
            if now >= self.deadline || self.cancel.load(Ordering::Relaxed) {
                return Err(timeout());
            }
            // Wake at least every 100 ms to notice cancellation.
            let wait = until
                .saturating_duration_since(now)
                .min(Duration::from_millis(100));
            match self.rx.recv_timeout(wait) {
                Ok(done) => deliver(self.state, &resolve_op, done).map_err(fail)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(RunError::Internal("host channel closed".into()))
                }
            }
        }
    }

    fn finish(&self, ctx: &Ctx<'_>, finish: Finish) -> Result<Json, RunError> {
        let seen = (self.observe)(ctx);
        if let Some(e) = errors::limit_error(seen, &self.limits) {
            return Err(e);
        }
        match finish {
            Finish::Returned(text) => errors::returned(&text),
            Finish::Unserializable(text) => {
                Err(errors::invalid_result(errors::payload_message(&text)))
            }
            Finish::InvalidCode(text) => Err(RunError::InvalidCode(errors::payload_message(&text))),
            Finish::Threw(text) => Err(errors::thrown(&text, seen, &self.limits)),
        }
    }
}

/// Hands a completed host operation to the script, then gives back what it was charged.
fn deliver(
    state: &Rc<RefCell<LoopState>>,
    resolve_op: &Function<'_>,
    (id, res, charged): OpResult,
) -> rquickjs::Result<()> {
    let budget = {
        let mut st = state.borrow_mut();
        // The answer of an operation of an earlier run (one let finish after its run
        // ended) belongs to no one here: nothing of it reaches this run.
        if st.ops.remove(&id).is_none() {
            return Ok(());
        }
        st.run.as_ref().map(|r| r.budget.clone())
    };
    let out = match res {
        Ok((text, lines)) => {
            {
                let mut st = state.borrow_mut();
                for l in lines {
                    st.log(LogLevel::Warn, l);
                }
            }
            resolve_op.call::<_, ()>((id, true, text))
        }
        Err(e) => {
            {
                let mut st = state.borrow_mut();
                match e.code.as_str() {
                    Some(host::INSUFFICIENT_FUNDS) => st.observed.insufficient_funds = true,
                    Some(host::RELAYER_CONFIGURATION) => st.observed.relayer_configuration = true,
                    _ => {}
                }
            }
            resolve_op.call::<_, ()>((id, false, e.to_json()))
        }
    };
    if let Some(b) = budget {
        b.uncharge(charged);
    }
    out
}

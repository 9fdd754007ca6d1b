//! A QuickJS runtime with its limits ([`Engine`]) and a context in it with the prelude
//! installed ([`Instance`]): what one run, or the runs of one warm action version, use.

use super::bindings::setup;
use super::code_cache::CodeCache;
use super::errors::{self, Observed};
use super::event_loop::{Driver, LoopState, OpResult, RunContext};
use super::lazy::{self, ContextIntrinsics};
use super::{Job, RunOutput};
use crate::alloc::Heap;
use crate::files::ACTION_ROOT;
use defender_core::redact::Redactor;
use defender_core::{RunError, RunLimits, RunOutcome};
use rquickjs::{Context, Ctx, Object, Persistent, Runtime};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

/// Most fresh contexts created one after the other in one QuickJS runtime before the runtime
/// itself is replaced (a bound on whatever a freed context could leave behind in it).
const MAX_CONTEXTS_PER_RUNTIME: u32 = 256;

/// Most bytes a QuickJS runtime may still hold once its context is freed and collected
/// (besides the bytecode it keeps on purpose): more means a run grew something that outlives
/// its context, such as the atom table after millions of distinct property names, and the
/// runtime is replaced rather than passed on to the next run.
pub(crate) const MAX_RUNTIME_RESIDUE_BYTES: usize = 2 * 1024 * 1024;

/// What stops a run: its deadline, its cancellation, or an earlier decision to stop (which
/// stands until the engine is reset for the next run). The engine's interrupt handler asks
/// it, and so do host functions that work long without running JavaScript (PBKDF2, scrypt
/// and zlib, see src/sandbox/crypto/ and src/sandbox/zlib/).
#[derive(Clone)]
pub(super) struct Interrupt {
    interrupted: Rc<Cell<bool>>,
    deadline: Rc<Cell<Instant>>,
    cancel: Rc<RefCell<Arc<AtomicBool>>>,
}

impl Interrupt {
    /// Whether the run must stop now; once it says so, it keeps saying so.
    pub(super) fn check(&self) -> bool {
        if self.interrupted.get() {
            return true;
        }
        if Instant::now() >= self.deadline.get() || self.cancel.borrow().load(Ordering::Relaxed) {
            self.interrupted.set(true);
            return true;
        }
        false
    }
}

/// A QuickJS runtime with its limits and interrupt handler, without a context.
struct Engine {
    rt: Runtime,
    interrupt: Interrupt,
    heap: Arc<Heap>,
    /// Contexts created in `rt` so far.
    contexts: u32,
}

impl Engine {
    fn new(limits: &RunLimits) -> Result<Engine, RunError> {
        let heap = Arc::new(Heap::default());
        heap.set_limit(limits.memory_bytes);
        let rt = Runtime::new_with_alloc(crate::alloc::LimitedAllocator::new(heap.clone()))
            .map_err(|e| RunError::Internal(e.to_string()))?;
        let interrupt = Interrupt {
            interrupted: Rc::new(Cell::new(false)),
            deadline: Rc::new(Cell::new(Instant::now() + limits.timeout)),
            cancel: Rc::new(RefCell::new(Arc::new(AtomicBool::new(false)))),
        };
        {
            let interrupt = interrupt.clone();
            rt.set_interrupt_handler(Some(Box::new(move || interrupt.check())));
        }
        // The `import`s of the action's ES modules (src/sandbox/modules.rs).
        rt.set_loader(super::modules::EsmResolver, super::modules::EsmLoader);
        let engine = Engine {
            rt,
            interrupt,
            heap,
            contexts: 0,
        };
        engine.reset(limits);
        Ok(engine)
    }

    /// Sets the limits for the next context and clears the previous run's flags.
    fn reset(&self, limits: &RunLimits) {
        self.heap.set_limit(limits.memory_bytes);
        self.rt.set_max_stack_size(limits.max_stack_bytes);
        self.interrupt.interrupted.set(false);
        self.interrupt.deadline.set(Instant::now() + limits.timeout);
        *self.interrupt.cancel.borrow_mut() = Arc::new(AtomicBool::new(false));
    }

    /// A new context in this runtime, with the prelude installed.
    fn instance(
        mut self,
        limits: &RunLimits,
        cache: &Arc<CodeCache>,
    ) -> Result<Instance, RunError> {
        let internal = |e: rquickjs::Error| RunError::Internal(e.to_string());
        let context = Context::custom::<ContextIntrinsics>(&self.rt).map_err(internal)?;
        self.contexts += 1;
        let (tx, rx) = mpsc::channel::<OpResult>();
        let state = Rc::new(RefCell::new(LoopState::default()));
        let heap = &self.heap;
        let api = context.with(|ctx| -> Result<Persistent<Object<'static>>, RunError> {
            crate::script::attach_heap(&ctx, heap);
            let api = setup(&ctx, cache, &state, &tx).map_err(|e| {
                if heap.was_refused() {
                    return RunError::OutOfMemory(limits.memory_bytes);
                }
                match e {
                    rquickjs::Error::Exception => RunError::Internal(errors::exception_text(&ctx)),
                    other => RunError::Internal(other.to_string()),
                }
            })?;
            Ok(Persistent::save(&ctx, api))
        })?;
        Ok(Instance {
            api,
            context,
            engine: self,
            state,
            rx,
            poisoned: false,
            seen: Redactor::default(),
        })
    }
}

/// How many stack overflows the engine of `ctx` has thrown (patched QuickJS).
#[cfg(feature = "quickjs-patches")]
#[allow(unsafe_code)]
fn stack_overflows(ctx: &Ctx<'_>) -> u32 {
    // SAFETY: `ctx` is a live context on this thread, and its runtime lives as long.
    unsafe {
        rquickjs::qjs::JS_GetStackOverflowCount(rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr()))
    }
}

/// Published QuickJS does not say when it ran out of stack: a stack overflow is then an
/// ordinary thrown `RangeError`, as Node reports it.
#[cfg(not(feature = "quickjs-patches"))]
fn stack_overflows(_ctx: &Ctx<'_>) -> u32 {
    0
}

/// A QuickJS runtime and context with the prelude installed, ready for runs.
pub(crate) struct Instance {
    // Field order matters: the context and the saved values go before the runtime.
    api: Persistent<Object<'static>>,
    context: Context,
    engine: Engine,
    state: Rc<RefCell<LoopState>>,
    rx: mpsc::Receiver<OpResult>,
    /// Set when a run broke a limit or the host failed: the instance must not be reused.
    pub(crate) poisoned: bool,
    /// The secrets of every run this context has served: a warm context's globals may still
    /// hold a secret after it was rotated, so it stays redacted.
    seen: Redactor,
}

impl Instance {
    /// A new runtime and context with the prelude installed; it has run no user code.
    pub(crate) fn new(limits: &RunLimits, cache: &Arc<CodeCache>) -> Result<Instance, RunError> {
        Engine::new(limits)?.instance(limits, cache)
    }

    /// Bytes its context holds now: about what freeing it will cost.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.engine.heap.context_bytes()
    }

    /// Bytes its whole QuickJS runtime holds now, as its allocator counts them (usable sizes
    /// of the live blocks): the context, and the bytecode the runtime keeps for its contexts.
    /// What keeping this instance warm costs.
    pub(crate) fn total_bytes(&self) -> usize {
        self.engine
            .heap
            .used
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Collects the garbage its context holds (cycles QuickJS's reference counting leaves,
    /// such as what loading modules left behind).
    pub(crate) fn collect(&self) {
        self.engine.rt.run_gc();
    }

    /// Most bytes its runtime held during the last run: about what the thread's allocator
    /// may keep once they are freed.
    pub(crate) fn peak_bytes(&self) -> usize {
        self.engine
            .heap
            .peak
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Frees this instance's context and creates a pristine one in the same QuickJS runtime
    /// (which saves creating and freeing the runtime). Nothing of the old context survives:
    /// it is freed and collected first, and the runtime is dropped instead (`None`) when the
    /// instance is poisoned, when anything of the old context is still queued to run, when
    /// the runtime still holds more than [`MAX_RUNTIME_RESIDUE_BYTES`] without a context, or
    /// after [`MAX_CONTEXTS_PER_RUNTIME`] contexts.
    pub(crate) fn recycle(self, limits: &RunLimits, cache: &Arc<CodeCache>) -> Option<Instance> {
        let Instance {
            api,
            context,
            engine,
            state,
            rx,
            poisoned,
            seen: _,
        } = self;
        // A pending exception is kept by the runtime, not the context: clear it. The lazy
        // globals' resolver is the runtime's too, and would keep the context alive.
        context.with(|ctx| {
            drop(ctx.catch());
            lazy::release(&ctx);
        });
        drop(api);
        drop(context);
        drop(state);
        drop(rx);
        if poisoned
            || engine.heap.was_refused()
            || engine.interrupt.interrupted.get()
            || engine.contexts >= MAX_CONTEXTS_PER_RUNTIME
        {
            return None;
        }
        engine.rt.run_gc();
        if engine.rt.is_job_pending()
            || engine.heap.was_refused()
            || engine.heap.context_bytes() > MAX_RUNTIME_RESIDUE_BYTES
        {
            return None;
        }
        engine.reset(limits);
        engine.instance(limits, cache).ok()
    }

    /// Runs `job` in this instance; its result and logs, with every secret the instance has
    /// seen redacted from the logs and the error (the returned value is left as the handler
    /// produced it: see `defender_core::redact`).
    pub(crate) fn run(&mut self, job: Job) -> RunOutput {
        let redactor = self.seen.union(&job.redactor);
        self.seen = redactor.clone();
        let budget = self.engine.heap.start_run(job.limits.memory_bytes);
        self.state.borrow_mut().start(RunContext {
            services: job.services.clone(),
            fetch: job.fetch.clone(),
            handle: job.handle.clone(),
            files: job.files.clone(),
            scope: job.scope.clone(),
            redactor: redactor.clone(),
            budget,
            interrupt: self.engine.interrupt.clone(),
        });
        self.engine
            .rt
            .set_max_stack_size(job.limits.max_stack_bytes);
        while self.rx.try_recv().is_ok() {}
        let deadline = Instant::now() + job.limits.timeout;
        self.engine.interrupt.deadline.set(deadline);
        *self.engine.interrupt.cancel.borrow_mut() = job.cancel.clone();

        let result = self.context.with(|ctx| {
            let overflows = stack_overflows(&ctx);
            let (heap, interrupted, state) = (
                &self.engine.heap,
                &self.engine.interrupt.interrupted,
                &self.state,
            );
            let observe = |ctx: &Ctx<'_>| {
                let st = state.borrow();
                Observed {
                    interrupted: interrupted.get(),
                    out_of_memory: heap.was_refused(),
                    stack_overflow: stack_overflows(ctx) != overflows,
                    ..st.observed
                }
            };
            let driver = Driver {
                state: &self.state,
                rx: &self.rx,
                deadline,
                interrupted: &self.engine.interrupt.interrupted,
                cancel: job.cancel.clone(),
                limits: job.limits,
                observe: &observe,
            };
            let api = self
                .api
                .clone()
                .restore(&ctx)
                .map_err(|e| RunError::Internal(e.to_string()))?;
            let entry = format!("{ACTION_ROOT}/index.js");
            let result = driver.drive(&ctx, &api, &entry, &job.event_json);
            // Whatever the script made of it, a broken limit is what ended the run.
            result.map_err(|e| errors::limit_error(observe(&ctx), &job.limits).unwrap_or(e))
        });
        if matches!(
            result,
            Err(RunError::Timeout(_)
                | RunError::OutOfMemory(_)
                | RunError::StackOverflow
                | RunError::Internal(_))
        ) || self.engine.heap.was_refused()
        {
            self.poisoned = true;
        }
        let logs = self.state.borrow_mut().end();
        let outcome = redactor.redact_outcome(RunOutcome { result, logs });
        (outcome.result, outcome.logs)
    }
}

//! One run on one script thread: a fresh QuickJS runtime and context, the prelude, the
//! action's handler, and the event loop that drives timers and host operations.

use crate::alloc::Heap;
use crate::files::{self, Files, ACTION_ROOT};
use crate::host::{self, FetchPolicy, OpError};
use crate::redact::Redactor;
use crate::script;
use chrono::Utc;
use defender_core::{LogEntry, LogLevel, RunError, RunLimits, RunServices};
use rquickjs::module::{Declared, WriteOptions};
use rquickjs::{
    context::intrinsic, Context, Ctx, Exception, Function, Module, Object, Persistent, Runtime,
    Value,
};
use serde_json::Value as Json;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRELUDE: &str = include_str!("../js/prelude.js");
const CLIENTS: &str = include_str!("../js/clients.js");
const WEB: &str = include_str!("../js/web.js");
const SUPPORT: &str = include_str!("../js/support.js");

/// Most bytes of log text one run keeps.
const MAX_LOG_BYTES: usize = 4 * 1024 * 1024;

/// Compiled code of one file.
#[derive(Clone)]
pub(crate) enum Compiled {
    /// A CommonJS file: a script whose completion value is the module wrapper function.
    Cjs(Arc<[u8]>),
    /// An ES module.
    Esm(Arc<[u8]>),
}

/// Bytecode of the prelude, of the client modules and of the lazily evaluated globals.
#[derive(Clone)]
struct PreludeCode {
    prelude: Arc<[u8]>,
    clients: Arc<[u8]>,
    web: Arc<[u8]>,
    support: Arc<[u8]>,
}

/// A `require` from a directory of a scope: `(scope, directory, request)`.
type ResolveKey = (Arc<str>, String, String);

/// Bytecode shared by all runs: per `(scope, path)`, where the scope is
/// `action_id@version` for the action's files and `node_modules` for the mounted packages.
#[derive(Default)]
pub(crate) struct CodeCache {
    map: Mutex<HashMap<(Arc<str>, String), Compiled>>,
    /// `require` resolutions, per `(scope, directory of the requiring file, request)`: the
    /// files behind a scope do not change, and resolving walks the file system.
    resolved: Mutex<HashMap<ResolveKey, String>>,
    /// The scope of the mounted `node_modules`.
    node_modules: Arc<str>,
    pub(crate) max_entries: usize,
    /// Identifies the owning `QuickJsRuntime` (for spare instances).
    pub(crate) id: u64,
    /// `process.env` of every run, as JSON.
    pub(crate) env_json: Arc<str>,
}

impl CodeCache {
    pub(crate) fn new(max_entries: usize, env_json: Arc<str>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        CodeCache {
            max_entries,
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            env_json,
            node_modules: Arc::from("node_modules"),
            ..Default::default()
        }
    }

    /// The cache scope of the file at `path`: the action's own files are per action version.
    fn scope_of<'a>(&'a self, action_scope: &'a Arc<str>, path: &str) -> &'a Arc<str> {
        if path.starts_with(ACTION_ROOT) {
            action_scope
        } else {
            &self.node_modules
        }
    }

    /// [`Files::resolve`], remembered per scope.
    fn resolve(
        &self,
        files: &Files,
        action_scope: &Arc<str>,
        from: &str,
        request: &str,
    ) -> Result<String, String> {
        let key = (
            self.scope_of(action_scope, from).clone(),
            files::dirname(from).to_owned(),
            request.to_owned(),
        );
        let lock = || self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = lock().get(&key) {
            return Ok(hit.clone());
        }
        let found = files.resolve(from, request)?;
        let mut map = lock();
        if map.len() >= self.max_entries {
            map.clear();
        }
        map.insert(key, found.clone());
        Ok(found)
    }

    fn get(&self, scope: &Arc<str>, path: &str) -> Option<Compiled> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(scope.clone(), path.to_owned()))
            .cloned()
    }

    fn put(&self, scope: &Arc<str>, path: &str, c: Compiled) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max_entries {
            map.clear();
        }
        map.insert((scope.clone(), path.to_owned()), c);
    }

    /// Number of cached files.
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Everything one run needs on its thread.
pub(crate) struct Job {
    pub(crate) files: Files,
    pub(crate) scope: Arc<str>,
    pub(crate) event_json: String,
    pub(crate) limits: RunLimits,
    pub(crate) services: Arc<RunServices>,
    pub(crate) fetch: Arc<FetchPolicy>,
    pub(crate) cache: Arc<CodeCache>,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) redactor: Redactor,
}

type OpResult = (u32, Result<(Json, Vec<String>), OpError>);

#[derive(Default)]
struct LoopState {
    logs: Vec<LogEntry>,
    log_bytes: usize,
    logs_truncated: bool,
    finished: Option<(i32, String)>,
    timers: BTreeMap<(Instant, u32), ()>,
    timer_due: HashMap<u32, Instant>,
    next_timer: u32,
    next_op: u32,
    ops: HashMap<u32, tokio::task::JoinHandle<()>>,
    services: Option<Arc<RunServices>>,
    fetch: Option<Arc<FetchPolicy>>,
    handle: Option<tokio::runtime::Handle>,
    files: Option<(Files, Arc<str>)>,
}

impl LoopState {
    fn log(&mut self, level: LogLevel, message: String) {
        if self.log_bytes + message.len() > MAX_LOG_BYTES {
            if !self.logs_truncated {
                self.logs_truncated = true;
                self.logs.push(LogEntry {
                    level: LogLevel::Warn,
                    timestamp: Utc::now(),
                    message: format!("log output truncated at {MAX_LOG_BYTES} bytes"),
                });
            }
            return;
        }
        self.log_bytes += message.len();
        self.logs.push(LogEntry {
            level,
            timestamp: Utc::now(),
            message,
        });
    }
}

fn level(n: i32) -> LogLevel {
    match n {
        0 => LogLevel::Debug,
        2 => LogLevel::Warn,
        3 => LogLevel::Error,
        _ => LogLevel::Info,
    }
}

/// ES modules are recognized by a top-level `export` or `import` statement.
fn is_esm(src: &str) -> bool {
    src.lines().any(|l| {
        let t = l.trim_start();
        (t.starts_with("export ")
            || t.starts_with("export{")
            || t.starts_with("import ")
            || t.starts_with("import{"))
            && l.len() - t.len() == 0
    })
}

fn strip_preamble(src: &str) -> &str {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    if src.starts_with("#!") {
        // Keep the line count: drop only the shebang text.
        match src.find('\n') {
            Some(i) => &src[i..],
            None => "",
        }
    } else {
        src
    }
}

/// Loads module bytecode produced by [`Module::write`] in this process.
#[allow(unsafe_code)]
fn load_bytecode<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Module<'js, Declared>> {
    // SAFETY: the bytes come only from `Module::write` of the same QuickJS build, kept in
    // this process's cache; they are never read from user input or disk.
    unsafe { Module::load(ctx.clone(), bytes) }
}

/// Evaluates a declared module and returns it with its default export and namespace.
fn eval_module<'js>(ctx: &Ctx<'js>, m: Module<'js, Declared>) -> rquickjs::Result<Object<'js>> {
    let (m, promise) = m.eval()?;
    // Modules without top-level await settle synchronously; drive jobs just in case.
    while promise.state() == rquickjs::promise::PromiseState::Pending && ctx.execute_pending_job() {
    }
    if let Some(Err(e)) = promise.result::<Value<'js>>() {
        return Err(e);
    }
    m.namespace()
}

/// A CommonJS file as a script whose completion value is Node's module wrapper function
/// (on the file's first line, so line numbers stay those of the file).
fn wrap_cjs(src: &str) -> String {
    format!("(function (exports, require, module, __filename, __dirname) {{{src}\n}})")
}

fn compile_file<'js>(
    ctx: &Ctx<'js>,
    files: &Files,
    action_scope: &Arc<str>,
    cache: &CodeCache,
    path: &str,
) -> rquickjs::Result<Value<'js>> {
    let out = Object::new(ctx.clone())?;
    let scope = cache.scope_of(action_scope, path);
    if path.ends_with(".json") {
        let bytes = files
            .read(path)
            .ok_or_else(|| Exception::throw_message(ctx, &format!("cannot read {path}")))?;
        out.set("kind", "json")?;
        out.set("text", String::from_utf8_lossy(&bytes).into_owned())?;
        return Ok(out.into_value());
    }
    let compiled = match cache.get(scope, path) {
        Some(c) => c,
        None => {
            let bytes = files
                .read(path)
                .ok_or_else(|| Exception::throw_message(ctx, &format!("cannot read {path}")))?;
            let text = String::from_utf8_lossy(&bytes);
            let src = strip_preamble(&text);
            // CommonJS first: a real ES module does not parse inside a function body. Like
            // Node, CommonJS is sloppy unless the file says 'use strict'.
            match script::compile(ctx, path, &wrap_cjs(src), script::Mode::User) {
                Ok(code) => {
                    cache.put(scope, path, Compiled::Cjs(code.clone()));
                    Compiled::Cjs(code)
                }
                Err(rquickjs::Error::Exception) if is_esm(src) && !path.ends_with(".cjs") => {
                    let _ = ctx.catch();
                    let m = Module::declare(ctx.clone(), path, src)?;
                    let code: Arc<[u8]> = m.write(WriteOptions::default())?.into();
                    cache.put(scope, path, Compiled::Esm(code.clone()));
                    Compiled::Esm(code)
                }
                Err(e) => return Err(e),
            }
        }
    };
    match compiled {
        Compiled::Cjs(code) => {
            out.set("kind", "cjs")?;
            out.set("fn", script::eval_shared(ctx, &code)?)?;
        }
        Compiled::Esm(code) => {
            let ns = eval_module(ctx, load_bytecode(ctx, &code)?)?;
            out.set("kind", "esm")?;
            out.set("ns", ns)?;
        }
    }
    Ok(out.into_value())
}

/// The prelude's bytecode, compiled once per process (it does not depend on any runtime).
static PRELUDE_CODE: Mutex<Option<PreludeCode>> = Mutex::new(None);

fn prelude_code(ctx: &Ctx<'_>) -> rquickjs::Result<PreludeCode> {
    let mut slot = PRELUDE_CODE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = slot.as_ref() {
        return Ok(p.clone());
    }
    // Global scripts without debug information (reading it back would be most of the cost,
    // and stack frames inside the prelude are no help to an action's author), read once per
    // runtime: see src/script.rs.
    let code = PreludeCode {
        prelude: script::compile(ctx, "defender:prelude", PRELUDE, script::Mode::Sandbox)?,
        clients: script::compile(ctx, "defender:clients", CLIENTS, script::Mode::Sandbox)?,
        web: script::compile(ctx, "defender:web", WEB, script::Mode::Sandbox)?,
        support: script::compile(ctx, "defender:support", SUPPORT, script::Mode::Sandbox)?,
    };
    *slot = Some(code.clone());
    Ok(code)
}

/// Text of the pending exception, for internal errors.
fn exception_text(ctx: &Ctx<'_>) -> String {
    let v = ctx.catch();
    if let Some(ex) = v.as_exception() {
        return format!(
            "{}{}",
            ex.message().unwrap_or_default(),
            ex.stack().map(|s| format!("\n{s}")).unwrap_or_default()
        );
    }
    v.as_string()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| format!("{v:?}"))
}

/// Maps a thrown JavaScript error payload to a run error.
fn thrown(payload: &str, limits: &RunLimits) -> RunError {
    let v: Json = serde_json::from_str(payload).unwrap_or(Json::Null);
    let message = v
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or("error")
        .to_owned();
    let stack = v.get("stack").and_then(Json::as_str).map(str::to_owned);
    let name = v.get("name").and_then(Json::as_str).unwrap_or_default();
    let code = v.get("code").and_then(Json::as_str).unwrap_or_default();
    match (name, code, message.as_str()) {
        (_, host::INSUFFICIENT_FUNDS, _) => RunError::InsufficientFunds(message),
        (_, host::RELAYER_CONFIGURATION, _) => RunError::RelayerConfiguration(message),
        (
            "InternalError" | "RangeError",
            _,
            "stack overflow" | "Maximum call stack size exceeded",
        ) => RunError::StackOverflow,
        ("InternalError" | "RangeError", _, "out of memory") => {
            RunError::OutOfMemory(limits.memory_bytes)
        }
        _ => RunError::Thrown { message, stack },
    }
}

/// The intrinsics every context starts with: what module code, async functions and literals
/// (`/re/`, `1n`) need before any global is looked up. The others are added on first use
/// of one of their globals ([`intrinsic_group`]): creating and freeing them is about half
/// the cost of a full context, and a typical handler never touches most of them.
type EagerIntrinsics = (
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Promise,
    intrinsic::BigInt,
);

/// The globals of the lazy intrinsic group `group` (numbered as in [`LAZY_GLOBALS`]), added to the context once, in a new object: the engine defines them there
/// instead of on the global object, where the script may have replaced or deleted them.
/// `undefined` for an unknown group or one already added.
#[allow(unsafe_code)]
fn intrinsic_group<'js>(
    ctx: &Ctx<'js>,
    added: &Cell<u8>,
    group: u32,
) -> rquickjs::Result<Value<'js>> {
    let bit = 1u8.checked_shl(group).unwrap_or(0);
    if group > 6 || added.get() & bit != 0 {
        return Ok(Value::new_undefined(ctx.clone()));
    }
    added.set(added.get() | bit);
    // SAFETY: `ctx` is a live context on this thread. `JS_NewIntrinsicGroup` (vendor patch)
    // runs what `JS_NewContext` runs for the group, once per context thanks to the bit
    // above, and returns an owned value or JS_EXCEPTION.
    let raw = unsafe { rquickjs::qjs::JS_NewIntrinsicGroup(ctx.as_raw().as_ptr(), group as _) };
    // SAFETY: inspects the tag of a value.
    if unsafe { rquickjs::qjs::JS_IsException(raw) } {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: `raw` is owned and belongs to this context.
    Ok(unsafe { Value::from_raw(ctx.clone(), raw) })
}

/// The prelude's resolver of lazily created globals (`resolveLazy` in js/prelude.js), called
/// by [`lazy_global_value`]. It lives in the runtime's userdata, which holds one context's at
/// a time and is emptied before that context is freed.
struct LazyResolver<'js>(Function<'js>);

// SAFETY: the type's only lifetime is the `'js` of the function it holds.
#[allow(unsafe_code)]
unsafe impl<'js> rquickjs::JsLifetime<'js> for LazyResolver<'js> {
    type Changed<'to> = LazyResolver<'to>;
}

/// The globals created on first use, by group: the intrinsic groups of
/// `JS_NewIntrinsicGroup` (0 to 6), then js/support.js (7), js/web.js (8) and the global
/// object's own names (9), as `SUPPORT`, `WEB` and `SELF` in js/prelude.js.
const LAZY_GLOBALS: [&[&str]; 10] = [
    &["Date"],
    &["Map", "Set", "WeakMap", "WeakSet"],
    &[
        "ArrayBuffer",
        "SharedArrayBuffer",
        "Uint8ClampedArray",
        "Int8Array",
        "Uint8Array",
        "Int16Array",
        "Uint16Array",
        "Int32Array",
        "Uint32Array",
        "BigInt64Array",
        "BigUint64Array",
        "Float16Array",
        "Float32Array",
        "Float64Array",
        "DataView",
        "Atomics",
    ],
    &["Proxy"],
    &["WeakRef", "FinalizationRegistry"],
    &["performance"],
    &["DOMException"],
    &[
        "console",
        "setTimeout",
        "setInterval",
        "setImmediate",
        "clearTimeout",
        "clearInterval",
        "clearImmediate",
        "queueMicrotask",
    ],
    &[
        "TextEncoder",
        "TextDecoder",
        "btoa",
        "atob",
        "Buffer",
        "crypto",
        "URL",
        "URLSearchParams",
        "Headers",
        "Request",
        "Response",
        "fetch",
        "process",
    ],
    &["global", "self"],
];

/// Defines each of [`LAZY_GLOBALS`] on the global object as a property that the engine
/// creates on first use, with the prelude's `resolveLazy(group, name)` (see
/// [`lazy_global_value`]), and that is a plain writable, configurable data property from then
/// on; until then it costs a slot in the global object's shape and no object (patched
/// QuickJS, see vendor/README.md).
#[allow(unsafe_code)]
fn define_lazy_globals(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    use rquickjs::qjs;
    let raw = ctx.as_raw().as_ptr();
    let global = ctx.globals();
    // SAFETY: `raw` is the live context of `ctx` on this thread; the runtime's hook is a
    // plain function; each atom is created and freed here and `global` is borrowed.
    unsafe {
        qjs::JS_SetHostAutoInit(qjs::JS_GetRuntime(raw), Some(lazy_global_value));
        for (group, names) in LAZY_GLOBALS.iter().enumerate() {
            for (k, name) in names.iter().enumerate() {
                let atom = qjs::JS_NewAtomLen(raw, name.as_ptr().cast(), name.len() as _);
                if atom == qjs::JS_ATOM_NULL {
                    return Err(rquickjs::Error::Allocation);
                }
                let r = qjs::JS_DefineHostAutoInitProperty(
                    raw,
                    global.as_raw(),
                    atom,
                    (group << 8 | k) as u32,
                    (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_WRITABLE) as _,
                );
                qjs::JS_FreeAtom(raw, atom);
                if r < 0 {
                    return Err(rquickjs::Error::Allocation);
                }
            }
        }
    }
    Ok(())
}

/// The engine's hook for lazily created properties: the value of lazy global `index`, from
/// the prelude's resolver; `JS_EXCEPTION` with the exception pending when it throws.
#[allow(unsafe_code)]
unsafe extern "C" fn lazy_global_value(
    ctx: *mut rquickjs::qjs::JSContext,
    _obj: rquickjs::qjs::JSValue,
    _prop: rquickjs::qjs::JSAtom,
    index: u32,
) -> rquickjs::qjs::JSValue {
    use rquickjs::qjs;
    let Some(raw) = std::ptr::NonNull::new(ctx) else {
        return qjs::JS_UNDEFINED;
    };
    let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the engine calls this on the thread that owns the context, while it runs.
        let ctx = unsafe { Ctx::from_raw(raw) };
        let resolver = ctx.userdata::<LazyResolver<'_>>().map(|r| r.0.clone());
        let (group, k) = ((index >> 8) as usize, (index & 0xff) as usize);
        let name = LAZY_GLOBALS.get(group).and_then(|names| names.get(k));
        let value = match (resolver, name) {
            (Some(f), Some(name)) => f.call::<_, Value<'_>>((group, *name)),
            _ => Ok(Value::new_undefined(ctx.clone())),
        };
        match value {
            // SAFETY: the returned value gets a reference of its own.
            Ok(v) => unsafe { qjs::JS_DupValue(raw.as_ptr(), v.as_raw()) },
            Err(rquickjs::Error::Exception) => qjs::JS_EXCEPTION,
            Err(e) => {
                let _ = Exception::throw_internal(&ctx, &e.to_string());
                qjs::JS_EXCEPTION
            }
        }
    }));
    value.unwrap_or_else(|_| {
        // SAFETY: as above.
        let ctx = unsafe { Ctx::from_raw(raw) };
        let _ = Exception::throw_internal(&ctx, "a lazy global failed");
        qjs::JS_EXCEPTION
    })
}

/// Most fresh contexts created one after the other in one QuickJS runtime before the runtime
/// itself is replaced (a bound on whatever a freed context could leave behind in it).
const MAX_CONTEXTS_PER_RUNTIME: u32 = 64;

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
}

/// A QuickJS runtime with its limits and interrupt handler, without a context.
struct Engine {
    rt: Runtime,
    interrupted: Rc<Cell<bool>>,
    deadline: Rc<Cell<Instant>>,
    cancel: Rc<RefCell<Arc<AtomicBool>>>,
    heap: Rc<Heap>,
    /// Contexts created in `rt` so far.
    contexts: u32,
}

impl Engine {
    fn new(limits: &RunLimits) -> Result<Engine, RunError> {
        let heap = Rc::new(Heap::default());
        heap.limit.set(limits.memory_bytes);
        let rt = Runtime::new_with_alloc(crate::alloc::LimitedAllocator::new(heap.clone()))
            .map_err(|e| RunError::Internal(e.to_string()))?;
        let interrupted = Rc::new(Cell::new(false));
        let deadline = Rc::new(Cell::new(Instant::now() + limits.timeout));
        let cancel = Rc::new(RefCell::new(Arc::new(AtomicBool::new(false))));
        {
            let (interrupted, deadline, cancel) =
                (interrupted.clone(), deadline.clone(), cancel.clone());
            rt.set_interrupt_handler(Some(Box::new(move || {
                if interrupted.get() {
                    return true;
                }
                if Instant::now() >= deadline.get() || cancel.borrow().load(Ordering::Relaxed) {
                    interrupted.set(true);
                    return true;
                }
                false
            })));
        }
        let engine = Engine {
            rt,
            interrupted,
            deadline,
            cancel,
            heap,
            contexts: 0,
        };
        engine.reset(limits);
        Ok(engine)
    }

    /// Sets the limits for the next context and clears the previous run's flags.
    fn reset(&self, limits: &RunLimits) {
        self.heap.limit.set(limits.memory_bytes);
        self.rt.set_max_stack_size(limits.max_stack_bytes);
        self.interrupted.set(false);
        self.deadline.set(Instant::now() + limits.timeout);
        *self.cancel.borrow_mut() = Arc::new(AtomicBool::new(false));
    }

    /// A new context in this runtime, with the prelude installed.
    fn instance(
        mut self,
        limits: &RunLimits,
        cache: &Arc<CodeCache>,
    ) -> Result<Instance, RunError> {
        let internal = |e: rquickjs::Error| RunError::Internal(e.to_string());
        let context = Context::custom::<EagerIntrinsics>(&self.rt).map_err(internal)?;
        self.contexts += 1;
        let (tx, rx) = mpsc::channel::<OpResult>();
        let state = Rc::new(RefCell::new(LoopState::default()));
        let oom = &self.heap.refused;
        let api = context.with(|ctx| -> Result<Persistent<Object<'static>>, RunError> {
            script::attach_heap(&ctx, &self.heap);
            let api = setup(&ctx, cache, &state, &tx).map_err(|e| {
                if oom.get() {
                    return RunError::OutOfMemory(limits.memory_bytes);
                }
                match e {
                    rquickjs::Error::Exception => RunError::Internal(exception_text(&ctx)),
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
        })
    }
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

    /// Frees this instance's context and creates a pristine one in the same QuickJS runtime
    /// (which saves creating and freeing the runtime). Nothing of the old context survives:
    /// it is freed and collected first, and the runtime is dropped instead (`None`) when the
    /// instance is poisoned, when anything of the old context is still queued to run, or
    /// after [`MAX_CONTEXTS_PER_RUNTIME`] contexts.
    pub(crate) fn recycle(self, limits: &RunLimits, cache: &Arc<CodeCache>) -> Option<Instance> {
        let Instance {
            api,
            context,
            engine,
            state,
            rx,
            poisoned,
        } = self;
        // A pending exception is kept by the runtime, not the context: clear it. The lazy
        // globals' resolver is the runtime's too, and would keep the context alive.
        context.with(|ctx| {
            drop(ctx.catch());
            let _ = ctx.remove_userdata::<LazyResolver<'_>>();
        });
        drop(api);
        drop(context);
        drop(state);
        drop(rx);
        if poisoned
            || engine.heap.refused.get()
            || engine.interrupted.get()
            || engine.contexts >= MAX_CONTEXTS_PER_RUNTIME
        {
            return None;
        }
        engine.rt.run_gc();
        if engine.rt.is_job_pending() || engine.heap.refused.get() {
            return None;
        }
        engine.reset(limits);
        engine.instance(limits, cache).ok()
    }

    /// Runs `job` in this instance; its redacted result and logs.
    pub(crate) fn run(&mut self, job: Job) -> (Result<Json, RunError>, Vec<LogEntry>) {
        {
            let mut st = self.state.borrow_mut();
            st.finished = None;
            st.timers.clear();
            st.timer_due.clear();
            st.logs.clear();
            st.log_bytes = 0;
            st.logs_truncated = false;
            st.services = Some(job.services.clone());
            st.fetch = Some(job.fetch.clone());
            st.handle = Some(job.handle.clone());
            st.files = Some((job.files.clone(), job.scope.clone()));
        }
        self.engine.heap.limit.set(job.limits.memory_bytes);
        self.engine
            .rt
            .set_max_stack_size(job.limits.max_stack_bytes);
        while self.rx.try_recv().is_ok() {}
        self.engine
            .deadline
            .set(Instant::now() + job.limits.timeout);
        *self.engine.cancel.borrow_mut() = job.cancel.clone();
        let result = self.drive(&job);
        let result = match result {
            // Whatever the script made of it, a refused allocation is what ended the run.
            Err(RunError::Thrown { .. } | RunError::Internal(_) | RunError::StackOverflow)
                if self.engine.heap.refused.get() =>
            {
                Err(RunError::OutOfMemory(self.engine.heap.limit.get()))
            }
            other => other,
        };
        if matches!(
            result,
            Err(RunError::Timeout(_)
                | RunError::OutOfMemory(_)
                | RunError::StackOverflow
                | RunError::Internal(_))
        ) || self.engine.heap.refused.get()
        {
            self.poisoned = true;
        }
        let mut st = self.state.borrow_mut();
        for (_, h) in st.ops.drain() {
            h.abort();
        }
        st.services = None;
        st.files = None;
        st.timers.clear();
        st.timer_due.clear();
        let mut logs = std::mem::take(&mut st.logs);
        drop(st);
        for l in &mut logs {
            job.redactor.redact_in_place(&mut l.message);
        }
        let r = &job.redactor;
        let result = match result {
            Ok(v) => Ok(r.redact_json(v)),
            Err(RunError::Thrown { message, stack }) => Err(RunError::Thrown {
                message: r.redact(&message),
                stack: stack.map(|s| r.redact(&s)),
            }),
            Err(RunError::InsufficientFunds(m)) => Err(RunError::InsufficientFunds(r.redact(&m))),
            Err(RunError::RelayerConfiguration(m)) => {
                Err(RunError::RelayerConfiguration(r.redact(&m)))
            }
            Err(RunError::InvalidCode(m)) => Err(RunError::InvalidCode(r.redact(&m))),
            Err(e) => Err(e),
        };
        (result, logs)
    }

    fn drive(&self, job: &Job) -> Result<Json, RunError> {
        let deadline = self.engine.deadline.get();
        let interrupted = &self.engine.interrupted;
        let rx = &self.rx;
        let cancel = self.engine.cancel.borrow().clone();
        let timeout_err = || RunError::Timeout(job.limits.timeout);
        self.context.with(|ctx| -> Result<Json, RunError> {
            // A failure while driving the context: classify it.
            let fail = |ctx: &Ctx<'_>, e: rquickjs::Error| -> RunError {
                if interrupted.get() {
                    return timeout_err();
                }
                match e {
                    rquickjs::Error::Exception => {
                        let text = exception_text(ctx);
                        if text.contains("out of memory") {
                            RunError::OutOfMemory(job.limits.memory_bytes)
                        } else if text.contains("stack overflow")
                            || text.contains("call stack size")
                        {
                            RunError::StackOverflow
                        } else {
                            RunError::Internal(text)
                        }
                    }
                    rquickjs::Error::Allocation => RunError::OutOfMemory(job.limits.memory_bytes),
                    other => RunError::Internal(other.to_string()),
                }
            };
            let api = self.api.clone().restore(&ctx).map_err(|e| fail(&ctx, e))?;
            let resolve_op: Function<'_> = api.get("resolveOp").map_err(|e| fail(&ctx, e))?;
            let fire: Function<'_> = api.get("fire").map_err(|e| fail(&ctx, e))?;
            let start_fn: Function<'_> = api.get("start").map_err(|e| fail(&ctx, e))?;
            start_fn
                .call::<_, ()>((format!("{ACTION_ROOT}/index.js"), job.event_json.as_str()))
                .map_err(|e| user_error(fail(&ctx, e)))?;

            loop {
                // Microtasks.
                while ctx.execute_pending_job() {
                    if interrupted.get() {
                        return Err(timeout_err());
                    }
                }
                if interrupted.get() {
                    return Err(timeout_err());
                }
                if let Some((kind, payload)) = self.state.borrow_mut().finished.take() {
                    return match kind {
                        1 => Ok(serde_json::from_str(&payload).unwrap_or(Json::Null)),
                        2 => {
                            let v: Json = serde_json::from_str(&payload).unwrap_or(Json::Null);
                            Err(RunError::InvalidCode(
                                v.get("message")
                                    .and_then(Json::as_str)
                                    .unwrap_or("invalid code")
                                    .to_owned(),
                            ))
                        }
                        _ => Err(thrown(&payload, &job.limits)),
                    };
                }
                // Completed host operations.
                let mut progressed = false;
                while let Ok((id, res)) = rx.try_recv() {
                    progressed = true;
                    deliver(&self.state, &resolve_op, id, res).map_err(|e| fail(&ctx, e))?;
                }
                // Due timers.
                let now = Instant::now();
                let due: Vec<u32> = {
                    let mut st = self.state.borrow_mut();
                    let keys: Vec<(Instant, u32)> = st
                        .timers
                        .range(..=(now, u32::MAX))
                        .map(|(k, _)| *k)
                        .collect();
                    for k in &keys {
                        st.timers.remove(k);
                        st.timer_due.remove(&k.1);
                    }
                    keys.into_iter().map(|k| k.1).collect()
                };
                for id in due {
                    progressed = true;
                    if let Err(e) = fire.call::<_, ()>((id,)) {
                        // An uncaught error in a timer callback fails the run, as in Node.
                        return Err(user_error(fail(&ctx, e)));
                    }
                }
                if progressed {
                    continue;
                }
                let (next_timer, ops_pending) = {
                    let st = self.state.borrow();
                    (st.timers.keys().next().map(|k| k.0), !st.ops.is_empty())
                };
                if next_timer.is_none() && !ops_pending {
                    // Nothing can ever settle the handler's promise.
                    return Err(timeout_err());
                }
                let until = next_timer.map_or(deadline, |t| t.min(deadline));
                let now = Instant::now();
                if now >= deadline || cancel.load(Ordering::Relaxed) {
                    return Err(timeout_err());
                }
                // Wake at least every 100 ms to notice cancellation.
                let wait = until
                    .saturating_duration_since(now)
                    .min(Duration::from_millis(100));
                match rx.recv_timeout(wait) {
                    Ok((id, res)) => {
                        deliver(&self.state, &resolve_op, id, res).map_err(|e| fail(&ctx, e))?;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(RunError::Internal("host channel closed".into()))
                    }
                }
            }
        })
    }
}

thread_local! {
    /// A pristine instance (prelude installed, no user code run), prepared after a run so
    /// that the next run on this thread does not wait for context creation.
    static SPARE: RefCell<Option<(u64, Instance)>> = const { RefCell::new(None) };
}

/// Output of a run.
pub(crate) type RunOutput = (Result<Json, RunError>, Vec<LogEntry>);

/// Runs one job in a fresh instance (the thread's pristine spare when there is one); returns
/// the output and the used instance, to be recycled or dropped after the output is delivered.
pub(crate) fn run(job: Job) -> (RunOutput, Option<Instance>) {
    let spare = SPARE.with(|s| {
        let mut s = s.borrow_mut();
        match s.take() {
            Some((id, i)) if id == job.cache.id => Some(i),
            _ => None,
        }
    });
    let instance = match spare {
        Some(i) => Ok(i),
        None => Instance::new(&job.limits, &job.cache),
    };
    match instance {
        Ok(mut i) => {
            let out = i.run(job);
            (out, Some(i))
        }
        Err(e) => ((Err(e), Vec::new()), None),
    }
}

/// Prepares this thread's spare instance for the runtime that owns `cache`, in the QuickJS
/// runtime of `used` (the instance of the run that just ended on this thread) when it can be
/// recycled.
pub(crate) fn prepare_spare(cache: &Arc<CodeCache>, used: Option<Instance>) {
    let ready = SPARE.with(|s| s.borrow().as_ref().is_some_and(|(id, _)| *id == cache.id));
    if ready {
        return;
    }
    let limits = RunLimits::default();
    let spare = match used.and_then(|i| i.recycle(&limits, cache)) {
        Some(i) => Some(i),
        None => Instance::new(&limits, cache).ok(),
    };
    if let Some(i) = spare {
        SPARE.with(|s| *s.borrow_mut() = Some((cache.id, i)));
    }
}

/// An exception raised by the user's code (not by the host) is a `Thrown` error.
fn user_error(e: RunError) -> RunError {
    match e {
        RunError::Internal(text) => {
            let (message, stack) = match text.split_once('\n') {
                Some((m, s)) => (m.to_owned(), Some(s.to_owned())),
                None => (text, None),
            };
            RunError::Thrown { message, stack }
        }
        e => e,
    }
}

fn deliver<'js>(
    state: &Rc<RefCell<LoopState>>,
    resolve_op: &Function<'js>,
    id: u32,
    res: Result<(Json, Vec<String>), OpError>,
) -> rquickjs::Result<()> {
    state.borrow_mut().ops.remove(&id);
    match res {
        Ok((v, lines)) => {
            {
                let mut st = state.borrow_mut();
                for l in lines {
                    st.log(LogLevel::Warn, l);
                }
            }
            resolve_op.call::<_, ()>((id, true, v.to_string()))
        }
        Err(e) => resolve_op.call::<_, ()>((id, false, e.to_json())),
    }
}

fn setup<'js>(
    ctx: &Ctx<'js>,
    cache: &Arc<CodeCache>,
    state: &Rc<RefCell<LoopState>>,
    tx: &mpsc::Sender<OpResult>,
) -> rquickjs::Result<Object<'js>> {
    let PreludeCode {
        prelude,
        clients,
        web,
        support,
    } = prelude_code(ctx)?;
    let host = Object::new(ctx.clone())?;

    let st = state.clone();
    host.set(
        "log",
        Function::new(ctx.clone(), move |lvl: i32, msg: String| {
            st.borrow_mut().log(level(lvl), msg);
        })?,
    )?;
    let st = state.clone();
    host.set(
        "finish",
        Function::new(ctx.clone(), move |kind: i32, payload: String| {
            let mut s = st.borrow_mut();
            if s.finished.is_none() {
                s.finished = Some((kind, payload));
            }
        })?,
    )?;
    let st = state.clone();
    host.set(
        "setTimer",
        Function::new(ctx.clone(), move |ms: f64| -> u32 {
            let mut s = st.borrow_mut();
            s.next_timer += 1;
            let id = s.next_timer;
            let ms = if ms.is_finite() {
                ms.clamp(0.0, 2_147_483_647.0)
            } else {
                0.0
            };
            let due = Instant::now() + Duration::from_micros((ms * 1000.0) as u64);
            s.timers.insert((due, id), ());
            s.timer_due.insert(id, due);
            id
        })?,
    )?;
    let st = state.clone();
    host.set(
        "clearTimer",
        Function::new(ctx.clone(), move |id: u32| {
            let mut s = st.borrow_mut();
            if let Some(due) = s.timer_due.remove(&id) {
                s.timers.remove(&(due, id));
            }
        })?,
    )?;
    let st = state.clone();
    let tx = tx.clone();
    host.set(
        "op",
        Function::new(ctx.clone(), move |op: String, arg: String| -> u32 {
            let mut s = st.borrow_mut();
            s.next_op += 1;
            let id = s.next_op;
            let tx = tx.clone();
            let (Some(services), Some(fetch), Some(handle)) =
                (s.services.clone(), s.fetch.clone(), s.handle.clone())
            else {
                return id;
            };
            let h = handle.spawn(async move {
                let arg: Json = serde_json::from_str(&arg).unwrap_or(Json::Null);
                let res = host::dispatch(&op, arg, &services, &fetch).await;
                let _ = tx.send((id, res));
            });
            s.ops.insert(id, h);
            id
        })?,
    )?;
    let start = Instant::now();
    host.set(
        "now",
        Function::new(ctx.clone(), move || start.elapsed().as_secs_f64() * 1000.0)?,
    )?;
    host.set(
        "random",
        Function::new(ctx.clone(), |n: usize| -> String {
            let mut s = String::with_capacity(n * 2);
            for _ in 0..n.min(65536) {
                s.push_str(&format!("{:02x}", fastrand::u8(..)));
            }
            s
        })?,
    )?;
    let added = Cell::new(0u8);
    host.set(
        "intrinsic",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, group: u32| {
            intrinsic_group(&ctx, &added, group)
        })?,
    )?;
    host.set(
        "uuid",
        Function::new(ctx.clone(), || uuid::Uuid::new_v4().to_string())?,
    )?;
    let env = cache.env_json.to_string();
    host.set("env", Function::new(ctx.clone(), move || env.clone())?)?;
    let st = state.clone();
    let resolve_cache = cache.clone();
    host.set(
        "resolve",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, from: String, request: String| -> rquickjs::Result<String> {
                let files = st.borrow().files.clone();
                let (files, scope) =
                    files.ok_or_else(|| Exception::throw_message(&ctx, "no run in progress"))?;
                resolve_cache
                    .resolve(&files, &scope, &from, &request)
                    .map_err(|m| Exception::throw_message(&ctx, &m))
            },
        )?,
    )?;
    let st = state.clone();
    let code_cache = cache.clone();
    host.set(
        "load",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, path: String| -> rquickjs::Result<Value<'js>> {
                // Clone out of the state: loading runs module code that logs and requires.
                let files = st.borrow().files.clone();
                let (files, scope) =
                    files.ok_or_else(|| Exception::throw_message(&ctx, "no run in progress"))?;
                compile_file(&ctx, &files, &scope, &code_cache, &path)
            },
        )?,
    )?;

    let install = script::eval_shared(ctx, &prelude)?;
    let install = install
        .as_function()
        .ok_or_else(|| Exception::throw_internal(ctx, "the prelude is not a function"))?;
    define_lazy_globals(ctx)?;
    let api: Object<'js> = install.call((
        host,
        script_loader(ctx, clients)?,
        script_loader(ctx, web)?,
        script_loader(ctx, support)?,
    ))?;
    let resolve: Function<'js> = api.get("resolveLazy")?;
    ctx.store_userdata(LazyResolver(resolve))
        .map_err(|_| Exception::throw_internal(ctx, "lazy globals are being resolved"))?;
    Ok(api)
}

/// A function that runs the script `code` and returns its completion value.
fn script_loader<'js>(ctx: &Ctx<'js>, code: Arc<[u8]>) -> rquickjs::Result<Function<'js>> {
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>| -> rquickjs::Result<Value<'js>> { script::eval_shared(&ctx, &code) },
    )
}

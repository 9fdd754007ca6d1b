//! [`QuickJsRuntime`]: the [`ActionRuntime`] that runs Defender actions in QuickJS.

use crate::files::Files;
use crate::host::FetchPolicy;
use crate::pool::Pool;
use crate::sandbox::{self, CodeCache, Job};
use async_trait::async_trait;
use bytes::Bytes;
use defender_core::redact::Redactor;
use defender_core::LogEntry;
use defender_core::{
    ActionCode, ActionRuntime, CodeSource, RunError, RunOutcome, RunRequest, MAX_CODE_BYTES,
};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// How a [`QuickJsRuntime`] is set up.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// A `node_modules` directory mounted read-only at `/node_modules` for `require` (the
    /// packages Defender pre-installed, such as `ethers`). `None`: only the action's own files.
    pub node_modules: Option<PathBuf>,
    /// When not empty, the only hosts `fetch` may reach: `example.com`, `example.com:8443`,
    /// `*.example.com` or `[::1]:3000`. An entry without a port opens only the scheme's
    /// default port (80 or 443). An entry may name an internal address (a local service on
    /// purpose). Empty (the default): any public address, as on Defender; internal addresses
    /// (loopback, private, link-local, cloud metadata) are refused, whether written in the URL,
    /// resolved from a host name, or reached by a redirect (at most 20 are followed).
    pub fetch_allowlist: Vec<String>,
    /// Hosts `fetch` never reaches, in the allowlist's syntax.
    pub fetch_denylist: Vec<String>,
    /// `process.env` of every run (empty by default).
    pub env: BTreeMap<String, String>,
    /// Most script threads; runs beyond this wait for a free thread.
    pub max_threads: usize,
    /// Native stack size of each script thread. It must exceed the runs'
    /// `max_stack_bytes` by a safety margin (the runtime clamps the limit to half of it).
    pub thread_stack_bytes: usize,
    /// Most compiled files kept in the bytecode cache (it is cleared when full).
    pub max_cached_files: usize,
    /// Most bytes of compiled code (and their keys) kept in the bytecode cache (it is
    /// cleared when full).
    pub max_cached_bytes: usize,
    /// How long a script thread may wait for a run before it ends (the last one stays),
    /// giving its memory back.
    pub thread_idle: std::time::Duration,
    /// Most runs waiting for a script thread when all `max_threads` are busy; a run beyond
    /// them is not started and fails at once with [`RunError::Throttled`].
    pub max_queued_runs: usize,
    /// Most actions that keep a warm context (0, the default: a fresh context for every run).
    /// See [`QuickJsRuntime`] for the warm-context policy.
    pub warm_contexts: usize,
    /// How long an unused warm context is kept.
    pub warm_idle: std::time::Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            node_modules: None,
            fetch_allowlist: Vec::new(),
            fetch_denylist: Vec::new(),
            env: BTreeMap::new(),
            max_threads: 64,
            thread_stack_bytes: 8 * 1024 * 1024,
            max_cached_files: 20_000,
            max_cached_bytes: 64 * 1024 * 1024,
            max_queued_runs: 1024,
            thread_idle: std::time::Duration::from_secs(5),
            warm_contexts: 0,
            warm_idle: std::time::Duration::from_secs(300),
        }
    }
}

impl RuntimeConfig {
    /// Mounts a `node_modules` directory.
    pub fn with_node_modules(mut self, dir: impl Into<PathBuf>) -> Self {
        self.node_modules = Some(dir.into());
        self
    }

    /// Refuses `fetch` to a host (`host`, `host:port` or `*.domain`).
    pub fn deny_fetch(mut self, host: impl Into<String>) -> Self {
        self.fetch_denylist.push(host.into());
        self
    }

    /// Allows `fetch` to a host (`host`, `host:port` or `*.domain`); without a port, only
    /// the scheme's default port. Once one host is allowed, only allowed hosts are.
    pub fn allow_fetch(mut self, host: impl Into<String>) -> Self {
        self.fetch_allowlist.push(host.into());
        self
    }

    /// Keeps a warm context for up to `n` actions (see [`QuickJsRuntime`]).
    pub fn with_warm_contexts(mut self, n: usize) -> Self {
        self.warm_contexts = n;
        self
    }

    /// Sets one `process.env` variable.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }
}

struct Inner {
    node_modules: Option<Arc<PathBuf>>,
    fetch: Arc<FetchPolicy>,
    cache: Arc<CodeCache>,
    pool: Pool,
    max_stack_cap: usize,
    warm: Arc<Mutex<HashMap<Arc<str>, WarmSlot>>>,
    warm_max: usize,
    warm_idle: std::time::Duration,
    thread_stack: usize,
    next_slot: AtomicU64,
}

type Reply = tokio::sync::oneshot::Sender<(Result<serde_json::Value, RunError>, Vec<LogEntry>)>;

/// A thread that owns the warm context of one action version and runs it one run at a time.
struct WarmSlot {
    id: u64,
    tx: mpsc::Sender<(Job, Reply)>,
    busy: Arc<AtomicBool>,
}

fn run_caught(
    f: impl FnOnce() -> (Result<serde_json::Value, RunError>, Vec<LogEntry>),
) -> (Result<serde_json::Value, RunError>, Vec<LogEntry>) {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        (
            Err(RunError::Internal("the script thread panicked".into())),
            vec![],
        )
    })
}

fn warm_thread(
    rx: mpsc::Receiver<(Job, Reply)>,
    busy: Arc<AtomicBool>,
    idle: std::time::Duration,
    slots: Arc<Mutex<HashMap<Arc<str>, WarmSlot>>>,
    scope: Arc<str>,
    id: u64,
) {
    let mut instance: Option<sandbox::Instance> = None;
    loop {
        let (job, reply) = match rx.recv_timeout(idle) {
            Ok(x) => x,
            Err(_) => {
                let mut map = slots.lock().unwrap_or_else(|e| e.into_inner());
                if map.get(&scope).is_some_and(|s| s.id == id) && !busy.load(Ordering::SeqCst) {
                    map.remove(&scope);
                    return;
                }
                if map.get(&scope).is_none_or(|s| s.id != id) {
                    return;
                }
                continue;
            }
        };
        let limit = job.limits.memory_bytes;
        let out = run_caught(|| {
            if instance.is_none() {
                match sandbox::Instance::new(&job.limits, &job.cache) {
                    Ok(i) => instance = Some(i),
                    Err(e) => return (Err(e), vec![]),
                }
            }
            match instance.as_mut() {
                Some(i) => i.run(job),
                None => (Err(RunError::Internal("no instance".into())), vec![]),
            }
        });
        // A context that broke a limit, met a host failure, or holds more than half of the
        // run's memory limit (the next run would start with less than half) is replaced.
        let replace = instance
            .as_ref()
            .is_none_or(|i| i.poisoned || i.heap_bytes() > limit / 2)
            || matches!(out.0, Err(RunError::Internal(_)));
        if replace && instance.take().is_some() {
            crate::alloc::return_free_memory();
        }
        busy.store(false, Ordering::SeqCst);
        let _ = reply.send(out);
    }
}

/// Runs Defender actions in QuickJS.
///
/// - **Isolation and warm-context policy**: by default every run gets a fresh QuickJS context
///   on a script thread; nothing the code does (globals, patched prototypes, module state) is
///   kept for the next run, not even for the same action. What is shared is compiled bytecode
///   and `require` resolutions only, per `(action_id, version, file)` and per `node_modules`
///   file (the mounted `node_modules` is read as immutable). The globals a run does not touch
///   are not even created: half of the engine's intrinsics (Date, Map/Set, typed arrays...),
///   `console`, the timers and the web globals are added on first use. (A script thread
///   creates the next fresh context in the QuickJS runtime of the previous run once that
///   run's context is freed and collected, unless the run broke a limit or left work queued.)
///   With [`RuntimeConfig::warm_contexts`] > 0, the runtime behaves like Defender's Lambda:
///   each action version (up to that many) keeps one warm context on its own thread, whose
///   globals and module state (its `require` cache: modules load once) survive between runs
///   of *that* action version only. A warm context serves one run at a time (concurrent runs
///   of the action use fresh contexts), is dropped after a run that broke a limit or failed
///   in the host, and after [`RuntimeConfig::warm_idle`] without runs. Contexts are never
///   shared between actions or versions.
/// - **Limits**: memory and native stack per run; the wall-clock timeout interrupts
///   synchronous loops and ends runs whose promise can no longer settle.
/// - **Executor**: scripts run on dedicated threads; host calls (key-value store, relayer,
///   notifications, `fetch`) run on the tokio runtime that called [`ActionRuntime::run`].
pub struct QuickJsRuntime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for QuickJsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuickJsRuntime")
            .field("node_modules", &self.inner.node_modules)
            .field("fetch_allowlist", &self.inner.fetch.allowed)
            .finish_non_exhaustive()
    }
}

impl Default for QuickJsRuntime {
    fn default() -> Self {
        QuickJsRuntime::new(RuntimeConfig::default())
    }
}

impl QuickJsRuntime {
    /// A runtime with this configuration.
    pub fn new(config: RuntimeConfig) -> Self {
        let env_json = serde_json::to_string(&config.env).unwrap_or_else(|_| "{}".to_owned());
        // The resolver confines every file to the real path of the mount.
        let node_modules = config
            .node_modules
            .map(|p| Arc::new(p.canonicalize().unwrap_or(p)));
        QuickJsRuntime {
            inner: Arc::new(Inner {
                node_modules,
                fetch: Arc::new(FetchPolicy::new(
                    config.fetch_allowlist,
                    config.fetch_denylist,
                )),
                cache: Arc::new(CodeCache::new(
                    config.max_cached_files.max(1),
                    config.max_cached_bytes,
                    Arc::from(env_json),
                )),
                pool: Pool::new(
                    config.max_threads.max(1),
                    config.max_queued_runs,
                    config.thread_stack_bytes,
                    config.thread_idle,
                    sandbox::release_thread,
                ),
                max_stack_cap: config.thread_stack_bytes / 2,
                warm: Arc::default(),
                warm_max: config.warm_contexts,
                warm_idle: config.warm_idle,
                thread_stack: config.thread_stack_bytes,
                next_slot: AtomicU64::new(1),
            }),
        }
    }

    /// Hands the job to the action's warm context if it is free (or starts one); gives the
    /// job back when it must run in a fresh context instead.
    fn try_warm(&self, job: Job, reply: Reply) -> Option<(Job, Reply)> {
        let inner = &self.inner;
        if inner.warm_max == 0 {
            return Some((job, reply));
        }
        let mut map = inner.warm.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = map.get(&job.scope) {
            if slot.busy.swap(true, Ordering::SeqCst) {
                return Some((job, reply));
            }
            return match slot.tx.send((job, reply)) {
                Ok(()) => None,
                Err(mpsc::SendError((job, reply))) => {
                    map.remove(&job.scope);
                    Some((job, reply))
                }
            };
        }
        if map.len() >= inner.warm_max {
            return Some((job, reply));
        }
        let (tx, rx) = mpsc::channel();
        let busy = Arc::new(AtomicBool::new(true));
        let id = inner.next_slot.fetch_add(1, Ordering::Relaxed);
        let scope = job.scope.clone();
        let (slots, idle, b) = (inner.warm.clone(), inner.warm_idle, busy.clone());
        let spawned = std::thread::Builder::new()
            .name("defender-js-warm".into())
            .stack_size(inner.thread_stack)
            .spawn({
                let scope = scope.clone();
                move || warm_thread(rx, b, idle, slots, scope, id)
            });
        if spawned.is_err() {
            return Some((job, reply));
        }
        map.insert(
            scope,
            WarmSlot {
                id,
                tx: tx.clone(),
                busy,
            },
        );
        tx.send((job, reply))
            .err()
            .map(|mpsc::SendError(back)| back)
    }

    /// Number of files in the bytecode cache.
    pub fn cached_files(&self) -> usize {
        self.inner.cache.len()
    }

    /// Bytes of compiled code (and their keys) in the bytecode cache, at most
    /// [`RuntimeConfig::max_cached_bytes`].
    pub fn cached_bytes(&self) -> usize {
        self.inner.cache.bytes()
    }
}

/// Sets the cancel flag when the run's future is dropped, so that its script stops.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn bundle_of(source: &CodeSource) -> Result<Arc<BTreeMap<String, Bytes>>, RunError> {
    let size = source.size();
    if size > MAX_CODE_BYTES {
        return Err(RunError::CodeTooLarge {
            size,
            limit: MAX_CODE_BYTES,
        });
    }
    match source {
        CodeSource::Script(s) => {
            let mut m = BTreeMap::new();
            m.insert("index.js".to_owned(), Bytes::from(s.clone()));
            Ok(Arc::new(m))
        }
        CodeSource::Bundle(files) => {
            if !files.contains_key("index.js") {
                return Err(RunError::InvalidCode(
                    "the bundle has no index.js at its root".into(),
                ));
            }
            Ok(Arc::new(files.clone()))
        }
    }
}

/// Up to this heap size, freeing a used context and preparing the next one takes well under a
/// millisecond (a hello-world run leaves about 150 KB).
const QUICK_CLEANUP_BYTES: usize = 1 << 20;

/// A run whose heap grew past this makes its thread give freed memory back to the system.
const GIVE_BACK_AFTER_BYTES: usize = 8 << 20;

#[async_trait]
impl ActionRuntime for QuickJsRuntime {
    async fn run(&self, code: &ActionCode, request: RunRequest) -> RunOutcome {
        let bundle = match bundle_of(&code.source) {
            Ok(b) => b,
            Err(e) => {
                return RunOutcome {
                    result: Err(e),
                    logs: vec![],
                }
            }
        };
        let redactor = Redactor::new(
            request
                .event
                .secrets
                .iter()
                .flat_map(|m| m.values().map(String::as_str)),
        );
        let event_json = match serde_json::to_string(&request.event) {
            Ok(s) => s,
            Err(e) => {
                return RunOutcome {
                    result: Err(RunError::Internal(e.to_string())),
                    logs: vec![],
                }
            }
        };
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(h) => h,
            Err(e) => {
                return RunOutcome {
                    result: Err(RunError::Internal(e.to_string())),
                    logs: vec![],
                }
            }
        };
        let mut limits = request.limits;
        limits.max_stack_bytes = limits.max_stack_bytes.min(self.inner.max_stack_cap);
        let cancel = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(cancel.clone());
        let job = Job {
            files: Files {
                bundle,
                node_modules: self.inner.node_modules.clone(),
            },
            scope: Arc::from(format!("{}@{}", code.action_id, code.version)),
            event_json,
            limits,
            services: Arc::new(request.services),
            fetch: self.inner.fetch.clone(),
            cache: self.inner.cache.clone(),
            handle,
            cancel,
            redactor,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Some((job, tx)) = self.try_warm(job, tx) {
            let cache = self.inner.cache.clone();
            let submitted = self.inner.pool.submit(Box::new(move |delivered| {
                let mut used = None;
                let out = run_caught(|| {
                    let (out, instance) = sandbox::run(job);
                    used = instance;
                    out
                });
                let _ = tx.send(out);
                // Off the run's latency: free the used context, prepare a pristine one (in
                // the used context's QuickJS runtime when it can be reused). When the used
                // heap is small that takes less than starting a thread, so a run submitted
                // meanwhile may wait for this one.
                if used
                    .as_ref()
                    .is_none_or(|i| i.heap_bytes() <= QUICK_CLEANUP_BYTES)
                {
                    delivered.mark();
                }
                // Pages of a run that used much memory are given back to the system once
                // freed, rather than kept by a thread that may sit idle.
                let large = used
                    .as_ref()
                    .is_some_and(|i| i.peak_bytes() > GIVE_BACK_AFTER_BYTES);
                let freed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    sandbox::prepare_spare(&cache, used)
                }))
                .unwrap_or(true);
                if large || freed {
                    crate::alloc::return_free_memory();
                }
            }));
            if let Err(queued) = submitted {
                return RunOutcome {
                    result: Err(RunError::Throttled { queued }),
                    logs: vec![],
                };
            }
        }
        match rx.await {
            Ok((result, logs)) => RunOutcome { result, logs },
            Err(_) => RunOutcome {
                result: Err(RunError::Internal("the script thread stopped".into())),
                logs: vec![],
            },
        }
    }
}

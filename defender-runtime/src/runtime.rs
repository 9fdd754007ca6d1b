//! [`QuickJsRuntime`]: the [`ActionRuntime`] that runs Defender actions in QuickJS.

use crate::files::{Files, Mount};
use crate::host::FetchPolicy;
use crate::pool::warm::{self, WarmContexts};
use crate::pool::{run_caught, Pool};
use crate::sandbox::{self, CodeCache, Job};
use async_trait::async_trait;
use bytes::Bytes;
use defender_core::redact::Redactor;
use defender_core::{
    ActionCode, ActionRuntime, CodeSource, RunError, RunOutcome, RunRequest,
    MAX_UNCOMPRESSED_CODE_BYTES,
};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Whether runs of one action version share a context.
///
/// See the crate's README ("Context policies") for what a run can observe of earlier runs
/// under each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextPolicy {
    /// As Defender's Lambda kept a warm container per function: the runs of one action
    /// version (action id, code version and code) reuse one context, one run at a time, with
    /// its globals and loaded modules; never shared between actions or versions. Bounded by
    /// [`RuntimeConfig::warm_contexts`] and [`RuntimeConfig::warm_memory_bytes`], least
    /// recently used first out. A run that finds its version's context busy runs in a fresh
    /// one.
    #[default]
    WarmPerVersion,
    /// A fresh context for every run: no global or module state survives a run.
    FreshPerRun,
}

/// How a [`QuickJsRuntime`] is set up.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// A `node_modules` directory mounted read-only at `/node_modules` for `require`, in place
    /// of [`preinstalled`](Self::preinstalled). `None`: the pre-installed set.
    pub node_modules: Option<PathBuf>,
    /// Defender's pre-installed packages (axios, axios-retry, ethers 5.5.3, web3 1.9.0,
    /// graphql, graphql-request, fireblocks-sdk, the Datadog client: this crate's
    /// `preinstalled/package.json`), mounted at `/node_modules` when
    /// [`node_modules`](Self::node_modules) is `None`. By default the directory named by the
    /// environment variable
    /// [`PREINSTALLED_MODULES_ENV`](Self::PREINSTALLED_MODULES_ENV) when it is set, else this crate's
    /// `preinstalled/node_modules` when it exists (`scripts/install-preinstalled.sh` installs
    /// it). When the directory is missing, a `require` of one of those packages fails with a
    /// `MODULE_NOT_FOUND` error that says how to install them. The `@openzeppelin/*` clients
    /// are built in and need nothing here.
    pub preinstalled: Option<PathBuf>,
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
    /// More `process.env` variables by action id (a Defender action's
    /// `environment-variables`), over [`env`](Self::env) for that action's runs only.
    pub action_env: BTreeMap<String, BTreeMap<String, String>>,
    /// Most runs in progress at once, and most script threads for fresh contexts; runs
    /// beyond this wait (warm contexts have threads of their own, one each, but their runs
    /// count here too).
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
    /// Most runs waiting for a script thread when `max_threads` runs are in progress (in
    /// fresh or warm contexts alike); a run beyond them is not started and fails at once
    /// with [`RunError::Throttled`].
    pub max_queued_runs: usize,
    /// Whether the runs of one action version share a context (the default) or each get a
    /// fresh one.
    pub context_policy: ContextPolicy,
    /// Most warm contexts (one per action version) under
    /// [`ContextPolicy::WarmPerVersion`]: a new one evicts the least recently used (128 by
    /// default; 0 is the fresh policy). Each is kept on a thread of its own.
    pub warm_contexts: usize,
    /// Most bytes all warm contexts hold together, as their QuickJS allocators count them
    /// after each run (256 MiB by default): past it, the least recently used are evicted. A
    /// context that holds more than this alone, or more than half of its run's memory limit,
    /// is discarded after its run.
    pub warm_memory_bytes: usize,
    /// How long an unused warm context is kept (5 minutes by default).
    pub warm_idle: std::time::Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            node_modules: None,
            preinstalled: RuntimeConfig::default_preinstalled(),
            fetch_allowlist: Vec::new(),
            fetch_denylist: Vec::new(),
            env: BTreeMap::new(),
            action_env: BTreeMap::new(),
            max_threads: 64,
            thread_stack_bytes: 8 * 1024 * 1024,
            max_cached_files: 20_000,
            max_cached_bytes: 64 * 1024 * 1024,
            max_queued_runs: 1024,
            thread_idle: std::time::Duration::from_secs(5),
            context_policy: ContextPolicy::WarmPerVersion,
            warm_contexts: 128,
            warm_memory_bytes: 256 * 1024 * 1024,
            warm_idle: std::time::Duration::from_secs(300),
        }
    }
}

impl RuntimeConfig {
    /// The environment variable that names the directory of Defender's pre-installed
    /// packages (a `node_modules`), read by [`RuntimeConfig::default`].
    pub const PREINSTALLED_MODULES_ENV: &'static str = "DEFENDER_PREINSTALLED_MODULES";

    /// Where [`RuntimeConfig::default`] finds Defender's pre-installed packages: the directory
    /// [`PREINSTALLED_MODULES_ENV`](Self::PREINSTALLED_MODULES_ENV) names, else this crate's
    /// `preinstalled/node_modules` if it exists.
    pub fn default_preinstalled() -> Option<PathBuf> {
        if let Some(dir) =
            std::env::var_os(Self::PREINSTALLED_MODULES_ENV).filter(|d| !d.is_empty())
        {
            return Some(PathBuf::from(dir));
        }
        let here = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/preinstalled/node_modules"
        ));
        here.is_dir().then_some(here)
    }

    /// Mounts a `node_modules` directory (in place of the pre-installed set).
    pub fn with_node_modules(mut self, dir: impl Into<PathBuf>) -> Self {
        self.node_modules = Some(dir.into());
        self
    }

    /// Takes Defender's pre-installed packages from this `node_modules` directory (see
    /// [`RuntimeConfig::preinstalled`]).
    pub fn with_preinstalled(mut self, dir: impl Into<PathBuf>) -> Self {
        self.preinstalled = Some(dir.into());
        self
    }

    /// Mounts no pre-installed packages: without [`node_modules`](Self::node_modules), only
    /// the action's own files and the built-in modules resolve.
    pub fn without_preinstalled(mut self) -> Self {
        self.preinstalled = None;
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

    /// Keeps a warm context for up to `n` action versions ([`ContextPolicy::WarmPerVersion`];
    /// 0 is [`ContextPolicy::FreshPerRun`]).
    pub fn with_warm_contexts(mut self, n: usize) -> Self {
        self.context_policy = if n == 0 {
            ContextPolicy::FreshPerRun
        } else {
            ContextPolicy::WarmPerVersion
        };
        self.warm_contexts = n;
        self
    }

    /// Keeps warm contexts holding at most `bytes` together (see
    /// [`warm_memory_bytes`](Self::warm_memory_bytes)).
    pub fn with_warm_memory_bytes(mut self, bytes: usize) -> Self {
        self.warm_memory_bytes = bytes;
        self
    }

    /// A fresh context for every run ([`ContextPolicy::FreshPerRun`]).
    pub fn with_fresh_contexts(mut self) -> Self {
        self.context_policy = ContextPolicy::FreshPerRun;
        self
    }

    /// Sets one `process.env` variable.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Sets the `process.env` variables of one action's runs, over [`env`](Self::env).
    pub fn with_action_env(
        mut self,
        action_id: impl Into<String>,
        env: BTreeMap<String, String>,
    ) -> Self {
        self.action_env.insert(action_id.into(), env);
        self
    }
}

struct Inner {
    node_modules: Option<Arc<Mount>>,
    preinstalled_missing: bool,
    fetch: Arc<FetchPolicy>,
    cache: Arc<CodeCache>,
    pool: Pool,
    max_stack_cap: usize,
    warm: WarmContexts,
    /// One permit per run in progress (`max_threads`), fresh or warm.
    gate: Arc<tokio::sync::Semaphore>,
    /// Runs waiting for a permit, at most `max_waiting`.
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a run as waiting for as long as it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs Defender actions in QuickJS.
///
/// - **Isolation and context policy** ([`ContextPolicy`]): by default, as Defender's Lambda
///   kept a warm container per function, the runs of one action version (action id, code
///   version and a fingerprint of the code) share one context, one run at a time, keeping its
///   globals and its loaded modules (ethers loads once); contexts are never shared between
///   actions or versions. Warm contexts are bounded in number
///   ([`RuntimeConfig::warm_contexts`]) and in bytes together
///   ([`RuntimeConfig::warm_memory_bytes`]), the least recently used evicted first, and
///   dropped after [`RuntimeConfig::warm_idle`] without runs; a context is discarded after a
///   run that broke a limit (timeout, memory, stack) or failed in the host, or when it holds
///   more than half of its run's memory limit. With [`ContextPolicy::FreshPerRun`] every run
///   gets a fresh QuickJS context: nothing the code does (globals, patched prototypes, module
///   state) is kept for the next run. Both share compiled bytecode and `require`
///   resolutions, per action version and file and per `node_modules` file (the mounted
///   `node_modules` is read as immutable). The globals a run does not touch are not even
///   created (with `quickjs-patches`). A script thread creates the next fresh context in the
///   QuickJS runtime of the previous run once that run's context is freed and collected,
///   unless the run broke a limit or left work queued.
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
            .field(
                "node_modules",
                &self.inner.node_modules.as_ref().map(|m| m.root()),
            )
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
        let action_env_json = config
            .action_env
            .iter()
            .map(|(id, vars)| {
                let mut merged = config.env.clone();
                merged.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                let json = serde_json::to_string(&merged).unwrap_or_else(|_| "{}".to_owned());
                (id.clone(), Arc::<str>::from(json))
            })
            .collect();
        // The embedder's node_modules replaces the pre-installed set, which is mounted only
        // when installed. The resolver confines every file to the real path of the mount.
        let preinstalled = config.preinstalled.filter(|p| p.is_dir());
        let preinstalled_missing = config.node_modules.is_none() && preinstalled.is_none();
        let node_modules = config
            .node_modules
            .or(preinstalled)
            .map(|p| Arc::new(Mount::new(p)));
        QuickJsRuntime {
            inner: Arc::new(Inner {
                node_modules,
                preinstalled_missing,
                fetch: Arc::new(FetchPolicy::new(
                    config.fetch_allowlist,
                    config.fetch_denylist,
                )),
                cache: Arc::new(
                    CodeCache::new(
                        config.max_cached_files.max(1),
                        config.max_cached_bytes,
                        Arc::from(env_json),
                    )
                    .with_action_env(action_env_json),
                ),
                pool: Pool::new(
                    config.max_threads.max(1),
                    config.max_queued_runs,
                    config.thread_stack_bytes,
                    config.thread_idle,
                    sandbox::release_thread,
                ),
                max_stack_cap: config.thread_stack_bytes / 2,
                warm: WarmContexts::new(
                    warm::Bounds {
                        contexts: match config.context_policy {
                            ContextPolicy::WarmPerVersion => config.warm_contexts,
                            ContextPolicy::FreshPerRun => 0,
                        },
                        bytes: config.warm_memory_bytes,
                        idle: config.warm_idle,
                    },
                    config.thread_stack_bytes,
                ),
                gate: Arc::new(tokio::sync::Semaphore::new(
                    config
                        .max_threads
                        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
                )),
                waiting: AtomicUsize::new(0),
                max_waiting: config.max_queued_runs,
            }),
        }
    }

    /// A permit to run now, or once one of the runs in progress ends; `Throttled` at once
    /// when as many runs as allowed are already waiting.
    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, RunError> {
        let inner = &self.inner;
        if let Ok(permit) = inner.gate.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let queued = inner.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&inner.waiting);
        if queued >= inner.max_waiting {
            return Err(RunError::Throttled { queued });
        }
        inner
            .gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| RunError::Internal(e.to_string()))
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

    /// Warm contexts kept now (one per action version; see [`ContextPolicy`]).
    pub fn warm_contexts(&self) -> usize {
        self.inner.warm.len()
    }

    /// Bytes the warm contexts held together after their last runs, as their QuickJS
    /// allocators count them (the usable sizes of their live blocks, bytecode included): what
    /// [`RuntimeConfig::warm_memory_bytes`] bounds.
    pub fn warm_bytes(&self) -> usize {
        self.inner.warm.bytes()
    }
}

/// The scope of a run's code: `action_id@version#fingerprint`. The fingerprint of the code
/// keeps an action removed and added again with other code at the same version from
/// meeting the old code's warm context or bytecode.
fn scope_of(code: &ActionCode) -> Arc<str> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match &code.source {
        CodeSource::Script(s) => s.hash(&mut h),
        CodeSource::Bundle(files) => {
            for (name, bytes) in files {
                name.hash(&mut h);
                bytes.hash(&mut h);
            }
        }
    }
    Arc::from(format!(
        "{}@{}#{:016x}",
        code.action_id,
        code.version,
        h.finish()
    ))
}

/// Sets the cancel flag when the run's future is dropped, so that its script stops.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn bundle_of(source: &CodeSource) -> Result<Arc<BTreeMap<String, Bytes>>, RunError> {
    // The cheap bound, on every run; Defender's rule on the zipped size is checked where code
    // is registered (`defender_core::check_code_size` zips it, too slow for every run).
    let size = source.size();
    if size > MAX_UNCOMPRESSED_CODE_BYTES {
        return Err(RunError::CodeTooLarge {
            size,
            limit: MAX_UNCOMPRESSED_CODE_BYTES,
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
                preinstalled_missing: self.inner.preinstalled_missing,
            },
            scope: scope_of(code),
            event_json,
            limits,
            services: Arc::new(request.services),
            fetch: self.inner.fetch.clone(),
            cache: self.inner.cache.clone(),
            handle,
            cancel,
            redactor,
        };
        // Held until the result arrives.
        let _permit = match self.admit().await {
            Ok(p) => p,
            Err(e) => {
                return RunOutcome {
                    result: Err(e),
                    logs: vec![],
                }
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Some((job, tx)) = self.inner.warm.try_run(job, tx) {
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

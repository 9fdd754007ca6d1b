//! The engine: actions run by schedule, webhook, monitor or hand, and monitors that watch the
//! chain and alert. It holds only trait objects, so every part can be swapped.
//!
//! ```
//! use defender_core::engine::{ActionSpec, Engine};
//! use defender_core::{ActionCode, ActionRuntime, RunOutcome, RunRequest, RunStatus, Trigger};
//! use std::sync::Arc;
//!
//! /// A stand-in runtime that returns the run's trigger; `defender-runtime` runs JavaScript.
//! #[derive(Debug)]
//! struct Echo;
//! #[async_trait::async_trait]
//! impl ActionRuntime for Echo {
//!     async fn run(&self, _: &ActionCode, req: RunRequest) -> RunOutcome {
//!         let body = req.event.request.and_then(|r| r.body).unwrap_or_default();
//!         RunOutcome { result: Ok(body), logs: vec![] }
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let engine = Engine::builder(Arc::new(Echo)).build();
//! engine.add_action(ActionSpec::new("a1", "echo", "exports.handler = async () => 1")).await.unwrap();
//! let run = engine.run_action("a1", Trigger::Manual, Some(serde_json::json!({"x": 1}))).await.unwrap();
//! assert_eq!(run.status, RunStatus::Success);
//! assert_eq!(run.result.as_deref(), Some(r#"{"x":1}"#));
//! # });
//! ```

mod actions;
mod alerts;
mod metrics;
mod monitors;
mod schedule;
mod webhook;

pub use actions::{ActionSpec, ActionTrigger};
pub use alerts::PlainAlertFormatter;
pub use monitors::NetworkSpec;
pub use schedule::Schedule;
#[cfg(feature = "webhook-server")]
pub use webhook::webhook_router;
pub use webhook::{
    WebhookAnswer, WebhookRequest, DEFAULT_WEBHOOK_BODY_LIMIT, WEBHOOK_PENDING_AFTER,
};

use crate::{
    ActionRuntime, AlertFormatter, Clock, InMemoryKvStore, InMemoryRunStore, InMemorySecretStore,
    KvStore, Notifier, NotifierRegistry, Relayer, RunLimits, RunStore, SecretStore, SystemClock,
};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Errors of the engine's operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No action with this id.
    #[error("no action `{0}`")]
    UnknownAction(String),
    /// An action with this id exists already.
    #[error("an action `{0}` exists already")]
    DuplicateAction(String),
    /// No monitor with this id.
    #[error("no monitor `{0}`")]
    UnknownMonitor(String),
    /// The action is paused.
    #[error("action `{0}` is paused")]
    Paused(String),
    /// The action's configuration is invalid (bad cron expression, code too large...).
    #[error("invalid action `{id}`: {message}")]
    InvalidAction {
        /// The action.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The monitor's definition is invalid.
    #[error("invalid monitor `{id}`: {message}")]
    InvalidMonitor {
        /// The monitor.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// Assembles an [`Engine`] from its parts. Only the runtime is required; the rest default to
/// in-memory implementations and the system clock.
#[derive(Debug)]
pub struct EngineBuilder {
    runtime: Arc<dyn ActionRuntime>,
    kv: Option<Arc<dyn KvStore>>,
    relayers: HashMap<String, Arc<dyn Relayer>>,
    notifiers: Option<Arc<NotifierRegistry>>,
    channels: Vec<(String, Arc<dyn Notifier>)>,
    secrets: Option<Arc<dyn SecretStore>>,
    runs: Option<Arc<dyn RunStore>>,
    clock: Option<Arc<dyn Clock>>,
    formatter: Option<Arc<dyn AlertFormatter>>,
    limits: RunLimits,
    failure_channel: Option<String>,
    webhook_pending_after: Option<Duration>,
    webhook_body_limit: Option<usize>,
}

impl EngineBuilder {
    /// A builder around the runtime that runs action code.
    pub fn new(runtime: Arc<dyn ActionRuntime>) -> Self {
        EngineBuilder {
            runtime,
            kv: None,
            relayers: HashMap::new(),
            notifiers: None,
            channels: Vec::new(),
            secrets: None,
            runs: None,
            clock: None,
            formatter: None,
            limits: RunLimits::default(),
            failure_channel: None,
            webhook_pending_after: None,
            webhook_body_limit: None,
        }
    }

    /// The key-value store shared by all actions (default: an [`InMemoryKvStore`], which
    /// holds at most [`crate::kv::DEFAULT_MAX_TOTAL_BYTES`] (64 MiB) of keys plus values and
    /// refuses puts beyond with `KvError::LimitExceeded { what: KvLimit::TotalBytes, .. }`;
    /// set a store here for another bound or a durable backend).
    pub fn kv(mut self, kv: Arc<dyn KvStore>) -> Self {
        self.kv = Some(kv);
        self
    }

    /// A relayer that actions can be linked to by `id`.
    pub fn relayer(mut self, id: impl Into<String>, relayer: Arc<dyn Relayer>) -> Self {
        self.relayers.insert(id.into(), relayer);
        self
    }

    /// Uses this registry of notification channels (default: an empty one).
    pub fn notifiers(mut self, registry: Arc<NotifierRegistry>) -> Self {
        self.notifiers = Some(registry);
        self
    }

    /// Adds a notification channel under `alias`.
    pub fn notifier(mut self, alias: impl Into<String>, notifier: Arc<dyn Notifier>) -> Self {
        self.channels.push((alias.into(), notifier));
        self
    }

    /// The secret store (default: in memory).
    pub fn secrets(mut self, secrets: Arc<dyn SecretStore>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The run history store (default: in memory, 30 runs per action).
    pub fn runs(mut self, runs: Arc<dyn RunStore>) -> Self {
        self.runs = Some(runs);
        self
    }

    /// The clock (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Renders monitor alerts (default: a plain rendering of Defender's default text; use
    /// `defender-notify`'s template formatter for custom templates).
    pub fn alert_formatter(mut self, formatter: Arc<dyn AlertFormatter>) -> Self {
        self.formatter = Some(formatter);
        self
    }

    /// Limits of every run (default: Defender's 256 MB and 5 minutes).
    pub fn limits(mut self, limits: RunLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The channel alias notified when a run fails (Defender emailed on failure). Throttled
    /// runs (the runtime refused to start them) are recorded but not notified. The message
    /// carries the run's error with its secret values redacted.
    pub fn failure_channel(mut self, alias: impl Into<String>) -> Self {
        self.failure_channel = Some(alias.into());
        self
    }

    /// How long a webhook caller waits before it gets a `pending` answer (default 25 s).
    pub fn webhook_pending_after(mut self, after: Duration) -> Self {
        self.webhook_pending_after = Some(after);
        self
    }

    /// Largest webhook body accepted (default [`DEFAULT_WEBHOOK_BODY_LIMIT`]).
    pub fn webhook_body_limit(mut self, bytes: usize) -> Self {
        self.webhook_body_limit = Some(bytes);
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Engine {
        let runtime = self.runtime;
        let notifiers = self.notifiers.unwrap_or_default();
        for (alias, n) in self.channels {
            notifiers.add(alias, n);
        }
        Engine {
            inner: Arc::new(Inner {
                runtime,
                kv: self
                    .kv
                    .unwrap_or_else(|| Arc::new(InMemoryKvStore::default())),
                relayers: RwLock::new(self.relayers),
                notifiers,
                secrets: self
                    .secrets
                    .unwrap_or_else(|| Arc::new(InMemorySecretStore::default())),
                runs: self
                    .runs
                    .unwrap_or_else(|| Arc::new(InMemoryRunStore::default())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                formatter: self.formatter,
                limits: self.limits,
                failure_channel: self.failure_channel,
                webhook_pending_after: self.webhook_pending_after.unwrap_or(WEBHOOK_PENDING_AFTER),
                webhook_body_limit: self
                    .webhook_body_limit
                    .unwrap_or(DEFAULT_WEBHOOK_BODY_LIMIT),
                actions: RwLock::new(HashMap::new()),
                metrics: metrics::Metrics::default(),
                monitors: monitors::Monitors::default(),
            }),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) runtime: Arc<dyn ActionRuntime>,
    pub(crate) kv: Arc<dyn KvStore>,
    pub(crate) relayers: RwLock<HashMap<String, Arc<dyn Relayer>>>,
    pub(crate) notifiers: Arc<NotifierRegistry>,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) runs: Arc<dyn RunStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) formatter: Option<Arc<dyn AlertFormatter>>,
    pub(crate) limits: RunLimits,
    pub(crate) failure_channel: Option<String>,
    pub(crate) webhook_pending_after: Duration,
    pub(crate) webhook_body_limit: usize,
    pub(crate) actions: RwLock<HashMap<String, Arc<actions::ActionEntry>>>,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) monitors: monitors::Monitors,
}

/// The keys of a registry map, sorted.
fn sorted_keys<V>(map: &RwLock<HashMap<String, V>>) -> Vec<String> {
    let mut keys: Vec<String> = map
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The running engine. Cheap to clone; all clones share state. Dropping the last clone does not
/// stop scheduled actions: call [`Engine::shutdown`].
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Starts assembling an engine around the runtime that runs action code.
    pub fn builder(runtime: Arc<dyn ActionRuntime>) -> EngineBuilder {
        EngineBuilder::new(runtime)
    }

    /// The registry of notification channels, to add, pause or remove channels at run time.
    pub fn notifiers(&self) -> &Arc<NotifierRegistry> {
        &self.inner.notifiers
    }

    /// The shared key-value store.
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.inner.kv
    }

    /// The secret store.
    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.inner.secrets
    }

    /// Adds or replaces the relayer with `id`.
    pub fn set_relayer(&self, id: impl Into<String>, relayer: Arc<dyn Relayer>) {
        self.inner
            .relayers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.into(), relayer);
    }

    /// The engine's metrics in Prometheus' text format: runs, run errors, monitor matches,
    /// notifications and block lag.
    #[cfg(feature = "prometheus")]
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.encode()
    }

    /// Stops every scheduled action and every monitor watcher. Runs in progress finish.
    pub fn shutdown(&self) {
        for h in self.stop_handles() {
            h.abort();
        }
    }

    /// [`Engine::shutdown`], then waits until the schedule and watcher tasks have ended, so
    /// that the stores they hold (a redb file, say) are released when it returns.
    pub async fn shutdown_and_wait(&self) {
        let handles = self.stop_handles();
        for h in &handles {
            h.abort();
        }
        for h in handles {
            // A cancelled task is what was asked for; a panicked one has ended too.
            let _ = h.await;
        }
    }

    fn stop_handles(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = self.take_watchers();
        let actions = self.inner.actions.read().unwrap_or_else(|e| e.into_inner());
        for a in actions.values() {
            handles.extend(a.take_schedules());
        }
        handles
    }
}

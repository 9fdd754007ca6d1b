//! The engine's handle and its builder: the public operations, each delegating to the module
//! that owns it (actions, the run path, webhooks, the monitor path).

use crate::actions::{new_token, ActionSpec, Actions};
use crate::dispatch::DeliveryLimits;
use crate::error::EngineError;
use crate::metrics::Metrics;
use crate::monitor::TestScope;
use crate::network::NetworkSpec;
use crate::registry::Monitors;
use crate::run::{new_run_id, Runner};
use crate::webhook::{
    self, WebhookAnswer, WebhookLimits, WebhookRequest, DEFAULT_WEBHOOK_BODY_LIMIT,
    WEBHOOK_PENDING_AFTER,
};
use defender_core::{
    ActionRequest, ActionRuntime, AlertFormatter, Clock, CodeSource, InMemoryKvStore,
    InMemoryRunStore, InMemorySecretStore, KvStore, MonitorDefinition, MonitorMatch, Notifier,
    NotifierRegistry, Relayer, RunLimits, RunRecord, RunStore, SecretStore, SystemClock, Trigger,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long the engine waits for one notification channel to take one alert, by default: a
/// backstop for channels that never answer (`defender-notify`'s channels give up after 30 s).
pub const DEFAULT_NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(60);

/// How many alerts may wait for delivery per monitor, by default.
pub const DEFAULT_ALERT_QUEUE: usize = 1024;

/// Assembles an [`Engine`] from its parts. Only the runtime is required; the rest default to
/// in-memory implementations and the system clock.
#[derive(Debug)]
pub struct EngineBuilder {
    runtime: Arc<dyn ActionRuntime>,
    kv: Option<Arc<dyn KvStore>>,
    relayers: HashMap<String, Arc<dyn Relayer>>,
    relayer_keys: Vec<(String, String, String)>,
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
    notification_timeout: Duration,
    alert_queue: usize,
}

impl EngineBuilder {
    /// A builder around the runtime that runs action code.
    pub fn new(runtime: Arc<dyn ActionRuntime>) -> Self {
        EngineBuilder {
            runtime,
            kv: None,
            relayers: HashMap::new(),
            relayer_keys: Vec::new(),
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
            notification_timeout: DEFAULT_NOTIFICATION_TIMEOUT,
            alert_queue: DEFAULT_ALERT_QUEUE,
        }
    }

    /// The key-value store shared by all actions (default: an [`InMemoryKvStore`], which
    /// holds at most [`defender_core::kv::DEFAULT_MAX_TOTAL_BYTES`] (64 MiB) of keys plus
    /// values and refuses puts beyond with
    /// `KvError::LimitExceeded { what: KvLimit::TotalBytes, .. }`; set a store here for another
    /// bound or a durable backend). Monitor checkpoints are kept there too.
    pub fn kv(mut self, kv: Arc<dyn KvStore>) -> Self {
        self.kv = Some(kv);
        self
    }

    /// A relayer that actions can be linked to by `id`.
    pub fn relayer(mut self, id: impl Into<String>, relayer: Arc<dyn Relayer>) -> Self {
        self.relayers.insert(id.into(), relayer);
        self
    }

    /// Lets actions reach relayer `relayer_id` with this API key and secret, as
    /// `new Relayer({ apiKey, apiSecret })` or `new Defender({ relayerApiKey, relayerApiSecret })`
    /// did on Defender (an action so reaches a relayer it is not linked to). Credentials that
    /// are not configured are an error in the action, never its linked relayer; a key whose
    /// relayer is not added reaches nothing.
    pub fn relayer_api_key(
        mut self,
        relayer_id: impl Into<String>,
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
    ) -> Self {
        self.relayer_keys
            .push((relayer_id.into(), api_key.into(), api_secret.into()));
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

    /// Renders monitor alerts (default: [`PlainAlertFormatter`](crate::PlainAlertFormatter),
    /// a plain rendering of Defender's default text; use `defender-notify`'s template
    /// formatter for custom templates).
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

    /// How long one notification channel may take to accept one monitor alert before the
    /// engine gives up on it (default [`DEFAULT_NOTIFICATION_TIMEOUT`]). Alerts are delivered
    /// off the block loop, so this bounds how long a dead channel holds up the alerts queued
    /// behind it, never the blocks.
    pub fn notification_timeout(mut self, timeout: Duration) -> Self {
        self.notification_timeout = timeout;
        self
    }

    /// How many alerts may wait for delivery per monitor (default [`DEFAULT_ALERT_QUEUE`]).
    /// When a monitor's channels fall this far behind, its new alerts are dropped, logged and
    /// counted as failed notifications, and blocks go on.
    pub fn alert_queue(mut self, capacity: usize) -> Self {
        self.alert_queue = capacity.max(1);
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Engine {
        let notifiers = self.notifiers.unwrap_or_default();
        for (alias, n) in self.channels {
            notifiers.add(alias, n);
        }
        let runner = Arc::new(Runner {
            runtime: self.runtime,
            kv: self
                .kv
                .unwrap_or_else(|| Arc::new(InMemoryKvStore::default())),
            relayer_keys: self.relayer_keys,
            relayers: RwLock::new(self.relayers),
            notifiers,
            secrets: self
                .secrets
                .unwrap_or_else(|| Arc::new(InMemorySecretStore::default())),
            runs: self
                .runs
                .unwrap_or_else(|| Arc::new(InMemoryRunStore::default())),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            limits: self.limits,
            failure_channel: self.failure_channel,
            metrics: Metrics::default(),
        });
        let actions = Arc::new(Actions::default());
        let monitors = Arc::new(Monitors::new(
            runner.clone(),
            actions.clone(),
            self.formatter,
            DeliveryLimits {
                timeout: self.notification_timeout,
                queue: self.alert_queue,
            },
        ));
        Engine {
            inner: Arc::new(Inner {
                runner,
                actions,
                monitors,
                webhook: WebhookLimits {
                    pending_after: self.webhook_pending_after.unwrap_or(WEBHOOK_PENDING_AFTER),
                    body_limit: self
                        .webhook_body_limit
                        .unwrap_or(DEFAULT_WEBHOOK_BODY_LIMIT),
                },
            }),
        }
    }
}

#[derive(Debug)]
struct Inner {
    runner: Arc<Runner>,
    actions: Arc<Actions>,
    monitors: Arc<Monitors>,
    webhook: WebhookLimits,
}

/// The running engine. Cheap to clone; all clones share state. Dropping the last clone does not
/// stop scheduled actions: call [`Engine::shutdown`].
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Starts assembling an engine around the runtime that runs action code.
    pub fn builder(runtime: Arc<dyn ActionRuntime>) -> EngineBuilder {
        EngineBuilder::new(runtime)
    }

    /// The registry of notification channels, to add, pause or remove channels at run time.
    pub fn notifiers(&self) -> &Arc<NotifierRegistry> {
        &self.inner.runner.notifiers
    }

    /// The shared key-value store.
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.inner.runner.kv
    }

    /// The secret store.
    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.inner.runner.secrets
    }

    /// Adds or replaces the relayer with `id`.
    pub fn set_relayer(&self, id: impl Into<String>, relayer: Arc<dyn Relayer>) {
        self.inner
            .runner
            .relayers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.into(), relayer);
    }

    /// The engine's metrics in Prometheus' text format: runs, run errors, monitor matches,
    /// notifications and block lag.
    #[cfg(feature = "prometheus")]
    pub fn metrics_text(&self) -> String {
        self.inner.runner.metrics.encode()
    }

    /// Stops every scheduled action and every monitor loop. Runs in progress finish, and
    /// alerts already queued are still delivered (see [`Engine::flush_alerts`]). A monitor
    /// loop stops while it waits for a block or runs a custom filter, not between handing out
    /// a block's alerts and writing its checkpoint, so a restart neither repeats nor skips
    /// them.
    pub fn shutdown(&self) {
        for h in self.inner.actions.take_schedules() {
            h.abort();
        }
        drop(self.inner.monitors.stop_loops());
    }

    /// [`Engine::shutdown`], then waits until the schedule and monitor tasks have ended, so
    /// that the stores they hold (a redb file, say) are released when it returns.
    pub async fn shutdown_and_wait(&self) {
        let mut handles = self.inner.actions.take_schedules();
        for h in &handles {
            h.abort();
        }
        handles.extend(self.inner.monitors.stop_loops());
        for h in handles {
            // A cancelled task is what was asked for; a panicked one has ended too.
            let _ = h.await;
        }
    }

    // -------------------------------------------------------------------------------------
    // Actions

    /// Registers an action and starts its schedules. Returns the webhook token if it has a
    /// webhook trigger.
    ///
    /// Must be called within a tokio runtime when the action has a schedule.
    pub async fn add_action(&self, spec: ActionSpec) -> Result<Option<String>, EngineError> {
        self.inner.actions.add(&self.inner.runner, spec)
    }

    /// Removes an action and stops its schedules. Runs in progress finish.
    pub fn remove_action(&self, id: &str) -> Result<(), EngineError> {
        self.inner.actions.remove(id)
    }

    /// Pauses or resumes an action. A paused action's schedules, webhook and monitor triggers
    /// do nothing; manual runs are refused.
    pub fn set_action_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        self.inner.actions.set_paused(id, paused)
    }

    /// Replaces an action's code (Defender's update-code). Runs that start after this call use
    /// the new code; runs in progress finish with the old one. Returns the new version.
    pub fn update_code(&self, id: &str, code: CodeSource) -> Result<u64, EngineError> {
        self.inner.actions.update_code(id, code)
    }

    /// Links (or unlinks) a relayer.
    pub fn set_action_relayer(
        &self,
        id: &str,
        relayer_id: Option<String>,
    ) -> Result<(), EngineError> {
        self.inner.actions.set_relayer(id, relayer_id)
    }

    /// The ids of the registered actions, sorted.
    pub fn action_ids(&self) -> Vec<String> {
        self.inner.actions.ids()
    }

    /// An action's run history, newest first (at most `limit`). Stored runs have the run's
    /// secret values redacted from their result, message and logs.
    pub async fn runs(&self, id: &str, limit: usize) -> Result<Vec<RunRecord>, EngineError> {
        self.inner.actions.entry(id)?;
        Ok(self
            .inner
            .runner
            .runs
            .list(id, limit)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(action_id = id, error = %e, "run store failed");
                Vec::new()
            }))
    }

    /// Runs an action now and waits for the result. `body` becomes `event.request.body`.
    ///
    /// The returned record carries the handler's result as it was produced; its message and
    /// logs, like everything stored or notified, have the run's secret values redacted.
    pub async fn run_action(
        &self,
        id: &str,
        trigger: Trigger,
        body: Option<Value>,
    ) -> Result<RunRecord, EngineError> {
        let entry = self.inner.actions.entry(id)?;
        if entry.is_paused() {
            return Err(EngineError::Paused(id.to_owned()));
        }
        let request = body.map(|b| ActionRequest {
            body: Some(b),
            ..Default::default()
        });
        Ok(self
            .inner
            .runner
            .execute(&entry, trigger, request, new_run_id())
            .await)
    }

    // -------------------------------------------------------------------------------------
    // Webhooks

    /// The webhook token of an action, if it has a webhook trigger.
    pub fn webhook_token(&self, id: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .inner
            .actions
            .entry(id)?
            .webhook_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    /// Replaces an action's webhook token; the old URL stops working at once. Enables the
    /// webhook trigger if the action had none.
    pub fn regenerate_webhook_token(&self, id: &str) -> Result<String, EngineError> {
        let token = new_token();
        *self
            .inner
            .actions
            .entry(id)?
            .webhook_token
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// Handles a webhook request and answers as Defender did:
    /// - anything but POST, an unknown action or a wrong token: 403
    ///   `{"message":"Missing Authentication Token"}`;
    /// - a body over the limit: 413; a body that is not JSON: 415;
    /// - a paused action: 409;
    /// - otherwise the run's [`WebhookResponse`](defender_core::WebhookResponse), or a
    ///   `pending` one if the run takes longer than the engine's pending delay (25 s); the run
    ///   goes on and is recorded.
    ///
    /// The token is compared in constant time.
    pub async fn handle_webhook(&self, req: WebhookRequest) -> WebhookAnswer {
        webhook::handle(
            &self.inner.runner,
            &self.inner.actions,
            self.inner.webhook,
            req,
        )
        .await
    }

    /// The webhook's access check, done before anything reads the body.
    #[cfg(feature = "webhook-server")]
    pub(crate) fn authorize_webhook(
        &self,
        method: &str,
        action_id: &str,
        token: &str,
    ) -> Result<Arc<crate::run::ActionEntry>, WebhookAnswer> {
        webhook::authorize(&self.inner.actions, method, action_id, token)
    }

    /// Largest webhook body accepted.
    #[cfg(feature = "webhook-server")]
    pub(crate) fn webhook_body_limit(&self) -> usize {
        self.inner.webhook.body_limit
    }

    // -------------------------------------------------------------------------------------
    // Monitors

    /// Adds a network that monitors can watch. Its chain id is read from the source.
    pub async fn add_network(&self, spec: NetworkSpec) -> Result<u64, EngineError> {
        self.inner.monitors.add_network(spec).await
    }

    /// Adds a monitor from Defender's definition JSON, or replaces the monitor with this id.
    /// Its network must have been added. The monitor sees every block mined after this call
    /// returns (and, when its network already has a checkpoint for its confirmation level,
    /// every block after that checkpoint).
    ///
    /// Each block then goes through the monitor path (module `pipeline`): block source
    /// (confirmations, reorgs) -> matcher -> custom filter -> alert gate -> dispatch (the alert
    /// to the monitor's delivery queue, the linked action started with the match as
    /// `request.body`) -> checkpoint. Notifications are sent by a task per monitor, so a slow
    /// or dead channel never holds up blocks (see [`EngineBuilder::notification_timeout`] and
    /// [`EngineBuilder::alert_queue`]).
    pub async fn add_monitor(&self, id: &str, def: MonitorDefinition) -> Result<(), EngineError> {
        self.inner.monitors.add_monitor(id, def).await
    }

    /// Removes a monitor. Alerts already queued for it are still delivered.
    pub fn remove_monitor(&self, id: &str) -> Result<(), EngineError> {
        self.inner.monitors.remove_monitor(id)
    }

    /// Pauses or resumes a monitor: a paused monitor matches nothing.
    pub async fn set_monitor_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        self.inner.monitors.set_paused(id, paused).await
    }

    /// The ids of the monitors, sorted.
    pub fn monitor_ids(&self) -> Vec<String> {
        self.inner.monitors.ids()
    }

    /// Waits until every monitor alert queued so far has been handed to its channels (or has
    /// failed, or timed out). Blocks are processed without waiting for notifications; call
    /// this to know that the alerts of the blocks processed so far have gone out, before a
    /// shutdown say.
    pub async fn flush_alerts(&self) {
        self.inner.monitors.flush().await
    }

    /// Defender's "test conditions" tool: the matches a definition would produce over recent
    /// blocks, one block or one transaction of its network. Nothing is notified.
    pub async fn test_monitor_conditions(
        &self,
        def: &MonitorDefinition,
        scope: TestScope,
    ) -> Result<Vec<MonitorMatch>, EngineError> {
        self.inner.monitors.test_conditions(def, scope).await
    }
}

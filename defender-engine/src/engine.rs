//! The engine's handle and its builder: the public operations, each delegating to the module
//! that owns it (actions, the run path, webhooks, the monitor path).

use crate::actions::{new_token, ActionSpec, Actions};
use crate::delivery::DeliveryLimits;
use crate::error::EngineError;
use crate::manage::{EngineManageFactory, ManageState};
use crate::metrics::Metrics;
use crate::monitor::TestScope;
use crate::network::NetworkSpec;
use crate::outbox::DeadLetter;
use crate::proposals::Proposals;
use crate::registry::Monitors;
use crate::run::{new_run_id, ManageFactory, Runner};
use crate::schedule::MissedRuns;
use crate::secrets::SealedSecrets;
use crate::webhook::{
    self, WebhookAnswer, WebhookLimits, WebhookRequest, DEFAULT_WEBHOOK_BODY_LIMIT,
    WEBHOOK_PENDING_AFTER,
};
use crate::workflows::Workflows;
use defender_core::state::{
    MemoryStateStore, SealedSecretError, SecretsKey, StateRunStore, StateStore,
};
use defender_core::{
    ActionRequest, ActionRuntime, AlertFormatter, Clock, CodeSource, InMemoryKvStore,
    InMemorySecretStore, KvStore, ManageApi, MonitorDefinition, MonitorMatch, Notifier,
    NotifierRegistry, Relayer, RunLimits, RunRecord, RunStore, SecretStore, SystemClock, Trigger,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// How long the engine waits for one notification channel to take one alert, by default: a
/// backstop for channels that never answer (`defender-notify`'s channels give up after 30 s).
pub const DEFAULT_NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a failed delivery of a monitor alert (a notification or a linked-action run) is
/// retried, by default, before it is kept as a dead letter.
pub const DEFAULT_DELIVERY_HORIZON: Duration = Duration::from_secs(24 * 3600);

/// The wait after a first failed delivery, by default; it doubles after each next failure.
pub const DEFAULT_DELIVERY_FIRST_RETRY: Duration = Duration::from_secs(1);

/// The longest wait between two attempts of a delivery, by default.
pub const DEFAULT_DELIVERY_MAX_RETRY: Duration = Duration::from_secs(300);

/// Assembles an [`Engine`] from its parts. Only the runtime is required; the rest default to
/// in-memory implementations and the system clock.
#[derive(Debug)]
pub struct EngineBuilder {
    runtime: Arc<dyn ActionRuntime>,
    kv: Option<Arc<dyn KvStore>>,
    relayers: HashMap<String, Arc<dyn Relayer>>,
    relayer_keys: Vec<(String, String, String)>,
    team_keys: Vec<(String, String)>,
    notifiers: Option<Arc<NotifierRegistry>>,
    channels: Vec<(String, Arc<dyn Notifier>)>,
    secrets: Option<Arc<dyn SecretStore>>,
    runs: Option<Arc<dyn RunStore>>,
    clock: Option<Arc<dyn Clock>>,
    state: Option<Arc<dyn StateStore>>,
    secrets_key: Option<SecretsKey>,
    missed_runs: MissedRuns,
    formatter: Option<Arc<dyn AlertFormatter>>,
    limits: RunLimits,
    failure_channel: Option<String>,
    webhook_pending_after: Option<Duration>,
    webhook_body_limit: Option<usize>,
    notification_timeout: Duration,
    delivery_retry: (Duration, Duration),
    delivery_horizon: Duration,
}

impl EngineBuilder {
    /// A builder around the runtime that runs action code.
    pub fn new(runtime: Arc<dyn ActionRuntime>) -> Self {
        EngineBuilder {
            runtime,
            kv: None,
            relayers: HashMap::new(),
            relayer_keys: Vec::new(),
            team_keys: Vec::new(),
            notifiers: None,
            channels: Vec::new(),
            secrets: None,
            runs: None,
            clock: None,
            state: None,
            secrets_key: None,
            missed_runs: MissedRuns::default(),
            formatter: None,
            limits: RunLimits::default(),
            failure_channel: None,
            webhook_pending_after: None,
            webhook_body_limit: None,
            notification_timeout: DEFAULT_NOTIFICATION_TIMEOUT,
            delivery_retry: (DEFAULT_DELIVERY_FIRST_RETRY, DEFAULT_DELIVERY_MAX_RETRY),
            delivery_horizon: DEFAULT_DELIVERY_HORIZON,
        }
    }

    /// The key-value store shared by all actions (default: an [`InMemoryKvStore`], which
    /// holds at most [`defender_core::kv::DEFAULT_MAX_TOTAL_BYTES`] (64 MiB) of keys plus
    /// values and refuses puts beyond with
    /// `KvError::LimitExceeded { what: KvLimit::TotalBytes, .. }`; set a store here for another
    /// bound or a durable backend). Engine state is not kept there (see
    /// [`EngineBuilder::state`]), except monitor checkpoints of earlier versions, read once
    /// from here when the state has none.
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

    /// A team API key with its secret: what `new Defender({ apiKey, apiSecret })` (and the
    /// legacy `AutotaskClient`, `SentinelClient`) in an action needs to manage the engine's
    /// actions, monitors and channels. Keys not configured here are refused with an
    /// `UNAUTHORIZED` error; `new Defender(event)` needs no key.
    pub fn team_api_key(
        mut self,
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
    ) -> Self {
        self.team_keys.push((api_key.into(), api_secret.into()));
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

    /// The engine state: monitor checkpoints, relayer nonces and transactions (for the
    /// relayers a host builds on [`Engine::state`]), webhook tokens, schedule phases, alert-gate
    /// state, and by default run history (and secrets, with [`EngineBuilder::secrets_key`]).
    /// No action reaches it, and the actions' quota and expiry do not apply. Default: a
    /// [`MemoryStateStore`], lost with the engine; give a durable one (`defender-kv`'s
    /// `RedbStateStore` or `RedisStateStore`) for an engine that keeps its state across
    /// restarts.
    pub fn state(mut self, state: Arc<dyn StateStore>) -> Self {
        self.state = Some(state);
        self
    }

    /// Keeps secrets sealed in the engine state with this key (a
    /// [`StateSecretStore`](defender_core::state::StateSecretStore)), unless
    /// [`EngineBuilder::secrets`] gives another store. With [`EngineBuilder::build`] the
    /// store opens at first use, and a key other than the one the state's secrets were sealed
    /// with fails every secret operation (and so every run); [`EngineBuilder::try_build`]
    /// checks the key before it returns.
    pub fn secrets_key(mut self, key: SecretsKey) -> Self {
        self.secrets_key = Some(key);
        self
    }

    /// What schedules do with the ticks that fell while no engine ran on this state (default
    /// [`MissedRuns::Skip`]: nothing; [`MissedRuns::CatchUpOnce`]: one run at start).
    pub fn missed_runs(mut self, policy: MissedRuns) -> Self {
        self.missed_runs = policy;
        self
    }

    /// The secret store (default: in memory, or sealed in the engine state with
    /// [`EngineBuilder::secrets_key`]).
    pub fn secrets(mut self, secrets: Arc<dyn SecretStore>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The run history store (default: a
    /// [`StateRunStore`] in the engine state, 30 runs per action).
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
    /// attempt counts as failed (default [`DEFAULT_NOTIFICATION_TIMEOUT`]). Alerts are
    /// delivered off the block loop, one at a time per channel, so this bounds how long a dead
    /// channel holds up its own next alerts, never the blocks or other channels.
    pub fn notification_timeout(mut self, timeout: Duration) -> Self {
        self.notification_timeout = timeout;
        self
    }

    /// How failed deliveries of monitor alerts (notifications and linked-action runs) are
    /// retried: `first` after the first failure, doubled after each next one, up to `max`
    /// (defaults [`DEFAULT_DELIVERY_FIRST_RETRY`] and [`DEFAULT_DELIVERY_MAX_RETRY`]). A zero
    /// `first` counts as 1 ms.
    pub fn delivery_retry(mut self, first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        self.delivery_retry = (first, max.max(first));
        self
    }

    /// How long a failed delivery is retried, counted from when its alert was owed (or
    /// replayed), before it is kept as a dead letter (default [`DEFAULT_DELIVERY_HORIZON`];
    /// see [`Engine::dead_letters`]).
    pub fn delivery_horizon(mut self, horizon: Duration) -> Self {
        self.delivery_horizon = horizon;
        self
    }

    /// [`EngineBuilder::build`], after checking that the secrets key (if given) opens the
    /// state's secrets: a wrong key fails with [`SealedSecretError::WrongKey`].
    pub async fn try_build(self) -> Result<Engine, SealedSecretError> {
        let engine = self.build();
        if let Some(sealed) = &engine.inner.sealed {
            sealed.open().await?;
        }
        Ok(engine)
    }

    /// Builds the engine.
    pub fn build(mut self) -> Engine {
        let state = self
            .state
            .take()
            .unwrap_or_else(|| Arc::new(MemoryStateStore::default()));
        let sealed = match (&self.secrets, self.secrets_key.take()) {
            (None, Some(key)) => Some(Arc::new(SealedSecrets::new(state.clone(), key))),
            _ => None,
        };
        let notifiers = self.notifiers.unwrap_or_default();
        let manage = Arc::new(ManageState {
            team_keys: self.team_keys,
            triggers: RwLock::default(),
            channel_kinds: self
                .channels
                .iter()
                .map(|(alias, n)| (alias.clone(), n.kind().to_owned()))
                .collect(),
        });
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
            secrets: match (self.secrets, &sealed) {
                (Some(secrets), _) => secrets,
                (None, Some(sealed)) => sealed.clone(),
                (None, None) => Arc::new(InMemorySecretStore::default()),
            },
            runs: self
                .runs
                .unwrap_or_else(|| Arc::new(StateRunStore::new(state.clone()))),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            state,
            missed_runs: self.missed_runs,
            limits: self.limits,
            failure_channel: self.failure_channel,
            metrics: Metrics::default(),
            manage: OnceLock::new(),
        });
        let actions = Arc::new(Actions::default());
        let monitors = Arc::new(Monitors::new(
            runner.clone(),
            actions.clone(),
            self.formatter,
            DeliveryLimits {
                timeout: self.notification_timeout,
                first_retry: self.delivery_retry.0,
                max_retry: self.delivery_retry.1,
                horizon: self.delivery_horizon,
            },
        ));
        let proposals = Arc::new(Proposals::new(runner.clone()));
        let workflows = Arc::new(Workflows::new(
            runner.clone(),
            actions.clone(),
            proposals.clone(),
        ));
        let _ = runner.manage.set(Arc::new(EngineManageFactory {
            runner: Arc::downgrade(&runner),
            actions: Arc::downgrade(&actions),
            monitors: Arc::downgrade(&monitors),
            state: manage.clone(),
        }));
        Engine {
            inner: Arc::new(Inner {
                runner,
                actions,
                monitors,
                manage,
                sealed,
                proposals,
                workflows,
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
    manage: Arc<ManageState>,
    /// The sealed secrets of [`EngineBuilder::secrets_key`], to check the key.
    sealed: Option<Arc<SealedSecrets>>,
    proposals: Arc<Proposals>,
    workflows: Arc<Workflows>,
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

    /// The proposals (their `Engine` methods are in module `proposals`).
    pub(crate) fn proposals_service(&self) -> &Proposals {
        &self.inner.proposals
    }

    /// The workflows (their `Engine` methods are in module `workflows`).
    pub(crate) fn workflows_service(&self) -> &Workflows {
        &self.inner.workflows
    }

    /// The registry of notification channels, to add, pause or remove channels at run time.
    pub fn notifiers(&self) -> &Arc<NotifierRegistry> {
        &self.inner.runner.notifiers
    }

    /// The shared key-value store.
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.inner.runner.kv
    }

    /// The engine state (see [`EngineBuilder::state`]): what a host builds the engine's
    /// relayers on (`defender-relay`'s `StateRelayerStore`).
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.inner.runner.state
    }

    /// The secret store.
    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.inner.runner.secrets
    }

    /// The management API over the engine's actions, monitors and channels (what an action's
    /// `client.action` and `client.monitor` reach), for a host to serve to operators: list,
    /// get, run, pause. Runs it starts are ordinary runs (`trigger: manual-api`).
    pub fn manage(&self) -> Arc<dyn ManageApi> {
        match self.inner.runner.manage.get() {
            Some(factory) => factory.for_run(0),
            None => Arc::new(EngineManageFactory {
                runner: Arc::downgrade(&self.inner.runner),
                actions: Arc::downgrade(&self.inner.actions),
                monitors: Arc::downgrade(&self.inner.monitors),
                state: self.inner.manage.clone(),
            })
            .for_run(0),
        }
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
        // The alert gate's last changes, then its writer, which holds the state store.
        self.inner.monitors.close_gate().await;
    }

    // -------------------------------------------------------------------------------------
    // Actions

    /// Registers an action and starts its schedules. Returns the webhook token if it has a
    /// webhook trigger: the one the engine state keeps for this action id (set by an earlier
    /// engine on the same state, or with [`Engine::set_webhook_token`]), else a new random one,
    /// then kept there. Schedules continue the phase the state keeps for them (see
    /// [`Schedule`](crate::Schedule)).
    ///
    /// Must be called within a tokio runtime when the action has a schedule.
    pub async fn add_action(&self, spec: ActionSpec) -> Result<Option<String>, EngineError> {
        let (id, triggers) = (spec.id.clone(), spec.triggers.clone());
        let token = self.inner.actions.add(&self.inner.runner, spec)?;
        let token = match token {
            Some(fresh) => {
                match webhook::restore_token(self.inner.runner.state.as_ref(), &id, fresh).await {
                    Ok(kept) => {
                        self.set_entry_token(&id, kept.clone())?;
                        Some(kept)
                    }
                    Err(e) => {
                        let _ = self.inner.actions.remove(&id);
                        return Err(e.into());
                    }
                }
            }
            None => None,
        };
        self.inner.manage.set_trigger(&id, &triggers);
        Ok(token)
    }

    /// Removes an action and stops its schedules. Runs in progress finish.
    pub fn remove_action(&self, id: &str) -> Result<(), EngineError> {
        self.inner.actions.remove(id)?;
        self.inner.manage.forget(id);
        Ok(())
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

    /// Replaces an action's webhook token with a new random one, kept in the engine state;
    /// the old URL stops working at once. Enables the webhook trigger if the action had none.
    pub async fn regenerate_webhook_token(&self, id: &str) -> Result<String, EngineError> {
        let token = new_token();
        self.set_webhook_token(id, &token).await?;
        Ok(token)
    }

    /// Sets an action's webhook token, kept in the engine state: a team moving from Defender
    /// keeps its webhook URLs by setting each action's old secret. The old URL stops working
    /// at once; enables the webhook trigger if the action had none.
    ///
    /// The token is 16 to 256 characters of `A`-`Z`, `a`-`z`, `0`-`9`, `-` and `_`; another
    /// fails with [`EngineError::InvalidWebhookToken`], and changes nothing.
    pub async fn set_webhook_token(&self, id: &str, token: &str) -> Result<(), EngineError> {
        webhook::check_token(token).map_err(|reason| EngineError::InvalidWebhookToken {
            id: id.to_owned(),
            reason,
        })?;
        self.inner.actions.entry(id)?;
        webhook::store_token(self.inner.runner.state.as_ref(), id, token).await?;
        self.set_entry_token(id, token.to_owned())
    }

    fn set_entry_token(&self, id: &str, token: String) -> Result<(), EngineError> {
        *self
            .inner
            .actions
            .entry(id)?
            .webhook_token
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(())
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
    /// (confirmations, reorgs) -> matcher -> custom filter -> alert gate -> dispatch (each
    /// alert owes one delivery per notification channel and a run of the linked action, with
    /// the match as `request.body`) -> checkpoint, written with what the alerts owe in one
    /// atomic batch of the engine state (the outbox). Delivery workers then deliver, at least
    /// once, across crashes and restarts, retrying failures (see
    /// [`EngineBuilder::delivery_retry`] and [`EngineBuilder::delivery_horizon`]); a slow or
    /// dead channel never holds up blocks or other channels (see
    /// [`EngineBuilder::notification_timeout`]). Each delivery carries an idempotency key,
    /// sent to webhook channels as the `Idempotency-Key` header, so a receiver can drop a
    /// redelivery.
    pub async fn add_monitor(&self, id: &str, def: MonitorDefinition) -> Result<(), EngineError> {
        self.inner.monitors.add_monitor(id, def).await
    }

    /// Adds several monitors as [`add_monitor`](Self::add_monitor) does, every one of them
    /// before any network starts watching: after a restart, the blocks a network replays
    /// from its checkpoint are matched against all of them (added one by one, a monitor
    /// added after its network's loop started misses the blocks replayed before it).
    /// Stops at the first invalid monitor, with its error; those before it are added.
    pub async fn add_monitors(
        &self,
        monitors: impl IntoIterator<Item = (String, MonitorDefinition)>,
    ) -> Result<(), EngineError> {
        self.inner.monitors.add_monitors(monitors).await
    }

    /// Removes a monitor. What its alerts owe is still delivered.
    pub fn remove_monitor(&self, id: &str) -> Result<(), EngineError> {
        self.inner.monitors.remove_monitor(id)
    }

    /// Pauses or resumes a monitor: a paused monitor matches nothing.
    pub async fn set_monitor_paused(&self, id: &str, paused: bool) -> Result<(), EngineError> {
        self.inner.monitors.set_paused(id, paused).await
    }

    /// A monitor's definition, with its current `paused` flag (which actions change through
    /// `client.monitor.pause`).
    pub fn monitor(&self, id: &str) -> Option<Arc<MonitorDefinition>> {
        self.inner.monitors.definition(id)
    }

    /// The ids of the monitors, sorted.
    pub fn monitor_ids(&self) -> Vec<String> {
        self.inner.monitors.ids()
    }

    /// Waits until every delivery due now (notifications and linked-action runs of the
    /// alerts of the blocks processed so far) has had an attempt: delivered, failed or timed
    /// out. Deliveries waiting for a retry are not waited for. Blocks are processed without
    /// waiting for deliveries; call this to know that the alerts so far have gone out.
    pub async fn flush_alerts(&self) {
        self.inner.monitors.flush().await
    }

    /// The dead letters: alerts with a delivery given up at the retry horizon
    /// ([`EngineBuilder::delivery_horizon`]), oldest first. They stay in the engine state
    /// until replayed.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, EngineError> {
        self.inner.monitors.dead_letters().await
    }

    /// Delivers the given-up deliveries of dead letter `id` again, with a fresh retry horizon
    /// (their idempotency keys unchanged); returns how many. An unknown id is
    /// [`EngineError::UnknownDeadLetter`].
    pub async fn replay_dead_letter(&self, id: &str) -> Result<usize, EngineError> {
        self.inner.monitors.replay_dead_letter(id).await
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

//! The engine's builder: its parts and settings, and the assembly of an [`Engine`] from them.

use crate::actions::Actions;
use crate::delivery::DeliveryLimits;
use crate::engine::{Engine, Inner};
use crate::forta::FortaMonitors;
use crate::lease::Cluster;
use crate::manage::{EngineManageFactory, ManageState};
use crate::metrics::Metrics;
use crate::proposals::Proposals;
use crate::registry::Monitors;
use crate::run::Runner;
use crate::schedule::MissedRuns;
use crate::secrets::SealedSecrets;
use crate::sync::ConfigSync;
use crate::webhook::{WebhookLimits, DEFAULT_WEBHOOK_BODY_LIMIT, WEBHOOK_PENDING_AFTER};
use crate::workflows::Workflows;
use defender_core::state::{
    MemoryStateStore, SealedSecretError, SecretsKey, StateRunStore, StateStore,
};
use defender_core::{
    ActionRuntime, AlertFormatter, Clock, InMemoryKvStore, InMemorySecretStore, KvStore, Notifier,
    NotifierRegistry, Relayer, RunLimits, RunStore, SecretStore, SystemClock,
};
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
    cluster: Cluster,
    formatter: Option<Arc<dyn AlertFormatter>>,
    limits: RunLimits,
    pub(crate) execution_limits: crate::limits::ExecutionLimits,
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
            cluster: Cluster::default(),
            formatter: None,
            limits: RunLimits::default(),
            execution_limits: Default::default(),
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

    /// How this engine shares its state with other engine processes (default: a random
    /// instance name and 10-second leases).
    ///
    /// Any number of engines may share one engine state (a Redis server, say; see
    /// [`EngineBuilder::state`]) and the actions' key-value store, each with its own
    /// [`Cluster::instance`]. Then each network's blocks (per confirmation level), each
    /// schedule and each relayer's lifecycle is worked on by one engine at a time: the holder
    /// of its lease, which puts the lease's fence into the batches that record its progress.
    /// When it dies another engine takes over within 4/3 of [`Cluster::lease_ttl`], at the
    /// shared checkpoint, schedule phase and alert-gate state. Outbox deliveries are claimed by
    /// one engine at a time, and claims of a dead engine are taken over once they expire.
    /// Webhooks and manual runs are served by whichever engine receives them.
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = cluster;
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
        if let Some(sealed) = engine.sealed_secrets() {
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
            sync: OnceLock::new(),
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
            cluster: self.cluster,
            limits: self.limits,
            limiter: crate::limits::Limiter::new(self.execution_limits),
            failure_channel: self.failure_channel,
            metrics: Metrics::default(),
            manage: OnceLock::new(),
            workflows: OnceLock::new(),
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
        let forta = Arc::new(FortaMonitors::new(monitors.stages(), runner.clone()));
        let proposals = Arc::new(Proposals::new(runner.clone()));
        let workflows = Arc::new(Workflows::new(
            runner.clone(),
            actions.clone(),
            proposals.clone(),
        ));
        let _ = runner.workflows.set(Arc::downgrade(&workflows));
        let _ = manage.sync.set(ConfigSync::start(
            runner.state.clone(),
            runner.cluster.instance.clone(),
            Arc::downgrade(&actions),
            Arc::downgrade(&monitors),
        ));
        let _ = runner.manage.set(Arc::new(EngineManageFactory {
            runner: Arc::downgrade(&runner),
            actions: Arc::downgrade(&actions),
            monitors: Arc::downgrade(&monitors),
            state: manage.clone(),
        }));
        Engine::from_parts(Inner {
            runner,
            actions,
            monitors,
            manage,
            sealed,
            proposals,
            workflows,
            forta,
            webhook: WebhookLimits {
                pending_after: self.webhook_pending_after.unwrap_or(WEBHOOK_PENDING_AFTER),
                body_limit: self
                    .webhook_body_limit
                    .unwrap_or(DEFAULT_WEBHOOK_BODY_LIMIT),
            },
        })
    }
}

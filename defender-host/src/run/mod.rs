//! Running a loaded [`Project`]: an [`Engine`] with the QuickJS runtime, durable state in the
//! state directory, the project's relayers, channels, secrets, networks, actions and monitors,
//! and one HTTP server for the webhooks (stable URLs), `/health`, `/metrics` and the
//! management API ([`crate::api`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let env = std::env::vars().collect();
//! let project = defender_host::validate("./my-project".as_ref(), None, &env)
//!     .map_err(|problems| format!("{} problem(s)", problems.len()))?;
//! let host = defender_host::run::Host::start(&project, defender_host::run::RunOptions::new(env)).await?;
//! for (action, url) in host.webhook_urls() {
//!     println!("{action}: {url}");
//! }
//! host.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What is kept in the state directory (`state-dir`, default `.defender-host` in the
//! project): `state.redb` (engine state: checkpoints, webhook tokens, schedule phases, the
//! outbox, run history, relayer nonces and transactions, secrets sealed with the host's key),
//! `kv.redb` (the actions' key-value store) and `host-keys.json` (see [`keys`]).

mod assemble;
mod error;
pub mod keys;
mod server;

pub(crate) use assemble::group_member_id;
pub use assemble::{open_state, state_dir, StateMode, DEFAULT_STATE_DIR, KV_FILE, STATE_FILE};
pub use error::HostError;

use crate::Project;
use defender_engine::{ActionTrigger, Engine, EngineError, Schedule};
use defender_relay::RpcRelayer;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The address served when neither the config nor the options name one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How often networks are polled for new blocks, by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How a project is run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunOptions {
    /// The environment (the secrets key `DEFENDER_HOST_SECRETS_KEY` is read from it).
    pub env: BTreeMap<String, String>,
    /// Where to listen, over the config's `listen` (`127.0.0.1:0`: any free port).
    pub listen: Option<SocketAddr>,
    /// How often networks are polled for new blocks.
    pub poll_interval: Duration,
}

impl RunOptions {
    /// Defaults, with this environment.
    pub fn new(env: BTreeMap<String, String>) -> Self {
        RunOptions {
            env,
            listen: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Listens on `addr`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Polls networks every `interval`.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
}

/// A running project: its engine and its HTTP server.
#[derive(Debug)]
pub struct Host {
    engine: Engine,
    relayers: Vec<(String, Arc<RpcRelayer>)>,
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    server: JoinHandle<()>,
}

fn describe(triggers: &[ActionTrigger]) -> String {
    let t: Vec<String> = triggers
        .iter()
        .map(|t| match t {
            ActionTrigger::Schedule(Schedule::Interval(d)) => {
                format!("schedule every {}", humanize(*d))
            }
            ActionTrigger::Schedule(Schedule::Cron(c)) => format!("cron `{c}`"),
            ActionTrigger::Webhook => "webhook".to_owned(),
        })
        .collect();
    if t.is_empty() {
        "run by hand or by monitors".to_owned()
    } else {
        t.join(", ")
    }
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s % 3600 == 0 && s > 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 && s > 0 {
        format!("{} min", s / 60)
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The webhook URL of each action with a webhook trigger, on `base` (`http://host:port`).
pub fn webhook_urls(engine: &Engine, base: &str) -> BTreeMap<String, String> {
    engine
        .action_ids()
        .into_iter()
        .filter_map(|id| {
            let token = engine.webhook_token(&id).ok().flatten()?;
            Some((
                id.clone(),
                format!("{base}/actions/{id}/runs/webhook/{token}"),
            ))
        })
        .collect()
}

/// Registers the project's actions: schedules start, webhook tokens are the config's, else
/// those kept in the state (made on first start).
pub(crate) async fn add_actions(
    engine: &Engine,
    project: &Project,
    with_schedules: bool,
) -> Result<(), HostError> {
    for (id, a) in &project.actions {
        let mut spec = a.spec.clone();
        if !with_schedules {
            spec.triggers
                .retain(|t| !matches!(t, ActionTrigger::Schedule(_)));
        }
        let fail = |source| HostError::Action {
            id: id.clone(),
            source: Box::new(source),
        };
        engine.add_action(spec).await.map_err(fail)?;
        if let Some(token) = &a.webhook_token {
            engine.set_webhook_token(id, token).await.map_err(fail)?;
        }
        tracing::info!(
            action = %id,
            name = %a.spec.name,
            paused = a.spec.paused,
            relayer = a.spec.relayer_id.as_deref().unwrap_or("-"),
            "action: {}",
            describe(&a.spec.triggers)
        );
    }
    Ok(())
}

impl Host {
    /// Starts the project: builds the engine on the state directory, starts its relayers,
    /// adds its networks, actions (schedules start) and monitors (watching from the chain's
    /// head, or from their checkpoint), and serves HTTP.
    pub async fn start(project: &Project, options: RunOptions) -> Result<Host, HostError> {
        let parts = assemble::parts(project, StateMode::Durable, true, &options.env).await?;
        if let Some(path) = &parts.keys_file {
            tracing::info!(keys = %path.display(), "state in {}", state_dir(project).display());
        }
        for (label, relayer, _) in &parts.relayer_keys {
            tracing::info!(
                relayer = %relayer,
                api_key = %label,
                "relayer API key `{label}`: its secret is in the keys file"
            );
        }
        let relayers = parts.relayers;
        let relayer_access = crate::api::relayer::access(
            project,
            &*parts.state,
            &relayers,
            &parts.groups,
            &parts.relayer_keys,
        )
        .await;
        let engine = parts
            .builder
            .try_build()
            .await
            .map_err(|e| HostError::SecretsKey(e.to_string()))?;
        let started = Self::fill(&engine, project, &options).await;
        if let Err(e) = started {
            engine.shutdown_and_wait().await;
            for (_, r) in &relayers {
                r.shutdown();
            }
            return Err(e);
        }
        let addr = options.listen.or(project.host.listen).unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)))
        });
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(source) => {
                engine.shutdown_and_wait().await;
                return Err(HostError::Listen { addr, source });
            }
        };
        let addr = listener.local_addr().unwrap_or(addr);
        let base = format!("http://{addr}");
        if project.host.api_key.is_none() {
            tracing::warn!("no management API key (api-key-env in defender-host.yml): the management API answers 401 to every request");
        }
        let router = server::router(server::ServerState {
            engine: engine.clone(),
            api_key: project.host.api_key.clone(),
            base_url: base.clone(),
            relayers: relayer_access,
        });
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
        for (id, url) in webhook_urls(&engine, &base) {
            tracing::info!(action = %id, "webhook: POST {url}");
        }
        tracing::info!(
            "serving on {base}: webhooks, /health, /metrics, the management API ({} action(s), {} monitor(s))",
            project.actions.len(),
            project.monitors.len()
        );
        Ok(Host {
            engine,
            relayers,
            addr,
            stop,
            server,
        })
    }

    async fn fill(
        engine: &Engine,
        project: &Project,
        options: &RunOptions,
    ) -> Result<(), HostError> {
        for (alias, n) in &project.notifications {
            if n.definition.paused {
                engine.notifiers().set_paused(alias, true);
            }
            tracing::info!(
                channel = %alias,
                kind = %serde_json::to_value(&n.definition.channel).ok().and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned))).unwrap_or_default(),
                paused = n.definition.paused,
                "notification channel"
            );
        }
        for (name, value) in &project.secrets {
            let Some(value) = value else { continue };
            engine
                .secrets()
                .put(name, value)
                .await
                .map_err(|e| HostError::Secret {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
        }
        if !project.secrets.is_empty() {
            tracing::info!(count = project.secrets.len(), "secrets stored, sealed");
        }
        let networks: BTreeSet<&str> = project
            .monitors
            .values()
            .map(|m| m.definition.network.as_str())
            .collect();
        for name in networks {
            let chain_id =
                assemble::add_network(engine, project, name, options.poll_interval).await?;
            tracing::info!(network = %name, chain_id, "network watched");
        }
        add_actions(engine, project, true).await?;
        assemble::add_workflows(engine, project).await?;
        // All at once: after a restart, the blocks replayed from a network's checkpoint are
        // matched against every monitor, not only the first one added.
        engine
            .add_monitors(
                project
                    .monitors
                    .iter()
                    .map(|(id, m)| (id.clone(), m.definition.clone())),
            )
            .await
            .map_err(|source| HostError::Monitor {
                id: match &source {
                    EngineError::InvalidMonitor { id, .. }
                    | EngineError::MonitorDefinition { id, .. } => id.clone(),
                    _ => "(monitors)".to_owned(),
                },
                source: Box::new(source),
            })?;
        if let Some(forta) = &project.host.forta {
            engine.set_forta_api(defender_engine::forta::FortaApi {
                url: forta.url.clone(),
                api_key: forta.api_key.as_ref().map(|k| k.expose().to_owned()),
                poll_interval: forta.poll_interval_ms.map_or(
                    defender_engine::forta::FortaApi::default().poll_interval,
                    Duration::from_millis,
                ),
                ..defender_engine::forta::FortaApi::default()
            });
        }
        for (id, def) in &project.forta_monitors {
            engine
                .add_forta_monitor(id, def.clone())
                .await
                .map_err(|source| HostError::Monitor {
                    id: id.clone(),
                    source: Box::new(source),
                })?;
            tracing::info!(monitor = %id, name = %def.name, bots = def.agent_ids.len(), "Forta monitor");
        }
        for (id, m) in &project.monitors {
            let d = &m.definition;
            tracing::info!(
                monitor = %id,
                name = %d.name,
                network = %d.network,
                paused = d.paused,
                channels = ?d.notification_channels,
                action = d.action_trigger.as_deref().unwrap_or("-"),
                workflow = d.workflow_trigger.as_deref().unwrap_or("-"),
                "monitor watching {} address(es)",
                d.addresses.len()
            );
        }
        Ok(())
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The address the HTTP server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the HTTP server (`http://127.0.0.1:8080`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The webhook URL of each action with a webhook trigger.
    pub fn webhook_urls(&self) -> BTreeMap<String, String> {
        webhook_urls(&self.engine, &self.base_url())
    }

    /// The started relayers, by resource key.
    pub fn relayer(&self, id: &str) -> Option<&Arc<RpcRelayer>> {
        self.relayers.iter().find(|(k, _)| k == id).map(|(_, r)| r)
    }

    /// Stops serving, the schedules, the monitors and the relayers. The state files are
    /// released when it returns, unless a clone of [`Host::engine`] is still held.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        self.engine.shutdown_and_wait().await;
        for (_, r) in &self.relayers {
            r.shutdown();
        }
        tracing::info!("stopped");
    }
}

/// A one-off engine on scratch state: the project's runtime, channels, secrets and (with
/// `with_relayers`) relayers, and no action, monitor or network yet. What `invoke` and
/// `test-conditions` run on: nothing it does is kept.
pub async fn scratch_engine(
    project: &Project,
    with_relayers: bool,
    env: &BTreeMap<String, String>,
) -> Result<(Engine, Vec<Arc<RpcRelayer>>), HostError> {
    let parts = assemble::parts(project, StateMode::Scratch, with_relayers, env).await?;
    let engine = parts.builder.build();
    for (name, value) in &project.secrets {
        let Some(value) = value else { continue };
        engine
            .secrets()
            .put(name, value)
            .await
            .map_err(|e| HostError::Secret {
                name: name.clone(),
                message: e.to_string(),
            })?;
    }
    Ok((engine, parts.relayers.into_iter().map(|(_, r)| r).collect()))
}

/// The webhook URL (on `base`) of each webhook action of the project, with the tokens engine
/// state `state` keeps (or the config's fixed ones); an action that has none yet gets one,
/// kept there, which `run` then serves.
pub async fn project_webhook_urls(
    project: &Project,
    state: Arc<dyn defender_core::state::StateStore>,
    base: &str,
) -> Result<BTreeMap<String, String>, HostError> {
    let engine = Engine::builder(Arc::new(assemble::runtime(project)))
        .state(state)
        .build();
    let added = add_actions(&engine, project, false).await;
    let urls = webhook_urls(&engine, base);
    engine.shutdown_and_wait().await;
    added.map(|()| urls)
}

/// Adds network `name` of the project to `engine` (polled every `poll_interval`); returns its
/// chain id.
pub async fn add_network(
    engine: &Engine,
    project: &Project,
    name: &str,
    poll_interval: Duration,
) -> Result<u64, HostError> {
    assemble::add_network(engine, project, name, poll_interval).await
}

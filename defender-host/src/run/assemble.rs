//! Assembling an engine from a project: the stores, the runtime (each action's
//! `environment-variables` as its `process.env`), relayers, channels, secrets, networks,
//! workflows.

use super::keys::HostKeys;
use super::HostError;
use crate::config::RelayerKey;
use crate::Project;
use defender_core::state::{MemoryStateStore, StateStore};
use defender_core::{InMemoryKvStore, KvStore};
use defender_core::{Notifier, Relayer};
use defender_engine::{Engine, EngineBuilder, NetworkSpec, StartAt};
use defender_kv::{RedbKvStore, RedbStateStore};
use defender_relay::{
    BalanceWatch, BalanceWatchConfig, GroupMember, GroupNotifications, LocalSigner, RelayerConfig,
    RelayerGroup, RetryConfig, RpcRelayer, StateRelayerStore,
};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often a relayer with a `min-balance` has its balance read when it sends nothing (it is
/// also read after each change of one of its transactions).
pub(crate) const BALANCE_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// The state directory used when the config names none, inside the project.
pub const DEFAULT_STATE_DIR: &str = ".defender-host";

/// Engine state file in the state directory.
pub const STATE_FILE: &str = "state.redb";

/// Key-value store file (what actions reach) in the state directory.
pub const KV_FILE: &str = "kv.redb";

/// Where the engine keeps what it knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateMode {
    /// In the state directory: engine state, run history, sealed secrets, the key-value store.
    Durable,
    /// In memory, gone with the engine (one-off engines: `invoke`, `test-conditions`).
    Scratch,
}

/// The project's state directory.
pub fn state_dir(project: &Project) -> PathBuf {
    project
        .host
        .state_dir
        .clone()
        .unwrap_or_else(|| project.dir.join(DEFAULT_STATE_DIR))
}

/// Creates the state directory, readable by its owner only.
pub(crate) fn create_state_dir(dir: &Path) -> Result<(), HostError> {
    let fail = |source| HostError::StateDir {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    }
    Ok(())
}

/// Opens the engine state of the state directory (creating the directory, 0700, if need
/// be). Fails with [`HostError::Store`] while another process holds it.
pub fn open_state(dir: &Path) -> Result<Arc<dyn StateStore>, HostError> {
    create_state_dir(dir)?;
    let path = dir.join(STATE_FILE);
    RedbStateStore::open(&path)
        .map(|s| Arc::new(s) as Arc<dyn StateStore>)
        .map_err(|e| HostError::Store {
            what: "engine state",
            path,
            message: e.to_string(),
        })
}

/// The stores, relayers and keys an engine is built with.
pub(crate) struct Parts {
    pub(crate) builder: EngineBuilder,
    pub(crate) relayers: Vec<(String, Arc<RpcRelayer>)>,
    /// Relayer API key label, relayer, API secret.
    pub(crate) relayer_keys: Vec<(String, String, String)>,
    pub(crate) keys_file: Option<PathBuf>,
    /// The relayer groups by id, as the engine has them (the relayer API reaches them by
    /// their API keys too).
    pub(crate) groups: Vec<(String, Arc<dyn Relayer>)>,
    /// The engine state the builder was given.
    pub(crate) state: Arc<dyn StateStore>,
}

/// The QuickJS runtime, each action's `environment-variables` as its `process.env`.
pub(crate) fn runtime(project: &Project) -> QuickJsRuntime {
    let mut config = RuntimeConfig::default();
    for (id, a) in &project.actions {
        if !a.environment_variables.is_empty() {
            config = config.with_action_env(id.clone(), a.environment_variables.clone());
        }
    }
    QuickJsRuntime::new(config)
}

/// The RPC URLs of a network: the config's, else a private or forked network's own.
pub(crate) fn network_urls(project: &Project, network: &str) -> Vec<String> {
    if let Some(n) = project.host.networks.get(network) {
        return n.rpc.clone();
    }
    project
        .private_networks
        .values()
        .chain(project.forked_networks.values())
        .filter(|n| n.name == network)
        .map(|n| n.rpc_url.clone())
        .collect()
}

/// The labels of every relayer API key the project declares.
fn api_key_labels(project: &Project) -> Vec<String> {
    project
        .relayers
        .values()
        .flat_map(|r| r.api_keys.iter().cloned())
        .chain(
            project
                .relayer_groups
                .values()
                .flat_map(|g| g.api_keys.iter().cloned()),
        )
        .collect()
}

/// This process's name and lease time among the processes sharing its state: from the host
/// config's `cluster:`, else a random name and the engine's default lease time.
fn cluster_of(project: &Project) -> defender_engine::Cluster {
    let mut cluster = defender_engine::Cluster::default();
    if let Some(c) = &project.host.cluster {
        if let Some(instance) = &c.instance {
            cluster.instance = instance.clone();
        }
        if let Some(ms) = c.lease_ttl_ms {
            cluster.lease_ttl = std::time::Duration::from_millis(ms);
        }
    }
    cluster
}

/// Builds the stores and, with `with_relayers`, starts the project's relayers.
pub(crate) async fn parts(
    project: &Project,
    mode: StateMode,
    with_relayers: bool,
    env: &BTreeMap<String, String>,
) -> Result<Parts, HostError> {
    let runtime = Arc::new(runtime(project));
    let cluster = cluster_of(project);
    let (state, kv, keys): (Arc<dyn StateStore>, Arc<dyn KvStore>, Option<HostKeys>) = match mode {
        StateMode::Durable if project.host.cluster.is_some() => {
            let dir = state_dir(project);
            create_state_dir(&dir)?;
            let keys = HostKeys::load_or_create(&dir, &api_key_labels(project), env)?;
            let url = project
                .host
                .cluster
                .as_ref()
                .map(|c| c.redis_url.expose().to_owned())
                .unwrap_or_default();
            let redis = |what: &'static str, message: String| HostError::Redis { what, message };
            let state = defender_kv::RedisStateStore::connect(&url)
                .await
                .map_err(|e| redis("engine state", e.to_string()))?;
            let kv = defender_kv::RedisKvStore::connect(&url)
                .await
                .map_err(|e| redis("key-value store", e.to_string()))?;
            (Arc::new(state), Arc::new(kv), Some(keys))
        }
        StateMode::Durable => {
            let dir = state_dir(project);
            create_state_dir(&dir)?;
            let keys = HostKeys::load_or_create(&dir, &api_key_labels(project), env)?;
            let state = open_state(&dir)?;
            let kv_path = dir.join(KV_FILE);
            let kv = RedbKvStore::open(&kv_path).map_err(|e| HostError::Store {
                what: "key-value store",
                path: kv_path,
                message: e.to_string(),
            })?;
            (state, Arc::new(kv), Some(keys))
        }
        StateMode::Scratch => (
            Arc::new(MemoryStateStore::default()),
            Arc::new(InMemoryKvStore::default()),
            None,
        ),
    };
    let mut builder = Engine::builder(runtime)
        .cluster(cluster.clone())
        .kv(kv)
        .state(state.clone())
        .alert_formatter(Arc::new(defender_notify::TemplateFormatter::new()));
    let mut keys_file = None;
    if let Some(keys) = &keys {
        builder = builder.secrets_key(keys.secrets_key.clone());
        keys_file = Some(keys.path.clone());
    }
    // The channels, also for relayer alerts (low balance, group transaction events).
    let mut channels: BTreeMap<String, Arc<dyn Notifier>> = BTreeMap::new();
    for (alias, n) in &project.notifications {
        let notifier =
            defender_notify::build(&n.definition.channel).map_err(|e| HostError::Channel {
                alias: alias.clone(),
                message: e.to_string(),
            })?;
        builder = builder.notifier(alias.clone(), notifier.clone());
        channels.insert(alias.clone(), notifier);
    }
    let mut relayers = Vec::new();
    let mut relayer_keys = Vec::new();
    let mut groups = Vec::new();
    if with_relayers {
        let alerts = RelayerAlerts::new(project, &channels);
        for (id, r) in &project.relayers {
            let key_of = r.address_from_relayer.as_deref().unwrap_or(id);
            let key = project
                .host
                .relayers
                .get(key_of)
                .ok_or_else(|| HostError::Relayer {
                    id: id.clone(),
                    message: format!("no key for `{key_of}` in the host config"),
                })?;
            let spec = RelayerSpec {
                id,
                name: &r.name,
                network: &r.network,
                policy: r.policy.as_deref(),
                key,
            };
            let relayer = start_relayer(project, &spec, state.clone(), &cluster.instance).await?;
            tracing::info!(
                relayer = %id,
                name = %r.name,
                network = %r.network,
                address = %relayer.address(),
                "relayer started"
            );
            if let Some(watch) = alerts.watch(&relayer, r.min_balance) {
                // The watch stops with the relayer.
                watch.detach();
            }
            builder = builder.relayer(id.clone(), relayer.clone());
            relayers.push((id.clone(), relayer));
            builder = add_api_keys(builder, keys.as_ref(), id, &r.api_keys, &mut relayer_keys);
        }
        for (id, g) in &project.relayer_groups {
            let group_keys = project.host.relayer_groups.get(id);
            let mut members = Vec::new();
            for i in 0..g.relayers as usize {
                let member_id = group_member_id(id, i);
                let key = group_keys
                    .and_then(|k| k.get(i))
                    .ok_or_else(|| HostError::Relayer {
                        id: id.clone(),
                        message: format!(
                        "no key for relayer {} of {} in the host config (`relayer-groups.{id}`)",
                        i + 1,
                        g.relayers
                    ),
                    })?;
                let spec = RelayerSpec {
                    id: &member_id,
                    name: &format!("{} #{}", g.name, i + 1),
                    network: &g.network,
                    policy: g.policy.as_deref(),
                    key,
                };
                let relayer =
                    start_relayer(project, &spec, state.clone(), &cluster.instance).await?;
                let mut member = GroupMember::new(relayer.clone());
                if let Some(watch) = alerts.watch(&relayer, g.min_balance) {
                    member = member.with_balance_watch(watch);
                }
                members.push(member);
                relayers.push((member_id, relayer));
            }
            let mut group =
                RelayerGroup::new(id.clone(), g.name.clone(), g.network.clone(), members).map_err(
                    |e| HostError::Relayer {
                        id: id.clone(),
                        message: e.to_string(),
                    },
                )?;
            if let Some(n) = &g.notification_channels {
                let targets = alerts.channels_of(&n.channels);
                group =
                    group.with_notifications(GroupNotifications::new(n.events.clone(), targets));
            }
            tracing::info!(
                group = %id,
                name = %g.name,
                network = %g.network,
                members = %group
                    .members()
                    .iter()
                    .map(|m| m.relayer().address().to_checksum(None))
                    .collect::<Vec<_>>()
                    .join(", "),
                "relayer group started"
            );
            let group: Arc<dyn Relayer> = Arc::new(group);
            builder = builder.relayer(id.clone(), group.clone());
            groups.push((id.clone(), group));
            builder = add_api_keys(builder, keys.as_ref(), id, &g.api_keys, &mut relayer_keys);
        }
    }
    Ok(Parts {
        builder,
        relayers,
        relayer_keys,
        keys_file,
        groups,
        state,
    })
}

/// The id under which relayer `i` of group `group` keeps its state and is listed.
/// Gives relayer (or relayer group) `id` the API keys `labels` whose secrets `keys` hold, in
/// the engine and in `out` as `(label, id, secret)`.
fn add_api_keys(
    mut builder: EngineBuilder,
    keys: Option<&HostKeys>,
    id: &str,
    labels: &[String],
    out: &mut Vec<(String, String, String)>,
) -> EngineBuilder {
    for label in labels {
        let Some(secret) = keys.and_then(|k| k.relayer_api_secrets.get(label)) else {
            continue;
        };
        builder = builder.relayer_api_key(id, label.clone(), secret.clone());
        out.push((label.clone(), id.to_owned(), secret.clone()));
    }
    builder
}

pub(crate) fn group_member_id(group: &str, i: usize) -> String {
    format!("{group}#{}", i + 1)
}

/// Where `min-balance` alerts go: the host config's `low-balance-channels`, paused ones left
/// out (Defender emailed the team; a self-hosted project names its channels).
struct RelayerAlerts<'a> {
    project: &'a Project,
    channels: &'a BTreeMap<String, Arc<dyn Notifier>>,
}

impl<'a> RelayerAlerts<'a> {
    fn new(project: &'a Project, channels: &'a BTreeMap<String, Arc<dyn Notifier>>) -> Self {
        RelayerAlerts { project, channels }
    }

    /// The channels of these aliases that exist and are not paused.
    fn channels_of(&self, aliases: &[String]) -> Vec<(String, Arc<dyn Notifier>)> {
        aliases
            .iter()
            .filter(|a| {
                self.project
                    .notifications
                    .get(*a)
                    .is_some_and(|n| !n.definition.paused)
            })
            .filter_map(|a| self.channels.get(a).map(|c| (a.clone(), c.clone())))
            .collect()
    }

    /// A balance watch of `relayer` when its minimum is above zero.
    fn watch(&self, relayer: &Arc<RpcRelayer>, min_balance: u128) -> Option<BalanceWatch> {
        if min_balance == 0 {
            return None;
        }
        let targets = self.channels_of(&self.project.host.low_balance_channels);
        if targets.is_empty() {
            tracing::warn!(
                relayer = %relayer.address(),
                min_balance = %min_balance,
                "min-balance is set but no low-balance channel is (`low-balance-channels` in the host config): low balances are only logged"
            );
        }
        let mut config = BalanceWatchConfig::new(alloy_primitives::U256::from(min_balance))
            .with_interval(BALANCE_CHECK_INTERVAL);
        for (alias, c) in targets {
            config = config.with_channel(alias, c);
        }
        Some(BalanceWatch::start(relayer, config))
    }
}

/// What a relayer is started from: a project relayer or one relayer of a group.
struct RelayerSpec<'a> {
    id: &'a str,
    name: &'a str,
    network: &'a str,
    policy: Option<&'a str>,
    key: &'a RelayerKey,
}

async fn start_relayer(
    project: &Project,
    spec: &RelayerSpec<'_>,
    state: Arc<dyn StateStore>,
    instance: &str,
) -> Result<Arc<RpcRelayer>, HostError> {
    let id = spec.id;
    let fail = |message: String| HostError::Relayer {
        id: id.to_owned(),
        message,
    };
    let signer = match spec.key {
        RelayerKey::PrivateKey(k) => LocalSigner::from_private_key(k.expose()),
        RelayerKey::Keystore { path, password } => {
            LocalSigner::from_keystore(path, password.expose())
        }
    }
    .map_err(|e| fail(e.to_string()))?;
    let urls = network_urls(project, spec.network);
    if urls.is_empty() {
        return Err(fail(format!("network `{}` has no RPC URL", spec.network)));
    }
    let network = project.host.networks.get(spec.network);
    let mut config = RelayerConfig::new(id, urls)
        .with_name(spec.name)
        .with_network(spec.network)
        .with_private_url(network.and_then(|n| n.private_rpc.clone()));
    if let Some(chain_id) = network.and_then(|n| n.chain_id) {
        config.chain_id = Some(chain_id);
    }
    if let Some(policy) = spec.policy.and_then(|p| project.policies.get(p)) {
        let whitelist = policy
            .whitelist_receivers
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| fail(format!("`{a}` is not an address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if policy.private_transactions && config.private_url.is_none() {
            return Err(fail(format!(
                "the `private-transactions` policy needs a private endpoint: add `networks.{}.private-rpc` to the host config",
                spec.network
            )));
        }
        config = config
            .with_gas_price_cap(policy.gas_price_cap)
            .with_whitelist((!whitelist.is_empty()).then_some(whitelist))
            .with_eip1559(policy.eip1559_pricing)
            .with_private_transactions(policy.private_transactions);
    }
    let store = Arc::new(StateRelayerStore::new(state, id).with_instance(instance));
    RpcRelayer::start(config, Arc::new(signer), store)
        .await
        .map(Arc::new)
        .map_err(|e| fail(e.to_string()))
}

/// Adds the project's workflows, and the networks their proposal steps call contracts on
/// (reached at the network's first RPC URL).
pub(crate) async fn add_workflows(engine: &Engine, project: &Project) -> Result<(), HostError> {
    for name in crate::project::proposal_networks(project.workflows.values()) {
        let fail = |message: String| HostError::Network {
            name: name.clone(),
            message,
        };
        let urls = network_urls(project, &name);
        let url = urls
            .first()
            .ok_or_else(|| fail("no RPC URL for the workflows' proposals".into()))?;
        let chain_id = engine
            .add_proposal_network(&name, url)
            .await
            .map_err(|e| fail(e.to_string()))?;
        tracing::info!(network = %name, chain_id, "network of proposals");
    }
    for (id, w) in &project.workflows {
        engine
            .add_workflow(w.clone())
            .map_err(|e| HostError::Workflow {
                id: id.clone(),
                message: e.to_string(),
            })?;
        tracing::info!(
            workflow = %id,
            name = %w.name,
            steps = w.steps.len(),
            "workflow"
        );
    }
    Ok(())
}

/// Adds the network `name` to the engine, watched from its head.
pub(crate) async fn add_network(
    engine: &Engine,
    project: &Project,
    name: &str,
    poll_interval: Duration,
) -> Result<u64, HostError> {
    let fail = |message: String| HostError::Network {
        name: name.to_owned(),
        message,
    };
    let urls = network_urls(project, name);
    if urls.is_empty() {
        return Err(fail("no RPC URL".into()));
    }
    let trace = project
        .host
        .networks
        .get(name)
        .and_then(|n| n.trace)
        .zip(urls.first().cloned());
    let source = defender_relay::block_source(urls, RetryConfig::default())
        .await
        .map_err(|e| fail(e.to_string()))?;
    let mut spec = NetworkSpec {
        start: StartAt::Head,
        poll_interval,
        ..NetworkSpec::new(name, source)
    };
    if let Some((method, url)) = trace {
        spec = spec.with_trace(Arc::new(defender_engine::monitor::RpcTraceSource::new(
            url, method,
        )));
    }
    engine
        .add_network(spec)
        .await
        .map_err(|e| fail(e.to_string()))
}

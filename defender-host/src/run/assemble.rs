//! Assembling an engine from a project: the stores, the runtime (each action's
//! `environment-variables` as its `process.env`), relayers, channels, secrets, networks.

use super::keys::HostKeys;
use super::HostError;
use crate::config::RelayerKey;
use crate::Project;
use defender_core::state::{MemoryStateStore, StateStore};
use defender_core::{InMemoryKvStore, KvStore};
use defender_engine::{Engine, EngineBuilder, NetworkSpec, StartAt};
use defender_kv::{RedbKvStore, RedbStateStore};
use defender_relay::{LocalSigner, RelayerConfig, RetryConfig, RpcRelayer, StateRelayerStore};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// Builds the stores and, with `with_relayers`, starts the project's relayers.
pub(crate) async fn parts(
    project: &Project,
    mode: StateMode,
    with_relayers: bool,
    env: &BTreeMap<String, String>,
) -> Result<Parts, HostError> {
    let runtime = Arc::new(runtime(project));
    let (state, kv, keys): (Arc<dyn StateStore>, Arc<dyn KvStore>, Option<HostKeys>) = match mode {
        StateMode::Durable => {
            let dir = state_dir(project);
            create_state_dir(&dir)?;
            let labels: Vec<String> = project
                .relayers
                .values()
                .flat_map(|r| r.api_keys.iter().cloned())
                .chain(
                    project
                        .relayer_groups
                        .values()
                        .flat_map(|g| g.api_keys.iter().cloned()),
                )
                .collect();
            let keys = HostKeys::load_or_create(&dir, &labels, env)?;
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
        .kv(kv)
        .state(state.clone())
        .alert_formatter(Arc::new(defender_notify::TemplateFormatter::new()));
    let mut keys_file = None;
    if let Some(keys) = &keys {
        builder = builder.secrets_key(keys.secrets_key.clone());
        keys_file = Some(keys.path.clone());
    }
    for (alias, n) in &project.notifications {
        let notifier =
            defender_notify::build(&n.definition.channel).map_err(|e| HostError::Channel {
                alias: alias.clone(),
                message: e.to_string(),
            })?;
        builder = builder.notifier(alias.clone(), notifier);
    }
    let mut relayers = Vec::new();
    let mut relayer_keys = Vec::new();
    if with_relayers {
        for (id, r) in &project.relayers {
            let relayer = start_relayer(project, id, state.clone()).await?;
            tracing::info!(
                relayer = %id,
                name = %r.name,
                network = %r.network,
                address = %relayer.address(),
                "relayer started"
            );
            builder = builder.relayer(id.clone(), relayer.clone());
            relayers.push((id.clone(), relayer));
            for label in &r.api_keys {
                let secret = keys
                    .as_ref()
                    .and_then(|k| k.relayer_api_secrets.get(label).cloned());
                if let Some(secret) = secret {
                    builder = builder.relayer_api_key(id.clone(), label.clone(), secret.clone());
                    relayer_keys.push((label.clone(), id.clone(), secret));
                }
            }
        }
        // Defender emailed when a relayer ran low; this host does not watch balances yet, and
        // says so rather than letting the setting look honoured.
        for (id, r) in &project.relayers {
            if r.min_balance > 0 {
                tracing::warn!(
                    relayer = %id,
                    min_balance = %r.min_balance,
                    "min-balance is not watched by this host: no low-balance alert will be sent"
                );
            }
        }
        for (id, g) in &project.relayer_groups {
            tracing::warn!(
                group = %id,
                name = %g.name,
                "relayer groups are loaded but not run by this host: link actions to relayers"
            );
        }
    }
    Ok(Parts {
        builder,
        relayers,
        relayer_keys,
        keys_file,
    })
}

async fn start_relayer(
    project: &Project,
    id: &str,
    state: Arc<dyn StateStore>,
) -> Result<Arc<RpcRelayer>, HostError> {
    let fail = |message: String| HostError::Relayer {
        id: id.to_owned(),
        message,
    };
    let r = project
        .relayers
        .get(id)
        .ok_or_else(|| fail("not in the project".into()))?;
    let key_of = r.address_from_relayer.as_deref().unwrap_or(id);
    let key = project
        .host
        .relayers
        .get(key_of)
        .ok_or_else(|| fail(format!("no key for `{key_of}` in the host config")))?;
    let signer = match key {
        RelayerKey::PrivateKey(k) => LocalSigner::from_private_key(k.expose()),
        RelayerKey::Keystore { path, password } => {
            LocalSigner::from_keystore(path, password.expose())
        }
    }
    .map_err(|e| fail(e.to_string()))?;
    let urls = network_urls(project, &r.network);
    if urls.is_empty() {
        return Err(fail(format!("network `{}` has no RPC URL", r.network)));
    }
    let mut config = RelayerConfig::new(id, urls)
        .with_name(r.name.clone())
        .with_network(r.network.clone());
    if let Some(chain_id) = project
        .host
        .networks
        .get(&r.network)
        .and_then(|n| n.chain_id)
    {
        config.chain_id = Some(chain_id);
    }
    if let Some(policy) = r.policy.as_ref().and_then(|p| project.policies.get(p)) {
        let whitelist = policy
            .whitelist_receivers
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| fail(format!("`{a}` is not an address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        config = config
            .with_gas_price_cap(policy.gas_price_cap)
            .with_whitelist((!whitelist.is_empty()).then_some(whitelist))
            .with_eip1559(policy.eip1559_pricing);
    }
    let store = Arc::new(StateRelayerStore::new(state, id));
    RpcRelayer::start(config, Arc::new(signer), store)
        .await
        .map(Arc::new)
        .map_err(|e| fail(e.to_string()))
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
    let source = defender_relay::block_source(urls, RetryConfig::default())
        .await
        .map_err(|e| fail(e.to_string()))?;
    engine
        .add_network(NetworkSpec {
            start: StartAt::Head,
            poll_interval,
            ..NetworkSpec::new(name, source)
        })
        .await
        .map_err(|e| fail(e.to_string()))
}

//! The project model: a Defender project's resources, normalized, in the SDK's own types
//! wherever the SDK has one ([`MonitorDefinition`], [`ActionSpec`], [`ChannelDefinition`]).
//!
//! Resources are keyed by their resource key in the project (`action-example-1`): references
//! between resources (a monitor's channels and linked actions, an action's relayer) are these
//! keys, and so are the ids given to the engine (the action id, the monitor id, the channel
//! alias). The Defender names (`name:`) are kept for display.

mod action;
mod forta;
mod monitor;
mod notification;
mod relayer;
mod resources;
mod workflow;

use defender_core::MonitorDefinition;
use defender_engine::{ActionSpec, Workflow};
use defender_notify::ChannelDefinition;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) use resources::read_project;
pub(crate) use workflow::proposal_networks;

/// Which input the project was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectFormat {
    /// OpenZeppelin's defender-as-code plugin (`resources.actions`, `resources.monitors`...).
    DefenderAsCode,
    /// The older defender-serverless plugin (`functions` or `resources.Resources.autotasks`,
    /// `resources.Resources.sentinels`).
    LegacyServerless,
    /// Defender's exported JSON (API response shapes).
    DefenderExport,
}

/// A loaded, checked project.
#[derive(Clone, Debug)]
pub struct Project {
    /// The input format.
    pub format: ProjectFormat,
    /// The project directory.
    pub dir: PathBuf,
    /// `service:`.
    pub service: Option<String>,
    /// The stage (`--stage`, else `provider.stage`, else `dev`).
    pub stage: String,
    /// The stack name: `provider.stackName` (or `defender.stackName`), else
    /// `<service>-<stage>`, as defender-as-code computed it.
    pub stack_name: String,
    /// `ssot:` (accepted; a self-hosted project is always its own single source of truth).
    pub ssot: bool,
    /// Actions by resource key.
    pub actions: BTreeMap<String, Action>,
    /// Monitors by resource key.
    pub monitors: BTreeMap<String, Monitor>,
    /// Forta monitors (`type: FORTA`) by resource key: channels and linked actions resolved
    /// to resource keys.
    pub forta_monitors: BTreeMap<String, defender_core::FortaMonitorDefinition>,
    /// Workflows by resource key (their id in the engine), in the engine's own type: each
    /// step's actions (resource keys) and proposals.
    pub workflows: BTreeMap<String, Workflow>,
    /// Notification channels by resource key.
    pub notifications: BTreeMap<String, Notification>,
    /// Relayers by resource key.
    pub relayers: BTreeMap<String, Relayer>,
    /// Relayer groups by resource key.
    pub relayer_groups: BTreeMap<String, RelayerGroup>,
    /// Policies by resource key.
    pub policies: BTreeMap<String, Policy>,
    /// Action secrets by the name actions read them under: global secrets by their name,
    /// stack secrets as `<stackName>_<name>`. A value of `None` is declared by name only and
    /// comes from the host config's secrets source.
    pub secrets: BTreeMap<String, Option<String>>,
    /// Contracts by resource key.
    pub contracts: BTreeMap<String, Contract>,
    /// Private networks by resource key.
    pub private_networks: BTreeMap<String, TenantNetwork>,
    /// Forked networks by resource key.
    pub forked_networks: BTreeMap<String, TenantNetwork>,
    /// The self-hosting config read beside the project (default when there is none).
    pub host: crate::config::HostConfig,
}

impl Project {
    /// The networks the project's monitors and relayers use, sorted.
    pub fn networks(&self) -> Vec<String> {
        let mut n: Vec<String> = self
            .monitors
            .values()
            .map(|m| m.definition.network.clone())
            .chain(self.relayers.values().map(|r| r.network.clone()))
            .collect();
        n.sort();
        n.dedup();
        n
    }
}

/// How a monitor starts an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorLink {
    /// Not started by monitors (or started by one without declaring it).
    None,
    /// `type: sentinel`: run on each match of a monitor that names it in `action-trigger`.
    Sentinel,
    /// `type: monitor-filter`: a monitor's custom filter (`action-condition`).
    MonitorFilter,
}

/// An action.
#[derive(Clone, Debug)]
pub struct Action {
    /// The engine's spec: id (the resource key), name, code, schedule and webhook triggers,
    /// relayer (its resource key), paused.
    pub spec: ActionSpec,
    /// The code's file or folder, inside the project.
    pub code_path: PathBuf,
    /// `environment-variables`: this action's `process.env`.
    pub environment_variables: BTreeMap<String, String>,
    /// `risk-category`.
    pub risk_category: Option<String>,
    /// Whether a monitor triggers it (`sentinel`) or it filters a monitor (`monitor-filter`).
    pub monitor_link: MonitorLink,
    /// The webhook token the host config fixes for it, if any (else the engine makes one).
    pub webhook_token: Option<String>,
}

/// A monitor.
#[derive(Clone, Debug)]
pub struct Monitor {
    /// The SDK's definition: addresses (also from `contracts`), ABI, conditions, channels
    /// (notification resource keys), linked actions (action resource keys), threshold,
    /// timeout, messages, severity, risk category, confirmation level, workflow (resource
    /// key) run on each match.
    pub definition: MonitorDefinition,
    /// `skip-abi-validation`: the ABI may be partial; signatures are not checked against it.
    pub skip_abi_validation: bool,
    /// The contracts it watches (resource keys).
    pub contracts: Vec<String>,
}

/// A notification channel.
#[derive(Clone, Debug)]
pub struct Notification {
    /// Defender's display name (`name:`).
    pub name: String,
    /// The SDK's channel definition; its `name` is the alias monitors use: the resource key.
    /// An email channel's SMTP server and sender come from the host config.
    pub definition: ChannelDefinition,
}

/// A relayer.
#[derive(Clone, Debug)]
pub struct Relayer {
    /// `name:`.
    pub name: String,
    /// `network:`.
    pub network: String,
    /// `min-balance:` in wei.
    pub min_balance: u128,
    /// The policy (resource key), if any.
    pub policy: Option<String>,
    /// `api-keys:` labels.
    pub api_keys: Vec<String>,
    /// `address-from-relayer:`: the relayer (resource key) whose address (and key) it shares.
    pub address_from_relayer: Option<String>,
}

/// A relayer group: relayers of one network sending as one.
#[derive(Clone, Debug)]
pub struct RelayerGroup {
    /// `name:`.
    pub name: String,
    /// `network:`.
    pub network: String,
    /// `relayers:` how many keys the group has.
    pub relayers: u32,
    /// `min-balance:` in wei.
    pub min_balance: u128,
    /// The policy (resource key), if any.
    pub policy: Option<String>,
    /// `api-keys:` labels.
    pub api_keys: Vec<String>,
    /// `notification-channels:`: which transaction statuses go to which channels.
    pub notification_channels: Option<GroupNotificationChannels>,
}

/// A relayer group's `notification-channels`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupNotificationChannels {
    /// `events:` the transaction statuses notified.
    pub events: Vec<defender_core::wire::TxStatus>,
    /// `notification-ids:` the channels (resource keys).
    pub channels: Vec<String>,
}

/// A relayer policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `gas-price-cap`, in wei (Defender's API unit).
    pub gas_price_cap: Option<u128>,
    /// `whitelist-receivers`, checksummed.
    pub whitelist_receivers: Vec<String>,
    /// `eip1559-pricing`.
    pub eip1559_pricing: Option<bool>,
    /// `private-transactions`: every transaction goes to the network's `private-rpc`.
    pub private_transactions: bool,
}

/// A contract of the address book.
#[derive(Clone, Debug)]
pub struct Contract {
    /// `name:`.
    pub name: String,
    /// `address:`, checksummed.
    pub address: String,
    /// `network:`.
    pub network: String,
    /// `abi:` as JSON text.
    pub abi: Option<String>,
    /// `nat-spec:`.
    pub nat_spec: Option<String>,
}

/// A private or forked network: a network by name with its own RPC URL.
#[derive(Clone, Debug)]
pub struct TenantNetwork {
    /// `name:`, the network name monitors and relayers use.
    pub name: String,
    /// `supported-network:` of a fork (the chain it forks).
    pub forked_from: Option<String>,
    /// `rpc-url:`.
    pub rpc_url: String,
    /// `api-key:` of the RPC provider, if any.
    pub api_key: Option<String>,
    /// `block-explorer-url:`.
    pub block_explorer_url: Option<String>,
    /// `configuration.symbol` of a private network.
    pub symbol: Option<String>,
}

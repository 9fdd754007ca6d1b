//! Why a project could not be started.

use defender_engine::EngineError;
use std::path::PathBuf;

/// Why [`Host::start`](crate::run::Host::start) (or a one-off engine of the CLI) failed. Each
/// names the resource and what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The state directory cannot be created or read.
    #[error("state directory {}: {source}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The host's keys (secrets key, relayer API secrets) cannot be read or written.
    #[error("host keys: {0}")]
    Keys(String),
    /// A store (engine state, key-value store) cannot be opened.
    #[error("{what} at {}: {message} (is another defender-host running on this state directory?)", path.display())]
    Store {
        /// `engine state` or `key-value store`.
        what: &'static str,
        /// Its file.
        path: PathBuf,
        /// The failure.
        message: String,
    },
    /// The cluster's Redis server could not be reached.
    #[error("{what} on Redis (cluster.redis-url): {message}")]
    Redis {
        /// `engine state` or `key-value store`.
        what: &'static str,
        /// The failure.
        message: String,
    },
    /// The secrets key does not open the secrets sealed in the state.
    #[error("the secrets key does not open the secrets in the engine state: {0} (set DEFENDER_HOST_SECRETS_KEY to the key they were sealed with)")]
    SecretsKey(String),
    /// A secret cannot be stored.
    #[error("secret `{name}`: {message}")]
    Secret {
        /// The secret's name.
        name: String,
        /// The failure.
        message: String,
    },
    /// A relayer cannot start.
    #[error("relayer `{id}`: {message}")]
    Relayer {
        /// Its resource key.
        id: String,
        /// The failure.
        message: String,
    },
    /// A network cannot be reached or added.
    #[error("network `{name}`: {message}")]
    Network {
        /// Its name.
        name: String,
        /// The failure.
        message: String,
    },
    /// A notification channel cannot be built.
    #[error("notification channel `{alias}`: {message}")]
    Channel {
        /// Its resource key.
        alias: String,
        /// The failure.
        message: String,
    },
    /// The engine refused an action.
    #[error("action `{id}`: {source}")]
    Action {
        /// Its resource key.
        id: String,
        /// The engine's error.
        #[source]
        source: Box<EngineError>,
    },
    /// The engine refused a monitor.
    #[error("monitor `{id}`: {source}")]
    Monitor {
        /// Its resource key.
        id: String,
        /// The engine's error.
        #[source]
        source: Box<EngineError>,
    },
    /// The engine refused a workflow.
    #[error("workflow `{id}`: {message}")]
    Workflow {
        /// Its resource key.
        id: String,
        /// The engine's error.
        message: String,
    },
    /// No such action or monitor in the project.
    #[error("the project has no {kind} `{id}`")]
    NotInProject {
        /// `action` or `monitor`.
        kind: &'static str,
        /// The key asked for.
        id: String,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

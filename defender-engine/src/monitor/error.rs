//! The errors of monitors: definitions that cannot be compiled, and the block pipeline.

use defender_core::{ChainError, KvError};

/// Why a monitor definition cannot be compiled; every variant names the monitor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The `abi` is not a JSON ABI.
    #[error("monitor `{monitor}`: the ABI is invalid: {message}")]
    InvalidAbi {
        /// The monitor's id.
        monitor: String,
        /// What is wrong.
        message: String,
    },
    /// A watched address is not 20 bytes of hex.
    #[error("monitor `{monitor}`: `{address}` is not an address")]
    InvalidAddress {
        /// The monitor's id.
        monitor: String,
        /// The address as written.
        address: String,
    },
    /// An event or function signature cannot be parsed.
    #[error("monitor `{monitor}`: `{signature}` is not a valid signature: {message}")]
    InvalidSignature {
        /// The monitor's id.
        monitor: String,
        /// The signature as written.
        signature: String,
        /// What is wrong.
        message: String,
    },
    /// The ABI has no event with this signature.
    #[error("monitor `{monitor}`: the ABI has no event `{signature}`")]
    UnknownEvent {
        /// The monitor's id.
        monitor: String,
        /// The signature as written.
        signature: String,
    },
    /// The ABI has no function with this signature.
    #[error("monitor `{monitor}`: the ABI has no function `{signature}`")]
    UnknownFunction {
        /// The monitor's id.
        monitor: String,
        /// The signature as written.
        signature: String,
    },
    /// A condition does not parse or compile against its signature's variables.
    #[error(
        "monitor `{monitor}`: condition `{expression}` is invalid: {}",
        join(errors)
    )]
    InvalidCondition {
        /// The monitor's id.
        monitor: String,
        /// The condition as written.
        expression: String,
        /// Every error, with byte spans into `expression`.
        errors: Vec<defender_conditions::Error>,
    },
}

fn join(errors: &[defender_conditions::Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Errors of the block pipeline ([`BlockWatcher`](super::BlockWatcher)), of
/// [`test_conditions`](fn@super::test_conditions) and of a [`MatchSink`](super::MatchSink).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The monitor definition does not compile.
    #[error(transparent)]
    Definition(#[from] MonitorError),
    /// The block source failed; [`ChainError::Unavailable`] is transient.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The checkpoint could not be read or written.
    #[error("checkpoint store: {0}")]
    Kv(#[from] KvError),
    /// The engine state (where checkpoints are kept) could not be read or written.
    #[error("engine state: {0}")]
    State(#[from] defender_core::state::StateError),
    /// The stored checkpoint is not readable.
    #[error("the stored checkpoint `{key}` is corrupt: {message}")]
    CorruptCheckpoint {
        /// Its key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The sink refused a block; it is offered again on the next poll.
    #[error("the match sink failed: {source}")]
    Sink {
        /// The sink's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The transaction is not mined (test conditions by transaction hash).
    #[error("transaction {0} is not in any block")]
    TransactionNotFound(String),
    /// The block does not exist yet.
    #[error("block {0} does not exist")]
    BlockNotFound(u64),
    /// Too many blocks were asked for in one test run.
    #[error("at most {limit} blocks can be searched at once, not {asked}")]
    TooManyBlocks {
        /// How many were asked for.
        asked: u64,
        /// The limit.
        limit: u64,
    },
}

impl WatchError {
    /// Wraps a sink's error.
    pub fn sink(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        WatchError::Sink {
            source: Box::new(e),
        }
    }

    /// Whether retrying later may succeed (the node, the store or the sink was unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            WatchError::Chain(ChainError::Unavailable { .. })
                | WatchError::Kv(KvError::Unavailable { .. })
                | WatchError::State(defender_core::state::StateError::Unavailable { .. })
                | WatchError::Sink { .. }
        )
    }
}

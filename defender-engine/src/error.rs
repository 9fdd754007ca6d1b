//! The engine's error enum.

use crate::monitor::{MonitorError, WatchError};
use defender_core::ChainError;

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
    /// No dead letter with this id (see [`Engine::dead_letters`](crate::Engine::dead_letters)).
    #[error("no dead letter `{0}`")]
    UnknownDeadLetter(String),
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
    /// The action's code is over Defender's size rule (5 MB once zipped and base64-encoded),
    /// or over the bound on uncompressed code.
    #[error("invalid action `{id}`: {source}")]
    CodeTooLarge {
        /// The action.
        id: String,
        /// Its sizes and the limit.
        #[source]
        source: defender_core::CodeSizeError,
    },
    /// The monitor's definition is invalid (fields Defender requires, a network that was not
    /// added).
    #[error("invalid monitor `{id}`: {message}")]
    InvalidMonitor {
        /// The monitor.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The monitor does not compile: its ABI, addresses, signatures or conditions. An invalid
    /// condition keeps the condition language's spanned errors
    /// ([`MonitorError::InvalidCondition`]).
    #[error("monitor `{id}` does not compile: {source}")]
    MonitorDefinition {
        /// The monitor.
        id: String,
        /// Why.
        #[source]
        source: MonitorError,
    },
    /// Testing a monitor's conditions failed (its definition, the block source, a missing
    /// transaction or block).
    #[error("testing monitor `{id}` failed: {source}")]
    TestConditions {
        /// The monitor.
        id: String,
        /// Why.
        #[source]
        source: WatchError,
    },
    /// A webhook token given by the operator is not one (see
    /// [`Engine::set_webhook_token`](crate::Engine::set_webhook_token)).
    #[error("invalid webhook token for action `{id}`: {reason}")]
    InvalidWebhookToken {
        /// The action.
        id: String,
        /// What is wrong with the token (never the token).
        reason: &'static str,
    },
    /// The engine state could not be read or written.
    #[error("engine state: {0}")]
    State(#[from] defender_core::state::StateError),
    /// The network's block source could not be reached.
    #[error("network `{network}` is unavailable: {source}")]
    NetworkUnavailable {
        /// The network.
        network: String,
        /// The block source's error.
        #[source]
        source: ChainError,
    },
}

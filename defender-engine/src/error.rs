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

//! The engine's error enum.

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
    /// The monitor's definition is invalid.
    #[error("invalid monitor `{id}`: {message}")]
    InvalidMonitor {
        /// The monitor.
        id: String,
        /// What is wrong.
        message: String,
    },
}

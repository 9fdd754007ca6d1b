//! The one error enum of every state store.

use super::{Space, MAX_COUNTER};

/// Errors of every [`StateStore`](super::StateStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A key is empty or longer than [`MAX_KEY_BYTES`](super::MAX_KEY_BYTES).
    #[error("invalid state key: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A precondition of a batch ([`StateOp::Expect`](super::StateOp::Expect)) did not hold; nothing was written.
    #[error("state conflict: {space}/{key} does not hold the expected value")]
    Conflict {
        /// The space of the failed precondition.
        space: Space,
        /// Its key.
        key: String,
    },
    /// [`StateStore::increment`](super::StateStore::increment) found a value that is not a counter (decimal digits of a
    /// number up to [`MAX_COUNTER`]).
    #[error("{space}/{key} is not a counter")]
    NotACounter {
        /// The space.
        space: Space,
        /// The key.
        key: String,
    },
    /// [`StateStore::increment`](super::StateStore::increment) would go past [`MAX_COUNTER`]; the counter is unchanged.
    #[error("counter {space}/{key} would exceed {MAX_COUNTER}")]
    CounterOverflow {
        /// The space.
        space: Space,
        /// The key.
        key: String,
    },
    /// A value could not be encoded as JSON.
    #[error("cannot encode the value of {space}/{key}: {source}")]
    Encode {
        /// The space.
        space: Space,
        /// The key.
        key: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored value is not the JSON of the type asked for.
    #[error("cannot decode the value of {space}/{key}: {source}")]
    Decode {
        /// The space.
        space: Space,
        /// The key.
        key: String,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// The backend's data could not be read back.
    #[error("engine state is corrupt: {message}")]
    Corrupt {
        /// What is wrong.
        message: String,
    },
    /// The backend could not be reached or failed; the operation may or may not have happened
    /// and may be retried.
    #[error("state backend unavailable: {source}")]
    Unavailable {
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StateError {
    /// Wraps a backend error as [`StateError::Unavailable`].
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StateError::Unavailable {
            source: Box::new(e),
        }
    }
}

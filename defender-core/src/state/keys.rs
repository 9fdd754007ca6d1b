//! Where engine state lives: named spaces, keys, and the operations of a batch.

use super::{encode_json, StateError};
use bytes::Bytes;
use serde::Serialize;
use std::fmt;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 4096;
/// A named key space of engine state.
///
/// Names are 1 to 64 bytes of `a`-`z`, `0`-`9`, `-` and `_`, so that a backend can join a space
/// and a key with any other character without two pairs ever meeting. The constants name the
/// spaces the engine uses; a program may define its own with [`Space::new`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Space(&'static str);

impl Space {
    /// Monitor checkpoints: the last block each monitor handled.
    pub const CHECKPOINTS: Space = Space::new("checkpoints");
    /// Owed deliveries (notifications, linked actions), written before the checkpoint moves.
    pub const OUTBOX: Space = Space::new("outbox");
    /// Markers of deliveries done, for idempotency.
    pub const DELIVERIES: Space = Space::new("deliveries");
    /// Relayer nonces (see [`StateStore::increment`](super::StateStore::increment)).
    pub const NONCES: Space = Space::new("nonces");
    /// Relayer transaction records.
    pub const TRANSACTIONS: Space = Space::new("transactions");
    /// Webhook tokens of actions.
    pub const WEBHOOK_TOKENS: Space = Space::new("webhook-tokens");
    /// Schedule state (last and next ticks).
    pub const SCHEDULES: Space = Space::new("schedules");
    /// Alert-gate state (thresholds, timeouts).
    pub const ALERT_GATES: Space = Space::new("alert-gates");
    /// Leases and fencing tokens of processes sharing a store.
    pub const LEASES: Space = Space::new("leases");
    /// Run records by run id ([`StateRunStore`](super::StateRunStore)).
    pub const RUNS: Space = Space::new("runs");
    /// Each action's runs, newest first ([`StateRunStore`](super::StateRunStore)).
    pub const RUN_HISTORY: Space = Space::new("run-history");
    /// Encrypted secrets ([`StateSecretStore`](super::StateSecretStore)).
    pub const SECRETS: Space = Space::new("secrets");

    /// Longest space name, in bytes.
    pub const MAX_NAME_BYTES: usize = 64;

    /// A space named `name`.
    ///
    /// # Panics
    /// When `name` is empty, longer than [`MAX_NAME_BYTES`](Self::MAX_NAME_BYTES) or has a
    /// character other than `a`-`z`, `0`-`9`, `-` and `_`. Space names are constants of a
    /// program, never data: in a `const` the check fails the build.
    ///
    /// ```
    /// use defender_core::state::Space;
    /// const LOCKS: Space = Space::new("my-locks");
    /// assert_eq!(LOCKS.name(), "my-locks");
    /// ```
    pub const fn new(name: &'static str) -> Space {
        let bytes = name.as_bytes();
        assert!(
            !bytes.is_empty() && bytes.len() <= Self::MAX_NAME_BYTES,
            "a space name has 1 to 64 bytes"
        );
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_',
                "a space name has only a-z, 0-9, - and _"
            );
            i += 1;
        }
        Space(name)
    }

    /// The name.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Space({})", self.0)
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
/// One operation of an atomic batch ([`StateStore::apply`](super::StateStore::apply)).
///
/// Not `#[non_exhaustive]`: every backend must carry out every operation, so a new one is a
/// breaking change on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateOp {
    /// Creates or overwrites an entry.
    Put {
        /// The space.
        space: Space,
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
    },
    /// Removes an entry, if there is one.
    Delete {
        /// The space.
        space: Space,
        /// The key.
        key: String,
    },
    /// A precondition: the entry holds `value` (`None`: there is no entry). When it does not,
    /// the batch fails with [`StateError::Conflict`] and writes nothing.
    Expect {
        /// The space.
        space: Space,
        /// The key.
        key: String,
        /// The value the entry must hold, or `None` for no entry.
        value: Option<Bytes>,
    },
}

impl StateOp {
    /// [`StateOp::Put`](super::StateOp::Put).
    pub fn put(space: Space, key: impl Into<String>, value: impl Into<Bytes>) -> StateOp {
        StateOp::Put {
            space,
            key: key.into(),
            value: value.into(),
        }
    }

    /// [`StateOp::Put`](super::StateOp::Put) of `value` as JSON.
    pub fn put_json<T: Serialize + ?Sized>(
        space: Space,
        key: impl Into<String>,
        value: &T,
    ) -> Result<StateOp, StateError> {
        let key = key.into();
        let value = encode_json(space, &key, value)?;
        Ok(StateOp::Put { space, key, value })
    }

    /// [`StateOp::Delete`](super::StateOp::Delete).
    pub fn delete(space: Space, key: impl Into<String>) -> StateOp {
        StateOp::Delete {
            space,
            key: key.into(),
        }
    }

    /// [`StateOp::Expect`](super::StateOp::Expect).
    pub fn expect(space: Space, key: impl Into<String>, value: Option<Bytes>) -> StateOp {
        StateOp::Expect {
            space,
            key: key.into(),
            value,
        }
    }

    /// The space it touches.
    pub fn space(&self) -> Space {
        match self {
            StateOp::Put { space, .. }
            | StateOp::Delete { space, .. }
            | StateOp::Expect { space, .. } => *space,
        }
    }

    /// The key it touches.
    pub fn key(&self) -> &str {
        match self {
            StateOp::Put { key, .. }
            | StateOp::Delete { key, .. }
            | StateOp::Expect { key, .. } => key,
        }
    }
}
/// Checks a key: 1 to [`MAX_KEY_BYTES`](super::MAX_KEY_BYTES) bytes.
pub fn check_key(key: &str) -> Result<(), StateError> {
    if key.is_empty() {
        return Err(StateError::InvalidKey {
            reason: "the key is empty",
        });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StateError::InvalidKey {
            reason: "the key is longer than 4096 bytes",
        });
    }
    Ok(())
}

/// Checks every key of a batch, before a backend writes anything.
pub fn check_batch(ops: &[StateOp]) -> Result<(), StateError> {
    ops.iter().try_for_each(|op| check_key(op.key()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(check_key("a").is_ok());
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(matches!(check_key(""), Err(StateError::InvalidKey { .. })));
        assert!(matches!(
            check_key(&"k".repeat(MAX_KEY_BYTES + 1)),
            Err(StateError::InvalidKey { .. })
        ));
    }
}

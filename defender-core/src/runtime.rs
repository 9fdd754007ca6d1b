//! The action runtime: runs an action's code for one event.

use crate::kv::DynKvStore;
use crate::manage::DynManageApi;
use crate::notify::NotifierRegistry;
use crate::relayer::DynRelayer;
use crate::wire::{ActionEvent, ErrorType, LogEntry};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// Dynamic runtime, as the engine holds it.
pub type DynActionRuntime = dyn ActionRuntime;

/// Largest code bundle Defender accepted: 5 MB after being zipped and base64-encoded (see
/// [`check_code_size`](crate::check_code_size)).
pub const MAX_CODE_BYTES: usize = 5 * 1024 * 1024;

/// An action's code: one script, or a bundle of files with `index.js` at its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeSource {
    /// The content of `index.js`.
    Script(String),
    /// Files by path relative to the bundle root (`index.js`, `lib/util.js`, `data.json`...).
    Bundle(BTreeMap<String, Bytes>),
}

impl CodeSource {
    /// Total size in bytes.
    pub fn size(&self) -> usize {
        match self {
            CodeSource::Script(s) => s.len(),
            CodeSource::Bundle(files) => files.iter().map(|(p, c)| p.len() + c.len()).sum(),
        }
    }
}

/// One version of an action's code. A runtime may cache compiled code by `(action_id, version)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionCode {
    /// The action this code belongs to.
    pub action_id: String,
    /// Changes whenever the code changes.
    pub version: u64,
    /// The code.
    pub source: CodeSource,
}

/// Limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Heap limit (Defender: 256 MB).
    pub memory_bytes: usize,
    /// Wall-clock limit (Defender: 5 minutes).
    pub timeout: Duration,
    /// Native stack the script may use, in bytes.
    pub max_stack_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            memory_bytes: 256 * 1024 * 1024,
            timeout: Duration::from_secs(300),
            max_stack_bytes: 512 * 1024,
        }
    }
}

/// What a run may reach: the key-value store, its linked relayer, the relayers it may reach
/// by API key, and the notification channels.
#[derive(Clone, Debug)]
pub struct RunServices {
    /// The shared key-value store.
    pub kv: Arc<DynKvStore>,
    /// The action's linked relayer, if any (what `new Relayer(event)` reaches).
    pub relayer: Option<Arc<DynRelayer>>,
    /// Relayers by API key and secret (what `new Relayer({ apiKey, apiSecret })` reaches).
    /// Credentials not in here are an error, never the linked relayer.
    pub relayer_keys: RelayerKeys,
    /// Channels for `context.notificationClient`.
    pub notifiers: Arc<NotifierRegistry>,
    /// The engine's actions, monitors and channels, for the management clients
    /// (`client.action`, `client.monitor`...); `None`: the clients fail with "not available".
    pub manage: Option<Arc<DynManageApi>>,
}

/// Relayers reachable by API key and secret, as an action reaches one with
/// `new Relayer({ apiKey, apiSecret })` or `new Defender({ relayerApiKey, relayerApiSecret })`.
///
/// ```
/// use defender_core::RelayerKeys;
/// let keys = RelayerKeys::default();
/// assert!(keys.get("key", "secret").is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct RelayerKeys {
    keys: BTreeMap<String, (String, Arc<DynRelayer>)>,
}

impl RelayerKeys {
    /// Adds (or replaces) the relayer that `api_key` with `api_secret` reaches.
    pub fn insert(
        &mut self,
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
        relayer: Arc<DynRelayer>,
    ) {
        self.keys
            .insert(api_key.into(), (api_secret.into(), relayer));
    }

    /// The relayer of `api_key`, when `api_secret` is its secret (compared in constant time).
    pub fn get(&self, api_key: &str, api_secret: &str) -> Option<&Arc<DynRelayer>> {
        let (secret, relayer) = self.keys.get(api_key)?;
        constant_time_eq(secret.as_bytes(), api_secret.as_bytes()).then_some(relayer)
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Compares without stopping at the first difference (a secret's prefix is not revealed by
/// timing); lengths are not secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Everything a runtime needs for one run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The event passed as `handler(event, context)`'s first argument.
    pub event: ActionEvent,
    /// Services bound to the Defender client modules.
    pub services: RunServices,
    /// Limits.
    pub limits: RunLimits,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The code is not a valid action (syntax error, no handler, bad bundle).
    #[error("invalid action code: {0}")]
    InvalidCode(String),
    /// The code is larger, uncompressed, than
    /// [`MAX_UNCOMPRESSED_CODE_BYTES`](crate::MAX_UNCOMPRESSED_CODE_BYTES) (what a runtime
    /// checks on each run; Defender's rule on the zipped size,
    /// [`check_code_size`](crate::check_code_size), is checked when code is registered).
    #[error("code is {size} bytes, over the {limit}-byte limit")]
    CodeTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The handler threw or its promise rejected.
    #[error("{message}")]
    Thrown {
        /// `error.message` (or the thrown value as text).
        message: String,
        /// `error.stack`, if any.
        stack: Option<String>,
    },
    /// The run passed its wall-clock limit.
    #[error("run timed out after {0:?}")]
    Timeout(Duration),
    /// The run passed its memory limit.
    #[error("run exceeded its memory limit of {0} bytes")]
    OutOfMemory(usize),
    /// The run recursed too deep.
    #[error("maximum call stack size exceeded")]
    StackOverflow,
    /// The relayer could not pay for a transaction.
    #[error("insufficient funds: {0}")]
    InsufficientFunds(String),
    /// The action used a relayer it is not linked to.
    #[error("relayer configuration: {0}")]
    RelayerConfiguration(String),
    /// The host failed.
    #[error("internal error: {0}")]
    Internal(String),
    /// The handler's value cannot be turned into JSON without changing it (nested deeper
    /// than the host's JSON parser allows, or a string holding a lone UTF-16 surrogate).
    #[error("the handler's result cannot be serialized: {0}")]
    InvalidResult(String),
    /// The run was not started: as many runs as the runtime queues were already waiting.
    #[error("throttled: {queued} runs are already waiting for a script thread")]
    Throttled {
        /// The runs waiting when this one was refused.
        queued: usize,
    },
}

impl RunError {
    /// Defender's error type for this error.
    pub fn error_type(&self) -> ErrorType {
        match self {
            RunError::Timeout(_) => ErrorType::Timeout,
            RunError::InsufficientFunds(_) => ErrorType::InsufficientFunds,
            RunError::RelayerConfiguration(_) => ErrorType::RelayerConfiguration,
            RunError::Internal(_) | RunError::Throttled { .. } => ErrorType::Internal,
            RunError::InvalidResult(_)
            | RunError::InvalidCode(_)
            | RunError::CodeTooLarge { .. }
            | RunError::Thrown { .. }
            | RunError::OutOfMemory(_)
            | RunError::StackOverflow => ErrorType::Program,
        }
    }
}

/// The result of one run and the lines it logged.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// The handler's return value (`Value::Null` for `undefined`), or why it failed.
    pub result: Result<Value, RunError>,
    /// Console output, in order.
    pub logs: Vec<LogEntry>,
}

/// Runs action code.
///
/// # Contract
/// - `run` calls the code's exported `handler(event, context)` and waits for its promise.
/// - Every failure, including limits (timeout, memory, stack) and invalid code, is returned as
///   a [`RunOutcome`] with `Err` and whatever was logged: `run` itself never fails or panics,
///   and one run's failure never affects other runs.
/// - Runs of different actions share no state.
/// - A run must not block the async executor.
///
/// # Example
/// ```
/// use async_trait::async_trait;
/// use defender_core::{ActionCode, ActionRuntime, RunOutcome, RunRequest};
///
/// /// A runtime that answers every event with the action's name.
/// #[derive(Debug)]
/// struct Echo;
///
/// #[async_trait]
/// impl ActionRuntime for Echo {
///     async fn run(&self, _code: &ActionCode, req: RunRequest) -> RunOutcome {
///         RunOutcome { result: Ok(req.event.action_name.into()), logs: vec![] }
///     }
/// }
/// ```
#[async_trait]
pub trait ActionRuntime: Debug + Send + Sync + 'static {
    /// Runs `code` for one event.
    async fn run(&self, code: &ActionCode, request: RunRequest) -> RunOutcome;
}

#[async_trait]
impl<T: ActionRuntime + ?Sized> ActionRuntime for Arc<T> {
    async fn run(&self, code: &ActionCode, request: RunRequest) -> RunOutcome {
        (**self).run(code, request).await
    }
}

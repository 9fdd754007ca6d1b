//! The parts of monitors (Defender's Sentinels), usable without the engine: matching blocks
//! against monitor definitions, alert threshold and timeout, and reading blocks as they reach
//! a confirmation level. The engine puts them together in its monitor path (see
//! [`Engine::add_monitor`](crate::Engine::add_monitor)).
//!
//! - [`BlockCursor`]: one network and confirmation level: the next canonical block once it
//!   has its confirmations, reorg-aware, and a durable checkpoint.
//! - [`Matcher`]: the compiled monitor set; [`Matcher::match_block`] turns a
//!   [`Block`](defender_core::Block) into [`MonitorMatch`](defender_core::MonitorMatch)es
//!   exactly as Defender sent them.
//! - [`AlertGate`]: which matches notify (alert threshold and alert timeout).
//! - [`PlainAlertFormatter`]: Defender's default alert text, without templates.
//! - [`BlockWatcher`]: a cursor and a matcher in a loop that hands each block's matches to a
//!   [`MatchSink`], for programs that do their own alerting.
//! - [`test_conditions()`]: Defender's "test conditions" tool.
//! - [`TraceSource`]: a network's internal calls (`trace_block` or `debug_traceBlockByNumber`),
//!   so that functions called by contracts match too ([`Matcher::match_block_traced`]).
//!
//! ```
//! use defender_engine::monitor::Matcher;
//! use defender_core::MonitorDefinition;
//!
//! let def: MonitorDefinition = serde_json::from_value(serde_json::json!({
//!     "name": "Large transfers", "network": "mainnet",
//!     "addresses": ["0x5FbDB2315678afecb367f032d93F642f64180aa3"],
//!     "eventConditions": [{
//!         "eventSignature": "Transfer(address indexed from, address indexed to, uint256 value)",
//!         "expression": "value > 1000"
//!     }],
//!     "notificationChannels": ["ops"]
//! })).unwrap();
//! let mut matcher = Matcher::new();
//! matcher.insert("large-transfers", &def, 1).unwrap();
//!
//! // Conditions are checked when the monitor is added, with spans.
//! let mut bad = def.clone();
//! bad.event_conditions[0].expression = Some("valu > 1000".into());
//! let err = matcher.insert("bad", &bad, 1).unwrap_err();
//! assert!(err.to_string().contains("valu > 1000"));
//! ```

mod alert;
mod compiled;
mod error;
mod fasthash;
mod format;
mod matcher;
mod payload;
mod test_conditions;
mod trace;
mod values;
mod watcher;

pub use alert::AlertGate;
pub use error::{MonitorError, WatchError};
pub use format::PlainAlertFormatter;
pub use matcher::Matcher;
pub use payload::eth_receipt;
pub use test_conditions::{test_conditions, TestScope, MAX_TEST_BLOCKS};
pub use trace::{
    BlockCalls, InternalCall, RpcTraceSource, TraceMethod, TraceSource, MAX_BLOCK_CALLS,
    MAX_TRACE_RESPONSE_BYTES,
};
pub use watcher::{
    checkpoint_key, legacy_checkpoint_key, BlockCursor, BlockWatcher, Checkpoint, MatchSink,
    StartAt, WatcherConfig,
};
pub(crate) use watcher::{log_poll_error, poll_wait};

#[cfg(test)]
mod tests;

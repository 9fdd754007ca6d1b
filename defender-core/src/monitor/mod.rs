//! Monitors (Defender's Sentinels): matching blocks against monitor definitions, alert
//! threshold and timeout, and the block pipeline.
//!
//! - [`Matcher`]: the compiled monitor set; [`Matcher::match_block`] turns a [`Block`](crate::Block)
//!   into [`MonitorMatch`](crate::MonitorMatch)es exactly as Defender sent them.
//! - [`AlertGate`]: which matches notify (alert threshold and alert timeout).
//! - [`BlockWatcher`]: one network and confirmation level: waits for confirmations, detects
//!   reorgs, delivers each block's matches to a [`MatchSink`] once, and checkpoints.
//! - [`test_conditions`]: Defender's "test conditions" tool.
//!
//! ```
//! use defender_core::monitor::Matcher;
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
mod matcher;
mod payload;
mod test_conditions;
mod values;
mod watcher;

pub use alert::AlertGate;
pub use error::{MonitorError, WatchError};
pub use matcher::Matcher;
pub use payload::eth_receipt;
pub use test_conditions::{test_conditions, TestScope, MAX_TEST_BLOCKS};
pub use watcher::{checkpoint_key, BlockWatcher, Checkpoint, MatchSink, StartAt, WatcherConfig};

#[cfg(test)]
mod tests;

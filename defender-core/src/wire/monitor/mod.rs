//! Monitor definitions and matches.

mod api;
mod definition;
mod matches;

pub use definition::{
    AlertThreshold, ConfirmLevel, DefinitionError, EventCondition, FunctionCondition,
    MonitorDefinition, MonitorType, Severity, MONITOR_TX_VARIABLES,
};
pub use matches::{
    EthLog, EthReceipt, FilterMatch, MatchReason, MatchReasonType, MonitorFilterRequest,
    MonitorFilterResponse, MonitorMatch, MonitorSummary, MAX_FILTER_BATCH,
};

//! Defender's wire types: the JSON shapes that user code and HTTP callers depend on.
//!
//! Every type here serializes to exactly the camelCase names listed in Defender's documentation, so
//! that JavaScript written for Defender keeps working. Legacy names (`autotask*`, `sentinel`) are
//! written alongside the current ones and accepted on input.

mod action;
mod forta;
mod monitor;
mod notification;
mod notify_settings;
mod quantity;
mod relayer;

pub use action::{
    encode_logs, ActionEvent, ActionRequest, ErrorType, LogEntry, LogLevel, PreviousRun, RunRecord,
    RunStatus, Trigger, WebhookResponse,
};
pub use forta::{
    forta_severity_rank, FortaAlert, FortaBlock, FortaBot, FortaConditions, FortaMonitorDefinition,
    FortaSource, FORTA_NETWORKS, FORTA_SEVERITIES,
};
pub use monitor::{
    AlertThreshold, ConfirmLevel, DefinitionError, EthLog, EthReceipt, EventCondition, FilterMatch,
    FunctionCondition, MatchReason, MatchReasonType, MonitorDefinition, MonitorFilterRequest,
    MonitorFilterResponse, MonitorMatch, MonitorSummary, MonitorType, Severity, MAX_FILTER_BATCH,
    MONITOR_TX_VARIABLES,
};
pub use notification::{MetricRequest, NotificationRequest};
pub use quantity::{Quantity, QuantityError};
pub use relayer::{
    ListTransactionsQuery, PricingStyle, RelayerInfo, RelayerStatus, RelayerTransaction,
    SignMessagePayload, SignTypedDataPayload, SignedMessage, Speed, TxRequest, TxStatus,
    TxValidationError, ValidatedTx, DEFAULT_VALID_FOR,
};

/// ISO-8601 timestamps with millisecond precision and a `Z` suffix, as JavaScript's
/// `Date.prototype.toISOString` writes them (Defender's `createdAt`, `validUntil`, ...).
pub mod iso8601 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Formats a timestamp the way JavaScript's `toISOString` does.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses any RFC 3339 timestamp (with an offset or `Z`).
    pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
    }

    /// Serde `serialize_with` for a timestamp.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    /// Serde `deserialize_with` for a timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// The same for an optional timestamp.
    pub mod option {
        use super::*;

        /// Serde `serialize_with` for an optional timestamp.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        /// Serde `deserialize_with` for an optional timestamp.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.map(|s| parse(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

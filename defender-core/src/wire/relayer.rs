//! Relayer requests, transactions and their validation.

use super::{iso8601, Quantity};
use alloy_primitives::{Address, Bytes, U256};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How long a transaction stays valid when the request gives no `validUntil`: 8 hours.
pub const DEFAULT_VALID_FOR: Duration = Duration::hours(8);

/// Speed of a transaction: which fee percentile the relayer pays.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum Speed {
    /// Cheapest, slowest.
    SafeLow,
    /// Median.
    Average,
    /// The default.
    #[default]
    Fast,
    /// Highest.
    Fastest,
}

/// Where a relayed transaction is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxStatus {
    /// Accepted, not yet priced or signed.
    Pending,
    /// Signed and being sent.
    Sent,
    /// Accepted by the node.
    Submitted,
    /// Seen in the mempool.
    Inmempool,
    /// Included in a block.
    Mined,
    /// Enough blocks on top.
    Confirmed,
    /// Reverted or dropped.
    Failed,
    /// Past `validUntil`, replaced by a no-op.
    Expired,
}

impl TxStatus {
    /// Whether the transaction can still change (it is not mined, confirmed, failed or expired).
    pub fn is_in_flight(self) -> bool {
        matches!(
            self,
            TxStatus::Pending | TxStatus::Sent | TxStatus::Submitted | TxStatus::Inmempool
        )
    }

    /// Whether nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TxStatus::Confirmed | TxStatus::Failed | TxStatus::Expired
        )
    }

    /// The name on the wire (`"pending"`, `"mined"`, ...), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Pending => "pending",
            TxStatus::Sent => "sent",
            TxStatus::Submitted => "submitted",
            TxStatus::Inmempool => "inmempool",
            TxStatus::Mined => "mined",
            TxStatus::Confirmed => "confirmed",
            TxStatus::Failed => "failed",
            TxStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for TxStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `relayer.sendTransaction(...)`'s argument, as JavaScript sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxRequest {
    /// Receiver; absent for a deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Wei sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// Calldata (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Gas limit; estimated with a margin when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_limit: Option<Quantity>,
    /// Pricing by speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<Speed>,
    /// Legacy fixed gas price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_price: Option<Quantity>,
    /// EIP-1559 fee cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee_per_gas: Option<Quantity>,
    /// EIP-1559 tip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority_fee_per_gas: Option<Quantity>,
    /// ISO-8601 deadline; default 8 hours from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Send through a private mempool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private: Option<bool>,
}

/// How a validated transaction is priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PricingStyle {
    /// The relayer prices it for this speed.
    Speed(Speed),
    /// A fixed legacy gas price.
    GasPrice(u128),
    /// Fixed EIP-1559 fees.
    Eip1559 {
        /// Fee cap.
        max_fee_per_gas: u128,
        /// Tip.
        max_priority_fee_per_gas: u128,
    },
}

/// A request that passed [`TxRequest::validate`], with typed fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedTx {
    /// Receiver.
    pub to: Option<Address>,
    /// Wei sent.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
    /// Gas limit, if given.
    pub gas_limit: Option<u64>,
    /// Pricing.
    pub pricing: PricingStyle,
    /// Deadline.
    pub valid_until: DateTime<Utc>,
    /// Private mempool.
    pub is_private: bool,
}

/// What Defender rejects in a transaction request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxValidationError {
    /// Neither `to` nor `data`.
    #[error("a transaction needs `to` or `data`")]
    MissingToAndData,
    /// More than one of `speed`, `gasPrice` and the EIP-1559 pair.
    #[error("use only one pricing style: `speed`, `gasPrice`, or `maxFeePerGas` with `maxPriorityFeePerGas`")]
    MultiplePricingStyles,
    /// Only one of `maxFeePerGas` and `maxPriorityFeePerGas`.
    #[error("`maxFeePerGas` and `maxPriorityFeePerGas` go together")]
    IncompleteEip1559,
    /// `maxFeePerGas < maxPriorityFeePerGas`.
    #[error("maxFeePerGas ({max_fee_per_gas}) is below maxPriorityFeePerGas ({max_priority_fee_per_gas})")]
    MaxFeeBelowPriorityFee {
        /// The fee cap given.
        max_fee_per_gas: u128,
        /// The tip given.
        max_priority_fee_per_gas: u128,
    },
    /// `validUntil` is not in the future.
    #[error("validUntil ({0}) is in the past")]
    ValidUntilInPast(String),
    /// `validUntil` is not an ISO-8601 timestamp.
    #[error("validUntil `{0}` is not an ISO-8601 timestamp")]
    InvalidValidUntil(String),
    /// `to` is not an address.
    #[error("`{0}` is not an address")]
    InvalidAddress(String),
    /// `data` is not hex.
    #[error("data is not 0x-prefixed hex")]
    InvalidData,
    /// A number does not fit where it goes.
    #[error("{field} is too large")]
    TooLarge {
        /// The field's name.
        field: &'static str,
    },
    /// The gas limit is below the 21000 every transaction costs.
    #[error("gasLimit {0} is below 21000")]
    GasLimitTooLow(u64),
}

impl TxRequest {
    /// Checks the request as Defender did and returns typed fields.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<ValidatedTx, TxValidationError> {
        let has_data = self
            .data
            .as_deref()
            .is_some_and(|d| !d.is_empty() && d != "0x");
        if self.to.is_none() && !has_data {
            return Err(TxValidationError::MissingToAndData);
        }
        let to = match &self.to {
            Some(t) => Some(
                t.parse::<Address>()
                    .map_err(|_| TxValidationError::InvalidAddress(t.clone()))?,
            ),
            None => None,
        };
        let data = match &self.data {
            Some(d) => {
                let hex = d.strip_prefix("0x").ok_or(TxValidationError::InvalidData)?;
                alloy_primitives::hex::decode(hex)
                    .map(Bytes::from)
                    .map_err(|_| TxValidationError::InvalidData)?
            }
            None => Bytes::new(),
        };
        let u128_of = |q: Quantity, field: &'static str| {
            q.to_u128().ok_or(TxValidationError::TooLarge { field })
        };
        let styles = [
            self.speed.is_some(),
            self.gas_price.is_some(),
            self.max_fee_per_gas.is_some() || self.max_priority_fee_per_gas.is_some(),
        ];
        if styles.iter().filter(|s| **s).count() > 1 {
            return Err(TxValidationError::MultiplePricingStyles);
        }
        let pricing = match (
            self.speed,
            self.gas_price,
            self.max_fee_per_gas,
            self.max_priority_fee_per_gas,
        ) {
            (_, Some(gp), _, _) => PricingStyle::GasPrice(u128_of(gp, "gasPrice")?),
            (_, _, Some(max), Some(prio)) => {
                let (max, prio) = (
                    u128_of(max, "maxFeePerGas")?,
                    u128_of(prio, "maxPriorityFeePerGas")?,
                );
                if max < prio {
                    return Err(TxValidationError::MaxFeeBelowPriorityFee {
                        max_fee_per_gas: max,
                        max_priority_fee_per_gas: prio,
                    });
                }
                PricingStyle::Eip1559 {
                    max_fee_per_gas: max,
                    max_priority_fee_per_gas: prio,
                }
            }
            (_, _, Some(_), None) | (_, _, None, Some(_)) => {
                return Err(TxValidationError::IncompleteEip1559)
            }
            (speed, None, None, None) => PricingStyle::Speed(speed.unwrap_or_default()),
        };
        let gas_limit = match self.gas_limit {
            Some(g) => {
                let g = g
                    .to_u64()
                    .ok_or(TxValidationError::TooLarge { field: "gasLimit" })?;
                if g < 21_000 {
                    return Err(TxValidationError::GasLimitTooLow(g));
                }
                Some(g)
            }
            None => None,
        };
        let valid_until = match &self.valid_until {
            Some(v) => {
                let t = iso8601::parse(v)
                    .map_err(|_| TxValidationError::InvalidValidUntil(v.clone()))?;
                if t <= now {
                    return Err(TxValidationError::ValidUntilInPast(v.clone()));
                }
                t
            }
            None => now + DEFAULT_VALID_FOR,
        };
        Ok(ValidatedTx {
            to,
            value: self.value.map(|v| v.0).unwrap_or_default(),
            data,
            gas_limit,
            pricing,
            valid_until,
            is_private: self.is_private.unwrap_or(false),
        })
    }
}

/// A relayed transaction, as `sendTransaction` and `getTransaction` return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayerTransaction {
    /// Stable id across resubmissions.
    pub transaction_id: String,
    /// Hash of the latest submission.
    pub hash: String,
    /// Receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Sender: the relayer's address.
    pub from: String,
    /// Wei sent (decimal string).
    pub value: Quantity,
    /// Calldata (hex).
    pub data: String,
    /// Speed, when priced by speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<Speed>,
    /// Gas limit.
    pub gas_limit: u64,
    /// Nonce.
    pub nonce: u64,
    /// Status.
    pub status: TxStatus,
    /// Chain id.
    pub chain_id: u64,
    /// Deadline.
    #[serde(with = "iso8601")]
    pub valid_until: DateTime<Utc>,
    /// When it was accepted.
    #[serde(with = "iso8601")]
    pub created_at: DateTime<Utc>,
    /// When it was last sent.
    #[serde(
        default,
        with = "iso8601::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was last priced.
    #[serde(
        default,
        with = "iso8601::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub priced_at: Option<DateTime<Utc>>,
    /// Legacy gas price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_price: Option<u128>,
    /// EIP-1559 fee cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority_fee_per_gas: Option<u128>,
    /// Sent through a private mempool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private: Option<bool>,
}

/// `listTransactions({ status, since, limit })`.
///
/// `status: "pending"` lists every transaction still in flight (pending, sent, submitted,
/// inmempool), as Defender did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTransactionsQuery {
    /// Only this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TxStatus>,
    /// Only created at or after this time.
    #[serde(
        default,
        with = "iso8601::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `getRelayer()`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayerInfo {
    /// The relayer's id.
    pub relayer_id: String,
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Its network.
    pub network: String,
    /// Whether it refuses to send.
    pub paused: bool,
}

/// `getRelayerStatus()`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayerStatus {
    /// The relayer's id.
    pub relayer_id: String,
    /// Its address.
    pub address: String,
    /// The next nonce it will use.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: Quantity,
    /// Transactions in flight.
    pub number_of_pending_transactions: u64,
    /// Whether it refuses to send.
    pub paused: bool,
}

/// `sign({ message })`: the message as hex bytes (`0x...`) or plain text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignMessagePayload {
    /// The message.
    pub message: String,
}

/// `signTypedData({ domainSeparator, hashStructMessage })`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignTypedDataPayload {
    /// EIP-712 domain separator (32 bytes hex).
    pub domain_separator: String,
    /// EIP-712 struct hash (32 bytes hex).
    pub hash_struct_message: String,
}

/// A signature as `{ sig, r, s, v }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedMessage {
    /// 65 bytes hex: r, s, v.
    pub sig: String,
    /// r (32 bytes hex).
    pub r: String,
    /// s (32 bytes hex).
    pub s: String,
    /// v: 27 or 28.
    pub v: u8,
}

#[cfg(test)]
mod tests {
    use super::TxStatus;

    #[test]
    fn status_display_is_the_wire_name() {
        for s in [
            TxStatus::Pending,
            TxStatus::Sent,
            TxStatus::Submitted,
            TxStatus::Inmempool,
            TxStatus::Mined,
            TxStatus::Confirmed,
            TxStatus::Failed,
            TxStatus::Expired,
        ] {
            assert_eq!(
                serde_json::to_value(s).expect("serializes"),
                serde_json::Value::String(s.to_string())
            );
        }
    }
}

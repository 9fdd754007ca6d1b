//! The relayer: sends and tracks transactions for actions, and answers JSON-RPC queries.

use crate::wire::{
    ListTransactionsQuery, RelayerInfo, RelayerStatus, RelayerTransaction, SignMessagePayload,
    SignTypedDataPayload, SignedMessage, TxRequest, TxStatus, TxValidationError,
};
use alloy_primitives::{Address, U256};
use async_trait::async_trait;
use serde_json::Value;
use std::fmt::Debug;
use std::sync::Arc;

/// Dynamic relayer, as the engine holds it.
pub type DynRelayer = dyn Relayer;

/// Errors of every [`Relayer`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayerError {
    /// The request is invalid (Defender's 400 answers).
    #[error("invalid transaction request: {0}")]
    Invalid(#[from] TxValidationError),
    /// No such transaction.
    #[error("transaction {0} not found")]
    NotFound(String),
    /// The balance, less the cost of pending transactions, does not cover this one.
    #[error("insufficient funds: balance {balance} wei, pending cost {pending_cost} wei, this transaction needs {required} wei")]
    InsufficientFunds {
        /// Balance in wei.
        balance: U256,
        /// Worst-case cost of transactions in flight, in wei.
        pending_cost: U256,
        /// Worst-case cost of this transaction, in wei.
        required: U256,
    },
    /// A relayer policy refused the transaction; the [`PolicyViolation`] says which.
    #[error("relayer policy violated: {0}")]
    Policy(#[from] PolicyViolation),
    /// The transaction can no longer be replaced or cancelled (it is mined or final).
    #[error("transaction {id} is {status} and cannot be changed")]
    NotReplaceable {
        /// The transaction's id.
        id: String,
        /// Its status.
        status: TxStatus,
    },
    /// The node answered with a JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// The error code.
        code: i64,
        /// The message.
        message: String,
        /// Extra data, if any.
        data: Option<Value>,
    },
    /// The relayer is not configured for what was asked (missing signer, unknown relayer).
    #[error("relayer configuration: {0}")]
    Configuration(String),
    /// The relayer's signer failed to sign (a key that cannot be used, an unreachable KMS).
    #[error("signer {address} failed: {source}")]
    Signer {
        /// The account whose key failed: the relayer's address.
        address: Address,
        /// What the signer reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Every node URL failed; the operation may be retried.
    #[error("relayer unavailable: {source}")]
    Unavailable {
        /// The last transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Which relayer policy refused a transaction, with the values involved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// The relayer is paused and sends nothing.
    #[error("the relayer is paused")]
    Paused,
    /// The receiver is not on the relayer's whitelist.
    #[error("receiver {to} is not whitelisted")]
    ReceiverNotWhitelisted {
        /// The receiver asked for.
        to: Address,
    },
    /// A deployment (no receiver) under a whitelist, which only allows listed receivers.
    #[error("deployments are not allowed by the whitelist")]
    DeploymentNotWhitelisted,
    /// A legacy `gasPrice` above the relayer's gas price cap.
    #[error("gas price {gas_price} is above the relayer's cap {cap}")]
    GasPriceAboveCap {
        /// The gas price asked for, in wei.
        gas_price: u128,
        /// The relayer's cap, in wei.
        cap: u128,
    },
    /// An EIP-1559 `maxFeePerGas` above the relayer's gas price cap.
    #[error("EIP-1559 maxFeePerGas {max_fee_per_gas} is above the relayer's cap {cap}")]
    MaxFeePerGasAboveCap {
        /// The fee cap asked for, in wei.
        max_fee_per_gas: u128,
        /// The relayer's cap, in wei.
        cap: u128,
    },
}

/// A Defender relayer: an account that sends transactions for actions, prices them, keeps
/// nonces in order, and resubmits what does not get mined.
///
/// # Contract
/// - `send_transaction` validates the request with [`TxRequest::validate`] (errors as
///   [`RelayerError::Invalid`]), applies the relayer's policies, assigns the next nonce with no
///   gap and no duplicate, and returns the transaction with a stable `transactionId`. The
///   transaction is durably accepted when this returns `Ok`.
/// - A transaction keeps its `transactionId` through resubmissions (new `hash`, higher fees);
///   `get_transaction` returns its latest state.
/// - `replace_*` and `cancel_transaction_by_id` reuse the nonce of an in-flight transaction;
///   on a mined or final one they fail with [`RelayerError::NotReplaceable`].
/// - `sign` and `sign_typed_data` return signatures that recover to the relayer's address.
/// - `call` forwards a JSON-RPC request to the relayer's network and returns its `result`.
///
/// # Example
/// ```
/// use defender_core::{Relayer, RelayerError};
/// async fn send(relayer: &dyn Relayer) -> Result<String, RelayerError> {
///     let tx = serde_json::from_value(serde_json::json!({
///         "to": "0xc7464dbcA260A8faF033460622B23467Df5AEA42",
///         "value": 100, "speed": "fast", "gasLimit": "21000"
///     })).expect("a valid request");
///     Ok(relayer.send_transaction(tx).await?.transaction_id)
/// }
/// ```
#[async_trait]
pub trait Relayer: Debug + Send + Sync + 'static {
    /// `sendTransaction`.
    async fn send_transaction(&self, tx: TxRequest) -> Result<RelayerTransaction, RelayerError>;
    /// `getTransaction`.
    async fn get_transaction(&self, id: &str) -> Result<RelayerTransaction, RelayerError>;
    /// `listTransactions`, newest first.
    async fn list_transactions(
        &self,
        query: ListTransactionsQuery,
    ) -> Result<Vec<RelayerTransaction>, RelayerError>;
    /// `replaceTransactionById`.
    async fn replace_transaction_by_id(
        &self,
        id: &str,
        tx: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError>;
    /// `replaceTransactionByNonce`.
    async fn replace_transaction_by_nonce(
        &self,
        nonce: u64,
        tx: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError>;
    /// `cancelTransactionById`: replaces it with a 0-value transfer to itself.
    async fn cancel_transaction_by_id(&self, id: &str) -> Result<RelayerTransaction, RelayerError>;
    /// `getRelayer`.
    async fn get_relayer(&self) -> Result<RelayerInfo, RelayerError>;
    /// `getRelayerStatus`.
    async fn get_relayer_status(&self) -> Result<RelayerStatus, RelayerError>;
    /// `sign`: EIP-191 personal message.
    async fn sign(&self, payload: SignMessagePayload) -> Result<SignedMessage, RelayerError>;
    /// `signTypedData`: EIP-712 from a domain separator and a struct hash.
    async fn sign_typed_data(
        &self,
        payload: SignTypedDataPayload,
    ) -> Result<SignedMessage, RelayerError>;
    /// `call`: JSON-RPC pass-through; returns the `result`.
    async fn call(&self, method: &str, params: Value) -> Result<Value, RelayerError>;
}

macro_rules! forward_relayer {
    ($ty:ty) => {
        #[async_trait]
        impl<T: Relayer + ?Sized> Relayer for $ty {
            async fn send_transaction(
                &self,
                tx: TxRequest,
            ) -> Result<RelayerTransaction, RelayerError> {
                (**self).send_transaction(tx).await
            }
            async fn get_transaction(&self, id: &str) -> Result<RelayerTransaction, RelayerError> {
                (**self).get_transaction(id).await
            }
            async fn list_transactions(
                &self,
                query: ListTransactionsQuery,
            ) -> Result<Vec<RelayerTransaction>, RelayerError> {
                (**self).list_transactions(query).await
            }
            async fn replace_transaction_by_id(
                &self,
                id: &str,
                tx: TxRequest,
            ) -> Result<RelayerTransaction, RelayerError> {
                (**self).replace_transaction_by_id(id, tx).await
            }
            async fn replace_transaction_by_nonce(
                &self,
                nonce: u64,
                tx: TxRequest,
            ) -> Result<RelayerTransaction, RelayerError> {
                (**self).replace_transaction_by_nonce(nonce, tx).await
            }
            async fn cancel_transaction_by_id(
                &self,
                id: &str,
            ) -> Result<RelayerTransaction, RelayerError> {
                (**self).cancel_transaction_by_id(id).await
            }
            async fn get_relayer(&self) -> Result<RelayerInfo, RelayerError> {
                (**self).get_relayer().await
            }
            async fn get_relayer_status(&self) -> Result<RelayerStatus, RelayerError> {
                (**self).get_relayer_status().await
            }
            async fn sign(
                &self,
                payload: SignMessagePayload,
            ) -> Result<SignedMessage, RelayerError> {
                (**self).sign(payload).await
            }
            async fn sign_typed_data(
                &self,
                payload: SignTypedDataPayload,
            ) -> Result<SignedMessage, RelayerError> {
                (**self).sign_typed_data(payload).await
            }
            async fn call(&self, method: &str, params: Value) -> Result<Value, RelayerError> {
                (**self).call(method, params).await
            }
        }
    };
}

forward_relayer!(Arc<T>);
forward_relayer!(Box<T>);

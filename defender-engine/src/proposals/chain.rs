//! The chain at the edges: contract reads, and sending a transaction through a relayer or an
//! engine-held key, then waiting for its receipt (alloy's provider).

use super::error::ProposalError;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::SolCall;
use alloy_primitives::{Address, Bytes, B256, U256};
use defender_core::{Relayer, TxRequest, TxStatus};
use std::sync::Arc;
use std::time::Duration;

/// How long a sent transaction is waited for.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// How often a relayer's transaction is looked at while waiting.
const RELAYER_POLL: Duration = Duration::from_millis(100);

sol! {
    /// What proposals use of a Safe (1.x).
    interface ISafe {
        function nonce() external view returns (uint256);
        function VERSION() external view returns (string);
        function getThreshold() external view returns (uint256);
        function isOwner(address owner) external view returns (bool);
        function approvedHashes(address owner, bytes32 hash) external view returns (uint256);
        function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) external payable returns (bool);
    }

    /// What proposals use of an OpenZeppelin Governor.
    interface IGovernor {
        function propose(address[] targets, uint256[] values, bytes[] calldatas, string description) external returns (uint256);
        function hashProposal(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) external view returns (uint256);
        function state(uint256 proposalId) external view returns (uint8);
        function execute(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) external payable returns (uint256);
    }

    /// What proposals use of an OpenZeppelin TimelockController.
    interface ITimelock {
        function getMinDelay() external view returns (uint256);
        function hashOperation(address target, uint256 value, bytes data, bytes32 predecessor, bytes32 salt) external view returns (bytes32);
        function schedule(address target, uint256 value, bytes data, bytes32 predecessor, bytes32 salt, uint256 delay) external;
        function execute(address target, uint256 value, bytes payload, bytes32 predecessor, bytes32 salt) external payable;
        function getTimestamp(bytes32 id) external view returns (uint256);
        function isOperationReady(bytes32 id) external view returns (bool);
        function isOperationDone(bytes32 id) external view returns (bool);
    }
}

/// The names of the Governor's `ProposalState`, by value.
pub(crate) const GOVERNOR_STATES: [&str; 8] = [
    "Pending",
    "Active",
    "Canceled",
    "Defeated",
    "Succeeded",
    "Queued",
    "Expired",
    "Executed",
];

/// Who sends a proposal's transactions.
#[derive(Debug, Clone)]
pub(crate) enum Sender {
    /// A relayer of the engine.
    Relayer(Arc<dyn Relayer>),
    /// A key the engine holds.
    Key(PrivateKeySigner),
}

/// A mined transaction.
#[derive(Debug, Clone)]
pub(crate) struct Mined {
    pub(crate) hash: B256,
    pub(crate) succeeded: bool,
}

/// Why a send did not end in a mined transaction.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The node said the call reverts (at estimation or as a call): the execution failed.
    Reverted(String),
    /// Anything else: the proposal is left as it was.
    Other(ProposalError),
}

/// One network, reached over HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    url: reqwest_url::Url,
    provider: DynProvider,
    pub(crate) chain_id: u64,
}

/// alloy's URL type, as its HTTP transport takes it.
mod reqwest_url {
    pub(crate) use alloy::transports::http::reqwest::Url;
}

fn chain_err(e: impl std::fmt::Display) -> ProposalError {
    ProposalError::Chain(e.to_string())
}

fn is_revert(message: &str) -> bool {
    message.to_ascii_lowercase().contains("revert")
}

impl Chain {
    /// Connects to `url` and reads its chain id.
    pub(crate) async fn connect(url: &str) -> Result<Chain, ProposalError> {
        let url: reqwest_url::Url = url
            .parse()
            .map_err(|e| ProposalError::Invalid(format!("RPC URL `{url}`: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(url.clone()).erased();
        let chain_id = provider.get_chain_id().await.map_err(chain_err)?;
        Ok(Chain {
            url,
            provider,
            chain_id,
        })
    }

    /// Calls a view function of `to`.
    pub(crate) async fn read<C: SolCall + Send>(
        &self,
        to: Address,
        call: C,
    ) -> Result<C::Return, ProposalError> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(call.abi_encode());
        let out = self.provider.call(tx).await.map_err(chain_err)?;
        C::abi_decode_returns(&out)
            .map_err(|e| ProposalError::Chain(format!("{} of {to}: {e}", C::SIGNATURE)))
    }

    /// The chain's latest block timestamp (unix seconds).
    pub(crate) async fn now(&self) -> Result<u64, ProposalError> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(chain_err)?
            .ok_or_else(|| ProposalError::Chain("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// Sends `data` with `value` to `to` from `sender` and waits for the receipt.
    pub(crate) async fn send(
        &self,
        sender: &Sender,
        to: Address,
        value: U256,
        data: Vec<u8>,
    ) -> Result<Mined, SendError> {
        match sender {
            Sender::Key(key) => self.send_with_key(key, to, value, data).await,
            Sender::Relayer(relayer) => self.send_with_relayer(relayer, to, value, data).await,
        }
    }

    async fn send_with_key(
        &self,
        key: &PrivateKeySigner,
        to: Address,
        value: U256,
        data: Vec<u8>,
    ) -> Result<Mined, SendError> {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(key.clone()))
            .connect_http(self.url.clone());
        let tx = TransactionRequest::default()
            .with_from(key.address())
            .with_to(to)
            .with_value(value)
            .with_input(Bytes::from(data));
        let pending = provider.send_transaction(tx).await.map_err(|e| {
            let message = e.to_string();
            if is_revert(&message) {
                SendError::Reverted(message)
            } else {
                SendError::Other(chain_err(message))
            }
        })?;
        let receipt = pending
            .with_timeout(Some(RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| SendError::Other(chain_err(e)))?;
        Ok(Mined {
            hash: receipt.transaction_hash,
            succeeded: receipt.status(),
        })
    }

    async fn send_with_relayer(
        &self,
        relayer: &Arc<dyn Relayer>,
        to: Address,
        value: U256,
        data: Vec<u8>,
    ) -> Result<Mined, SendError> {
        let request: TxRequest = serde_json::from_value(serde_json::json!({
            "to": format!("{to:#x}"),
            "value": value.to_string(),
            "data": format!("0x{}", hex::encode(&data)),
            "speed": "fast",
        }))
        .map_err(|e| SendError::Other(chain_err(e)))?;
        let sent = relayer.send_transaction(request).await.map_err(|e| {
            let message = e.to_string();
            if is_revert(&message) {
                SendError::Reverted(message)
            } else {
                SendError::Other(ProposalError::Chain(format!("relayer: {message}")))
            }
        })?;
        let deadline = tokio::time::Instant::now() + RECEIPT_TIMEOUT;
        let tx = loop {
            let tx = relayer
                .get_transaction(&sent.transaction_id)
                .await
                .map_err(|e| SendError::Other(ProposalError::Chain(format!("relayer: {e}"))))?;
            if !tx.status.is_in_flight() {
                break tx;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SendError::Other(ProposalError::Chain(format!(
                    "relayer transaction {} not mined within {} s",
                    sent.transaction_id,
                    RECEIPT_TIMEOUT.as_secs()
                ))));
            }
            tokio::time::sleep(RELAYER_POLL).await;
        };
        let hash: B256 = tx
            .hash
            .parse()
            .map_err(|e| SendError::Other(chain_err(format!("transaction hash: {e}"))))?;
        if matches!(tx.status, TxStatus::Expired) {
            return Err(SendError::Other(ProposalError::Chain(format!(
                "relayer transaction {} expired",
                sent.transaction_id
            ))));
        }
        let receipt = self
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|e| SendError::Other(chain_err(e)))?;
        Ok(Mined {
            hash,
            succeeded: receipt.map(|r| r.status()).unwrap_or(false),
        })
    }
}

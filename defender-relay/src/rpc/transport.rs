//! What sits under alloy's retry and fallback layers: one HTTP transport per URL, the policy that
//! says which answers move to the next URL, and which errors the retry layer retries.
//!
//! The HTTP transport is ours rather than `alloy-transport-http`'s because that one is built on
//! reqwest 0.13, whose TLS needs aws-lc; the workspace's reqwest (rustls on ring) serves here,
//! with the same mapping of HTTP statuses. It also tells alloy's `FallbackService` about answers
//! that are JSON-RPC errors of the node rather than of the request (alloy counts every parsed
//! answer as a success), so that the next URL is tried for them.

use alloy::rpc::json_rpc::{ErrorPayload, RequestPacket, ResponsePacket, ResponsePayload};
use alloy::transports::layers::{RateLimitRetryPolicy, RetryPolicy};
use alloy::transports::{
    RpcError as AlloyRpcError, TransportError, TransportErrorKind, TransportFut,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Messages of JSON-RPC errors that are about the request itself (a revert, a nonce or funds
/// problem, bad params): another node would answer the same.
const DETERMINISTIC_MESSAGES: &[&str] = &[
    "revert",
    "nonce too low",
    "nonce too high",
    "already known",
    "replacement",
    "underpriced",
    "insufficient funds",
    "intrinsic gas",
    "gas too low",
    "exceeds block gas limit",
    "invalid sender",
    "fee cap",
    "max fee per gas less than block base fee",
    "known transaction",
];

/// JSON-RPC "method not found": this node lacks the method; another may have it, but trying
/// again later will not help.
const METHOD_NOT_FOUND: i64 = -32601;

/// Whether a JSON-RPC error is a deterministic answer about the request.
pub(crate) fn is_deterministic(code: i64, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    code == 3 || code == -32602 || DETERMINISTIC_MESSAGES.iter().any(|p| m.contains(p))
}

/// A JSON-RPC error of the node (not of the request), as a transport error: alloy's fallback
/// tries the next URL and the retry layer retries the pass.
#[derive(Debug, thiserror::Error)]
#[error("node error {code}: {message}")]
pub(crate) struct NodeError {
    pub(crate) code: i64,
    pub(crate) message: String,
}

/// One URL of a network, over HTTP.
#[derive(Debug, Clone)]
pub(crate) struct UrlTransport {
    /// Its place in the configured list.
    pub(crate) index: usize,
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    /// The index of the URL that answered last (what `RpcClient::preferred_url` reports).
    pub(crate) answered: Arc<AtomicUsize>,
}

impl UrlTransport {
    async fn send(self, req: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let body = serde_json::to_vec(&req).map_err(TransportError::ser_err)?;
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(TransportErrorKind::custom)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(TransportErrorKind::custom)?;
        let http_error = || {
            TransportErrorKind::http_error_with_retry_after(
                status.as_u16(),
                String::from_utf8_lossy(&bytes).chars().take(512).collect(),
                retry_after,
            )
        };
        // Rate limits and server errors move on whatever the body says.
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(http_error());
        }
        let packet: ResponsePacket = match serde_json::from_slice(&bytes) {
            Ok(p) => p,
            // Some nodes answer JSON-RPC errors with 4xx: the body is used when it is JSON-RPC.
            Err(_) if !status.is_success() => return Err(http_error()),
            Err(e) => {
                return Err(TransportError::deser_err(
                    e,
                    String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(512)
                        .collect::<String>(),
                ))
            }
        };
        if let ResponsePacket::Single(r) = &packet {
            if let ResponsePayload::Failure(e) = &r.payload {
                if let Some(err) = node_error(e) {
                    return Err(err);
                }
            }
        }
        self.answered.store(self.index, Ordering::Relaxed);
        Ok(packet)
    }
}

/// The error that moves a single request's JSON-RPC error on to the next URL, if it should.
fn node_error(e: &ErrorPayload) -> Option<TransportError> {
    if is_deterministic(e.code, &e.message) {
        None
    } else if e.code == METHOD_NOT_FOUND || e.is_retry_err() {
        // Next URL; retried later only when rate limited.
        Some(AlloyRpcError::ErrorResp(e.clone()))
    } else {
        Some(TransportErrorKind::custom(NodeError {
            code: e.code,
            message: e.message.to_string(),
        }))
    }
}

impl tower::Service<RequestPacket> for UrlTransport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(req))
    }
}

/// What alloy's retry layer retries: transport trouble of every kind (unreachable, timeouts,
/// HTTP 429 and 5xx, node errors), rate limits however the node words them; never an answer
/// about the request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FailoverPolicy;

impl RetryPolicy for FailoverPolicy {
    fn should_retry(&self, error: &TransportError) -> bool {
        match error {
            AlloyRpcError::ErrorResp(p) => p.is_retry_err(),
            AlloyRpcError::Transport(k) => !k.is_non_retryable(),
            AlloyRpcError::DeserError { .. } => true,
            _ => false,
        }
    }

    fn backoff_hint(&self, error: &TransportError) -> Option<Duration> {
        RateLimitRetryPolicy::default().backoff_hint(error)
    }
}

/// The methods alloy's fallback sends to one URL at a time, best ranked first (the others go
/// to every URL at once): every method of the Ethereum JSON-RPC API.
pub(crate) fn sequential_methods() -> HashSet<String> {
    [
        "web3_clientVersion",
        "web3_sha3",
        "net_version",
        "net_listening",
        "net_peerCount",
        "eth_protocolVersion",
        "eth_syncing",
        "eth_coinbase",
        "eth_chainId",
        "eth_mining",
        "eth_hashrate",
        "eth_gasPrice",
        "eth_blobBaseFee",
        "eth_maxPriorityFeePerGas",
        "eth_feeHistory",
        "eth_accounts",
        "eth_blockNumber",
        "eth_getBalance",
        "eth_getStorageAt",
        "eth_getTransactionCount",
        "eth_getBlockTransactionCountByHash",
        "eth_getBlockTransactionCountByNumber",
        "eth_getUncleCountByBlockHash",
        "eth_getUncleCountByBlockNumber",
        "eth_getCode",
        "eth_getProof",
        "eth_sign",
        "eth_signTransaction",
        "eth_sendTransaction",
        "eth_sendRawTransaction",
        "eth_sendRawTransactionSync",
        "eth_sendTransactionSync",
        "eth_call",
        "eth_simulateV1",
        "eth_estimateGas",
        "eth_createAccessList",
        "eth_getBlockByHash",
        "eth_getBlockByNumber",
        "eth_getBlockReceipts",
        "eth_getTransactionByHash",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionReceipt",
        "eth_getUncleByBlockHashAndIndex",
        "eth_getUncleByBlockNumberAndIndex",
        "eth_newFilter",
        "eth_newBlockFilter",
        "eth_newPendingTransactionFilter",
        "eth_uninstallFilter",
        "eth_getFilterChanges",
        "eth_getFilterLogs",
        "eth_getLogs",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(code: i64, message: &str) -> ErrorPayload {
        serde_json::from_value(serde_json::json!({"code": code, "message": message}))
            .expect("payload")
    }

    #[test]
    fn request_errors_stay_node_errors_move_on() {
        assert!(node_error(&payload(3, "execution reverted")).is_none());
        assert!(node_error(&payload(-32000, "nonce too low")).is_none());
        let policy = FailoverPolicy;
        let internal = node_error(&payload(-32603, "internal error")).expect("moves on");
        assert!(policy.should_retry(&internal));
        let missing = node_error(&payload(METHOD_NOT_FOUND, "no such method")).expect("moves on");
        assert!(!policy.should_retry(&missing), "not retried later");
        let limited = node_error(&payload(-32005, "limit exceeded")).expect("moves on");
        assert!(policy.should_retry(&limited));
        assert!(!policy.should_retry(&AlloyRpcError::ErrorResp(payload(3, "reverted"))));
    }
}

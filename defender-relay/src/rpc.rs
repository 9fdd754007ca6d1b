//! Chain access on alloy's own stack: its RPC client over its retry layer
//! (`RetryBackoffLayer`) over its fallback layer (`FallbackLayer`), over one HTTP transport per
//! URL of a network.

mod transport;

use alloy::network::Network;
use alloy::providers::RootProvider;
use alloy::rpc::client::{ClientBuilder, RpcClient as AlloyClient};
use alloy::transports::layers::{FallbackLayer, RetryBackoffLayer};
use alloy::transports::{RpcError as AlloyRpcError, TransportError};
use serde_json::Value;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;
use transport::{FailoverPolicy, NodeError, UrlTransport};

pub(crate) use transport::is_deterministic;

/// Errors of the JSON-RPC client.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// No configured URL answered (unreachable, timed out, HTTP 429 or 5xx, node errors), after
    /// the retries.
    #[error("transport error: {0}")]
    Transport(String),
    /// The node answered with a JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// Error code.
        code: i64,
        /// Error message.
        message: String,
        /// Extra data.
        data: Option<Value>,
    },
    /// The answer was not JSON-RPC, or not of the expected shape.
    #[error("bad JSON-RPC answer: {0}")]
    Decode(String),
    /// No URL is configured, or one is not a URL this client serves.
    #[error("bad RPC URL configuration: {0}")]
    Configuration(String),
}

impl RpcError {
    /// Whether this JSON-RPC error is a deterministic answer about the request itself (a
    /// revert, a nonce or funds problem, bad params), which another node would give too.
    pub fn is_deterministic(&self) -> bool {
        match self {
            RpcError::Rpc { code, message, .. } => is_deterministic(*code, message),
            _ => false,
        }
    }

    /// The message of a JSON-RPC error, lower-cased; empty for other errors.
    pub fn rpc_message(&self) -> String {
        match self {
            RpcError::Rpc { message, .. } => message.to_ascii_lowercase(),
            _ => String::new(),
        }
    }
}

impl From<TransportError> for RpcError {
    fn from(e: TransportError) -> Self {
        match e {
            AlloyRpcError::ErrorResp(p) => RpcError::Rpc {
                code: p.code,
                message: p.message.to_string(),
                data: p
                    .data
                    .as_deref()
                    .and_then(|d| serde_json::from_str(d.get()).ok()),
            },
            AlloyRpcError::Transport(k) => {
                match k.as_custom().and_then(|c| c.downcast_ref::<NodeError>()) {
                    Some(n) => RpcError::Rpc {
                        code: n.code,
                        message: n.message.clone(),
                        data: None,
                    },
                    None => RpcError::Transport(k.to_string()),
                }
            }
            AlloyRpcError::DeserError { err, .. } => RpcError::Decode(err.to_string()),
            AlloyRpcError::NullResp => RpcError::Decode("null answer".into()),
            other => RpcError::Decode(other.to_string()),
        }
    }
}

/// Retry and failover settings.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Passes over every URL before giving up (at least 1).
    pub rounds: u32,
    /// Wait before another pass (a rate-limited node's own hint wins).
    pub backoff: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            rounds: 3,
            backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(20),
        }
    }
}

/// A JSON-RPC client over several HTTP URLs of the same network, on alloy's RPC client.
///
/// Alloy's `FallbackLayer` sends a request to the best-ranked URL first (in configured order
/// until answers rank them) and moves on to the next on a transport error, an HTTP 429 or 5xx,
/// or a JSON-RPC error of the node rather than of the request; a deterministic answer (a
/// revert, a nonce or funds problem) is returned at once. Alloy's `RetryBackoffLayer` makes
/// another pass after [`RetryConfig::backoff`] (or the node's rate-limit hint), up to
/// [`RetryConfig::rounds`] passes. A dead URL is only ranked down, never dropped. Methods
/// outside the Ethereum JSON-RPC API are sent to every URL at once; the first answer wins.
#[derive(Debug, Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    urls: Vec<String>,
    client: AlloyClient,
    answered: Arc<AtomicUsize>,
}

impl RpcClient {
    /// A client over `urls` (`http://` or `https://`), preferred in order.
    pub fn new(urls: Vec<String>, retry: RetryConfig) -> Result<Self, RpcError> {
        let Some(count) = NonZeroUsize::new(urls.len()) else {
            return Err(RpcError::Configuration("no RPC URL".into()));
        };
        if let Some(bad) = urls
            .iter()
            .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(RpcError::Configuration(format!(
                "{bad} is not an http(s) URL (WebSocket URLs are for `WsBlockSource`)"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(retry.request_timeout)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| RpcError::Configuration(e.to_string()))?;
        let answered = Arc::new(AtomicUsize::new(0));
        let transports: Vec<UrlTransport> = urls
            .iter()
            .enumerate()
            .map(|(index, url)| UrlTransport {
                index,
                url: url.clone(),
                http: http.clone(),
                answered: answered.clone(),
            })
            .collect();
        let fallback = FallbackLayer::default()
            .with_active_transport_count(count)
            .with_sequential_methods(transport::sequential_methods())
            .layer(transports);
        let backoff_ms = u64::try_from(retry.backoff.as_millis()).unwrap_or(u64::MAX);
        let retry_layer = RetryBackoffLayer::new_with_policy(
            retry.rounds.max(1) - 1,
            backoff_ms,
            // No compute-unit budget: only failures slow requests down.
            u64::MAX,
            FailoverPolicy,
        );
        let is_local = urls.iter().all(alloy::transports::utils::guess_local_url);
        let client = ClientBuilder::default()
            .layer(retry_layer)
            .transport(fallback, is_local);
        Ok(RpcClient {
            inner: Arc::new(Inner {
                urls,
                client,
                answered,
            }),
        })
    }

    /// The configured URLs.
    pub fn urls(&self) -> &[String] {
        &self.inner.urls
    }

    /// The URL that answered last (the first configured one before any answer).
    pub fn preferred_url(&self) -> &str {
        let i = self.inner.answered.load(Ordering::Relaxed) % self.inner.urls.len();
        &self.inner.urls[i]
    }

    /// Alloy's RPC client under this one, with its layers.
    pub fn client(&self) -> &AlloyClient {
        &self.inner.client
    }

    /// An alloy provider over this client (`alloy::network::Ethereum`, or `AnyNetwork` for
    /// chains with transaction types of their own).
    pub fn provider<N: Network>(&self) -> RootProvider<N> {
        RootProvider::new(self.inner.client.clone())
    }

    /// Sends one request and returns its `result`.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.inner
            .client
            .request::<_, Value>(method.to_string(), params)
            .await
            .map_err(RpcError::from)
    }

    /// Sends several requests in one JSON-RPC batch; each gets its own result, in order.
    ///
    /// The batch as a whole fails over like a single request; a JSON-RPC error of one item is
    /// returned in its place.
    pub async fn batch(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = self.inner.client.new_batch();
        let mut waiters = Vec::with_capacity(calls.len());
        for (method, params) in calls {
            waiters.push(batch.add_call::<_, Value>(method.to_string(), params)?);
        }
        batch.send().await?;
        let mut out = Vec::with_capacity(waiters.len());
        for w in waiters {
            out.push(w.await.map_err(RpcError::from));
        }
        Ok(out)
    }
}

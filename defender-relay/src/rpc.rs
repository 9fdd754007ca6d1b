//! A small JSON-RPC client over HTTP with several URLs per network: retries with exponential
//! backoff and jitter, failover, and batched requests.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Errors of the JSON-RPC client.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The node could not be reached, timed out, or answered with a failing HTTP status.
    #[error("transport error from {url}: {message}")]
    Transport {
        /// The URL that failed.
        url: String,
        /// What happened.
        message: String,
    },
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
    /// The answer was not JSON-RPC.
    #[error("bad JSON-RPC answer: {0}")]
    Decode(String),
    /// No URL is configured.
    #[error("no RPC URL configured")]
    NoUrls,
}

impl RpcError {
    /// Whether this JSON-RPC error is a deterministic answer about the request itself (a
    /// revert, a nonce or funds problem, bad params), which another node would give too.
    pub fn is_deterministic(&self) -> bool {
        match self {
            RpcError::Rpc { code, message, .. } => {
                let m = message.to_ascii_lowercase();
                *code == 3
                    || *code == -32602
                    || [
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
                    ]
                    .iter()
                    .any(|p| m.contains(p))
            }
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

/// Retry and failover settings.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Full passes over every URL before giving up (at least 1).
    pub rounds: u32,
    /// Backoff after the first failed pass; doubled after each further pass.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            rounds: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
        }
    }
}

/// A JSON-RPC client over several URLs of the same network.
///
/// A request goes to the preferred URL; on a transport error, an HTTP 429 or 5xx, or a
/// non-deterministic JSON-RPC error answered with HTTP 200, the next URL becomes preferred and
/// the request is tried there. After a pass over every URL fails, the client waits with
/// exponential backoff and jitter and tries again, up to [`RetryConfig::rounds`] passes. A dead
/// URL is only skipped, never dropped: it is tried again when the others fail.
#[derive(Debug, Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    urls: Vec<String>,
    http: reqwest::Client,
    retry: RetryConfig,
    preferred: AtomicUsize,
    next_id: AtomicU64,
}

enum Attempt {
    Ok(Value),
    /// Try the next URL.
    Failover(RpcError),
    /// Give up at once.
    Fatal(RpcError),
}

impl RpcClient {
    /// A client over `urls`, tried in order.
    pub fn new(urls: Vec<String>, retry: RetryConfig) -> Result<Self, RpcError> {
        if urls.is_empty() {
            return Err(RpcError::NoUrls);
        }
        let http = reqwest::Client::builder()
            .timeout(retry.request_timeout)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| RpcError::Transport {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(RpcClient {
            inner: Arc::new(Inner {
                urls,
                http,
                retry,
                preferred: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
            }),
        })
    }

    /// The configured URLs.
    pub fn urls(&self) -> &[String] {
        &self.inner.urls
    }

    /// The URL requests currently go to first.
    pub fn preferred_url(&self) -> &str {
        let i = self.inner.preferred.load(Ordering::Relaxed) % self.inner.urls.len();
        &self.inner.urls[i]
    }

    /// Sends one request and returns its `result`.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.with_failover(&body, |v| single_result(v, id)).await
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
        let first = self
            .inner
            .next_id
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let body = Value::Array(
            calls
                .iter()
                .enumerate()
                .map(|(i, (m, p))| {
                    json!({"jsonrpc": "2.0", "id": first + i as u64, "method": m, "params": p})
                })
                .collect(),
        );
        let n = calls.len();
        let answer = self
            .with_failover(&body, |v| match v {
                Value::Array(items) => Attempt::Ok(Value::Array(items)),
                other => match error_of(&other) {
                    Some(e) => classify(e),
                    None => Attempt::Fatal(RpcError::Decode("batch answer is not an array".into())),
                },
            })
            .await?;
        let Value::Array(items) = answer else {
            return Err(RpcError::Decode("batch answer is not an array".into()));
        };
        let mut out: Vec<Option<Result<Value, RpcError>>> = vec![None; n];
        for item in items {
            let Some(id) = item.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let Some(slot) = id.checked_sub(first).and_then(|i| out.get_mut(i as usize)) else {
                continue;
            };
            *slot = Some(match error_of(&item) {
                Some(e) => Err(e),
                None => Ok(item.get("result").cloned().unwrap_or(Value::Null)),
            });
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(RpcError::Decode("batch item missing".into()))))
            .collect())
    }

    async fn with_failover(
        &self,
        body: &Value,
        check: impl Fn(Value) -> Attempt,
    ) -> Result<Value, RpcError> {
        let inner = &self.inner;
        let n = inner.urls.len();
        let mut last = RpcError::NoUrls;
        let rounds = inner.retry.rounds.max(1);
        for round in 0..rounds {
            if round > 0 {
                let base = inner
                    .retry
                    .initial_backoff
                    .saturating_mul(1u32 << (round - 1).min(16))
                    .min(inner.retry.max_backoff);
                // Full jitter between half and all of the backoff.
                let jitter = base.mul_f64(0.5 + fastrand::f64() * 0.5);
                tokio::time::sleep(jitter).await;
            }
            let start = inner.preferred.load(Ordering::Relaxed) % n;
            for k in 0..n {
                let i = (start + k) % n;
                let url = &inner.urls[i];
                let attempt = match self.post(url, body).await {
                    Ok(v) => check(v),
                    Err(e) => Attempt::Failover(e),
                };
                match attempt {
                    Attempt::Ok(v) => return Ok(v),
                    Attempt::Fatal(e) => return Err(e),
                    Attempt::Failover(e) => {
                        tracing::debug!(url = %url, error = %e, "RPC failover");
                        // Move the preference past the failing URL (only if nobody else did).
                        let _ = inner.preferred.compare_exchange(
                            i,
                            (i + 1) % n,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                        last = e;
                    }
                }
            }
        }
        Err(last)
    }

    async fn post(&self, url: &str, body: &Value) -> Result<Value, RpcError> {
        let transport = |message: String| RpcError::Transport {
            url: url.to_string(),
            message,
        };
        let bytes = serde_json::to_vec(body).map_err(|e| RpcError::Decode(e.to_string()))?;
        let resp = self
            .inner
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(|e| transport(e.to_string()))?;
        let status = resp.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(transport(format!("HTTP {status}")));
        }
        let text = resp.bytes().await.map_err(|e| transport(e.to_string()))?;
        if !status.is_success() {
            // Some nodes answer JSON-RPC errors with 4xx; use the body when it is JSON-RPC.
            if let Ok(v) = serde_json::from_slice::<Value>(&text) {
                if v.get("error").is_some() || v.is_array() {
                    return Ok(v);
                }
            }
            return Err(transport(format!("HTTP {status}")));
        }
        serde_json::from_slice(&text).map_err(|e| transport(format!("invalid JSON: {e}")))
    }
}

fn error_of(v: &Value) -> Option<RpcError> {
    let e = v.get("error")?;
    if e.is_null() {
        return None;
    }
    Some(RpcError::Rpc {
        code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
        message: e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        data: e.get("data").cloned(),
    })
}

fn classify(e: RpcError) -> Attempt {
    if e.is_deterministic() {
        Attempt::Fatal(e)
    } else {
        Attempt::Failover(e)
    }
}

fn single_result(v: Value, _id: u64) -> Attempt {
    if let Some(e) = error_of(&v) {
        return classify(e);
    }
    match v.get("result") {
        Some(r) => Attempt::Ok(r.clone()),
        None => Attempt::Failover(RpcError::Decode("answer without result".into())),
    }
}

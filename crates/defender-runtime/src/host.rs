//! Host operations that scripts reach through promises: key-value store, relayer,
//! notifications and `fetch`. They run on the tokio runtime, never on the script's thread.

use base64::Engine as _;
use defender_core::{
    ListTransactionsQuery, Message, Metric, NotifyError, RelayerError, RunServices,
    SignMessagePayload, SignTypedDataPayload, TxRequest,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Error codes that user code sees on `error.code`, and that map to run error types.
pub(crate) const INSUFFICIENT_FUNDS: &str = "INSUFFICIENT_FUNDS";
pub(crate) const RELAYER_CONFIGURATION: &str = "RELAYER_CONFIGURATION";

/// A failed host operation, as the script's `Error` receives it.
#[derive(Debug)]
pub(crate) struct OpError {
    pub(crate) code: Value,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl OpError {
    fn new(code: impl Into<Value>, message: impl Into<String>) -> Self {
        OpError {
            code: code.into(),
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn to_json(&self) -> String {
        json!({ "code": self.code, "message": self.message, "data": self.data }).to_string()
    }
}

impl From<RelayerError> for OpError {
    fn from(e: RelayerError) -> Self {
        let message = e.to_string();
        match e {
            RelayerError::InsufficientFunds { .. } => OpError::new(INSUFFICIENT_FUNDS, message),
            RelayerError::Configuration(_) => OpError::new(RELAYER_CONFIGURATION, message),
            RelayerError::Rpc {
                code,
                message,
                data,
            } => OpError {
                code: code.into(),
                message,
                data,
            },
            RelayerError::Invalid(_) => OpError::new("INVALID_REQUEST", message),
            RelayerError::NotFound(_) => OpError::new("NOT_FOUND", message),
            RelayerError::Policy(_) => OpError::new("POLICY_VIOLATION", message),
            RelayerError::NotReplaceable { .. } => OpError::new("NOT_REPLACEABLE", message),
            _ => OpError::new("RELAYER_ERROR", message),
        }
    }
}

/// Which hosts `fetch` may reach.
#[derive(Clone, Debug, Default)]
pub(crate) struct FetchPolicy {
    pub(crate) allowed: Vec<String>,
    pub(crate) client: Option<reqwest::Client>,
}

impl FetchPolicy {
    /// Whether `url` is allowed: its `host` or `host:port` is in the list, or matches a
    /// `*.suffix` entry.
    pub(crate) fn allows(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}"));
        self.allowed.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            if let Some(suffix) = a.strip_prefix("*.") {
                host.ends_with(&format!(".{suffix}"))
            } else {
                a == host || Some(&a) == with_port.as_ref()
            }
        })
    }
}

/// Largest `fetch` response body the script receives.
const MAX_FETCH_BODY: usize = 10 * 1024 * 1024;

fn arg<T: DeserializeOwned>(v: Value) -> Result<T, OpError> {
    serde_json::from_value(v).map_err(|e| OpError::new("INVALID_ARGUMENT", e.to_string()))
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, OpError> {
    serde_json::to_value(v).map_err(|e| OpError::new("INTERNAL", e.to_string()))
}

#[derive(Deserialize)]
struct Key {
    key: String,
}

#[derive(Deserialize)]
struct Put {
    key: String,
    value: String,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Replace {
    id: Option<String>,
    nonce: Option<u64>,
    tx: TxRequest,
}

#[derive(Deserialize)]
struct Call {
    method: String,
    #[serde(default)]
    params: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notify {
    channel_alias: Option<String>,
    subject: Option<String>,
    message: Option<Value>,
    name: Option<String>,
    value: Option<f64>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct FetchArgs {
    url: String,
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

fn notify_error(e: NotifyError) -> OpError {
    OpError::new("NOTIFICATION_ERROR", e.to_string())
}

/// Runs one host operation. `logs` receives lines to add to the run's log (delivery failures).
pub(crate) async fn dispatch(
    op: &str,
    arg_value: Value,
    services: &RunServices,
    fetch: &FetchPolicy,
) -> Result<(Value, Vec<String>), OpError> {
    let done = |v: Value| Ok((v, Vec::new()));
    if let Some(method) = op.strip_prefix("relayer.") {
        let relayer = services.relayer.as_ref().ok_or_else(|| {
            OpError::new(
                RELAYER_CONFIGURATION,
                "this action is not connected to a relayer",
            )
        })?;
        let v = match method {
            "sendTransaction" => to_json(relayer.send_transaction(arg(arg_value)?).await?)?,
            "getTransaction" => to_json(relayer.get_transaction(&arg::<Id>(arg_value)?.id).await?)?,
            "listTransactions" => {
                let q: ListTransactionsQuery = arg(arg_value)?;
                to_json(relayer.list_transactions(q).await?)?
            }
            "replaceTransactionById" => {
                let r: Replace = arg(arg_value)?;
                let id = r.id.unwrap_or_default();
                to_json(relayer.replace_transaction_by_id(&id, r.tx).await?)?
            }
            "replaceTransactionByNonce" => {
                let r: Replace = arg(arg_value)?;
                let nonce = r
                    .nonce
                    .ok_or_else(|| OpError::new("INVALID_ARGUMENT", "nonce is required"))?;
                to_json(relayer.replace_transaction_by_nonce(nonce, r.tx).await?)?
            }
            "cancelTransactionById" => to_json(
                relayer
                    .cancel_transaction_by_id(&arg::<Id>(arg_value)?.id)
                    .await?,
            )?,
            "getRelayer" => to_json(relayer.get_relayer().await?)?,
            "getRelayerStatus" => to_json(relayer.get_relayer_status().await?)?,
            "sign" => {
                let p: SignMessagePayload = arg(arg_value)?;
                to_json(relayer.sign(p).await?)?
            }
            "signTypedData" => {
                let p: SignTypedDataPayload = arg(arg_value)?;
                to_json(relayer.sign_typed_data(p).await?)?
            }
            "call" => {
                let c: Call = arg(arg_value)?;
                let params = if c.params.is_null() {
                    Value::Array(vec![])
                } else {
                    c.params
                };
                relayer.call(&c.method, params).await?
            }
            other => {
                return Err(OpError::new(
                    "INVALID_ARGUMENT",
                    format!("unknown relayer method {other}"),
                ))
            }
        };
        return done(v);
    }
    match op {
        "kv.get" => {
            let k: Key = arg(arg_value)?;
            let v = services
                .kv
                .get(&k.key)
                .await
                .map_err(|e| OpError::new("KVSTORE_ERROR", e.to_string()))?;
            done(v.map(Value::String).unwrap_or(Value::Null))
        }
        "kv.put" => {
            let p: Put = arg(arg_value)?;
            services
                .kv
                .put(&p.key, &p.value)
                .await
                .map_err(|e| OpError::new("KVSTORE_ERROR", e.to_string()))?;
            done(Value::Null)
        }
        "kv.del" => {
            let k: Key = arg(arg_value)?;
            services
                .kv
                .del(&k.key)
                .await
                .map_err(|e| OpError::new("KVSTORE_ERROR", e.to_string()))?;
            done(Value::Null)
        }
        "notify.send" | "notify.sendMetric" => {
            let n: Notify = arg(arg_value)?;
            let alias = n
                .channel_alias
                .ok_or_else(|| OpError::new("INVALID_ARGUMENT", "channelAlias is required"))?;
            let report = if op == "notify.send" {
                let body = match n.message {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let message = Message::new(n.subject.unwrap_or_default(), body);
                services.notifiers.send(&alias, &message).await
            } else {
                let metric = Metric {
                    name: n
                        .name
                        .ok_or_else(|| OpError::new("INVALID_ARGUMENT", "name is required"))?,
                    value: n
                        .value
                        .ok_or_else(|| OpError::new("INVALID_ARGUMENT", "value is required"))?,
                    tags: n.tags.unwrap_or_default().into_iter().collect(),
                };
                services.notifiers.send_metric(&alias, &metric).await
            }
            .map_err(notify_error)?;
            // As Defender: delivery failures are logged, not thrown.
            let lines = report
                .failures()
                .map(|(kind, e)| format!("notification to {kind} channel `{alias}` failed: {e}"))
                .collect();
            Ok((Value::Null, lines))
        }
        "fetch" => fetch_op(arg(arg_value)?, fetch)
            .await
            .map(|v| (v, Vec::new())),
        other => Err(OpError::new(
            "INVALID_ARGUMENT",
            format!("unknown host operation {other}"),
        )),
    }
}

async fn fetch_op(a: FetchArgs, policy: &FetchPolicy) -> Result<Value, OpError> {
    let url =
        reqwest::Url::parse(&a.url).map_err(|e| OpError::new("INVALID_URL", e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || !policy.allows(&url) {
        return Err(OpError::new(
            "FETCH_NOT_ALLOWED",
            format!(
                "fetch to {} is not allowed by the runtime's allowlist",
                url.host_str().unwrap_or("")
            ),
        ));
    }
    let client = policy
        .client
        .as_ref()
        .ok_or_else(|| OpError::new("FETCH_NOT_ALLOWED", "fetch is disabled"))?;
    let method = reqwest::Method::from_bytes(a.method.as_bytes())
        .map_err(|e| OpError::new("INVALID_ARGUMENT", e.to_string()))?;
    let mut req = client.request(method, url.clone());
    for (k, v) in &a.headers {
        req = req.header(k, v);
    }
    if let Some(b) = a.body {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| OpError::new("INVALID_ARGUMENT", e.to_string()))?;
        req = req.body(bytes);
    }
    let mut res = req
        .send()
        .await
        .map_err(|e| OpError::new("FETCH_ERROR", e.to_string()))?;
    let status = res.status();
    let mut headers = BTreeMap::new();
    for (k, v) in res.headers() {
        headers.insert(
            k.as_str().to_owned(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        );
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| OpError::new("FETCH_ERROR", e.to_string()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_FETCH_BODY {
            return Err(OpError::new(
                "FETCH_ERROR",
                format!("response body over {MAX_FETCH_BODY} bytes"),
            ));
        }
    }
    Ok(json!({
        "status": status.as_u16(),
        "statusText": status.canonical_reason().unwrap_or(""),
        "headers": headers,
        "url": url.as_str(),
        "body": base64::engine::general_purpose::STANDARD.encode(body),
    }))
}

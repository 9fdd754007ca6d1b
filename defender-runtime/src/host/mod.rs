//! Host operations that scripts reach through promises: key-value store, relayer,
//! notifications, [`fetch`] and the engine's management API ([`manage`]). They run on the
//! tokio runtime, never on the script's thread.

mod fetch;
mod manage;

use defender_core::{
    ListTransactionsQuery, Message, Metric, NotifyError, RelayerError, RunServices,
    SignMessagePayload, SignTypedDataPayload, TxRequest,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::alloc::Budget;
pub(crate) use crate::net::FetchPolicy;
use defender_core::redact::Redactor;

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
    pub(crate) fn new(code: impl Into<Value>, message: impl Into<String>) -> Self {
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

/// What a host operation of one run may use, and what it answers to.
pub(crate) struct OpContext {
    pub(crate) services: Arc<RunServices>,
    pub(crate) fetch: Arc<FetchPolicy>,
    /// Memory the operation holds for the run is charged here.
    pub(crate) budget: Budget,
    /// Notifications the action sends leave the run: they are redacted like its logs.
    pub(crate) redactor: Redactor,
}

impl OpError {
    /// The error of an operation called with an argument it cannot use.
    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        OpError::new("INVALID_ARGUMENT", message)
    }

    /// The error of an operation whose memory did not fit in the run's limit (the run ends
    /// as out of memory).
    pub(crate) fn out_of_memory() -> Self {
        OpError::new("MEMORY_LIMIT", "the run's memory limit was reached")
    }
}

/// The argument of an operation, as its type.
fn arg<T: DeserializeOwned>(v: Value) -> Result<T, OpError> {
    serde_json::from_value(v).map_err(|e| OpError::invalid_argument(e.to_string()))
}

/// An operation's answer as JSON.
fn to_json<T: serde::Serialize>(v: T) -> Result<Value, OpError> {
    serde_json::to_value(v).map_err(|e| OpError::new("INTERNAL", e.to_string()))
}

/// A relayer operation: the credentials the action gave its client (`None`: the action's
/// event, so its linked relayer) and the operation's argument.
#[derive(Deserialize)]
struct RelayerCall {
    credentials: Option<Credentials>,
    #[serde(default)]
    arg: Value,
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(rename = "apiKey")]
    api_key: String,
    #[serde(rename = "apiSecret")]
    api_secret: String,
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

fn notify_error(e: NotifyError) -> OpError {
    OpError::new("NOTIFICATION_ERROR", e.to_string())
}

/// Runs one host operation. `logs` receives lines to add to the run's log (delivery failures).
pub(crate) async fn dispatch(
    op: &str,
    arg_value: Value,
    ctx: &OpContext,
) -> Result<(Value, Vec<String>), OpError> {
    let services = &*ctx.services;
    let done = |v: Value| Ok((v, Vec::new()));
    if let Some(method) = op.strip_prefix("manage.") {
        return manage::dispatch(method, arg_value, services)
            .await
            .and_then(done);
    }
    if let Some(method) = op.strip_prefix("relayer.") {
        let call: RelayerCall = arg(arg_value)?;
        let arg_value = call.arg;
        let relayer = match &call.credentials {
            // Credentials reach the relayer configured for them, or nothing: never the linked
            // relayer, which would move another account's funds.
            Some(c) => services
                .relayer_keys
                .get(&c.api_key, &c.api_secret)
                .ok_or_else(|| {
                    OpError::new(
                        RELAYER_CONFIGURATION,
                        format!(
                            "no relayer is configured for API key `{}` with this secret",
                            c.api_key
                        ),
                    )
                })?,
            None => services.relayer.as_ref().ok_or_else(|| {
                OpError::new(
                    RELAYER_CONFIGURATION,
                    "this action is not connected to a relayer",
                )
            })?,
        };
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
                let r = &ctx.redactor;
                let message =
                    Message::new(r.redact(&n.subject.unwrap_or_default()), r.redact(&body));
                services.notifiers.send(&alias, &message).await
            } else {
                let r = &ctx.redactor;
                let metric = Metric {
                    name: r.redact(
                        &n.name
                            .ok_or_else(|| OpError::new("INVALID_ARGUMENT", "name is required"))?,
                    ),
                    value: n
                        .value
                        .ok_or_else(|| OpError::new("INVALID_ARGUMENT", "value is required"))?,
                    tags: n
                        .tags
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (r.redact(&k), r.redact(&v)))
                        .collect(),
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
        "fetch" => fetch::fetch(arg(arg_value)?, &ctx.fetch, &ctx.budget)
            .await
            .map(|v| (v, Vec::new())),
        other => Err(OpError::new(
            "INVALID_ARGUMENT",
            format!("unknown host operation {other}"),
        )),
    }
}

//! The action event, runs and the webhook response.

use super::iso8601;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What started a run. Serializes to Defender's names; the legacy `sentinel` names are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// An interval or cron schedule.
    Schedule,
    /// An HTTP POST to the action's webhook URL.
    Webhook,
    /// A monitor match (`request.body` is the match).
    #[serde(alias = "sentinel")]
    Monitor,
    /// A monitor's custom filter (`request.body` is `{ events }`).
    #[serde(alias = "sentinel-filter")]
    MonitorFilter,
    /// Run by hand.
    Manual,
    /// Run by hand through the API.
    ManualApi,
}

/// The state of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (also what a webhook answers after 25 s).
    Pending,
    /// Not started because a quota or concurrency limit was reached.
    Throttled,
    /// Finished with an error.
    Error,
    /// Finished and returned a value.
    Success,
}

/// Why a run failed, as Defender's `ActionErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorType {
    /// The run exceeded its time limit.
    Timeout,
    /// The relayer could not pay for a transaction.
    InsufficientFunds,
    /// The action used a relayer that is missing or misconfigured.
    RelayerConfiguration,
    /// The host failed, not the user's code.
    Internal,
    /// The user's code threw, rejected, or broke a limit.
    Program,
}

/// The HTTP request that started a webhook run, or the match that started a monitor run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRequest {
    /// The JSON-parsed POST body, or the monitor match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Only `X-` and `Stripe-` headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// The URL's query parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_parameters: Option<BTreeMap<String, String>>,
}

/// The run before this one, injected into the next event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousRun {
    /// Id of that run.
    pub action_run_id: String,
    /// Id of the action.
    pub action_id: String,
    /// What started it.
    pub trigger: Trigger,
    /// How it ended.
    pub status: RunStatus,
    /// When it started.
    #[serde(with = "iso8601")]
    pub created_at: DateTime<Utc>,
    /// The error message, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The first argument of `handler(event, context)`.
///
/// Serialization always writes both the current (`actionId`) and the legacy (`autotaskId`) names
/// with the same values; deserialization accepts either.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "RawActionEvent")]
pub struct ActionEvent {
    /// The action's id.
    pub action_id: String,
    /// The action's name.
    pub action_name: String,
    /// This run's id.
    pub action_run_id: String,
    /// Legacy name of `actionId`.
    pub autotask_id: String,
    /// Legacy name of `actionName`.
    pub autotask_name: String,
    /// Legacy name of `actionRunId`.
    pub autotask_run_id: String,
    /// Secrets injected into this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<BTreeMap<String, String>>,
    /// Webhook request or monitor match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ActionRequest>,
    /// The run before this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_run: Option<PreviousRun>,
    /// Opaque handle our clients use to find the linked relayer.
    #[serde(
        rename = "relayerARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub relayer_arn: Option<String>,
    /// Opaque handle our clients use to find the key-value store.
    #[serde(
        rename = "kvstoreARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kvstore_arn: Option<String>,
    /// Opaque credentials our clients read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

impl ActionEvent {
    /// An event for one run, with the legacy names filled in.
    pub fn new(
        action_id: impl Into<String>,
        action_name: impl Into<String>,
        run_id: impl Into<String>,
    ) -> Self {
        let (id, name, run) = (action_id.into(), action_name.into(), run_id.into());
        ActionEvent {
            autotask_id: id.clone(),
            autotask_name: name.clone(),
            autotask_run_id: run.clone(),
            action_id: id,
            action_name: name,
            action_run_id: run,
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawActionEvent {
    action_id: Option<String>,
    action_name: Option<String>,
    action_run_id: Option<String>,
    autotask_id: Option<String>,
    autotask_name: Option<String>,
    autotask_run_id: Option<String>,
    #[serde(default)]
    secrets: Option<BTreeMap<String, String>>,
    #[serde(default)]
    request: Option<ActionRequest>,
    #[serde(default)]
    previous_run: Option<PreviousRun>,
    #[serde(rename = "relayerARN", default)]
    relayer_arn: Option<String>,
    #[serde(rename = "kvstoreARN", default)]
    kvstore_arn: Option<String>,
    #[serde(default)]
    credentials: Option<String>,
}

impl From<RawActionEvent> for ActionEvent {
    fn from(r: RawActionEvent) -> Self {
        let pick = |a: Option<String>, b: Option<String>| -> String { a.or(b).unwrap_or_default() };
        let id = pick(r.action_id, r.autotask_id);
        let name = pick(r.action_name, r.autotask_name);
        let run = pick(r.action_run_id, r.autotask_run_id);
        ActionEvent {
            secrets: r.secrets,
            request: r.request,
            previous_run: r.previous_run,
            relayer_arn: r.relayer_arn,
            kvstore_arn: r.kvstore_arn,
            credentials: r.credentials,
            ..ActionEvent::new(id, name, run)
        }
    }
}

/// Severity of a captured console line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `console.debug`
    Debug,
    /// `console.log` and `console.info`
    Info,
    /// `console.warn`
    Warn,
    /// `console.error`
    Error,
}

impl LogLevel {
    /// The upper-case label used in encoded logs (`INFO`, `WARN`, ...).
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// One line a run logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Its level.
    pub level: LogLevel,
    /// When it was logged.
    #[serde(with = "iso8601")]
    pub timestamp: DateTime<Utc>,
    /// The formatted message.
    pub message: String,
}

/// Encodes logs as Defender's `encodedLogs`: base64 of one `timestamp\tLEVEL\tmessage` line each.
pub fn encode_logs(logs: &[LogEntry]) -> String {
    let mut text = String::new();
    for l in logs {
        text.push_str(&iso8601::format(&l.timestamp));
        text.push('\t');
        text.push_str(l.level.label());
        text.push('\t');
        text.push_str(&l.message);
        text.push('\n');
    }
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// One entry of an action's run history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The run's id.
    pub action_run_id: String,
    /// The action's id.
    pub action_id: String,
    /// What started it.
    pub trigger: Trigger,
    /// Its state.
    pub status: RunStatus,
    /// When it started.
    #[serde(with = "iso8601")]
    pub created_at: DateTime<Utc>,
    /// When it ended.
    #[serde(
        default,
        with = "iso8601::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<DateTime<Utc>>,
    /// The JSON-serialized return value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The error's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<ErrorType>,
    /// Base64 logs, as [`encode_logs`] writes them.
    #[serde(default)]
    pub encoded_logs: String,
    /// The request id (the webhook caller's handle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl RunRecord {
    /// The `previousRun` that the next event of the same action carries.
    pub fn to_previous_run(&self) -> PreviousRun {
        PreviousRun {
            action_run_id: self.action_run_id.clone(),
            action_id: self.action_id.clone(),
            trigger: self.trigger,
            status: self.status,
            created_at: self.created_at,
            message: self.message.clone(),
        }
    }

    /// The body a webhook caller receives for this run.
    pub fn to_webhook_response(&self) -> WebhookResponse {
        WebhookResponse {
            autotask_run_id: self.action_run_id.clone(),
            autotask_id: self.action_id.clone(),
            trigger: Trigger::Webhook,
            status: self.status,
            created_at: self.created_at,
            encoded_logs: (self.status != RunStatus::Pending).then(|| self.encoded_logs.clone()),
            result: self.result.clone(),
            message: self.message.clone(),
            request_id: self.request_id.clone().unwrap_or_default(),
        }
    }
}

/// The HTTP body a webhook caller receives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResponse {
    /// The run's id.
    pub autotask_run_id: String,
    /// The action's id.
    pub autotask_id: String,
    /// Always `webhook`.
    pub trigger: Trigger,
    /// `success`, `error` or `pending`.
    pub status: RunStatus,
    /// When the run started.
    #[serde(with = "iso8601")]
    pub created_at: DateTime<Utc>,
    /// Base64 logs (absent while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_logs: Option<String>,
    /// The JSON-serialized return value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The error message, on error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The request's id.
    pub request_id: String,
}

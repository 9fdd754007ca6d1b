//! Host operations `manage.*`: what the management clients of js/clients.js reach (the
//! defender-sdk's `action`, `monitor` and `notificationChannel` clients, the legacy autotask,
//! sentinel and admin clients), through the run's [`ManageApi`](defender_core::ManageApi).
//!
//! The JavaScript side shapes the answers for each client (`actionId` or `autotaskId`...);
//! these operations answer the engine's neutral shapes.

use super::{arg, to_json, OpError};
use base64::Engine as _;
use defender_core::{DynManageApi, ManageError, RunRecord, RunServices};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Longest id (of an action, monitor or channel) an operation accepts.
const MAX_ID_BYTES: usize = 256;

/// Longest team API key or secret looked at.
const MAX_KEY_BYTES: usize = 1024;

/// One operation: the team key the client was built with (`None`: built with the action's
/// event) and the operation's argument.
#[derive(Deserialize)]
struct ManageCall {
    credentials: Option<TeamKey>,
    #[serde(default)]
    arg: Value,
}

#[derive(Deserialize)]
struct TeamKey {
    #[serde(rename = "apiKey")]
    api_key: Option<String>,
    #[serde(rename = "apiSecret")]
    api_secret: Option<String>,
}

#[derive(Deserialize)]
struct IdArg {
    id: String,
}

#[derive(Deserialize)]
struct RunArg {
    id: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct PauseArg {
    id: String,
    paused: bool,
}

impl From<ManageError> for OpError {
    fn from(e: ManageError) -> Self {
        let mut err = OpError::new(e.code(), e.to_string());
        // Defender's clients threw axios-like errors: the status is on `error.response`.
        err.data = Some(json!({ "status": e.http_status() }));
        err
    }
}

fn checked_id(id: String) -> Result<String, OpError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(OpError::invalid_argument(format!(
            "an id must have 1 to {MAX_ID_BYTES} bytes"
        )));
    }
    Ok(id)
}

/// The management API the call may use: the run's, when the client was built with the event
/// or with a team key the engine knows; never with an unknown key.
fn api<'a>(
    services: &'a RunServices,
    credentials: Option<&TeamKey>,
) -> Result<&'a Arc<DynManageApi>, OpError> {
    let api = services.manage.as_ref().ok_or_else(|| {
        OpError::new(
            "NOT_AVAILABLE",
            "not available: this run has no management API (the runtime runs without an engine)",
        )
    })?;
    if let Some(c) = credentials {
        let (Some(key), Some(secret)) = (&c.api_key, &c.api_secret) else {
            return Err(ManageError::Unauthorized("API key and secret are required".into()).into());
        };
        if key.len() > MAX_KEY_BYTES
            || secret.len() > MAX_KEY_BYTES
            || !api.check_team_key(key, secret)
        {
            return Err(ManageError::Unauthorized(format!(
                "API key `{}` with this secret is not a team API key of this engine",
                key.chars().take(64).collect::<String>()
            ))
            .into());
        }
    }
    Ok(api)
}

/// A run's record as Defender's `ActionRunResponse`: the record's fields, with its logs
/// decoded (`decodedLogs`) as Defender's external API returned them.
fn run_response(record: RunRecord) -> Result<Value, OpError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&record.encoded_logs)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut v = to_json(record)?;
    if let Some(o) = v.as_object_mut() {
        o.remove("encodedLogs");
        o.insert("decodedLogs".into(), Value::String(decoded));
    }
    Ok(v)
}

/// Runs `manage.<method>`.
pub(crate) async fn dispatch(
    method: &str,
    arg_value: Value,
    services: &RunServices,
) -> Result<Value, OpError> {
    let call: ManageCall = arg(arg_value)?;
    let api = api(services, call.credentials.as_ref())?;
    let a = call.arg;
    match method {
        "listActions" => to_json(api.list_actions().await?),
        "getAction" => to_json(api.get_action(&checked_id(arg::<IdArg>(a)?.id)?).await?),
        "runAction" => {
            let r: RunArg = arg(a)?;
            let data = if r.data.is_null() { json!({}) } else { r.data };
            run_response(api.run_action(&checked_id(r.id)?, data).await?)
        }
        "setActionPaused" => {
            let p: PauseArg = arg(a)?;
            to_json(api.set_action_paused(&checked_id(p.id)?, p.paused).await?)
        }
        "listMonitors" => to_json(api.list_monitors().await?),
        "getMonitor" => to_json(api.get_monitor(&checked_id(arg::<IdArg>(a)?.id)?).await?),
        "setMonitorPaused" => {
            let p: PauseArg = arg(a)?;
            to_json(api.set_monitor_paused(&checked_id(p.id)?, p.paused).await?)
        }
        "listChannels" => to_json(api.list_channels().await?),
        "getChannel" => to_json(api.get_channel(&checked_id(arg::<IdArg>(a)?.id)?).await?),
        other => Err(OpError::invalid_argument(format!(
            "unknown management operation {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_response_decodes_logs() {
        let record = RunRecord {
            action_run_id: "r".into(),
            action_id: "a".into(),
            trigger: defender_core::Trigger::ManualApi,
            status: defender_core::RunStatus::Success,
            created_at: chrono::Utc::now(),
            finished_at: None,
            result: Some("1".into()),
            message: None,
            error_type: None,
            encoded_logs: defender_core::encode_logs(&[]),
            request_id: None,
        };
        let v = run_response(record).unwrap();
        assert_eq!(v["actionRunId"], "r");
        assert_eq!(v["trigger"], "manual-api");
        assert_eq!(v["decodedLogs"], "");
        assert!(v.get("encodedLogs").is_none());
    }
}

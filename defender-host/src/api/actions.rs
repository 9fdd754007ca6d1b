//! Actions: list, get, run, runs with logs, code, pause.

use super::{ApiError, ApiState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use base64::Engine as _;
use defender_core::state::StateRunStore;
use defender_core::{ActionInfo, CodeSource, RunRecord, RunStore};
use serde::Deserialize;
use serde_json::{json, Value};

/// Most runs one listing returns (the engine keeps 30 per action).
const MAX_LIST: usize = 100;

/// A run record as Defender's API returned it: with `decodedLogs`.
pub(crate) fn run_json(run: &RunRecord) -> Value {
    let mut v = serde_json::to_value(run).unwrap_or(Value::Null);
    let logs = base64::engine::general_purpose::STANDARD
        .decode(&run.encoded_logs)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("decodedLogs".into(), logs.into());
    }
    v
}

pub(super) async fn list(State(s): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let items = s.engine.manage().list_actions().await?;
    Ok(Json(json!({ "items": items })))
}

pub(super) async fn get(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ActionInfo>, ApiError> {
    Ok(Json(s.engine.manage().get_action(&id).await?))
}

/// Runs the action with the body (JSON; empty: `{}`) as `event.request.body` and waits.
pub(super) async fn run(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let data = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?
    };
    let run = s.engine.manage().run_action(&id, data).await?;
    Ok(Json(run_json(&run)))
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    limit: Option<usize>,
}

pub(super) async fn runs(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(30).clamp(1, MAX_LIST);
    let runs = s.engine.runs(&id, limit).await?;
    let items: Vec<Value> = runs.iter().map(run_json).collect();
    Ok(Json(json!({ "items": items, "next": null })))
}

pub(super) async fn run_record(
    State(s): State<ApiState>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = StateRunStore::new(s.engine.state().clone());
    match store.get(&run_id).await {
        Ok(Some(run)) => Ok(Json(run_json(&run))),
        Ok(None) => Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no run `{run_id}`"),
        )),
        Err(e) => Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            e.to_string(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CodeUpdate {
    encoded_zipped_code: Option<String>,
    code: Option<String>,
}

/// Defender's update-code: a base64 zip (`encodedZippedCode`), or one script (`code`).
pub(super) async fn update_code(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Json(u): Json<CodeUpdate>,
) -> Result<Json<Value>, ApiError> {
    let code = match (u.encoded_zipped_code, u.code) {
        (Some(zip), None) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(zip.trim())
                .map_err(|e| ApiError::invalid(format!("encodedZippedCode is not base64: {e}")))?;
            defender_runtime::load_bundle_zip(&bytes)
                .map_err(|e| ApiError::invalid(format!("encodedZippedCode: {e}")))?
        }
        (None, Some(script)) => CodeSource::Script(script),
        _ => {
            return Err(ApiError::invalid(
                "give `encodedZippedCode` (a base64 zip) or `code` (a script)",
            ))
        }
    };
    let version = s.engine.update_code(&id, code)?;
    tracing::info!(action = %id, version, "action code updated");
    Ok(Json(
        json!({ "message": "code updated", "actionId": id, "version": version }),
    ))
}

pub(super) async fn pause(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ActionInfo>, ApiError> {
    let info = s.engine.manage().set_action_paused(&id, true).await?;
    tracing::info!(action = %id, "action paused");
    Ok(Json(info))
}

pub(super) async fn unpause(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ActionInfo>, ApiError> {
    let info = s.engine.manage().set_action_paused(&id, false).await?;
    tracing::info!(action = %id, "action unpaused");
    Ok(Json(info))
}

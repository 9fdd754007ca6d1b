//! Monitors: list, get, pause, test conditions; dead-lettered deliveries.

use super::{ApiError, ApiState};
use axum::extract::{Path, State};
use axum::Json;
use defender_core::MonitorInfo;
use defender_engine::TestScope;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) async fn list(State(s): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let items = s.engine.manage().list_monitors().await?;
    Ok(Json(json!({ "items": items })))
}

pub(super) async fn get(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<MonitorInfo>, ApiError> {
    Ok(Json(s.engine.manage().get_monitor(&id).await?))
}

pub(super) async fn pause(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<MonitorInfo>, ApiError> {
    let info = s.engine.manage().set_monitor_paused(&id, true).await?;
    tracing::info!(monitor = %id, "monitor paused");
    Ok(Json(info))
}

pub(super) async fn unpause(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<MonitorInfo>, ApiError> {
    let info = s.engine.manage().set_monitor_paused(&id, false).await?;
    tracing::info!(monitor = %id, "monitor unpaused");
    Ok(Json(info))
}

/// What to test a monitor's conditions on: exactly one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TestRequest {
    block_number: Option<u64>,
    transaction_hash: Option<String>,
    recent_blocks: Option<u64>,
}

impl TestRequest {
    pub(super) fn scope(self) -> Result<TestScope, ApiError> {
        match (self.block_number, self.transaction_hash, self.recent_blocks) {
            (Some(n), None, None) => Ok(TestScope::Block(n)),
            (None, Some(h), None) => h
                .parse()
                .map(TestScope::Transaction)
                .map_err(|_| ApiError::invalid(format!("`{h}` is not a transaction hash"))),
            (None, None, Some(n)) => Ok(TestScope::RecentBlocks(n)),
            _ => Err(ApiError::invalid(
                "give one of blockNumber, transactionHash, recentBlocks",
            )),
        }
    }
}

/// Defender's "test conditions": the matches the monitor's definition gives; nothing is
/// notified.
pub(super) async fn test(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Json(req): Json<TestRequest>,
) -> Result<Json<Value>, ApiError> {
    let scope = req.scope()?;
    let def = s.engine.monitor(&id).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no monitor `{id}`"),
        )
    })?;
    let matches = s.engine.test_monitor_conditions(&def, scope).await?;
    Ok(Json(json!({ "matches": matches })))
}

pub(super) async fn dead_letters(State(s): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let items = s.engine.dead_letters().await?;
    Ok(Json(json!({ "items": items })))
}

pub(super) async fn replay(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let replayed = s.engine.replay_dead_letter(&id).await?;
    tracing::info!(dead_letter = %id, replayed, "dead letter replayed");
    Ok(Json(json!({ "id": id, "replayed": replayed })))
}

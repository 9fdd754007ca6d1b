//! The host's HTTP server: the engine's webhook routes, `/health`, `/metrics` and the
//! management API.

use crate::api::{self, ApiState};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use defender_engine::Engine;

pub(crate) use api::ApiState as ServerState;

/// Every route the host serves. `/health` and `/metrics` are open (the host listens on
/// loopback by default); the management API needs its key; webhooks their tokens.
pub(crate) fn router(state: ApiState) -> Router {
    let open = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state.engine.clone());
    defender_engine::webhook_router(state.engine.clone())
        .merge(open)
        .merge(api::router(state))
}

async fn health(State(engine): State<Engine>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "actions": engine.action_ids().len(),
        "monitors": engine.monitor_ids().len(),
    }))
}

async fn metrics(State(engine): State<Engine>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        engine.metrics_text(),
    )
}

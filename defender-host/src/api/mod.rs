//! The management HTTP API, behind the API key of `api-key-env` (header `X-Api-Key`, or
//! `Authorization: Bearer <key>`; 401 without it). Shapes are Defender's where Defender's API
//! had the operation (the engine's [`ManageApi`](defender_core::ManageApi) summaries, run
//! records with `decodedLogs`, `{ items }` listings), and so are some paths, served twice:
//!
//! | operation | path | Defender's path |
//! |---|---|---|
//! | list actions | `GET /actions` | `GET /autotasks` |
//! | get an action | `GET /actions/{id}` | `GET /autotasks/{id}` |
//! | run an action (body: `event.request.body`) | `POST /actions/{id}/runs` | `POST /autotasks/{id}/runs/manual` |
//! | its runs, with logs (`?limit=`) | `GET /actions/{id}/runs` | `GET /autotasks/{id}/runs` |
//! | one run | `GET /actions/runs/{runId}` | `GET /autotasks/runs/{runId}` |
//! | update its code (`{ encodedZippedCode }` or `{ code }`) | `PUT /actions/{id}/code` | `PUT /autotasks/{id}/code` |
//! | pause, unpause | `POST /actions/{id}/pause`, `/unpause` | (an update with `paused`) |
//! | list monitors | `GET /monitors` | `GET /subscribers` |
//! | get a monitor | `GET /monitors/{id}` | `GET /subscribers/{id}` |
//! | pause, unpause | `POST /monitors/{id}/pause`, `/unpause` | (an update with `paused`) |
//! | test conditions (`{ blockNumber }`, `{ transactionHash }` or `{ recentBlocks }`) | `POST /monitors/{id}/test` | |
//! | dead-lettered deliveries | `GET /dead-letters` | |
//! | replay one | `POST /dead-letters/{id}/replay` | |
//! | webhook URLs | `GET /webhooks` | |
//!
//! Errors are `{ "message", "code" }` with the status Defender used (404 unknown, 409 paused,
//! 400 invalid).
//!
//! Beside it, outside its key, the [`relayer`] API: each relayer reached with its own API key
//! and secret, as Defender's relay API was by `@openzeppelin/defender-sdk`.

mod actions;
mod monitors;
pub mod relayer;

pub use relayer::RelayerAccess;

use crate::config::Secret;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use defender_core::ManageError;
use defender_engine::{Engine, EngineError};
use serde_json::json;
use subtle::ConstantTimeEq;

/// What the API handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    /// The engine.
    pub engine: Engine,
    /// The API key; without one every request is refused.
    pub api_key: Option<Secret>,
    /// The server's base URL (`http://127.0.0.1:8080`), for webhook URLs.
    pub base_url: String,
    /// The relayers the relayer API reaches, by API key (its routes are open to those keys,
    /// not to the management key).
    pub relayers: RelayerAccess,
}

/// An error answer: `{ "message", "code" }`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "message": self.message, "code": self.code })),
        )
            .into_response()
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        ApiError {
            status: StatusCode::from_u16(e.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (status, code) = match &e {
            EngineError::UnknownAction(_)
            | EngineError::UnknownMonitor(_)
            | EngineError::UnknownDeadLetter(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            EngineError::Paused(_) => (StatusCode::CONFLICT, "ACTION_PAUSED"),
            EngineError::InvalidAction { .. }
            | EngineError::CodeTooLarge { .. }
            | EngineError::InvalidMonitor { .. }
            | EngineError::MonitorDefinition { .. }
            | EngineError::InvalidWebhookToken { .. } => {
                (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
            }
            EngineError::TestConditions { .. } | EngineError::NetworkUnavailable { .. } => {
                (StatusCode::BAD_GATEWAY, "UNAVAILABLE")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The key the request carries: `X-Api-Key`, or `Authorization: Bearer`.
fn presented_key(req: &Request) -> Option<&[u8]> {
    if let Some(v) = req.headers().get("x-api-key") {
        return Some(v.as_bytes());
    }
    let auth = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = auth.split_at(auth.len().min(7));
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

async fn authorize(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let ok = match (&state.api_key, presented_key(&req)) {
        (Some(key), Some(given)) => bool::from(key.expose().as_bytes().ct_eq(given)),
        _ => false,
    };
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    if !ok {
        tracing::warn!(%method, %path, "management API: refused (no or wrong API key)");
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "a valid API key is required (X-Api-Key or Authorization: Bearer)",
        )
        .into_response();
    }
    let response = next.run(req).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), "management API");
    response
}

/// The management API's router (to merge with the webhook router).
pub fn router(state: ApiState) -> Router {
    // A script (`code`) may be as large as uncompressed code may be, plus its JSON escapes.
    let code_limit = defender_core::MAX_UNCOMPRESSED_CODE_BYTES / 8 * 9;
    Router::new()
        .route("/actions", get(actions::list))
        .route("/autotasks", get(actions::list))
        .route("/actions/{action_id}", get(actions::get))
        .route("/autotasks/{action_id}", get(actions::get))
        .route(
            "/actions/{action_id}/runs",
            post(actions::run).get(actions::runs),
        )
        .route("/autotasks/{action_id}/runs", get(actions::runs))
        .route("/autotasks/{action_id}/runs/manual", post(actions::run))
        .route("/actions/runs/{run_id}", get(actions::run_record))
        .route("/autotasks/runs/{run_id}", get(actions::run_record))
        .route(
            "/actions/{action_id}/code",
            put(actions::update_code).layer(axum::extract::DefaultBodyLimit::max(code_limit)),
        )
        .route(
            "/autotasks/{action_id}/code",
            put(actions::update_code).layer(axum::extract::DefaultBodyLimit::max(code_limit)),
        )
        .route("/actions/{action_id}/pause", post(actions::pause))
        .route("/actions/{action_id}/unpause", post(actions::unpause))
        .route("/monitors", get(monitors::list))
        .route("/subscribers", get(monitors::list))
        .route("/monitors/{monitor_id}", get(monitors::get))
        .route("/subscribers/{monitor_id}", get(monitors::get))
        .route("/monitors/{monitor_id}/pause", post(monitors::pause))
        .route("/monitors/{monitor_id}/unpause", post(monitors::unpause))
        .route("/monitors/{monitor_id}/test", post(monitors::test))
        .route("/dead-letters", get(monitors::dead_letters))
        .route(
            "/dead-letters/{dead_letter_id}/replay",
            post(monitors::replay),
        )
        .route("/webhooks", get(webhooks))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorize,
        ))
        .with_state(state.clone())
        .merge(relayer::router(state.relayers))
}

async fn webhooks(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let items: Vec<_> = crate::run::webhook_urls(&state.engine, &state.base_url)
        .into_iter()
        .map(|(id, url)| json!({ "actionId": id, "url": url }))
        .collect();
    Json(json!({ "items": items }))
}

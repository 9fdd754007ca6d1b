//! Webhook-triggered runs, with Defender's answers.

use super::actions::{execute, new_run_id, new_token, ActionEntry};
use super::{Engine, EngineError};
use crate::wire::{ActionRequest, RunRecord, RunStatus, Trigger};
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// After this long a webhook caller gets a `pending` answer and the run goes on (Defender: 25 s).
pub const WEBHOOK_PENDING_AFTER: Duration = Duration::from_secs(25);

/// Largest webhook body accepted by default: 5 MiB.
pub const DEFAULT_WEBHOOK_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// An HTTP request to an action's webhook URL, as any HTTP server can build it.
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    /// The action id from the URL.
    pub action_id: String,
    /// The secret token from the URL.
    pub token: String,
    /// The HTTP method.
    pub method: String,
    /// Every header, as received.
    pub headers: Vec<(String, String)>,
    /// The query parameters.
    pub query: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

/// What to answer: an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAnswer {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
}

impl WebhookAnswer {
    fn message(status: u16, message: &str) -> Self {
        WebhookAnswer {
            status,
            body: json!({ "message": message }),
        }
    }

    fn run(record: &RunRecord) -> Self {
        WebhookAnswer {
            status: 200,
            body: serde_json::to_value(record.to_webhook_response()).unwrap_or(Value::Null),
        }
    }
}

/// Only `X-` and `Stripe-` headers reach the action, as in Defender.
fn passed_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("x-") || lower.starts_with("stripe-")
}

fn is_json_content_type(value: &str) -> bool {
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl Engine {
    /// The webhook token of an action, if it has a webhook trigger.
    pub fn webhook_token(&self, id: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .entry(id)?
            .webhook_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    /// Replaces an action's webhook token; the old URL stops working at once. Enables the
    /// webhook trigger if the action had none.
    pub fn regenerate_webhook_token(&self, id: &str) -> Result<String, EngineError> {
        let token = new_token();
        *self
            .entry(id)?
            .webhook_token
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// Handles a webhook request and answers as Defender did:
    /// - anything but POST, an unknown action or a wrong token: 403
    ///   `{"message":"Missing Authentication Token"}`;
    /// - a body over the limit: 413; a body that is not JSON: 415;
    /// - a paused action: 409;
    /// - otherwise the run's [`crate::WebhookResponse`], or a `pending` one if the run takes
    ///   longer than the engine's pending delay (25 s); the run goes on and is recorded.
    ///
    /// The token is compared in constant time.
    pub async fn handle_webhook(&self, req: WebhookRequest) -> WebhookAnswer {
        let entry = match self.authorize_webhook(&req.method, &req.action_id, &req.token) {
            Ok(entry) => entry,
            Err(answer) => return answer,
        };
        if req.body.len() > self.inner.webhook_body_limit {
            return too_large();
        }
        let content_type = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        let body = if req.body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            if content_type.is_some_and(|c| !is_json_content_type(c)) {
                return WebhookAnswer::message(415, "Unsupported Media Type");
            }
            match serde_json::from_slice::<Value>(&req.body) {
                Ok(v) => Some(v),
                Err(_) => return WebhookAnswer::message(415, "Unsupported Media Type"),
            }
        };
        if entry.paused.load(Ordering::SeqCst) {
            return WebhookAnswer::message(409, "Action is paused");
        }
        let headers: BTreeMap<String, String> = req
            .headers
            .into_iter()
            .filter(|(k, _)| passed_header(k))
            .collect();
        let query: BTreeMap<String, String> = req.query.into_iter().collect();
        let request = ActionRequest {
            body,
            headers: Some(headers),
            query_parameters: Some(query),
        };

        let run_id = new_run_id();
        let inner = self.inner.clone();
        let task_entry = entry.clone();
        let task_run_id = run_id.clone();
        let mut run = tokio::spawn(async move {
            execute(
                &inner,
                &task_entry,
                Trigger::Webhook,
                Some(request),
                task_run_id,
            )
            .await
        });
        match tokio::time::timeout(self.inner.webhook_pending_after, &mut run).await {
            Ok(Ok(record)) => WebhookAnswer::run(&record),
            Ok(Err(join)) => {
                // Not the panic's message: it may hold what the run was handling.
                tracing::error!(panicked = join.is_panic(), "webhook run task failed");
                WebhookAnswer::message(500, "Internal Server Error")
            }
            Err(_) => {
                // The run goes on in its task; answer with what is recorded so far.
                let record = self
                    .inner
                    .runs
                    .get(&run_id)
                    .await
                    .ok()
                    .flatten()
                    .filter(|r| r.status == RunStatus::Pending)
                    .unwrap_or_else(|| pending_record(&entry.id, &run_id, self));
                WebhookAnswer::run(&record)
            }
        }
    }
}

impl Engine {
    /// The webhook's access check, done before anything reads the body: the method must be
    /// POST, the action must exist and the token must be its webhook token (compared in
    /// constant time). Otherwise the 403 answer `{"message":"Missing Authentication Token"}`.
    fn authorize_webhook(
        &self,
        method: &str,
        action_id: &str,
        token: &str,
    ) -> Result<Arc<ActionEntry>, WebhookAnswer> {
        const NO_TOKEN: &str = "Missing Authentication Token";
        if !method.eq_ignore_ascii_case("POST") {
            return Err(WebhookAnswer::message(403, NO_TOKEN));
        }
        let Ok(entry) = self.entry(action_id) else {
            return Err(WebhookAnswer::message(403, NO_TOKEN));
        };
        let token_ok = entry
            .webhook_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(token.as_bytes())));
        if token_ok {
            Ok(entry)
        } else {
            Err(WebhookAnswer::message(403, NO_TOKEN))
        }
    }
}

fn too_large() -> WebhookAnswer {
    WebhookAnswer::message(413, "Request Entity Too Large")
}

fn pending_record(action_id: &str, run_id: &str, engine: &Engine) -> RunRecord {
    RunRecord {
        action_run_id: run_id.to_owned(),
        action_id: action_id.to_owned(),
        trigger: Trigger::Webhook,
        status: RunStatus::Pending,
        created_at: engine.inner.clock.now(),
        finished_at: None,
        result: None,
        message: None,
        error_type: None,
        encoded_logs: String::new(),
        request_id: Some(run_id.to_owned()),
    }
}

/// An axum router serving `POST /actions/{action_id}/runs/webhook/{token}`.
///
/// The method, action and token are checked before the body is read: a caller without the
/// token gets its 403 without the host buffering anything it sends. Only then is the body
/// read, up to the engine's webhook body limit (413 beyond it, without reading further when
/// `Content-Length` already says so).
#[cfg(feature = "webhook-server")]
pub fn webhook_router(engine: Engine) -> axum::Router {
    use axum::extract::{Path, Query, State};
    use axum::http::{header, HeaderMap, Method, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::Json;

    fn respond(answer: WebhookAnswer) -> Response {
        (
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(answer.body),
        )
            .into_response()
    }

    async fn handle(
        State(engine): State<Engine>,
        method: Method,
        Path((action_id, token)): Path<(String, String)>,
        Query(query): Query<Vec<(String, String)>>,
        headers: HeaderMap,
        body: axum::body::Body,
    ) -> Response {
        if let Err(answer) = engine.authorize_webhook(method.as_str(), &action_id, &token) {
            // The body is dropped unread.
            return respond(answer);
        }
        let limit = engine.inner.webhook_body_limit;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return respond(too_large());
        }
        let body = match read_body(body, limit).await {
            Ok(body) => body,
            Err(answer) => return respond(answer),
        };
        let headers = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let answer = engine
            .handle_webhook(WebhookRequest {
                action_id,
                token,
                method: method.as_str().to_owned(),
                headers,
                query,
                body,
            })
            .await;
        respond(answer)
    }

    /// The body, read frame by frame until it ends or passes `limit` (413).
    async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, WebhookAnswer> {
        use futures::StreamExt;
        let mut stream = body.into_data_stream();
        let mut buf = bytes::BytesMut::new();
        while let Some(frame) = stream.next().await {
            let Ok(chunk) = frame else {
                return Err(WebhookAnswer::message(400, "Bad Request"));
            };
            if buf.len().saturating_add(chunk.len()) > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    axum::Router::new()
        .route(
            "/actions/{action_id}/runs/webhook/{token}",
            axum::routing::any(handle),
        )
        .with_state(engine)
}

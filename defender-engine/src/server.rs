//! The `webhook-server` feature: an axum router in front of
//! [`Engine::handle_webhook`](crate::Engine::handle_webhook).

use crate::webhook::{self, WebhookAnswer, WebhookRequest};
use crate::Engine;
use bytes::Bytes;

/// An axum router serving `POST /actions/{action_id}/runs/webhook/{token}`.
///
/// The method, action and token are checked before the body is read: a caller without the
/// token gets its 403 without the host buffering anything it sends. Only then is the body
/// read, up to the engine's webhook body limit (413 beyond it, without reading further when
/// `Content-Length` already says so).
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
        let limit = engine.webhook_body_limit();
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return respond(webhook::too_large());
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
                return Err(webhook::too_large());
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

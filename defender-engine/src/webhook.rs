//! Webhook-triggered runs, with Defender's answers. Any HTTP server can call
//! [`Engine::handle_webhook`](crate::Engine::handle_webhook); the `webhook-server` feature adds
//! an axum router. Tokens are kept in the engine state, so URLs survive restarts.

use crate::actions::Actions;
use crate::run::{new_run_id, ActionEntry, Runner};
use bytes::Bytes;
use defender_core::state::{Space, StateError, StateStore};
use defender_core::{ActionRequest, RunRecord, RunStatus, Trigger};
use serde_json::{json, Value};
use std::collections::BTreeMap;
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
    pub(crate) fn message(status: u16, message: &str) -> Self {
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

/// How webhook requests are bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WebhookLimits {
    /// After this long the caller gets a `pending` answer.
    pub(crate) pending_after: Duration,
    /// Largest body accepted.
    pub(crate) body_limit: usize,
}

/// Handles a webhook request and answers as Defender did (see
/// [`Engine::handle_webhook`](crate::Engine::handle_webhook)).
pub(crate) async fn handle(
    runner: &Arc<Runner>,
    actions: &Actions,
    limits: WebhookLimits,
    req: WebhookRequest,
) -> WebhookAnswer {
    let entry = match authorize(actions, &req.method, &req.action_id, &req.token) {
        Ok(entry) => entry,
        Err(answer) => return answer,
    };
    if req.body.len() > limits.body_limit {
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
    if entry.is_paused() {
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
    let task_runner = runner.clone();
    let task_entry = entry.clone();
    let task_run_id = run_id.clone();
    let mut run = tokio::spawn(async move {
        task_runner
            .execute_with_throttle(&task_entry, Trigger::Webhook, Some(request), task_run_id)
            .await
    });
    match tokio::time::timeout(limits.pending_after, &mut run).await {
        Ok(Ok((record, None))) => WebhookAnswer::run(&record),
        // Over an execution limit: Defender's answer (402 for a quota).
        Ok(Ok((record, Some(throttle)))) => WebhookAnswer {
            status: throttle.http_status(),
            body: throttle.webhook_body(&record),
        },
        Ok(Err(join)) => {
            // Not the panic's message: it may hold what the run was handling.
            tracing::error!(panicked = join.is_panic(), "webhook run task failed");
            WebhookAnswer::message(500, "Internal Server Error")
        }
        Err(_) => {
            // The run goes on in its task; answer with what is recorded so far.
            let record = runner
                .runs
                .get(&run_id)
                .await
                .ok()
                .flatten()
                .filter(|r| r.status == RunStatus::Pending)
                .unwrap_or_else(|| pending_record(&entry.id, &run_id, runner));
            WebhookAnswer::run(&record)
        }
    }
}

/// The webhook's access check, done before anything reads the body: the method must be POST,
/// the action must exist and the token must be its webhook token (compared in constant time).
/// Otherwise the 403 answer `{"message":"Missing Authentication Token"}`.
pub(crate) fn authorize(
    actions: &Actions,
    method: &str,
    action_id: &str,
    token: &str,
) -> Result<Arc<ActionEntry>, WebhookAnswer> {
    const NO_TOKEN: &str = "Missing Authentication Token";
    if !method.eq_ignore_ascii_case("POST") {
        return Err(WebhookAnswer::message(403, NO_TOKEN));
    }
    let Some(entry) = actions.get(action_id) else {
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

/// The 413 answer.
pub(crate) fn too_large() -> WebhookAnswer {
    WebhookAnswer::message(413, "Request Entity Too Large")
}

fn pending_record(action_id: &str, run_id: &str, runner: &Runner) -> RunRecord {
    RunRecord {
        action_run_id: run_id.to_owned(),
        action_id: action_id.to_owned(),
        trigger: Trigger::Webhook,
        status: RunStatus::Pending,
        created_at: runner.clock.now(),
        finished_at: None,
        result: None,
        message: None,
        error_type: None,
        encoded_logs: String::new(),
        request_id: Some(run_id.to_owned()),
    }
}

/// Shortest webhook token an operator may set, in bytes.
pub const MIN_WEBHOOK_TOKEN_BYTES: usize = 16;
/// Longest webhook token an operator may set, in bytes.
pub const MAX_WEBHOOK_TOKEN_BYTES: usize = 256;

/// Checks a token an operator sets: [`MIN_WEBHOOK_TOKEN_BYTES`] to
/// [`MAX_WEBHOOK_TOKEN_BYTES`] bytes of `A`-`Z`, `a`-`z`, `0`-`9`, `-` and `_`, so that it
/// is one URL path segment as is and long enough not to be guessed.
pub(crate) fn check_token(token: &str) -> Result<(), &'static str> {
    if token.len() < MIN_WEBHOOK_TOKEN_BYTES {
        return Err("a webhook token has at least 16 characters");
    }
    if token.len() > MAX_WEBHOOK_TOKEN_BYTES {
        return Err("a webhook token has at most 256 characters");
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("a webhook token has only A-Z, a-z, 0-9, - and _");
    }
    Ok(())
}

/// The token of action `action_id` kept in the engine state ([`Space::WEBHOOK_TOKENS`]), or
/// `fresh` once stored there when it has none: a restarted engine keeps its webhook URLs, and
/// engines sharing a state store agree on them.
pub(crate) async fn restore_token(
    state: &dyn StateStore,
    action_id: &str,
    fresh: String,
) -> Result<String, StateError> {
    loop {
        if state
            .compare_and_swap(
                Space::WEBHOOK_TOKENS,
                action_id,
                None,
                Some(Bytes::from(fresh.clone())),
            )
            .await?
        {
            return Ok(fresh);
        }
        match state.get(Space::WEBHOOK_TOKENS, action_id).await? {
            Some(stored) => {
                return match std::str::from_utf8(&stored) {
                    Ok(token) if check_token(token).is_ok() => Ok(token.to_owned()),
                    _ => Err(StateError::Corrupt {
                        message: format!("the webhook token of action `{action_id}` is not one"),
                    }),
                }
            }
            // Deleted between the two calls: try again.
            None => continue,
        }
    }
}

/// Stores the token of action `action_id`.
pub(crate) async fn store_token(
    state: &dyn StateStore,
    action_id: &str,
    token: &str,
) -> Result<(), StateError> {
    state
        .put(
            Space::WEBHOOK_TOKENS,
            action_id,
            Bytes::copy_from_slice(token.as_bytes()),
        )
        .await
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn operator_tokens_are_checked() {
        let ok = ["a".repeat(16), "A-z_09".repeat(10), "x".repeat(256)];
        for t in ok {
            assert_eq!(check_token(&t), Ok(()), "{t}");
        }
        for t in [
            String::new(),
            "a".repeat(15),
            "x".repeat(257),
            format!("{}/", "a".repeat(20)),
            format!("{}%2F", "a".repeat(20)),
            format!("{} ", "a".repeat(20)),
            format!("{}é", "a".repeat(20)),
        ] {
            assert!(check_token(&t).is_err(), "{t:?}");
        }
        assert_eq!(check_token(&crate::actions::new_token()), Ok(()));
    }

    #[tokio::test]
    async fn tokens_are_stored_once_and_kept() {
        let state = defender_core::state::MemoryStateStore::default();
        let first = restore_token(&state, "a", "t".repeat(20)).await.unwrap();
        let again = restore_token(&state, "a", "u".repeat(20)).await.unwrap();
        assert_eq!(
            (first.as_str(), again.as_str()),
            ("t".repeat(20).as_str(), "t".repeat(20).as_str())
        );
        store_token(&state, "a", &"v".repeat(20)).await.unwrap();
        assert_eq!(
            restore_token(&state, "a", "w".repeat(20)).await.unwrap(),
            "v".repeat(20)
        );
        state
            .put(Space::WEBHOOK_TOKENS, "b", Bytes::from("bad token"))
            .await
            .unwrap();
        assert!(matches!(
            restore_token(&state, "b", "w".repeat(20)).await,
            Err(StateError::Corrupt { .. })
        ));
    }
}

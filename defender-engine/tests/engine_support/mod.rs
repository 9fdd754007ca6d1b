//! Test doubles of the engine's action tests (`engine_actions.rs`, `engine_webhooks.rs`): a
//! scripted runtime that runs a Rust closure instead of JavaScript, webhook requests, and a
//! relayer that only answers who it is.
#![allow(dead_code, unreachable_pub)]

use async_trait::async_trait;
use bytes::Bytes;
use defender_core::*;
use defender_engine::WebhookRequest;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type Script = dyn Fn(&ActionCode, &RunRequest) -> Result<Value, RunError> + Send + Sync;
pub type LogLines = dyn Fn(&RunRequest) -> Vec<String> + Send + Sync;

/// Runs a Rust closure instead of JavaScript, optionally slowly, and records every event.
pub struct Scripted {
    pub script: Box<Script>,
    /// Lines logged after `ran {run id}`.
    pub log: Box<LogLines>,
    pub delay: Duration,
    pub events: Mutex<Vec<(u64, ActionEvent)>>,
    pub running: AtomicUsize,
    pub max_running: AtomicUsize,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

impl Scripted {
    pub fn new(
        delay: Duration,
        script: impl Fn(&ActionCode, &RunRequest) -> Result<Value, RunError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Scripted::with_logs(delay, |_| Vec::new(), script)
    }

    /// Also logs the lines `log` returns.
    pub fn with_logs(
        delay: Duration,
        log: impl Fn(&RunRequest) -> Vec<String> + Send + Sync + 'static,
        script: impl Fn(&ActionCode, &RunRequest) -> Result<Value, RunError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Scripted {
            script: Box::new(script),
            log: Box::new(log),
            delay,
            events: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        })
    }

    pub fn echo() -> Arc<Self> {
        Scripted::new(Duration::ZERO, |_, req| {
            Ok(req
                .event
                .request
                .as_ref()
                .and_then(|r| r.body.clone())
                .unwrap_or(json!({"ok": true})))
        })
    }

    pub fn events(&self) -> Vec<(u64, ActionEvent)> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl ActionRuntime for Scripted {
    async fn run(&self, code: &ActionCode, req: RunRequest) -> RunOutcome {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.events
            .lock()
            .unwrap()
            .push((code.version, req.event.clone()));
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let result = (self.script)(code, &req);
        self.running.fetch_sub(1, Ordering::SeqCst);
        let lines =
            std::iter::once(format!("ran {}", req.event.action_run_id)).chain((self.log)(&req));
        RunOutcome {
            result,
            logs: lines
                .map(|message| LogEntry {
                    level: LogLevel::Info,
                    timestamp: chrono::Utc::now(),
                    message,
                })
                .collect(),
        }
    }
}

pub fn webhook(engine_token: &str, body: &str) -> WebhookRequest {
    WebhookRequest {
        action_id: "hook".into(),
        token: engine_token.into(),
        method: "POST".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("X-Request-Id".into(), "abc".into()),
            ("stripe-signature".into(), "sig".into()),
            ("authorization".into(), "Bearer secret".into()),
            ("user-agent".into(), "curl".into()),
        ],
        query: vec![("source".into(), "ci".into())],
        body: Bytes::from(body.to_owned()),
    }
}

pub fn webhook_for(action_id: &str, token: &str, body: &str) -> WebhookRequest {
    WebhookRequest {
        action_id: action_id.into(),
        ..webhook(token, body)
    }
}

/// A relayer that only answers who it is (the engine never calls it here).
#[derive(Debug)]
pub struct NamedRelayer;

#[async_trait]
impl Relayer for NamedRelayer {
    async fn send_transaction(&self, _: TxRequest) -> Result<RelayerTransaction, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn get_transaction(&self, _: &str) -> Result<RelayerTransaction, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn list_transactions(
        &self,
        _: ListTransactionsQuery,
    ) -> Result<Vec<RelayerTransaction>, RelayerError> {
        Ok(Vec::new())
    }
    async fn replace_transaction_by_id(
        &self,
        _: &str,
        _: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn replace_transaction_by_nonce(
        &self,
        _: u64,
        _: TxRequest,
    ) -> Result<RelayerTransaction, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn cancel_transaction_by_id(&self, _: &str) -> Result<RelayerTransaction, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn get_relayer(&self) -> Result<RelayerInfo, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn get_relayer_status(&self) -> Result<RelayerStatus, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn sign(&self, _: SignMessagePayload) -> Result<SignedMessage, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn sign_typed_data(
        &self,
        _: SignTypedDataPayload,
    ) -> Result<SignedMessage, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
    async fn call(&self, _: &str, _: Value) -> Result<Value, RelayerError> {
        Err(RelayerError::NotFound("not in this test".into()))
    }
}

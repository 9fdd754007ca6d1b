//! The engine's action side: manual runs, run history, schedules, code updates, pausing,
//! secrets, relayer linking and failure notifications (webhooks: `engine_webhooks.rs`).
//!
//! The runtime here is a scripted `ActionRuntime` (the engine is under test, not JavaScript;
//! see `engine_support`); the end-to-end tests in `examples/tests` run the same flows with the
//! QuickJS runtime.

mod engine_support;

use defender_core::*;
use defender_engine::{ActionSpec, ActionTrigger, Engine, Schedule};
use engine_support::{webhook_for, NamedRelayer, Scripted};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn manual_runs_are_recorded_and_chain_previous_run() {
    let rt = Scripted::echo();
    let engine = Engine::builder(rt.clone()).build();
    engine
        .add_action(ActionSpec::new("a", "Action A", "code"))
        .await
        .unwrap();
    let first = engine
        .run_action("a", Trigger::Manual, Some(json!({"n": 1})))
        .await
        .unwrap();
    assert_eq!(first.status, RunStatus::Success);
    assert_eq!(first.result.as_deref(), Some(r#"{"n":1}"#));
    assert!(!first.encoded_logs.is_empty());
    let second = engine
        .run_action("a", Trigger::ManualApi, None)
        .await
        .unwrap();

    let events = rt.events();
    assert_eq!(events.len(), 2);
    let (_, e1) = &events[0];
    assert_eq!(e1.action_id, "a");
    assert_eq!(e1.autotask_name, "Action A");
    assert!(e1.previous_run.is_none());
    assert_eq!(e1.kvstore_arn.as_deref(), Some("kvstore:default"));
    let prev = events[1]
        .1
        .previous_run
        .as_ref()
        .expect("previousRun injected");
    assert_eq!(prev.action_run_id, first.action_run_id);
    assert_eq!(prev.status, RunStatus::Success);
    assert_eq!(prev.trigger, Trigger::Manual);

    let history = engine.runs("a", 30).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[0].action_run_id, second.action_run_id,
        "newest first"
    );
    assert!(matches!(
        engine.run_action("missing", Trigger::Manual, None).await,
        Err(engine_error) if engine_error.to_string().contains("missing")
    ));
}

#[tokio::test]
async fn run_history_keeps_the_last_30() {
    let engine = Engine::builder(Scripted::echo()).build();
    engine
        .add_action(ActionSpec::new("a", "a", "c"))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..35 {
        ids.push(
            engine
                .run_action("a", Trigger::Manual, None)
                .await
                .unwrap()
                .action_run_id,
        );
    }
    let history = engine.runs("a", 100).await.unwrap();
    assert_eq!(history.len(), 30);
    assert_eq!(history[0].action_run_id, ids[34]);
    assert_eq!(history[29].action_run_id, ids[5]);
}

#[tokio::test]
async fn failures_are_typed_and_notified() {
    let rt = Scripted::new(Duration::ZERO, |_, _| {
        Err(RunError::Thrown {
            message: "execution reverted".into(),
            stack: None,
        })
    });
    let ops = Arc::new(RecordingNotifier::default());
    let engine = Engine::builder(rt)
        .notifier("ops", ops.clone())
        .failure_channel("ops")
        .build();
    engine
        .add_action(ActionSpec::new("a", "a", "c"))
        .await
        .unwrap();
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.error_type, Some(ErrorType::Program));
    assert_eq!(run.message.as_deref(), Some("execution reverted"));
    let sent = ops.messages();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].body.contains("execution reverted"),
        "{}",
        sent[0].body
    );
    assert!(sent[0].body.contains("PROGRAM"), "{}", sent[0].body);

    // The next run sees the failure as previousRun.
    let next = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    let stored = engine.runs("a", 1).await.unwrap();
    assert_eq!(stored[0].action_run_id, next.action_run_id);
}

#[tokio::test]
async fn linked_relayer_must_exist_and_secrets_are_injected() {
    let rt = Scripted::new(Duration::ZERO, |_, req| {
        Ok(json!({
            "secret": req.event.secrets.as_ref().and_then(|s| s.get("expectedValue")).cloned(),
            "relayer": req.services.relayer.is_some(),
        }))
    });
    let secrets = Arc::new(InMemorySecretStore::default());
    secrets.put("expectedValue", "42").await.unwrap();
    let engine = Engine::builder(rt).secrets(secrets.clone()).build();
    engine
        .add_action(ActionSpec::new("a", "a", "c").relayer("nope"))
        .await
        .unwrap();
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(run.error_type, Some(ErrorType::RelayerConfiguration));
    assert!(run.message.unwrap().contains("nope"));

    engine.set_action_relayer("a", None).unwrap();
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    let result: Value = serde_json::from_str(run.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"secret": "42", "relayer": false}));

    secrets.delete("expectedValue").await.unwrap();
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    let result: Value = serde_json::from_str(run.result.as_deref().unwrap()).unwrap();
    assert_eq!(
        result["secret"],
        Value::Null,
        "a deleted secret is not injected"
    );
}

#[tokio::test]
async fn code_updates_apply_from_the_next_run() {
    let rt = Scripted::new(Duration::ZERO, |code, _| {
        Ok(json!({"version": code.version, "code": match &code.source {
            CodeSource::Script(s) => s.clone(),
            CodeSource::Bundle(_) => "bundle".into(),
        }}))
    });
    let engine = Engine::builder(rt).build();
    engine
        .add_action(ActionSpec::new("a", "a", "v1"))
        .await
        .unwrap();
    let r1 = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(r1.result.as_deref(), Some(r#"{"code":"v1","version":1}"#));
    let v = engine
        .update_code("a", CodeSource::Script("v2".into()))
        .unwrap();
    assert_eq!(v, 2);
    let r2 = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(r2.result.as_deref(), Some(r#"{"code":"v2","version":2}"#));

    // Over the bound on uncompressed code (Defender's rule on the zipped size: tests/code_size.rs).
    let too_big = CodeSource::Script("x".repeat(MAX_UNCOMPRESSED_CODE_BYTES + 1));
    assert!(engine.update_code("a", too_big).is_err());
    assert!(
        engine
            .add_action(ActionSpec::new("a", "again", "x"))
            .await
            .is_err(),
        "duplicate ids are refused"
    );
}

#[tokio::test]
async fn paused_and_removed_actions_do_not_run() {
    let engine = Engine::builder(Scripted::echo()).build();
    engine
        .add_action(ActionSpec::new("a", "a", "c"))
        .await
        .unwrap();
    engine.set_action_paused("a", true).unwrap();
    assert!(engine.run_action("a", Trigger::Manual, None).await.is_err());
    engine.set_action_paused("a", false).unwrap();
    assert!(engine.run_action("a", Trigger::Manual, None).await.is_ok());
    engine.remove_action("a").unwrap();
    assert!(engine.run_action("a", Trigger::Manual, None).await.is_err());
    assert!(engine.action_ids().is_empty());
}

#[tokio::test]
async fn interval_schedule_runs_start_to_start_without_overlap() {
    // Each run takes longer than the interval: runs must not overlap.
    let rt = Scripted::new(Duration::from_millis(150), |_, _| Ok(json!(1)));
    let engine = Engine::builder(rt.clone()).build();
    engine
        .add_action(
            ActionSpec::new("tick", "tick", "c").trigger(ActionTrigger::Schedule(
                Schedule::Interval(Duration::from_millis(50)),
            )),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    let runs = engine.runs("tick", 30).await.unwrap();
    assert!(runs.len() >= 3, "scheduled runs: {}", runs.len());
    assert!(runs.iter().all(|r| r.trigger == Trigger::Schedule));
    assert_eq!(rt.max_running.load(Ordering::SeqCst), 1, "runs overlapped");

    engine.set_action_paused("tick", true).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let paused_at = rt.events().len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rt.events().len(), paused_at, "a paused schedule ran");

    engine.set_action_paused("tick", false).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        rt.events().len() > paused_at,
        "a resumed schedule did not run"
    );
    engine.remove_action("tick").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let removed_at = rt.events().len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rt.events().len(), removed_at, "a removed schedule ran");
}

#[tokio::test]
async fn cron_schedule_runs_and_bad_cron_is_refused() {
    let rt = Scripted::echo();
    let engine = Engine::builder(rt.clone()).build();
    let err = engine
        .add_action(
            ActionSpec::new("bad", "bad", "c").trigger(ActionTrigger::Schedule(Schedule::Cron(
                "every minute".into(),
            ))),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid cron"), "{err}");
    assert!(engine.action_ids().is_empty());

    engine
        .add_action(
            ActionSpec::new("cron", "cron", "c").trigger(ActionTrigger::Schedule(Schedule::Cron(
                "* * * * * *".into(),
            ))),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    engine.shutdown();
    let n = rt.events().len();
    assert!(n >= 1, "cron runs: {n}");
}

#[cfg(feature = "prometheus")]
#[tokio::test]
async fn prometheus_counts_runs_and_errors() {
    let rt = Scripted::new(Duration::ZERO, |_, req| {
        match req.event.request.as_ref().and_then(|r| r.body.clone()) {
            Some(_) => Err(RunError::Timeout(Duration::from_secs(300))),
            None => Ok(json!(1)),
        }
    });
    let engine = Engine::builder(rt).build();
    engine
        .add_action(ActionSpec::new("a", "a", "c"))
        .await
        .unwrap();
    engine.run_action("a", Trigger::Manual, None).await.unwrap();
    engine.run_action("a", Trigger::Manual, None).await.unwrap();
    engine
        .run_action("a", Trigger::Manual, Some(json!({})))
        .await
        .unwrap();
    let text = engine.metrics_text();
    assert!(
        text.contains(
            r#"defender_action_runs_total{action_id="a",trigger="manual",status="success"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"defender_action_runs_total{action_id="a",trigger="manual",status="error"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"defender_action_run_errors_total{action_id="a",error_type="TIMEOUT"} 1"#),
        "{text}"
    );
}

/// A secret value long enough to be redacted.
const SECRET: &str = "sk-live-7f3a9c1e2b";

/// The text of Defender's `encodedLogs`.
fn decode_logs(encoded: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("encodedLogs is base64");
    String::from_utf8(raw).expect("logs are UTF-8")
}

/// The `apiKey` secret as injected into the run.
fn api_key(req: &RunRequest) -> String {
    req.event
        .secrets
        .as_ref()
        .and_then(|s| s.get("apiKey"))
        .cloned()
        .unwrap_or_default()
}

/// An engine whose secret `apiKey` is [`SECRET`], notifying failures to `ops`.
async fn engine_with_secret(rt: Arc<Scripted>) -> (Engine, Arc<RecordingNotifier>) {
    let secrets = Arc::new(InMemorySecretStore::default());
    secrets.put("apiKey", SECRET).await.unwrap();
    let ops = Arc::new(RecordingNotifier::default());
    let engine = Engine::builder(rt)
        .secrets(secrets)
        .notifier("ops", ops.clone())
        .failure_channel("ops")
        .build();
    (engine, ops)
}

/// [`engine_with_secret`] with action `a`, run manually.
async fn engine_with_action(rt: Arc<Scripted>) -> (Engine, Arc<RecordingNotifier>) {
    let (engine, ops) = engine_with_secret(rt).await;
    engine
        .add_action(ActionSpec::new("a", "a", "c"))
        .await
        .unwrap();
    (engine, ops)
}

fn assert_redacted(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} holds the secret: {text}");
    assert!(
        text.contains("[REDACTED]"),
        "{what} is not redacted: {text}"
    );
}

#[tokio::test]
async fn secrets_are_redacted_everywhere_but_in_the_result_returned_to_the_caller() {
    let rt = Scripted::with_logs(
        Duration::ZERO,
        |req| vec![format!("calling the API with {}", api_key(req))],
        |_, req| Ok(json!({"apiKey": api_key(req), "n": 1})),
    );
    let (engine, ops) = engine_with_secret(rt).await;
    let token = engine
        .add_action(ActionSpec::new("a", "a", "c").trigger(ActionTrigger::Webhook))
        .await
        .unwrap()
        .unwrap();

    // The caller of a manual run gets the result as produced; the logs are redacted.
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(run.status, RunStatus::Success);
    let result: Value = serde_json::from_str(run.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"apiKey": SECRET, "n": 1}));
    assert_redacted("returned logs", &decode_logs(&run.encoded_logs));

    // The run history keeps a redacted result and redacted logs.
    let stored = engine.runs("a", 1).await.unwrap();
    assert_eq!(stored[0].action_run_id, run.action_run_id);
    let result: Value = serde_json::from_str(stored[0].result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"apiKey": "[REDACTED]", "n": 1}));
    assert_redacted("stored logs", &decode_logs(&stored[0].encoded_logs));

    // The webhook caller gets the result as produced too; its logs are redacted.
    let answer = engine.handle_webhook(webhook_for("a", &token, "{}")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["status"], "success");
    let result: Value = serde_json::from_str(answer.body["result"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({"apiKey": SECRET, "n": 1}));
    assert_redacted(
        "webhook logs",
        &decode_logs(answer.body["encodedLogs"].as_str().unwrap()),
    );

    let history = engine.runs("a", 30).await.unwrap();
    assert_eq!(history.len(), 2);
    for r in &history {
        assert_redacted("history", r.result.as_deref().unwrap());
        assert!(!format!("{r:?}").contains(SECRET), "{r:?}");
    }
    assert!(ops.messages().is_empty(), "successes are not notified");
}

#[tokio::test]
async fn failures_are_redacted_in_message_logs_notification_history_and_previous_run() {
    let rt = Scripted::with_logs(
        Duration::ZERO,
        |req| vec![format!("key={}", api_key(req))],
        |_, req| {
            Err(RunError::Internal(format!(
                "the RPC refused key {} with 401",
                api_key(req)
            )))
        },
    );
    let (engine, ops) = engine_with_action(rt.clone()).await;

    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.error_type, Some(ErrorType::Internal));
    let message = run.message.clone().unwrap();
    assert_redacted("returned message", &message);
    assert!(message.contains("with 401"), "{message}");
    assert_redacted("returned logs", &decode_logs(&run.encoded_logs));

    let sent = ops.messages();
    assert_eq!(sent.len(), 1);
    assert_redacted("failure notification", &sent[0].body);
    assert!(!sent[0].subject.contains(SECRET));

    let stored = engine.runs("a", 1).await.unwrap();
    assert_redacted("stored message", stored[0].message.as_deref().unwrap());
    assert_redacted("stored logs", &decode_logs(&stored[0].encoded_logs));

    // The next run's previousRun comes from the store: redacted.
    engine.run_action("a", Trigger::Manual, None).await.unwrap();
    let events = rt.events();
    let previous = events[1].1.previous_run.as_ref().expect("previousRun");
    assert_eq!(previous.action_run_id, run.action_run_id);
    assert_redacted("previousRun", previous.message.as_deref().unwrap());

    // Errors built by the host before the run go through the same redaction.
    engine
        .set_action_relayer("a", Some(SECRET.to_owned()))
        .unwrap();
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(run.error_type, Some(ErrorType::RelayerConfiguration));
    assert_redacted("relayer error", run.message.as_deref().unwrap());
    let sent = ops.messages();
    assert_eq!(sent.len(), 3);
    assert_redacted("relayer error notification", &sent[2].body);
}

#[tokio::test]
async fn a_panicking_runtime_is_recorded_as_a_redacted_internal_error() {
    let rt = Scripted::new(Duration::ZERO, |_, req| {
        panic!("runtime bug while holding {}", api_key(req))
    });
    let (engine, ops) = engine_with_action(rt).await;
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.error_type, Some(ErrorType::Internal));
    let message = run.message.unwrap();
    assert!(message.contains("panicked"), "{message}");
    assert_redacted("panic message", &message);
    let stored = engine.runs("a", 1).await.unwrap();
    assert_eq!(stored[0].status, RunStatus::Error, "not left pending");
    assert_redacted("panic notification", &ops.messages()[0].body);
}

#[tokio::test]
async fn throttled_runs_are_recorded_as_throttled_and_not_notified() {
    let rt = Scripted::new(Duration::ZERO, |_, _| {
        Err(RunError::Throttled { queued: 8 })
    });
    let (engine, ops) = engine_with_action(rt.clone()).await;
    let run = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(run.status, RunStatus::Throttled);
    assert_eq!(run.error_type, Some(ErrorType::Internal));
    let message = run.message.clone().unwrap();
    assert!(message.contains("8 runs"), "{message}");
    assert!(run.finished_at.is_some());

    let stored = engine.runs("a", 1).await.unwrap();
    assert_eq!(stored[0].status, RunStatus::Throttled);
    assert_eq!(stored[0].message.as_deref(), Some(message.as_str()));
    assert_eq!(
        serde_json::to_value(&stored[0]).unwrap()["status"],
        "throttled"
    );
    assert!(
        ops.messages().is_empty(),
        "throttled runs send no failure notification"
    );

    engine.run_action("a", Trigger::Manual, None).await.unwrap();
    let events = rt.events();
    let previous = events[1].1.previous_run.as_ref().unwrap();
    assert_eq!(previous.status, RunStatus::Throttled);
}

/// Relayers configured with an API key reach every run by that key and secret only; the
/// linked relayer stays the one the action names.
#[tokio::test]
async fn relayer_api_keys_reach_runs_with_their_relayer() {
    let linked: Arc<dyn Relayer> = Arc::new(NamedRelayer);
    let bridge: Arc<dyn Relayer> = Arc::new(NamedRelayer);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let (l, b) = (linked.clone(), bridge.clone());
    let rt = Scripted::new(Duration::ZERO, move |_, req| {
        let s = &req.services;
        record.lock().unwrap().push((
            s.relayer.as_ref().is_some_and(|r| Arc::ptr_eq(r, &l)),
            s.relayer_keys
                .get("bridge-key", "bridge-secret")
                .is_some_and(|r| Arc::ptr_eq(r, &b)),
            s.relayer_keys.get("bridge-key", "wrong").is_none(),
            s.relayer_keys.get("ghost-key", "ghost-secret").is_none(),
        ));
        Ok(json!(null))
    });
    let engine = Engine::builder(rt.clone())
        .relayer("main", linked)
        .relayer("bridge", bridge)
        .relayer_api_key("bridge", "bridge-key", "bridge-secret")
        // A key whose relayer was never added reaches nothing.
        .relayer_api_key("ghost", "ghost-key", "ghost-secret")
        .build();
    engine
        .add_action(ActionSpec::new("a", "A", "code").relayer("main"))
        .await
        .unwrap();
    let record = engine.run_action("a", Trigger::Manual, None).await.unwrap();
    assert_eq!(record.status, RunStatus::Success);
    assert_eq!(seen.lock().unwrap().as_slice(), &[(true, true, true, true)]);
}

//! Uses the `defender` facade from outside the workspace: a hello-world action run by
//! `defender::runtime::QuickJsRuntime`, and a monitor match through the engine (an in-memory
//! chain as block source with one matching transaction, a recording notifier as channel).
//! Prints what happened; exits with status 1 if anything did not.

use defender::core::{InMemoryChain, RecordingNotifier, Transaction};
use defender::engine::{ActionSpec, Engine, NetworkSpec, StartAt};
use defender::prelude::{MonitorDefinition, RunStatus, Trigger};
use defender::runtime::QuickJsRuntime;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const HELLO: &str = r#"
exports.handler = async function (event) {
  console.log('hello from QuickJS');
  return `hello, ${event.request.body.name}`;
};
"#;

const WATCHED: &str = "0x00000000000000000000000000000000000000aa";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => {
            println!("outside crate: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("outside crate: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let ops = Arc::new(RecordingNotifier::default());
    let engine = Engine::builder(Arc::new(QuickJsRuntime::default()))
        .notifier("ops", ops.clone())
        .build();

    // 1. A hello-world action.
    engine
        .add_action(ActionSpec::new("hello", "Hello", HELLO))
        .await
        .map_err(|e| e.to_string())?;
    let run = engine
        .run_action(
            "hello",
            Trigger::Manual,
            Some(serde_json::json!({ "name": "world" })),
        )
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "action `hello`: {:?}, result {}",
        run.status,
        run.result.as_deref().unwrap_or("-")
    );
    if run.status != RunStatus::Success || run.result.as_deref() != Some("\"hello, world\"") {
        return Err(format!("the action did not say hello: {run:?}"));
    }

    // 2. A monitor match: one transaction to the watched address on an in-memory chain.
    let chain = Arc::new(InMemoryChain::new(31337));
    chain.mine(vec![]);
    engine
        .add_network(NetworkSpec {
            start: StartAt::Block(1),
            poll_interval: Duration::from_millis(20),
            ..NetworkSpec::new("local", chain.clone())
        })
        .await
        .map_err(|e| e.to_string())?;
    let monitor: MonitorDefinition = serde_json::from_value(serde_json::json!({
        "name": "Watched contract",
        "network": "local",
        "confirmLevel": 0,
        "addresses": [WATCHED],
        "notificationChannels": ["ops"]
    }))
    .map_err(|e| e.to_string())?;
    engine
        .add_monitor("watch", monitor)
        .await
        .map_err(|e| e.to_string())?;
    let tx = Transaction {
        to: Some(WATCHED.parse().map_err(|e| format!("{e}"))?),
        ..Default::default()
    };
    chain.mine(vec![tx]);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ops.messages().is_empty() {
        if tokio::time::Instant::now() > deadline {
            return Err("the monitor did not notify within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine.flush_alerts().await;
    let messages = ops.messages();
    for m in &messages {
        println!("monitor `watch` notified: {}", m.subject);
    }
    let alert = messages[0]
        .alert
        .as_ref()
        .ok_or("the notification carries no match")?;
    if messages.len() != 1 || alert.monitor.id != "watch" {
        return Err(format!("unexpected notifications: {messages:?}"));
    }
    engine.shutdown_and_wait().await;
    Ok(())
}

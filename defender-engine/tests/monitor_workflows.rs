//! A monitor that names a workflow (`workflowTrigger`) runs it with the match as input, on a
//! real chain (anvil) through the real QuickJS runtime; the run is owed in the outbox like a
//! linked action's, so it survives a restart; and the monitor's severity shows in the alert,
//! its template and the alert metrics.

mod delivery_support;

use base64::Engine as _;
use defender_core::state::{MemoryStateStore, StateStore};
use defender_core::{RunStatus, Trigger};
use defender_engine::workflows::WorkflowTrigger;
use defender_engine::{ActionSpec, Engine, Workflow, WorkflowItem, WorkflowStatus, WorkflowStep};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use delivery_support::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn builder(state: Arc<dyn StateStore>) -> defender_engine::EngineBuilder {
    Engine::builder(Arc::new(QuickJsRuntime::new(RuntimeConfig::default())))
        .state(state)
        .alert_formatter(Arc::new(defender_notify::TemplateFormatter::new()))
        .delivery_retry(Duration::from_millis(50), Duration::from_millis(100))
}

async fn add_actions(engine: &Engine) {
    for (id, body) in [
        (
            "inspect",
            "console.log('inspecting', event.request.body.hash, event.request.body.monitor.severityLevel); \
             return event.request.body.matchReasons.length;",
        ),
        ("left", "return 'left ' + event.request.body.monitor.name;"),
        ("right", "return 'right ' + event.request.body.matchedAddresses[0];"),
    ] {
        let code = format!("exports.handler = async function(event) {{ {body} }};");
        engine
            .add_action(ActionSpec::new(id, id, code))
            .await
            .expect("add action");
    }
}

fn respond(id: &str) -> Workflow {
    let step = |name: &str, actions: &[&str]| WorkflowStep {
        name: name.into(),
        items: actions
            .iter()
            .map(|a| WorkflowItem::Action {
                action_id: (*a).into(),
            })
            .collect(),
    };
    Workflow {
        id: id.into(),
        name: "Respond".into(),
        steps: vec![
            step("inspect", &["inspect"]),
            step("both", &["left", "right"]),
        ],
    }
}

fn logs(encoded: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64 logs"),
    )
    .expect("utf-8 logs")
}

async fn runs_of(engine: &Engine, workflow: &str) -> Vec<defender_engine::WorkflowRun> {
    engine.workflow_runs(workflow, 10).await.expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_runs_its_workflow_with_the_match_at_least_once() {
    let Some(anvil) = Anvil::start().await else {
        return;
    };

    // 1. A match runs the workflow, its steps in order, with the match as every action's body.
    let sink = Sink::start(Mode::Accept).await;
    let engine = builder(Arc::new(MemoryStateStore::default()))
        .notifier("ops", webhook_channel(&sink.url, Duration::from_secs(5)))
        .build();
    add_actions(&engine).await;
    engine.add_workflow(respond("respond")).expect("workflow");
    engine
        .add_network(anvil_network(&anvil).await)
        .await
        .expect("network");
    engine
        .add_monitor(
            "big",
            monitor_of_transfers_to_bob(json!({
                "notificationChannels": ["ops"],
                "workflowTrigger": "respond",
                "severityLevel": "HIGH",
                "riskCategory": "FINANCIAL",
                "alertMessageSubject": "[{{ severity }}/{{ riskCategory }}] {{ monitor.name }}",
            })),
        )
        .await
        .expect("monitor");
    let tx = anvil.transfer().await;
    eventually("the workflow run", Duration::from_secs(15), async || {
        runs_of(&engine, "respond")
            .await
            .first()
            .is_some_and(|r| r.finished_at.is_some())
    })
    .await;
    let runs = runs_of(&engine, "respond").await;
    assert_eq!(runs.len(), 1, "one run per match");
    let run = &runs[0];
    assert_eq!(run.status, WorkflowStatus::Success);
    assert_eq!(
        run.trigger,
        WorkflowTrigger::Monitor {
            monitor_id: "big".into()
        }
    );
    assert_eq!(
        run.input["hash"].as_str().map(str::to_ascii_lowercase),
        Some(tx.clone())
    );
    assert_eq!(run.input["monitor"]["severityLevel"], "HIGH");
    assert_eq!(run.input["monitor"]["riskCategory"], "FINANCIAL");
    let inspect = run.steps[0].items[0].run.as_ref().expect("inspect ran");
    assert_eq!(inspect.trigger, Trigger::Monitor);
    assert_eq!(inspect.status, RunStatus::Success);
    assert_eq!(inspect.result.as_deref(), Some("1"));
    let inspected = logs(&inspect.encoded_logs).to_ascii_lowercase();
    assert!(
        inspected.contains(&format!("inspecting {tx} high")),
        "{inspected}"
    );
    let both: Vec<String> = run.steps[1]
        .items
        .iter()
        .map(|i| i.run.as_ref().and_then(|r| r.result.clone()).expect("ran"))
        .collect();
    assert_eq!(
        both,
        [
            "\"left Transfers to Bob\"".to_owned(),
            format!("\"right {}\"", BOB.to_ascii_lowercase())
        ]
    );
    // The notification went out beside it, its subject rendered with the severity.
    engine.flush_alerts().await;
    let sent = sink.accepted("/");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["subject"], "[HIGH/FINANCIAL] Transfers to Bob");
    #[cfg(feature = "prometheus")]
    {
        let text = engine.metrics_text();
        assert!(
            text.contains(r#"defender_monitor_matches_total{monitor_id="big",severity="high"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"defender_notifications_total{channel_alias="ops",outcome="delivered",severity="high"} 1"#
            ),
            "{text}"
        );
    }
    engine.shutdown_and_wait().await;

    // 2. The run is owed in the outbox: a workflow missing when the alert came is retried, and
    // another engine on the same state (a restart) runs it once it exists, once.
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let before = builder(state.clone()).build();
    add_actions(&before).await;
    before
        .add_network(anvil_network(&anvil).await)
        .await
        .expect("network");
    before
        .add_monitor(
            "late",
            monitor_of_transfers_to_bob(json!({ "workflowTrigger": "later" })),
        )
        .await
        .expect("monitor");
    let tx = anvil.transfer().await;
    eventually("the failed attempt", Duration::from_secs(15), async || {
        let cp = checkpoint(state.as_ref()).await.unwrap_or(0);
        cp >= anvil.block_number().await
    })
    .await;
    before.flush_alerts().await;
    before.shutdown_and_wait().await;
    let after = builder(state.clone()).build();
    add_actions(&after).await;
    after.add_workflow(respond("later")).expect("workflow");
    eventually(
        "the resumed workflow run",
        Duration::from_secs(15),
        async || {
            runs_of(&after, "later")
                .await
                .first()
                .is_some_and(|r| r.finished_at.is_some())
        },
    )
    .await;
    after.flush_alerts().await;
    let runs = runs_of(&after, "later").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, WorkflowStatus::Success);
    assert_eq!(
        runs[0].input["hash"].as_str().map(str::to_ascii_lowercase),
        Some(tx)
    );
    // Nothing is left owed or dead.
    assert!(after.dead_letters().await.expect("dead letters").is_empty());
    after.shutdown_and_wait().await;
}

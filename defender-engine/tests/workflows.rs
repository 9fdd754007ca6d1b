//! Workflows end to end through the real QuickJS runtime: steps in order, a parallel step,
//! the stop at the first error, and the runs recorded in the engine state with each action's
//! run and logs.

use base64::Engine as _;
use defender_core::state::{MemoryStateStore, StateStore};
use defender_core::RunStatus;
use defender_engine::{
    ActionSpec, Engine, Workflow, WorkflowError, WorkflowItem, WorkflowStatus, WorkflowStep,
};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::json;
use std::sync::Arc;

fn action(id: &str, body: &str) -> ActionSpec {
    ActionSpec::new(
        id,
        id,
        format!("exports.handler = async function(event) {{ {body} }};"),
    )
}

async fn engine(state: Arc<dyn StateStore>) -> Engine {
    let engine = Engine::builder(Arc::new(QuickJsRuntime::new(RuntimeConfig::default())))
        .state(state)
        .build();
    for spec in [
        action(
            "first",
            "console.log('first got', event.request.body.n); return event.request.body.n + 1;",
        ),
        action("left", "console.log('left ran'); return 'left';"),
        action(
            "right",
            "await new Promise(r => setTimeout(r, 10)); console.log('right ran'); return 'right';",
        ),
        action("last", "console.log('last ran'); return 'done';"),
        action(
            "boom",
            "console.log('about to fail'); throw new Error('boom');",
        ),
    ] {
        engine.add_action(spec).await.unwrap();
    }
    engine
}

fn step(name: &str, actions: &[&str]) -> WorkflowStep {
    WorkflowStep {
        name: name.into(),
        items: actions
            .iter()
            .map(|a| WorkflowItem::Action {
                action_id: (*a).into(),
            })
            .collect(),
    }
}

fn logs(encoded: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64 logs"),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_steps_with_a_parallel_one_run_in_order_and_are_recorded() {
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let engine = engine(state.clone()).await;
    engine
        .add_workflow(Workflow {
            id: "release".into(),
            name: "Release".into(),
            steps: vec![
                step("one", &["first"]),
                step("two", &["left", "right"]),
                step("three", &["last"]),
            ],
        })
        .unwrap();
    let run = engine
        .run_workflow("release", json!({ "n": 41 }))
        .await
        .unwrap();
    assert_eq!(run.status, WorkflowStatus::Success);
    assert_eq!(run.steps.len(), 3);
    assert!(run.finished_at.is_some());
    let names: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["one", "two", "three"]);
    // Every action got the input, ran and left its logs and result.
    let first = run.steps[0].items[0].run.as_ref().unwrap();
    assert_eq!(first.status, RunStatus::Success);
    assert_eq!(first.result.as_deref(), Some("42"));
    assert!(logs(&first.encoded_logs).contains("first got 41"));
    let parallel: Vec<String> = run.steps[1]
        .items
        .iter()
        .map(|i| i.run.as_ref().unwrap().result.clone().unwrap())
        .collect();
    assert_eq!(parallel, ["\"left\"", "\"right\""]);
    assert!(logs(&run.steps[1].items[1].run.as_ref().unwrap().encoded_logs).contains("right ran"));
    // The parallel step's runs overlapped the same step, and the last step began after both.
    let two_end = run.steps[1]
        .items
        .iter()
        .map(|i| i.run.as_ref().unwrap().finished_at.unwrap())
        .max()
        .unwrap();
    let three_start = run.steps[2].items[0].run.as_ref().unwrap().created_at;
    assert!(
        three_start >= two_end,
        "step three started before step two ended"
    );

    // Recorded in the engine state: another engine on the same state lists it.
    let other = engine_on(state).await;
    other
        .add_workflow(Workflow {
            id: "release".into(),
            name: String::new(),
            steps: vec![step("x", &["last"])],
        })
        .unwrap();
    let runs = other.workflow_runs("release", 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    // As stored: the same run, times to the millisecond.
    assert_eq!(
        serde_json::to_value(&runs[0]).unwrap(),
        serde_json::to_value(&run).unwrap()
    );
    // The action runs are in their own history too.
    assert_eq!(engine.runs("left", 10).await.unwrap().len(), 1);
}

async fn engine_on(state: Arc<dyn StateStore>) -> Engine {
    Engine::builder(Arc::new(QuickJsRuntime::new(RuntimeConfig::default())))
        .state(state)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_stops_at_the_first_failed_step() {
    let engine = engine(Arc::new(MemoryStateStore::default())).await;
    engine
        .add_workflow(Workflow {
            id: "fragile".into(),
            name: String::new(),
            steps: vec![
                step("one", &["first"]),
                step("two", &["left", "boom"]),
                step("three", &["last"]),
            ],
        })
        .unwrap();
    let run = engine
        .run_workflow("fragile", json!({ "n": 1 }))
        .await
        .unwrap();
    assert_eq!(run.status, WorkflowStatus::Error);
    assert_eq!(run.steps.len(), 2, "step three did not run");
    assert_eq!(run.steps[0].status, WorkflowStatus::Success);
    assert_eq!(run.steps[1].status, WorkflowStatus::Error);
    // The sibling of the failed action ran; the failure is recorded with its message and logs.
    let items = &run.steps[1].items;
    assert!(items[0].succeeded);
    assert!(!items[1].succeeded);
    let failed = items[1].run.as_ref().unwrap();
    assert_eq!(failed.status, RunStatus::Error);
    assert!(failed.message.as_deref().unwrap_or("").contains("boom"));
    assert!(logs(&failed.encoded_logs).contains("about to fail"));
    assert!(engine.runs("last", 10).await.unwrap().is_empty());

    // A missing action fails its step without running anything after it.
    engine
        .add_workflow(Workflow {
            id: "missing".into(),
            name: String::new(),
            steps: vec![step("one", &["nope"]), step("two", &["last"])],
        })
        .unwrap();
    let run = engine.run_workflow("missing", json!(null)).await.unwrap();
    assert_eq!(run.status, WorkflowStatus::Error);
    assert_eq!(run.steps.len(), 1);
    assert_eq!(
        run.steps[0].items[0].error.as_deref(),
        Some("no action `nope`")
    );

    // Newest first.
    let again = engine
        .run_workflow("fragile", json!({ "n": 2 }))
        .await
        .unwrap();
    let runs = engine.workflow_runs("fragile", 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].workflow_run_id, again.workflow_run_id);
}

#[tokio::test]
async fn invalid_and_unknown_workflows_are_refused() {
    let engine = engine_on(Arc::new(MemoryStateStore::default())).await;
    let table = [
        (
            Workflow {
                id: "empty".into(),
                name: String::new(),
                steps: vec![],
            },
            "1 to 64 steps",
        ),
        (
            Workflow {
                id: "bad id".into(),
                name: String::new(),
                steps: vec![step("a", &["x"])],
            },
            "the id",
        ),
        (
            Workflow {
                id: "no-items".into(),
                name: String::new(),
                steps: vec![step("a", &[])],
            },
            "step 0 has 0 items",
        ),
    ];
    for (w, fragment) in table {
        let e = engine.add_workflow(w).unwrap_err();
        assert!(matches!(e, WorkflowError::Invalid { .. }), "{e}");
        assert!(e.to_string().contains(fragment), "{e}");
    }
    assert!(matches!(
        engine.run_workflow("nope", json!(null)).await,
        Err(WorkflowError::Unknown(_))
    ));
    assert!(matches!(
        engine.workflow_runs("nope", 1).await,
        Err(WorkflowError::Unknown(_))
    ));
}

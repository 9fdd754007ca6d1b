//! Workflows in a defender-as-code project (`resources.workflows`, a monitor's
//! `workflow-trigger`): loaded into the engine's types, their problems reported with path and
//! line, and run through the host against anvil: a token transfer's match runs an action, two
//! actions in parallel, then a proposal executed by the project's relayer.

mod support;

use defender_core::{RunStatus, Severity};
use defender_engine::workflows::{WorkflowItem, WorkflowStatus, WorkflowTrigger};
use defender_engine::{ProposalStatus, ViaType};
use defender_host::validate;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use support::{
    deploy_token, lines, load, number, project, rpc, start_host, transfer, wait_for, Anvil, BOB,
    RELAYER_ADDRESS, RELAYER_KEY,
};

fn env(rpc: &str, token: &str, state: &Path) -> BTreeMap<String, String> {
    support::env_map(&[
        ("E2E_RPC", rpc),
        ("E2E_TOKEN", token),
        ("E2E_STATE", state.to_str().expect("utf-8 path")),
        ("E2E_RELAYER_KEY", RELAYER_KEY),
    ])
}

#[test]
fn workflows_load_into_the_engine_types_and_monitors_name_them() {
    let state = tempfile::tempdir().unwrap();
    let token = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let p = validate(
        &project("e2e-workflows"),
        None,
        &env("http://127.0.0.1:8545", token, state.path()),
    )
    .unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
    let w = &p.workflows["respond"];
    assert_eq!(
        (w.id.as_str(), w.name.as_str()),
        ("respond", "Respond to a transfer")
    );
    let actions = |n: usize| -> Vec<&str> {
        w.steps[n]
            .items
            .iter()
            .filter_map(|i| match i {
                WorkflowItem::Action { action_id } => Some(action_id.as_str()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(w.steps.len(), 3);
    assert_eq!(actions(0), ["inspect"]);
    assert_eq!(actions(1), ["left", "right"]);
    assert_eq!(w.steps[2].name, "Allow the treasury");
    let WorkflowItem::Proposal { proposal, execute } = &w.steps[2].items[0] else {
        panic!("{:?}", w.steps[2]);
    };
    assert!(*execute);
    assert_eq!(proposal.title, "Approve the treasury");
    assert_eq!(proposal.kind, "custom");
    assert_eq!(proposal.via_type, ViaType::Relayer);
    assert_eq!(proposal.relayer_id.as_deref(), Some("relayer-1"));
    assert_eq!(proposal.contract.network, "local");
    assert_eq!(proposal.contract.address, token);
    assert!(proposal
        .contract
        .abi
        .as_deref()
        .is_some_and(|a| a.contains("approve")));
    let f = proposal.function_interface.as_ref().expect("function");
    assert_eq!(f.name.as_deref(), Some("approve"));
    assert_eq!(
        proposal.function_inputs,
        [
            json!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
            json!("5000")
        ]
    );
    let m = &p.monitors["transfers"].definition;
    assert_eq!(m.workflow_trigger.as_deref(), Some("respond"));
    assert_eq!(m.severity_level, Some(Severity::High));
    assert_eq!(m.risk_category.as_deref(), Some("FINANCIAL"));
    assert!(m.notification_channels.is_empty() && m.action_trigger.is_none());
}

fn write_project(text: &str) -> tempfile::TempDir {
    support::write_files(&[
        (
            "defender-host.yml",
            "networks:\n  sepolia: { rpc: http://127.0.0.1:8545 }\nrelayers:\n  r1: { private-key-env: K }\n",
        ),
        ("code/index.js", "exports.handler = async () => 1;"),
        ("serverless.yml", text),
    ])
}

#[test]
fn workflow_problems_are_reported_with_path_and_line() {
    let dir = write_project(
        r#"service: broken
provider: { name: defender, stage: dev, stackName: s }
resources:
  actions:
    a1: { name: A1, path: ./code, trigger: { type: sentinel }, paused: false }
  relayers:
    r1: { name: R1, network: sepolia, min-balance: 0 }
  contracts:
    bare: { name: Bare, address: '0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2', network: sepolia }
  workflows:
    w1:
      name: W1
      steps:
        - a1
        - [a1, ghost]
        - name: empty
        - 42
        - proposal:
            title: By key
            contract: bare
            function: pause
            via-type: EOA
        - proposal:
            contract: { network: sepolia, address: '0xnope' }
            function: { name: pause, inputs: [] }
            via-type: Safe
            relayer: r1
            executor: '0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2'
    w2:
      name: W2
    w3:
      steps: []
    w4:
      steps:
        - proposal:
            title: Wrong network
            contract: { network: mainnet, address: '0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2', abi: '[]' }
            function: nope
            via-type: Relayer
            relayer: r1
  proposals:
    p1: { title: T }
  monitors:
    m1:
      name: M1
      type: BLOCK
      network: sepolia
      addresses: ['0x0f06aB75c7DD497981b75CD82F6566e3a5CAd8f2']
      workflow-trigger: nowhere
      notify-config: { channels: [] }
"#,
    );
    let problems = validate(
        dir.path(),
        None,
        &BTreeMap::from([("K".to_owned(), RELAYER_KEY.to_owned())]),
    )
    .unwrap_err();
    assert_eq!(
        lines(&problems),
        [
            "serverless.yml:42: resources.proposals: proposals are not declared: a proposal is a one-off request with its own approvals and execution; create it through the management API, or as a `proposal` step of a workflow (created each time the workflow runs)",
            "serverless.yml:15: resources.workflows.w1.steps[1][1]: unknown action `ghost`: the project defines a1",
            "serverless.yml:16: resources.workflows.w1.steps[2]: a step needs `action`, `actions` (run in parallel) or `proposal`",
            "serverless.yml:17: resources.workflows.w1.steps[3]: expected a step (an action, a list of actions or a mapping), found a number",
            "serverless.yml:21: resources.workflows.w1.steps[4].proposal.function: the contract has no ABI to find `pause` in: give the function as `{ name, inputs }`, or the contract an `abi`",
            "serverless.yml:22: resources.workflows.w1.steps[4].proposal.via-type: an EOA proposal is sent with a key the host does not hold: use `via-type: Relayer`, or a Safe, Governor or Timelock executed by a `relayer`",
            "serverless.yml:24: resources.workflows.w1.steps[5].proposal: `title` is required",
            "serverless.yml:24: resources.workflows.w1.steps[5].proposal.contract.address: `0xnope` is not an address (0x and 40 hex digits)",
            "serverless.yml:24: resources.workflows.w1.steps[5].proposal: a Safe proposal needs `via`: the address of its approval process",
            "serverless.yml:28: resources.workflows.w1.steps[5].proposal.executor: `executor` is not supported yet: the host holds no proposal keys: name the `relayer` that sends the transactions",
            "serverless.yml:30: resources.workflows.w2: `steps` is required",
            "serverless.yml:32: resources.workflows.w3.steps: a workflow needs at least one step",
            "serverless.yml:38: resources.workflows.w4.steps[0].proposal.function: the contract's ABI has no function `nope`",
            "serverless.yml:40: resources.workflows.w4.steps[0].proposal.relayer: relayer `r1` is on network `sepolia`, the contract on `mainnet`",
            "serverless.yml:49: resources.monitors.m1.workflow-trigger: unknown workflow `nowhere`: the project defines w1, w2, w3, w4",
            // With its workflow unknown, the monitor has nothing left to do.
            "serverless.yml:45: resources.monitors.m1: no notification channel, action trigger or action condition: the monitor would do nothing",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_runs_its_workflow_through_the_host() {
    let anvil = Anvil::start(&[]).await;
    let token = deploy_token(&anvil, 1_000_000_000).await;
    let state = tempfile::tempdir().unwrap();
    let env = env(&anvil.url, &token, state.path());
    let host = start_host(&load(&project("e2e-workflows"), &env), &env).await;
    let engine = host.engine().clone();

    let tx = transfer(&anvil, &token, 777).await;
    let run = wait_for("the workflow's run", async || {
        let runs = engine.workflow_runs("respond", 10).await.ok()?;
        runs.into_iter().find(|r| r.finished_at.is_some())
    })
    .await;
    assert_eq!(run.status, WorkflowStatus::Success, "{run:#?}");
    assert_eq!(
        run.trigger,
        WorkflowTrigger::Monitor {
            monitor_id: "transfers".into()
        }
    );
    let inspect = run.steps[0].items[0].run.as_ref().expect("inspect ran");
    assert_eq!(inspect.status, RunStatus::Success);
    let result: Value = serde_json::from_str(inspect.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"hash": tx, "value": "777"}));
    let parallel: Vec<Option<String>> = run.steps[1]
        .items
        .iter()
        .map(|i| i.run.as_ref().and_then(|r| r.result.clone()))
        .collect();
    assert_eq!(
        parallel,
        [
            Some("\"left Transfers\"".to_owned()),
            Some("\"right FINANCIAL\"".to_owned())
        ]
    );
    let proposal = &run.steps[2].items[0];
    assert_eq!(
        proposal.proposal_status,
        Some(ProposalStatus::Executed),
        "{proposal:#?}"
    );
    // The proposal's call ran on chain: the relayer approved Bob for 5000.
    let relayer = RELAYER_ADDRESS.trim_start_matches("0x");
    let call = format!("0xdd62ed3e{relayer:0>64}{BOB:0>64}");
    let allowance = rpc(
        &anvil.url,
        "eth_call",
        json!([{"to": token, "data": call}, "latest"]),
    )
    .await;
    assert_eq!(number(&allowance), 5000, "{allowance}");
    host.shutdown().await;
}

//! The `defender-host` binary: each command run as a user would, against anvil.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use support::{
    deploy_token, mined, number, post_json, project, transfer, Anvil, KillOnDrop, RELAYER_KEY,
};

const BIN: &str = env!("CARGO_BIN_EXE_defender-host");

fn cli(args: &[&str], env: &BTreeMap<String, String>) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_prints_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("hello")).unwrap();
    std::fs::write(
        dir.path().join("hello/index.js"),
        "exports.handler = async () => 1;",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("serverless.yml"),
        r#"service: bad
provider: { name: defender, stackName: bad }
resources:
  actions:
    hello:
      name: Hello
      path: ./hello
      trigger: { type: schedule, frequency: 0 }
      paused: false
  monitors:
    m1:
      name: Bad
      type: BLOCK
      network: sepolia
      addresses: ["0x123"]
      colour: blue
      notify-config: { channels: [] }
"#,
    )
    .unwrap();
    let out = cli(
        &["validate", dir.path().to_str().unwrap()],
        &BTreeMap::new(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "serverless.yml:8: resources.actions.hello.trigger.frequency: the frequency is zero",
            "serverless.yml:15: resources.monitors.m1.addresses[0]: `0x123` is not an address (0x and 40 hex digits)",
            "serverless.yml:16: resources.monitors.m1.colour: unknown key `colour`",
            "serverless.yml:12: resources.monitors.m1: the monitor watches no address",
            "serverless.yml:12: resources.monitors.m1: no notification channel, action trigger or action condition: the monitor would do nothing",
            "defender-host.yml:0: networks.sepolia.rpc: network `sepolia` (used by monitor `m1`) has no RPC URL: add `networks.sepolia.rpc` to defender-host.yml",
            "6 problem(s)",
        ],
        "{stderr}"
    );

    // A project with no problems: exit 0.
    let ok = cli(
        &["validate", project("dac").to_str().unwrap()],
        &[
            ("DEFENDER_HOST_API_KEY", "k"),
            ("RELAYER_1_KEY", RELAYER_KEY),
            ("HOOK_TOKEN", "0123456789abcdef-token"),
            ("DEFENDER_SECRET_from-host", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("ok (5 action(s), 2 monitor(s)"),
        "{}",
        text(&ok.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_webhooks_runs_invoke_and_test_conditions() {
    let anvil = Anvil::start(&["--block-time", "1"]).await;
    let rpc_url = anvil.url.clone();
    let token = deploy_token(&anvil, 1_000_000).await;
    let state = tempfile::tempdir().unwrap();
    let mut env = support::env_map(&[
        ("E2E_RPC", rpc_url.as_str()),
        ("E2E_TOKEN", token.as_str()),
        ("E2E_SINK", "http://127.0.0.1:9/unused"),
        ("E2E_STATE", state.path().to_str().unwrap()),
        ("E2E_API_KEY", "cli-key"),
        ("E2E_RELAYER_KEY", RELAYER_KEY),
        ("E2E_HOOK_TOKEN", "cli-fixed-hook-token-01"),
    ]);
    let dir = project("e2e-dac");
    let p = dir.to_str().unwrap();

    // `run`: serves on a free port and says where.
    let mut run = Command::new(BIN)
        .args(["run", p, "--poll-interval-ms", "100"])
        .env_clear()
        .envs(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = run.stdout.take().unwrap();
    let stderr = run.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let run = KillOnDrop(run);
    let first = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let base = first
        .strip_prefix("defender-host listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    // The other commands reach the running host where the config says it listens.
    env.insert(
        "E2E_LISTEN".into(),
        base.trim_start_matches("http://").to_owned(),
    );

    // `webhooks` while `run` holds the state: through the management API.
    let out = cli(&["webhooks", "-p", p], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let url = format!("{base}/actions/hook/runs/webhook/cli-fixed-hook-token-01");
    assert_eq!(text(&out.stdout), format!("hook  {url}\n"));
    let (_, answer) = post_json(&url, None, json!({"name": "cli"})).await;
    assert_eq!(answer["status"], "success", "{answer}");

    // `runs --logs` while running: through the API too.
    let out = cli(&["runs", "hook", "--logs", "-p", p], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(listed.contains("success   webhook"), "{listed}");
    assert!(
        listed.contains(r#"log | "#) && listed.contains(r#"webhook called with {"name":"cli"}"#),
        "{listed}"
    );

    // `invoke`: a local run with a payload; its result and logs.
    let payload = state.path().join("payload.json");
    std::fs::write(&payload, r#"{"name":"local"}"#).unwrap();
    let out = cli(
        &[
            "invoke",
            "hook",
            "--payload",
            payload.to_str().unwrap(),
            "-p",
            p,
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains(r#"webhook called with {"name":"local"}"#),
        "{printed}"
    );
    assert!(printed.contains("status: success"), "{printed}");
    assert!(
        printed.contains(r#""greeting":"hello""#) && printed.contains(r#""name":"local""#),
        "{printed}"
    );

    // `test-conditions` on a transaction and on its block.
    let hash = transfer(&anvil, &token, 4321).await;
    let receipt = mined(&rpc_url, &json!(hash)).await;
    let hash = hash.as_str();
    let out = cli(
        &["test-conditions", "transfers", "--tx", hash, "-p", p],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let matches: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(matches[0]["hash"], hash);
    assert_eq!(matches[0]["matchReasons"][0]["params"]["value"], "4321");
    let block = number(&receipt["blockNumber"]);
    let out = cli(
        &[
            "test-conditions",
            "transfers",
            "--block",
            &block.to_string(),
            "-p",
            p,
        ],
        &env,
    );
    let matches: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(matches.as_array().map(Vec::len), Some(1));
    let out = cli(
        &[
            "test-conditions",
            "transfers",
            "--block",
            "1",
            "--recent",
            "2",
            "-p",
            p,
        ],
        &env,
    );
    assert_ne!(out.status.code(), Some(0));

    // SIGTERM: the host stops cleanly and releases the state.
    let status = Command::new("kill")
        .args(["-TERM", &run.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut run = run;
    let exit = run.0.wait().unwrap();
    assert!(exit.success(), "{:#?}", logs.join().unwrap());
    let logs = logs.join().unwrap().join("\n");
    assert!(
        logs.contains("action_id=hook") && logs.contains("run succeeded"),
        "{logs}"
    );
    assert!(logs.contains("stopped"), "{logs}");

    // Stopped: `runs` and `webhooks` read the state directory itself.
    let out = cli(&["runs", "hook", "-p", p], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("success   webhook"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&["webhooks", "-p", p], &env);
    assert_eq!(text(&out.stdout), format!("hook  {url}\n"));
    let out = cli(&["runs", "nope", "-p", p], &env);
    assert_eq!(out.status.code(), Some(1));
}

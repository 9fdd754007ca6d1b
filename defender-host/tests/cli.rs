//! The `defender-host` binary: each command run as a user would, against anvil.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_defender-host");
const DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const RELAYER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const TOKEN_ARTIFACT: &str = include_str!("../../examples/contracts/DemoToken.json");

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

async fn mined(url: &str, hash: &Value) -> Value {
    for _ in 0..300 {
        let r = rpc(url, "eth_getTransactionReceipt", json!([hash])).await;
        if !r.is_null() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{hash} was not mined");
}

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/projects")
        .join(name)
}

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
    let bin = defender_testkit::anvil_binary().expect("anvil (scripts/install-test-deps.sh)");
    let (child, addr) = defender_testkit::spawn_anvil(&bin, &["--block-time", "1"]).unwrap();
    let _anvil = Proc(child);
    let rpc_url = format!("http://{}", addr.expect("anvil started"));
    let artifact: Value = serde_json::from_str(TOKEN_ARTIFACT).unwrap();
    let code = format!(
        "{}{:064x}",
        artifact["bytecode"].as_str().unwrap(),
        1_000_000u64
    );
    let deploy = rpc(
        &rpc_url,
        "eth_sendTransaction",
        json!([{"from": DEPLOYER, "data": code}]),
    )
    .await;
    let token = mined(&rpc_url, &deploy).await["contractAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = tempfile::tempdir().unwrap();
    let mut env: BTreeMap<String, String> = [
        ("E2E_RPC", rpc_url.as_str()),
        ("E2E_TOKEN", token.as_str()),
        ("E2E_SINK", "http://127.0.0.1:9/unused"),
        ("E2E_STATE", state.path().to_str().unwrap()),
        ("E2E_API_KEY", "cli-key"),
        ("E2E_RELAYER_KEY", RELAYER_KEY),
        ("E2E_HOOK_TOKEN", "cli-fixed-hook-token-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
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
    let run = Proc(run);
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
    let answer: Value = reqwest::Client::new()
        .post(&url)
        .json(&json!({"name": "cli"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let data = format!(
        "0xa9059cbb0000000000000000000000003c44cdddb6a900fa2b585dd299e03d12fa4293bc{:064x}",
        4321
    );
    let hash = rpc(
        &rpc_url,
        "eth_sendTransaction",
        json!([{"from": DEPLOYER, "to": token, "data": data}]),
    )
    .await;
    let receipt = mined(&rpc_url, &hash).await;
    let hash = hash.as_str().unwrap();
    let out = cli(
        &["test-conditions", "transfers", "--tx", hash, "-p", p],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let matches: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(matches[0]["hash"], hash);
    assert_eq!(matches[0]["matchReasons"][0]["params"]["value"], "4321");
    let block = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
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

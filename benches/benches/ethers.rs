//! ethers v5 in defender-runtime against Node running the same JavaScript in a warm process,
//! side by side (issue 19 targets: at least Node's speed for each).
//!
//! - An action that builds a `Wallet` from a secret key, signs a message and reads its
//!   balance from anvil (started here, on 127.0.0.1) through a `JsonRpcProvider`: per run at
//!   steady state, ours under the default policy (a warm context per action version, ethers
//!   already loaded) and Node calling the same handler in a warm process.
//! - The crypto that real actions do: `new Wallet(pk)`, `signMessage`, `_signTypedData`,
//!   `keccak256` of 1 MB and `Wallet.fromEncryptedJson` (a keystore made by Node with scrypt
//!   N = 8192, a quicker one than the usual 2^17 or 2^18), each per operation, in a warm
//!   context (ours) and a warm process (Node), the ops' code being the same.
//!
//! ethers comes from `defender-runtime/tests/node/node_modules` (run `npm ci` there); anvil
//! is found as the tests find it (`defender-testkit`). `DEFENDER_BENCH_QUICK=1` measures fewer
//! runs; criterion's own `--quick` shortens its group.
//!
//! Run: `cargo bench -p defender-benches --bench ethers` (published QuickJS), and with
//! `--features defender-runtime/quickjs-patches` (patched QuickJS).

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{criterion_group, criterion_main, Criterion};
use defender_core::{
    ActionCode, ActionEvent, ActionRuntime, CodeSource, InMemoryKvStore, NotifierRegistry,
    RunLimits, RunRequest, RunServices,
};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/alloc.rs"]
mod alloc;

/// Anvil's second default account.
const PK: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// The action of the first figure.
const ACTION: &str = "const { ethers } = require('ethers');
exports.handler = async function (event) {
  const provider = new ethers.providers.JsonRpcProvider(event.request.body.url);
  const wallet = new ethers.Wallet(event.secrets.pk, provider);
  const signature = await wallet.signMessage('run ' + event.actionRunId);
  const balance = await wallet.getBalance();
  return { address: wallet.address, signature, balance: balance.toString() };
};
";

/// The operations, the same code for both (`KEYSTORE` is defined before it).
const OPS: &str = "const { ethers } = require('ethers');
const PK = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
let wallet;
const getWallet = () => wallet || (wallet = new ethers.Wallet(PK));
const MB = new Uint8Array(1 << 20).fill(7);
const domain = { name: 'Ether Mail', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' };
const types = {
  Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }],
  Mail: [{ name: 'from', type: 'Person' }, { name: 'to', type: 'Person' }, { name: 'contents', type: 'string' }],
};
const mail = {
  from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' },
  to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' },
  contents: 'Hello, Bob!',
};
const OPS = {
  newWallet: async () => new ethers.Wallet(PK).address,
  signMessage: async () => getWallet().signMessage('hello defender'),
  signTypedData: async () => getWallet()._signTypedData(domain, types, mail),
  keccak1MB: async () => ethers.utils.keccak256(MB),
  fromEncryptedJson: async () => (await ethers.Wallet.fromEncryptedJson(KEYSTORE, 'password')).address,
};
";

const OP_NAMES: [&str; 5] = [
    "newWallet",
    "signMessage",
    "signTypedData",
    "keccak1MB",
    "fromEncryptedJson",
];

fn quick() -> bool {
    std::env::var("DEFENDER_BENCH_QUICK").is_ok_and(|v| v == "1")
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../defender-runtime/tests/node")
}

fn node_modules() -> PathBuf {
    fixture().join("node_modules")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// A keystore of `PK` encrypted with `password`, made by Node's ethers (scrypt N = 8192).
fn keystore() -> Option<String> {
    let out = Command::new("node")
        .current_dir(fixture())
        .arg("-e")
        .arg(format!("const {{ ethers }} = require('ethers'); new ethers.Wallet('{PK}').encrypt('password', {{ scrypt: {{ N: 8192 }} }}).then((j) => console.log(j));"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A warm node process: the ops loaded, and the action's handler. Each command line (JSON)
/// runs one thing and answers its time per run in ns.
struct Node {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Node {
    fn start(keystore: &str) -> Option<Node> {
        let script = format!(
            r#"const KEYSTORE = {keystore:?};
{OPS}
const action = {{ exports: {{}} }};
new Function('require', 'exports', 'module', {ACTION:?})(require, action.exports, action);
const readline = require('readline');
const now = () => process.hrtime.bigint();
async function command(c) {{
  if (c.kind === 'op') {{
    const op = OPS[c.op];
    await op();
    let n = 0;
    const t = now();
    do {{ await op(); n++; }} while (n < 3 || Number(now() - t) < c.min_ns);
    return Number(now() - t) / n;
  }}
  const times = [];
  for (let i = 0; i < c.n; i++) {{
    const t = now();
    const r = await action.exports.handler(c.event);
    JSON.stringify(r);
    times.push(Number(now() - t));
  }}
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}}
const rl = readline.createInterface({{ input: process.stdin }});
let chain = Promise.resolve();
rl.on('line', (l) => {{ chain = chain.then(async () => console.log(await command(JSON.parse(l)))); }});"#
        );
        let mut child = Command::new("node")
            .current_dir(fixture())
            .arg("-e")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let out = BufReader::new(child.stdout.take()?);
        Some(Node { child, out })
    }

    fn ask(&mut self, command: Value) -> Option<Duration> {
        let stdin = self.child.stdin.as_mut()?;
        writeln!(stdin, "{command}").ok()?;
        stdin.flush().ok()?;
        let mut line = String::new();
        self.out.read_line(&mut line).ok()?;
        Some(Duration::from_nanos(line.trim().parse::<f64>().ok()? as u64))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Anvil on 127.0.0.1, stopped on drop.
struct Anvil {
    child: Child,
    addr: String,
}

impl Anvil {
    fn start() -> Option<Anvil> {
        let bin = defender_testkit::anvil_binary()?;
        let (child, addr) = defender_testkit::spawn_anvil(&bin, &[]).ok()?;
        let Some(addr) = addr else {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        Some(Anvil { child, addr })
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(event: ActionEvent) -> RunRequest {
    RunRequest {
        event,
        services: RunServices {
            kv: Arc::new(InMemoryKvStore::default()),
            relayer: None,
            relayer_keys: Default::default(),
            notifiers: Arc::new(NotifierRegistry::default()),
            manage: None,
        },
        limits: RunLimits {
            timeout: Duration::from_secs(600),
            ..RunLimits::default()
        },
    }
}

fn action_event(url: &str) -> ActionEvent {
    let mut event = ActionEvent::new("bench-ethers", "Bench ethers", "run-1");
    event.secrets = Some([("pk".to_string(), PK.to_string())].into());
    event.request =
        Some(serde_json::from_value(json!({ "body": { "url": url } })).expect("request"));
    event
}

fn code(id: &str, src: String) -> ActionCode {
    ActionCode {
        action_id: id.into(),
        version: 1,
        source: CodeSource::Script(src),
    }
}

/// One run of ours; panics with the error when it fails.
fn run(
    tokio: &tokio::runtime::Runtime,
    rt: &QuickJsRuntime,
    code: &ActionCode,
    event: ActionEvent,
) -> Duration {
    let t = Instant::now();
    let out = tokio.block_on(rt.run(code, request(event)));
    let elapsed = t.elapsed();
    assert!(out.result.is_ok(), "{:?} {:?}", out.result, out.logs);
    elapsed
}

fn ops_code(keystore: &str) -> ActionCode {
    code(
        "bench-ops",
        format!(
            "const KEYSTORE = {keystore:?};\n{OPS}\nexports.handler = async (event) => {{ const {{ op, n }} = event.request.body; for (let i = 0; i < n; i++) await OPS[op](); return n; }};"
        ),
    )
}

fn op_event(op: &str, n: u64) -> ActionEvent {
    let mut event = ActionEvent::new("bench-ops", "Bench ops", "run-1");
    event.request =
        Some(serde_json::from_value(json!({ "body": { "op": op, "n": n } })).expect("request"));
    event
}

fn table(tokio: &tokio::runtime::Runtime) {
    let Some(keystore) = keystore() else {
        println!("ethers: skipped (node or the npm fixture missing: `npm ci` in defender-runtime/tests/node)");
        return;
    };
    let build = if defender_runtime::QUICKJS_PATCHED {
        "patched"
    } else {
        "published"
    };
    let mut node = Node::start(&keystore);
    // The action against anvil.
    match Anvil::start() {
        None => println!("ethers: action bench skipped: anvil not found"),
        Some(anvil) => {
            let url = format!("http://{}", anvil.addr);
            let rt = QuickJsRuntime::new(
                RuntimeConfig::default()
                    .with_node_modules(node_modules())
                    .allow_fetch(anvil.addr.clone()),
            );
            let action = code("bench-ethers", ACTION.to_owned());
            let first = run(tokio, &rt, &action, action_event(&url));
            run(tokio, &rt, &action, action_event(&url));
            let n = if quick() { 3 } else { 10 };
            let ours = median(
                (0..n)
                    .map(|_| run(tokio, &rt, &action, action_event(&url)))
                    .collect(),
            );
            let event = json!({ "actionRunId": "run-1", "secrets": { "pk": PK }, "request": { "body": { "url": url } } });
            let theirs = node.as_mut().and_then(|node| {
                node.ask(json!({ "kind": "action", "n": 5, "event": event }))?;
                node.ask(json!({ "kind": "action", "n": if quick() { 20 } else { 100 }, "event": event }))
            });
            println!("ethers v5 action (Wallet from a secret, signMessage, getBalance from anvil), {build} QuickJS:");
            println!(
                "  ours, first run (cold: loads ethers)        {:>10} ms",
                ms(first)
            );
            println!(
                "  ours, warm context, median of {n:<3}          {:>10} ms",
                ms(ours)
            );
            match theirs {
                Some(t) => println!(
                    "  node, warm process, median                 {:>10} ms   ours/node = {:.2}x the time (target <= 1x)",
                    ms(t),
                    ours.as_secs_f64() / t.as_secs_f64()
                ),
                None => println!("  node                       (not available)"),
            }
        }
    }
    // The operations, per operation.
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let ops = ops_code(&keystore);
    let warm_up = Instant::now();
    for op in OP_NAMES {
        run(tokio, &rt, &ops, op_event(op, 1));
    }
    println!(
        "ethers v5 operations, per operation, warm context vs warm node process ({build} QuickJS; warm-up of all five {:.2} s):",
        warm_up.elapsed().as_secs_f64()
    );
    let budget = if quick() { 0.0 } else { 2.0 };
    for op in OP_NAMES {
        let one = run(tokio, &rt, &ops, op_event(op, 1));
        let n = ((budget / one.as_secs_f64()) as u64).clamp(1, 1000);
        let ours = if n == 1 {
            one
        } else {
            run(tokio, &rt, &ops, op_event(op, n)) / n as u32
        };
        let theirs = node
            .as_mut()
            .and_then(|node| node.ask(json!({ "kind": "op", "op": op, "min_ns": 300_000_000u64 })));
        match theirs {
            Some(t) => println!(
                "  {op:<18} ours {:>10} ms (x{n:<4})  node {:>9} ms   ours/node = {:>7.2}x the time (target <= 1x)",
                ms(ours),
                ms(t),
                ours.as_secs_f64() / t.as_secs_f64()
            ),
            None => println!("  {op:<18} ours {:>10} ms   node (not available)", ms(ours)),
        }
    }
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    table(&tokio);
    let Some(keystore) = keystore() else {
        return;
    };
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let ops = ops_code(&keystore);
    run(&tokio, &rt, &ops, op_event("keccak1MB", 1));
    let mut g = c.benchmark_group("ethers_v5_warm_context");
    g.sample_size(10);
    g.bench_function("keccak256_1MB", |b| {
        b.iter(|| run(&tokio, &rt, &ops, op_event("keccak1MB", 1)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
